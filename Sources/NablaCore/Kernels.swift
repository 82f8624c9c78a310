import CNablaKernels
import RealModule

/// A scalar function applied element-wise (a static generic so the loop specialises).
protocol UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T }
/// A scalar function of two arguments applied element-wise with broadcasting.
protocol BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T }

enum FAdd: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a + b } }
enum FSub: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a - b } }
enum FMul: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a * b } }
enum FDiv: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a / b } }
enum FMax: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) } }
enum FMin: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) } }
enum FPow: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { powReal(a, b) } }

/// `a^b` with C's `pow` semantics. RealModule's `pow(_:_:)` is NaN for every negative
/// base (and for 0⁰), so integral exponents go through `pow(_:_: Int)`, which gives
/// (−2)³ = −8 as PyTorch does.
@inline(__always)
func powReal<T: TensorScalar>(_ a: T, _ b: T) -> T {
    if b == b.rounded(), Swift.abs(b) < 0x1p62 { return T.pow(a, Int(b)) }
    return T.pow(a, b)
}
enum FEq: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a == b ? 1 : 0 } }
enum FNe: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a != b ? 1 : 0 } }
enum FLt: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a < b ? 1 : 0 } }
enum FLe: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a <= b ? 1 : 0 } }
enum FGt: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a > b ? 1 : 0 } }
enum FGe: BinaryFunction { static func apply<T: TensorScalar>(_ a: T, _ b: T) -> T { a >= b ? 1 : 0 } }

enum FNeg: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { -x } }
enum FExp: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.exp(x) } }
enum FLog: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.log(x) } }
enum FSqrt: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { x.squareRoot() } }
enum FAbs: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { Swift.abs(x) } }
enum FSin: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.sin(x) } }
enum FCos: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.cos(x) } }
enum FTanh: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.tanh(x) } }
enum FErf: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { T.erf(x) } }
enum FSquare: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { x * x } }
enum FRelu: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { x > 0 ? x : (x.isNaN ? x : 0) } }
enum FSign: UnaryFunction { static func apply<T: TensorScalar>(_ x: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : (x.isNaN ? x : 0)) } }
enum FSigmoid: UnaryFunction {
    static func apply<T: TensorScalar>(_ x: T) -> T {
        // Stable for large |x|: never exponentiates a large positive number.
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }
}

extension Tensor {
    // MARK: Raw element-wise kernels (no autograd)

    /// `f` applied to every element; float32 uses the vectorised C kernel when given.
    static func mapRaw<F: UnaryFunction>(_ x: Tensor, _ f: F.Type, kernel: nabla_unary_op?) -> Tensor {
        x.requireFloatingPoint(String(describing: F.self).dropFirst().lowercased())
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        let n = x.count
        if x.dtype == .float32 {
            if let k = kernel {
                nabla_s_unary(k, x.pointer(Float.self), out.pointer(Float.self), n)
            } else {
                let s = x.pointer(Float.self), d = out.pointer(Float.self)
                for i in 0..<n { d[i] = F.apply(s[i]) }
            }
        } else {
            let s = x.pointer(Double.self), d = out.pointer(Double.self)
            for i in 0..<n { d[i] = F.apply(s[i]) }
        }
        return out
    }

    /// `f(a, b)` with NumPy broadcasting; float32 uses C kernels for the common layouts.
    static func binaryRaw<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F.Type,
                                             kernel: nabla_binary_op?, op: String) -> Tensor {
        if a.dtype != b.dtype || !a.dtype.isFloatingPoint { return mixedBinary(a, b, f, kernel: kernel, op: op) }
        if a.dtype == .float32 {
            return binaryTyped(a, b, f, Float.self, kernel: kernel, op: op)
        } else {
            return binaryTyped(a, b, f, Double.self, kernel: nil, op: op)
        }
    }


    static func binaryTyped<F: BinaryFunction, T: TensorScalar>(_ a: Tensor, _ b: Tensor, _ f: F.Type, _: T.Type,
                                                               kernel: nabla_binary_op?, op: String) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : Shape.broadcastOrTrap(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: shape, dtype: a.dtype)
        let n = out.count
        let pa = a.pointer(T.self), pb = b.pointer(T.self), po = out.pointer(T.self)
        if a.count == n && b.count == n {
            if let k = kernel, T.self == Float.self {
                nabla_s_binary(k, UnsafeRawPointer(pa).assumingMemoryBound(to: Float.self),
                               UnsafeRawPointer(pb).assumingMemoryBound(to: Float.self),
                               UnsafeMutableRawPointer(po).assumingMemoryBound(to: Float.self), n)
            } else {
                for i in 0..<n { po[i] = F.apply(pa[i], pb[i]) }
            }
            return out
        }
        if b.count == 1 {
            let s = pb[0]
            if let k = kernel, T.self == Float.self {
                nabla_s_binary_scalar(k, UnsafeRawPointer(pa).assumingMemoryBound(to: Float.self), Float(s),
                                      UnsafeMutableRawPointer(po).assumingMemoryBound(to: Float.self), n)
            } else {
                for i in 0..<n { po[i] = F.apply(pa[i], s) }
            }
            return out
        }
        if a.count == 1 {
            let s = pa[0]
            if let k = kernel, T.self == Float.self {
                nabla_s_scalar_binary(k, Float(s), UnsafeRawPointer(pb).assumingMemoryBound(to: Float.self),
                                      UnsafeMutableRawPointer(po).assumingMemoryBound(to: Float.self), n)
            } else {
                for i in 0..<n { po[i] = F.apply(s, pb[i]) }
            }
            return out
        }
        // Row broadcast: b's shape is a suffix of a's (bias add over a batch).
        if a.count == n, b.count > 0, Tensor.isSuffix(b.shape, of: shape) {
            let cols = b.count, rows = n / cols
            if let k = kernel, T.self == Float.self {
                nabla_s_binary_rows(k, UnsafeRawPointer(pa).assumingMemoryBound(to: Float.self),
                                    UnsafeRawPointer(pb).assumingMemoryBound(to: Float.self),
                                    UnsafeMutableRawPointer(po).assumingMemoryBound(to: Float.self), rows, cols)
            } else {
                for r in 0..<rows { for c in 0..<cols { po[r * cols + c] = F.apply(pa[r * cols + c], pb[c]) } }
            }
            return out
        }
        // General case: walk the output, advancing each input by its broadcast strides.
        let sa = Shape.broadcastStrides(from: a.shape, to: shape)
        let sb = Shape.broadcastStrides(from: b.shape, to: shape)
        Tensor.forEachRow(shape: shape, sa, sb) { o, oa, ob, len, ia, ib in
            for j in 0..<len { po[o + j] = F.apply(pa[oa + j * ia], pb[ob + j * ib]) }
        }
        return out
    }

    @usableFromInline
    static func isSuffix(_ s: [Int], of shape: [Int]) -> Bool {
        // Leading 1s in s are allowed.
        var t = s[...]
        while t.first == 1 && t.count > 0 { t = t.dropFirst() }
        guard t.count <= shape.count else { return false }
        return Array(t) == Array(shape.suffix(t.count))
    }

    /// Calls `body(outOffset, aOffset, bOffset, rowLength, aStride, bStride)` for every
    /// innermost row of an iteration over `shape`.
    @usableFromInline
    static func forEachRow(shape: [Int], _ sa: [Int], _ sb: [Int],
                           _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let r = shape.count
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let len = shape[r - 1]
        if len == 0 || Shape.count(shape) == 0 { return }
        let rows = Shape.count(shape) / len
        var idx = [Int](repeating: 0, count: r)
        var oa = 0, ob = 0
        for row in 0..<rows {
            body(row * len, oa, ob, len, sa[r - 1], sb[r - 1])
            // Advance the odometer over the leading dimensions.
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                oa += sa[d]; ob += sb[d]
                if idx[d] < shape[d] { break }
                oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// `self += g` in place (shapes must match; used for gradient accumulation).
    mutating func addInPlace(_ g: Tensor) {
        nablaCheck(shape == g.shape, "gradient accumulation: shape \(g.shape) does not match \(shape)")
        let g = g.to(dtype)
        makeUnique()
        if dtype == .float32 {
            nabla_s_axpy(count, 1, g.pointer(Float.self), pointer(Float.self))
        } else {
            let d = pointer(Double.self), s = g.pointer(Double.self)
            for i in 0..<count { d[i] += s[i] }
        }
    }
}
