import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO
import NablaTraining
import NablaViz

extension Zoo {
    // MARK: Variational auto-encoder

    /// The variational auto-encoder (VAE) with a 2-D latent space.
    ///
    /// Architecture: encoder `D → 512 → 256` (ReLU) with heads μ and log σ² (256 → 2 each);
    /// decoder `2 → 256 → 512 → D` (ReLU) giving pixel logits. Recipe: the negative ELBO,
    /// binary cross-entropy summed over the pixels plus ``NablaNN/Loss/gaussianKL(mean:logVariance:reduction:)``,
    /// averaged over the batch, with z drawn by ``NablaNN/reparameterize(mean:logVariance:generator:)``;
    /// Adam 10⁻³, 10 epochs of batches of 128 (the architecture and protocol of
    /// `Scripts/reference_vae.py`, which trains it in PyTorch).
    public enum VAE: ZooEntry {
        public static let name = "vae"
        public static let summary = "variational auto-encoder, 2-D latent space: Fashion-MNIST"
        public static let dataChoices = imageChoices
        public static let dataRequirement = imageRequirement
        public static let defaultEpochs = 10
        /// The default architecture (`--arch` changes it).
        public static let defaultArchitecture = ImageArchitecture.dense

        /// The network: encoder, the two Gaussian heads, decoder, and the noise generator.
        public final class Network: Module, @unchecked Sendable {
            /// x → features.
            public let encoder: Sequential
            /// features → μ.
            public let mean: Linear
            /// features → log σ².
            public let logVariance: Linear
            /// z → pixel logits.
            public let decoder: Sequential
            /// Where ε comes from.
            public let noise: RandomGenerator
            /// The latent size.
            public let latent: Int

            /// The default architecture for `inputs` pixels (a square image), dense or convolutional.
            public init(inputs: Int, latent: Int = 2, architecture: ImageArchitecture = .dense,
                        generator: RandomGenerator = .global, noise: RandomGenerator = .global) {
                let side = Int(Double(inputs).squareRoot().rounded())
                switch architecture {
                case .dense:
                    encoder = Sequential { Linear(inputs, 512, generator: generator); ReLU(); Linear(512, 256, generator: generator); ReLU() }
                    decoder = Sequential {
                        Linear(latent, 256, generator: generator); ReLU(); Linear(256, 512, generator: generator); ReLU()
                        Linear(512, inputs, generator: generator)
                    }
                case .conv:
                    encoder = Sequential { convolutionalEncoder(side: side, features: 256, generator: generator); ReLU() }
                    decoder = Sequential {
                        Linear(latent, 256, generator: generator); ReLU()
                        convolutionalDecoder(side: side, inputs: 256, output: nil, generator: generator)
                    }
                }
                mean = Linear(256, latent, generator: generator)
                logVariance = Linear(256, latent, generator: generator)
                self.noise = noise
                self.latent = latent
                super.init()
            }

            /// The reconstruction and KL terms, each averaged over the batch; `sample: false`
            /// decodes the mean code. ε comes from `generator` (default: the model's ``noise``).
            public func losses(_ x: Tensor, sample: Bool = true, generator: RandomGenerator? = nil) -> (reconstruction: Tensor, kl: Tensor) {
                let h = encoder(x)
                let (mu, logVar) = (mean(h), logVariance(h))
                let z = sample ? reparameterize(mean: mu, logVariance: logVar, generator: generator ?? noise) : mu
                let reconstruction = Loss.binaryCrossEntropy(logits: decoder(z), x, reduction: .sum) / Double(x.shape[0])
                return (reconstruction, Loss.gaussianKL(mean: mu, logVariance: logVar))
            }

            /// The training step: the negative ELBO, reporting both terms.
            public var step: TrainingStep {
                .loss("vae") { batch in
                    let (r, kl) = self.losses(batch.inputs)
                    return StepOutput(loss: r + kl, metrics: ["reconstruction": r.item(), "kl": kl.item()])
                }
            }

            /// Images decoded from latent codes `[N, latent]`.
            public func decode(_ z: Tensor) -> Tensor { withoutGrad { decoder(z).sigmoid() } }
        }

        public static func train(_ context: ZooContext) throws {
            let (train, test, side) = try context.images()
            let model = Network(inputs: side * side, architecture: context.architecture(defaultArchitecture),
                                generator: context.generator(1), noise: context.generator(2))
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 1e-3)], model.step)
            trainer.generators["noise"] = model.noise
            _ = try trainer.fit(unsupervised(train), epochs: context.epochs(defaultEpochs), batchSize: 128)
            model.eval()
            // The test ELBO with one ε per image (as in training, but from the run's own
            // evaluation stream, so the model's noise state in the checkpoint is the training
            // one), and with the mean code.
            let x = rows(test.inputs)
            var sampled = (r: 0.0, kl: 0.0), meanCode = 0.0
            let evaluationNoise = context.generator(6)
            withoutGrad {
                for start in stride(from: 0, to: x.shape[0], by: 1000) {
                    let b = x.narrow(axis: 0, start: start, length: min(1000, x.shape[0] - start)), n = Double(b.shape[0])
                    let (r, kl) = model.losses(b, generator: evaluationNoise)
                    sampled.r += r.item() * n; sampled.kl += kl.item() * n
                    let (r0, kl0) = model.losses(b, sample: false)
                    meanCode += (r0.item() + kl0.item()) * n
                }
            }
            let n = Double(max(x.shape[0], 1))
            let negELBO = (sampled.r + sampled.kl) / n
            context.record("test_neg_elbo", negELBO,
                           "test negative ELBO \(fmt(negELBO, 2)) nats per image (reconstruction \(fmt(sampled.r / n, 2)) + KL \(fmt(sampled.kl / n, 2))); with the mean code \(fmt(meanCode / n, 2))")
            context.record("test_reconstruction", sampled.r / n)
            context.record("test_kl", sampled.kl / n)
            context.record("test_neg_elbo_mean_code", meanCode / n)
            let scale = side <= 8 ? 5 : 2
            let prior = model.decode(Tensor.randomNormal([64, model.latent], generator: context.generator(4)))
            try context.save(ZooPictures.grid(pictures(prior, 64), side: side, columns: 8, scale: scale), "vae-samples.png")
            // The latent walk: z on a 10 × 10 grid over [−2, 2]².
            let steps = 10
            let values = (0..<steps).map { -2 + 4 * Double($0) / Double(steps - 1) }
            let grid = values.reversed().flatMap { y in values.flatMap { xv in [Float(xv), Float(y)] } }
            let walk = model.decode(Tensor(grid, shape: [steps * steps, 2]))
            try context.save(ZooPictures.grid(pictures(walk, steps * steps), side: side, columns: steps, scale: scale, gap: 0),
                             "vae-latent-walk.png")
            let shown = x.narrow(axis: 0, start: 0, length: min(12, x.shape[0]))
            let recon = withoutGrad { () -> Tensor in model.decode(model.mean(model.encoder(shown))) }
            try context.save(comparison([pictures(shown, 12), pictures(recon, 12)], side: side), "vae-reconstructions.png")
            try context.saveModel(trainer, "vae.safetensors")
        }
    }

    // MARK: Generative adversarial network

    /// The generative adversarial network (GAN): a dense generator and discriminator trained
    /// in alternation with two optimizers.
    ///
    /// Generator: `z (64) → 256 → 512 → D`, LeakyReLU(0.2), a tanh output (pixels scaled to
    /// [−1, 1]). Discriminator: `D → 512 → 256 → 1` logit, LeakyReLU(0.2). Recipe: a custom
    /// step, the discriminator's update on real and detached fake images first, then the
    /// generator's non-saturating loss through the updated discriminator; Adam 2·10⁻⁴ with
    /// β₁ = 0.5 for each, 15 epochs of batches of 128. A sample grid from fixed noise is drawn
    /// every 3 epochs (every epochs/5 for longer runs) and after the last, 16 samples a row.
    public enum GAN: ZooEntry {
        public static let name = "gan"
        public static let summary = "generative adversarial network, dense generator and discriminator: Fashion-MNIST"
        public static let dataChoices = imageChoices
        public static let dataRequirement = imageRequirement
        public static let defaultEpochs = 15
        /// The noise size.
        public static let noiseSize = 64
        /// The default architecture (`--arch` changes it).
        public static let defaultArchitecture = ImageArchitecture.dense

        /// Both networks in one module (so one checkpoint holds them), and the noise generator.
        public final class Network: Module, @unchecked Sendable {
            /// z → image (tanh).
            public let generator: Sequential
            /// image → logit.
            public let discriminator: Sequential
            /// Where z comes from.
            public let noise: RandomGenerator

            /// The default architecture for `inputs` pixels (a square image), dense or convolutional.
            public init(inputs: Int, architecture: ImageArchitecture = .dense, generator g: RandomGenerator = .global,
                        noise: RandomGenerator = .global) {
                self.noise = noise
                switch architecture {
                case .dense:
                    generator = Sequential {
                        Linear(noiseSize, 256, generator: g); LeakyReLU(0.2)
                        Linear(256, 512, generator: g); LeakyReLU(0.2)
                        Linear(512, inputs, generator: g); Tanh()
                    }
                    discriminator = Sequential {
                        Linear(inputs, 512, generator: g); LeakyReLU(0.2)
                        Linear(512, 256, generator: g); LeakyReLU(0.2)
                        Linear(256, 1, generator: g)
                    }
                case .conv:
                    let side = Int(Double(inputs).squareRoot().rounded())
                    generator = convolutionalDecoder(side: side, inputs: noiseSize, output: Tanh(), generator: g)
                    discriminator = convolutionalEncoder(side: side, features: 1, leaky: true, generator: g)
                }
                super.init()
            }

            /// The two optimizers: the discriminator's first, then the generator's.
            public func optimizers() -> [Optimizer] {
                [Adam(discriminator.parameters(), lr: 2e-4, betas: (0.5, 0.999)),
                 Adam(generator.parameters(), lr: 2e-4, betas: (0.5, 0.999))]
            }

            /// One step in the right order: D on real and detached fakes, then G through the updated D.
            public func step(discriminator dOpt: Optimizer, generator gOpt: Optimizer) -> TrainingStep {
                .custom("gan") { batch in
                    let real = batch.inputs * 2.0 - 1.0, n = batch.count
                    let ones = Tensor.ones([n, 1]), zeros = Tensor.zeros([n, 1])
                    let fake = self.generator(Tensor.randomNormal([n, noiseSize], generator: self.noise))
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

            /// Images in [0, 1] generated from noise `[N, noiseSize]` (evaluation mode, no graph).
            public func sample(_ z: Tensor) -> Tensor { withoutGrad { (generator.eval()(z) + 1.0) * 0.5 } }
        }

        public static func train(_ context: ZooContext) throws {
            let (train, _, side) = try context.images()
            let model = Network(inputs: side * side, architecture: context.architecture(defaultArchitecture),
                                generator: context.generator(1), noise: context.generator(2))
            let optimizers = model.optimizers()
            let trainer = context.trainer(model, optimizers, model.step(discriminator: optimizers[0], generator: optimizers[1]))
            trainer.generators["noise"] = model.noise
            let fixed = Tensor.randomNormal([16, noiseSize], generator: context.generator(3))
            let epochs = context.epochs(defaultEpochs)
            // Five snapshots at most (every 3 epochs for the default 15), and the last epoch.
            let every = max(3, epochs / 5)
            var snapshots: [Raster] = []
            let scale = side <= 8 ? 4 : 1
            trainer.onEpochEnd = { _, record in
                if record.epoch % every == 0 || record.epoch == epochs {
                    snapshots.append(ZooPictures.grid(pictures(model.sample(fixed), 16), side: side, columns: 16, scale: scale, gap: 1))
                }
            }
            // A non-finite loss stops the trainer with an error naming the step; the run then
            // reports the target as missed and keeps what it has.
            var finite = true
            do {
                _ = try trainer.fit(unsupervised(train), epochs: epochs, batchSize: 128)
            } catch let error as TrainingError {
                finite = false
                context.say(error.message)
            }
            let last = trainer.history.epochs.last
            context.record("d_loss", last?.metrics["d_loss"] ?? .nan)
            context.record("g_loss", last?.metrics["g_loss"] ?? .nan,
                           "after \(trainer.completedEpochs) epochs: discriminator loss \(fmt(last?.metrics["d_loss"] ?? .nan, 3)), generator loss \(fmt(last?.metrics["g_loss"] ?? .nan, 3))")
            context.target("training stays finite (no NaN)", met: finite)
            try context.saveModel(trainer, "gan.safetensors")
            if !snapshots.isEmpty { try context.save(ZooPictures.stack(snapshots, vertical: true, gap: 4), "gan-progress.png") }
            let final = model.sample(Tensor.randomNormal([64, noiseSize], generator: context.generator(5)))
            try context.save(ZooPictures.grid(pictures(final, 64), side: side, columns: 8, scale: side <= 8 ? 5 : 2), "gan-samples.png")
        }
    }
}
