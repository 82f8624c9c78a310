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
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    var count: Int { header.count }
    var dtype: DType { header.dtype }

    var raw: UnsafeMutableRawPointer {
        withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
    }

    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        raw.assumingMemoryBound(to: T.self)
    }

    /// A copy of this storage.
    func copy() -> TensorStorage {
        let s = TensorStorage.allocate(count: count, dtype: dtype)
        s.raw.copyMemory(from: raw, byteCount: count * dtype.byteSize)
        return s
    }
}
