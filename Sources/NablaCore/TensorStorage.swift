import CNablaKernels

/// Tunes the C allocator once, before the first tensor buffer (see nabla_alloc.c).
private let allocatorTuned: Void = nabla_tune_allocator()

/// The contiguous buffer of elements behind one or more ``Tensor`` values.
///
/// A storage is a single heap object (header and elements in one allocation), shared
/// between tensors until one of them is mutated (copy-on-write).
final class TensorStorage: ManagedBuffer<TensorStorage.Header, SIMD8<Float>> {
    @usableFromInline
    struct Header {
        var count: Int
        var dtype: DType
    }

    /// Allocates uninitialised storage for `count` elements of `dtype`.
    static func allocate(count: Int, dtype: DType) -> TensorStorage {
        _ = allocatorTuned
        let bytes = max(count * dtype.byteSize, 1)
        let vectors = (bytes + 31) / 32
        let buffer = self.create(minimumCapacity: vectors) { _ in Header(count: count, dtype: dtype) }
        let storage = unsafeDowncast(buffer, to: TensorStorage.self)
        // The elements are declared as SIMD8<Float> (for the alignment) but hold Float or
        // Double values: bind the memory to the element type it holds, so typed access
        // through pointer(_:) is defined (reading memory bound to SIMD8<Float> as Double
        // through assumingMemoryBound was undefined behaviour).
        switch dtype {
        case .float32: _ = storage.raw.bindMemory(to: Float.self, capacity: count)
        case .float64: _ = storage.raw.bindMemory(to: Double.self, capacity: count)
        }
        return storage
    }

    var count: Int { header.count }
    var dtype: DType { header.dtype }

    var raw: UnsafeMutableRawPointer {
        withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
    }

    /// The elements as `T`, which must be the type the storage's dtype holds (the memory is
    /// bound to it in ``allocate(count:dtype:)``).
    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        assert(MemoryLayout<T>.size == dtype.byteSize, "TensorStorage: \(T.self) read from \(dtype) storage")
        return raw.assumingMemoryBound(to: T.self)
    }

    /// A copy of this storage.
    func copy() -> TensorStorage {
        let s = TensorStorage.allocate(count: count, dtype: dtype)
        s.raw.copyMemory(from: raw, byteCount: count * dtype.byteSize)
        return s
    }
}
