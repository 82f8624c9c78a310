import ArgumentParser
import Foundation
import Nabla

/// Options that choose a data set, shared by train and evaluate.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data set: digits (default), fashion-mnist, csv:PATH, text (the built-in corpus) or text:PATH (a character model), or a synthetic one (\(Synthetic.names.joined(separator: ", "))).", valueName: "name"))
    var data: String?

    @Option(help: ArgumentHelp("Directory holding the Fashion-MNIST IDX files.", valueName: "dir"))
    var dataDir: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("CSV target column, by name or index (negative counts from the end, as in --target -1; default: the last).", valueName: "column"))
    var target: String?

    @Option(help: ArgumentHelp("For CSV data: classification or regression (default: from --loss, else classification).", valueName: "task"))
    var task: TaskKind?

    @Option(help: "Fraction of the data held out for testing when the data set has no test split (default 0.2, or the model's).")
    var testFraction: Double?

    /// Train and test splits (raw inputs; preprocessing is applied by the caller) and the
    /// preprocessing a new model should fit.
    func load(seed: UInt64, defaultTask: TaskKind?, defaultData: String = "digits", testFraction: Double? = nil,
              target: String? = nil, limits: ResourceLimits = .standard) throws -> (train: TensorDataset, test: TensorDataset, scaling: ScalingKind) {
        let data = self.data ?? defaultData
        let testFraction = testFraction ?? self.testFraction ?? 0.2
        let target = target ?? self.target
        guard testFraction > 0 && testFraction < 1 else { throw CLIError("--test-fraction must be between 0 and 1, got \(testFraction)") }
        if data == "fashion-mnist" {
            let (tr, te) = try Datasets.fashionMNIST(directory: dataDir, scaled: false, limits: limits)
            return (tr, te, .pixels)
        }
        let all: TensorDataset
        var scaling = ScalingKind.standardize
        if data == "digits" {
            all = try Datasets.digits()
        } else if data.hasPrefix("csv:") {
            let path = String(data.dropFirst(4))
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CLIError("\(path): file not found or not readable\(self.data == nil ? " (the data set named in the model file; --data overrides it)" : "")")
            }
            let t: CSVTarget
            if let s = target { t = Int(s).map { .index($0) } ?? .name(s) } else { t = .index(-1) }
            all = try Datasets.csv(path: path, target: t, task: task ?? defaultTask ?? .classification)
        } else if let d = Synthetic.named(data, seed: seed) {
            all = d
            if data == "parity" { scaling = .none }
        } else {
            throw CLIError("unknown data set '\(data)'; use digits, fashion-mnist, csv:PATH or one of \(Synthetic.names.joined(separator: ", "))")
        }
        do {
            let (train, test) = try DataSplit(seed: seed, testFraction: testFraction).trainTest(all)
            return (train, test, scaling)
        } catch let e as DataSplitError {
            throw CLIError("\(data): \(e.description)")
        }
    }
}

/// The memory limit for models and data read from files or the command line.
struct ResourceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse a model or data set that would need more memory than this (e.g. 512M, 16G).", valueName: "size"))
    var maxMemory: String = "4G"

    /// The parsed limit.
    func limits() throws -> ResourceLimits {
        guard let b = ResourceLimits.parseSize(maxMemory) else {
            throw CLIError("--max-memory: '\(maxMemory)' is not a size (examples: 512M, 4G, 1.5GiB, 1000000)")
        }
        return ResourceLimits(maxBytes: b)
    }
}

/// The data set a model file suggests, made safe to use without the user's `--data`.
///
/// A model file is input from anyone. It may name a built-in or synthetic data set, or a
/// CSV file *relative to the model file's folder* and inside it; any other path (absolute,
/// or leaving the folder with `..`) is refused with a message saying how to pass it
/// explicitly, so that handing `nabla evaluate` a stranger's model never reads other files.
func suggestedData(_ stored: String, modelPath: String) throws -> String {
    let kind = stored.hasPrefix("csv:") ? "csv:" : stored.hasPrefix("text:") ? "text:" : nil
    guard let kind else { return stored.isEmpty ? "digits" : stored }
    let path = String(stored.dropFirst(kind.count))
    let parts = path.split(separator: "/", omittingEmptySubsequences: true)
    guard !path.hasPrefix("/"), !path.hasPrefix("~"), !parts.contains(".."), !path.isEmpty else {
        throw CLIError("\(modelPath): the model names its data as \(stored), outside the model file's folder; a model file cannot make nabla read that file, so pass --data yourself (--data overrides the stored name)")
    }
    // Resolve symbolic links on both sides: a link inside the folder must not lead out of it.
    let folder = URL(fileURLWithPath: modelPath).deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath()
    let resolved = folder.appendingPathComponent(path).standardizedFileURL.resolvingSymlinksInPath()
    let prefix = folder.path.hasSuffix("/") ? folder.path : folder.path + "/"
    guard resolved.path.hasPrefix(prefix) else {
        throw CLIError("\(modelPath): the model names its data as \(stored), which leads outside the model file's folder through a symbolic link; a model file cannot make nabla read that file, so pass --data yourself")
    }
    return kind + resolved.path
}

/// The data name to store in a model file saved at `modelPath`: a CSV path relative to
/// the model file's folder when the CSV (or text file, `text:PATH`) is inside it (so the
/// pair can move together and `evaluate` works from any directory), else the absolute path,
/// which `evaluate` shows but will not open without `--data`.
func storedDataName(_ data: String, modelPath: String?) -> String {
    let kind = data.hasPrefix("csv:") ? "csv:" : data.hasPrefix("text:") ? "text:" : nil
    guard let kind, let modelPath else { return data }
    let file = URL(fileURLWithPath: String(data.dropFirst(kind.count))).standardizedFileURL.resolvingSymlinksInPath().path
    let folder = URL(fileURLWithPath: modelPath).deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath().path
    let prefix = folder.hasSuffix("/") ? folder : folder + "/"
    return kind + (file.hasPrefix(prefix) ? String(file.dropFirst(prefix.count)) : file)
}

/// A CSV data set's columns in the order a model was trained on, matched by name.
///
/// Data without names (built-in sets) or a model without stored names are returned as
/// they are; a column the model needs that the data lack, or one it does not know, is an
/// error naming both.
func matchColumns(_ d: TensorDataset, to info: ModelInfo, model: String) throws -> TensorDataset {
    guard let have = d.featureNames else { return d }
    guard let wanted = info.featureNames else {
        // A model trained on a CSV before names were stored: say that order decides.
        if info.dataName.hasPrefix("csv:") {
            FileHandle.standardError.write(Data("note: \(model) stores no column names; matching the columns of \(d.name) by position\n".utf8))
        }
        return d
    }
    guard wanted != have else { return d }
    var out = d
    out.inputs = d.inputs.indexSelect(axis: 1, try columnOrder(have: have, wanted: wanted, source: d.name))
    out.featureNames = wanted
    return out
}

/// For each of the model's columns `wanted`, its position among the data's columns `have`
/// (matched by name, in any order). A missing, unknown (other than `ignoring`, the training
/// target) or repeated column is an error naming it. The one matching rule of `predict`,
/// `evaluate` and `--resume`.
func columnOrder(have: [String], wanted: [String], ignoring: String? = nil, source: String) throws -> [Int] {
    func list(_ n: [String]) -> String { n.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (n.count > 8 ? ", …" : "") }
    let position = Dictionary(have.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    let missing = wanted.filter { position[$0] == nil }
    let extra = have.filter { !wanted.contains($0) && $0 != ignoring }
    if !missing.isEmpty || !extra.isEmpty {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing column\(missing.count == 1 ? "" : "s") \(list(missing))") }
        if !extra.isEmpty { parts.append("unknown column\(extra.count == 1 ? "" : "s") \(list(extra))") }
        throw CLIError("\(source): \(parts.joined(separator: " and ")); the model was trained on \(list(wanted))")
    }
    guard position.count == have.count else { throw CLIError("\(source): a column name appears twice in the header") }
    return wanted.map { position[$0]! }
}

/// Throws unless the model's output per example fits the data's targets: one axis of the
/// class count (1 for BCE) for classification, the target width for regression. Without
/// this a loss would trap on a rank-3 output or a width mismatch.
func checkOutputs(_ spec: ModelSpec, _ d: TensorDataset, _ info: ModelInfo, model: String) throws {
    let out = try spec.outputShape()
    let need: Int
    if info.task == .classification {
        need = info.loss == .bceLogits ? 1 : (info.classCount ?? out.last ?? 0)
    } else {
        need = d.targets.rank == 2 ? d.targets.shape[1] : 1
    }
    guard out == [need] else {
        throw CLIError("\(model): the architecture's output per example has shape \(out) but \(d.name) needs [\(need)] (\(info.task == .classification ? "one logit per class" : "one value per target column"))")
    }
}

/// Values one example produces across all layers of `spec` (input included), checked.
func activationValues(_ spec: ModelSpec) throws -> Int? {
    try spec.validated().reduce(Shape.checkedCount(spec.input)) { acc, shape in
        acc.flatMap { CheckedSize.sum($0, Shape.count(shape)) }
    }
}

/// Throws unless training `spec` fits `limits`: the weights, their gradients and two
/// optimizer moments (16 bytes per parameter), plus the activations and their gradients
/// of the larger of a training batch and an evaluation batch (1,024 examples), 8 bytes
/// per value. A class label of 10⁷ with no hidden layer passes the parameter count alone
/// but not this.
func checkTrainingMemory(_ spec: ModelSpec, batchSize: Int, limits: ResourceLimits) throws {
    let count = try spec.parameterCount()
    let weights = CheckedSize.product(count, 4 * DType.float32.byteSize)
    let activations = try activationValues(spec).flatMap { CheckedSize.product($0, max(batchSize, 1024)) }.flatMap { CheckedSize.product($0, 8) }
    let total = weights.flatMap { w in activations.flatMap { CheckedSize.sum(w, $0) } }
    try limits.check(bytes: total, for: "training this architecture (\(count) parameters with gradients and optimizer state, and the activations of \(max(batchSize, 1024))-example batches)")
}

/// Whether two paths name one file: the same resolved path, or the same inode when both exist.
func sameFile(_ a: String, _ b: String) -> Bool {
    let ua = URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath()
    let ub = URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath()
    if ua.path == ub.path { return true }
    var sa = stat(), sb = stat()
    return stat(ua.path, &sa) == 0 && stat(ub.path, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

/// Throws unless `path` can be written: its folder exists and is writable, and it is not a folder.
func checkWritable(_ path: String, option: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw CLIError("\(option) \(path) is a folder, not a file")
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError("\(option) \(path): folder \(folder) does not exist")
    }
    // Create and remove a probe file, as the save will (permission bits alone say nothing for root).
    let probe = (folder as NSString).appendingPathComponent(".\(URL(fileURLWithPath: path).lastPathComponent).tmp-\(UUID().uuidString)")
    guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
        throw CLIError("\(option) \(path): cannot write in folder \(folder)")
    }
    try? FileManager.default.removeItem(atPath: probe)
}

extension ScalingKind: ExpressibleByArgument {}
extension TaskKind: ExpressibleByArgument {}
extension TrainingLoss: ExpressibleByArgument {}

/// Writes one JSON object as a line on stdout (NaN and infinities as `null`).
func printJSON(_ object: [String: Any]) throws {
    print(try JSONOutput.line(object))
}

/// Rounds for display in JSON.
func r6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
