import Foundation

/// JSON text for output that data can reach, with NaN and infinities written as `null`.
///
/// JSON has no NaN or infinity, and Foundation's serialiser throws on them. A training run
/// whose loss became NaN, a model whose weights did, or a degenerate feature must still
/// produce valid output, so every non-finite number becomes `null` (as Python's
/// `json.dumps(..., allow_nan=False)` users expect from pandas' `to_json`).
public enum JSONOutput {
    /// Replaces non-finite `Double`/`Float` values, at any depth, with `NSNull`.
    public static func sanitized(_ value: Any) -> Any {
        switch value {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? Double(f) : NSNull()
        case let a as [Any]: return a.map(sanitized)
        case let o as [String: Any]: return o.mapValues(sanitized)
        default: return value
        }
    }

    /// Serialises a JSON object (keys sorted) on one line; non-finite numbers become `null`.
    ///
    /// Throws only for values JSON cannot hold at all (a programming error such as a date
    /// object), never for numbers.
    public static func line(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: sanitized(object), options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
