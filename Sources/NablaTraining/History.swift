import Foundation
import NablaIO

/// The metrics of one training epoch.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's batches.
    public var trainLoss: Double
    /// Training accuracy (classification) measured on the fly.
    public var trainAccuracy: Double?
    /// Validation loss, when a validation set is given.
    public var validationLoss: Double?
    /// Validation accuracy (classification).
    public var validationAccuracy: Double?
    /// Validation mean absolute error (regression).
    public var validationMAE: Double?
    /// The learning rate used during the epoch.
    public var learningRate: Double
    /// Wall-clock seconds of the epoch's training (validation excluded).
    public var seconds: Double
    /// Training samples per second.
    public var samplesPerSecond: Double
    /// The means of the metrics a ``TrainingStep`` reported, by name; validation metrics are
    /// prefixed `val_` (a VAE's `kl`, a GAN's `d_loss` and `g_loss`).
    public var metrics: [String: Double] = [:]

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationLoss = "val_loss"
        case validationAccuracy = "val_accuracy", validationMAE = "val_mae", learningRate = "lr"
        case seconds, samplesPerSecond = "samples_per_second", metrics
    }

    /// Creates a record.
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double? = nil, validationLoss: Double? = nil,
                validationAccuracy: Double? = nil, validationMAE: Double? = nil, learningRate: Double,
                seconds: Double, samplesPerSecond: Double) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy
        self.validationMAE = validationMAE; self.learningRate = learningRate
        self.seconds = seconds; self.samplesPerSecond = samplesPerSecond
    }

    /// Encodes the record; a non-finite number (a loss that became NaN) is written as `null`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func put(_ v: Double?, _ k: CodingKeys) throws {
            if let v, v.isFinite { try c.encode(v, forKey: k) } else if v != nil || k == .trainLoss { try c.encodeNil(forKey: k) }
        }
        try c.encode(epoch, forKey: .epoch)
        try put(trainLoss, .trainLoss)
        try put(trainAccuracy, .trainAccuracy)
        try put(validationLoss, .validationLoss)
        try put(validationAccuracy, .validationAccuracy)
        try put(validationMAE, .validationMAE)
        try put(learningRate, .learningRate)
        try put(seconds, .seconds)
        try put(samplesPerSecond, .samplesPerSecond)
        if !metrics.isEmpty {
            // Non-finite values as null, like the other numbers.
            try c.encode(metrics.mapValues { $0.isFinite ? Optional($0) : nil }, forKey: .metrics)
        }
    }

    /// Decodes a record written by ``encode(to:)``; `null` in a required number reads as NaN.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func req(_ k: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: k) ?? .nan }
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try req(.trainLoss)
        trainAccuracy = try c.decodeIfPresent(Double.self, forKey: .trainAccuracy)
        validationLoss = try c.decodeIfPresent(Double.self, forKey: .validationLoss)
        validationAccuracy = try c.decodeIfPresent(Double.self, forKey: .validationAccuracy)
        validationMAE = try c.decodeIfPresent(Double.self, forKey: .validationMAE)
        learningRate = try req(.learningRate)
        seconds = try req(.seconds)
        samplesPerSecond = try req(.samplesPerSecond)
        metrics = try c.decodeIfPresent([String: Double?].self, forKey: .metrics)?.mapValues { $0 ?? .nan } ?? [:]
    }
}

/// The record of a training run, one entry per epoch; written as CSV or JSON.
public struct History: Codable, Equatable, Sendable {
    /// The epochs in order.
    public var epochs: [EpochRecord] = []
    /// An empty history.
    public init() {}

    /// The history as CSV with a header row (empty cells for absent metrics).
    ///
    /// A step's own metrics follow the standard columns, one column per name in sorted order.
    public func csv() -> String {
        let extra = Set(epochs.flatMap(\.metrics.keys)).sorted()
        var s = (["epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_mae,lr,seconds,samples_per_second"] + extra)
            .joined(separator: ",") + "\n"
        func f(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        for e in epochs {
            s += ([String(e.epoch), f(e.trainLoss), f(e.trainAccuracy), f(e.validationLoss), f(e.validationAccuracy),
                   f(e.validationMAE), f(e.learningRate), f(e.seconds), f(e.samplesPerSecond)] + extra.map { f(e.metrics[$0]) })
                .joined(separator: ",") + "\n"
        }
        return s
    }

    /// The history as a JSON array.
    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        // Non-finite metrics (a loss that became NaN) are written as null: see EpochRecord's
        // encode(to:). Encoding plain numbers and strings cannot fail otherwise.
        guard let data = try? enc.encode(epochs) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes CSV (for a `.csv` path) or JSON (otherwise), atomically.
    public func write(to path: String) throws {
        let text = path.hasSuffix(".csv") ? csv() : json()
        try atomicWrite(Data(text.utf8), to: path)
    }
}
