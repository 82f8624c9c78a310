import ArgumentParser
import Foundation
import Nabla

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on new inputs: one prediction per line, or raw outputs to a file.",
        discussion: """
        The model is a file written by `nabla train --save` (--load), or an architecture \
        (--model, YAML or JSON) with weights from any safetensors file (--weights), such as a \
        PyTorch state_dict saved with safetensors.torch.save_file: names as in \
        torch.nn.Sequential (0.weight, 0.bias, …) or Nabla's layers.0.weight. Such a model \
        runs in evaluation mode on the inputs as they are (no scaling).

        The input is a .npy file (float32, float64 or int64, C order; the first axis is the \
        example), a CSV file with a header row (columns matched by name when the model stores \
        them), or an IDX file (gzipped or not) of images. Classification models print the \
        predicted class, others their output values. --output writes the raw outputs (logits \
        for a classifier) to a .npy or .csv file instead.

        Examples:
          nabla predict --load model.safetensors --input new.csv
          nabla predict --load fm.safetensors --input t10k-images-idx3-ubyte.gz --json
          nabla predict --model cnn.yaml --weights cnn.safetensors --input x.npy --output logits.npy
        """)

    @Option(help: ArgumentHelp("Model file written by `nabla train --save`.", valueName: "path"))
    var load: String?

    @Option(help: ArgumentHelp("Architecture file (YAML or JSON), with --weights.", valueName: "file"))
    var model: String?

    @Option(help: ArgumentHelp("Safetensors file of weights for --model (PyTorch state_dict names).", valueName: "path"))
    var weights: String?

    @Option(help: ArgumentHelp(".npy, CSV (with header) or IDX file of inputs.", valueName: "path"))
    var input: String

    @Option(help: ArgumentHelp("Write the raw outputs to this .npy or .csv file.", valueName: "path"))
    var output: String?

    @Flag(help: "Print one JSON object per line, with class probabilities for classifiers.")
    var json = false

    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let limits = try resources.limits()
        guard FileManager.default.isReadableFile(atPath: input) else { throw CLIError("\(input): input file not found or not readable") }
        if let out = output {
            guard out.hasSuffix(".npy") || out.hasSuffix(".csv") else { throw CLIError("--output \(out): the name must end in .npy or .csv") }
            for (name, path) in [("--input", input), ("--load", load), ("--model", model), ("--weights", weights)] {
                if let path, sameFile(out, path) { throw CLIError("--output \(out) is the \(name) file; writing it would destroy the input") }
            }
            try checkWritable(out, option: "--output")
        }
        let spec: ModelSpec, net: Module, info: ModelInfo?, modelName: String
        switch (load, model, weights) {
        case (let load?, nil, nil):
            guard FileManager.default.isReadableFile(atPath: load) else { throw CLIError("\(load): model file not found or not readable") }
            let contents = try ModelFile.load(load, limits: limits, keepExtraTensors: false)
            info = try Checkpoint.info(from: contents, path: load)
            spec = contents.spec; net = contents.model; modelName = load
        case (nil, let model?, let weights?):
            for p in [model, weights] where !FileManager.default.isReadableFile(atPath: p) { throw CLIError("\(p): file not found or not readable") }
            spec = try ModelSpec.read(contentsOf: model)
            net = try ModelFile.build(spec, weights: weights, limits: limits)
            info = nil; modelName = weights
        case (nil, _, _):
            throw CLIError("give --load MODEL.safetensors, or --model ARCH.yaml with --weights WEIGHTS.safetensors")
        default:
            throw CLIError("--load takes a model file written by nabla train; --model and --weights run an architecture with weights from elsewhere; give one or the other")
        }
        let features = Shape.count(spec.input)
        var x: Tensor
        if input.hasSuffix(".npy") {
            let a = try NPYArray.read(contentsOf: input, limits: limits)
            guard a.shape.count >= 1 else { throw CLIError("\(input): holds a scalar; the first axis must be the examples") }
            x = a.tensor().to(.float32)
        } else if try isIDX(input) {
            let a = try IDXArray.read(contentsOf: input, limits: limits)
            guard a.shape.count >= 1 else { throw CLIError("\(input): holds a scalar; the first axis must be the examples") }
            let n = a.shape[0]
            let per = Shape.count(Array(a.shape.dropFirst()))
            guard per == features else {
                throw CLIError("\(input): each IDX example has \(per) values (shape \(Array(a.shape.dropFirst()))) but the model takes \(features)")
            }
            x = Tensor(a.values, shape: [n, per])
        } else {
            let csv = try CSV.readFeatures(contentsOf: input)
            x = try columnsForModel(csv, info: info, features: features)
        }
        guard x.shape[0] > 0 else { throw CLIError("\(input): holds no examples") }
        // The whole input runs as one batch: its activations must fit too.
        try limits.check(bytes: try activationValues(spec).flatMap { CheckedSize.product($0, x.shape[0]) }.flatMap { CheckedSize.product($0, 4) },
                         for: "running \(x.shape[0]) examples through the model at once")
        do { x = try (info?.preprocessing ?? .none).prepare(x, for: spec.input, source: input) } catch let e as DataShapeError {
            throw CLIError("\(modelName): the model does not fit the input: \(e.message)")
        }
        let evalModel = net.eval()
        // The first layer says what is wrong with the input (a token outside the vocabulary).
        if let first = (evalModel as? Sequential)?.layers.first as? InputValidating, let message = first.validateInput(x) {
            throw CLIError("\(input): \(message)")
        }
        let out = withoutGrad { evalModel(x) }
        if let path = output {
            try writeOutputs(out, to: path)
            FileHandle.standardError.write(Data("wrote \(out.shape[0]) outputs of shape \(Array(out.shape.dropFirst())) to \(path)\n".utf8))
            return
        }
        var lines: [String] = []
        if let info, info.task == .classification {
            let classes = Trainer.predictedClasses(out)
            let probs: Tensor = out.shape.last == 1 || out.rank == 1 ? out.sigmoid() : out.softmax(axis: -1)
            let per = probs.count / Swift.max(classes.count, 1)
            for (i, c) in classes.enumerated() {
                if json {
                    let p = (0..<per).map { r6(probs.scalar(at: i * per + $0)) }
                    lines.append(try jsonLine(["index": i, "class": c, "probabilities": p]))
                } else {
                    lines.append(String(c))
                }
            }
        } else {
            let n = out.shape[0], per = out.count / Swift.max(n, 1)
            for i in 0..<n {
                let v = (0..<per).map { out.scalar(at: i * per + $0) }
                lines.append(json ? try jsonLine(["index": i, "prediction": per == 1 ? v[0] as Any : v as Any])
                                  : v.map { String($0) }.joined(separator: ","))
            }
        }
        print(lines.joined(separator: "\n"))
    }

    /// Writes the raw outputs `[N, …]` atomically: `.npy` keeps their shape and dtype, `.csv`
    /// has one row per example (columns `out0`, `out1`, …).
    func writeOutputs(_ out: Tensor, to path: String) throws {
        let bytes: [UInt8]
        if path.hasSuffix(".npy") {
            bytes = try NPYArray(shape: out.shape, values: out.doubles, dataType: out.dtype == .float64 ? .float64 : .float32).encoded()
        } else {
            let n = out.shape[0], per = out.count / Swift.max(n, 1)
            let v = out.doubles
            var text = (0..<per).map { "out\($0)" }.joined(separator: ",") + "\n"
            for i in 0..<n { text += (0..<per).map { out.dtype == .float32 ? Float(v[i * per + $0]).description : v[i * per + $0].description }.joined(separator: ",") + "\n" }
            bytes = Array(text.utf8)
        }
        try atomicWrite(Data(bytes), to: path)
    }

    /// The CSV's values in the model's column order.
    ///
    /// With the training columns' names stored in the model, columns are matched by name
    /// (any order; the training target may be present and is ignored); missing or unknown
    /// columns are an error naming them. Without stored names, columns are matched by
    /// position, and stderr says so.
    func columnsForModel(_ csv: CSVFeatures, info: ModelInfo?, features: Int) throws -> Tensor {
        guard let wanted = info?.featureNames else {
            guard csv.featureCount == features else {
                let shown = csv.featureNames.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (csv.featureCount > 8 ? ", …" : "")
                throw CLIError("\(input): has \(csv.featureCount) columns (\(shown)) but the model takes \(features) features")
            }
            if let load { FileHandle.standardError.write(Data("note: \(load) stores no column names; matching the \(features) columns of \(input) by position\n".utf8)) }
            return Tensor(csv.features, shape: [csv.rows, features])
        }
        let order = try columnOrder(have: csv.featureNames, wanted: wanted, ignoring: info?.targetName, source: input)
        let all = Tensor(csv.features, shape: [csv.rows, csv.featureCount])
        return order == Array(0..<csv.featureCount) ? all : all.indexSelect(axis: 1, order)
    }

    func isIDX(_ path: String) throws -> Bool {
        if path.hasSuffix(".csv") { return false }
        guard let h = FileHandle(forReadingAtPath: path) else { throw CLIError("\(path): cannot open") }
        defer { try? h.close() }
        let head = [UInt8](h.readData(ofLength: 4))
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { return !path.hasSuffix(".csv.gz") }
        return head.count == 4 && head[0] == 0 && head[1] == 0 && [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(head[2])
    }

    func jsonLine(_ o: [String: Any]) throws -> String { try JSONOutput.line(o) }
}
