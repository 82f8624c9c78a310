import CNablaKernels

/// An n-dimensional array that records operations for automatic differentiation.
///
/// It holds elements of one ``DType``: `Float` or `Double` (which can carry gradients,
/// computed by reverse-mode automatic differentiation over the recorded operations), or
/// `Int32`, `Int64`, `UInt8` or `Bool` (labels, indices, masks; no gradients).
///
/// `Tensor` has value semantics: copying a tensor is cheap and mutating one copy (through
/// subscripts or in-place operators) never changes another; storage is shared until a
/// write (copy-on-write).
///
/// Reshaping, ``transposed(_:_:)``, ``permuted(_:)``, ``broadcast(to:)``, slicing,
/// ``select(axis:_:)``, ``narrow(axis:start:length:)`` and ``unbind(axis:)`` return *views*:
/// tensors that share the storage of their source and read it through strides and an
/// offset, so taking them costs no copy. A kernel that needs contiguous input makes a
/// contiguous copy of a view on first use (``contiguous()``), and writing to a view
/// gives it storage of its own first: views never change the tensor they were taken
/// from.
///
/// Autograd follows PyTorch: set ``requiresGrad`` on a leaf, run the forward computation,
/// call ``backward(_:)`` on a scalar result and read ``grad``. A tensor that requires
/// gradients has an identity, as in PyTorch: every copy of it shares one `grad`, and an
/// optimizer's in-place update of a parameter is seen by every copy.
///
/// ```swift
/// var w = Tensor([2, -3, -3] as [Double]); w.requiresGrad = true
/// let x = Tensor([-1, -2, 1] as [Double])
/// let f = (w * x).sum().sigmoid()
/// f.backward()
/// print(w.grad!)   // ≈ [-0.196, -0.393, 0.197]
/// ```
public struct Tensor: @unchecked Sendable {
    /// The storage the elements live in; for a view, a storage of no elements that names
    /// the storage it shares with its source (``view``).
    var base: TensorStorage
    /// The extent of each dimension; `[]` for a scalar.
    public private(set) var shape: [Int]
    /// The autograd record: non-nil exactly when the tensor requires gradients.
    var node: GradNode?

    init(storage: TensorStorage, shape: [Int], node: GradNode? = nil) {
        self.base = storage
        self.shape = shape
        self.node = node
    }

    /// A view of `source` read through `strides` from element `offset`.
    init(viewOf source: TensorStorage, shape: [Int], strides: [Int], offset: Int) {
        self.base = TensorStorage.allocateView(of: source, count: Shape.count(shape), strides: strides, offset: offset)
        self.shape = shape
        self.node = nil
    }

    /// Non-nil for a view: which storage it reads, and how (strides and offset).
    @inline(__always) var view: ViewLayout? { base.isView ? base.view : nil }

    /// The storage holding this tensor's elements, shared by all views of it: `base`, or
    /// for a view the storage it reads. Its version counts in-place writes.
    @inline(__always) var rootStorage: TensorStorage { base.isView ? base.view!.source : base }

    /// Contiguous storage holding this tensor's elements in row-major order: the storage
    /// itself, or for a view the contiguous copy made on first use (kept while the view lives).
    @inline(__always) var storage: TensorStorage {
        if _fastPath(!base.isView) { return base }
        return base.view!.contiguous(shape: shape)
    }

    /// Uninitialised tensor (internal: every element must be written before use).
    init(uninitializedShape shape: [Int], dtype: DType) {
        self.init(storage: TensorStorage.allocate(count: Shape.count(shape), dtype: dtype), shape: shape)
    }

    // MARK: Basic properties

    /// The element type.
    public var dtype: DType { base.dtype }
    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The total number of elements (PyTorch's `numel`).
    public var count: Int { base.count }
    /// True for a tensor of rank 0.
    public var isScalar: Bool { shape.isEmpty }

    /// The size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[Shape.normalize(axis: axis, rank: rank, op: "size")] }

    @inline(__always)
    func pointer<T: TensorElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        if _fastPath(!base.isView) { return base.pointer(T.self) }   // no retain of a computed storage
        return storage.pointer(T.self)
    }

    /// Makes the storage unique (and contiguous) before an in-place write.
    mutating func makeUnique() {
        if base.isView {
            base = storage.copy()
        } else if !isKnownUniquelyReferenced(&base) {
            base = base.copy()
        }
    }

    // MARK: Views

    /// Whether this tensor owns a dense row-major storage (it is not a view).
    ///
    /// Views (from ``transposed(_:_:)``, slicing, ``broadcast(to:)`` and the like) are not
    /// contiguous; ``contiguous()`` gives a tensor that is.
    public var isContiguous: Bool { !base.isView }

    /// The distance in elements between neighbours along each axis of the storage this
    /// tensor reads (row-major strides for a contiguous tensor; 0 along an expanded axis).
    public var strides: [Int] { view?.strides ?? Shape.strides(shape) }

    /// The position in its storage of this tensor's first element (0 unless it is a view).
    public var storageOffset: Int { view?.offset ?? 0 }

    /// Whether this tensor and `other` read the same storage (one is a view of the other,
    /// or both of a third), as comparing PyTorch's `untyped_storage().data_ptr()`.
    public func sharesStorage(with other: Tensor) -> Bool { rootStorage === other.rootStorage }

    /// This tensor with its elements in a dense row-major storage of its own when it is a
    /// view; the tensor itself otherwise. Same values, same graph position.
    public func contiguous() -> Tensor {
        guard base.isView else { return self }
        // A piece of a split must stay identifiable in the graph: record an identity op.
        if base.view!.piece != nil && node != nil { return Tensor.record(Tensor(storage: storage, shape: shape), op: "Contiguous", self) { g in [g] } }
        return Tensor(storage: storage, shape: shape, node: node)
    }

    /// A view of this tensor's storage with the given shape, strides and offset (all in
    /// the storage's elements), without autograd.
    func rawView(shape: [Int], strides: [Int], offset: Int) -> Tensor {
        Tensor(viewOf: rootStorage, shape: shape, strides: strides, offset: offset)
    }

    // MARK: Creation from Swift values

    /// A tensor holding `values` in row-major order with the given shape (default: a vector).
    ///
    /// The dtype follows the element type: `Float` → float32, `Double` → float64, `Int` and
    /// `Int64` → int64, `Int32` → int32, `UInt8` → uint8, `Bool` → bool.
    public init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        nablaCheck(Shape.count(shape) == values.count && shape.allSatisfy { $0 >= 0 },
                   "Tensor(_:shape:): \(values.count) values cannot have shape \(shape)")
        nablaCheck(T.self == Float.self || T.self == Double.self || T.self == Int32.self || T.self == Int64.self
                   || T.self == UInt8.self || T.self == Bool.self || T.self == Int.self,
                   "Tensor(_:shape:): \(T.self) is not an element type Nabla stores (Float, Double, Int32, Int64, Int, UInt8, Bool)")
        self.init(uninitializedShape: shape, dtype: T.dtype)
        if T.self == Int.self, let ints = values as? [Int] {
            let p = pointer(Int64.self)
            for (i, v) in ints.enumerated() { p[i] = Int64(v) }
            return
        }
        values.withUnsafeBufferPointer { src in
            guard let b = src.baseAddress else { return }
            base.raw.copyMemory(from: b, byteCount: values.count * MemoryLayout<T>.stride)
        }
    }

    /// A matrix from nested arrays (rows must have equal length).
    public init<T: TensorElement>(_ rows: [[T]]) {
        let cols = rows.first?.count ?? 0
        for (i, r) in rows.enumerated() {
            nablaCheck(r.count == cols, "Tensor(_:): row \(i) has \(r.count) elements, row 0 has \(cols)")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, cols])
    }

    /// A rank-3 tensor from nested arrays.
    public init<T: TensorElement>(_ planes: [[[T]]]) {
        let rows = planes.first?.count ?? 0
        let cols = planes.first?.first?.count ?? 0
        for (i, p) in planes.enumerated() {
            nablaCheck(p.count == rows && p.allSatisfy { $0.count == cols },
                       "Tensor(_:): block \(i) is not \(rows) × \(cols) like block 0")
        }
        self.init(planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count, rows, cols])
    }

    /// A scalar (rank-0) tensor.
    public init<T: TensorElement>(_ value: T) {
        self.init([value], shape: [])
    }

    /// A scalar tensor of the given dtype.
    public init(scalar value: Double, dtype: DType = .float32) {
        self.init(uninitializedShape: [], dtype: dtype)
        write(value, at: 0)
    }

    /// A tensor of `shape` filled with `value` (converted to `dtype` as ``to(_:)`` converts).
    public init(repeating value: Double, shape: [Int], dtype: DType = .float32) {
        nablaCheck(shape.allSatisfy { $0 >= 0 }, "full: negative dimension in shape \(shape)")
        self.init(uninitializedShape: shape, dtype: dtype)
        let n = count
        switch dtype {
        case .float32: pointer(Float.self).initialize(repeating: Float(value), count: n)
        case .float64: pointer(Double.self).initialize(repeating: value, count: n)
        case .int32: pointer(Int32.self).initialize(repeating: Int32(truncatingIfNeeded: Tensor.integer(value)), count: n)
        case .int64: pointer(Int64.self).initialize(repeating: Tensor.integer(value), count: n)
        case .uint8: pointer(UInt8.self).initialize(repeating: UInt8(truncatingIfNeeded: Tensor.integer(value)), count: n)
        case .bool: pointer(Bool.self).initialize(repeating: value != 0, count: n)
        }
    }

    /// A Double converted to an integer as PyTorch converts: truncated toward zero,
    /// saturating at the ends of Int64, NaN to 0.
    @inline(__always)
    static func integer(_ v: Double) -> Int64 {
        if v.isNaN { return 0 }
        if v >= 9.223372036854775807e18 { return .max }
        if v <= -9.223372036854775808e18 { return .min }
        return Int64(v.rounded(.towardZero))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(repeating: 0, shape: shape, dtype: dtype)
    }
    /// A tensor of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(repeating: 1, shape: shape, dtype: dtype)
    }
    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        Tensor(repeating: value, shape: shape, dtype: dtype)
    }
    /// Zeros with the shape and dtype of `other`.
    public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape, dtype: other.dtype) }
    /// Ones with the shape and dtype of `other`.
    public static func ones(like other: Tensor) -> Tensor { ones(other.shape, dtype: other.dtype) }

    /// Values `start, start+step, …` below `end` (as `torch.arange`).
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32) -> Tensor {
        nablaCheck(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        if !dtype.isFloatingPoint {
            return Tensor((0..<n).map { Int64(start) + Int64($0) * Int64(step) }, shape: [n]).to(dtype)
        }
        return Tensor((0..<n).map { start + Double($0) * step }, shape: [n]).to(dtype)
    }

    /// Values `0, 1, …` below `end` (as `torch.arange(end)`).
    public static func arange(_ end: Double, dtype: DType = .float32) -> Tensor {
        arange(0, end, dtype: dtype)
    }

    /// `count` evenly spaced values from `start` to `end` inclusive (as `torch.linspace`).
    public static func linspace(_ start: Double, _ end: Double, count: Int, dtype: DType = .float32) -> Tensor {
        nablaCheck(count >= 0, "linspace: count must be non-negative, got \(count)")
        if count == 1 { return Tensor([start], shape: [1]).to(dtype) }
        let step = (end - start) / Double(count - 1)
        return Tensor((0..<count).map { i in i == count - 1 ? end : start + Double(i) * step }, shape: [count]).to(dtype)
    }

    /// The `n × m` identity matrix (m defaults to n).
    public static func eye(_ n: Int, _ m: Int? = nil, dtype: DType = .float32) -> Tensor {
        let m = m ?? n
        var t = Tensor.zeros([n, m], dtype: dtype)
        for i in 0..<Swift.min(n, m) { t.setScalar(1, at: i * m + i) }
        return t
    }

    // MARK: Back to Swift

    /// The elements in row-major order as `[T]` (converting if the dtype differs).
    public func toArray<T: TensorScalar>(_: T.Type = T.self) -> [T] {
        let n = count
        switch dtype {
        case .float32:
            let p = pointer(Float.self)
            if T.self == Float.self { return Array(UnsafeBufferPointer(start: p, count: n)) as! [T] }
            return (0..<n).map { T(p[$0]) }
        case .float64:
            let p = pointer(Double.self)
            if T.self == Double.self { return Array(UnsafeBufferPointer(start: p, count: n)) as! [T] }
            return (0..<n).map { T(p[$0]) }
        default:
            return (0..<n).map { T(read($0)) }
        }
    }

    /// The elements as `[Float]`.
    public var floats: [Float] { toArray(Float.self) }
    /// The elements as `[Double]`.
    public var doubles: [Double] { toArray(Double.self) }

    /// The elements as integers, exactly for the integer and boolean dtypes (floats are
    /// truncated toward zero, as ``to(_:)`` converts them).
    public var int64s: [Int64] {
        if dtype == .int64 { return Array(UnsafeBufferPointer(start: pointer(Int64.self), count: count)) }
        return to(.int64).int64s
    }

    /// The elements as Swift `Int`s (see ``int64s``).
    public var ints: [Int] { int64s.map { Int($0) } }

    /// The elements as `Bool`s: true where an element is non-zero.
    public var bools: [Bool] {
        if dtype == .bool { return Array(UnsafeBufferPointer(start: pointer(Bool.self), count: count)) }
        return to(.bool).bools
    }

    /// The value of a one-element tensor.
    public func item() -> Double {
        nablaCheck(count == 1, "item: tensor of shape \(shape) has \(count) elements, expected exactly 1")
        return scalar(at: 0)
    }

    /// The element at flat (row-major) position `i`, as a Double (integers beyond 2⁵³ are
    /// rounded; read them exactly with ``int64s``).
    public func scalar(at i: Int) -> Double {
        nablaCheck(i >= 0 && i < count, "scalar(at:): flat index \(i) is out of range for shape \(shape) (\(count) elements)")
        return read(i)
    }

    /// Element `i` as a Double (no range check).
    @inline(__always)
    func read(_ i: Int) -> Double {
        switch dtype {
        case .float32: return Double(pointer(Float.self)[i])
        case .float64: return pointer(Double.self)[i]
        case .int32: return Double(pointer(Int32.self)[i])
        case .int64: return Double(pointer(Int64.self)[i])
        case .uint8: return Double(pointer(UInt8.self)[i])
        case .bool: return pointer(Bool.self)[i] ? 1 : 0
        }
    }

    /// Writes element `i` from a Double, converting as ``to(_:)`` does (no range check,
    /// no copy-on-write: the caller owns the storage).
    @inline(__always)
    func write(_ v: Double, at i: Int) {
        switch dtype {
        case .float32: pointer(Float.self)[i] = Float(v)
        case .float64: pointer(Double.self)[i] = v
        case .int32: pointer(Int32.self)[i] = Int32(truncatingIfNeeded: Tensor.integer(v))
        case .int64: pointer(Int64.self)[i] = Tensor.integer(v)
        case .uint8: pointer(UInt8.self)[i] = UInt8(truncatingIfNeeded: Tensor.integer(v))
        case .bool: pointer(Bool.self)[i] = v != 0
        }
    }

    /// Writes the element at flat position `i`. Does not record a graph operation.
    public mutating func setScalar(_ v: Double, at i: Int) {
        nablaCheck(i >= 0 && i < count, "setScalar(_:at:): flat index \(i) is out of range for shape \(shape) (\(count) elements)")
        makeUnique()
        write(v, at: i)
    }

    /// Reads or writes one element by its multi-dimensional index.
    @_disfavoredOverload
    public subscript(index: Int...) -> Double {
        get { scalar(at: Shape.flatIndex(index, shape: shape)) }
        set { setScalar(newValue, at: Shape.flatIndex(index, shape: shape)) }
    }

    /// This tensor converted to `dtype`.
    ///
    /// Between float32 and float64 it is differentiable. Conversions to an integer dtype
    /// truncate toward zero (NaN becomes 0, values beyond the range saturate before the
    /// narrowing wraps, as C casts do); to bool, non-zero is true. Integer and boolean
    /// results take no part in gradients.
    public func to(_ dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        Tensor.convert(self, into: out)
        guard dtype.isFloatingPoint && self.dtype.isFloatingPoint else { return out }
        let src = self.dtype
        return Tensor.record(out, op: "To", self) { g in [g.to(src)] }
    }

    /// Copies `x`'s elements into `out` (same count), converting the dtype.
    static func convert(_ x: Tensor, into out: Tensor) {
        let n = x.count
        switch (x.dtype, out.dtype) {
        case (.float32, .float64):
            let s = x.pointer(Float.self), d = out.pointer(Double.self)
            for i in 0..<n { d[i] = Double(s[i]) }
        case (.float64, .float32):
            let s = x.pointer(Double.self), d = out.pointer(Float.self)
            for i in 0..<n { d[i] = Float(s[i]) }
        case (.int64, _) where !out.dtype.isFloatingPoint:
            let s = x.pointer(Int64.self)
            switch out.dtype {
            case .int32: let d = out.pointer(Int32.self); for i in 0..<n { d[i] = Int32(truncatingIfNeeded: s[i]) }
            case .uint8: let d = out.pointer(UInt8.self); for i in 0..<n { d[i] = UInt8(truncatingIfNeeded: s[i]) }
            case .bool: let d = out.pointer(Bool.self); for i in 0..<n { d[i] = s[i] != 0 }
            default: out.base.raw.copyMemory(from: x.storage.raw, byteCount: n * 8)
            }
        case (_, .int64) where !x.dtype.isFloatingPoint:
            let d = out.pointer(Int64.self)
            switch x.dtype {
            case .int32: let s = x.pointer(Int32.self); for i in 0..<n { d[i] = Int64(s[i]) }
            case .uint8: let s = x.pointer(UInt8.self); for i in 0..<n { d[i] = Int64(s[i]) }
            default: let s = x.pointer(Bool.self); for i in 0..<n { d[i] = s[i] ? 1 : 0 }
            }
        default:
            if !x.dtype.isFloatingPoint && !out.dtype.isFloatingPoint {
                // Between int32, uint8 and bool: through int64 (exact).
                convert(x.to(.int64), into: out)
            } else {
                for i in 0..<n { out.write(x.read(i), at: i) }
            }
        }
    }

    /// A copy of this tensor with its own storage (no shared storage, same graph position).
    public func clone() -> Tensor {
        Tensor.record(Tensor(storage: storage.copy(), shape: shape), op: "Clone", self) { g in [g] }
    }

    /// True if both tensors have the same shape and exactly equal elements.
    ///
    /// The dtypes must match too; integers compare exactly.
    public func equals(_ other: Tensor) -> Bool {
        guard shape == other.shape && dtype == other.dtype else { return false }
        if !dtype.isFloatingPoint { return int64s == other.int64s }
        return (0..<count).allSatisfy { scalar(at: $0) == other.scalar(at: $0) }
    }
}
