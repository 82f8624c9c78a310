import ArgumentParser
import Foundation
import Nabla

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Overlay the training curves of several runs in one SVG.",
        discussion: """
        Reads histories written by `nabla train --history FILE` (.csv or .json) or the
        NAME.history.jsonl beside a checkpoint. Training curves are solid, validation
        curves dashed, one colour per run.

        Examples:
          nabla plot adam.csv sgd.csv --out loss.svg
          nabla plot adam.csv sgd.csv --metric accuracy --out accuracy.svg
          nabla plot a.json b.json --names "lr 0.01","lr 0.001" --time --out curves.svg
        """)

    @Argument(help: ArgumentHelp("History files (.csv, .json or .history.jsonl).", valueName: "history"))
    var histories: [String] = []

    @Option(help: "What to plot: loss, accuracy or lr.")
    var metric: String = "loss"

    @Option(help: ArgumentHelp("Names of the runs in the legend, comma-separated (default: the file names).", valueName: "names"))
    var names: String?

    @Flag(help: "Plot against seconds of training instead of epochs.")
    var time = false

    @Option(help: ArgumentHelp("Output SVG file.", valueName: "path"))
    var out: String

    func run() throws {
        guard !histories.isEmpty else { throw CLIError("plot: give at least one history file") }
        guard HistoryPlot.metrics.contains(metric) else {
            throw CLIError("--metric '\(metric)': use \(HistoryPlot.metrics.joined(separator: ", "))")
        }
        guard (out as NSString).pathExtension.lowercased() == "svg" else { throw CLIError("--out \(out): plot writes SVG; name the file .svg") }
        let labels = names.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
            ?? histories.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        guard labels.count == histories.count else {
            throw CLIError("--names gives \(labels.count) names for \(histories.count) history files")
        }
        for h in histories where sameFile(h, out) { throw CLIError("--out \(out) is the input \(h); writing it would destroy the input") }
        let runs = try zip(labels, histories).map { (name: $0, history: try HistoryPlot.read(contentsOf: $1)) }
        if metric == "accuracy", !runs.contains(where: { $0.history.epochs.contains { $0.trainAccuracy != nil || $0.validationAccuracy != nil } }) {
            throw CLIError("--metric accuracy: no accuracy in these histories (regression runs?); use --metric loss")
        }
        let plot = HistoryPlot.overlay(runs, metric: metric, againstTime: time)
        try atomicWrite(Data(plot.svg().utf8), to: out)
        print("wrote \(out)")
    }
}
