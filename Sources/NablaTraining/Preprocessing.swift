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
    public func json() -> String {
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Non-finite statistics are written as strings, so encoding cannot fail.
        guard let data = try? enc.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses the JSON written by ``json()``.
    public static func parse(_ s: String) throws -> Preprocessing {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try dec.decode(Preprocessing.self, from: Data(s.utf8))
    }
}

/// How inputs are scaled before training (the CLI's `--scale`): which ``Preprocessing`` to fit.
public enum ScalingKind: String, CaseIterable, Sendable {
    /// Per-feature standardisation.
    case standardize
    /// Per-feature min–max scaling to [0, 1].
    case minmax
    /// Pixels: multiply by 1/255.
    case pixels
    /// No scaling.
    case none

    /// Fits the scaling on the training split's inputs (per feature of the flattened
    /// examples, whatever their shape).
    public func fit(_ train: TensorDataset) -> Preprocessing {
        let flat = train.inputs.rank == 2 ? train.inputs : train.inputs.reshaped([train.count, Shape.count(train.inputShape)])
        switch self {
        case .standardize: return .standardize(fitting: flat)
        case .minmax: return .minMax(fitting: flat)
        case .pixels: return .scale(1.0 / 255.0)
        case .none: return .none
        }
    }
}

/// Data whose examples do not fit a model: a different number of values per example than
/// the model's input shape holds or than its fitted scaling expects.
public struct DataShapeError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// What does not fit, in one line.
    public let message: String
    /// An error with a one-line message.
    public init(message: String) { self.message = message }
    /// The message.
    public var description: String { message }
    /// The message.
    public var errorDescription: String? { message }
}

extension Preprocessing {
    /// Prepares raw inputs `[N, …]` for a model whose examples have shape `inputShape`.
    ///
    /// This is the one place where train, evaluate and predict turn data into model input,
    /// in one order: check that every example holds as many values as `inputShape` and as
    /// the fitted scaling expects, scale the flattened `[N, features]` values, then reshape
    /// to `[N] + inputShape`. Scaling before reshaping is what lets a model take `[8, 8]`
    /// images while its standardisation is per feature. `source` names the data in errors.
    public func prepare(_ x: Tensor, for inputShape: [Int], source: String) throws -> Tensor {
        guard x.rank >= 1 else { throw DataShapeError(message: "\(source): expected a batch of examples, got a scalar") }
        let n = x.shape[0]
        let exampleShape = Array(x.shape.dropFirst())
        try Preprocessing.checkFits(exampleShape, inputShape, source: source)
        let perExample = Shape.count(exampleShape)
        if let f = featureCount, f != perExample {
            throw DataShapeError(message: "\(source): the model's input scaling was fitted on \(f) features but the data have \(perExample)")
        }
        var flat = x.rank == 2 ? x : x.reshaped([n, perExample])
        flat = apply(flat)
        return inputShape == [perExample] ? flat : flat.reshaped([n] + inputShape)
    }

    /// Throws unless examples of `exampleShape` hold as many values as a model input of
    /// `inputShape` (the one input-shape check of train, evaluate and predict).
    public static func checkFits(_ exampleShape: [Int], _ inputShape: [Int], source: String) throws {
        let perExample = Shape.count(exampleShape), expected = Shape.count(inputShape)
        guard perExample == expected else {
            throw DataShapeError(message: "\(source): examples have shape \(exampleShape) (\(perExample) values) but the model takes inputs of shape \(inputShape) (\(expected) values)")
        }
    }

    /// Prepares a data set's inputs with ``prepare(_:for:source:)``, naming the data set in errors.
    public func prepare(_ d: TensorDataset, for inputShape: [Int]) throws -> TensorDataset {
        var out = d
        out.inputs = try prepare(d.inputs, for: inputShape, source: d.name)
        return out
    }
}
