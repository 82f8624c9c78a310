import CNablaKernels

/// An n-dimensional array of floats that records operations for automatic differentiation.
///
/// It holds `Float` or `Double` elements; gradients are computed by reverse-mode
/// automatic differentiation over the recorded operations.
///
/// `Tensor` has value semantics: copying a tensor is cheap and mutating one copy (through
/// subscripts or in-place operators) never changes another; storage is shared until a
/// write (copy-on-write). Elements are always stored densely in row-major order.
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
    var storage: TensorStorage
    /// The extent of each dimension; `[]` for a scalar.
    public private(set) var shape: [Int]
    /// The autograd record: non-nil exactly when the tensor requires gradients.
    var node: GradNode?


    init(storage: TensorStorage, shape: [Int], node: GradNode? = nil) {
        self.storage = storage
        self.shape = shape
        self.node = node
    }

    /// Uninitialised tensor (internal: every element must be written before use).
    init(uninitializedShape shape: [Int], dtype: DType) {
        self.init(storage: TensorStorage.allocate(count: Shape.count(shape), dtype: dtype), shape: shape)
    }

    // MARK: Basic properties

    /// The element type.
    public var dtype: DType { storage.dtype }
    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The total number of elements (PyTorch's `numel`).
    public var count: Int { storage.count }
    /// True for a tensor of rank 0.
    public var isScalar: Bool { shape.isEmpty }

    /// The size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[Shape.normalize(axis: axis, rank: rank, op: "size")] }

    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> { storage.pointer(T.self) }

    /// Makes the storage unique before an in-place write.
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    // MARK: Creation from Swift values

    /// A tensor holding `values` in row-major order with the given shape (default: a vector).
    public init<T: TensorScalar>(_ values: [T], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        nablaCheck(Shape.count(shape) == values.count && shape.allSatisfy { $0 >= 0 },
                   "Tensor(_:shape:): \(values.count) values cannot have shape \(shape)")
        self.init(uninitializedShape: shape, dtype: T.dtype)
        values.withUnsafeBufferPointer { src in
            pointer(T.self).update(from: src.baseAddress!, count: values.count)
        }
    }

    /// A matrix from nested arrays (rows must have equal length).
    public init<T: TensorScalar>(_ rows: [[T]]) {
        let cols = rows.first?.count ?? 0
        for (i, r) in rows.enumerated() {
            nablaCheck(r.count == cols, "Tensor(_:): row \(i) has \(r.count) elements, row 0 has \(cols)")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, cols])
    }

    /// A rank-3 tensor from nested arrays.
    public init<T: TensorScalar>(_ planes: [[[T]]]) {
        let rows = planes.first?.count ?? 0
        let cols = planes.first?.first?.count ?? 0
        for (i, p) in planes.enumerated() {
            nablaCheck(p.count == rows && p.allSatisfy { $0.count == cols },
                       "Tensor(_:): block \(i) is not \(rows) × \(cols) like block 0")
        }
        self.init(planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count, rows, cols])
    }

    /// A scalar (rank-0) tensor.
    public init<T: TensorScalar>(_ value: T) {
        self.init([value], shape: [])
    }

    /// A scalar tensor of the given dtype.
    public init(scalar value: Double, dtype: DType = .float32) {
        self.init(uninitializedShape: [], dtype: dtype)
        if dtype == .float32 { pointer(Float.self)[0] = Float(value) } else { pointer(Double.self)[0] = value }
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Double, shape: [Int], dtype: DType = .float32) {
        nablaCheck(shape.allSatisfy { $0 >= 0 }, "full: negative dimension in shape \(shape)")
        self.init(uninitializedShape: shape, dtype: dtype)
        if dtype == .float32 {
            pointer(Float.self).initialize(repeating: Float(value), count: count)
        } else {
            pointer(Double.self).initialize(repeating: value, count: count)
        }
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
        if dtype == .float32 {
            let p = pointer(Float.self)
            if T.self == Float.self { return Array(UnsafeBufferPointer(start: p, count: count)) as! [T] }
            return (0..<count).map { T(p[$0]) }
        } else {
            let p = pointer(Double.self)
            if T.self == Double.self { return Array(UnsafeBufferPointer(start: p, count: count)) as! [T] }
            return (0..<count).map { T(p[$0]) }
        }
    }

    /// The elements as `[Float]`.
    public var floats: [Float] { toArray(Float.self) }
    /// The elements as `[Double]`.
    public var doubles: [Double] { toArray(Double.self) }

    /// The value of a one-element tensor.
    public func item() -> Double {
        nablaCheck(count == 1, "item: tensor of shape \(shape) has \(count) elements, expected exactly 1")
        return scalar(at: 0)
    }

    /// The element at flat (row-major) position `i`, as a Double.
    public func scalar(at i: Int) -> Double {
        nablaCheck(i >= 0 && i < count, "scalar(at:): flat index \(i) is out of range for shape \(shape) (\(count) elements)")
        return dtype == .float32 ? Double(pointer(Float.self)[i]) : pointer(Double.self)[i]
    }

    /// Writes the element at flat position `i`. Does not record a graph operation.
    public mutating func setScalar(_ v: Double, at i: Int) {
        nablaCheck(i >= 0 && i < count, "setScalar(_:at:): flat index \(i) is out of range for shape \(shape) (\(count) elements)")
        makeUnique()
        if dtype == .float32 { pointer(Float.self)[i] = Float(v) } else { pointer(Double.self)[i] = v }
    }

    /// Reads or writes one element by its multi-dimensional index.
    @_disfavoredOverload
    public subscript(index: Int...) -> Double {
        get { scalar(at: Shape.flatIndex(index, shape: shape)) }
        set { setScalar(newValue, at: Shape.flatIndex(index, shape: shape)) }
    }

    /// This tensor converted to `dtype` (differentiable; a no-op when already that dtype).
    public func to(_ dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        var out = Tensor(uninitializedShape: shape, dtype: dtype)
        let n = count
        if dtype == .float64 {
            let s = pointer(Float.self), d = out.pointer(Double.self)
            for i in 0..<n { d[i] = Double(s[i]) }
        } else {
            let s = pointer(Double.self), d = out.pointer(Float.self)
            for i in 0..<n { d[i] = Float(s[i]) }
        }
        let src = self.dtype
        out = Tensor.record(out, op: "To", self) { g in [g.to(src)] }
        return out
    }

    /// A copy of this tensor with its own storage (no shared storage, same graph position).
    public func clone() -> Tensor {
        Tensor.record(Tensor(storage: storage.copy(), shape: shape), op: "Clone", self) { g in [g] }
    }

    /// True if both tensors have the same shape and exactly equal elements.
    public func equals(_ other: Tensor) -> Bool {
        shape == other.shape && (0..<count).allSatisfy { scalar(at: $0) == other.scalar(at: $0) }
    }
}
