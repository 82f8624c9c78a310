import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO
import NablaTraining
import NablaViz

/// The architecture chart of the lecture notes, one trainable entry per network: the
/// perceptron, feed-forward and deep feed-forward networks, the radial basis network, a
/// Gaussian-output network, RNN, LSTM and GRU classifiers, and the auto-encoders (plain,
/// denoising, sparse, variational) and a GAN.
///
/// Each entry is a type (``Zoo/VAE``, ``Zoo/GAN``, …) with a documented default
/// architecture and a short training recipe built on ``TrainingStep`` and ``Trainer``: the
/// trainer knows nothing about any of them. `nabla zoo NAME` runs ``run(_:_:)``, which trains
/// an entry on its data and writes its metrics, model and PNG pictures to a folder.
///
/// ```swift
/// let report = try Zoo.run("vae", ZooOptions(out: "zoo-vae"))
/// print(report.metrics["test_neg_elbo"]!)
/// ```
public enum Zoo {
    /// Every entry, in the chart's order.
    public static let entries: [ZooEntryInfo] = [
        Perceptron.info, FeedForward.info, DeepFeedForward.info, RadialBasis.info,
        GaussianRegression.info, RNN.info, LSTM.info, GRU.info, AutoEncoder.info,
        DenoisingAutoEncoder.info, SparseAutoEncoder.info, VAE.info, GAN.info,
    ]

    /// The entry called `name`, or an error that lists the valid names.
    public static func entry(named name: String) throws -> ZooEntryInfo {
        if let e = entries.first(where: { $0.name == name.lowercased() }) { return e }
        throw ZooError("unknown zoo entry '\(name)'; the entries are: " + entries.map(\.name).joined(separator: ", ")
                       + " (nabla zoo --list describes them)")
    }

    /// One line per entry: its name and what it trains on.
    public static var listing: String {
        let width = entries.map(\.name.count).max() ?? 0
        return entries.map { $0.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.summary }
            .joined(separator: "\n")
    }

    /// Trains the entry `name` with `options` and writes its files; returns the report.
    public static func run(_ name: String, _ options: ZooOptions) throws -> ZooReport {
        let entry = try entry(named: name)
        if let data = options.data, !entry.dataChoices.contains(data) {
            throw ZooError("\(entry.name) cannot train on '\(data)': \(entry.dataRequirement); its data sets are "
                           + entry.dataChoices.joined(separator: ", "))
        }
        if options.architecture != nil, !architectureEntries.contains(entry.name) {
            throw ZooError("--arch applies to the image entries (" + architectureEntries.joined(separator: ", ") + "), not to \(entry.name)")
        }
        if let epochs = options.epochs, epochs < 1 { throw ZooError("epochs must be at least 1, got \(epochs)") }
        if let limit = options.limit, limit < 1 { throw ZooError("the example limit must be at least 1, got \(limit)") }
        try ZooOptions.prepareFolder(options.out)
        let context = ZooContext(options: options, entry: entry.name)
        let start = Date()
        try entry.train(context)
        context.report.seconds = Date().timeIntervalSince(start)
        try context.writeMetrics()
        return context.report
    }
}

/// One network of the chart: its name, data and a recipe that trains it and draws what it
/// learned.
public protocol ZooEntry: SendableMetatype {
    /// The command-line name (`vae`).
    static var name: String { get }
    /// One line: what it is and what it trains on.
    static var summary: String { get }
    /// The data sets it accepts for `--data`.
    static var dataChoices: [String] { get }
    /// Why other data do not fit (for the error message): "needs images", …
    static var dataRequirement: String { get }
    /// The default number of epochs.
    static var defaultEpochs: Int { get }
    /// Trains on the context's data, records metrics and writes pictures and the model.
    static func train(_ context: ZooContext) throws
}

/// An entry of the chart as a value: its name, summary, data and recipe.
public struct ZooEntryInfo: Sendable {
    /// The command-line name.
    public let name: String
    /// One line: what it is and what it trains on.
    public let summary: String
    /// The data sets it accepts.
    public let dataChoices: [String]
    /// Why other data do not fit.
    public let dataRequirement: String
    /// The default number of epochs.
    public let defaultEpochs: Int
    /// The recipe.
    public let train: @Sendable (ZooContext) throws -> Void
}

extension ZooEntry {
    /// The entry as a value.
    public static var info: ZooEntryInfo {
        ZooEntryInfo(name: name, summary: summary, dataChoices: dataChoices, dataRequirement: dataRequirement,
                            defaultEpochs: defaultEpochs, train: { try train($0) })
    }
}

/// What `nabla zoo` passes to an entry: the data set, epochs, the output folder and a seed.
public struct ZooOptions: Sendable {
    /// The data set's name (nil: the entry's default).
    public var data: String?
    /// Epochs (nil: the entry's default).
    public var epochs: Int?
    /// The folder that receives the metrics, the model and the pictures (created if missing).
    public var out: String
    /// The seed of every generator (weights, shuffling, noise, synthetic data).
    public var seed: UInt64
    /// At most this many training (and test) examples: a small slice, for tests.
    public var limit: Int?
    /// The Fashion-MNIST folder (nil: `FMNIST_DIR` or the system's).
    public var fashionDirectory: String?
    /// How training reports progress.
    public var progress: ProgressReporter.Style?
    /// The image entries' encoders and decoders (nil: the entry's default).
    public var architecture: Zoo.ImageArchitecture?
    /// Asked between training steps; when it returns true the trainer stops with
    /// `TrainingInterrupted` (how `nabla zoo` handles Ctrl-C).
    public var shouldStop: (@Sendable () -> Bool)?

    /// Options for a run writing to `out`.
    public init(data: String? = nil, epochs: Int? = nil, out: String, seed: UInt64 = 0, limit: Int? = nil,
                fashionDirectory: String? = nil, progress: ProgressReporter.Style? = nil,
                architecture: Zoo.ImageArchitecture? = nil) {
        self.data = data; self.epochs = epochs; self.out = out; self.seed = seed; self.limit = limit
        self.fashionDirectory = fashionDirectory; self.progress = progress; self.architecture = architecture
    }

    /// Creates `path` as a folder if it does not exist; an error when it is a file.
    static func prepareFolder(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ZooError("--out \(path) is a file, not a folder; give a folder for the pictures, model and metrics") }
            // Checked before training, so a long run does not end unable to save.
            guard FileManager.default.isWritableFile(atPath: path) else { throw ZooError("--out \(path): the folder is not writable") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { throw ZooError("cannot create the folder \(path): \(error.localizedDescription)") }
    }
}

/// An error of `nabla zoo`: one line for the user.
public struct ZooError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// What went wrong.
    public let message: String
    /// An error with `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
    /// The message.
    public var errorDescription: String? { message }
}

/// What a zoo run produced: its metrics, the files written and whether the chart's target
/// was met.
public struct ZooReport: Sendable {
    /// The entry's name.
    public var entry: String
    /// The data set(s) used.
    public var data: [String] = []
    /// Final metrics by name (`test_accuracy_spirals`, `test_neg_elbo`, …).
    public var metrics: [String: Double] = [:]
    /// The target of the chart's table, in words, and whether each run met it.
    public var targets: [(target: String, met: Bool)] = []
    /// The files written (pictures, model, metrics), as paths.
    public var files: [String] = []
    /// Lines to print: what was measured, in words.
    public var lines: [String] = []
    /// Wall time of the run in seconds.
    public var seconds = 0.0
}

/// The state of one zoo run, handed to the entry's recipe: options, generators, helpers
/// that load data, train, save and draw, and the report being filled in.
public final class ZooContext: @unchecked Sendable {
    /// The run's options.
    public let options: ZooOptions
    /// The report being filled in.
    public var report: ZooReport
    /// The output folder.
    public var out: String { options.out }
    /// The run's seed.
    public var seed: UInt64 { options.seed }

    init(options: ZooOptions, entry: String) {
        self.options = options
        report = ZooReport(entry: entry)
    }

    /// The data set to use: `--data`, or `fallback`.
    public func dataName(_ fallback: String) -> String { options.data ?? fallback }

    /// The image architecture: `--arch`, or `fallback`.
    public func architecture(_ fallback: Zoo.ImageArchitecture) -> Zoo.ImageArchitecture { options.architecture ?? fallback }

    /// The epochs to run: `--epochs`, or `fallback`.
    public func epochs(_ fallback: Int) -> Int { options.epochs ?? fallback }

    /// A generator derived from the run's seed and a salt, so each use has its own stream.
    public func generator(_ salt: UInt64) -> RandomGenerator { RandomGenerator(seed: seed &* 1_000_003 &+ salt) }

    /// Records a metric and a line describing it.
    public func record(_ name: String, _ value: Double, _ line: String? = nil) {
        report.metrics[name] = value
        if let line { say(line) }
    }

    /// Records whether a target of the chart was met, and says so.
    public func target(_ description: String, met: Bool) {
        report.targets.append((description, met))
    }

    /// Adds a line to the report and prints it to standard error.
    public func say(_ line: String) {
        report.lines.append(line)
        if options.progress != .silent { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// The path of `file` in the output folder.
    public func path(_ file: String) -> String { (out as NSString).appendingPathComponent(file) }

    /// Writes a picture atomically and records it.
    public func save(_ picture: Raster, _ file: String) throws {
        let p = path(file)
        try picture.writePNG(to: p)
        report.files.append(p)
    }

    /// Writes a text file atomically and records it.
    public func save(text: String, _ file: String) throws {
        let p = path(file)
        try atomicWrite(Data(text.utf8), to: p)
        report.files.append(p)
    }

    /// Writes the trainer's model (weights, optimizer state and generators) as a safetensors
    /// checkpoint and records it.
    public func saveModel(_ trainer: Trainer, _ file: String) throws {
        let p = path(file)
        try Checkpoint.save(trainer, to: p)
        report.files.append(p)
    }

    /// A trainer for `model` with the run's seed and progress style.
    public func trainer(_ model: Module, _ optimizers: [Optimizer], _ step: TrainingStep) -> Trainer {
        let t = Trainer(model: model, optimizers: optimizers, step: step, seed: seed)
        if let style = options.progress { t.progress = ProgressReporter(style: style) }
        t.shouldStop = options.shouldStop
        return t
    }

    /// Keeps at most ``ZooOptions/limit`` examples.
    public func limited(_ d: TensorDataset) -> TensorDataset {
        guard let n = options.limit, n < d.count else { return d }
        var s = d.subset(Array(0..<n))
        s.name = d.name
        return s
    }

    /// The images named by `--data` (Fashion-MNIST by default), recorded in the report.
    public func images() throws -> (train: TensorDataset, test: TensorDataset, side: Int) {
        let name = dataName("fashion-mnist")
        report.data.append(name)
        return try images(name)
    }

    /// Images for the image entries: Fashion-MNIST (28×28) or the built-in digits (8×8),
    /// with pixels in [0, 1] and the shape `[N, 1, H, W]` kept.
    ///
    /// The images must be square, and for `--arch conv` their side a multiple of 4. The digits'
    /// 80/20 split is fixed (seed 0), whatever `--seed`.
    public func images(_ name: String) throws -> (train: TensorDataset, test: TensorDataset, side: Int) {
        var train: TensorDataset, test: TensorDataset
        switch name {
        case "fashion-mnist":
            (train, test) = try Datasets.fashionMNIST(directory: options.fashionDirectory)
        case "digits":
            let all = try Datasets.digits()
            let parts = all.split([0.8, 0.2], generator: RandomGenerator(seed: 0))
            // The digits' pixels are 0…16: scaled to [0, 1] like Fashion-MNIST's.
            train = parts[0]; test = parts[1]
            train.inputs = (train.inputs / 16).reshaped([train.count, 1, 8, 8])
            test.inputs = (test.inputs / 16).reshaped([test.count, 1, 8, 8])
        default:
            throw ZooError("'\(name)' is not an image data set (fashion-mnist or digits)")
        }
        let shape = train.inputShape
        guard shape.count == 3, shape[0] == 1, shape[1] == shape[2], shape[1] > 0 else {
            throw ZooError("\(name): the image entries need square one-channel images, got \(shape.map(String.init).joined(separator: "×")) per image")
        }
        if options.architecture == .conv, shape[1] % 4 != 0 {
            throw ZooError("\(name): --arch conv halves the image twice and needs a side that is a multiple of 4, got \(shape[1])")
        }
        return (limited(train), limited(test), shape[1])
    }

    /// Writes `metrics.json`: the entry, data, metrics, targets, files and time.
    func writeMetrics() throws {
        let p = path("metrics.json")
        report.files.append(p)
        // JSON has no NaN or infinity: such a metric is written as a string ("nan").
        let object: [String: Any] = [
            "entry": report.entry, "data": report.data, "seconds": (report.seconds * 10).rounded() / 10,
            "metrics": report.metrics.mapValues { $0.isFinite ? $0 as Any : "\($0)" as Any },
            "targets": report.targets.map { ["target": $0.target, "met": $0.met] },
            "files": report.files.map { ($0 as NSString).lastPathComponent },
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try atomicWrite(data, to: p)
    }
}
