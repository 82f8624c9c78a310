import Foundation
import NablaCore
import NablaData

/// An input transformation fitted on training data and stored with a saved model.
///
/// Storing it means that `evaluate` and `predict` see inputs exactly as training did.
public enum Preprocessing: Codable, Equatable, Sendable {
    /// Inputs are used as they are.
    case none
    /// Inputs are multiplied by a constant (e.g. 1/255 for pixels).
    case scale(Double)
    /// Per-feature standardisation.
    case standardize(mean: [Double], std: [Double])
    /// Per-feature min–max scaling to [0, 1].
    case minMax(minimum: [Double], range: [Double])

    /// Fits standardisation on `train` inputs (rank 2).
    public static func standardize(fitting x: Tensor) -> Preprocessing {
        let s = StandardScaler(fitting: x)
        return .standardize(mean: s.mean, std: s.std)
    }

    /// Fits min–max scaling on `train` inputs (rank 2).
    public static func minMax(fitting x: Tensor) -> Preprocessing {
        let s = MinMaxScaler(fitting: x)
        return .minMax(minimum: s.minimum, range: s.range)
    }

    /// Applies the transformation.
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .none: return x
        case .scale(let f): return x * f
        case .standardize(let m, let s): return StandardScaler(mean: m, std: s).transform(x)
        case .minMax(let lo, let r): return MinMaxScaler(minimum: lo, range: r).transform(x)
        }
    }

    /// The number of features a fitted transformation expects (nil when any will do).
    public var featureCount: Int? {
        switch self {
        case .none, .scale: return nil
        case .standardize(let m, let s): return m.count == s.count ? m.count : -1
        case .minMax(let lo, let r): return lo.count == r.count ? lo.count : -1
        }
    }

    /// Applies the transformation to a data set's inputs.
    public func apply(_ d: TensorDataset) -> TensorDataset {
        if case .none = self { return d }
        var out = d
        out.inputs = apply(d.inputs)
        return out
    }

    /// JSON for file metadata.
    public func json() -> String { String(data: try! JSONEncoder().encode(self), encoding: .utf8)! }

    /// Parses the JSON written by ``json()``.
    public static func parse(_ s: String) throws -> Preprocessing {
        try JSONDecoder().decode(Preprocessing.self, from: Data(s.utf8))
    }
}
