/// One entry of a slicing subscript: an integer, a range or a strided range.
///
/// An integer drops its axis. `x[0..<2, .all, 3]` is PyTorch's `x[0:2, :, 3]`.
public enum TensorIndex: Sendable, ExpressibleByIntegerLiteral {
    /// A single position (negative counts from the end); the axis is removed.
    case at(Int)
    /// Positions `start ..< end` (nil end = to the end) every `step`.
    case range(start: Int, end: Int?, step: Int)
    /// The whole axis.
    case all

    /// A single position, so that an integer literal selects one entry and drops the axis.
    public init(integerLiteral value: Int) { self = .at(value) }
    /// A half-open range.
    public static func r(_ r: Range<Int>, step: Int = 1) -> TensorIndex { .range(start: r.lowerBound, end: r.upperBound, step: step) }
    /// Every `step`-th position of the axis.
    public static func every(_ step: Int) -> TensorIndex { .range(start: 0, end: nil, step: step) }
}

/// Types usable inside a slicing subscript.
public protocol TensorIndexConvertible { var tensorIndex: TensorIndex { get } }
extension Int: TensorIndexConvertible { public var tensorIndex: TensorIndex { .at(self) } }
extension Range<Int>: TensorIndexConvertible { public var tensorIndex: TensorIndex { .range(start: lowerBound, end: upperBound, step: 1) } }
extension ClosedRange<Int>: TensorIndexConvertible { public var tensorIndex: TensorIndex { .range(start: lowerBound, end: upperBound + 1, step: 1) } }
extension PartialRangeFrom<Int>: TensorIndexConvertible { public var tensorIndex: TensorIndex { .range(start: lowerBound, end: nil, step: 1) } }
extension PartialRangeUpTo<Int>: TensorIndexConvertible { public var tensorIndex: TensorIndex { .range(start: 0, end: upperBound, step: 1) } }
extension TensorIndex: TensorIndexConvertible { public var tensorIndex: TensorIndex { self } }

extension Tensor {
    // MARK: Reshaping (shares storage)

    /// The same elements with a new shape; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            nablaCheck(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            s[i] = count / known
        }
        nablaCheck(s.allSatisfy { $0 >= 0 } && Shape.count(s) == count,
                   "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if s == shape { return self }
        let inShape = shape
        let out = Tensor(storage: storage, shape: s)
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Reshape", self) { g in [g.reshaped(inShape)] }
    }
    /// Reshaped with variadic dimensions.
    public func reshaped(_ dims: Int...) -> Tensor { reshaped(dims) }

    /// Collapses axes `start...end` into one (default: everything into a vector).
    public func flattened(startAxis: Int = 0, endAxis: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = Shape.normalize(axis: startAxis, rank: rank, op: "flatten")
        let e = Shape.normalize(axis: endAxis, rank: rank, op: "flatten")
        nablaCheck(s <= e, "flatten: start axis \(startAxis) is after end axis \(endAxis)")
        let mid = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [mid] + Array(shape[(e + 1)...]))
    }

    /// Removes axes of size 1 (only `axis` when given).
    public func squeezed(axis: Int? = nil) -> Tensor {
        if let axis {
            let a = Shape.normalize(axis: axis, rank: rank, op: "squeeze")
            if shape[a] != 1 { return self }
            var s = shape; s.remove(at: a); return reshaped(s)
        }
        return reshaped(shape.filter { $0 != 1 })
    }

    /// Inserts an axis of size 1 at `axis` (which may be `rank`; negative counts from the end).
    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        nablaCheck(a >= 0 && a <= rank, "unsqueeze: axis \(axis) is out of range for a tensor of rank \(rank)")
        var s = shape; s.insert(1, at: a); return reshaped(s)
    }

    // MARK: Permutations

    /// Reorders the axes: result axis i is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        nablaCheck(axes.count == rank, "permute: \(axes) does not list the \(rank) axes of shape \(shape)")
        let ax = axes.map { Shape.normalize(axis: $0, rank: rank, op: "permute") }
        nablaCheck(Set(ax).count == rank, "permute: \(axes) is not a permutation of the axes of shape \(shape)")
        if ax == Array(0..<rank) { return self }
        let st = strides
        let out = rawView(shape: ax.map { shape[$0] }, strides: ax.map { st[$0] }, offset: storageOffset)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in ax.enumerated() { inverse[a] = i }
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Permute", self) { g in [g.permuted(inverse)] }
    }
    /// Reorders the axes (variadic form).
    public func permuted(_ axes: Int...) -> Tensor { permuted(axes) }

    /// Swaps two axes (default: the last two, i.e. the matrix transpose).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        if rank < 2 { return self }
        var p = Array(0..<rank)
        p.swapAt(Shape.normalize(axis: a, rank: rank, op: "transpose"), Shape.normalize(axis: b, rank: rank, op: "transpose"))
        return permuted(p)
    }
    /// The matrix transpose of a rank-2 tensor (swaps the last two axes).
    public var T: Tensor { transposed() }

    /// This tensor repeated along broadcast dimensions to the shape `target`.
    ///
    /// This is PyTorch's `expand`: a view that reads each repeated element from the one
    /// storage (stride 0 along the expanded axes). The gradient sums back.
    public func broadcast(to target: [Int]) -> Tensor {
        if target == shape { return self }
        nablaCheck(Shape.broadcast(shape, target) == target, "expand: shape \(shape) cannot be broadcast to \(target)")
        // Broadcast strides over this tensor's own strides: 0 where an axis is new or of size 1.
        let st = strides, lead = target.count - rank
        let viewStrides = target.indices.map { i in i < lead || shape[i - lead] == 1 ? 0 : st[i - lead] }
        let out = rawView(shape: target, strides: viewStrides, offset: storageOffset)
        let inShape = shape
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Expand", self) { g in [g.sum(toShape: inShape)] }
    }

    // MARK: Slicing

    /// A slice such as `x[1..<3, TensorIndex.all, 0]`.
    ///
    /// Integers remove their axis; axes not mentioned are taken whole.
    public subscript(_ indices: any TensorIndexConvertible...) -> Tensor {
        slice(indices.map { $0.tensorIndex })
    }

    /// A slice described by one ``TensorIndex`` per leading axis.
    ///
    /// The result is a view of this tensor's storage. Its backward adds the gradient into
    /// the source's gradient in place, so it costs the size of the slice, not of the source:
    /// taking every time step of a sequence and back-propagating stays linear.
    public func slice(_ indices: [TensorIndex]) -> Tensor {
        nablaCheck(indices.count <= rank, "slice: \(indices.count) indices for a tensor of shape \(shape)")
        let st = Shape.strides(shape)        // logical: where the slice sits in this tensor
        let vst = strides                    // physical: where it sits in the storage
        var offset = 0, viewOffset = storageOffset
        var outShape: [Int] = [], outStrides: [Int] = [], viewStrides: [Int] = []
        for axis in 0..<rank {
            let d = shape[axis]
            let ix = axis < indices.count ? indices[axis] : .all
            switch ix {
            case .at(let i):
                let j = i < 0 ? i + d : i
                nablaCheck(j >= 0 && j < d, "slice: index \(i) is out of range for axis \(axis) of size \(d) (shape \(shape))")
                offset += j * st[axis]; viewOffset += j * vst[axis]
            case .all:
                outShape.append(d); outStrides.append(st[axis]); viewStrides.append(vst[axis])
            case .range(let s0, let e0, let step):
                nablaCheck(step > 0, "slice: step must be positive, got \(step) for axis \(axis)")
                let s = Swift.min(Swift.max(s0 < 0 ? s0 + d : s0, 0), d)
                let e = Swift.min(Swift.max((e0 ?? d) < 0 ? (e0 ?? d) + d : (e0 ?? d), s), d)
                let n = (e - s + step - 1) / step
                offset += s * st[axis]; viewOffset += s * vst[axis]
                outShape.append(n); outStrides.append(st[axis] * step); viewStrides.append(vst[axis] * step)
            }
        }
        if outShape == shape { return self }
        let out = rawView(shape: outShape, strides: viewStrides, offset: viewOffset)
        guard Tensor.recording(self) else { return out }
        return Tensor.recordSlice(out, op: "Slice", self,
                                  ScatterInfo(inShape: shape, outShape: outShape, strides: outStrides, offset: offset))
    }

    /// The entry `index` of `axis`, with that axis removed (PyTorch's `select`); a view.
    public func select(axis: Int, _ index: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "select")
        var ix = [TensorIndex](repeating: .all, count: a + 1)
        ix[a] = .at(index)
        return slice(ix)
    }

    /// `length` entries of `axis` from `start` (PyTorch's `narrow`); a view.
    public func narrow(axis: Int, start: Int, length: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "narrow")
        let s = start < 0 ? start + shape[a] : start
        nablaCheck(s >= 0 && length >= 0 && s + length <= shape[a],
                   "narrow: start \(start) and length \(length) do not fit axis \(axis) of size \(shape[a]) (shape \(shape))")
        return slice(axis: a, s, s + length)
    }

    /// Every entry along `axis`, each with that axis removed (PyTorch's `unbind`); views.
    ///
    /// All the pieces share one graph node: backward assembles their gradients in one
    /// buffer the size of this tensor, each piece adding into its own place.
    public func unbind(axis: Int = 0) -> [Tensor] {
        let a = Shape.normalize(axis: axis, rank: rank, op: "unbind")
        var pieceShape = shape; pieceShape.remove(at: a)
        var st = Shape.strides(shape); st.remove(at: a)
        var vst = strides; let step = vst.remove(at: a)
        let lst = Shape.strides(shape)[a]
        return pieces(count: shape[a], op: "Unbind") { i in
            (pieceShape, vst, storageOffset + i * step, ScatterInfo(inShape: shape, outShape: pieceShape, strides: st, offset: i * lst))
        }
    }

    /// `count` views of this tensor made by `layout(i)` (shape, storage strides, storage
    /// offset, place in this tensor), recorded as one graph node whose gradient is this
    /// tensor's, assembled in place from the pieces' gradients.
    func pieces(count: Int, op: String, _ layout: (Int) -> ([Int], [Int], Int, ScatterInfo)) -> [Tensor] {
        let root = rootStorage
        let node: GradNode? = Tensor.recording(self) && liveNode != nil
            ? GradNode(op: op, liveNode, count: 1) { g in [g] } : nil
        node?.notePiece(self, at: 0)
        return (0..<count).map { i in
            let (shape, strides, offset, place) = layout(i)
            var t = Tensor(viewOf: root, shape: shape, strides: strides, offset: offset)
            if let node {
                t.base.view!.piece = place
                t.node = node
            }
            return t
        }
    }

    /// Positions `start ..< end` every `step` along `axis`.
    public func slice(axis: Int, _ start: Int, _ end: Int? = nil, step: Int = 1) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "slice")
        var ix = [TensorIndex](repeating: .all, count: a + 1)
        ix[a] = .range(start: start, end: end, step: step)
        return slice(ix)
    }

    /// `self[offset + Σ idx·strides] += src[idx]` for every index of `shape` (no autograd);
    /// with `assign`, `=` instead of `+=`.
    mutating func stridedAddInPlace(_ src: Tensor, shape: [Int], strides: [Int], offset: Int, assign: Bool = false) {
        makeUnique()
        let zeros = [Int](repeating: 0, count: shape.count)
        if dtype == .float32 {
            let d = pointer(Float.self) + offset, s = src.pointer(Float.self)
            Tensor.forEachRow(shape: shape, strides, zeros) { o, od, _, len, id, _ in
                if assign { for j in 0..<len { d[od + j * id] = s[o + j] } } else { for j in 0..<len { d[od + j * id] += s[o + j] } }
            }
        } else {
            let d = pointer(Double.self) + offset, s = src.pointer(Double.self)
            Tensor.forEachRow(shape: shape, strides, zeros) { o, od, _, len, id, _ in
                if assign { for j in 0..<len { d[od + j * id] = s[o + j] } } else { for j in 0..<len { d[od + j * id] += s[o + j] } }
            }
        }
    }

    // MARK: Indexing with index tensors

    /// The entries at `indices` along `axis` (PyTorch's `index_select`).
    ///
    /// Gradients scatter-add back, so repeated indices accumulate.
    public func indexSelect(axis: Int, _ indices: [Int]) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "indexSelect")
        let (outer, len, inner) = Tensor.split(shape, at: a)
        for i in indices {
            nablaCheck(i >= 0 && i < len, "indexSelect: index \(i) is out of range for axis \(axis) of size \(len) (shape \(shape))")
        }
        var outShape = shape; outShape[a] = indices.count
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        let bs = dtype.byteSize
        let src = storage.raw, dst = out.storage.raw
        for o in 0..<outer {
            for (k, i) in indices.enumerated() {
                (dst + ((o * indices.count + k) * inner) * bs).copyMemory(from: src + ((o * len + i) * inner) * bs, byteCount: inner * bs)
            }
        }
        let inShape = shape, dt = dtype
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "IndexSelect", self) { g in
            let g = g.to(dt)
            let full = Tensor.zeros(inShape, dtype: dt)
            for o in 0..<outer {
                for (k, i) in indices.enumerated() {
                    for j in 0..<inner {
                        let d = (o * len + i) * inner + j, s = (o * indices.count + k) * inner + j
                        if dt == .float32 { full.pointer(Float.self)[d] += g.pointer(Float.self)[s] }
                        else { full.pointer(Double.self)[d] += g.pointer(Double.self)[s] }
                    }
                }
            }
            return [full]
        }
    }

    /// The entries along `axis` at the indices held in a tensor (integer values of any dtype).
    ///
    /// Like ``indexSelect(axis:_:)`` with an array; the result's axis `axis` is replaced by
    /// the index tensor's shape.
    public func indexSelect(axis: Int, _ indices: Tensor) -> Tensor {
        let idx = indices.integerValues(op: "indexSelect")
        let a = Shape.normalize(axis: axis, rank: rank, op: "indexSelect")
        let r = indexSelect(axis: a, idx)
        return r.reshaped(Array(shape[..<a]) + indices.shape + Array(shape[(a + 1)...]))
    }

    /// Values picked along `axis` by `index` (PyTorch's `gather`).
    ///
    /// For rank 2 and axis 1, `out[i][j] = self[i][index[i][j]]`. `index` has this tensor's
    /// rank; it is an int64 tensor (other integer dtypes, and floats holding exact integers,
    /// are accepted and converted).
    public func gather(axis: Int, _ index: Tensor) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "gather")
        nablaCheck(index.rank == rank, "gather: index of shape \(index.shape) must have the rank of the input \(shape)")
        for d in 0..<rank where d != a {
            nablaCheck(index.shape[d] <= shape[d], "gather: index shape \(index.shape) exceeds input shape \(shape) at axis \(d)")
        }
        requireFloatingPoint("gather")
        let idx = index.indexTensor(op: "gather")
        let ip = idx.pointer(Int64.self), n = idx.count
        let len = shape[a]
        for f in 0..<n where ip[f] < 0 || ip[f] >= len {
            nablaFail("gather: index \(ip[f]) is out of range for axis \(axis) of size \(len) (shape \(shape))")
        }
        // The flat source offset of each output element, kept (int64) for the backward scatter.
        let offsets = Tensor(uninitializedShape: [n], dtype: .int64)
        let op = offsets.pointer(Int64.self)
        let st = Shape.strides(shape), ist = Shape.strides(index.shape)
        for f in 0..<n {
            var rem = f, off = 0
            for d in 0..<rank {
                let c = rem / ist[d]; rem %= ist[d]
                off += (d == a ? Int(ip[f]) : c) * st[d]
            }
            op[f] = Int64(off)
        }
        let out = Tensor(uninitializedShape: index.shape, dtype: dtype)
        if dtype == .float32 {
            let s = pointer(Float.self), d = out.pointer(Float.self)
            for f in 0..<n { d[f] = s[Int(op[f])] }
        } else {
            let s = pointer(Double.self), d = out.pointer(Double.self)
            for f in 0..<n { d[f] = s[Int(op[f])] }
        }
        let inShape = shape, dt = dtype
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Gather", self) { g in
            let g = g.to(dt)
            var full = Tensor.zeros(inShape, dtype: dt)
            let op = offsets.pointer(Int64.self)
            if dt == .float32 {
                let s = g.pointer(Float.self), d = full.pointer(Float.self)
                for f in 0..<n { d[Int(op[f])] += s[f] }
            } else {
                let s = g.pointer(Double.self), d = full.pointer(Double.self)
                for f in 0..<n { d[Int(op[f])] += s[f] }
            }
            return [full]
        }
    }

    /// Traps unless every element of this index tensor is in `0 ..< upper`, naming the first
    /// that is not (`"<op>: <what> 7 at position 3 is out of range 0..<5"`). Reads int64 in place.
    public func checkIndexRange(below upper: Int, op: String, what: String = "index") {
        let idx = indexTensor(op: op)
        let p = idx.pointer(Int64.self)
        for i in 0..<idx.count where p[i] < 0 || p[i] >= upper {
            nablaFail("\(op): \(what) \(p[i]) at position \(i) is out of range 0..<\(upper)")
        }
    }

    /// This tensor as an int64 index tensor: itself when int64; other integer dtypes
    /// converted; floats checked to hold exact integers first (see ``integerValues(op:)``).
    public func indexTensor(op: String) -> Tensor {
        switch dtype {
        case .int64: return detached()
        case .int32, .uint8: return to(.int64)
        case .bool: nablaFail("\(op): a bool tensor is not an index tensor; convert it with .to(.int64) if you mean 0 and 1")
        case .float32, .float64:
            // Every element must be an integer the float dtype holds exactly.
            _ = integerValues(op: op)
            return to(.int64)
        }
    }

    /// The elements as integers, trapping if any is not integral.
    ///
    /// Integer dtypes are read exactly. For a floating-point index tensor, traps on a value
    /// that is not an integer, and on one too large for its dtype to hold exactly: a float32
    /// index at or above 2²⁴ (16,777,216) may be the rounded form of a neighbouring integer,
    /// and selecting by it would silently pick the wrong row. Use int64 index tensors.
    public func integerValues(op: String) -> [Int] {
        if !dtype.isFloatingPoint {
            nablaCheck(dtype != .bool, "\(op): a bool tensor is not an index tensor; convert it with .to(.int64) if you mean 0 and 1")
            return ints
        }
        let exact = dtype == .float32 ? 16_777_216.0 : 9_007_199_254_740_992.0   // 2²⁴, 2⁵³
        return (0..<count).map { i in
            let v = scalar(at: i)
            nablaCheck(v == v.rounded() && Swift.abs(v) < 9e15, "\(op): index tensor holds \(v), which is not an integer")
            nablaCheck(Swift.abs(v) < exact, "\(op): index \(Int(v)) at position \(i) is too large to be exact in a \(dtype) index tensor (\(dtype) holds integers exactly only below \(Int(exact))); use an int64 index tensor")
            return Int(v)
        }
    }

    /// One-hot rows `[n, classes]` for class indices, optionally label-smoothed: the class
    /// gets 1 − ε + ε/C and every other entry ε/C (ε = 0: plain one-hot). The one
    /// implementation behind `oneHot(_:classes:)` and label-smoothed cross-entropy.
    public static func oneHot(_ indices: [Int], classes: Int, smoothing: Double = 0, dtype: DType = .float32) -> Tensor {
        nablaCheck(classes > 0, "oneHot: classes must be positive, got \(classes)")
        nablaCheck(smoothing >= 0 && smoothing <= 1, "oneHot: smoothing must be in [0, 1], got \(smoothing)")
        var t = Tensor.full([indices.count, classes], smoothing / Double(classes), dtype: dtype)
        for (i, c) in indices.enumerated() {
            nablaCheck(c >= 0 && c < classes, "oneHot: label \(c) at position \(i) is outside 0..<\(classes)")
            t.setScalar(1 - smoothing + smoothing / Double(classes), at: i * classes + c)
        }
        return t
    }

    // MARK: Joining and splitting

    /// Joins tensors along an existing axis; all other dimensions must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        nablaCheck(!tensors.isEmpty, "concatenate: no tensors given")
        let first = tensors[0]
        let a = Shape.normalize(axis: axis, rank: first.rank, op: "concatenate")
        for (k, t) in tensors.enumerated() {
            nablaCheck(t.dtype == first.dtype, "concatenate: tensor \(k) is \(t.dtype), tensor 0 is \(first.dtype)")
            nablaCheck(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                       "concatenate: tensor \(k) has shape \(t.shape), incompatible with \(first.shape) along axis \(axis)")
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        let out = Tensor(uninitializedShape: outShape, dtype: first.dtype)
        let (outer, _, inner) = split(outShape, at: a)
        let bs = first.dtype.byteSize
        var pos = 0
        for t in tensors {
            let len = t.shape[a]
            for o in 0..<outer {
                (out.storage.raw + ((o * outShape[a] + pos) * inner) * bs)
                    .copyMemory(from: t.storage.raw + (o * len * inner) * bs, byteCount: len * inner * bs)
            }
            pos += len
        }
        let sizes = tensors.map { $0.shape[a] }
        return record(out, op: "Cat", inputs: tensors) { g in g.split(sizes: sizes, axis: a).map { Optional($0) } }
    }

    /// Joins tensors of equal shape along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        nablaCheck(!tensors.isEmpty, "stack: no tensors given")
        for (k, t) in tensors.enumerated() {
            nablaCheck(t.shape == tensors[0].shape, "stack: tensor \(k) has shape \(t.shape), tensor 0 has \(tensors[0].shape)")
        }
        return concatenate(tensors.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the axis).
    ///
    /// The pieces are views and share one graph node: backward assembles their gradients
    /// in one buffer the size of this tensor (the concatenation), each in its own place.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let a = Shape.normalize(axis: axis, rank: rank, op: "split")
        nablaCheck(sizes.reduce(0, +) == shape[a] && sizes.allSatisfy { $0 >= 0 },
                   "split: sizes \(sizes) do not add up to \(shape[a]), the size of axis \(axis) of \(shape)")
        let st = Shape.strides(shape), vst = strides
        var starts: [Int] = [], start = 0
        for n in sizes { starts.append(start); start += n }
        return pieces(count: sizes.count, op: "Split") { i in
            var pieceShape = shape; pieceShape[a] = sizes[i]
            return (pieceShape, vst, storageOffset + starts[i] * vst[a],
                    ScatterInfo(inShape: shape, outShape: pieceShape, strides: st, offset: starts[i] * st[a]))
        }
    }

    /// Splits along `axis` into `chunks` nearly equal pieces (the last may be smaller).
    public func chunked(_ chunks: Int, axis: Int = 0) -> [Tensor] {
        let a = Shape.normalize(axis: axis, rank: rank, op: "chunk")
        nablaCheck(chunks > 0, "chunk: number of chunks must be positive, got \(chunks)")
        let each = (shape[a] + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = shape[a]
        while left > 0 { sizes.append(Swift.min(each, left)); left -= each }
        return split(sizes: sizes, axis: a)
    }

    /// This tensor padded with `value`, by `widths[i] = (before, after)` for axis i.
    ///
    /// Missing trailing axes are not padded.
    public func padded(_ widths: [(Int, Int)], value: Double = 0) -> Tensor {
        nablaCheck(widths.count <= rank, "pad: \(widths.count) pad widths for a tensor of shape \(shape)")
        nablaCheck(widths.allSatisfy { $0.0 >= 0 && $0.1 >= 0 }, "pad: negative pad width in \(widths)")
        requireFloatingPoint("pad")
        let w = widths + Array(repeating: (0, 0), count: rank - widths.count)
        let outShape = zip(shape, w).map { $0 + $1.0 + $1.1 }
        var out = Tensor(repeating: value, shape: outShape, dtype: dtype)
        let ost = Shape.strides(outShape)
        let offset = zip(w, ost).reduce(0) { $0 + $1.0.0 * $1.1 }
        // Copy the interior in (a copy, so a pad value of ±inf or a huge one stays exact).
        out.stridedAddInPlace(self.detached(), shape: shape, strides: ost, offset: offset, assign: true)
        let ix = w.enumerated().map { TensorIndex.range(start: $0.element.0, end: $0.element.0 + shape[$0.offset], step: 1) }
        guard Tensor.recording(self) else { return out }
        return Tensor.record(out, op: "Pad", self) { g in [g.slice(ix)] }
    }
}
