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
    /// For a character language model: the characters it knows, by index (its classes).
    public var vocabulary: [Unicode.Scalar]?
    /// For a character language model: the sequence length it was trained on.
    public var sequenceLength: Int?

    /// Whether this is a character language model (outputs `[steps, vocabulary]`).
    public var isLanguageModel: Bool { vocabulary != nil }

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

/// A split a data set cannot make (too few examples for a non-empty part).
public struct DataSplitError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// What was wrong.
    public let description: String
    /// The same text, for `localizedDescription`.
    public var errorDescription: String? { description }
}

extension DataSplit {
    /// The generator of the train/test split: derived from the seed, so the same seed draws
    /// the same test set in `train`, `evaluate` and `predict`.
    public var testGenerator: RandomGenerator { RandomGenerator(seed: seed &+ 0xDA7A) }
    /// The generator of the train/validation split.
    public var validationGenerator: RandomGenerator { RandomGenerator(seed: seed &+ 0x7A1) }

    /// Splits `all` into training and test sets by ``testFraction``, shuffled by the seed.
    ///
    /// - Throws: ``DataSplitError`` when a part would be empty or the fraction is not in (0, 1).
    public func trainTest(_ all: TensorDataset) throws -> (train: TensorDataset, test: TensorDataset) {
        guard testFraction > 0 && testFraction < 1 else {
            throw DataSplitError(description: "the test fraction must be between 0 and 1, got \(testFraction)")
        }
        guard all.count >= 2 else { throw DataSplitError(description: "\(all.name): needs at least 2 examples, found \(all.count)") }
        let parts = all.split([1 - testFraction, testFraction], generator: testGenerator)
        guard parts[0].count > 0, parts[1].count > 0 else {
            throw DataSplitError(description: "\(all.name): too few examples (\(all.count)) to split off a test set")
        }
        return (parts[0], parts[1])
    }

    /// Splits a training set into training and validation sets by ``validationFraction``,
    /// shuffled by the seed. No validation set when the fraction is 0 or there are fewer
    /// than 10 examples. Split it off before fitting any scaling, so the scaler sees the
    /// training examples only.
    ///
    /// - Throws: ``DataSplitError`` when a part would be empty.
    public func trainValidation(_ train: TensorDataset) throws -> (train: TensorDataset, validation: TensorDataset?) {
        guard validationFraction > 0 && train.count >= 10 else { return (train, nil) }
        let parts = train.split([1 - validationFraction, validationFraction], generator: validationGenerator)
        guard parts[0].count > 0, parts[1].count > 0 else {
            throw DataSplitError(description: "a validation fraction of \(validationFraction) leaves \(parts[1].count) validation and \(parts[0].count) training examples of \(train.count); use 0 for no validation or a fraction that keeps both non-empty")
        }
        return (parts[0], parts[1])
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
    /// Writes a checkpoint of `trainer` atomically, as a model file with `spec` and `info`
    /// (what `nabla train --save` writes).
    public static func save(_ trainer: Trainer, spec: ModelSpec, info: ModelInfo, to path: String) throws {
        var (meta, extra) = trainingState(of: trainer)
        meta["nabla.task"] = info.task.rawValue
        meta["nabla.loss"] = info.loss.rawValue
        meta["nabla.preprocessing"] = info.preprocessing.json()
        meta["nabla.data"] = info.dataName
        if let c = info.classCount { meta["nabla.classes"] = String(c) }
        meta["nabla.split.seed"] = String(info.split.seed)
        meta["nabla.split.test_fraction"] = "\(info.split.testFraction)"
        meta["nabla.split.validation_fraction"] = "\(info.split.validationFraction)"
        if let t = info.split.target { meta["nabla.split.target"] = t }
        if let names = info.featureNames, let data = try? JSONEncoder().encode(names) {
            meta["nabla.features"] = String(decoding: data, as: UTF8.self)
        }
        if let t = info.targetName { meta["nabla.target_name"] = t }
        if let v = info.vocabulary, let data = try? JSONEncoder().encode(v.map { $0.value }) {
            meta["nabla.vocabulary"] = String(decoding: data, as: UTF8.self)
        }
        if let l = info.sequenceLength { meta["nabla.sequence_length"] = String(l) }
        // The history first: a kill between the two leaves lines beyond the checkpoint's
        // epoch, which restore ignores, never a checkpoint whose history is missing epochs.
        try writeHistory(of: trainer, beside: path)
        try ModelFile.save(trainer.model, spec: spec, to: path, metadata: meta, extraTensors: extra)
    }

    /// Writes a checkpoint of any trainer atomically: the model's state dict and everything
    /// a resumed run needs, without an architecture (a VAE, a GAN, a model built in code).
    ///
    /// ``restore(_:from:)`` reads it into a trainer built the same way.
    public static func save(_ trainer: Trainer, to path: String) throws {
        var (meta, extra) = trainingState(of: trainer)
        meta[ModelFile.formatKey] = "pt"
        var entries: [SafeTensorEntry] = []
        for (name, t) in trainer.model.orderedStateDict() { entries.append(try SafeTensorEntry(name: name, tensor: t)) }
        for (name, t) in extra.sorted(by: { $0.key < $1.key }) { entries.append(try SafeTensorEntry(name: name, tensor: t)) }
        try writeHistory(of: trainer, beside: path)
        try SafeTensorsFile(entries: entries, metadata: meta).write(to: path)
    }

    /// Restores a checkpoint written by ``save(_:to:)`` into `trainer`: the model's weights
    /// (names and shapes checked strictly) and the training state.
    public static func restore(_ trainer: Trainer, from path: String) throws {
        let file = try SafeTensorsFile.read(contentsOf: path)
        var state: [String: Tensor] = [:], extra: [String: Tensor] = [:]
        for entry in file.entries {
            if entry.name.hasPrefix("optimizer.") || entry.name.hasPrefix("nabla.") { extra[entry.name] = entry.tensor() }
            else { state[entry.name] = entry.tensor() }
        }
        do { try trainer.model.loadStateDict(state, strict: true) } catch let e as StateDictError {
            throw ModelSpecError(message: "\(path): weights do not match the model: \(e.description.replacingOccurrences(of: "\n", with: "; "))")
        }
        try restoreState(trainer, metadata: file.metadata, tensors: extra, path: path)
    }

    /// The metadata and tensors that say where training stands: epoch, step, every
    /// optimizer's state, every generator, the LR schedule's and plateau scheduler's
    /// counters, early stopping's counters and the best weights (when kept).
    static func trainingState(of trainer: Trainer) -> (metadata: [String: String], tensors: [String: Tensor]) {
        func words(_ g: RandomGenerator) -> String { g.state.map(String.init).joined(separator: ",") }
        var meta: [String: String] = [
            "nabla.epoch": String(trainer.completedEpochs),
            "nabla.step": String(trainer.step),
            "nabla.rng.shuffle": words(trainer.shuffleGenerator),
            "nabla.rng.global": words(RandomGenerator.global),
            "nabla.best_val_loss": "\(trainer.bestValidationLoss)",
            "nabla.epochs_since_best": String(trainer.epochsSinceBest),
            "nabla.optimizer": trainer.optimizer.name,
        ]
        // Generators stored in the model (dropout masks, noise) and those the step uses.
        for (name, g) in trainer.model.namedGenerators() { meta["nabla.rng.module." + name] = words(g) }
        for (name, g) in trainer.generators { meta["nabla.rng.step." + name] = words(g) }
        // ReduceLROnPlateau's counters: with them a resumed run reduces the rate at the same
        // epoch as an uninterrupted one (the rate itself is in the optimizer's state).
        if let plateau = trainer.plateauScheduler {
            for (k, v) in plateau.stateDict() { meta["nabla.plateau." + k] = v }
        }
        if let s = trainer.scheduler {
            meta["nabla.scheduler.epoch"] = String(s.epoch)
            meta["nabla.scheduler.base_lr"] = "\(s.baseLearningRate)"
        }
        var extra: [String: Tensor] = [:]
        for (i, opt) in trainer.optimizers.enumerated() {
            // The first optimizer under `optimizer.` (as before there were several), the
            // others under `nabla.optimizer.<index>.`.
            let prefix = i == 0 ? "optimizer." : "nabla.optimizer.\(i)."
            let state = opt.stateDict()
            for (k, v) in state.metadata { meta[prefix + k] = v }
            for (k, v) in state.tensors { extra[prefix + k] = v }
        }
        meta["nabla.optimizers"] = String(trainer.optimizers.count)
        if let best = trainer.bestState {
            for (k, v) in best { extra["nabla.best." + k] = v }
            meta["nabla.best_state"] = "1"
        }
        return (meta, extra)
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
        var vocabulary: [Unicode.Scalar]?
        if let s = m["nabla.vocabulary"] {
            guard let codes = try? JSONDecoder().decode([UInt32].self, from: Data(s.utf8)), !codes.isEmpty,
                  Set(codes).count == codes.count else {
                throw invalid("nabla.vocabulary", s, "it must be a JSON array of distinct Unicode code points")
            }
            let scalars = codes.compactMap(Unicode.Scalar.init)
            guard scalars.count == codes.count else { throw invalid("nabla.vocabulary", s, "it holds a number that is not a Unicode scalar") }
            guard task == .classification, classes == scalars.count, outShape.last == scalars.count else {
                throw invalid("nabla.vocabulary", s, "a character model of \(scalars.count) characters must classify into as many classes and end with \(scalars.count) outputs per step (it ends with \(outShape))")
            }
            vocabulary = scalars
        }
        guard outShape.count == 1 || vocabulary != nil else {
            throw ModelSpecError(message: "\(path): the architecture's output per example has shape \(outShape); a \(task.rawValue) model needs one axis (add a flatten layer)")
        }
        let outputs = outShape.last!
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
        info.vocabulary = vocabulary
        if let s = m["nabla.sequence_length"] {
            guard let v = Int(s), v >= 1 else { throw invalid("nabla.sequence_length", s, "it must be a positive integer") }
            info.sequenceLength = v
        }
        return info
    }

    /// Restores a checkpoint's optimizer state, epoch, generators and history into `trainer`.
    ///
    /// `trainer` must be built on the checkpoint's model.
    public static func restore(_ trainer: Trainer, from contents: ModelFile.Contents, path: String) throws {
        try restoreState(trainer, metadata: contents.metadata, tensors: contents.extraTensors, path: path)
    }

    /// Restores the state written by ``trainingState(of:)``, checking every value.
    static func restoreState(_ trainer: Trainer, metadata m: [String: String], tensors: [String: Tensor], path: String) throws {
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
        if let s = m["nabla.optimizers"], Int(s) != trainer.optimizers.count {
            throw ModelSpecError(message: "\(path): checkpoint holds \(s) optimizers' states, the trainer has \(trainer.optimizers.count)")
        }
        if let name = m["nabla.optimizer"], name != trainer.optimizer.name {
            throw ModelSpecError(message: "\(path): checkpoint was written by \(name), cannot resume with \(trainer.optimizer.name)")
        }
        // Every optimizer's state is checked before any is changed.
        var states: [OptimizerState] = []
        for i in trainer.optimizers.indices {
            let prefix = i == 0 ? "optimizer." : "nabla.optimizer.\(i)."
            var state = OptimizerState()
            for (k, v) in m where k.hasPrefix(prefix) { state.metadata[String(k.dropFirst(prefix.count))] = v }
            for (k, v) in tensors where k.hasPrefix(prefix) { state.tensors[String(k.dropFirst(prefix.count))] = v }
            if i > 0 && state.metadata.isEmpty {
                throw ModelSpecError(message: "\(path): checkpoint has no state for optimizer \(i)")
            }
            states.append(state)
        }
        var generatorStates: [(RandomGenerator, [UInt64])] = []
        generatorStates.append((trainer.shuffleGenerator, try words("nabla.rng.shuffle")))
        generatorStates.append((RandomGenerator.global, try words("nabla.rng.global")))
        for (name, g) in trainer.model.namedGenerators() {
            if m["nabla.rng.module." + name] != nil {
                generatorStates.append((g, try words("nabla.rng.module." + name)))
            } else if name.hasSuffix(".generator"), m["nabla.rng.dropout." + name.dropLast(".generator".count)] != nil {
                // Checkpoints from before every module generator was saved held dropout's only.
                generatorStates.append((g, try words("nabla.rng.dropout." + name.dropLast(".generator".count))))
            }
        }
        for (name, g) in trainer.generators.sorted(by: { $0.key < $1.key }) {
            generatorStates.append((g, try words("nabla.rng.step." + name)))
        }
        var best: [String: Tensor]?
        if m["nabla.best_state"] != nil {
            var b: [String: Tensor] = [:]
            for (k, v) in tensors where k.hasPrefix("nabla.best.") { b[String(k.dropFirst("nabla.best.".count))] = v }
            let own = trainer.model.stateDict()
            guard Set(b.keys) == Set(own.keys), b.allSatisfy({ own[$0.key]?.shape == $0.value.shape }) else {
                throw ModelSpecError(message: "\(path): the best weights stored in the checkpoint do not match the model's names and shapes")
            }
            best = b.mapValues { v in own.first.map { v.to($0.value.dtype) } ?? v }
        }
        for (i, opt) in trainer.optimizers.enumerated() {
            do { try opt.load(states[i]) } catch {
                throw ModelSpecError(message: "\(path): \(i > 0 ? "optimizer \(i): " : "")\(String(describing: error).replacingOccurrences(of: "\n", with: "; "))")
            }
        }
        for (g, w) in generatorStates { g.state = w }
        if let best { trainer.bestState = best }
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
        if let s = trainer.scheduler {
            if let v = m["nabla.scheduler.base_lr"], Double(v)?.bitPattern != s.baseLearningRate.bitPattern {
                throw ModelSpecError(message: "\(path): the checkpoint's LR schedule started from learning rate \(v), this trainer's from \(s.baseLearningRate)")
            }
            let e = try m["nabla.scheduler.epoch"].map { v -> Int in
                guard let e = Int(v), e >= 0 else { throw ModelSpecError(message: "\(path): metadata 'nabla.scheduler.epoch' must be a non-negative integer, got '\(v)'") }
                return e
            } ?? epoch
            s.setEpoch(e)
        }
    }
}
