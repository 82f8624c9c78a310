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
    /// The input features' names (a CSV file's columns), when the data had them.
    public var featureNames: [String]?
    /// The target column's name, when the data had one.
    public var targetName: String?

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
/// optimizer's state, the epoch, the random generators' states and what early stopping
/// needs (the best validation loss and the epochs since it). The per-epoch history lives
/// beside it in `NAME.history.jsonl`, one JSON line per epoch, appended at each save: inside
/// the checkpoint it made every save cost more than the last (5,000 epochs of xor took
/// 295 s with saves instead of 4.2 s). Restoring reads the lines up to the checkpoint's
/// epoch and ignores a line cut short by a kill.
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
            "nabla.best_val_loss": "\(trainer.bestValidationLoss)",
            "nabla.epochs_since_best": String(trainer.epochsSinceBest),
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
        if let names = info.featureNames, let data = try? JSONEncoder().encode(names) {
            meta["nabla.features"] = String(decoding: data, as: UTF8.self)
        }
        if let t = info.targetName { meta["nabla.target_name"] = t }
        // Dropout layers with their own generator (as ModelSpec.build makes them) draw their
        // masks from it: its state is part of where training stands.
        for (name, module) in trainer.model.namedModules() {
            if let d = module as? Dropout, let g = d.generator {
                meta["nabla.rng.dropout." + name] = g.state.map(String.init).joined(separator: ",")
            }
        }
        // ReduceLROnPlateau's counters: with them a resumed run reduces the rate at the same
        // epoch as an uninterrupted one (the rate itself is in the optimizer's state).
        if let plateau = trainer.plateauScheduler {
            for (k, v) in plateau.stateDict() { meta["nabla.plateau." + k] = v }
        }
        let state = trainer.optimizer.stateDict()
        for (k, v) in state.metadata { meta["optimizer." + k] = v }
        var extra: [String: Tensor] = [:]
        for (k, v) in state.tensors { extra["optimizer." + k] = v }
        // The history first: a kill between the two leaves lines beyond the checkpoint's
        // epoch, which restore ignores, never a checkpoint whose history is missing epochs.
        try writeHistory(of: trainer, beside: path)
        try ModelFile.save(trainer.model, spec: spec, to: path, metadata: meta, extraTensors: extra)
    }

    /// The history file that goes with a checkpoint: `NAME.history.jsonl` for `NAME.safetensors`.
    public static func historyPath(for checkpoint: String) -> String {
        (checkpoint.hasSuffix(".safetensors") ? String(checkpoint.dropLast(12)) : checkpoint) + ".history.jsonl"
    }

    /// Brings the history file beside `path` up to date: appends the records it lacks, or
    /// rewrites it (atomically) the first time this trainer saves there.
    static func writeHistory(of trainer: Trainer, beside path: String) throws {
        let file = historyPath(for: path)
        let records = trainer.history.epochs
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        func line(_ r: EpochRecord) -> String {
            // EpochRecord encodes non-finite numbers as null, so encoding cannot fail.
            return ((try? enc.encode(r)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
        }
        if let count = trainer.historySidecars[file], count <= records.count,
           let handle = FileHandle(forWritingAtPath: file) {
            defer { try? handle.close() }
            do {
                _ = try handle.seekToEnd()
                try handle.write(contentsOf: Data(records[count...].map(line).joined().utf8))
                // On disk before the checkpoint that follows is (that one is fsynced too).
                try handle.synchronize()
            } catch {
                throw FileWriteError(path: file, message: "cannot append to the history: \(error.localizedDescription)")
            }
        } else {
            try atomicWrite(Data(records.map(line).joined().utf8), to: file)
        }
        trainer.historySidecars[file] = records.count
    }

    /// The records of the history file beside `path` up to `epoch` (later ones belong to a
    /// save that a kill interrupted); unreadable lines are skipped. Nil when there is no file.
    static func readHistory(beside path: String, upTo epoch: Int) -> [EpochRecord]? {
        guard let data = FileManager.default.contents(atPath: historyPath(for: path)) else { return nil }
        var byEpoch: [Int: EpochRecord] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let r = try? JSONDecoder().decode(EpochRecord.self, from: Data(line)), r.epoch >= 1, r.epoch <= epoch else { continue }
            byEpoch[r.epoch] = r
        }
        return byEpoch.keys.sorted().map { byEpoch[$0]! }
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
        // Every field is checked: a model file is input, and a wrong value here would
        // otherwise surface later as a wrong result or a trap.
        func invalid(_ key: String, _ value: String, _ rule: String) -> ModelSpecError {
            ModelSpecError(message: "\(path): metadata '\(key)' is '\(value.prefix(40))\(value.count > 40 ? "…" : "")', but \(rule)")
        }
        var split = DataSplit()
        if let s = m["nabla.split.seed"] { guard let v = UInt64(s) else { throw invalid("nabla.split.seed", s, "it must be an integer in 0...\(UInt64.max)") }; split.seed = v }
        if let s = m["nabla.split.test_fraction"] {
            guard let v = Double(s), v > 0, v < 1 else { throw invalid("nabla.split.test_fraction", s, "it must be a number between 0 and 1") }
            split.testFraction = v
        }
        if let s = m["nabla.split.validation_fraction"] {
            guard let v = Double(s), v >= 0, v < 1 else { throw invalid("nabla.split.validation_fraction", s, "it must be a number in [0, 1)") }
            split.validationFraction = v
        }
        split.target = m["nabla.split.target"]
        var classes: Int?
        if let s = m["nabla.classes"] {
            guard let v = Int(s), v >= 1 else { throw invalid("nabla.classes", s, "it must be a positive integer") }
            classes = v
        }
        let outShape = try contents.spec.outputShape()
        guard outShape.count == 1 else {
            throw ModelSpecError(message: "\(path): the architecture's output per example has shape \(outShape); a \(task.rawValue) model needs one axis (add a flatten layer)")
        }
        let outputs = outShape[0]
        if task == .classification {
            guard let c = classes else { throw bad("nabla.classes") }
            let expected = loss == .bceLogits ? 1 : c
            guard outputs == expected else {
                throw invalid("nabla.classes", String(c), "the architecture ends with \(outputs) outputs (a \(loss.rawValue) classifier of \(c) classes needs \(expected))")
            }
        } else if classes != nil {
            throw invalid("nabla.classes", m["nabla.classes"]!, "a regression model has no classes")
        }
        let data = m["nabla.data"] ?? ""
        guard data.count <= 4096, !data.contains("\0"), !data.contains("\n") else {
            throw invalid("nabla.data", data, "it must be a data set name or csv:PATH on one line")
        }
        if let e = m["nabla.epoch"], Int(e).map({ $0 >= 0 }) != true {
            throw invalid("nabla.epoch", e, "it must be a non-negative integer")
        }
        var info = ModelInfo(task: task, classCount: classes, loss: loss, preprocessing: pre, dataName: data, split: split)
        if let s = m["nabla.features"] {
            let inputs = Shape.count(contents.spec.input)
            guard let names = try? JSONDecoder().decode([String].self, from: Data(s.utf8)), names.count == inputs,
                  Set(names).count == names.count else {
                throw invalid("nabla.features", s, "it must be a JSON array of \(inputs) distinct column names")
            }
            info.featureNames = names
        }
        info.targetName = m["nabla.target_name"]
        return info
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
        guard let e = m["nabla.epoch"] else {
            throw ModelSpecError(message: "\(path): not a checkpoint (no 'nabla.epoch'); it can be evaluated but not resumed")
        }
        guard let epoch = Int(e), epoch >= 0 else {
            throw ModelSpecError(message: "\(path): metadata 'nabla.epoch' must be a non-negative integer, got '\(e)'")
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
        if let s = m["nabla.step"] {
            guard let v = Int(s), v >= 0 else { throw ModelSpecError(message: "\(path): metadata 'nabla.step' must be a non-negative integer, got '\(s)'") }
            trainer.step = v
        }
        if let s = m["nabla.best_val_loss"] {
            guard let v = Double(s), !v.isNaN else {
                throw ModelSpecError(message: "\(path): metadata 'nabla.best_val_loss' must be a number, got '\(s)'")
            }
            trainer.bestValidationLoss = v
        }
        if let s = m["nabla.epochs_since_best"] {
            guard let v = Int(s), v >= 0, v <= epoch else {
                throw ModelSpecError(message: "\(path): metadata 'nabla.epochs_since_best' must be an integer in 0...\(epoch), got '\(s)'")
            }
            trainer.epochsSinceBest = v
        }
        if let recs = readHistory(beside: path, upTo: epoch) {
            trainer.history.epochs = recs
        } else if let h = m["nabla.history"] {
            // Checkpoints written before the history left the file: read the early-stopping state from it.
            guard let recs = try? JSONDecoder().decode([EpochRecord].self, from: Data(h.utf8)) else {
                throw ModelSpecError(message: "\(path): metadata 'nabla.history' is not a valid training history")
            }
            trainer.history.epochs = recs
            trainer.bestValidationLoss = recs.compactMap(\.validationLoss).min() ?? .infinity
            trainer.epochsSinceBest = recs.firstIndex { $0.validationLoss == trainer.bestValidationLoss }.map { recs.count - 1 - $0 } ?? 0
        }
        if let plateau = trainer.plateauScheduler {
            let saved = Dictionary(uniqueKeysWithValues: m.filter { $0.key.hasPrefix("nabla.plateau.") }.map { (String($0.key.dropFirst("nabla.plateau.".count)), $0.value) })
            guard !saved.isEmpty else {
                throw ModelSpecError(message: "\(path): the trainer has a ReduceLROnPlateau scheduler but the checkpoint holds no plateau state (it was written without one)")
            }
            do { try plateau.load(saved) } catch {
                throw ModelSpecError(message: "\(path): \(String(describing: error).replacingOccurrences(of: "\n", with: "; "))")
            }
        }
        trainer.scheduler?.setEpoch(epoch)
    }
}
