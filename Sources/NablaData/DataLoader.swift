import NablaCore

/// Iterates over a dataset in minibatches, optionally shuffled from a seed.
///
/// This is PyTorch's `DataLoader(dataset, batch_size:, shuffle:, drop_last:)`.
///
/// Each pass (`for batch in loader`) draws a new order from the loader's generator, so
/// epochs differ but a given seed always gives the same sequence of epochs.
public struct DataLoader<D: Dataset>: Sequence {
    /// The data.
    public let dataset: D
    /// Examples per batch.
    public let batchSize: Int
    /// Whether each pass visits the examples in a new random order.
    public let shuffle: Bool
    /// Whether to drop a last, smaller batch.
    public let dropLast: Bool
    /// The generator used for shuffling (its state advances every epoch).
    public let generator: RandomGenerator

    /// A loader over `dataset`.
    public init(_ dataset: D, batchSize: Int, shuffle: Bool = false, dropLast: Bool = false,
                generator: RandomGenerator = RandomGenerator(seed: 0)) {
        nablaCheck(batchSize > 0, "DataLoader: batch size must be positive, got \(batchSize)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.generator = generator
    }

    /// The number of batches in one pass.
    public var count: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// Iterates over one epoch's batches.
    public struct Iterator: IteratorProtocol {
        let dataset: D
        let order: [Int]
        let batchSize: Int
        let batches: Int
        var position = 0

        /// The next batch of the epoch, or nil when the epoch is over.
        public mutating func next() -> Batch? {
            guard position < batches else { return nil }
            let start = position * batchSize
            let end = Swift.min(start + batchSize, order.count)
            position += 1
            return dataset.batch(Array(order[start..<end]))
        }
    }

    /// Starts an epoch, drawing a new order from the generator when shuffling.
    public func makeIterator() -> Iterator {
        let order = shuffle ? generator.permutation(dataset.count) : Array(0..<dataset.count)
        return Iterator(dataset: dataset, order: order, batchSize: batchSize, batches: count)
    }
}

/// Standardisation `(x − mean) / std` per feature, fitted on training data only.
public struct StandardScaler: Sendable, Codable {
    /// Per-feature means.
    public var mean: [Double]
    /// Per-feature standard deviations (1 where a feature is constant).
    public var std: [Double]

    /// Fits on a `[n, features]` tensor.
    public init(fitting x: Tensor) {
        nablaCheck(x.rank == 2, "StandardScaler: expects [examples, features], got \(x.shape)")
        let m = x.to(.float64).mean(axis: 0)
        let s = x.to(.float64).variance(axes: [0], correction: 0).sqrt()
        mean = m.doubles
        std = s.doubles.map { $0 > 1e-12 ? $0 : 1 }
    }

    /// Creates a scaler from known statistics.
    public init(mean: [Double], std: [Double]) { self.mean = mean; self.std = std }

    /// Applies the scaling.
    public func transform(_ x: Tensor) -> Tensor {
        nablaCheck(x.shape.last == mean.count, "StandardScaler: fitted on \(mean.count) features, got shape \(x.shape)")
        return (x - Tensor(mean, shape: [mean.count]).to(x.dtype)) / Tensor(std, shape: [std.count]).to(x.dtype)
    }
}

/// Min–max scaling to [0, 1] per feature, fitted on training data only.
public struct MinMaxScaler: Sendable, Codable {
    /// Per-feature minima.
    public var minimum: [Double]
    /// Per-feature ranges (1 where a feature is constant).
    public var range: [Double]

    /// Fits on a `[n, features]` tensor.
    public init(fitting x: Tensor) {
        nablaCheck(x.rank == 2, "MinMaxScaler: expects [examples, features], got \(x.shape)")
        let lo = x.to(.float64).min(axis: 0).doubles, hi = x.to(.float64).max(axis: 0).doubles
        minimum = lo
        range = zip(lo, hi).map { $1 - $0 > 1e-12 ? $1 - $0 : 1 }
    }

    /// Creates a scaler from known statistics.
    public init(minimum: [Double], range: [Double]) { self.minimum = minimum; self.range = range }

    /// Applies the scaling.
    public func transform(_ x: Tensor) -> Tensor {
        nablaCheck(x.shape.last == minimum.count, "MinMaxScaler: fitted on \(minimum.count) features, got shape \(x.shape)")
        return (x - Tensor(minimum, shape: [minimum.count]).to(x.dtype)) / Tensor(range, shape: [range.count]).to(x.dtype)
    }
}
