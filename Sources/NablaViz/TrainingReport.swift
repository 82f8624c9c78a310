import Foundation
import NablaIO
import NablaTraining

/// A training run's report: a self-contained HTML page (no scripts, no external fonts or
/// files) with the loss and accuracy curves against epochs and seconds, the learning rate,
/// a confusion matrix, a decision boundary for 2-D data, the model summary and the command
/// line; each picture is also written beside it as an SVG file.
public struct TrainingReport: Sendable {
    /// The page's title.
    public var title: String
    /// The command line that made the run.
    public var commandLine: String
    /// The per-epoch history.
    public var history: History
    /// The model summary (a fixed-width table).
    public var summary: String?
    /// Final results to list (`test accuracy` → `0.9722`).
    public var results: [(name: String, value: String)] = []
    /// The test set's confusion matrix, `counts[true][predicted]`, for classification.
    public var confusion: [[Int]]?
    /// The decision boundary picture (``HeatMap/decisionBoundary(points:resolution:standalone:classOf:)``) for 2-D data.
    public var decisionBoundary: String?

    /// A report of `history`.
    public init(title: String, commandLine: String, history: History) {
        self.title = title; self.commandLine = commandLine; self.history = history
    }

    /// The pictures, by file name (`loss.svg`, …), in the order the page shows them.
    public func pictures() -> [(file: String, caption: String, svg: String)] {
        let e = history.epochs
        var elapsed = 0.0
        let time = e.map { r -> Double in elapsed += r.seconds.isFinite ? r.seconds : 0; return elapsed }
        var out: [(String, String, String)] = []
        func curves(_ title: String, _ y: String, _ x: String, xs: [Double],
                    _ train: (EpochRecord) -> Double?, _ val: (EpochRecord) -> Double?, logY: Bool = false) -> LinePlot? {
            var p = LinePlot(title: title, xLabel: x, yLabel: y, logY: logY)
            let t = zip(xs, e).compactMap { x, r in train(r).map { (x: x, y: $0) } }
            let v = zip(xs, e).compactMap { x, r in val(r).map { (x: x, y: $0) } }
            if !t.isEmpty { p.add("training", points: t) }
            if !v.isEmpty { p.add("validation", points: v, dashed: true) }
            p.legendBottom = y == "accuracy"
            return p.series.isEmpty ? nil : p
        }
        let epochs = e.map { Double($0.epoch) }
        let positive = e.allSatisfy { $0.trainLoss > 0 && ($0.validationLoss ?? 1) > 0 }
        if let p = curves("Loss", "loss", "epoch", xs: epochs, { $0.trainLoss }, { $0.validationLoss }, logY: positive && e.count > 1) {
            out.append(("loss.svg", "Loss against epochs", p.svg()))
        }
        if let p = curves("Accuracy", "accuracy", "epoch", xs: epochs, { $0.trainAccuracy }, { $0.validationAccuracy }) {
            out.append(("accuracy.svg", "Accuracy against epochs", p.svg()))
        }
        if let p = curves("Loss against time", "loss", "seconds of training", xs: time, { $0.trainLoss }, { $0.validationLoss }, logY: positive && e.count > 1) {
            out.append(("loss-time.svg", "Loss against seconds of training", p.svg()))
        }
        if let p = curves("Accuracy against time", "accuracy", "seconds of training", xs: time, { $0.trainAccuracy }, { $0.validationAccuracy }) {
            out.append(("accuracy-time.svg", "Accuracy against seconds of training", p.svg()))
        }
        var lr = LinePlot(title: "Learning rate", xLabel: "epoch", yLabel: "learning rate")
        lr.add("learning rate", points: zip(epochs, e).map { (x: $0, y: $1.learningRate) })
        out.append(("learning-rate.svg", "Learning rate per epoch", lr.svg()))
        if let c = confusion { out.append(("confusion.svg", "Confusion matrix on the test set", HeatMap.confusionMatrix(c))) }
        if let b = decisionBoundary { out.append(("decision-boundary.svg", "Decision boundary after training, with the training points", b)) }
        return out
    }

    /// The HTML page, with every picture inline.
    public func html() -> String {
        func esc(_ s: String) -> String { xmlEscape(s) }
        var body = "<h1>\(esc(title))</h1>\n"
        body += "<p class=\"cmd\"><code>\(esc(commandLine))</code></p>\n"
        if !results.isEmpty {
            body += "<table class=\"results\">\n" + results.map { "<tr><th>\(esc($0.name))</th><td>\(esc($0.value))</td></tr>" }.joined(separator: "\n") + "\n</table>\n"
        }
        body += "<div class=\"grid\">\n"
        for p in pictures() {
            // Inline the SVG without its XML declaration.
            let svg = p.svg.hasPrefix("<?xml") ? String(p.svg.drop { $0 != "\n" }.dropFirst()) : p.svg
            body += "<figure>\n\(svg)<figcaption>\(esc(p.caption)) (<a href=\"\(p.file)\">\(p.file)</a>)</figcaption>\n</figure>\n"
        }
        body += "</div>\n"
        if let s = summary { body += "<h2>Model</h2>\n<pre>\(esc(s))</pre>\n" }
        if !history.epochs.isEmpty {
            body += "<h2>History</h2>\n<table class=\"history\"><tr><th>epoch</th><th>train loss</th><th>train acc.</th><th>val. loss</th><th>val. acc.</th><th>lr</th><th>seconds</th></tr>\n"
            func c(_ v: Double?) -> String { v.map { GraphPicture.format($0) } ?? "" }
            for r in history.epochs {
                body += "<tr><td>\(r.epoch)</td><td>\(c(r.trainLoss))</td><td>\(c(r.trainAccuracy))</td><td>\(c(r.validationLoss))</td><td>\(c(r.validationAccuracy))</td><td>\(c(r.learningRate))</td><td>\(c(r.seconds))</td></tr>\n"
            }
            body += "</table>\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(esc(title))</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1240px; }
        h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
        .cmd code { background: #f3f3f3; padding: 4px 8px; border-radius: 4px; font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace; }
        .grid { display: flex; flex-wrap: wrap; gap: 12px; }
        figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 6px; }
        figcaption { font-size: 12px; color: #555; text-align: center; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: right; }
        .results th { text-align: left; }
        pre { background: #f7f7f7; padding: 10px; font-size: 12px; overflow-x: auto; }
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }

    /// Writes `index.html` and the SVG files into `directory` (created if missing), each
    /// through a temporary file and a rename.
    public func write(to directory: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw FileWriteError(path: directory, message: "not a directory (--report needs a folder)") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false) } catch {
                throw FileWriteError(path: directory, message: "cannot create the report folder (\(error.localizedDescription))")
            }
        }
        for p in pictures() { try atomicWrite(Data(p.svg.utf8), to: directory + "/" + p.file) }
        try atomicWrite(Data(html().utf8), to: directory + "/index.html")
    }
}
