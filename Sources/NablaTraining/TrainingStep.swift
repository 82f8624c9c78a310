import NablaCore
import NablaNN
import NablaData

/// What a ``TrainingStep`` reports for one batch: its loss and any metrics.
///
/// The trainer averages every value over the epoch, weighting each batch by its number of
/// examples, and records the means in the ``History``.
public struct StepOutput {
    /// The batch's loss, a scalar tensor.
    ///
    /// For a step that ``TrainingStep/updatesItself`` it is only reported; otherwise the
    /// trainer runs `backward()` on it.
    public var loss: Tensor
    /// Examples of the batch classified correctly, when the step classifies (it becomes the
    /// epoch's accuracy).
    public var correct: Int?
    /// Other per-batch means to report, by name (`"kl"`, `"d_loss"`, …).
    ///
    /// An empty dictionary costs nothing; each name becomes a history column.
    public var metrics: [String: Double]

    /// A step's report.
    public init(loss: Tensor, correct: Int? = nil, metrics: [String: Double] = [:]) {
        self.loss = loss
        self.correct = correct
        self.metrics = metrics
    }
}

/// The work a ``Trainer`` does on each batch: a closure from a batch to its loss.
///
/// The trainer owns epochs, shuffling, progress, history, validation, checkpoints, NaN
/// stops and early stopping; the step owns the loss (Flux's `train!` loss function,
/// Lightning's `training_step`). There are two kinds:
///
/// - ``loss(_:validate:_:)``: the closure computes the loss; the trainer zeroes the
///   gradients, runs backward, clips and steps every optimizer. Classification and
///   regression (``supervised(_:loss:)``), a VAE's reconstruction + KL and a masked
///   sequence loss are steps of this kind.
/// - ``custom(_:validate:_:)``: the closure runs its own backward passes and optimizer
///   steps, and returns the loss for reporting. A GAN — two optimizers, the
///   discriminator's update before the generator's — is a step of this kind.
///
/// Validation runs ``validate`` on each validation batch in evaluation mode without a
/// graph; a loss step validates with its own closure unless given another.
public struct TrainingStep {
    /// The step's name, used in messages (a NaN stop names it).
    public var name: String
    /// Computes one training batch's loss (and, for a custom step, updates the weights).
    public let train: (Batch) throws -> StepOutput
    /// Computes one validation batch's loss (run in evaluation mode, without a graph); nil
    /// when the step cannot be validated.
    public let validate: ((Batch) throws -> StepOutput)?
    /// Whether ``train`` runs backward and the optimizer steps itself.
    public let updatesItself: Bool

    /// A step whose closure returns the loss; the trainer does backward and the updates.
    ///
    /// `validate` defaults to `compute` itself.
    public static func loss(_ name: String = "loss", validate: ((Batch) throws -> StepOutput)? = nil,
                            _ compute: @escaping (Batch) throws -> StepOutput) -> TrainingStep {
        TrainingStep(name: name, train: compute, validate: validate ?? compute, updatesItself: false)
    }

    /// A step that runs its own backward passes and optimizer steps, in the order it needs.
    ///
    /// It returns the loss to report. Without `validate`, the trainer refuses validation data.
    public static func custom(_ name: String, validate: ((Batch) throws -> StepOutput)? = nil,
                              _ body: @escaping (Batch) throws -> StepOutput) -> TrainingStep {
        TrainingStep(name: name, train: body, validate: validate, updatesItself: true)
    }

    /// Supervised learning: `loss(model(inputs), targets)`, with the accuracy for a
    /// classification loss and the mean absolute error (validation only) for regression.
    ///
    /// This is what ``Trainer/init(model:optimizer:loss:seed:)`` and `nabla train` use.
    public static func supervised(_ model: Module, loss: TrainingLoss) -> TrainingStep {
        let classifies = loss.isClassification
        return .loss(loss.rawValue, validate: { batch in
            let out = model(batch.inputs)
            let l = loss(out, batch.targets)
            if classifies { return StepOutput(loss: l, correct: Trainer.correctCount(out, batch.targets)) }
            let err = (TrainingLoss.matched(out, batch.targets) - batch.targets.to(out.dtype)).abs().mean().item()
            return StepOutput(loss: l, metrics: ["mae": err])
        }) { batch in
            let out = model(batch.inputs)
            let l = loss(out, batch.targets)
            return StepOutput(loss: l, correct: classifies ? Trainer.correctCount(out, batch.targets) : nil)
        }
    }
}

extension TrainingStep {
    /// Next-token prediction: `model` maps token indices `[B, T]` to logits `[B, T, V]`, the
    /// targets are the next tokens `[B, T]`, and the loss is the mean cross-entropy over every
    /// position (nats per token).
    ///
    /// It reports `bpc` (bits per token, the loss / ln 2) and `char_accuracy` (how often the
    /// most likely next token is the right one).
    public static func languageModel(_ model: Module) -> TrainingStep {
        .loss("language-model") { batch in
            let logits = model(batch.inputs)
            nablaCheck(logits.rank == 3 && logits.shape[0] == batch.targets.shape[0] && logits.shape[1] == batch.targets.shape[1],
                       "language model: the model's output \(logits.shape) is not [batch, steps, vocabulary] for targets \(batch.targets.shape)")
            let n = logits.shape[0] * logits.shape[1], v = logits.shape[2]
            let flat = logits.reshaped([n, v])
            let targets = batch.targets.reshaped([n])
            let loss = Loss.crossEntropy(logits: flat, classIndices: targets)
            let correct = (flat.detached().argmax(axis: 1) .== targets.to(.int64)).sum().to(.float64).item()
            return StepOutput(loss: loss, metrics: ["bpc": loss.item() / 0.6931471805599453, "char_accuracy": correct / Double(n)])
        }
    }
}

