import ArgumentParser
import Foundation
import Nabla

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a saved model on new inputs: one prediction per line.",
        discussion: """
        The input is a CSV file with a header row and one example per row (numeric columns, \
        as many as the model has input features), or an IDX file (gzipped or not) of images. \
        Classification models print the predicted class, regression models the predicted \
        value(s).

        Examples:
          nabla predict --load model.safetensors --input new.csv
          nabla predict --load fm.safetensors --input t10k-images-idx3-ubyte.gz --json
        """)

    @Option(help: ArgumentHelp("Model file written by `nabla train --save`.", valueName: "path"))
    var load: String

    @Option(help: ArgumentHelp("CSV (with header) or IDX file of inputs.", valueName: "path"))
    var input: String

    @Flag(help: "Print one JSON object per line, with class probabilities for classifiers.")
    var json = false

    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let limits = try resources.limits()
        guard FileManager.default.isReadableFile(atPath: load) else { throw CLIError("\(load): model file not found or not readable") }
        guard FileManager.default.isReadableFile(atPath: input) else { throw CLIError("\(input): input file not found or not readable") }
        let contents = try ModelFile.load(load, limits: limits)
        let info = try Checkpoint.info(from: contents, path: load)
        let features = contents.spec.input.reduce(1, *)
        var x: Tensor
        if try isIDX(input) {
            let a = try IDXArray.read(contentsOf: input)
            let n = a.shape.first ?? 0
            let per = a.shape.dropFirst().reduce(1, *)
            guard per == features else {
                throw CLIError("\(input): each IDX example has \(per) values (shape \(Array(a.shape.dropFirst()))) but the model takes \(features)")
            }
            x = Tensor(a.values, shape: [n, per])
        } else {
            let csv = try CSV.readFeatures(contentsOf: input)
            x = try columnsForModel(csv, info: info, features: features)
        }
        do { x = try info.preprocessing.prepare(x, for: contents.spec.input, source: input) } catch let e as DataShapeError {
            throw CLIError("\(load): the model does not fit the input: \(e.message)")
        }
        let model = contents.model.eval()
        let out = withoutGrad { model(x) }
        var lines: [String] = []
        if info.task == .classification {
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

    /// The CSV's values in the model's column order.
    ///
    /// With the training columns' names stored in the model, columns are matched by name
    /// (any order; the training target may be present and is ignored); missing or unknown
    /// columns are an error naming them. Without stored names, columns are matched by
    /// position, and stderr says so.
    func columnsForModel(_ csv: CSVFeatures, info: ModelInfo, features: Int) throws -> Tensor {
        func list(_ names: [String]) -> String {
            names.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 8 ? ", …" : "")
        }
        guard let wanted = info.featureNames else {
            guard csv.featureCount == features else {
                throw CLIError("\(input): has \(csv.featureCount) columns (\(list(csv.featureNames))) but the model takes \(features) features")
            }
            FileHandle.standardError.write(Data("note: \(load) stores no column names; matching the \(features) columns of \(input) by position\n".utf8))
            return Tensor(csv.features, shape: [csv.rows, features])
        }
        let position = Dictionary(csv.featureNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let missing = wanted.filter { position[$0] == nil }
        let extra = csv.featureNames.filter { !wanted.contains($0) && $0 != info.targetName }
        if !missing.isEmpty || !extra.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing column\(missing.count == 1 ? "" : "s") \(list(missing))") }
            if !extra.isEmpty { parts.append("unknown column\(extra.count == 1 ? "" : "s") \(list(extra))") }
            throw CLIError("\(input): \(parts.joined(separator: " and ")); the model was trained on \(list(wanted))")
        }
        if csv.featureNames.count != Set(csv.featureNames).count {
            throw CLIError("\(input): a column name appears twice in the header")
        }
        let order = wanted.map { position[$0]! }
        if order == Array(0..<features) && csv.featureCount == features {
            return Tensor(csv.features, shape: [csv.rows, features])
        }
        var values = [Float](repeating: 0, count: csv.rows * features)
        let width = csv.featureCount
        for r in 0..<csv.rows {
            for (j, c) in order.enumerated() { values[r * features + j] = csv.features[r * width + c] }
        }
        return Tensor(values, shape: [csv.rows, features])
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
