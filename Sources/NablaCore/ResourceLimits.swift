import Foundation

/// How much memory a model or data set read from a file or the command line may claim.
///
/// Sizes that come from outside (an architecture's `out: 16000000000`, `--hidden
/// 100000,100000`, a class label of 10⁷, an IDX header) are turned into a byte count with
/// checked arithmetic and compared with this limit *before* anything is allocated, so an
/// absurd size is a clear error instead of `failed to allocate … bytes`. The CLI's
/// `--max-memory` raises it.
public struct ResourceLimits: Sendable, Equatable {
    /// The largest number of bytes one model or data set may need.
    public var maxBytes: Int

    /// A limit of `maxBytes` bytes.
    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// The default: 4 GiB.
    public static let standard = ResourceLimits(maxBytes: 4 << 30)
    /// No limit (for trusted, programmatic use).
    public static let unlimited = ResourceLimits(maxBytes: .max)

    /// Parses a size such as `4G`, `512M`, `64k`, `1.5GiB` or a plain byte count.
    public static func parseSize(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("ib") { t.removeLast(2) } else if t.hasSuffix("b") { t.removeLast() }
        var scale = 1.0
        if let last = t.last, let s = ["k": 1024.0, "m": 1024.0 * 1024, "g": 1024.0 * 1024 * 1024, "t": 1024.0 * 1024 * 1024 * 1024][String(last)] {
            scale = s; t.removeLast()
        }
        guard let v = Double(t), v.isFinite, v > 0 else { return nil }
        let bytes = v * scale
        guard bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }

    /// A size for people: `3.2 GiB`, `512 MiB`, `640 B`.
    public static func describe(bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(bytes) B" : String(format: "%.1f", v) + " " + units[i]
    }

    /// Throws unless `bytes` (nil: more than fits in 64 bits) is within the limit.
    ///
    /// `what` names the thing being sized, e.g. `"model.safetensors: the architecture"`.
    public func check(bytes: Int?, for what: @autoclosure () -> String) throws {
        guard let bytes, bytes <= maxBytes else {
            let need = bytes.map { "about " + ResourceLimits.describe(bytes: $0) } ?? "more memory than can be addressed"
            throw ResourceLimitError(message: "\(what()) needs \(need), above the limit of \(ResourceLimits.describe(bytes: maxBytes)); raise it with --max-memory if this is intended")
        }
    }
}

/// A size from a file or the command line that would need more memory than allowed.
public struct ResourceLimitError: Error, CustomStringConvertible, Sendable {
    /// What was too large and by how much, in one line.
    public let message: String
    /// An error with a one-line message.
    public init(message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Checked arithmetic for sizes that come from outside the program.
public enum CheckedSize {
    /// `a · b`, or nil on overflow or a negative factor.
    public static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : p
    }
    /// `a + b`, or nil on overflow or a negative term.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (s, o) = a.addingReportingOverflow(b)
        return o ? nil : s
    }
}
