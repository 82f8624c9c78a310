import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO
import NablaTraining
import NablaViz

extension Zoo {
    /// The three recurrent cells of the chart.
    public enum Cell: String, Sendable, CaseIterable {
        /// Elman's RNN (tanh).
        case rnn
        /// Long short-term memory.
        case lstm
        /// Gated recurrent unit.
        case gru

        /// A one-layer, batch-first recurrent layer of this cell.
        func layer(_ inputs: Int, _ hidden: Int, output: RecurrentOutput, generator: RandomGenerator) -> Module {
            switch self {
            case .rnn: return NablaNN.RNN(inputs, hidden, batchFirst: true, output: output, generator: generator)
            case .lstm: return NablaNN.LSTM(inputs, hidden, batchFirst: true, output: output, generator: generator)
            case .gru: return NablaNN.GRU(inputs, hidden, batchFirst: true, output: output, generator: generator)
            }
        }
    }

    /// An image classifier that reads the image row by row: `Reshape([side, side]) → cell(side
    /// → 128, last output) → Linear(128, 10)`.
    public static func rowReader(_ cell: Cell, side: Int, hidden: Int = 128, generator: RandomGenerator = .global) -> Sequential {
        Sequential {
            Reshape([side, side])
            cell.layer(side, hidden, output: .last, generator: generator)
            Linear(hidden, 10, generator: generator)
        }
    }

    /// A character model: `Embedding(V, 32) → cell(32 → 256, every step) → Linear(256, V)`.
    public static func characterModel(_ cell: Cell, vocabulary: Int, hidden: Int = 256, generator: RandomGenerator = .global) -> Sequential {
        Sequential {
            Embedding(vocabulary, 32, generator: generator)
            cell.layer(32, hidden, output: .sequence, generator: generator)
            Linear(hidden, vocabulary, generator: generator)
        }
    }

    /// The recurrent entries' recipe.
    ///
    /// Images: pixels standardised with the training set's mean and standard deviation, Adam
    /// 2·10⁻³ with cosine decay, gradients clipped to norm 5, batches of 128, 5 epochs; the test
    /// accuracy and confusion matrix. Text (`--data text`, the built-in Jargon File): 64-character windows,
    /// Adam 2·10⁻³, gradients clipped to norm 5, batches of 64, 3 epochs; the test loss in
    /// bits per character and 400 sampled characters.
    static func trainRecurrent(_ cell: Cell, _ context: ZooContext) throws {
        let name = context.dataName("fashion-mnist")
        context.report.data.append(name)
        if name == "text" { return try trainText(cell, context) }
        var (train, test, side) = try context.images(name)
        // Pixels standardised with the training set's mean and standard deviation.
        let mean = train.inputs.mean().item(), std = max((train.inputs - mean).squared().mean().item().squareRoot(), 1e-8)
        train.inputs = (train.inputs - mean) / std
        test.inputs = (test.inputs - mean) / std
        let model = rowReader(cell, side: side, generator: context.generator(1))
        let epochs = context.epochs(5)
        let trainer = context.trainer(model, [Adam(model.parameters(), lr: 2e-3)], .supervised(model, loss: .crossEntropy))
        trainer.scheduler = LRScheduler(trainer.optimizer, CosineAnnealingLR(tMax: epochs))
        trainer.clipNorm = 5
        _ = try trainer.fit(train, epochs: epochs, batchSize: 128)
        let predicted = withoutGrad { Trainer.predictedClasses(model.eval()(test.inputs)) }
        let truth = test.targets.doubles.map { Int($0) }
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for (t, p) in zip(truth, predicted) { counts[t][p] += 1 }
        let accuracy = Double(zip(truth, predicted).filter { $0 == $1 }.count) / Double(max(truth.count, 1))
        context.record("test_accuracy", accuracy, "\(cell.rawValue) on \(name) rows: test accuracy \(fmt(accuracy)) after \(epochs) epochs")
        if cell == .lstm && name == "fashion-mnist" {
            context.target("LSTM ≥ 0.88 test accuracy in 5 epochs", met: accuracy >= 0.88 && epochs <= 5)
        }
        try context.save(ZooPictures.confusionMatrix(counts), "\(cell.rawValue)-confusion.png")
        try context.saveModel(trainer, "\(cell.rawValue).safetensors")
    }

    static func trainText(_ cell: Cell, _ context: ZooContext) throws {
        guard let url = TextCorpus.builtinURL else { throw ZooError("the built-in text corpus is missing from the NablaData bundle") }
        let corpus = try TextCorpus(text: try TextCorpus.readText(path: url.path), name: "jargon")
        let window = 64
        let train = context.limited(try corpus.examples(corpus.train, sequenceLength: window, splitName: "training"))
        let test = context.limited(try corpus.examples(corpus.test, sequenceLength: window, splitName: "test"))
        let v = corpus.vocabulary.count
        let model = characterModel(cell, vocabulary: v, generator: context.generator(1))
        let trainer = context.trainer(model, [Adam(model.parameters(), lr: 2e-3)], .languageModel(model))
        trainer.clipNorm = 5
        _ = try trainer.fit(train, epochs: context.epochs(3), batchSize: 64)
        let bpc = try trainer.evaluate(test).loss / Foundation.log(2)
        context.record("test_bpc", bpc, "\(cell.rawValue) on the Jargon File: test \(fmt(bpc, 3)) bits per character")
        // Sampling: the last `window` characters are read afresh for each new one, at temperature 0.8.
        let g = context.generator(9)
        let prompt = Array("The hacker ".unicodeScalars)
        var text = prompt.compactMap { s in corpus.vocabulary.firstIndex(of: s) }
        model.eval()
        for _ in 0..<400 {
            let context = Array(text.suffix(window))
            let logits = withoutGrad { model(Tensor(context.map(Float.init), shape: [1, context.count])) }
            text.append(g.sample(logits: logits.select(axis: 1, context.count - 1).reshaped([v]).doubles, temperature: 0.8))
        }
        let sample = String(String.UnicodeScalarView(text.map { corpus.vocabulary[$0] }))
        try context.save(text: sample + "\n", "\(cell.rawValue)-sample.txt")
        try context.saveModel(trainer, "\(cell.rawValue)-text.safetensors")
    }

    /// The recurrent network (RNN): Elman's tanh cell reading Fashion-MNIST images row by
    /// row (``rowReader(_:side:hidden:generator:)``), or a character model (`--data text`).
    public enum RNN: ZooEntry {
        public static let name = "rnn"
        public static let summary = "recurrent network (tanh): Fashion-MNIST read row by row, or characters (--data text)"
        public static let dataChoices = ["fashion-mnist", "digits", "text"]
        public static let dataRequirement = "it needs images to read row by row, or text"
        public static let defaultEpochs = 5
        public static func train(_ context: ZooContext) throws { try trainRecurrent(.rnn, context) }
    }

    /// The long short-term memory network (LSTM), as ``RNN`` with LSTM cells.
    public enum LSTM: ZooEntry {
        public static let name = "lstm"
        public static let summary = "LSTM: Fashion-MNIST read row by row, or characters (--data text)"
        public static let dataChoices = ["fashion-mnist", "digits", "text"]
        public static let dataRequirement = "it needs images to read row by row, or text"
        public static let defaultEpochs = 5
        public static func train(_ context: ZooContext) throws { try trainRecurrent(.lstm, context) }
    }

    /// The gated recurrent unit network (GRU), as ``RNN`` with GRU cells.
    public enum GRU: ZooEntry {
        public static let name = "gru"
        public static let summary = "GRU: Fashion-MNIST read row by row, or characters (--data text)"
        public static let dataChoices = ["fashion-mnist", "digits", "text"]
        public static let dataRequirement = "it needs images to read row by row, or text"
        public static let defaultEpochs = 5
        public static func train(_ context: ZooContext) throws { try trainRecurrent(.gru, context) }
    }
}
