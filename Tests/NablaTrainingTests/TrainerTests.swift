import Foundation
import XCTest
import NablaCore
import NablaNN
import NablaData
import NablaIO
@testable import NablaTraining

final class TrainerTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "nabla-trainer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: fixtures

    /// Two moons split into train and validation; small so a run takes well under a second.
    func moons() -> (train: TensorDataset, validation: TensorDataset) {
        let all = Synthetic.twoMoons(count: 240, noise: 0.15, seed: 3)
        let parts = all.split([0.75, 0.25], generator: RandomGenerator(seed: 11))
        return (parts[0], parts[1])
    }

    /// An MLP with dropout (so the random generators matter), built as the CLI builds it.
    let spec = ModelSpec.mlp(inputs: 2, hidden: [16, 16], outputs: 2, activation: "tanh", dropout: 0.25)

    func info() -> ModelInfo {
        ModelInfo(task: .classification, classCount: 2, loss: .crossEntropy, preprocessing: .none, dataName: "moons")
    }

    /// A fresh trainer: Adam (its moments matter on resume) with a step schedule.
    func makeTrainer(model: Module, seed: UInt64 = 5) -> Trainer {
        let opt = Adam(model.parameters(), lr: 0.02)
        let t = Trainer(model: model, optimizer: opt, loss: .crossEntropy, seed: seed)
        t.scheduler = LRScheduler(opt, StepLR(stepSize: 3, gamma: 0.5))
        t.progress = ProgressReporter(style: .silent)
        return t
    }

    func newTrainer(seed: UInt64 = 5) throws -> Trainer {
        makeTrainer(model: try spec.build(generator: RandomGenerator(seed: seed)), seed: seed)
    }

    /// The deterministic part of a history, as bit patterns (seconds and throughput vary).
    func bits(_ h: History) -> [[UInt64?]] {
        h.epochs.map { e in
            [UInt64(e.epoch), e.trainLoss.bitPattern, e.trainAccuracy?.bitPattern, e.validationLoss?.bitPattern,
             e.validationAccuracy?.bitPattern, e.validationMAE?.bitPattern, e.learningRate.bitPattern]
        }
    }

    func weightBits(_ m: Module) -> [String: [UInt32]] {
        m.stateDict().mapValues { $0.floats.map(\.bitPattern) }
    }

    // MARK: determinism and resume

    func testSameSeedGivesIdenticalLossCurve() throws {
        let (train, val) = moons()
        var runs: [[[UInt64?]]] = []
        var weights: [[String: [UInt32]]] = []
        for _ in 0..<2 {
            Random.seed(42)
            let t = try newTrainer()
            let h = try t.fit(train, validation: val, epochs: 3, batchSize: 16)
            XCTAssertEqual(h.epochs.count, 3)
            runs.append(bits(h))
            weights.append(weightBits(t.model))
        }
        XCTAssertEqual(runs[0], runs[1])
        XCTAssertEqual(weights[0], weights[1])
        // A different seed gives a different curve (the seed is really used).
        Random.seed(42)
        let other = try newTrainer(seed: 6)
        XCTAssertNotEqual(bits(try other.fit(train, validation: val, epochs: 3, batchSize: 16)), runs[0])
    }

    func testResumeEqualsUninterrupted() throws {
        let (train, val) = moons()

        // Four uninterrupted epochs.
        Random.seed(42)
        let full = try newTrainer()
        try full.fit(train, validation: val, epochs: 4, batchSize: 16)

        // Two epochs, checkpoint, then a brand-new trainer from the file for two more.
        Random.seed(42)
        let first = try newTrainer()
        try first.fit(train, validation: val, epochs: 2, batchSize: 16)
        let path = directory + "/ckpt.safetensors"
        try Checkpoint.save(first, spec: spec, info: info(), to: path)

        // Disturb every generator in sight: restore must put them all back.
        Random.seed(999)
        _ = Tensor.randomNormal([100])
        let contents = try ModelFile.load(path)
        XCTAssertEqual(try Checkpoint.info(from: contents, path: path), info())
        let resumed = makeTrainer(model: contents.model)
        try Checkpoint.restore(resumed, from: contents, path: path)
        XCTAssertEqual(resumed.completedEpochs, 2)
        XCTAssertEqual(resumed.step, first.step)
        XCTAssertEqual(resumed.optimizer.learningRate.bitPattern, first.optimizer.learningRate.bitPattern)
        XCTAssertEqual(weightBits(resumed.model), weightBits(first.model))
        try resumed.fit(train, validation: val, epochs: 4, batchSize: 16)

        XCTAssertEqual(resumed.history.epochs.count, 4)
        XCTAssertEqual(bits(resumed.history), bits(full.history))
        XCTAssertEqual(weightBits(resumed.model), weightBits(full.model))
        XCTAssertEqual(resumed.step, full.step)
        XCTAssertEqual(resumed.bestValidationLoss.bitPattern, full.bestValidationLoss.bitPattern)
        XCTAssertEqual(resumed.optimizer.learningRate.bitPattern, full.optimizer.learningRate.bitPattern)
    }

    func testRestoreRejectsAPlainModelFileAndAnotherOptimizer() throws {
        let path = directory + "/plain.safetensors"
        let model = try spec.build(generator: RandomGenerator(seed: 1))
        try ModelFile.save(model, spec: spec, to: path)
        let contents = try ModelFile.load(path)
        XCTAssertThrowsError(try Checkpoint.restore(makeTrainer(model: contents.model), from: contents, path: path)) {
            XCTAssertTrue("\($0)".contains("not a checkpoint"), "\($0)")
        }
        let t = try newTrainer()
        try t.fit(moons().train, epochs: 1, batchSize: 32)
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let c2 = try ModelFile.load(path)
        let sgd = Trainer(model: c2.model, optimizer: SGD(c2.model.parameters(), lr: 0.1), loss: .crossEntropy)
        XCTAssertThrowsError(try Checkpoint.restore(sgd, from: c2, path: path)) {
            XCTAssertTrue("\($0)".contains("cannot resume"), "\($0)")
        }
    }

    // MARK: NaN handling

    func testInfiniteInputStopsWithEpochStepAndLayer() throws {
        let (train, _) = moons()
        // ReLU passes an infinite input on (tanh would saturate it to ±1).
        let relu = ModelSpec.mlp(inputs: 2, hidden: [8], outputs: 2, activation: "relu")
        let t = makeTrainer(model: try relu.build(generator: RandomGenerator(seed: 1)))
        // One clean epoch first, so the failure is in epoch 2.
        try t.fit(train, epochs: 1, batchSize: 30)
        XCTAssertEqual(t.step, 6) // 180 examples / 30
        var x = train.inputs.floats
        for i in stride(from: 0, to: x.count, by: 2) { x[i] = .infinity }
        let bad = TensorDataset(inputs: Tensor(x, shape: train.inputs.shape), targets: train.targets, classCount: 2)
        XCTAssertThrowsError(try t.fit(bad, epochs: 3, batchSize: 30)) { error in
            guard let e = error as? TrainingError else { return XCTFail("not a TrainingError: \(error)") }
            XCTAssertTrue(e.message.contains("epoch 2"), e.message)
            XCTAssertTrue(e.message.contains("step 7"), e.message)
            XCTAssertTrue(e.message.contains("layer 0"), e.message)
            XCTAssertTrue(e.message.contains("Linear"), e.message)
            XCTAssertFalse(e.message.contains("\n"), e.message)
        }
        XCTAssertEqual(t.completedEpochs, 1)
        XCTAssertEqual(t.history.epochs.count, 1)
    }

    func testAbsurdLearningRateStopsWithTrainingError() throws {
        let data = Synthetic.linear(count: 64, inputs: 3, outputs: 1, seed: 1).data
        let model = Sequential([Linear(3, 8, generator: RandomGenerator(seed: 1)), ReLU(), Linear(8, 1, generator: RandomGenerator(seed: 2))])
        let t = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 1e30), loss: .mse)
        t.progress = ProgressReporter(style: .silent)
        XCTAssertThrowsError(try t.fit(data, epochs: 5, batchSize: 8)) { error in
            guard let e = error as? TrainingError else { return XCTFail("not a TrainingError: \(error)") }
            XCTAssertTrue(e.message.contains("epoch 1"), e.message)
            XCTAssertTrue(e.message.contains("step "), e.message)
            XCTAssertTrue(e.message.contains("layer "), e.message)
        }
    }

    // MARK: early stopping, best weights, history files

    func testEarlyStoppingAfterPatienceEpochsWithoutImprovement() throws {
        let (train, val) = moons()
        let model = try spec.build(generator: RandomGenerator(seed: 1))
        // Learning rate 0: the validation loss never improves after the first epoch.
        let t = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 0), loss: .crossEntropy)
        t.progress = ProgressReporter(style: .silent)
        t.earlyStoppingPatience = 2
        let h = try t.fit(train, validation: val, epochs: 10, batchSize: 32)
        XCTAssertEqual(h.epochs.count, 3)
        XCTAssertEqual(t.completedEpochs, 3)
        // Without validation data patience is ignored.
        let t2 = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 0), loss: .crossEntropy)
        t2.progress = ProgressReporter(style: .silent)
        t2.earlyStoppingPatience = 1
        XCTAssertEqual(try t2.fit(train, epochs: 4, batchSize: 64).epochs.count, 4)
    }

    /// The checkpoint no longer carries the history: its size is the same at epoch 5,000 as at
    /// epoch 1 (it grew to ~1 MB before), and the history file beside it grows by one line per
    /// save (appended, not rewritten).
    func testCheckpointSizeIsFlatInTheEpochCount() throws {
        let t = try newTrainer()
        let (train, val) = moons()
        try t.fit(train, validation: val, epochs: 1, batchSize: 64)
        let path = directory + "/flat.safetensors"
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let size1 = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let record = t.history.epochs[0]
        t.history.epochs += (2...5000).map { e in var r = record; r.epoch = e; return r }
        t.completedEpochs = 5000
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let size5000 = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertLessThan(abs(size5000 - size1), 16, "only the epoch number's digits may differ: \(size1) vs \(size5000)")
        let historyFile = Checkpoint.historyPath(for: path)
        XCTAssertEqual(historyFile, directory + "/flat.history.jsonl")
        let lines = try String(contentsOfFile: historyFile, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 5000)
        // One more epoch appends exactly one line: the bytes before it are unchanged.
        let before = try Data(contentsOf: URL(fileURLWithPath: historyFile))
        var r = record; r.epoch = 5001
        t.history.epochs.append(r); t.completedEpochs = 5001
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let after = try Data(contentsOf: URL(fileURLWithPath: historyFile))
        XCTAssertEqual(after.prefix(before.count), before)
        XCTAssertEqual(after.dropFirst(before.count).filter { $0 == UInt8(ascii: "\n") }.count, 1)
    }

    /// A kill between appending the history and renaming the checkpoint leaves lines beyond
    /// the checkpoint's epoch, possibly one cut short: restore keeps the epochs it covers.
    func testRestoreIgnoresHistoryBeyondTheCheckpoint() throws {
        let t = try newTrainer()
        let (train, val) = moons()
        try t.fit(train, validation: val, epochs: 3, batchSize: 64)
        let path = directory + "/k.safetensors"
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: Checkpoint.historyPath(for: path)))
        _ = try h.seekToEnd()
        try h.write(contentsOf: Data(#"{"epoch":4,"lr":0.02,"samples_per_second":1,"seconds":1,"train_loss":0.1}"#.utf8 + [10]))
        try h.write(contentsOf: Data(#"{"epoch":5,"lr":0.0"#.utf8))
        try h.close()
        let c = try ModelFile.load(path)
        let r = makeTrainer(model: c.model)
        try Checkpoint.restore(r, from: c, path: path)
        XCTAssertEqual(r.history.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(bits(r.history), bits(t.history))
        XCTAssertEqual(r.epochsSinceBest, t.epochsSinceBest)
        XCTAssertEqual(r.bestValidationLoss, t.bestValidationLoss)
    }

    /// ReduceLROnPlateau's counters are in the checkpoint: a resumed run reduces the rate at
    /// the same epochs, with the same weights, as an uninterrupted one.
    func testPlateauSchedulerStateSurvivesAResume() throws {
        let (train, val) = moons()
        func make(_ model: Module) -> Trainer {
            let t = makeTrainer(model: model)
            t.scheduler = nil
            t.optimizer.learningRate = 0.2   // noisy validation loss, so the plateau acts
            t.plateauScheduler = ReduceLROnPlateau(t.optimizer, factor: 0.5, patience: 1)
            return t
        }
        Random.seed(42)
        let full = make(try spec.build(generator: RandomGenerator(seed: 5)))
        try full.fit(train, validation: val, epochs: 8, batchSize: 16)
        Random.seed(42)
        let first = make(try spec.build(generator: RandomGenerator(seed: 5)))
        try first.fit(train, validation: val, epochs: 4, batchSize: 16)
        let path = directory + "/plateau.safetensors"
        try Checkpoint.save(first, spec: spec, info: info(), to: path)
        let contents = try ModelFile.load(path)
        let resumed = make(contents.model)
        try Checkpoint.restore(resumed, from: contents, path: path)
        XCTAssertEqual(resumed.plateauScheduler!.best, first.plateauScheduler!.best)
        XCTAssertEqual(resumed.plateauScheduler!.badEpochs, first.plateauScheduler!.badEpochs)
        XCTAssertEqual(resumed.plateauScheduler!.epoch, first.plateauScheduler!.epoch)
        try resumed.fit(train, validation: val, epochs: 8, batchSize: 16)
        XCTAssertEqual(resumed.history.epochs.map(\.learningRate), full.history.epochs.map(\.learningRate))
        XCTAssertLessThan(full.history.epochs.last!.learningRate, 0.2, "the plateau reduced the rate at least once")
        XCTAssertEqual(weightBits(resumed.model), weightBits(full.model))
        // A trainer with a plateau scheduler cannot resume a checkpoint written without one.
        let plain = try newTrainer()
        try plain.fit(train, epochs: 1, batchSize: 64)
        try Checkpoint.save(plain, spec: spec, info: info(), to: directory + "/plain.safetensors")
        let c2 = try ModelFile.load(directory + "/plain.safetensors")
        XCTAssertThrowsError(try Checkpoint.restore(make(c2.model), from: c2, path: "plain.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("no plateau state"), "\(e)")
        }
    }

    func testEarlyStoppingCountsAcrossAResume() throws {
        let (train, val) = moons()
        let model = try spec.build(generator: RandomGenerator(seed: 1))
        let t = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 0), loss: .crossEntropy)
        t.progress = ProgressReporter(style: .silent)
        try t.fit(train, validation: val, epochs: 2, batchSize: 32)
        let path = directory + "/es.safetensors"
        try Checkpoint.save(t, spec: spec, info: info(), to: path)
        let c = try ModelFile.load(path)
        let r = Trainer(model: c.model, optimizer: SGD(c.model.parameters(), lr: 0), loss: .crossEntropy)
        r.progress = ProgressReporter(style: .silent)
        try Checkpoint.restore(r, from: c, path: path)
        r.earlyStoppingPatience = 2
        // Epoch 1 was the best, epoch 2 did not improve: one more bad epoch stops the run.
        XCTAssertEqual(try r.fit(train, validation: val, epochs: 10, batchSize: 32).epochs.count, 3)
    }

    func testBestWeightsAreThoseOfTheBestValidationEpoch() throws {
        let (train, val) = moons()
        let t = try newTrainer()
        // A high rate makes the validation loss go up and down.
        t.optimizer.learningRate = 0.2
        t.scheduler = nil
        t.keepsBestState = true
        var snapshots: [[String: [UInt32]]] = []
        t.onEpochEnd = { tr, _ in snapshots.append(self.weightBits(tr.model)) }
        let h = try t.fit(train, validation: val, epochs: 6, batchSize: 16)
        let losses = h.epochs.map { $0.validationLoss! }
        let best = losses.indices.min { losses[$0] < losses[$1] }!
        XCTAssertEqual(t.bestValidationLoss, losses[best])
        let bestState = try XCTUnwrap(t.bestState)
        XCTAssertEqual(bestState.mapValues { $0.floats.map(\.bitPattern) }, snapshots[best])
        // Loading the best state reproduces the best validation loss.
        try t.model.loadStateDict(bestState)
        XCTAssertEqual(try t.evaluate(val).loss, losses[best], accuracy: 1e-9)
        // By default no copy is kept (the CLI keeps its best checkpoint in a file).
        let u = try newTrainer()
        try u.fit(train, validation: val, epochs: 2, batchSize: 16)
        XCTAssertNil(u.bestState)
        XCTAssertTrue(u.bestValidationLoss.isFinite)
    }

    func testHistoryCSVAndJSONAreWrittenAtomicallyAndParse() throws {
        let (train, val) = moons()
        let t = try newTrainer()
        let h = try t.fit(train, validation: val, epochs: 3, batchSize: 32)
        let csvPath = directory + "/history.csv", jsonPath = directory + "/history.json"
        try h.write(to: csvPath)
        try h.write(to: jsonPath)
        // Rewriting replaces the file in one piece and leaves no temporary file behind.
        try h.write(to: csvPath)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(names, ["history.csv", "history.json"])

        let lines = try String(contentsOfFile: csvPath, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        let header = lines[0].split(separator: ",").map(String.init)
        XCTAssertEqual(header, ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_mae", "lr", "seconds", "samples_per_second"])
        for (i, line) in lines.dropFirst().enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(cells.count, header.count)
            XCTAssertEqual(Int(cells[0]), i + 1)
            XCTAssertEqual(Double(cells[1]), h.epochs[i].trainLoss)
            XCTAssertEqual(Double(cells[3]), h.epochs[i].validationLoss)
            XCTAssertEqual(cells[5], "") // no MAE for classification
            XCTAssertEqual(Double(cells[6]), 0.02)
        }
        let decoded = try JSONDecoder().decode([EpochRecord].self, from: Data(contentsOf: URL(fileURLWithPath: jsonPath)))
        XCTAssertEqual(decoded, h.epochs)
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [[String: Any]]
        XCTAssertEqual(raw?.count, 3)
        XCTAssertNotNil(raw?[0]["train_loss"] as? Double)

        // An unwritable destination throws and leaves nothing behind.
        XCTAssertThrowsError(try h.write(to: directory + "/missing/history.csv"))
        XCTAssertThrowsError(try h.write(to: directory)) // a directory
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["history.csv", "history.json"])
    }

    func testEvaluateRegressionReportsMAE() throws {
        // y = 2x: a model computing exactly 2x has zero loss and zero MAE; 2x + 1 has MAE 1.
        let x = Tensor([1, 2, 3, 4] as [Float], shape: [4, 1])
        let data = TensorDataset(inputs: x, targets: Tensor([2, 4, 6, 8] as [Float]))
        let exact = Linear(weight: Tensor([2] as [Float], shape: [1, 1]), bias: Tensor([0] as [Float]))
        let m = Trainer.evaluate(exact, data, loss: .mse)
        XCTAssertEqual(m.loss, 0, accuracy: 1e-12)
        XCTAssertEqual(m.mae ?? -1, 0, accuracy: 1e-12)
        XCTAssertNil(m.accuracy)
        let off = Linear(weight: Tensor([2] as [Float], shape: [1, 1]), bias: Tensor([1] as [Float]))
        let m2 = Trainer.evaluate(off, data, loss: .mse, batchSize: 3)
        XCTAssertEqual(m2.loss, 1, accuracy: 1e-6)
        XCTAssertEqual(m2.mae ?? -1, 1, accuracy: 1e-6)
        XCTAssertEqual(m2.count, 4)
    }

    func testPreprocessingRoundTripsThroughJSON() throws {
        let x = Tensor([1, 10, 3, 20, 5, 30] as [Float], shape: [3, 2])
        for p in [Preprocessing.none, .scale(0.5), .standardize(fitting: x), .minMax(fitting: x)] {
            XCTAssertEqual(try Preprocessing.parse(p.json()), p)
        }
        let mm = Preprocessing.minMax(fitting: x).apply(x).floats
        XCTAssertEqual(mm, [0, 0, 0.5, 0.5, 1, 1])
    }
}

/// Non-finite numbers in histories and checked sizes (hardening issue).
final class HardeningTrainingTests: XCTestCase {
    /// A NaN loss is written as JSON null (Foundation's encoder threw on it, and the `try!`
    /// around it crashed), and reads back as NaN, so a checkpoint with it still resumes.
    func testHistoryWithNaNIsValidJSON() throws {
        var h = History()
        h.epochs = [EpochRecord(epoch: 1, trainLoss: 0.5, validationLoss: 0.25, learningRate: 0.01, seconds: 1, samplesPerSecond: 100),
                    EpochRecord(epoch: 2, trainLoss: .nan, trainAccuracy: .infinity, validationLoss: .nan, learningRate: 0.01,
                                seconds: 1, samplesPerSecond: 100)]
        let text = h.json()
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], text)
        XCTAssertEqual(parsed.count, 2)
        XCTAssertTrue(parsed[1]["train_loss"] is NSNull, text)
        XCTAssertTrue(parsed[1]["val_loss"] is NSNull, text)
        XCTAssertTrue(parsed[1]["train_accuracy"] is NSNull, text)
        XCTAssertEqual(parsed[0]["train_loss"] as? Double, 0.5)
        XCTAssertNil(parsed[0]["val_mae"], "absent metrics stay absent")
        let back = try JSONDecoder().decode([EpochRecord].self, from: Data(text.utf8))
        XCTAssertTrue(back[1].trainLoss.isNaN)
        XCTAssertEqual(back[0], h.epochs[0])
        // CSV keeps writing nan as before.
        XCTAssertTrue(h.csv().contains("nan"))
    }

    /// Preprocessing with non-finite statistics is written and read back (no `try!` trap).
    func testPreprocessingJSONWithNaN() throws {
        let p = Preprocessing.standardize(mean: [.nan, 1], std: [.infinity, 2])
        let back = try Preprocessing.parse(p.json())
        guard case .standardize(let m, let s) = back else { return XCTFail("\(back)") }
        XCTAssertTrue(m[0].isNaN); XCTAssertEqual(m[1], 1); XCTAssertEqual(s, [.infinity, 2])
    }

    /// The one data-preparation path: width checks, scaling of flat features, then reshape.
    func testPrepareScalesBeforeReshaping() throws {
        let x = Tensor((0..<8).map(Double.init), shape: [2, 4])
        let p = Preprocessing.standardize(mean: [0, 1, 2, 3], std: [1, 1, 1, 2])
        let y = try p.prepare(x, for: [2, 2], source: "x")
        XCTAssertEqual(y.shape, [2, 2, 2])
        // (x − mean) / std row by row: [0, 0, 0, 0] and [4, 4, 4, 2].
        XCTAssertEqual(y.doubles, [0, 0, 0, 0, 4, 4, 4, 2])
        XCTAssertThrowsError(try p.prepare(Tensor.zeros([2, 5], dtype: .float64), for: [4], source: "wide.csv")) { e in
            XCTAssertTrue("\(e)".contains("wide.csv") && "\(e)".contains("5 values") && "\(e)".contains("4 values"), "\(e)")
        }
        XCTAssertThrowsError(try p.prepare(Tensor.zeros([2, 6], dtype: .float64), for: [6], source: "d")) { e in
            XCTAssertTrue("\(e)".contains("fitted on 4 features but the data have 6"), "\(e)")
        }
        // Rank-3 raw examples are flattened for scaling.
        let img = Tensor((0..<8).map(Double.init), shape: [2, 2, 2])
        XCTAssertEqual(try p.prepare(img, for: [4], source: "i").shape, [2, 4])
    }
}

extension TrainerTests {
    /// A model with batch normalisation trains on a set whose last batch would hold one
    /// example (33 = 32 + 1): that batch is dropped instead of trapping in BatchNorm1d.
    func testBatchNormSkipsATrailingBatchOfOne() throws {
        let g = RandomGenerator(seed: 2)
        let data = TensorDataset(inputs: Tensor.randomNormal([33, 4], generator: g),
                                 targets: Tensor((0..<33).map { Int64($0 % 2) }), classCount: 2)
        let model = Sequential { Linear(4, 8, generator: g); BatchNorm1d(8); ReLU(); Linear(8, 2, generator: g) }
        let trainer = makeTrainer(model: model)
        trainer.progress = ProgressReporter(style: .silent)
        try trainer.fit(data, epochs: 2, batchSize: 32)
        XCTAssertEqual(trainer.completedEpochs, 2)
        // One batch of 32 per epoch: BatchNorm counted two.
        XCTAssertEqual((model[1] as! BatchNorm1d).numBatchesTracked!.int64s, [2])
    }
}
