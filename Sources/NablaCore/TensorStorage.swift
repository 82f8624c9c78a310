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
        /// Bumped by every write that bypasses copy-on-write (optimizer steps,
        /// `assignInPlace`), so backward can tell that a tensor it saved has changed.
        var version: Int = 0
        /// For the storage of a view (which holds no elements): which storage it reads and how.
        var view: ViewLayout? = nil
        /// `view != nil`, as a plain flag the hot paths test without touching a reference.
        var isView: Bool = false
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
        case .int32: _ = storage.raw.bindMemory(to: Int32.self, capacity: count)
        case .int64: _ = storage.raw.bindMemory(to: Int64.self, capacity: count)
        case .uint8: _ = storage.raw.bindMemory(to: UInt8.self, capacity: count)
        case .bool: _ = storage.raw.bindMemory(to: Bool.self, capacity: count)
        }
        return storage
    }

    // The header is read through its pointer: `header` is a class property, and every
    // access to it would pay a dynamic exclusivity check (measurable on small tensors).
    @inline(__always) var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }
    @inline(__always) var dtype: DType { withUnsafeMutablePointerToHeader { $0.pointee.dtype } }
    /// How many in-place writes this storage has had (see ``Header/version``).
    @inline(__always) var version: Int { withUnsafeMutablePointerToHeader { $0.pointee.version } }
    /// Non-nil for a view's storage (see ``allocateView(of:count:strides:offset:)``).
    @inline(__always) var view: ViewLayout? { withUnsafeMutablePointerToHeader { $0.pointee.view } }
    /// Whether this is a view's storage (no reference counting to find out).
    @inline(__always) var isView: Bool { withUnsafeMutablePointerToHeader { $0.pointee.isView } }

    /// The storage of a view: no elements of its own, `count` elements of `source` read
    /// through `strides` from `offset`. (Keeping the view in the storage object rather than
    /// in `Tensor` keeps a tensor three references wide, which copies of it pay for.)
    static func allocateView(of source: TensorStorage, count: Int, strides: [Int], offset: Int) -> TensorStorage {
        let layout = ViewLayout(source: source, strides: strides, offset: offset)
        let buffer = self.create(minimumCapacity: 0) { _ in Header(count: count, dtype: source.dtype, view: layout, isView: true) }
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    /// Records one in-place write.
    @inline(__always)
    func bumpVersion() { withUnsafeMutablePointerToHeader { $0.pointee.version &+= 1 } }

    var raw: UnsafeMutableRawPointer {
        withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
    }

    /// The elements as `T`, which must be the type the storage's dtype holds (the memory is
    /// bound to it in ``allocate(count:dtype:)``).
    @inline(__always)
    func pointer<T: TensorElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        // Always checked: reading int64 storage as Double would silently give garbage.
        nablaCheck(T.dtype == dtype && T.self != Int.self && MemoryLayout<T>.size == dtype.byteSize,
                   "internal error: \(T.self) elements read from \(dtype) storage")
        return raw.assumingMemoryBound(to: T.self)
    }

    /// A copy of this storage.
    func copy() -> TensorStorage {
        let s = TensorStorage.allocate(count: count, dtype: dtype)
        s.raw.copyMemory(from: raw, byteCount: count * dtype.byteSize)
        return s
    }
}

/// How a view reads the storage it shares: the stride of each axis (in elements; 0 for
/// an expanded axis) and the position of its first element.
///
/// Kernels read contiguous memory, so the first kernel to read a view makes a contiguous
/// copy of its elements; the copy is kept for the view's lifetime and published
/// atomically, so views may be read from several threads. The copy is stamped with the
/// source's version: after an in-place write to the source (an optimizer step), the next
/// read makes a fresh copy, so a view never shows stale values. The copy it replaces is
/// kept one generation longer (a pointer taken from it by the current op stays valid);
/// older ones are released.
final class ViewLayout: @unchecked Sendable {
    /// The storage the view reads (never itself a view).
    let source: TensorStorage
    let strides: [Int]
    let offset: Int
    /// For a piece of `split`, `chunked` or `unbind` (one graph node for all the pieces):
    /// where the piece sits in the tensor that was split, so a gradient reaching the piece
    /// is added into that node's gradient at the right place.
    var piece: ScatterInfo?
    /// A slot holding the retained current copy (an `Unmanaged<CachedCopy>`), or nil
    /// before first use. A separately allocated slot, so the atomic operations have a
    /// stable address and no Swift exclusivity check runs on concurrent reads.
    private let cache: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    /// A contiguous copy of the view's elements as of one version of the source.
    final class CachedCopy {
        let storage: TensorStorage
        let version: Int
        var previous: CachedCopy?
        init(storage: TensorStorage, version: Int) { self.storage = storage; self.version = version }
    }

    init(source: TensorStorage, strides: [Int], offset: Int) {
        self.source = source
        self.strides = strides
        self.offset = offset
        cache = .allocate(capacity: 1)
        cache.initialize(to: nil)
    }

    /// The view's elements in row-major order, copied from `source` when first read and
    /// again after the source was written in place.
    func contiguous(shape: [Int]) -> TensorStorage {
        let now = source.version
        let current = nabla_ptr_load(cache)
        if let p = current {
            let c = Unmanaged<CachedCopy>.fromOpaque(p).takeUnretainedValue()
            if c.version == now { return c.storage }
        }
        let made = CachedCopy(storage: source.gathered(shape: shape, strides: strides, offset: offset), version: now)
        if let p = current {
            let old = Unmanaged<CachedCopy>.fromOpaque(p).takeUnretainedValue()
            made.previous = old      // the copy being replaced lives one generation longer
            old.previous = nil       // older generations are released
        }
        let retained = Unmanaged.passRetained(made).toOpaque()
        if nabla_ptr_cas(cache, current, retained) != 0 {
            if let p = current { Unmanaged<CachedCopy>.fromOpaque(p).release() }   // now held by made.previous
            return made.storage
        }
        Unmanaged<CachedCopy>.fromOpaque(retained).release()   // another thread published first
        return contiguous(shape: shape)
    }

    deinit {
        if let p = cache.pointee { Unmanaged<CachedCopy>.fromOpaque(p).release() }
        cache.deallocate()
    }
}

extension TensorStorage {
    /// A new contiguous storage holding the elements at `offset + Σ idx·strides` for every
    /// index of `shape`, in row-major order.
    func gathered(shape: [Int], strides: [Int], offset: Int) -> TensorStorage {
        let n = Shape.count(shape)
        let out = TensorStorage.allocate(count: n, dtype: dtype)
        let bs = dtype.byteSize
        let src = raw, dst = out.raw
        let zeros = [Int](repeating: 0, count: shape.count)
        Tensor.forEachRow(shape: shape, strides, zeros) { o, oa, _, len, ia, _ in
            if ia == 1 {
                (dst + o * bs).copyMemory(from: src + (offset + oa) * bs, byteCount: len * bs)
            } else {
                switch bs {
                case 8: Self.stridedRow(src + (offset + oa) * 8, ia, dst + o * 8, len, UInt64.self)
                case 4: Self.stridedRow(src + (offset + oa) * 4, ia, dst + o * 4, len, UInt32.self)
                case 2: Self.stridedRow(src + (offset + oa) * 2, ia, dst + o * 2, len, UInt16.self)
                default: Self.stridedRow(src + (offset + oa), ia, dst + o, len, UInt8.self)
                }
            }
        }
        return out
    }

    /// Copies `len` elements of `T`'s size read every `stride` elements from `src` to `dst`
    /// (raw loads and stores, whatever type the memory is bound to).
    @inline(__always)
    static func stridedRow<T: FixedWidthInteger>(_ src: UnsafeMutableRawPointer, _ stride: Int,
                                                 _ dst: UnsafeMutableRawPointer, _ len: Int, _: T.Type) {
        let size = MemoryLayout<T>.size
        for j in 0..<len {
            (dst + j * size).storeBytes(of: (src + j * stride * size).load(as: T.self), as: T.self)
        }
    }
}
