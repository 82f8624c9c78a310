import Foundation
import XCTest
import NablaCore
import NablaNN
import NablaData
@testable import NablaTraining

// MARK: models and data of the three steps

/// A VAE encoder: x ↦ (μ, log σ²), a ``Layer`` with two outputs.
final class GaussianEncoder: Module, Layer, @unchecked Sendable {
    typealias Input = Tensor
    typealias Output = (mean: Tensor, logVariance: Tensor)
    let hidden: Linear, mean: Linear, logVariance: Linear
    init(_ inputs: Int, _ width: Int, _ latent: Int, seed: UInt64) {
        hidden = Linear(inputs, width, generator: RandomGenerator(seed: seed))
        mean = Linear(width, latent, generator: RandomGenerator(seed: seed + 1))
        logVariance = Linear(width, latent, generator: RandomGenerator(seed: seed + 2))
        super.init()
    }
    func callAsFunction(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let h = hidden(x).tanh()
        return (mean(h), logVariance(h))
    }
}

/// A VAE: the encoder above, a decoder with dropout (whose generator a checkpoint must
/// hold), and the reparameterisation noise from its own generator (held by the model).
final class VAE: Module, @unchecked Sendable {
    let encoder: GaussianEncoder
    let decoder: Sequential
    let noise: RandomGenerator
    init(seed: UInt64) {
        encoder = GaussianEncoder(4, 16, 2, seed: seed)
        decoder = Sequential {
            Linear(2, 16, generator: RandomGenerator(seed: seed + 3)); Tanh()
            Dropout(0.1, generator: RandomGenerator(seed: seed + 4))
            Linear(16, 4, generator: RandomGenerator(seed: seed + 5))
        }
        noise = RandomGenerator(seed: seed + 6)
        super.init()
    }

    /// Reconstruction (squared error summed over features, mean over examples) and the KL
    /// divergence of N(μ, σ²) from N(0, 1), −½ Σ (1 + log σ² − μ² − σ²), mean over examples.
    func losses(_ x: Tensor) -> (reconstruction: Tensor, kl: Tensor) {
        let (mu, logVar) = encoder(x)
        let eps = isTraining ? Tensor.randomNormal(mu.shape, generator: noise) : Tensor.zeros(like: mu)
        let z = mu + (logVar * 0.5).exp() * eps
        let n = Double(x.shape[0])
        let reconstruction = (decoder(z) - x).squared().sum() / n
        let kl = ((logVar + 1.0) - mu.squared() - logVar.exp()).sum() * (-0.5 / n)
        return (reconstruction, kl)
    }

    var step: TrainingStep {
        .loss("vae") { batch in
            let (r, kl) = self.losses(batch.inputs)
            return StepOutput(loss: r + kl, metrics: ["reconstruction": r.item(), "kl": kl.item()])
        }
    }
}

/// Points near a line in 4-D: x = (t, 2t, −t, 0.5) + small noise, so a 2-D latent code
/// reconstructs them well.
func lineData(count: Int, seed: UInt64) -> TensorDataset {
    let g = RandomGenerator(seed: seed)
    var x: [Float] = []
    for _ in 0..<count {
        let t = g.nextNormal()
        x += [t, 2 * t, -t, 0.5].map { Float($0 + 0.05 * g.nextNormal()) }
    }
    return TensorDataset(inputs: Tensor(x, shape: [count, 4]), targets: Tensor.zeros([count]))
}

/// A GAN in one module: the generator maps 2-D noise to 2-D points, the discriminator
/// points to one logit.
final class GAN: Module, @unchecked Sendable {
    let generator: Sequential, discriminator: Sequential
    let noise: RandomGenerator
    init(seed: UInt64) {
        generator = Sequential {
            Linear(2, 16, generator: RandomGenerator(seed: seed)); Tanh()
            Linear(16, 2, generator: RandomGenerator(seed: seed + 1))
        }
        discriminator = Sequential {
            Linear(2, 16, generator: RandomGenerator(seed: seed + 2)); Tanh()
            Linear(16, 1, generator: RandomGenerator(seed: seed + 3))
        }
        noise = RandomGenerator(seed: seed + 4)
        super.init()
    }

    /// The mean of 1,000 generated points (evaluation mode, no graph).
    func generatedMean() -> [Double] {
        withoutGrad { generator(Tensor.randomNormal([1000, 2], generator: RandomGenerator(seed: 77))).mean(axis: 0).doubles }
    }

    /// One GAN step in the correct order: the discriminator's update first (on a detached
    /// fake, so no gradient reaches G), then the generator's loss through the *updated*
    /// discriminator, computed after D's step.
    func step(d dOpt: Optimizer, g gOpt: Optimizer) -> TrainingStep {
        .custom("gan") { batch in
            let real = batch.inputs, n = batch.count
            let ones = Tensor.ones([n, 1]), zeros = Tensor.zeros([n, 1])
            let fake = self.generator(Tensor.randomNormal([n, 2], generator: self.noise))
            dOpt.zeroGrad()
            let dLoss = Loss.binaryCrossEntropy(logits: self.discriminator(real), ones)
                + Loss.binaryCrossEntropy(logits: self.discriminator(fake.detached()), zeros)
            dLoss.backward()
            dOpt.step()
            gOpt.zeroGrad()
            let gLoss = Loss.binaryCrossEntropy(logits: self.discriminator(fake), ones)
            gLoss.backward()
            gOpt.step()
            let d = dLoss.item(), g = gLoss.item()
            return StepOutput(loss: Tensor(d + g), metrics: ["d_loss": d, "g_loss": g])
        }
    }
}

/// Real points: N((2, −1), 0.3²).
func gaussianData(count: Int, seed: UInt64) -> TensorDataset {
    let g = RandomGenerator(seed: seed)
    let x = (0..<count).flatMap { _ in [Float(2 + 0.3 * g.nextNormal()), Float(-1 + 0.3 * g.nextNormal())] }
    return TensorDataset(inputs: Tensor(x, shape: [count, 2]), targets: Tensor.zeros([count]))
}

/// Sequences of lengths 1…6 padded to 6 steps: a ``Dataset`` that is not a
/// ``TensorDataset``, whose batches carry a mask.
///
/// On real steps the target is y = 2x + 1; on padding it is 1000, which an unmasked loss
/// would chase.
struct PaddedSequences: Dataset {
    let x: [[Float]]
    let length: [Int]
    static let steps = 6
    init(count: Int, seed: UInt64, emptyAt: Int? = nil) {
        let g = RandomGenerator(seed: seed)
        x = (0..<count).map { _ in (0..<PaddedSequences.steps).map { _ in Float(g.nextNormal()) } }
        length = (0..<count).map { $0 == emptyAt ? 0 : 1 + Int(g.next() % UInt64(PaddedSequences.steps)) }
    }
    var count: Int { x.count }
    func batch(_ indices: [Int]) -> Batch {
        let t = PaddedSequences.steps
        var inputs: [Float] = [], targets: [Float] = [], mask: [Float] = []
        for i in indices {
            for s in 0..<t {
                let real = s < length[i]
                inputs.append(x[i][s])
                targets.append(real ? 2 * x[i][s] + 1 : 1000)
                mask.append(real ? 1 : 0)
            }
        }
        let n = indices.count
        return Batch(inputs: Tensor(inputs, shape: [n, t, 1]), targets: Tensor(targets, shape: [n, t]),
                     mask: Tensor(mask, shape: [n, t]))
    }
}

/// Squared error over the real steps only: Σ mask·(ŷ − y)² / Σ mask.
func maskedMSE(_ model: Linear) -> TrainingStep {
    .loss("masked-mse") { batch in
        let (n, t) = (batch.inputs.shape[0], batch.inputs.shape[1])
        let prediction = model(batch.inputs.reshaped([n * t, 1])).reshaped([n, t])
        let mask = batch.mask!
        return StepOutput(loss: ((prediction - batch.targets).squared() * mask).sum() / mask.sum())
    }
}

final class TrainingStepTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "nabla-step-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func weightBits(_ m: Module) -> [String: [UInt32]] { m.stateDict().mapValues { $0.floats.map(\.bitPattern) } }

    /// Everything deterministic in a history, as bit patterns (times vary).
    func bits(_ h: History) -> [String] {
        h.epochs.map { e in
            ([e.trainLoss, e.validationLoss ?? -1, e.learningRate].map { "\($0.bitPattern)" }
             + e.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.bitPattern)" }).joined(separator: " ")
        }
    }

    // MARK: VAE

    func makeVAETrainer(seed: UInt64 = 1) -> (Trainer, VAE) {
        let vae = VAE(seed: seed)
        let opt = Adam(vae.parameters(), lr: 0.01)
        let t = Trainer(model: vae, optimizer: opt, step: vae.step, seed: seed)
        t.progress = ProgressReporter(style: .silent)
        t.plateauScheduler = ReduceLROnPlateau(opt, factor: 0.5, patience: 0)
        t.keepsBestState = true
        return (t, vae)
    }

    func testVAETrainsReconstructionPlusKL() throws {
        let data = lineData(count: 256, seed: 3), validation = lineData(count: 64, seed: 4)
        let (t, _) = makeVAETrainer()
        let h = try t.fit(data, validation: validation, epochs: 15, batchSize: 32)
        let first = h.epochs.first!, last = h.epochs.last!
        // Both parts are reported every epoch, and the loss is their sum.
        for e in h.epochs {
            XCTAssertEqual(e.trainLoss, e.metrics["reconstruction"]! + e.metrics["kl"]!, accuracy: 1e-4 * abs(e.trainLoss))
            XCTAssertNotNil(e.metrics["val_kl"])
            XCTAssertGreaterThanOrEqual(e.metrics["kl"]!, 0)   // a KL divergence is never negative
        }
        // The data's total variance is about 1 + 4 + 1 = 6 per example: reconstructing by the
        // mean costs ~6. Training must go well below that and below its first epoch.
        XCTAssertLessThan(last.trainLoss, first.trainLoss * 0.5, "\(h.epochs.map(\.trainLoss))")
        XCTAssertLessThan(last.validationLoss!, 3, "\(h.epochs.map(\.validationLoss))")
        XCTAssertNotNil(t.bestState)
    }

    /// Two epochs, a checkpoint, a new trainer from the file for two more, equals four
    /// epochs in one go, bit for bit: weights, Adam's moments, the plateau scheduler's
    /// counters, the best weights, and every generator (shuffling, the dropout masks' and
    /// the reparameterisation noise's, which live in the model) are restored.
    func testVAEResumeEqualsUninterrupted() throws {
        let data = lineData(count: 128, seed: 3), validation = lineData(count: 32, seed: 4)
        Random.seed(9)
        let (full, fullVAE) = makeVAETrainer()
        try full.fit(data, validation: validation, epochs: 4, batchSize: 16)

        Random.seed(9)
        let (first, _) = makeVAETrainer()
        try first.fit(data, validation: validation, epochs: 2, batchSize: 16)
        let path = directory + "/vae.safetensors"
        try Checkpoint.save(first, to: path)

        // A new model with other weights and generators; restore must put everything back.
        Random.seed(1234)
        let (resumed, resumedVAE) = makeVAETrainer(seed: 50)
        try Checkpoint.restore(resumed, from: path)
        XCTAssertEqual(resumed.completedEpochs, 2)
        XCTAssertEqual(resumed.plateauScheduler!.stateDict(), first.plateauScheduler!.stateDict())
        XCTAssertEqual(resumed.bestState!.mapValues { $0.floats }, first.bestState!.mapValues { $0.floats })
        XCTAssertEqual(resumedVAE.noise.state, first.model.namedGenerators().first { $0.name == "noise" }!.generator.state)
        try resumed.fit(data, validation: validation, epochs: 4, batchSize: 16)

        XCTAssertEqual(bits(resumed.history), bits(full.history))
        XCTAssertEqual(weightBits(resumedVAE), weightBits(fullVAE))
        XCTAssertEqual(resumed.plateauScheduler!.stateDict(), full.plateauScheduler!.stateDict())
        XCTAssertEqual(resumed.optimizer.learningRate.bitPattern, full.optimizer.learningRate.bitPattern)
        XCTAssertEqual(resumed.bestState!.mapValues { $0.floats }, full.bestState!.mapValues { $0.floats })
        XCTAssertEqual(resumedVAE.noise.state, fullVAE.noise.state)
    }

    func testCheckpointOfAnotherModelIsRefusedByName() throws {
        let (t, _) = makeVAETrainer()
        try t.fit(lineData(count: 32, seed: 1), epochs: 1, batchSize: 16)
        let path = directory + "/vae.safetensors"
        try Checkpoint.save(t, to: path)
        let gan = GAN(seed: 1)
        let other = Trainer(model: gan, optimizer: Adam(gan.parameters()), step: gan.step(d: Adam(gan.discriminator.parameters()), g: Adam(gan.generator.parameters())))
        XCTAssertThrowsError(try Checkpoint.restore(other, from: path)) { XCTAssertTrue("\($0)".contains("encoder.hidden.weight"), "\($0)") }
    }

    // MARK: GAN

    func makeGANTrainer(seed: UInt64 = 2) -> (Trainer, GAN) {
        let gan = GAN(seed: seed)
        let dOpt = Adam(gan.discriminator.parameters(), lr: 0.01, betas: (0.5, 0.999))
        let gOpt = Adam(gan.generator.parameters(), lr: 0.01, betas: (0.5, 0.999))
        let t = Trainer(model: gan, optimizers: [dOpt, gOpt], step: gan.step(d: dOpt, g: gOpt), seed: seed)
        t.scheduler = LRScheduler(gOpt, StepLR(stepSize: 2, gamma: 0.5))
        t.progress = ProgressReporter(style: .silent)
        return (t, gan)
    }

    func testGANLearnsTheDataMeanWithTwoOptimizers() throws {
        let data = gaussianData(count: 512, seed: 5)
        let (t, gan) = makeGANTrainer()
        let before = gan.generatedMean()
        func distance(_ m: [Double]) -> Double { ((m[0] - 2) * (m[0] - 2) + (m[1] + 1) * (m[1] + 1)).squareRoot() }
        // The untrained generator's outputs are near 0, about √5 ≈ 2.24 from the data's mean.
        XCTAssertGreaterThan(distance(before), 1.5, "\(before)")
        let h = try t.fit(data, epochs: 12, batchSize: 32)
        let after = gan.generatedMean()
        XCTAssertLessThan(distance(after), 0.5, "generated mean \(before) → \(after)")
        for e in h.epochs {
            XCTAssertEqual(e.trainLoss, e.metrics["d_loss"]! + e.metrics["g_loss"]!, accuracy: 1e-9 * abs(e.trainLoss) + 1e-12)
        }
        XCTAssertEqual(h.epochs.count, 12)
    }

    /// Both optimizers' states, the schedule's position and the noise generator survive a
    /// resume: bit for bit equal to an uninterrupted run.
    func testGANResumeEqualsUninterrupted() throws {
        let data = gaussianData(count: 128, seed: 5)
        let (full, fullGAN) = makeGANTrainer()
        try full.fit(data, epochs: 5, batchSize: 16)

        let (first, _) = makeGANTrainer()
        try first.fit(data, epochs: 3, batchSize: 16)
        let path = directory + "/gan.safetensors"
        try Checkpoint.save(first, to: path)

        let (resumed, resumedGAN) = makeGANTrainer(seed: 2)
        _ = resumedGAN.noise.next()   // disturb it
        try Checkpoint.restore(resumed, from: path)
        XCTAssertEqual(resumed.scheduler!.epoch, 3)
        XCTAssertEqual(resumed.optimizers[1].learningRate.bitPattern, first.optimizers[1].learningRate.bitPattern)
        try resumed.fit(data, epochs: 5, batchSize: 16)
        XCTAssertEqual(bits(resumed.history), bits(full.history))
        XCTAssertEqual(weightBits(resumedGAN), weightBits(fullGAN))
        XCTAssertEqual(resumed.optimizers[0].stateDict().metadata, full.optimizers[0].stateDict().metadata)
        XCTAssertEqual(resumed.optimizers[1].stateDict().metadata, full.optimizers[1].stateDict().metadata)

        // A trainer with one optimizer cannot take the two-optimizer checkpoint.
        let gan = GAN(seed: 2)
        let single = Trainer(model: gan, optimizer: Adam(gan.parameters()), step: .custom("x") { _ in StepOutput(loss: Tensor(0.0)) })
        XCTAssertThrowsError(try Checkpoint.restore(single, from: path)) { XCTAssertTrue("\($0)".contains("2 optimizers"), "\($0)") }
    }

    func testCustomStepWithoutValidationRefusesNothingWhenNoValidationIsGiven() throws {
        let (t, _) = makeGANTrainer()
        XCTAssertNil(t.trainingStep.validate)
        XCTAssertTrue(t.trainingStep.updatesItself)
        try t.fit(gaussianData(count: 16, seed: 1), epochs: 1, batchSize: 8)
        XCTAssertEqual(t.step, 2)
    }

    // MARK: masked sequence loss

    func testMaskedSequenceLossIgnoresPadding() throws {
        let model = Linear(1, 1, generator: RandomGenerator(seed: 3))
        let t = Trainer(model: model, optimizer: Adam(model.parameters(), lr: 0.05), step: maskedMSE(model), seed: 1)
        t.progress = ProgressReporter(style: .silent)
        let h = try t.fit(PaddedSequences(count: 200, seed: 1), validation: PaddedSequences(count: 50, seed: 2),
                          epochs: 60, batchSize: 20)
        // The real steps are exactly y = 2x + 1, so the masked least-squares optimum is w = 2,
        // b = 1 with loss 0; the padding targets (1000) would pull an unmasked fit far off.
        XCTAssertEqual(Double(model.weight.floats[0]), 2, accuracy: 0.05)
        XCTAssertEqual(Double(model.bias!.floats[0]), 1, accuracy: 0.05)
        XCTAssertLessThan(h.epochs.last!.validationLoss!, 0.01)
        XCTAssertLessThan(h.epochs.last!.trainLoss, h.epochs.first!.trainLoss)
    }

    /// A batch whose mask is all zero gives 0/0: training stops, naming the step, its number
    /// and the epoch, after the epochs before it were recorded.
    func testNaNStopNamesTheStep() throws {
        let model = Linear(1, 1, generator: RandomGenerator(seed: 3))
        let t = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 0.01), step: maskedMSE(model), seed: 1)
        t.progress = ProgressReporter(style: .silent)
        // Batch size 1 and no shuffling influence: example 7 is the empty one; with 10
        // examples it is met in epoch 1 at the step where it is drawn.
        XCTAssertThrowsError(try t.fit(PaddedSequences(count: 10, seed: 1, emptyAt: 7), epochs: 3, batchSize: 1)) { error in
            guard let e = error as? TrainingError else { return XCTFail("\(error)") }
            XCTAssertTrue(e.message.contains("step 'masked-mse'"), e.message)
            XCTAssertTrue(e.message.contains("nan"), e.message)
            XCTAssertTrue(e.message.contains("epoch 1, step \(t.step)"), e.message)
        }
        XCTAssertEqual(t.completedEpochs, 0)
        XCTAssertTrue((1...10).contains(t.step))
    }

    func testEarlyStoppingWithAStep() throws {
        let model = Linear(1, 1, generator: RandomGenerator(seed: 3))
        // Learning rate 0: the validation loss never improves after the first epoch, so with
        // patience 2 the run stops after epoch 3.
        let t = Trainer(model: model, optimizer: SGD(model.parameters(), lr: 0), step: maskedMSE(model), seed: 1)
        t.progress = ProgressReporter(style: .silent)
        t.earlyStoppingPatience = 2
        let h = try t.fit(PaddedSequences(count: 20, seed: 1), validation: PaddedSequences(count: 10, seed: 2), epochs: 10, batchSize: 5)
        XCTAssertEqual(h.epochs.count, 3)
    }

    func testHistoryCSVHasAColumnPerStepMetric() throws {
        var h = History()
        var r = EpochRecord(epoch: 1, trainLoss: 1.5, learningRate: 0.1, seconds: 1, samplesPerSecond: 10)
        r.metrics = ["kl": 0.5, "reconstruction": 1.0]
        h.epochs = [r]
        let lines = h.csv().split(separator: "\n")
        XCTAssertTrue(lines[0].hasSuffix(",kl,reconstruction"), String(lines[0]))
        XCTAssertTrue(lines[1].hasSuffix(",0.5,1.0"), String(lines[1]))
        let decoded = try JSONDecoder().decode([EpochRecord].self, from: Data(h.json().utf8))
        XCTAssertEqual(decoded, h.epochs)
    }
}
