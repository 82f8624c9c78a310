import ArgumentParser
import Foundation
import Nabla

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model and report its test accuracy (or loss).",
        discussion: """
        With no options, trains a small MLP on the built-in 8×8 digits (1,797 images) in a few \
        seconds. The data are split into training and test sets from the seed; a validation \
        fraction of the training set is held out to watch for over-fitting.

        Examples:
          nabla train
          nabla train --hidden 256,128 --activation gelu --epochs 30 --json
          nabla train --data fashion-mnist --hidden 256,128 --lr 1e-3 --batch-size 128 --epochs 10
          nabla train --data csv:wine.csv --target quality --task regression --loss mse
          nabla train --model mlp.yaml --save model.safetensors
          nabla train --resume model.safetensors --epochs 20
          nabla train --data text --model Examples/models/char-lstm.yaml --epochs 5 --save char.safetensors
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("Hidden layer sizes of the MLP, comma-separated ('none' for no hidden layer).", valueName: "sizes"))
    var hidden: String = "128"

    @Option(help: ArgumentHelp("Activation between layers (\(ModelSpec.activations.joined(separator: ", "))).", valueName: "name"))
    var activation: String = "relu"

    @Option(help: ArgumentHelp("Architecture file (YAML or JSON) instead of --hidden/--activation.", valueName: "file"))
    var model: String?

    @Option(help: ArgumentHelp("Loss: \(TrainingLoss.allCases.map(\.rawValue).joined(separator: ", ")) (default: cross-entropy for classification, mse for regression).", valueName: "name"))
    var loss: TrainingLoss?

    @Option(help: ArgumentHelp("Optimizer: sgd, momentum, adam, adamw, rmsprop, adagrad.", valueName: "name"))
    var optimizer: String = "adam"

    @Option(help: "Learning rate (default: 1e-3 for adam/adamw, 0.01 otherwise).")
    var lr: Double?

    @Option(help: "Training epochs.")
    var epochs: Int = 30

    @Option(name: .customLong("lr-schedule"), help: ArgumentHelp("Learning-rate schedule over the epochs: constant, or cosine (annealed to 0 at the last epoch, PyTorch's CosineAnnealingLR with T_max = --epochs).", valueName: "name"))
    var lrSchedule: String = "constant"

    @Option(help: "Examples per minibatch.")
    var batchSize: Int = 32

    @Option(help: "Weight decay (L2 for sgd/adam/rmsprop/adagrad, decoupled for adamw).")
    var weightDecay: Double = 0

    @Option(help: "Dropout probability after each hidden layer of the MLP.")
    var dropout: Double = 0

    @Option(help: "Input scaling fitted on the training split: standardize, minmax, none (default: standardize; fashion-mnist: pixels/255).")
    var scale: ScalingKind?

    @Option(help: "Fraction of the training split held out for validation (0 for none; default 0.1, or the checkpoint's when resuming).")
    var validation: Double?

    @Option(help: "Stop when the validation loss has not improved for this many epochs.")
    var patience: Int?

    @Option(parsing: .unconditional, help: "Random seed: same seed, same splits, same initial weights, same loss curve (default 0, or the checkpoint's when resuming).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Save the trained model (a checkpoint in safetensors) to this path after every epoch.", valueName: "path"))
    var save: String?

    @Option(help: ArgumentHelp("Resume training from a checkpoint written by --save; the checkpoint is updated after every epoch unless --save names another file.", valueName: "path"))
    var resume: String?

    @Option(help: ArgumentHelp("Write the per-epoch history to this file (.csv or .json).", valueName: "path"))
    var history: String?

    @Option(help: ArgumentHelp("Write an HTML report (curves, confusion matrix, decision boundary, summary) with its SVGs into this folder.", valueName: "folder"))
    var report: String?

    @Option(help: ArgumentHelp("Characters per training sequence for --data text (default 100, or the checkpoint's).", valueName: "n"))
    var seqLen: Int?

    @Option(help: ArgumentHelp("Clip the gradients' global norm to this value (default: none; 5 for --data text).", valueName: "norm"))
    var clipNorm: Double?

    @Flag(help: "Print a final JSON object on the last line.")
    var json = false

    @Flag(help: "No progress output.")
    var quiet = false

    func validateValues() throws {
        guard epochs > 0 else { throw CLIError("--epochs must be positive, got \(epochs)") }
        guard batchSize > 0 else { throw CLIError("--batch-size must be positive, got \(batchSize)") }
        if let lr { guard lr > 0 && lr.isFinite else { throw CLIError("--lr must be positive, got \(lr)") } }
        guard weightDecay >= 0 else { throw CLIError("--weight-decay must not be negative, got \(weightDecay)") }
        guard dropout >= 0 && dropout < 1 else { throw CLIError("--dropout must be in [0, 1), got \(dropout)") }
        if let v = validation { guard v >= 0 && v < 1 else { throw CLIError("--validation must be in [0, 1), got \(v)") } }
        if let p = patience { guard p > 0 else { throw CLIError("--patience must be positive, got \(p)") } }
        if let c = clipNorm { guard c > 0 && c.isFinite else { throw CLIError("--clip-norm must be positive, got \(c)") } }
    }

    func makeOptimizer(_ params: [Tensor]) throws -> Optimizer {
        let adamLike = optimizer == "adam" || optimizer == "adamw"
        let rate = lr ?? (adamLike ? 1e-3 : 0.01)
        switch optimizer {
        case "sgd": return SGD(params, lr: rate, weightDecay: weightDecay)
        case "momentum": return SGD(params, lr: rate, momentum: 0.9, weightDecay: weightDecay)
        case "adam": return Adam(params, lr: rate, weightDecay: weightDecay)
        case "adamw": return AdamW(params, lr: rate, weightDecay: weightDecay)
        case "rmsprop": return RMSProp(params, lr: rate, weightDecay: weightDecay)
        case "adagrad": return Adagrad(params, lr: rate, weightDecay: weightDecay)
        default: throw CLIError("unknown optimizer '\(optimizer)'; use sgd, momentum, adam, adamw, rmsprop or adagrad")
        }
    }

    @OptionGroup var resources: ResourceOptions

    /// The path of the best-validation checkpoint that goes with `path`.
    static func bestPath(for path: String) -> String {
        path.hasSuffix(".safetensors") ? String(path.dropLast(12)) + ".best.safetensors" : path + ".best"
    }

    /// Refuses outputs that would overwrite each other or an input (`data` is the data set
    /// in use: `--data`, or the one a resumed checkpoint names), and output folders that
    /// cannot be written, before any training is done.
    func checkFiles(data: String) throws {
        var outputs: [(String, String)] = []
        if let s = save ?? resume {
            let best = Train.bestPath(for: s)
            outputs += [("--save", s), ("the best checkpoint", best), ("the checkpoint's history", Checkpoint.historyPath(for: s)),
                        ("the best checkpoint's history", Checkpoint.historyPath(for: best))]
        }
        if let h = history { outputs.append(("--history", h)) }
        var inputs: [(String, String)] = []
        if data.hasPrefix("csv:") { inputs.append((dataOptions.data == nil ? "checkpoint's data" : "--data", String(data.dropFirst(4)))) }
        if let m = model { inputs.append(("--model", m)) }
        if let r = resume, save != nil { inputs.append(("--resume", r)) }
        for (i, (name, path)) in outputs.enumerated() {
            for (otherName, other) in outputs[(i + 1)...] where sameFile(path, other) {
                throw CLIError("\(name) and \(otherName) name the same file (\(path)); one would overwrite the other")
            }
            for (inName, input) in inputs where sameFile(path, input) && !(name == "--save" && inName == "--resume") {
                throw CLIError("\(name) \(path) is the \(inName) input; writing it would destroy the input")
            }
            try checkWritable(path, option: name)
        }
    }

    func run() throws {
        let limits = try resources.limits()
        try validateValues()
        try checkReportFolder()
        let started = Date()
        // A resumed run reads the checkpoint first: its split settings are the defaults, so
        // the same examples are used for training, validation and testing as before.
        var restored: ModelFile.Contents?
        var storedInfo: ModelInfo?
        if let path = resume {
            guard FileManager.default.isReadableFile(atPath: path) else { throw CLIError("\(path): checkpoint not found or not readable") }
            let contents = try ModelFile.load(path, limits: limits)
            restored = contents
            storedInfo = try Checkpoint.info(from: contents, path: path)
        }
        let split = DataSplit(seed: seed ?? storedInfo?.split.seed ?? 0,
                              testFraction: dataOptions.testFraction ?? storedInfo?.split.testFraction ?? 0.2,
                              validationFraction: validation ?? storedInfo?.split.validationFraction ?? 0.1,
                              target: dataOptions.target ?? storedInfo?.split.target)
        let seed = split.seed
        Random.seed(seed)
        let defaultTask: TaskKind? = storedInfo?.task ?? loss.map { $0.isClassification ? .classification : .regression }
        // The data: --data, else what the checkpoint suggests (only a safe relative path), else digits.
        let dataUsed = try dataOptions.data ?? storedInfo.map { try suggestedData($0.dataName, modelPath: resume!) } ?? "digits"
        try checkFiles(data: dataUsed)
        if dataUsed == "text" || dataUsed.hasPrefix("text:") {
            if let info = storedInfo, !info.isLanguageModel {
                throw CLIError("\(resume!): this checkpoint is not a character model; it cannot be trained on text")
            }
            return try runText(dataUsed: dataUsed, limits: limits, restored: restored, storedInfo: storedInfo, split: split, started: started)
        }
        if let info = storedInfo, info.isLanguageModel {
            throw CLIError("\(resume!): this checkpoint is a character model; train it on --data text or text:PATH")
        }
        if seqLen != nil { throw CLIError("--seq-len is for --data text or text:PATH") }
        var (train, test, scaling) = try dataOptions.load(seed: seed, defaultTask: defaultTask,
                                                          defaultData: dataUsed,
                                                          testFraction: split.testFraction, target: split.target, limits: limits)
        let task = train.task
        let lossKind = loss ?? storedInfo?.loss ?? (task == .classification ? .crossEntropy : .mse)
        if task == .classification && !lossKind.isClassification {
            throw CLIError("loss \(lossKind.rawValue) needs regression targets but \(train.name) is a classification data set; use --loss cross-entropy or --task regression")
        }
        if task == .regression && lossKind.isClassification {
            throw CLIError("loss \(lossKind.rawValue) needs class labels but the targets are real values; use --loss mse or --task classification")
        }
        if let s = scale { scaling = s }

        // The validation examples are split off before any scaling is fitted, so the
        // scaler sees the training examples only.
        // (An empty split would give NaN metrics; DataSplit says so instead.)
        var validationSet: TensorDataset?
        do {
            (train, validationSet) = try split.trainValidation(train)
        } catch let e as DataSplitError {
            throw CLIError("--validation: \(e.description)")
        }

        // Model, preprocessing and optimizer: from a checkpoint or new.
        let spec: ModelSpec
        let net: Module
        var info: ModelInfo
        if let contents = restored, let stored = storedInfo {
            info = stored
            info.split = split
            info.dataName = storedDataName(dataUsed, modelPath: save ?? resume)
            spec = contents.spec
            net = contents.model
        } else {
            let classes = train.classCount.map { Swift.max($0, test.classCount ?? 0, validationSet?.classCount ?? 0) }
            let outputs = task == .classification ? (lossKind == .bceLogits ? 1 : classes!) : (train.targets.rank == 2 ? train.targets.shape[1] : 1)
            if let file = model {
                spec = try ModelSpec.read(contentsOf: file)
            } else {
                let sizes = try parseHiddenSizes(hidden)
                guard ModelSpec.activations.contains(activation) else {
                    throw CLIError("unknown activation '\(activation)'; use one of \(ModelSpec.activations.joined(separator: ", "))")
                }
                spec = ModelSpec.mlp(inputs: train.inputShape.reduce(1, *), hidden: sizes, outputs: outputs, activation: activation, dropout: dropout)
            }
            info = ModelInfo(task: task, classCount: task == .classification ? classes : nil, loss: lossKind,
                             preprocessing: scaling.fit(train), dataName: storedDataName(dataUsed, modelPath: save), split: split)
            info.featureNames = train.featureNames
            info.targetName = train.targetName
            try checkTrainingMemory(spec, batchSize: batchSize, limits: limits)
            net = try spec.build(generator: RandomGenerator(seed: seed), limits: limits)
            try Preprocessing.checkFits(train.inputShape, spec.input, source: train.name)
            let out = try spec.outputShape()
            if out != [outputs] {
                throw CLIError("the architecture's output per example has shape \(out) but the data need [\(outputs)]\(out.count > 1 ? " (add a flatten layer)" : "")")
            }
        }
        if let path = resume, restored != nil {
            // A resumed model meets its CSV columns by name, in whatever order the file has them.
            let original = storedInfo ?? info   // as stored: its data name says whether it came from a CSV
            train = try matchColumns(train, to: original, model: path)
            test = try matchColumns(test, to: original, model: path)
            validationSet = try validationSet.map { try matchColumns($0, to: original, model: path) }
        }
        try checkOutputs(spec, train, info, model: resume ?? model ?? "the architecture")
        try checkLabels(train, info)
        try checkLabels(test, info)
        if let v = validationSet { try checkLabels(v, info) }
        // Scaling, then reshaping to the model's input shape (one shared function); a
        // resumed checkpoint meeting data of another width is reported here, by name.
        func prepared(_ d: TensorDataset) throws -> TensorDataset {
            do { return try info.preprocessing.prepare(d, for: spec.input) } catch let e as DataShapeError {
                guard let path = resume else { throw e }
                throw CLIError("\(path): the checkpoint does not fit the data: \(e.message)")
            }
        }
        train = try prepared(train)
        test = try prepared(test)
        validationSet = try validationSet.map(prepared)

        let opt = try makeOptimizer(net.parameters())
        let trainer = Trainer(model: net, optimizer: opt, loss: info.loss, seed: seed)
        trainer.clipNorm = clipNorm
        trainer.earlyStoppingPatience = patience
        trainer.progress = ProgressReporter(style: quiet ? .silent : nil)
        switch lrSchedule {
        case "constant": break
        case "cosine":
            // Stepped once per epoch. Set before a checkpoint is restored, so that the restore
            // puts the schedule at the checkpoint's epoch (and checks its base rate).
            trainer.scheduler = LRScheduler(opt, CosineAnnealingLR(tMax: epochs))
        default:
            throw CLIError("--lr-schedule \(lrSchedule): unknown schedule; use constant or cosine")
        }
        if let contents = restored, let path = resume {
            try Checkpoint.restore(trainer, from: contents, path: path)
            if trainer.completedEpochs >= epochs {
                trainer.progress.message("checkpoint already has \(trainer.completedEpochs) epochs; nothing to train (raise --epochs)")
            }
        }
        let message = "training \(weightLayerCount(spec.layers))-layer model (\(net.parameterCount) parameters) on \(train.name): \(train.count) training, \(validationSet?.count ?? 0) validation, \(test.count) test examples; GEMM: \(Backend.gemmPath.rawValue)"
        let epochsBefore = trainer.completedEpochs
        let fitStart = Date()
        try fitSavingCheckpoints(trainer, spec: spec, info: info, train: train, validation: validationSet, message: message)
        let fitSeconds = Date().timeIntervalSince(fitStart)
        if let path = history { try trainer.history.write(to: path) }
        let m = try trainer.evaluate(test)
        try writeReport(trainer: trainer, spec: spec, train: train, test: test, metrics: m)
        let seconds = Date().timeIntervalSince(started)
        let trainedSamples = Double(train.count * (trainer.completedEpochs - epochsBefore))
        let sps = trainedSamples / Swift.max(fitSeconds, 1e-9)
        if let a = m.accuracy {
            print(String(format: "test accuracy %.4f (loss %.4f) on %d examples after %d epochs, %.1f s (%.0f samples/s)",
                         a, m.loss, m.count, trainer.completedEpochs, seconds, sps))
        } else {
            print(String(format: "test loss %.6f (MAE %.6f) on %d examples after %d epochs, %.1f s (%.0f samples/s)",
                         m.loss, m.mae ?? .nan, m.count, trainer.completedEpochs, seconds, sps))
        }
        if let path = save { print("saved model to \(path)") }
        if json {
            var o: [String: Any] = ["test_loss": r6(m.loss), "epochs": trainer.completedEpochs, "seconds": r6(seconds),
                                    "samples_per_second": sps.rounded(), "train_examples": train.count, "test_examples": m.count,
                                    "parameters": net.parameterCount, "data": dataUsed, "gemm": Backend.gemmPath.rawValue]
            if let a = m.accuracy { o["test_accuracy"] = r6(a) }
            if let e = m.mae { o["test_mae"] = r6(e) }
            if let last = trainer.history.epochs.last { o["final_train_loss"] = r6(last.trainLoss) }
            try printJSON(o)
        }
    }
}

/// Parses `--hidden 256,128` into layer sizes.
///
/// Every item must be a positive integer: `--hidden ""` and `--hidden 128,,64` are errors,
/// not an MLP with fewer layers than asked for. `--hidden none` means no hidden layer.
func parseHiddenSizes(_ text: String) throws -> [Int] {
    if text.trimmingCharacters(in: .whitespaces) == "none" { return [] }
    guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw CLIError("--hidden: empty; give comma-separated layer sizes such as 128 or 256,128 (or 'none' for no hidden layer)")
    }
    return try text.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { (i, s) -> Int in
        let item = s.trimmingCharacters(in: .whitespaces)
        guard !item.isEmpty else { throw CLIError("--hidden '\(text)': item \(i + 1) is empty") }
        guard let v = Int(item), v > 0 else { throw CLIError("--hidden '\(text)': '\(item)' is not a positive layer size") }
        return v
    }
}

/// Throws if a data set holds labels the model cannot predict.
func checkLabels(_ d: TensorDataset, _ info: ModelInfo) throws {
    guard info.task == .classification, let classes = info.classCount else { return }
    let bound = info.loss == .bceLogits ? 2 : classes
    for (i, v) in d.targets.doubles.enumerated() where v < 0 || v >= Double(bound) || v != v.rounded() {
        throw CLIError("\(d.name): label \(v) of example \(i) is outside the model's classes 0..<\(bound)")
    }
}

/// The depth of an architecture as people count it: its layers with weights (dense,
/// maxout, convolution), inside residual blocks too.
func weightLayerCount(_ layers: [LayerSpec]) -> Int {
    let weighted: Set<String> = ["linear", "maxout", "conv1d", "conv2d", "conv_transpose2d"]
    return layers.reduce(0) { $0 + (weighted.contains($1.type) ? 1 : 0) + weightLayerCount($1.layers("layers") ?? []) }
}

extension Train {
    /// Fits `trainer`, saving a checkpoint to `--save` (or the resumed one) after every
    /// epoch and the best-validation one beside it, and handling Ctrl-C: an interrupted run
    /// writes its history, says where the last complete checkpoint is and exits.
    func fitSavingCheckpoints(_ trainer: Trainer, spec: ModelSpec, info: ModelInfo, train: TensorDataset,
                              validation validationSet: TensorDataset?, message: String) throws {
        let save = self.save ?? resume   // a resumed run keeps its checkpoint up to date
        // Where the last complete checkpoint is, for the message after Ctrl-C.
        var lastSaved: (path: String, epoch: Int)? = resume.map { ($0, trainer.completedEpochs) }
        if let path = save {
            let bestPath = Train.bestPath(for: path)
            // A run killed in the middle of a save leaves its temporary file; this run owns the names now.
            for p in [path, bestPath, Checkpoint.historyPath(for: path), Checkpoint.historyPath(for: bestPath)] {
                removeStaleTemporaryFiles(for: p)
            }
            var best = trainer.bestValidationLoss   // after a resume: the best so far
            trainer.onEpochEnd = { t, record in
                try Checkpoint.save(t, spec: spec, info: info, to: path)
                lastSaved = (path, t.completedEpochs)
                if let v = record.validationLoss, v < best {
                    best = v
                    try Checkpoint.save(t, spec: spec, info: info, to: bestPath)
                }
            }
        }
        if !quiet { trainer.progress.message(message) }
        Interrupts.install()
        trainer.shouldStop = { receivedStopSignal != 0 }
        do {
            try trainer.fit(train, validation: validationSet, epochs: epochs, batchSize: batchSize)
        } catch let e as TrainingInterrupted {
            Interrupts.restore()
            if let path = history { try? trainer.history.write(to: path) }
            let saved = lastSaved.map { "the last complete checkpoint is \($0.path) (epoch \($0.epoch)); continue with --resume \($0.path)" }
                ?? "no checkpoint was written (--save keeps progress)"
            FileHandle.standardError.write(Data("\ninterrupted by \(Interrupts.signalName) in epoch \(e.epoch); \(saved)\n".utf8))
            Foundation.exit(128 + receivedStopSignal)
        }
        Interrupts.restore()
        if receivedStopSignal != 0 {
            // The signal came after the last step (during validation or the last save, which
            // completed): the run is complete, but the user asked to stop, so say so and stop.
            if let path = history { try? trainer.history.write(to: path) }
            let saved = lastSaved.map { "; the last complete checkpoint is \($0.path) (epoch \($0.epoch))" } ?? ""
            FileHandle.standardError.write(Data("\ninterrupted by \(Interrupts.signalName) after the last epoch\(saved)\n".utf8))
            Foundation.exit(128 + receivedStopSignal)
        }
    }
}
