/// Shape arithmetic shared by the operations.
///
/// It covers element counts, strides, axis normalisation and NumPy broadcasting.
public enum Shape {
    /// The number of elements of a shape (1 for `[]`).
    ///
    /// Traps on a negative size or when the count does not fit in an `Int` (a shape such
    /// as `[3, 6148914691236517206]` must not wrap around to a small count). Use
    /// ``checkedCount(_:)`` for shapes that come from files or users.
    public static func count(_ shape: [Int]) -> Int {
        guard let n = checkedCount(shape) else {
            nablaFail("shape \(shape): \(shape.contains { $0 < 0 } ? "negative size" : "element count does not fit in 64 bits")")
        }
        return n
    }

    /// The number of elements of a shape, or nil for a negative size or an overflow.
    @inlinable
    public static func checkedCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Row-major strides (in elements) of a contiguous tensor with this shape.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc &*= shape[i]
        }
        return s
    }

    /// Maps a possibly negative axis into `0..<rank`, trapping with a message naming `op`.
    public static func normalize(axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        nablaCheck(a >= 0 && a < rank, "\(op): axis \(axis) is out of range for a tensor of rank \(rank)")
        return a
    }

    /// Flat row-major offset of a multi-dimensional index (negative indices count from the end).
    public static func flatIndex(_ index: [Int], shape: [Int]) -> Int {
        nablaCheck(index.count == shape.count, "subscript: \(index.count) indices for a tensor of shape \(shape)")
        var off = 0
        for (i, (ix, d)) in zip(index, shape).enumerated() {
            let j = ix < 0 ? ix + d : ix
            nablaCheck(j >= 0 && j < d, "subscript: index \(ix) is out of range for dimension \(i) of size \(d) (shape \(shape))")
            off = off * d + j
        }
        return off
    }

    /// The broadcast shape of two shapes under NumPy rules, or nil if they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        if a == b { return a }
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Broadcast shape or a trap naming the op and both shapes.
    public static func broadcastOrTrap(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        guard let s = broadcast(a, b) else {
            nablaFail("\(op): shapes \(a) and \(b) cannot be broadcast together")
        }
        return s
    }

    /// Strides for reading a tensor of shape `from` as if it had the (broadcast) shape `to`.
    ///
    /// Dimensions that are broadcast get stride 0.
    public static func broadcastStrides(from: [Int], to: [Int]) -> [Int] {
        let s = strides(from)
        let off = to.count - from.count
        var out = [Int](repeating: 0, count: to.count)
        for i in 0..<from.count where from[i] != 1 || to[i + off] == 1 {
            out[i + off] = from[i] == 1 ? 0 : s[i]
        }
        return out
    }
}

/// Traps with a message naming the operation and shapes when `condition` is false.
///
/// This is how Nabla reports a programmer error (a shape mismatch, an axis out of range).
/// The message is built only when the check fails.
public func nablaCheck(_ condition: Bool, _ message: @autoclosure () -> String,
                       file: StaticString = #fileID, line: UInt = #line) {
    if _slowPath(!condition) { nablaFail(message(), file: file, line: line) }
}

/// Traps with a Nabla error message (see ``nablaCheck(_:_:file:line:)``).
public func nablaFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("Nabla: " + message, file: file, line: line)
}
