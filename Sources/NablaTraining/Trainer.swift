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
    /// Any other metrics a ``TrainingStep`` reported, averaged over the examples.
    public var extra: [String: Double] = [:]
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
/// The loss is a ``TrainingStep``, a closure from a batch to its loss: the trainer owns the
/// epochs, shuffling, progress bar, history, validation, LR schedules, gradient clipping,
/// NaN stop, early stopping, best weights and checkpoint hooks, for any ``Dataset``.
/// ``init(model:optimizer:loss:seed:)`` is the classic classification/regression case
/// (``TrainingStep/supervised(_:loss:)``). Read ``fit(_:validation:epochs:batchSize:)``
/// for the loop itself.
public final class Trainer {
    /// The model being trained (for a GAN, a module holding both networks): its mode is
    /// switched for validation, and checkpoints hold its state.
    public let model: Module
    /// Every optimizer, in a fixed order (checkpoints store each one's state).
    ///
    /// For a loss step the trainer zeroes, and after backward steps, all of them; a custom
    /// step uses them itself.
    public let optimizers: [Optimizer]
    /// The first optimizer (the only one of a supervised trainer).
    public var optimizer: Optimizer { optimizers[0] }
    /// What is done with each batch.
    public let trainingStep: TrainingStep
    /// The loss when the trainer was made from one (``init(model:optimizer:loss:seed:)``).
    public let loss: TrainingLoss?
    /// Stepped once per epoch when set.
    public var scheduler: LRScheduler?
    /// Stepped once per epoch with the validation loss when set (needs validation data).
    public var plateauScheduler: ReduceLROnPlateau?
    /// Clip the global gradient norm to this value when set (loss steps only: a custom step
    /// clips its own gradients).
    public var clipNorm: Double?
    /// Stop after this many epochs without validation improvement (needs validation data).
    public var earlyStoppingPatience: Int?
    /// Progress output.
    public var progress = ProgressReporter()
    /// The generator that shuffles the training data each epoch.
    public let shuffleGenerator: RandomGenerator
    /// Generators that the step uses and the model does not hold (a VAE's or a GAN's noise),
    /// by name: checkpoints save and restore them with the others.
    ///
    /// Generators stored in the model's modules are found on their own.
    public var generators: [String: RandomGenerator] = [:]
    /// Epochs completed so far (a resumed run starts from its checkpoint's value).
    public var completedEpochs = 0
    /// Every completed epoch's metrics.
    public var history = History()
    /// The weights with the best validation loss seen so far.
    ///
    /// Kept only when ``keepsBestState`` is set (a copy of every weight at each improvement);
    /// checkpoints hold it.
    public internal(set) var bestState: [String: Tensor]?
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

    /// A trainer running `step` on `model` with `optimizers`; `seed` fixes the shuffling.
    public init(model: Module, optimizers: [Optimizer], step: TrainingStep, seed: UInt64 = 0) {
        nablaCheck(!optimizers.isEmpty, "Trainer: needs at least one optimizer")
        self.model = model
        self.optimizers = optimizers
        self.trainingStep = step
        self.loss = nil
        self.shuffleGenerator = RandomGenerator(seed: seed &+ 0x5EED)
    }

    /// A trainer running `step` on `model` with one optimizer; `seed` fixes the shuffling.
    public convenience init(model: Module, optimizer: Optimizer, step: TrainingStep, seed: UInt64 = 0) {
        self.init(model: model, optimizers: [optimizer], step: step, seed: seed)
    }

    /// A trainer for `model` with `optimizer` and `loss` (``TrainingStep/supervised(_:loss:)``);
    /// `seed` fixes the shuffling.
    public init(model: Module, optimizer: Optimizer, loss: TrainingLoss, seed: UInt64 = 0) {
        self.model = model
        self.optimizers = [optimizer]
        self.trainingStep = .supervised(model, loss: loss)
        self.loss = loss
        self.shuffleGenerator = RandomGenerator(seed: seed &+ 0x5EED)
    }

    /// Trains until `epochs` epochs have been completed in total, validating after each epoch.
    ///
    /// The count is a total, so a resumed trainer continues where it stopped. Returns the
    /// history.
    @discardableResult
    public func fit<D: Dataset>(_ train: D, validation: (any Dataset)? = nil, epochs: Int, batchSize: Int) throws -> History {
        nablaCheck(epochs >= 0 && batchSize > 0, "fit: epochs must be ≥ 0 and batch size > 0, got \(epochs) and \(batchSize)")
        nablaCheck(validation == nil || trainingStep.validate != nil,
                   "fit: step '\(trainingStep.name)' has no validation closure, so it cannot use validation data (pass validate: to TrainingStep.custom)")
        // Batch normalisation cannot normalise a batch of one example per channel (PyTorch
        // raises there): a trailing batch of one is dropped when the model has such a layer.
        let hasBatchNorm = model.namedModules().contains { $0.module is BatchNormBase }
        let loader = DataLoader(train, batchSize: batchSize, shuffle: true,
                                dropLast: hasBatchNorm && batchSize > 1 && train.count % batchSize == 1, generator: shuffleGenerator)
        let run = trainingStep.train, updatesItself = trainingStep.updatesItself
        while completedEpochs < epochs {
            let epoch = completedEpochs + 1
            model.train()
            let lr = optimizer.learningRate
            let start = Date()
            var lossSum = 0.0, correct = 0, classifies = false, seen = 0, batchIndex = 0
            var metricSums: [String: Double] = [:]
            for batch in loader {
                if let stop = shouldStop, stop() {
                    throw TrainingInterrupted(epoch: epoch, completedEpochs: completedEpochs, step: step)
                }
                batchIndex += 1
                step += 1
                let out: StepOutput
                let value: Double
                if updatesItself {
                    out = try run(batch)
                    value = out.loss.item()
                    guard value.isFinite else { throw nonFiniteError(value, epoch: epoch, batch: batchIndex, inputs: batch.inputs) }
                } else {
                    for o in optimizers { o.zeroGrad() }
                    out = try run(batch)
                    value = out.loss.item()
                    guard value.isFinite else { throw nonFiniteError(value, epoch: epoch, batch: batchIndex, inputs: batch.inputs) }
                    out.loss.backward()
                    if let c = clipNorm {
                        _ = clipGradNorm(optimizers.count == 1 ? optimizer.parameters : optimizers.flatMap(\.parameters), maxNorm: c)
                    }
                    for o in optimizers { o.step() }
                }
                let n = Double(batch.count)
                lossSum += value * n
                seen += batch.count
                if let c = out.correct { correct += c; classifies = true }
                if !out.metrics.isEmpty {
                    for (k, v) in out.metrics {
                        guard v.isFinite else { throw nonFiniteError(v, metric: k, epoch: epoch, batch: batchIndex) }
                        metricSums[k, default: 0] += v * n
                    }
                }
                let elapsed = Date().timeIntervalSince(start)
                progress.batch(epoch: epoch, epochs: epochs, batch: batchIndex, batches: loader.count,
                               samplesPerSecond: Double(seen) / Swift.max(elapsed, 1e-9), loss: lossSum / Double(seen),
                               eta: elapsed / Double(batchIndex) * Double(loader.count - batchIndex))
            }
            let seconds = Date().timeIntervalSince(start)
            let examples = Double(Swift.max(seen, 1))
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / examples,
                                     trainAccuracy: classifies ? Double(correct) / examples : nil,
                                     learningRate: lr, seconds: seconds, samplesPerSecond: Double(seen) / Swift.max(seconds, 1e-9))
            record.metrics = metricSums.mapValues { $0 / examples }
            if let validation {
                let m = try evaluate(validation)
                record.validationLoss = m.loss
                record.validationAccuracy = m.accuracy
                record.validationMAE = m.mae
                for (k, v) in m.extra { record.metrics["val_" + k] = v }
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

    /// The mean loss and metrics of the step's validation closure on `data`, in evaluation
    /// mode, without a graph.
    ///
    /// A supervised trainer reports the accuracy (classification) or the mean absolute error
    /// (regression); other steps' metrics are in ``Metrics/extra``.
    public func evaluate<D: Dataset>(_ data: D, batchSize: Int = 1024) throws -> Metrics {
        guard let validate = trainingStep.validate else {
            nablaFail("evaluate: step '\(trainingStep.name)' has no validation closure (pass validate: to TrainingStep.custom)")
        }
        return try Trainer.evaluate(model, data, batchSize: batchSize, validate)
    }

    /// Loss and accuracy / MAE of any model on `data` (evaluation mode, no graph).
    public static func evaluate<D: Dataset>(_ model: Module, _ data: D, loss: TrainingLoss, batchSize: Int = 1024) -> Metrics {
        // The supervised step's closures do not throw.
        (try? evaluate(model, data, batchSize: batchSize, TrainingStep.supervised(model, loss: loss).validate!))
            ?? Metrics(loss: .nan, accuracy: nil, mae: nil, count: data.count)
    }

    /// Runs `validate` over `data` in evaluation mode without a graph and averages its reports.
    public static func evaluate<D: Dataset>(_ model: Module, _ data: D, batchSize: Int,
                                     _ validate: (Batch) throws -> StepOutput) throws -> Metrics {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return try withoutGrad {
            var lossSum = 0.0, correct = 0, classifies = false
            var sums: [String: Double] = [:]
            for batch in DataLoader(data, batchSize: batchSize) {
                let out = try validate(batch)
                let n = Double(batch.count)
                lossSum += out.loss.item() * n
                if let c = out.correct { correct += c; classifies = true }
                for (k, v) in out.metrics { sums[k, default: 0] += v * n }
            }
            let n = Double(Swift.max(data.count, 1))
            var m = Metrics(loss: lossSum / n, accuracy: classifies ? Double(correct) / n : nil, mae: nil, count: data.count)
            m.mae = sums.removeValue(forKey: "mae").map { $0 / n }
            m.extra = sums.mapValues { $0 / n }
            return m
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

    /// The NaN/inf error for a metric a step reported.
    func nonFiniteError(_ value: Double, metric: String, epoch: Int, batch: Int) -> TrainingError {
        TrainingError(message: "training stopped: metric '\(metric)' of step '\(trainingStep.name)' became \(value) at epoch \(epoch), step \(step) (batch \(batch))")
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
        return TrainingError(message: "training stopped: the loss of step '\(trainingStep.name)' became \(value) at epoch \(epoch), step \(step) (batch \(batch))\(where_)")
    }
}
