import ArgumentParser
import Foundation
import Nabla

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a saved model on the test split of a data set.",
        discussion: """
        The test split is drawn exactly as `nabla train` drew it: the seed, test fraction and \
        CSV target stored in the model file are the defaults, so the model is evaluated on \
        examples it never saw. The input \
        scaling fitted during training is read from the model file.

        Examples:
          nabla evaluate --load model.safetensors
          nabla evaluate --load fm.safetensors --data fashion-mnist --json
          nabla evaluate --load price.safetensors --data csv:houses.csv --target price
        """)

    @Option(help: ArgumentHelp("Model file written by `nabla train --save`.", valueName: "path"))
    var load: String

    @OptionGroup var dataOptions: DataOptions

    @Option(parsing: .unconditional, help: "Seed of the train/test split (default: the one stored in the model file).")
    var seed: UInt64?

    @Flag(help: "Print a JSON object on the last line.")
    var json = false

    @OptionGroup var resources: ResourceOptions

    func run() throws {
        let limits = try resources.limits()
        guard FileManager.default.isReadableFile(atPath: load) else { throw CLIError("\(load): model file not found or not readable") }
        let contents = try ModelFile.load(load, limits: limits, keepExtraTensors: false)
        let info = try Checkpoint.info(from: contents, path: load)
        if info.isLanguageModel {
            // A character model: its loss on the test part of its text (or --data text:PATH).
            let data = try dataOptions.data ?? suggestedData(info.dataName, modelPath: load)
            guard data == "text" || data.hasPrefix("text:") else {
                throw CLIError("\(load): a character model is evaluated on text; use --data text or text:PATH")
            }
            let corpus = try Train.loadCorpus(data, vocabulary: info.vocabulary, limits: limits)
            let length = info.sequenceLength ?? contents.spec.input.first ?? 100
            let test = try corpus.examples(corpus.test, sequenceLength: length, splitName: "test")
            let m = try Trainer.evaluate(contents.model, test, batchSize: 256, TrainingStep.languageModel(contents.model).validate!)
            let bpc = m.extra["bpc"] ?? m.loss / log(2)
            print(String(format: "test loss %.4f nats/char (%.4f bits/char, next-character accuracy %.4f) on %d characters",
                         m.loss, bpc, m.extra["char_accuracy"] ?? .nan, test.count * length))
            if json { try printJSON(["test_loss": r6(m.loss), "test_bpc": r6(bpc), "test_characters": test.count * length]) }
            return
        }
        var (train, test, _) = try dataOptions.load(seed: seed ?? info.split.seed, defaultTask: info.task,
                                                    defaultData: dataOptions.data == nil ? try suggestedData(info.dataName, modelPath: load) : "digits",
                                                    testFraction: dataOptions.testFraction ?? info.split.testFraction,
                                                    target: dataOptions.target ?? info.split.target, limits: limits)
        // Labels the model cannot predict anywhere in the data mean the wrong data or model,
        // even when they happen to fall in the training split.
        test = try matchColumns(test, to: info, model: load)
        try checkOutputs(contents.spec, test, info, model: load)
        try checkLabels(train, info)
        try checkLabels(test, info)
        let spec = contents.spec
        do { test = try info.preprocessing.prepare(test, for: spec.input) } catch let e as DataShapeError {
            throw CLIError("\(load): the model does not fit the data: \(e.message)")
        }
        let m = Trainer.evaluate(contents.model, test, loss: info.loss)
        if let a = m.accuracy {
            print(String(format: "test accuracy %.4f (loss %.4f) on %d examples", a, m.loss, m.count))
        } else {
            print(String(format: "test loss %.6f (MAE %.6f) on %d examples", m.loss, m.mae ?? Double.nan, m.count))
        }
        if json {
            var o: [String: Any] = ["test_loss": r6(m.loss), "test_examples": m.count]
            if let a = m.accuracy { o["test_accuracy"] = r6(a) }
            if let e = m.mae { o["test_mae"] = r6(e) }
            try printJSON(o)
        }
    }
}
