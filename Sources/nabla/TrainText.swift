import ArgumentParser
import Foundation
import Nabla

/// `nabla train --data text[:PATH]`: a character language model.
extension Train {
    /// The default character model when no `--model` is given: embedding 64 → LSTM 256 →
    /// linear to the vocabulary, on sequences of `length` characters.
    static func defaultCharModel(length: Int, vocabulary: Int) -> ModelSpec {
        ModelSpec(input: [length], layers: [
            LayerSpec("embedding", ["vocab": .int(vocabulary), "dim": 64]),
            LayerSpec("lstm", ["hidden": 256]),
            LayerSpec("linear", ["out": .int(vocabulary)]),
        ])
    }

    /// The text file a `text` or `text:PATH` data name stands for.
    static func textPath(_ data: String) throws -> (path: String, name: String) {
        if data == "text" {
            guard let url = TextCorpus.builtinURL else {
                throw CLIError("the built-in text corpus (Jargon File 4.4.7) is missing from the NablaData resource bundle")
            }
            return (url.path, "jargon")
        }
        let path = String(data.dropFirst(5))
        guard !path.isEmpty else { throw CLIError("--data text:PATH needs a path after 'text:' (or use --data text for the built-in corpus)") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw CLIError("\(path): file not found or not readable") }
        return (path, URL(fileURLWithPath: path).lastPathComponent)
    }

    /// Reads and splits a text data set (with a stored vocabulary when resuming).
    static func loadCorpus(_ data: String, vocabulary: [Unicode.Scalar]?, limits: ResourceLimits) throws -> TextCorpus {
        let (path, name) = try textPath(data)
        do {
            let text = try TextCorpus.readText(path: path, limits: limits)
            return try TextCorpus(text: text, name: name, vocabulary: vocabulary)
        } catch let e as DataFileError {
            throw CLIError(e.description)
        }
    }

    func runText(dataUsed: String, limits: ResourceLimits, restored: ModelFile.Contents?, storedInfo: ModelInfo?,
                 split: DataSplit, started: Date) throws {
        if let s = seqLen, s < 1 { throw CLIError("--seq-len must be positive, got \(s)") }
        let seed = split.seed
        let corpus = try Train.loadCorpus(dataUsed, vocabulary: storedInfo?.vocabulary, limits: limits)
        let length = seqLen ?? storedInfo?.sequenceLength ?? 100
        let V = corpus.vocabulary.count
        let train = try corpus.examples(corpus.train, sequenceLength: length, splitName: "training")
        let validationSet = split.validationFraction == 0 ? nil : try corpus.examples(corpus.validation, sequenceLength: length, splitName: "validation")
        let test = try corpus.examples(corpus.test, sequenceLength: length, splitName: "test")

        var spec: ModelSpec
        if let contents = restored {
            spec = contents.spec
        } else if let file = model {
            spec = try ModelSpec.read(contentsOf: file, vocabulary: V)
        } else {
            spec = Train.defaultCharModel(length: length, vocabulary: V)
        }
        spec.input = [length]   // the sequence length belongs to the data, not the architecture
        let out: [Int]
        do { out = try spec.outputShape() } catch let e as ModelSpecError { throw CLIError("\(model ?? resume ?? "the architecture"): \(e.message)") }
        guard out == [length, V] else {
            throw CLIError("\(model ?? resume ?? "the architecture"): a character model must map [\(length)] character indices to [\(length), \(V)] logits (one per character of the vocabulary at every step); it gives \(out)\(restored == nil ? " (write the vocabulary size as V, as in {type: linear, out: V})" : "")")
        }
        var info = storedInfo ?? ModelInfo(task: .classification, classCount: V, loss: .crossEntropy, preprocessing: .none,
                                           dataName: dataUsed, split: split)
        info.split = split
        info.dataName = storedDataName(dataUsed, modelPath: save ?? resume)
        info.vocabulary = corpus.vocabulary
        info.sequenceLength = length
        info.classCount = V
        let net: Module
        if let contents = restored {
            net = contents.model
        } else {
            try checkTrainingMemory(spec, batchSize: batchSize, limits: limits)
            net = try spec.build(generator: RandomGenerator(seed: seed), limits: limits)
        }
        let opt = try makeOptimizer(net.parameters())
        let trainer = Trainer(model: net, optimizers: [opt], step: .languageModel(net), seed: seed)
        trainer.clipNorm = clipNorm ?? 5
        trainer.earlyStoppingPatience = patience
        trainer.progress = ProgressReporter(style: quiet ? .silent : nil)
        switch lrSchedule {
        case "constant": break
        case "cosine": trainer.scheduler = LRScheduler(opt, CosineAnnealingLR(tMax: epochs))
        default: throw CLIError("--lr-schedule \(lrSchedule): unknown schedule; use constant or cosine")
        }
        if let contents = restored, let path = resume {
            try Checkpoint.restore(trainer, from: contents, path: path)
        }
        var message = "training a character model (\(net.parameterCount) parameters) on \(corpus.name): \(V) characters, sequences of \(length); \(train.count) training, \(validationSet?.count ?? 0) validation, \(test.count) test sequences; loss in nats per character, bpc in bits"
        if corpus.unknownDropped > 0 { message += "; \(corpus.unknownDropped) characters of the validation and test text are not in the training text and were dropped" }
        let epochsBefore = trainer.completedEpochs
        let fitStart = Date()
        try fitSavingCheckpoints(trainer, spec: spec, info: info, train: train, validation: validationSet, message: message)
        let fitSeconds = Date().timeIntervalSince(fitStart)
        if let path = history { try trainer.history.write(to: path) }
        let m = try trainer.evaluate(test)
        let bpc = m.extra["bpc"] ?? m.loss / log(2)
        let seconds = Date().timeIntervalSince(started)
        let chars = Double(train.count * length * (trainer.completedEpochs - epochsBefore))
        print(String(format: "test loss %.4f nats/char (%.4f bits/char, next-character accuracy %.4f) on %d characters after %d epochs, %.1f s (%.0f chars/s)",
                     m.loss, bpc, m.extra["char_accuracy"] ?? .nan, test.count * length, trainer.completedEpochs, seconds,
                     chars / Swift.max(fitSeconds, 1e-9)))
        if let path = save { print("saved model to \(path)") }
        if json {
            var o: [String: Any] = ["test_loss": r6(m.loss), "test_bpc": r6(bpc), "epochs": trainer.completedEpochs, "seconds": r6(seconds),
                                    "train_sequences": train.count, "test_characters": test.count * length, "vocabulary": V,
                                    "parameters": net.parameterCount, "data": dataUsed, "gemm": Backend.gemmPath.rawValue]
            if let a = m.extra["char_accuracy"] { o["test_char_accuracy"] = r6(a) }
            if let last = trainer.history.epochs.last {
                o["final_train_loss"] = r6(last.trainLoss)
                if let v = last.validationLoss { o["final_validation_loss"] = r6(v); o["final_validation_bpc"] = r6(v / log(2)) }
            }
            try printJSON(o)
        }
    }
}
