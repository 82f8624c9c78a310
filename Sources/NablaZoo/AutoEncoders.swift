import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO
import NablaTraining
import NablaViz

extension Zoo {
    static let imageChoices = ["fashion-mnist", "digits"]
    static let imageRequirement = "it learns to reproduce or generate images, so it needs an image data set"

    /// Images `[N, 1, H, W]` as rows `[N, H·W]`.
    static func rows(_ x: Tensor) -> Tensor { x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)]) }

    /// The first `n` rows of `x` as images (lists of pixel values).
    static func pictures(_ x: Tensor, _ n: Int) -> [[Double]] {
        let r = rows(x), d = r.shape[1]
        let v = r.narrow(axis: 0, start: 0, length: min(n, r.shape[0])).doubles
        return (0..<(v.count / d)).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
    }

    /// An encoder and a decoder of dense layers: `inputs → hidden… → code` and back, the
    /// decoder ending in `output` (a sigmoid for pixels in [0, 1], nothing for logits).
    public final class AutoEncoderNetwork: Module, @unchecked Sendable {
        /// inputs → code.
        public let encoder: Sequential
        /// code → inputs.
        public let decoder: Sequential
        /// The code size.
        public let codeSize: Int

        /// ReLU hidden layers of the given widths each way; `codeActivation` after the code
        /// layer (a sigmoid for a sparse code) and `outputSigmoid` at the end of the decoder.
        public init(inputs: Int, hidden: [Int], code: Int, codeActivation: Module? = nil, outputSigmoid: Bool = true,
                    generator: RandomGenerator = .global) {
            codeSize = code
            let widths = [inputs] + hidden
            var down: [Module] = []
            for (a, b) in zip(widths, widths.dropFirst()) { down += [Linear(a, b, generator: generator), ReLU()] }
            down.append(Linear(widths.last!, code, generator: generator))
            if let codeActivation { down.append(codeActivation) }
            encoder = Sequential(down)
            let back = [code] + hidden.reversed()
            var up: [Module] = []
            for (a, b) in zip(back, back.dropFirst()) { up += [Linear(a, b, generator: generator), ReLU()] }
            up.append(Linear(back.last!, inputs, generator: generator))
            if outputSigmoid { up.append(Sigmoid()) }
            decoder = Sequential(up)
            super.init()
        }

        /// An auto-encoder from a given encoder and decoder.
        public init(encoder: Sequential, decoder: Sequential, code: Int) {
            self.encoder = encoder
            self.decoder = decoder
            codeSize = code
            super.init()
        }

        /// decoder(encoder(x)) for rows x `[N, inputs]`.
        public override func forward(_ x: Tensor) -> Tensor { decoder(encoder(x)) }
    }

    /// Principal component analysis for the auto-encoder's baseline: the top `k` directions
    /// of the training rows' covariance, by subspace iteration in float64.
    public struct PCA: Sendable {
        /// The training mean, `[D]`.
        public let mean: Tensor
        /// Orthonormal components as columns, `[D, k]`.
        public let components: Tensor

        /// Fits `k` components to the rows of `x` (`[N, D]`).
        public init(_ x: Tensor, components k: Int, iterations: Int = 60, generator: RandomGenerator = RandomGenerator(seed: 0)) {
            let data = x.to(.float64)
            mean = data.mean(axis: 0)
            let centred = data - mean
            let covariance = centred.T.matmul(centred) / Double(max(data.shape[0], 1))
            var q = Tensor.randomNormal([data.shape[1], k], dtype: .float64, generator: generator)
            for _ in 0..<iterations { q = PCA.orthonormalized(covariance.matmul(q)) }
            components = q
        }

        /// Gram–Schmidt on the columns of `a` (data of lower rank than the components asked
        /// for leave the columns from the first dependent one as they were).
        static func orthonormalized(_ a: Tensor) -> Tensor {
            var v = a.doubles
            _ = Initializers.orthonormalizeColumns(&v, rows: a.shape[0], columns: a.shape[1])
            return Tensor(v, shape: a.shape)
        }

        /// The rows of `x` projected on the components and back.
        public func reconstruct(_ x: Tensor) -> Tensor {
            let centred = x.to(.float64) - mean
            return centred.matmul(components).matmul(components.T) + mean
        }
    }

    /// Mean squared error of the reconstructions of `x` by `model` (evaluation mode, batches of 1000).
    static func reconstructionMSE(_ x: Tensor, _ reconstruct: (Tensor) -> Tensor) -> Double {
        withoutGrad {
            var total = 0.0
            let n = x.shape[0]
            for start in stride(from: 0, to: n, by: 1000) {
                let b = x.narrow(axis: 0, start: start, length: min(1000, n - start))
                total += (reconstruct(b).to(.float64) - b.to(.float64)).squared().sum().item()
            }
            return total / Double(x.count)
        }
    }

    /// Rows of originals above rows of their reconstructions (and more rows, each a list).
    static func comparison(_ rowsOfImages: [[[Double]]], side: Int) -> Raster {
        let columns = rowsOfImages.first?.count ?? 1
        return ZooPictures.grid(rowsOfImages.flatMap { $0 }, side: side, columns: columns, scale: side <= 8 ? 6 : 2)
    }

    /// An unsupervised data set: the images as rows, targets their labels (for pictures only).
    static func unsupervised(_ d: TensorDataset) -> TensorDataset {
        var r = TensorDataset(inputs: rows(d.inputs), targets: d.targets, name: d.name)
        r.classCount = d.classCount
        return r
    }

    // MARK: Auto-encoder

    /// The auto-encoder (AE): a 2-D code, compared with PCA of the same size.
    ///
    /// Architecture: `D → 256 → 64 → 2 → 64 → 256 → D` (ReLU, a sigmoid output). Recipe:
    /// mean squared error, Adam 10⁻³, 10 epochs of batches of 128. The test MSE is set against
    /// that of PCA with 2 components fitted to the training images; the picture is the test
    /// set's codes coloured by class.
    public enum AutoEncoder: ZooEntry {
        public static let name = "ae"
        public static let summary = "auto-encoder with a 2-D code, against PCA: Fashion-MNIST"
        public static let dataChoices = imageChoices
        public static let dataRequirement = imageRequirement
        public static let defaultEpochs = 10
        /// The default architecture (`--arch` changes it).
        public static let defaultArchitecture = ImageArchitecture.dense

        public static func train(_ context: ZooContext) throws {
            let (train, test, side) = try context.images()
            let g = context.generator(1)
            let model = context.architecture(defaultArchitecture) == .dense
                ? AutoEncoderNetwork(inputs: side * side, hidden: [256, 64], code: 2, generator: g)
                : AutoEncoderNetwork(encoder: Sequential { convolutionalEncoder(side: side, features: 256, generator: g); ReLU(); Linear(256, 2, generator: g) },
                                     decoder: Sequential { Linear(2, 256, generator: g); ReLU()
                                                           convolutionalDecoder(side: side, inputs: 256, output: Sigmoid(), generator: g) },
                                     code: 2)
            let step = TrainingStep.loss("ae") { batch in StepOutput(loss: Loss.mse(model(batch.inputs), batch.inputs)) }
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 1e-3)], step)
            _ = try trainer.fit(unsupervised(train), epochs: context.epochs(defaultEpochs), batchSize: 128)
            model.eval()
            let x = rows(test.inputs)
            let mse = reconstructionMSE(x) { model($0) }
            let pca = PCA(rows(train.inputs), components: 2)
            let pcaMSE = reconstructionMSE(x) { pca.reconstruct($0) }
            context.record("test_mse", mse, "test reconstruction MSE \(fmt(mse)) with a 2-D code; PCA with 2 components: \(fmt(pcaMSE))")
            context.record("pca_test_mse", pcaMSE)
            // The baseline of both: every test image replaced by the mean training image.
            let meanImage = rows(train.inputs).mean(axis: 0)
            context.record("mean_image_test_mse", reconstructionMSE(x) { $0 * 0.0 + meanImage })
            context.target("reconstruction MSE ≤ PCA's with the same code size", met: mse <= pcaMSE)
            let shown = x.narrow(axis: 0, start: 0, length: min(12, x.shape[0]))
            let recon = withoutGrad { model(shown) }
            try context.save(comparison([pictures(shown, 12), pictures(recon, 12)], side: side), "ae-reconstructions.png")
            let codes = withoutGrad { model.encoder(x.narrow(axis: 0, start: 0, length: min(3000, x.shape[0]))) }.doubles
            let labels = test.targets.doubles
            try context.save(ZooPictures.scatter((0..<(codes.count / 2)).map { (codes[2 * $0], codes[2 * $0 + 1], Int(labels[$0])) }),
                             "ae-codes.png")
            try context.saveModel(trainer, "ae.safetensors")
        }
    }

    // MARK: Denoising auto-encoder

    /// The denoising auto-encoder (DAE): Gaussian noise (σ = 0.4) on the input, the clean
    /// image as the target.
    ///
    /// Architecture: `GaussianNoise(0.4) → D → 256 → 64 → 256 → D` (ReLU, a sigmoid output;
    /// the noise only in training). Recipe: MSE against the clean image, Adam 10⁻³, 10 epochs.
    /// On the test set the same noise is added once; the denoised output's MSE to the clean
    /// image is compared with the noisy input's.
    public enum DenoisingAutoEncoder: ZooEntry {
        public static let name = "dae"
        public static let summary = "denoising auto-encoder, Gaussian input noise σ = 0.4: Fashion-MNIST"
        public static let dataChoices = imageChoices
        public static let dataRequirement = imageRequirement
        public static let defaultEpochs = 10
        /// The noise's standard deviation.
        public static let noise = 0.4
        /// The default architecture (`--arch` changes it).
        public static let defaultArchitecture = ImageArchitecture.dense

        public static func train(_ context: ZooContext) throws {
            let (train, test, side) = try context.images()
            let g = context.generator(1)
            let network = context.architecture(defaultArchitecture) == .dense
                ? AutoEncoderNetwork(inputs: side * side, hidden: [256], code: 64, generator: g)
                : AutoEncoderNetwork(encoder: convolutionalEncoder(side: side, features: 64, generator: g),
                                     decoder: convolutionalDecoder(side: side, inputs: 64, output: Sigmoid(), generator: g), code: 64)
            let model = Sequential { GaussianNoise(std: noise, generator: context.generator(2)); network }
            let step = TrainingStep.loss("dae") { batch in StepOutput(loss: Loss.mse(model(batch.inputs), batch.inputs)) }
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 1e-3)], step)
            _ = try trainer.fit(unsupervised(train), epochs: context.epochs(defaultEpochs), batchSize: 128)
            model.eval()
            let clean = rows(test.inputs)
            let noisy = clean + Tensor.randomNormal(clean.shape, std: noise, generator: context.generator(3))
            let noisyMSE = withoutGrad { (noisy - clean).squared().mean().item() }
            let denoised = withoutGrad { network(noisy) }
            let denoisedMSE = withoutGrad { (denoised - clean).squared().mean().item() }
            context.record("test_noisy_mse", noisyMSE)
            context.record("test_denoised_mse", denoisedMSE,
                           "test MSE to the clean images: noisy \(fmt(noisyMSE)), denoised \(fmt(denoisedMSE)) (\(fmt(noisyMSE / denoisedMSE, 1))× lower)")
            context.target("denoised MSE at least 3× below the noisy input's", met: denoisedMSE * 3 <= noisyMSE)
            try context.save(comparison([pictures(noisy, 12).map { $0.map { min(max($0, 0), 1) } }, pictures(denoised, 12),
                                         pictures(clean, 12)], side: side), "dae-denoising.png")
            try context.saveModel(trainer, "dae.safetensors")
        }
    }

    // MARK: Sparse auto-encoder

    /// The sparse auto-encoder (SAE): 196 sigmoid units pushed towards a mean activation ρ = 0.05.
    ///
    /// Architecture: `D → 196 (sigmoid) → D (sigmoid)`. Recipe: squared error summed over the
    /// pixels (mean over examples) + β·``NablaNN/Loss/sparsityKL(_:target:)`` with β = 3 and
    /// ρ = 0.05, Adam 10⁻³, 10 epochs of batches of 128. Reports the mean activation on the test
    /// set; the picture shows the features (each hidden unit's decoder weights as an image).
    public enum SparseAutoEncoder: ZooEntry {
        public static let name = "sae"
        public static let summary = "sparse auto-encoder, KL penalty towards mean activation ρ = 0.05: Fashion-MNIST"
        public static let dataChoices = imageChoices
        public static let dataRequirement = imageRequirement
        public static let defaultEpochs = 10
        /// The target mean activation ρ.
        public static let rho = 0.05
        /// The penalty's weight β.
        public static let beta = 3.0

        public static func train(_ context: ZooContext) throws {
            let (train, test, side) = try context.images()
            let d = side * side, units = 196
            let model = AutoEncoderNetwork(inputs: d, hidden: [], code: units, codeActivation: Sigmoid(), generator: context.generator(1))
            let step = TrainingStep.loss("sae") { batch in
                let code = model.encoder(batch.inputs)
                let reconstruction = Loss.mse(model.decoder(code), batch.inputs, reduction: .sum) / Double(batch.count)
                let sparsity = Loss.sparsityKL(code, target: rho)
                return StepOutput(loss: reconstruction + sparsity * beta,
                                  metrics: ["reconstruction": reconstruction.item(), "sparsity_kl": sparsity.item()])
            }
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 1e-3)], step)
            _ = try trainer.fit(unsupervised(train), epochs: context.epochs(defaultEpochs), batchSize: 128)
            model.eval()
            let x = rows(test.inputs)
            let code = withoutGrad { model.encoder(x) }
            let unitMeans = code.mean(axis: 0).doubles
            let meanActivation = unitMeans.reduce(0, +) / Double(units)
            let mse = reconstructionMSE(x) { model($0) }
            context.record("mean_activation", meanActivation,
                           "mean hidden activation on the test set \(fmt(meanActivation)) (target ρ = \(rho)); units between ρ/2 and 2ρ: \(unitMeans.filter { $0 >= rho / 2 && $0 <= 2 * rho }.count) of \(units)")
            context.record("test_mse", mse, "test reconstruction MSE \(fmt(mse))")
            context.target("mean activation within 20 % of ρ", met: abs(meanActivation - rho) <= 0.2 * rho)
            // Features: each hidden unit's outgoing weights (a column of the decoder's weight),
            // scaled to [0, 1] per unit.
            guard let decoderLayer = model.decoder.layers.first as? Linear else { throw ZooError("sae: the decoder does not start with a linear layer") }
            let w = decoderLayer.weight.doubles
            let features = (0..<min(units, 64)).map { j -> [Double] in
                let column = (0..<d).map { w[$0 * units + j] }
                let lo = column.min()!, hi = column.max()!
                return column.map { ($0 - lo) / max(hi - lo, 1e-12) }
            }
            var bars = Raster(width: units * 2 + 2, height: 82)
            for (j, m) in unitMeans.enumerated() {
                let h = Int((min(m, 0.2) / 0.2 * 80).rounded())
                bars.fill(x: 1 + 2 * j, y: 81 - h, width: 2, height: h, RGB.palette[0])
            }
            bars.fill(x: 0, y: 81 - Int(rho / 0.2 * 80), width: bars.width, height: 1, RGB.palette[1])
            bars.frame(x: 0, y: 0, width: bars.width, height: bars.height, .black)
            try context.save(ZooPictures.stack([ZooPictures.grid(features, side: side, columns: 8, scale: side <= 8 ? 5 : 2), bars],
                                               vertical: true), "sae-features.png")
            try context.saveModel(trainer, "sae.safetensors")
        }
    }
}
