import ArgumentParser
import Foundation
import Nabla

// `nabla train --report DIR`: the glue between a finished run and NablaViz's report.
extension Train {
    /// Refuses a --report folder that cannot be made or written, before any training.
    func checkReportFolder() throws {
        guard let dir = report else { return }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError("--report \(dir): exists and is not a folder") }
            guard FileManager.default.isWritableFile(atPath: dir) else { throw CLIError("--report \(dir): the folder is not writable") }
        } else {
            let parent = (dir as NSString).deletingLastPathComponent
            let p = parent.isEmpty ? "." : parent
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else {
                throw CLIError("--report \(dir): the parent folder \(p) does not exist")
            }
            guard FileManager.default.isWritableFile(atPath: p) else { throw CLIError("--report \(dir): the parent folder \(p) is not writable") }
        }
    }

    /// Writes the report of a finished run into `--report`'s folder.
    func writeReport(trainer: Trainer, spec: ModelSpec, train: TensorDataset, test: TensorDataset, metrics: Metrics) throws {
        guard let dir = report else { return }
        let net = trainer.model
        var r = TrainingReport(title: "nabla train — \(train.name)",
                               commandLine: (["nabla"] + CommandLine.arguments.dropFirst()).map(Train.shellQuoted).joined(separator: " "),
                               history: trainer.history)
        r.summary = try? spec.summary()
        if let a = metrics.accuracy { r.results.append(("test accuracy", String(format: "%.4f", a))) }
        r.results.append(("test loss", String(format: "%.4f", metrics.loss)))
        if let mae = metrics.mae { r.results.append(("test MAE", String(format: "%.4f", mae))) }
        r.results.append(("epochs", String(trainer.completedEpochs)))
        r.results.append(("parameters", String(net.parameterCount)))
        if let classes = train.classCount {
            let outputs = Train.outputs(net, test.inputs)
            var counts = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
            let predicted = Train.classes(outputs), truth = test.targets.doubles
            for (p, t) in zip(predicted, truth) {
                let ti = Int(t)
                if ti >= 0, ti < classes, p >= 0, p < classes { counts[ti][p] += 1 }
            }
            r.confusion = counts
            if train.inputShape == [2], train.count > 0 {
                let n = Swift.min(train.count, 1000)
                let x = train.inputs.slice(axis: 0, 0, n).doubles, y = train.targets.slice(axis: 0, 0, n).doubles
                let points = (0..<n).map { (x: x[2 * $0], y: x[2 * $0 + 1], label: Int(y[$0])) }
                r.decisionBoundary = HeatMap.decisionBoundary(points: points) { grid in
                    let t = Tensor(grid.flatMap { [$0.0, $0.1] }, shape: [grid.count, 2]).to(train.inputs.dtype)
                    let out = Train.outputs(net, t)
                    return zip(Train.classes(out), Train.confidences(out)).map { ($0, $1) }
                }
            }
        }
        try r.write(to: dir)
        if !quiet { print("wrote the report to \(dir)/index.html") }
    }

    /// The model's outputs for `inputs`, in evaluation mode, 1,024 rows at a time.
    static func outputs(_ net: Module, _ inputs: Tensor) -> Tensor {
        let wasTraining = net.isTraining
        net.eval()
        defer { net.train(wasTraining) }
        let n = inputs.shape.first ?? 0
        var parts: [Tensor] = []
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 1024)
            parts.append(withoutGrad { net(inputs.slice(axis: 0, start, end)) })
            start = end
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 0)
    }

    /// Predicted classes: the arg-max of each row, or output > 0 for a single logit.
    static func classes(_ outputs: Tensor) -> [Int] {
        if outputs.rank == 2, outputs.shape[1] > 1 { return outputs.argmax(axis: 1).doubles.map { Int($0) } }
        return outputs.doubles.map { $0 > 0 ? 1 : 0 }
    }

    /// The predicted class's probability for each row.
    static func confidences(_ outputs: Tensor) -> [Double] {
        if outputs.rank == 2, outputs.shape[1] > 1 {
            let p = outputs.softmax(axis: 1), k = outputs.shape[1]
            let v = p.doubles
            return (0..<outputs.shape[0]).map { i in v[(i * k)..<((i + 1) * k)].max() ?? 0 }
        }
        return outputs.doubles.map { let q = 1 / (1 + Foundation.exp(-$0)); return Swift.max(q, 1 - q) }
    }

    /// `s` quoted for a POSIX shell when it needs it.
    static func shellQuoted(_ s: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+")
        if !s.isEmpty, s.unicodeScalars.allSatisfy(safe.contains) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
