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

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationLoss = "val_loss"
        case validationAccuracy = "val_accuracy", validationMAE = "val_mae", learningRate = "lr"
        case seconds, samplesPerSecond = "samples_per_second"
    }
}

/// The record of a training run, one entry per epoch; written as CSV or JSON.
public struct History: Codable, Equatable, Sendable {
    /// The epochs in order.
    public var epochs: [EpochRecord] = []
    /// An empty history.
    public init() {}

    /// The history as CSV with a header row (empty cells for absent metrics).
    public func csv() -> String {
        var s = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_mae,lr,seconds,samples_per_second\n"
        func f(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        for e in epochs {
            s += [String(e.epoch), f(e.trainLoss), f(e.trainAccuracy), f(e.validationLoss), f(e.validationAccuracy),
                  f(e.validationMAE), f(e.learningRate), f(e.seconds), f(e.samplesPerSecond)].joined(separator: ",") + "\n"
        }
        return s
    }

    /// The history as a JSON array.
    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(data: try! enc.encode(epochs), encoding: .utf8)!
    }

    /// Writes CSV (for a `.csv` path) or JSON (otherwise), atomically.
    public func write(to path: String) throws {
        let text = path.hasSuffix(".csv") ? csv() : json()
        try atomicWrite(Data(text.utf8), to: path)
    }
}
