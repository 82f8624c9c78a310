import Foundation
import NablaCore

// Learning-rate schedules. A schedule is a pure function from the epoch to the learning
// rate (the closed forms of PyTorch's `torch.optim.lr_scheduler` classes); an
// `LRScheduler` applies one to an optimizer, one `step()` per epoch, as in PyTorch.
// `ReduceLROnPlateau` depends on the metrics it sees, so it is a class of its own.
// Reference values in Tests/NablaNNTests/ScheduleTests.swift come from
// Scripts/reference_optim.py.

/// A learning rate as a function of the epoch: the closed form of a PyTorch scheduler.
///
/// Epoch 0 is the rate before the first ``LRScheduler/step()`` (what PyTorch sets when
/// the scheduler is created); epoch e is the rate after e calls of `step()`.
public protocol LearningRateSchedule: Sendable {
    /// The learning rate at `epoch` (≥ 0) for a base learning rate `baseLR`.
    func learningRate(epoch: Int, baseLR: Double) -> Double
}

/// Multiplies the rate by γ every `stepSize` epochs (PyTorch's `StepLR`).
///
/// The rate at epoch e is γ^⌊e / stepSize⌋ · base.
public struct StepLR: LearningRateSchedule {
    /// The period of the decay, in epochs.
    public let stepSize: Int
    /// The factor applied every period.
    public let gamma: Double

    /// Decay by `gamma` every `stepSize` epochs (PyTorch's default γ = 0.1).
    public init(stepSize: Int, gamma: Double = 0.1) {
        nablaCheck(stepSize > 0, "StepLR: stepSize must be positive, got \(stepSize)")
        self.stepSize = stepSize
        self.gamma = gamma
    }

    /// γ^⌊e / stepSize⌋ · base.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        baseLR * integerPower(gamma, epoch / stepSize)
    }
}

/// Multiplies the rate by γ at each milestone epoch (PyTorch's `MultiStepLR`).
///
/// The rate at epoch e is γ^(milestones ≤ e) · base; a milestone listed twice counts
/// twice, as in PyTorch.
public struct MultiStepLR: LearningRateSchedule {
    /// The epochs at which the rate decays, ascending.
    public let milestones: [Int]
    /// The factor applied at each milestone.
    public let gamma: Double

    /// Decay by `gamma` at each of `milestones` (PyTorch's default γ = 0.1).
    public init(milestones: [Int], gamma: Double = 0.1) {
        self.milestones = milestones.sorted()
        self.gamma = gamma
    }

    /// γ^(number of milestones ≤ e) · base.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        baseLR * integerPower(gamma, milestones.filter { $0 <= epoch }.count)
    }
}

/// Multiplies the rate by γ every epoch: γᵉ · base (PyTorch's `ExponentialLR`).
public struct ExponentialLR: LearningRateSchedule {
    /// The factor applied every epoch.
    public let gamma: Double

    /// Decay by `gamma` every epoch.
    public init(gamma: Double) { self.gamma = gamma }

    /// γᵉ · base.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        baseLR * integerPower(gamma, epoch)
    }
}

/// Cosine annealing from the base rate down to `etaMin` over `tMax` epochs.
///
/// The rate is η_min + (base − η_min)·(1 + cos(π·e/T_max))/2 (PyTorch's
/// `CosineAnnealingLR`, without restarts). Past `tMax` the cosine continues, so the rate
/// rises again, as PyTorch's does.
public struct CosineAnnealingLR: LearningRateSchedule {
    /// The half-period T_max, in epochs.
    public let tMax: Int
    /// The minimum rate η_min.
    public let etaMin: Double

    /// Anneal over `tMax` epochs down to `etaMin`.
    public init(tMax: Int, etaMin: Double = 0) {
        nablaCheck(tMax > 0, "CosineAnnealingLR: tMax must be positive, got \(tMax)")
        self.tMax = tMax
        self.etaMin = etaMin
    }

    /// η_min + (base − η_min)·(1 + cos(π·e/T_max))/2.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        etaMin + (baseLR - etaMin) * (1 + cos(Double.pi * Double(epoch) / Double(tMax))) / 2
    }
}

/// Scales the rate by a factor that moves linearly from `startFactor` to `endFactor`.
///
/// The factor moves over `totalIters` epochs and then stays at `endFactor` (PyTorch's
/// `LinearLR`).
public struct LinearLR: LearningRateSchedule {
    /// The factor at epoch 0.
    public let startFactor: Double
    /// The factor from epoch `totalIters` on.
    public let endFactor: Double
    /// The number of epochs of the ramp.
    public let totalIters: Int

    /// A linear ramp of the factor (PyTorch's defaults: 1/3 → 1 over 5 epochs).
    public init(startFactor: Double = 1.0 / 3, endFactor: Double = 1, totalIters: Int = 5) {
        nablaCheck(startFactor > 0 && startFactor <= 1 && endFactor >= 0 && endFactor <= 1,
                   "LinearLR: factors must satisfy 0 < startFactor ≤ 1 and 0 ≤ endFactor ≤ 1")
        nablaCheck(totalIters > 0, "LinearLR: totalIters must be positive, got \(totalIters)")
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIters = totalIters
    }

    /// base · (start + (end − start)·min(e, total)/total).
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        let t = Double(Swift.min(epoch, totalIters)) / Double(totalIters)
        return baseLR * (startFactor + (endFactor - startFactor) * t)
    }
}

/// Runs schedules one after another (PyTorch's `SequentialLR`).
///
/// Schedule k takes over at milestone k − 1 and sees epochs counted from that milestone.
public struct SequentialLR: LearningRateSchedule {
    /// The schedules, in order.
    public let schedules: [any LearningRateSchedule]
    /// The epochs at which the next schedule takes over (one fewer than schedules).
    public let milestones: [Int]

    /// `schedules[0]` until `milestones[0]`, then `schedules[1]` from its epoch 0, ….
    public init(_ schedules: [any LearningRateSchedule], milestones: [Int]) {
        nablaCheck(!schedules.isEmpty, "SequentialLR: needs at least one schedule")
        nablaCheck(milestones.count == schedules.count - 1,
                   "SequentialLR: \(schedules.count) schedules need \(schedules.count - 1) milestones, got \(milestones.count)")
        nablaCheck(zip(milestones, milestones.dropFirst()).allSatisfy { $0 < $1 } && (milestones.first ?? 1) > 0,
                   "SequentialLR: milestones must be positive and increasing, got \(milestones)")
        self.schedules = schedules
        self.milestones = milestones
    }

    /// The active schedule's rate at the epoch counted from its start.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        var k = 0, start = 0
        while k < milestones.count && epoch >= milestones[k] { start = milestones[k]; k += 1 }
        return schedules[k].learningRate(epoch: epoch - start, baseLR: baseLR)
    }
}

/// A linear warm-up from `startFactor`·base to base over `epochs` epochs, then another schedule.
///
/// The following schedule starts at its own epoch 0 when the warm-up ends.
///
/// The same as PyTorch's `SequentialLR([LinearLR(start_factor, total_iters=epochs),
/// then], milestones=[epochs])`.
public struct LinearWarmup: LearningRateSchedule {
    /// The number of warm-up epochs.
    public let epochs: Int
    /// The factor of the base rate at epoch 0.
    public let startFactor: Double
    /// The schedule that follows the warm-up (nil: constant base rate).
    public let then: (any LearningRateSchedule)?

    /// Warm up over `epochs` epochs from `startFactor`·base, then follow `then`.
    public init(epochs: Int, startFactor: Double = 0.1, then: (any LearningRateSchedule)? = nil) {
        nablaCheck(epochs > 0, "LinearWarmup: epochs must be positive, got \(epochs)")
        nablaCheck(startFactor > 0 && startFactor <= 1, "LinearWarmup: startFactor must be in (0, 1], got \(startFactor)")
        self.epochs = epochs
        self.startFactor = startFactor
        self.then = then
    }

    /// base·(start + (1 − start)·e/epochs) during the warm-up, then `then` at e − epochs.
    public func learningRate(epoch: Int, baseLR: Double) -> Double {
        if epoch < epochs {
            return baseLR * (startFactor + (1 - startFactor) * Double(epoch) / Double(epochs))
        }
        return then?.learningRate(epoch: epoch - epochs, baseLR: baseLR) ?? baseLR
    }
}

/// Applies a ``LearningRateSchedule`` to an optimizer, stepping once per epoch.
///
/// Call ``step()`` once per epoch, after the epoch's optimizer steps, as in PyTorch.
///
/// ```swift
/// let opt = SGD(model.parameters(), lr: 0.1)
/// let scheduler = LRScheduler(opt, CosineAnnealingLR(tMax: 10))
/// for _ in 0..<10 { train(); scheduler.step() }
/// ```
///
/// Creating the scheduler sets the optimizer's rate to the schedule's epoch-0 value; the
/// base rate is the optimizer's rate at that moment.
public final class LRScheduler {
    /// The optimizer whose learning rate is set.
    public let optimizer: Optimizer
    /// The schedule.
    public let schedule: any LearningRateSchedule
    /// The optimizer's learning rate when the scheduler was created.
    public let baseLearningRate: Double
    /// The number of ``step()`` calls so far (PyTorch's `last_epoch`).
    public private(set) var epoch = 0

    /// Attaches `schedule` to `optimizer` and sets the epoch-0 rate.
    public init(_ optimizer: Optimizer, _ schedule: any LearningRateSchedule) {
        self.optimizer = optimizer
        self.schedule = schedule
        self.baseLearningRate = optimizer.learningRate
        optimizer.learningRate = schedule.learningRate(epoch: 0, baseLR: baseLearningRate)
    }

    /// The learning rate currently set on the optimizer.
    public var learningRate: Double { optimizer.learningRate }

    /// Advances one epoch and sets the optimizer's rate.
    public func step() {
        epoch += 1
        optimizer.learningRate = schedule.learningRate(epoch: epoch, baseLR: baseLearningRate)
    }

    /// Jumps to `epoch` (for resuming from a checkpoint) and sets the optimizer's rate.
    public func setEpoch(_ epoch: Int) {
        nablaCheck(epoch >= 0, "LRScheduler.setEpoch: epoch must be non-negative, got \(epoch)")
        self.epoch = epoch
        optimizer.learningRate = schedule.learningRate(epoch: epoch, baseLR: baseLearningRate)
    }
}

/// Reduces the learning rate by `factor` when a metric has stopped improving.
///
/// It acts after more than `patience` epochs without improvement (PyTorch's
/// `ReduceLROnPlateau`, same rules and defaults).
///
/// A value improves on the best so far when, in `.min` mode, it is below
/// best·(1 − threshold) (`.relative`) or best − threshold (`.absolute`); in `.max` mode
/// above best·(1 + threshold) or best + threshold. After a reduction the counter of bad
/// epochs restarts and `cooldown` epochs pass before bad epochs count again. The rate
/// never drops below `minLR`, and a change smaller than `eps` is skipped.
public final class ReduceLROnPlateau {
    /// Whether lower (`.min`, e.g. a loss) or higher (`.max`, e.g. accuracy) is better.
    public enum Mode: String, Sendable { case min, max }
    /// Whether the threshold is relative to the best value or absolute.
    public enum ThresholdMode: String, Sendable { case relative = "rel", absolute = "abs" }

    /// The optimizer whose learning rate is reduced.
    public let optimizer: Optimizer
    /// Whether lower or higher metrics are better.
    public let mode: Mode
    /// The factor the rate is multiplied by.
    public let factor: Double
    /// The number of epochs without improvement tolerated.
    public let patience: Int
    /// The minimum significant change.
    public let threshold: Double
    /// How `threshold` is applied.
    public let thresholdMode: ThresholdMode
    /// Epochs to wait after a reduction before counting bad epochs again.
    public let cooldown: Int
    /// The lowest learning rate.
    public let minLR: Double
    /// Reductions smaller than this are skipped.
    public let eps: Double

    /// The best metric so far.
    public private(set) var best: Double
    /// Epochs since the last improvement.
    public private(set) var badEpochs = 0
    /// Epochs of cooldown left.
    public private(set) var cooldownCounter = 0
    /// The number of ``step(_:)`` calls so far.
    public private(set) var epoch = 0

    /// A plateau scheduler with PyTorch's defaults.
    public init(_ optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minLR: Double = 0, eps: Double = 1e-8) {
        nablaCheck(factor < 1 && factor >= 0, "ReduceLROnPlateau: factor must be in [0, 1), got \(factor)")
        nablaCheck(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be non-negative")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLR = minLR
        self.eps = eps
        self.best = mode == .min ? .infinity : -.infinity
    }

    /// The learning rate currently set on the optimizer.
    public var learningRate: Double { optimizer.learningRate }

    /// Whether `value` improves on the best so far by more than the threshold.
    public func isImprovement(_ value: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return value < best * (1 - threshold)
        case (.min, .absolute): return value < best - threshold
        case (.max, .relative): return value > best * (1 + threshold)
        case (.max, .absolute): return value > best + threshold
        }
    }

    /// Records one epoch's metric and reduces the rate if it has plateaued.
    public func step(_ metric: Double) {
        epoch += 1
        if isImprovement(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            let old = optimizer.learningRate
            let new = Swift.max(old * factor, minLR)
            if old - new > eps { optimizer.learningRate = new }
            cooldownCounter = cooldown
            badEpochs = 0
        }
    }

    /// The counters, as strings for a checkpoint's metadata.
    public func stateDict() -> [String: String] {
        ["best": "\(best)", "num_bad_epochs": "\(badEpochs)", "cooldown_counter": "\(cooldownCounter)", "last_epoch": "\(epoch)"]
    }

    /// Restores counters saved by ``stateDict()``; missing or malformed entries throw.
    public func load(_ state: [String: String]) throws {
        guard let b = state["best"].flatMap(Double.init), let n = state["num_bad_epochs"].flatMap(Int.init),
              let c = state["cooldown_counter"].flatMap(Int.init), let e = state["last_epoch"].flatMap(Int.init) else {
            throw OptimizerStateError(problems: ["ReduceLROnPlateau state needs best, num_bad_epochs, cooldown_counter and last_epoch, got \(state.keys.sorted())"])
        }
        best = b; badEpochs = n; cooldownCounter = c; epoch = e
    }
}
