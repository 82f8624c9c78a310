import Foundation
import NablaTraining

/// A history file that cannot be read: which file, which line, what is wrong.
public struct HistoryFileError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// The file.
    public let path: String
    /// What is wrong, and where.
    public let message: String
    /// `path: message`.
    public var description: String { "\(path): \(message)" }
    /// The same as ``description``.
    public var errorDescription: String? { description }
}

/// Reading training histories back and overlaying several runs in one plot
/// (`nabla plot a.csv b.json --out curves.svg`).
public enum HistoryPlot {
    /// The metrics a plot can show.
    public static let metrics = ["loss", "accuracy", "lr"]

    /// Reads a history written by `--history` (`.csv` or a JSON array) or the
    /// `NAME.history.jsonl` beside a checkpoint (one JSON object a line).
    public static func read(contentsOf path: String) throws -> History {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HistoryFileError(path: path, message: "not found or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw HistoryFileError(path: path, message: "not UTF-8 text") }
        var h = History()
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            do { h.epochs = try JSONDecoder().decode([EpochRecord].self, from: Data(trimmed.utf8)) } catch {
                throw HistoryFileError(path: path, message: "not a history JSON array (\(Self.reason(error)))")
            }
        } else if trimmed.hasPrefix("{") {
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                do { h.epochs.append(try JSONDecoder().decode(EpochRecord.self, from: Data(line.utf8))) } catch {
                    throw HistoryFileError(path: path, message: "line \(i + 1): not a history record (\(Self.reason(error)))")
                }
            }
        } else {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
            guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init),
                  let ei = header.firstIndex(of: "epoch"), let li = header.firstIndex(of: "train_loss") else {
                throw HistoryFileError(path: path, message: "line 1: not a history CSV (needs the columns epoch and train_loss)")
            }
            func col(_ name: String) -> Int? { header.firstIndex(of: name) }
            for (n, line) in lines.dropFirst().enumerated() {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard cells.count == header.count else {
                    throw HistoryFileError(path: path, message: "line \(n + 2): \(cells.count) cells but the header has \(header.count)")
                }
                func num(_ i: Int?) throws -> Double? {
                    guard let i, !cells[i].isEmpty else { return nil }
                    guard let v = Double(cells[i]) else {
                        throw HistoryFileError(path: path, message: "line \(n + 2), column \(header[i]): '\(cells[i])' is not a number")
                    }
                    return v
                }
                guard let epoch = Int(cells[ei]) else {
                    throw HistoryFileError(path: path, message: "line \(n + 2), column epoch: '\(cells[ei])' is not an integer")
                }
                h.epochs.append(EpochRecord(epoch: epoch, trainLoss: try num(li) ?? .nan, trainAccuracy: try num(col("train_accuracy")),
                                            validationLoss: try num(col("val_loss")), validationAccuracy: try num(col("val_accuracy")),
                                            validationMAE: try num(col("val_mae")), learningRate: try num(col("lr")) ?? .nan,
                                            seconds: try num(col("seconds")) ?? .nan, samplesPerSecond: try num(col("samples_per_second")) ?? .nan))
            }
        }
        guard !h.epochs.isEmpty else { throw HistoryFileError(path: path, message: "holds no epochs") }
        return h
    }

    static func reason(_ error: Error) -> String {
        if case let DecodingError.keyNotFound(key, _) = error { return "no '\(key.stringValue)'" }
        if case let DecodingError.typeMismatch(_, c) = error { return c.debugDescription }
        if case let DecodingError.dataCorrupted(c) = error { return c.debugDescription }
        return "\(error)"
    }

    /// One plot of `metric` (`loss`, `accuracy` or `lr`) for every run: training solid,
    /// validation dashed, one colour per run; x is the epoch, or seconds of training when
    /// `againstTime`.
    public static func overlay(_ runs: [(name: String, history: History)], metric: String, againstTime: Bool = false) -> LinePlot {
        let yLabel = metric == "lr" ? "learning rate" : metric
        let allPositive = runs.allSatisfy { $0.history.epochs.allSatisfy { $0.trainLoss > 0 && ($0.validationLoss ?? 1) > 0 } }
        var p = LinePlot(title: metric == "lr" ? "Learning rate" : metric.capitalized, xLabel: againstTime ? "seconds of training" : "epoch",
                         yLabel: yLabel, logY: metric == "loss" && allPositive)
        p.legendBottom = metric == "accuracy"
        for (k, run) in runs.enumerated() {
            let color = LinePlot.palette[k % LinePlot.palette.count]
            var elapsed = 0.0
            let xs = run.history.epochs.map { r -> Double in
                elapsed += r.seconds.isFinite ? r.seconds : 0
                return againstTime ? elapsed : Double(r.epoch)
            }
            func series(_ value: (EpochRecord) -> Double?) -> [(x: Double, y: Double)] {
                zip(xs, run.history.epochs).compactMap { x, r in value(r).map { (x: x, y: $0) } }
            }
            switch metric {
            case "accuracy":
                let t = series { $0.trainAccuracy }, v = series { $0.validationAccuracy }
                if !t.isEmpty { p.add("\(run.name) training", points: t, color: color) }
                if !v.isEmpty { p.add("\(run.name) validation", points: v, dashed: true, color: color) }
            case "lr":
                p.add(run.name, points: series { $0.learningRate }, color: color)
            default:
                p.add("\(run.name) training", points: series { $0.trainLoss }, color: color)
                let v = series { $0.validationLoss }
                if !v.isEmpty { p.add("\(run.name) validation", points: v, dashed: true, color: color) }
            }
        }
        return p
    }
}
