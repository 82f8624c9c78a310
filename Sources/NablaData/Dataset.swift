import NablaCore

/// A minibatch: the stacked inputs and targets of some examples.
public struct Batch: Sendable {
    /// Inputs, `[batch, ...]`.
    public var inputs: Tensor
    /// Targets, `[batch]` (class indices or scalar regression targets) or `[batch, k]`.
    public var targets: Tensor
    /// Which target positions count, when not all do: 1 for a real position, 0 for padding
    /// (a batch of sequences of different lengths). Nil when every position counts.
    public var mask: Tensor?
    /// Creates a batch.
    public init(inputs: Tensor, targets: Tensor, mask: Tensor? = nil) { self.inputs = inputs; self.targets = targets; self.mask = mask }
    /// The number of examples.
    public var count: Int { inputs.shape.first ?? 0 }
}

/// A random-access collection of examples (PyTorch's map-style `Dataset`).
///
/// Conformers provide `count` and `batch(_:)`; ``TensorDataset`` covers data that fits
/// in memory as two tensors.
public protocol Dataset: Sendable {
    /// The number of examples.
    var count: Int { get }
    /// The examples at `indices`, stacked into one batch.
    func batch(_ indices: [Int]) -> Batch
}

/// What a target column means: class indices or real values.
public enum TaskKind: String, Sendable, Codable {
    /// Targets are class indices `0..<classes`.
    case classification
    /// Targets are real numbers.
    case regression
}

/// A dataset held as an input tensor and a target tensor whose first axes are examples.
public struct TensorDataset: Dataset {
    /// All inputs, `[count, ...]`.
    public var inputs: Tensor
    /// All targets, `[count]` or `[count, k]`.
    public var targets: Tensor
    /// Human-readable name (for messages and histories).
    public var name: String
    /// Number of classes for classification data (nil for regression).
    public var classCount: Int?
    /// The names of the input features (a CSV file's column names), when known.
    ///
    /// A model trained on the data stores them, so `predict` can match a new file's columns
    /// by name rather than by position.
    public var featureNames: [String]?
    /// The name of the target (a CSV file's target column), when known.
    public var targetName: String?

    /// Wraps two tensors with equal first dimension.
    public init(inputs: Tensor, targets: Tensor, name: String = "data", classCount: Int? = nil) {
        nablaCheck(inputs.rank >= 1 && targets.rank >= 1 && inputs.shape[0] == targets.shape[0],
                   "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) have different numbers of examples")
        self.inputs = inputs.detached()
        // Class labels are int64, as PyTorch's; a loader then yields int64 targets.
        self.targets = classCount != nil && targets.rank == 1 ? targets.indexTensor(op: "TensorDataset targets") : targets.detached()
        self.name = name
        self.classCount = classCount
    }

    /// The number of examples.
    public var count: Int { inputs.shape[0] }
    /// Whether the targets are class indices.
    public var task: TaskKind { classCount == nil ? .regression : .classification }
    /// The shape of one input example.
    public var inputShape: [Int] { Array(inputs.shape.dropFirst()) }

    /// The examples at `indices`, stacked into one batch.
    public func batch(_ indices: [Int]) -> Batch {
        Batch(inputs: inputs.indexSelect(axis: 0, indices), targets: targets.indexSelect(axis: 0, indices))
    }

    /// The examples at `indices` as a new dataset.
    public func subset(_ indices: [Int]) -> TensorDataset {
        var d = TensorDataset(inputs: inputs.indexSelect(axis: 0, indices), targets: targets.indexSelect(axis: 0, indices),
                              name: name, classCount: classCount)
        d.featureNames = featureNames
        d.targetName = targetName
        return d
    }

    /// Splits into consecutive parts of the given fractions after shuffling with `generator`.
    ///
    /// The fractions must sum to ≤ 1; the last part takes any rounding remainder. Pass a nil
    /// `generator` to keep the order.
    public func split(_ fractions: [Double], generator: RandomGenerator? = RandomGenerator(seed: 0)) -> [TensorDataset] {
        nablaCheck(fractions.allSatisfy { $0 >= 0 } && fractions.reduce(0, +) <= 1 + 1e-9,
                   "split: fractions \(fractions) must be non-negative and sum to at most 1")
        let order = generator.map { $0.permutation(count) } ?? Array(0..<count)
        var parts: [TensorDataset] = []
        var start = 0
        for (i, f) in fractions.enumerated() {
            let n = i == fractions.count - 1 && Swift.abs(fractions.reduce(0, +) - 1) < 1e-9
                ? count - start : Int((Double(count) * f).rounded())
            let end = Swift.min(start + n, count)
            parts.append(subset(Array(order[start..<end])))
            start = end
        }
        return parts
    }

    /// Converts the inputs (and real-valued targets; class labels stay int64) to `dtype`.
    public func to(_ dtype: DType) -> TensorDataset {
        let t = targets.dtype.isFloatingPoint ? targets.to(dtype) : targets
        var d = TensorDataset(inputs: inputs.to(dtype), targets: t, name: name, classCount: classCount)
        d.featureNames = featureNames
        d.targetName = targetName
        return d
    }
}

/// One-hot encoding of class indices: `[n]` → `[n, classes]`.
public func oneHot(_ labels: Tensor, classes: Int) -> Tensor {
    Tensor.oneHot(labels.integerValues(op: "oneHot"), classes: classes, dtype: labels.dtype.isFloatingPoint ? labels.dtype : .float32)
}
