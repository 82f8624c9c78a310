import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO

/// What a saved model needs besides its weights to be used on new data.
///
/// That is the task, the number of classes, the loss and the input preprocessing.
public struct ModelInfo: Sendable, Equatable {
    /// Classification or regression.
    public var task: TaskKind
    /// Number of classes (classification).
    public var classCount: Int?
    /// The loss it was trained with.
    public var loss: TrainingLoss
    /// The input transformation fitted on the training data.
    public var preprocessing: Preprocessing
    /// The data set it was trained on (`digits`, `fashion-mnist`, `csv:PATH`, …).
    public var dataName: String
    /// How the data were split when the model was trained.
    ///
    /// Evaluation and resumed training use it to draw the same test (and validation) examples.
    public var split: DataSplit

    /// Creates model info.
    public init(task: TaskKind, classCount: Int?, loss: TrainingLoss, preprocessing: Preprocessing, dataName: String,
                split: DataSplit = DataSplit()) {
        self.task = task; self.classCount = classCount; self.loss = loss; self.preprocessing = preprocessing
        self.dataName = dataName; self.split = split
    }
}

/// The settings that decide which examples a model was trained, validated and tested on.
public struct DataSplit: Sendable, Equatable {
    /// The seed of the train/test and train/validation splits.
    public var seed: UInt64
    /// The fraction held out for testing (data sets without their own test split).
    public var testFraction: Double
    /// The fraction of the training split held out for validation.
    public var validationFraction: Double
    /// The CSV target column, when the data came from a CSV file.
    public var target: String?

    /// A split description (the CLI's defaults when no values are given).
    public init(seed: UInt64 = 0, testFraction: Double = 0.2, validationFraction: Double = 0.1, target: String? = nil) {
        self.seed = seed; self.testFraction = testFraction; self.validationFraction = validationFraction; self.target = target
    }
}

/// Training checkpoints, from which a resumed run continues exactly as an uninterrupted one.
///
/// A checkpoint is one safetensors file with the model's weights and architecture, the
/// optimizer's state, the epoch, the random generators' states and the history.
///
/// A checkpoint is also a complete model file for `nabla evaluate` and `nabla predict`.
public enum Checkpoint {
    /// Writes a checkpoint of `trainer` atomically.
    public static func save(_ trainer: Trainer, spec: ModelSpec, info: ModelInfo, to path: String) throws {
        var meta: [String: String] = [
            "nabla.epoch": String(trainer.completedEpochs),
            "nabla.step": String(trainer.step),
            "nabla.rng.shuffle": trainer.shuffleGenerator.state.map(String.init).joined(separator: ","),
            "nabla.rng.global": RandomGenerator.global.state.map(String.init).joined(separator: ","),
            "nabla.history": trainer.history.json(),
            "nabla.task": info.task.rawValue,
            "nabla.loss": info.loss.rawValue,
            "nabla.preprocessing": info.preprocessing.json(),
            "nabla.data": info.dataName,
            "nabla.optimizer": trainer.optimizer.name,
        ]
        if let c = info.classCount { meta["nabla.classes"] = String(c) }
        meta["nabla.split.seed"] = String(info.split.seed)
        meta["nabla.split.test_fraction"] = "\(info.split.testFraction)"
        meta["nabla.split.validation_fraction"] = "\(info.split.validationFraction)"
        if let t = info.split.target { meta["nabla.split.target"] = t }
        // Dropout layers with their own generator (as ModelSpec.build makes them) draw their
        // masks from it: its state is part of where training stands.
        for (name, module) in trainer.model.namedModules() {
            if let d = module as? Dropout, let g = d.generator {
                meta["nabla.rng.dropout." + name] = g.state.map(String.init).joined(separator: ",")
            }
        }
        let state = trainer.optimizer.stateDict()
        for (k, v) in state.metadata { meta["optimizer." + k] = v }
        var extra: [String: Tensor] = [:]
        for (k, v) in state.tensors { extra["optimizer." + k] = v }
        try ModelFile.save(trainer.model, spec: spec, to: path, metadata: meta, extraTensors: extra)
    }

    /// Reads the model info stored in a model file's metadata.
    public static func info(from contents: ModelFile.Contents, path: String) throws -> ModelInfo {
        let m = contents.metadata
        func bad(_ what: String) -> ModelSpecError { ModelSpecError(message: "\(path): metadata '\(what)' is missing or invalid") }
        guard let task = m["nabla.task"].flatMap(TaskKind.init(rawValue:)) else { throw bad("nabla.task") }
        guard let loss = m["nabla.loss"].flatMap(TrainingLoss.init(rawValue:)) else { throw bad("nabla.loss") }
        let pre = try m["nabla.preprocessing"].map { s -> Preprocessing in
            do { return try Preprocessing.parse(s) } catch { throw bad("nabla.preprocessing") }
        } ?? Preprocessing.none
        if let n = pre.featureCount, n != contents.spec.input.reduce(1, *) {
            throw ModelSpecError(message: "\(path): metadata 'nabla.preprocessing' has \(n) features but the architecture takes \(contents.spec.input.reduce(1, *))")
        }
        var split = DataSplit()
        if let s = m["nabla.split.seed"] { guard let v = UInt64(s) else { throw bad("nabla.split.seed") }; split.seed = v }
        if let s = m["nabla.split.test_fraction"] { guard let v = Double(s) else { throw bad("nabla.split.test_fraction") }; split.testFraction = v }
        if let s = m["nabla.split.validation_fraction"] {
            guard let v = Double(s) else { throw bad("nabla.split.validation_fraction") }
            split.validationFraction = v
        }
        split.target = m["nabla.split.target"]
        return ModelInfo(task: task, classCount: m["nabla.classes"].flatMap(Int.init), loss: loss,
                         preprocessing: pre, dataName: m["nabla.data"] ?? "", split: split)
    }

    /// Restores a checkpoint's optimizer state, epoch, generators and history into `trainer`.
    ///
    /// `trainer` must be built on the checkpoint's model.
    public static func restore(_ trainer: Trainer, from contents: ModelFile.Contents, path: String) throws {
        let m = contents.metadata
        func words(_ key: String) throws -> [UInt64] {
            guard let s = m[key] else { throw ModelSpecError(message: "\(path): checkpoint has no '\(key)'") }
            let w = s.split(separator: ",").compactMap { UInt64($0) }
            guard w.count == 4 || w.count == 6 else { throw ModelSpecError(message: "\(path): '\(key)' is not a generator state") }
            return w
        }
        guard let epoch = m["nabla.epoch"].flatMap(Int.init) else {
            throw ModelSpecError(message: "\(path): not a checkpoint (no 'nabla.epoch'); it can be evaluated but not resumed")
        }
        if let name = m["nabla.optimizer"], name != trainer.optimizer.name {
            throw ModelSpecError(message: "\(path): checkpoint was written by \(name), cannot resume with \(trainer.optimizer.name)")
        }
        var state = OptimizerState()
        for (k, v) in m where k.hasPrefix("optimizer.") { state.metadata[String(k.dropFirst("optimizer.".count))] = v }
        for (k, v) in contents.extraTensors where k.hasPrefix("optimizer.") { state.tensors[String(k.dropFirst("optimizer.".count))] = v }
        do { try trainer.optimizer.load(state) } catch {
            throw ModelSpecError(message: "\(path): \(String(describing: error).replacingOccurrences(of: "\n", with: "; "))")
        }
        trainer.shuffleGenerator.state = try words("nabla.rng.shuffle")
        RandomGenerator.global.state = try words("nabla.rng.global")
        for (name, module) in trainer.model.namedModules() {
            if let d = module as? Dropout, let g = d.generator, m["nabla.rng.dropout." + name] != nil {
                g.state = try words("nabla.rng.dropout." + name)
            }
        }
        trainer.completedEpochs = epoch
        if let s = m["nabla.step"].flatMap(Int.init) { trainer.step = s }
        if let h = m["nabla.history"] {
            guard let recs = try? JSONDecoder().decode([EpochRecord].self, from: Data(h.utf8)) else {
                throw ModelSpecError(message: "\(path): metadata 'nabla.history' is not a valid training history")
            }
            trainer.history.epochs = recs
            trainer.bestValidationLoss = recs.compactMap(\.validationLoss).min() ?? .infinity
        }
        trainer.scheduler?.setEpoch(epoch)
    }
}
