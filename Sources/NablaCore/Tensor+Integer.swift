import CNablaKernels

// Integer and boolean tensors: type promotion, integer arithmetic, comparisons (which
// return bool) and the byte-level kernels shared by every dtype. None of this records a
// graph: integers and booleans carry no gradient.

/// The integer operations element-wise arithmetic supports on integer dtypes.
enum IntegerOp { case add, sub, mul, max, min }

/// An element-wise comparison.
enum Comparison: String { case eq, ne, lt, le, gt, ge }

extension Tensor {
    /// The dtype a binary op computes in: the operands' common dtype by PyTorch's promotion
    /// (bool < uint8 < int32 < int64 < float32 < float64). Mixing float32 with float64 is
    /// refused, as everywhere in Nabla, so that precision never changes silently.
    static func commonDType(_ a: Tensor, _ b: Tensor, op: String) -> DType {
        if a.dtype == b.dtype { return a.dtype }
        nablaCheck(!(a.dtype.isFloatingPoint && b.dtype.isFloatingPoint),
                   "\(op): dtype mismatch \(a.dtype) and \(b.dtype) (shapes \(a.shape) and \(b.shape)); convert one with .to(_:)")
        return DType.promote(a.dtype, b.dtype)
    }

    /// A Swift scalar as a rank-0 operand for `a`: its dtype when `a` is floating point; for
    /// an integer or boolean `a`, an integer scalar keeps `a`'s integer dtype (int64 for
    /// bool), and a fractional one is float32 (PyTorch's default dtype).
    static func scalarOperand(_ s: Double, for a: Tensor) -> Tensor {
        if a.dtype.isFloatingPoint { return Tensor(scalar: s, dtype: a.dtype) }
        if s == s.rounded() && Swift.abs(s) < 9.2e18 {
            // A scalar a's integer dtype cannot hold widens the operation to int64 (PyTorch
            // raises an overflow error; wrapping it silently would be wrong).
            let fits: Bool
            switch a.dtype {
            case .int32: fits = s >= Double(Int32.min) && s <= Double(Int32.max)
            case .uint8: fits = s >= 0 && s <= 255
            default: fits = true
            }
            return Tensor(scalar: s, dtype: a.dtype == .bool || !fits ? .int64 : a.dtype)
        }
        return Tensor(scalar: s, dtype: .float32)
    }

    /// A Swift scalar as an operand for comparing with `a`, in a dtype that holds it exactly.
    static func comparisonOperand(_ s: Double, for a: Tensor) -> Tensor {
        if a.dtype.isFloatingPoint { return Tensor(scalar: s, dtype: a.dtype) }
        if s == s.rounded() && Swift.abs(s) < 9.2e18 { return Tensor(scalar: s, dtype: .int64) }
        return Tensor(scalar: s, dtype: .float64)
    }

    /// Applies `f` element-wise with NumPy broadcasting into a new tensor of `dtype`.
    @inline(__always)
    static func broadcastApply<A: TensorElement, B: TensorElement, O: TensorElement>(
        _ a: Tensor, _ b: Tensor, _: A.Type, _: B.Type, _: O.Type, op: String, _ f: (A, B) -> O) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : Shape.broadcastOrTrap(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: shape, dtype: O.dtype)
        let n = out.count
        let pa = a.pointer(A.self), pb = b.pointer(B.self), po = out.pointer(O.self)
        if a.count == n && b.count == n {
            for i in 0..<n { po[i] = f(pa[i], pb[i]) }
        } else if b.count == 1 && a.count == n {
            let s = pb[0]
            for i in 0..<n { po[i] = f(pa[i], s) }
        } else {
            let sa = Shape.broadcastStrides(from: a.shape, to: shape)
            let sb = Shape.broadcastStrides(from: b.shape, to: shape)
            forEachRow(shape: shape, sa, sb) { o, oa, ob, len, ia, ib in
                for j in 0..<len { po[o + j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            }
        }
        return out
    }

    /// Integer arithmetic with broadcasting, in `dtype` (an integer dtype; wraps on overflow
    /// as PyTorch's integer arithmetic does).
    static func integerBinary(_ a: Tensor, _ b: Tensor, _ kind: IntegerOp, dtype: DType, op: String) -> Tensor {
        let a = a.to(dtype), b = b.to(dtype)
        switch dtype {
        case .int32: return integerBinaryTyped(a, b, kind, Int32.self, op: op)
        case .uint8: return integerBinaryTyped(a, b, kind, UInt8.self, op: op)
        default: return integerBinaryTyped(a, b, kind, Int64.self, op: op)
        }
    }

    static func integerBinaryTyped<T: TensorInteger>(_ a: Tensor, _ b: Tensor, _ kind: IntegerOp, _: T.Type, op: String) -> Tensor {
        switch kind {
        case .add: return broadcastApply(a, b, T.self, T.self, T.self, op: op) { $0 &+ $1 }
        case .sub: return broadcastApply(a, b, T.self, T.self, T.self, op: op) { $0 &- $1 }
        case .mul: return broadcastApply(a, b, T.self, T.self, T.self, op: op) { $0 &* $1 }
        case .max: return broadcastApply(a, b, T.self, T.self, T.self, op: op) { Swift.max($0, $1) }
        case .min: return broadcastApply(a, b, T.self, T.self, T.self, op: op) { Swift.min($0, $1) }
        }
    }

    /// `a ∘ b` for operands of which at least one is an integer or boolean tensor: integer
    /// arithmetic when both are integers (bool counts as int64), else the float path in the
    /// floating operand's dtype. `/` and `**` are always floating point (true division).
    static func mixedBinary<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F.Type,
                                               kernel: nabla_binary_op?, op: String) -> Tensor {
        var dt = commonDType(a, b, op: op)
        if !dt.isFloatingPoint {
            let kind: IntegerOp?
            switch op {
            case "add": kind = .add
            case "sub": kind = .sub
            case "mul": kind = .mul
            case "maximum": kind = .max
            case "minimum": kind = .min
            default: kind = nil
            }
            if let kind { return integerBinary(a, b, kind, dtype: dt == .bool ? .int64 : dt, op: op) }
            dt = .float32
        }
        return binaryRaw(a.to(dt), b.to(dt), f, kernel: kernel, op: op)
    }

    /// Element-wise comparison with broadcasting; the result is a bool tensor.
    static func compareRaw(_ a: Tensor, _ b: Tensor, _ c: Comparison) -> Tensor {
        var dt = commonDType(a, b, op: c.rawValue)
        if dt == .bool { dt = .uint8 }   // Bool is not Comparable: compare as 0/1 bytes
        let a = a.to(dt), b = b.to(dt)
        switch dt {
        case .float32: return compareTyped(a, b, c, Float.self)
        case .float64: return compareTyped(a, b, c, Double.self)
        case .int32: return compareTyped(a, b, c, Int32.self)
        case .uint8: return compareTyped(a, b, c, UInt8.self)
        default: return compareTyped(a, b, c, Int64.self)
        }
    }

    static func compareTyped<T: TensorElement & Comparable>(_ a: Tensor, _ b: Tensor, _ c: Comparison, _: T.Type) -> Tensor {
        let op = c.rawValue
        switch c {
        case .eq: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 == $1 }
        case .ne: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 != $1 }
        case .lt: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 < $1 }
        case .le: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 <= $1 }
        case .gt: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 > $1 }
        case .ge: return broadcastApply(a, b, T.self, T.self, Bool.self, op: op) { $0 >= $1 }
        }
    }

    /// `c ? a : b` element-wise (all the same shape; `c` bool, `a` and `b` one dtype).
    static func selectRaw(_ c: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: a.shape, dtype: a.dtype)
        let pc = c.pointer(Bool.self), n = out.count
        switch a.dtype {
        case .float32: select(pc, a.pointer(Float.self), b.pointer(Float.self), out.pointer(Float.self), n)
        case .float64: select(pc, a.pointer(Double.self), b.pointer(Double.self), out.pointer(Double.self), n)
        case .int32: select(pc, a.pointer(Int32.self), b.pointer(Int32.self), out.pointer(Int32.self), n)
        case .int64: select(pc, a.pointer(Int64.self), b.pointer(Int64.self), out.pointer(Int64.self), n)
        case .uint8: select(pc, a.pointer(UInt8.self), b.pointer(UInt8.self), out.pointer(UInt8.self), n)
        case .bool: select(pc, a.pointer(Bool.self), b.pointer(Bool.self), out.pointer(Bool.self), n)
        }
        return out
    }

    @inline(__always)
    static func select<T>(_ c: UnsafeMutablePointer<Bool>, _ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>,
                          _ o: UnsafeMutablePointer<T>, _ n: Int) {
        for i in 0..<n { o[i] = c[i] ? a[i] : b[i] }
    }

    /// Traps unless this tensor is floating point: `op` computes on real numbers only.
    @inline(__always)
    func requireFloatingPoint(_ op: @autoclosure () -> String) {
        if _slowPath(!dtype.isFloatingPoint) {
            nablaFail("\(op()): expects a floating-point tensor, got \(dtype) of shape \(shape); convert it with .to(.float32)")
        }
    }
}
