import Foundation
import NablaCore
import NablaNN
import NablaData

/// The loss a ``Trainer`` minimises, chosen by name (as the CLI's `--loss`).
public enum TrainingLoss: String, CaseIterable, Sendable {
    /// Softmax cross-entropy on logits against class indices.
    case crossEntropy = "cross-entropy"
    /// Mean squared error.
    case mse
    /// Mean absolute error.
    case l1
    /// Huber loss with δ = 1.
    case huber
    /// Binary cross-entropy on a single logit per example (targets 0/1).
    case bceLogits = "bce-logits"

    /// The loss of a batch's outputs against its targets.
    public func callAsFunction(_ output: Tensor, _ targets: Tensor) -> Tensor {
        switch self {
        case .crossEntropy: return Loss.crossEntropy(logits: output, classIndices: targets)
        case .mse: return Loss.mse(TrainingLoss.matched(output, targets), targets.to(output.dtype))
        case .l1: return Loss.l1(TrainingLoss.matched(output, targets), targets.to(output.dtype))
        case .huber: return Loss.huber(TrainingLoss.matched(output, targets), targets.to(output.dtype))
        case .bceLogits: return Loss.binaryCrossEntropy(logits: TrainingLoss.matched(output, targets), targets.to(output.dtype))
        }
    }

    /// `[n, 1]` outputs against `[n]` targets are compared as `[n]`.
    static func matched(_ output: Tensor, _ targets: Tensor) -> Tensor {
        if output.rank == 2 && output.shape[1] == 1 && targets.rank == 1 { return output.reshaped([output.shape[0]]) }
        return output
    }

    /// Whether the loss treats targets as classes.
    public var isClassification: Bool { self == .crossEntropy || self == .bceLogits }
}

/// Loss and quality of a model on a data set.
public struct Metrics: Codable, Sendable, Equatable {
    /// Mean loss.
    public var loss: Double
    /// Fraction classified correctly (classification).
    public var accuracy: Double?
    /// Mean absolute error (regression).
    public var mae: Double?
    /// The number of examples.
    public var count: Int
}

/// Training stopped because ``Trainer/shouldStop`` asked it to (Ctrl-C, SIGTERM, a time limit).
///
/// The model holds the weights after the last completed step; the epoch in progress is
/// abandoned, so a checkpoint from the end of the previous epoch resumes exactly.
public struct TrainingInterrupted: Error, CustomStringConvertible, Sendable {
    /// The epoch that was in progress (1-based).
    public let epoch: Int
    /// Epochs completed before the interruption.
    public let completedEpochs: Int
    /// Steps (batches) completed in total.
    public let step: Int
    /// A one-line description.
    public var description: String { "training interrupted in epoch \(epoch) after step \(step) (\(completedEpochs) epochs complete)" }
}

/// Thrown when training cannot go on: the loss became NaN or infinite.
public struct TrainingError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// What happened, where (epoch, step, layer).
    public let message: String
    /// A one-line description of the error.
    public var description: String { message }
    /// A one-line description of the error (the same as ``description``).
    public var errorDescription: String? { message }
}

/// A thin training loop over epochs of minibatches, as a user would write it by hand.
///
/// Each step computes the loss, runs backward and steps the optimizer; there is an optional
/// LR schedule, metrics, validation each epoch, early stopping and keeping the best weights.
/// Read ``fit(_:validation:epochs:batchSize:)`` for the loop itself.
public final class Trainer {
    /// The model being trained.
    public let model: Module
    /// The optimizer over the model's parameters.
    public let optimizer: Optimizer
    /// The loss minimised.
    public var loss: TrainingLoss
    /// Stepped once per epoch when set.
    public var scheduler: LRScheduler?
    /// Stepped once per epoch with the validation loss when set (needs validation data).
    public var plateauScheduler: ReduceLROnPlateau?
    /// Clip the global gradient norm to this value when set.
    public var clipNorm: Double?
    /// Stop after this many epochs without validation improvement (needs validation data).
    public var earlyStoppingPatience: Int?
    /// Progress output.
    public var progress = ProgressReporter()
    /// The generator that shuffles the training data each epoch.
    public let shuffleGenerator: RandomGenerator
    /// Epochs completed so far (a resumed run starts from its checkpoint's value).
    public var completedEpochs = 0
    /// Every completed epoch's metrics.
    public var history = History()
    /// The weights with the best validation loss seen so far.
    ///
    /// Kept only when ``keepsBestState`` is set (a copy of every weight at each improvement);
    /// the CLI writes the best checkpoint to a file instead (`NAME.best.safetensors`).
    public private(set) var bestState: [String: Tensor]?
    /// Whether to keep a copy of the weights with the best validation loss in ``bestState``
    /// (Keras' `restore_best_weights`; off by default, as it costs a copy per improvement).
    public var keepsBestState = false
    /// The best validation loss seen so far.
    public internal(set) var bestValidationLoss = Double.infinity
    /// Validated epochs since the best validation loss (what early stopping counts).
    public internal(set) var epochsSinceBest = 0
    /// The history files beside the checkpoints written, and how many records each holds
    /// (so the next save appends instead of rewriting).
    var historySidecars: [String: Int] = [:]
    /// Global step counter (batches seen), used in error messages.
    public internal(set) var step = 0
    /// Asked before every step; returning true stops training with ``TrainingInterrupted``
    /// (the CLI answers Ctrl-C and SIGTERM this way, so no save is cut in half).
    public var shouldStop: (() -> Bool)?
    /// Called after every epoch (e.g. to write a checkpoint).
    public var onEpochEnd: ((Trainer, EpochRecord) throws -> Void)?

    /// A trainer for `model` with `optimizer` and `loss`; `seed` fixes the shuffling.
    public init(model: Module, optimizer: Optimizer, loss: TrainingLoss, seed: UInt64 = 0) {
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.shuffleGenerator = RandomGenerator(seed: seed &+ 0x5EED)
    }

    /// Trains until `epochs` epochs have been completed in total, validating after each epoch.
    ///
    /// The count is a total, so a resumed trainer continues where it stopped. Returns the
    /// history.
    @discardableResult
    public func fit(_ train: TensorDataset, validation: TensorDataset? = nil, epochs: Int, batchSize: Int) throws -> History {
        nablaCheck(epochs >= 0 && batchSize > 0, "fit: epochs must be ≥ 0 and batch size > 0, got \(epochs) and \(batchSize)")
        let loader = DataLoader(train, batchSize: batchSize, shuffle: true, generator: shuffleGenerator)
        while completedEpochs < epochs {
            let epoch = completedEpochs + 1
            model.train()
            let lr = optimizer.learningRate
            let start = Date()
            var lossSum = 0.0, correct = 0, seen = 0, batchIndex = 0
            for batch in loader {
                if let stop = shouldStop, stop() {
                    throw TrainingInterrupted(epoch: epoch, completedEpochs: completedEpochs, step: step)
                }
                batchIndex += 1
                step += 1
                optimizer.zeroGrad()
                let output = model(batch.inputs)
                let l = loss(output, batch.targets)
                let value = l.item()
                guard value.isFinite else { throw nonFiniteError(value, epoch: epoch, batch: batchIndex, inputs: batch.inputs) }
                l.backward()
                if let c = clipNorm { _ = clipGradNorm(optimizer.parameters, maxNorm: c) }
                optimizer.step()
                lossSum += value * Double(batch.count)
                seen += batch.count
                if loss.isClassification { correct += Trainer.correctCount(output, batch.targets) }
                let elapsed = Date().timeIntervalSince(start)
                progress.batch(epoch: epoch, epochs: epochs, batch: batchIndex, batches: loader.count,
                               samplesPerSecond: Double(seen) / Swift.max(elapsed, 1e-9), loss: lossSum / Double(seen),
                               eta: elapsed / Double(batchIndex) * Double(loader.count - batchIndex))
            }
            let seconds = Date().timeIntervalSince(start)
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(Swift.max(seen, 1)),
                                     trainAccuracy: loss.isClassification ? Double(correct) / Double(Swift.max(seen, 1)) : nil,
                                     learningRate: lr, seconds: seconds, samplesPerSecond: Double(seen) / Swift.max(seconds, 1e-9))
            if let validation {
                let m = evaluate(validation)
                record.validationLoss = m.loss
                record.validationAccuracy = m.accuracy
                record.validationMAE = m.mae
                if m.loss < bestValidationLoss {
                    bestValidationLoss = m.loss
                    if keepsBestState { bestState = model.stateDict().mapValues { $0.clone().detached() } }
                    epochsSinceBest = 0
                } else {
                    epochsSinceBest += 1
                }
            }
            scheduler?.step()
            if let v = record.validationLoss { plateauScheduler?.step(v) }
            completedEpochs = epoch
            history.epochs.append(record)
            progress.epochEnd(record, epochs: epochs)
            try onEpochEnd?(self, record)
            if let patience = earlyStoppingPatience, validation != nil, epochsSinceBest >= patience {
                progress.message("early stopping: no validation improvement for \(patience) epochs")
                break
            }
        }
        return history
    }

    /// Loss and accuracy / MAE of the model on `data`, in evaluation mode, without a graph.
    public func evaluate(_ data: TensorDataset, batchSize: Int = 1024) -> Metrics {
        Trainer.evaluate(model, data, loss: loss, batchSize: batchSize)
    }

    /// Loss and accuracy / MAE of any model on `data` (evaluation mode, no graph).
    public static func evaluate(_ model: Module, _ data: TensorDataset, loss: TrainingLoss, batchSize: Int = 1024) -> Metrics {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return withoutGrad {
            var lossSum = 0.0, correct = 0, absErr = 0.0
            for batch in DataLoader(data, batchSize: batchSize) {
                let out = model(batch.inputs)
                lossSum += loss(out, batch.targets).item() * Double(batch.count)
                if loss.isClassification {
                    correct += correctCount(out, batch.targets)
                } else {
                    absErr += (TrainingLoss.matched(out, batch.targets) - batch.targets.to(out.dtype)).abs().sum().item()
                }
            }
            let n = Double(Swift.max(data.count, 1))
            return Metrics(loss: lossSum / n, accuracy: loss.isClassification ? Double(correct) / n : nil,
                           mae: loss.isClassification ? nil : absErr / Double(Swift.max(data.targets.count, 1)), count: data.count)
        }
    }

    /// The predicted class per row: argmax of logits, or logit > 0 for a single output.
    public static func predictedClasses(_ output: Tensor) -> [Int] {
        if output.rank == 1 || output.shape.last == 1 {
            return output.reshaped([-1]).doubles.map { $0 > 0 ? 1 : 0 }
        }
        return output.argmax(axis: -1).integerValues(op: "predictedClasses")
    }

    static func correctCount(_ output: Tensor, _ targets: Tensor) -> Int {
        let p = predictedClasses(output.detached())
        let t = targets.doubles
        var c = 0
        for i in 0..<Swift.min(p.count, t.count) where Double(p[i]) == t[i] { c += 1 }
        return c
    }

    /// Builds the NaN/inf error, locating the first layer whose output is not finite.
    func nonFiniteError(_ value: Double, epoch: Int, batch: Int, inputs: Tensor) -> TrainingError {
        var where_ = ""
        if let seq = model as? Sequential {
            _ = seq.namedModules()
            var x = inputs
            withoutGrad {
                for (i, layer) in seq.layers.enumerated() {
                    x = layer(x)
                    if x.doubles.contains(where: { !$0.isFinite }) {
                        where_ = "; the first non-finite output is from layer \(i) ('\(layer.path)', \(layer.typeName))"
                        return
                    }
                }
                if where_.isEmpty { where_ = "; every layer's output is finite, so the loss itself overflowed (check the targets and the loss)" }
            }
        }
        if let bad = model.namedParameters().first(where: { $0.tensor.doubles.contains { !$0.isFinite } }) {
            where_ += "; parameter '\(bad.name)' holds non-finite values (try a lower learning rate)"
        }
        return TrainingError(message: "training stopped: loss became \(value) at epoch \(epoch), step \(step) (batch \(batch))\(where_)")
    }
}
