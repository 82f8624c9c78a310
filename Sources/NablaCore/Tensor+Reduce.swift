import CNablaKernels
import RealModule

/// The reductions implemented by one kernel.
enum ReduceKind { case sum, max, min, argmax, argmin }

extension Tensor {
    /// Splits the shape around `axis` into (outer, length, inner) extents.
    static func split(_ shape: [Int], at axis: Int) -> (Int, Int, Int) {
        var outer = 1, inner = 1
        for i in 0..<axis { outer *= shape[i] }
        for i in (axis + 1)..<shape.count { inner *= shape[i] }
        return (outer, shape[axis], inner)
    }

    /// Reduces one axis (keeping it with size 1). No autograd.
    static func reduceRaw(_ x: Tensor, axis: Int, _ kind: ReduceKind) -> Tensor {
        var outShape = x.shape
        outShape[axis] = 1
        let (outer, len, inner) = split(x.shape, at: axis)
        if kind != .sum {
            nablaCheck(len > 0, "\(kind): cannot reduce over an empty axis \(axis) of shape \(x.shape)")
        }
        if kind == .argmax || kind == .argmin { return argReduce(x, outShape, outer, len, inner, kind) }
        if !x.dtype.isFloatingPoint {
            // Integers: sums in int64 (as PyTorch), extrema in the input's dtype.
            let xi = x.to(.int64)
            let out = Tensor(uninitializedShape: outShape, dtype: .int64)
            let s = xi.pointer(Int64.self), d = out.pointer(Int64.self)
            for o in 0..<outer {
                for i in 0..<inner {
                    let b = o * len * inner + i
                    var acc: Int64 = kind == .sum ? 0 : s[b]
                    for k in 0..<len {
                        let v = s[b + k * inner]
                        switch kind {
                        case .sum: acc &+= v
                        case .max: acc = Swift.max(acc, v)
                        default: acc = Swift.min(acc, v)
                        }
                    }
                    d[o * inner + i] = acc
                }
            }
            return kind == .sum ? out : out.to(x.dtype)
        }
        let out = Tensor(uninitializedShape: outShape, dtype: x.dtype)
        if x.dtype == .float32 {
            let s = x.pointer(Float.self), d = out.pointer(Float.self)
            if kind == .sum {
                if inner == 1 {
                    for o in 0..<outer { d[o] = Float(nabla_s_sum(s + o * len, len)) }
                } else {
                    for o in 0..<outer { nabla_s_sum_rows(s + o * len * inner, d + o * inner, len, inner) }
                }
            } else if inner == 1 && (kind == .max || kind == .min) {
                for o in 0..<outer { d[o] = kind == .max ? nabla_s_max(s + o * len, len) : nabla_s_min(s + o * len, len) }
            } else {
                reduceGeneric(s, d, outer, len, inner, kind)
            }
        } else {
            reduceGeneric(x.pointer(Double.self), out.pointer(Double.self), outer, len, inner, kind)
        }
        return out
    }

    static func reduceGeneric<T: TensorScalar>(_ s: UnsafeMutablePointer<T>, _ d: UnsafeMutablePointer<T>,
                                               _ outer: Int, _ len: Int, _ inner: Int, _ kind: ReduceKind) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * len * inner + i
                switch kind {
                case .sum:
                    var acc: Double = 0
                    for k in 0..<len { acc += Double(s[base + k * inner]) }
                    d[o * inner + i] = T(acc)
                case .max, .min:
                    var best = s[base]
                    for k in 1..<Swift.max(len, 1) {
                        let v = s[base + k * inner]
                        if v.isNaN || best.isNaN { best = .nan; break }
                        if kind == .max ? v > best : v < best { best = v }
                    }
                    d[o * inner + i] = best
                case .argmax, .argmin:
                    preconditionFailure("argmax/argmin go through argReduce")
                }
            }
        }
    }

    /// The index of the largest (smallest) element along the reduced axis, as int64; the
    /// first on ties; a NaN counts as the largest and the smallest, as in PyTorch.
    static func argReduce(_ x: Tensor, _ outShape: [Int], _ outer: Int, _ len: Int, _ inner: Int, _ kind: ReduceKind) -> Tensor {
        let out = Tensor(uninitializedShape: outShape, dtype: .int64)
        let d = out.pointer(Int64.self)
        func run<T: TensorElement & Comparable>(_ s: UnsafeMutablePointer<T>, isNaN: (T) -> Bool) {
            for o in 0..<outer {
                for i in 0..<inner {
                    let b = o * len * inner + i
                    var best = s[b], bi = 0
                    for k in 1..<Swift.max(len, 1) {
                        let v = s[b + k * inner]
                        if isNaN(best) { break }
                        if isNaN(v) || (kind == .argmax ? v > best : v < best) { best = v; bi = k }
                    }
                    d[o * inner + i] = Int64(bi)
                }
            }
        }
        switch x.dtype {
        case .float32: run(x.pointer(Float.self)) { $0.isNaN }
        case .float64: run(x.pointer(Double.self)) { $0.isNaN }
        case .int32: run(x.pointer(Int32.self)) { _ in false }
        case .uint8: run(x.pointer(UInt8.self)) { _ in false }
        case .bool:
            let bytes = x.to(.uint8)   // held for the loop: the pointer must not outlive it
            withExtendedLifetime(bytes) { run(bytes.pointer(UInt8.self)) { _ in false } }
        case .int64: run(x.pointer(Int64.self)) { _ in false }
        }
        return out
    }

    /// Normalised, de-duplicated, ascending axes (all axes when nil).
    func normalizedAxes(_ axes: [Int]?, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let n = axes.map { Shape.normalize(axis: $0, rank: rank, op: op) }.sorted()
        for i in 1..<Swift.max(n.count, 1) { nablaCheck(n[i] != n[i - 1], "\(op): axis repeated in \(axes)") }
        return n
    }

    /// Shape after reducing `axes` with keep-dims.
    func keptShape(_ axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[a] = 1 }
        return s
    }

    /// Applies a single-axis reduction over several axes (no autograd).
    func reduceAxesRaw(_ axes: [Int], _ kind: ReduceKind, keepDims: Bool) -> Tensor {
        var r = self.detached()
        if kind == .sum && axes.count == rank && rank > 0 && dtype.isFloatingPoint {
            // Whole-tensor sum: one pass.
            r = Tensor(scalar: elementSum(), dtype: dtype)
            return keepDims ? r.reshaped(keptShape(axes)) : r
        }
        for a in axes.reversed() { r = Tensor.reduceRaw(r, axis: a, kind) }
        if !keepDims { r = r.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map { $0.element }) }
        return r
    }

    // MARK: Public reductions

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor { wholeReduction(scale: 1, op: "Sum") }

    /// The sum of every element as a Double (float32 accumulates in the C kernel). No autograd.
    func elementSum() -> Double {
        if dtype == .float32 { return nabla_s_sum(pointer(Float.self), count) }
        let p = pointer(Double.self)
        var acc = 0.0
        for i in 0..<count { acc += p[i] }
        return acc
    }

    /// Σx·scale over every element as a scalar, in one op (the fast path of sum and mean).
    ///
    /// An integer or boolean tensor sums exactly to an int64 scalar; its mean is float32.
    private func wholeReduction(scale: Double, op: String) -> Tensor {
        if !dtype.isFloatingPoint {
            if op == "Sum" { return rank == 0 ? to(.int64) : reduceAxesRaw(Array(0..<rank), .sum, keepDims: false) }
            return to(.float32).wholeReduction(scale: scale, op: op)
        }
        let out = Tensor(scalar: elementSum() * scale, dtype: dtype)
        let inShape = shape, dt = dtype
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: op, self) { g in [Tensor(repeating: g.item() * scale, shape: inShape, dtype: dt)] }
    }

    /// Sum over `axes` (all when nil), optionally keeping reduced axes with size 1.
    public func sum(axes: [Int]?, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes, op: "sum")
        if ax.isEmpty { return self }
        let out = reduceAxesRaw(ax, .sum, keepDims: keepDims)
        let inShape = shape, kept = keptShape(ax)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Sum", self) { g in [g.reshaped(kept).broadcast(to: inShape)] }
    }
    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean of all elements.
    ///
    /// The mean of an empty tensor is NaN (0/0), as in PyTorch and NumPy; it does not trap,
    /// so that a data-dependent empty batch shows up as a NaN metric rather than a crash.
    /// Callers that must not see NaN (the CLI's metrics) reject empty inputs first.
    public func mean() -> Tensor { wholeReduction(scale: 1 / Double(count), op: "Mean") }
    /// Mean over `axes` (all when nil); NaN where the reduced axes are empty, as ``mean()``.
    public func mean(axes: [Int]?, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes, op: "mean")
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: ax, keepDims: keepDims) / Double(Swift.max(n, 0))
    }
    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Largest element over `axes` (all when nil); the gradient is shared evenly among ties.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(axes, keepDims, .max, "max") }
    /// Largest element over one axis.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }
    /// Smallest element over `axes` (all when nil); the gradient is shared evenly among ties.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(axes, keepDims, .min, "min") }
    /// Smallest element over one axis.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    private func extremum(_ axes: [Int]?, _ keepDims: Bool, _ kind: ReduceKind, _ op: String) -> Tensor {
        let ax = normalizedAxes(axes, op: op)
        nablaCheck(count > 0, "\(op): cannot reduce an empty tensor of shape \(shape)")
        if ax.isEmpty { return self }
        let out = reduceAxesRaw(ax, kind, keepDims: keepDims)
        let x = detached(), kept = keptShape(ax)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: op.capitalized, self) { g in
            let m = out.reshaped(kept)
            let mask = (x .== m).to(x.dtype)
            let ties = mask.sum(axes: ax, keepDims: true)
            return [mask * (g.reshaped(kept) / ties)]
        }.saving(x, out)
    }

    /// The index of the largest element along `axis` (the first on ties).
    ///
    /// The indices are int64. Without an axis, it is the index into the flattened tensor.
    public func argmax(axis: Int? = nil, keepDims: Bool = false) -> Tensor { argExtremum(axis, keepDims, .argmax) }
    /// Index of the smallest element along `axis` (the first on ties).
    public func argmin(axis: Int? = nil, keepDims: Bool = false) -> Tensor { argExtremum(axis, keepDims, .argmin) }

    private func argExtremum(_ axis: Int?, _ keepDims: Bool, _ kind: ReduceKind) -> Tensor {
        nablaCheck(count > 0, "\(kind): cannot reduce an empty tensor of shape \(shape)")
        guard let axis else { return reshaped([count]).argExtremum(0, false, kind) }
        let a = Shape.normalize(axis: axis, rank: rank, op: "\(kind)")
        let r = Tensor.reduceRaw(detached(), axis: a, kind)
        if keepDims { return r }
        var s = shape; s.remove(at: a)
        return r.reshaped(s)
    }

    /// The variance over `axes` (all when nil) with Bessel's `correction`.
    ///
    /// A correction of 1 gives the unbiased variance (PyTorch's default); 0 gives the
    /// population variance.
    public func variance(axes: [Int]? = nil, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes, op: "variance")
        let n = ax.reduce(1) { $0 * shape[$1] }
        let mu = mean(axes: ax, keepDims: true)
        let d = self - mu
        return (d * d).sum(axes: ax, keepDims: keepDims) / Double(Swift.max(n - correction, 0))
    }

    /// Standard deviation (square root of ``variance(axes:correction:keepDims:)``).
    public func standardDeviation(axes: [Int]? = nil, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        variance(axes: axes, correction: correction, keepDims: keepDims).sqrt()
    }

    /// The maximum over `axes` (kept), detached, with infinite maxima replaced by 0: the shift
    /// that makes log Σ exp stable (rows that are entirely ±inf would give inf − inf).
    public func stableShift(axes: [Int]) -> Tensor {
        let m = detached().max(axes: axes, keepDims: true)
        return Tensor.where(m.abs() .== Double.infinity, Tensor.zeros(like: m), m)
    }

    /// log Σ exp(x) over `axes`, computed stably by subtracting the maximum first.
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxes(axes, op: "logSumExp")
        let m = stableShift(axes: ax)
        let r = (self - m).exp().sum(axes: ax, keepDims: true).log() + m
        if keepDims { return r }
        return r.reshaped(shape.enumerated().filter { !ax.contains($0.offset) }.map { $0.element })
    }
    /// log Σ exp(x) over one axis.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor { logSumExp(axes: [axis], keepDims: keepDims) }
}

extension Tensor {
    /// The fused squared error `scale · Σ (self − target)²`, computed as one operation.
    ///
    /// This is the fused form of a mean or summed squared error (what `Loss.mse` uses).
    /// `target` is treated as a constant (no gradient flows to it); shapes must match exactly.
    /// The derivative is `2·scale·(self − target)`.
    public func squaredErrorSum(_ target: Tensor, scale: Double = 1) -> Tensor {
        nablaCheck(shape == target.shape, "squaredErrorSum: shapes \(shape) and \(target.shape) differ")
        let diff = Tensor.binaryRaw(detached(), target.detached(), FSub.self, kernel: NABLA_BIN_SUB, op: "squaredErrorSum")
        let sq = Tensor.mapRaw(diff, FSquare.self, kernel: NABLA_UN_SQUARE)
        let out = Tensor(scalar: sq.elementSum() * scale, dtype: dtype)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "SquaredErrorSum", self) { g in [diff * (2 * scale * g.item())] }
    }
}
