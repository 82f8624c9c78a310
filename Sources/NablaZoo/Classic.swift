import Foundation
import NablaCore
import NablaNN
import NablaData
import NablaIO
import NablaTraining
import NablaViz

extension Zoo {
    /// Two Gaussian blobs, centred at (−2, −2) (class 0) and (2, 2) (class 1) with standard
    /// deviation 0.6: linearly separable (the gap is over 4.7 standard deviations each side).
    public static func blobs(count: Int = 200, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<count {
            let c = i % 2, centre = c == 0 ? -2.0 : 2.0
            xs += [Float(centre + 0.6 * g.nextNormal()), Float(centre + 0.6 * g.nextNormal())]
            ys.append(Float(c))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "blobs", classCount: 2)
    }

    /// A two-class 2-D problem by name: blobs, xor, ring, spirals, three-modes.
    static func plane(_ name: String, count: Int, seed: UInt64) throws -> TensorDataset {
        switch name {
        case "blobs": return blobs(count: count, seed: seed)
        case "xor": return Synthetic.xor(count: count, seed: seed)
        case "ring": return Synthetic.ring(count: count, seed: seed)
        case "spirals": return Synthetic.twoSpirals(count: count, seed: seed)
        case "three-modes": return Synthetic.threeModes(count: count, seed: seed)
        default: throw ZooError("'\(name)' is not a 2-D classification data set")
        }
    }

    /// The points of a 2-D data set with their labels, for pictures.
    static func labelledPoints(_ d: TensorDataset) -> [(x: Double, y: Double, label: Int)] {
        let x = d.inputs.doubles, y = d.targets.doubles
        return (0..<d.count).map { (x[2 * $0], x[2 * $0 + 1], Int(y[$0])) }
    }

    /// Probabilities of class 1 for grid points from a two-logit classifier.
    static func classOneProbability(_ model: Module) -> ([(Double, Double)]) -> [Double] {
        { grid in
            withoutGrad {
                let x = Tensor(grid.flatMap { [Float($0.0), Float($0.1)] }, shape: [grid.count, 2])
                return model.eval()(x).softmax(axis: 1).select(axis: 1, 1).doubles
            }
        }
    }

    // MARK: Perceptron

    /// The perceptron (P): Rosenblatt's rule on two inputs, which separates the blobs and
    /// cannot separate XOR.
    ///
    /// Recipe: ``NablaNN/Perceptron`` trained by the perceptron rule (learning rate 1, examples
    /// in order) for at most 100 epochs. It converges on the blobs; on XOR it never has an
    /// epoch without mistakes, and its accuracy stays near chance, as the notes say.
    public enum Perceptron: ZooEntry {
        public static let name = "perceptron"
        public static let summary = "Rosenblatt's perceptron: converges on two Gaussian blobs, fails on XOR"
        public static let dataChoices = ["blobs", "xor"]
        public static let dataRequirement = "it needs a 2-D two-class problem"
        public static let defaultEpochs = 100

        public static func train(_ context: ZooContext) throws {
            for name in context.options.data.map({ [$0] }) ?? dataChoices {
                context.report.data.append(name)
                let data = context.limited(try plane(name, count: 200, seed: context.seed))
                let x = data.inputs.to(.float64), y = data.targets.to(.float64) * 2.0 - 1.0   // labels ±1
                let p = NablaNN.Perceptron(inputs: 2)
                func picture(_ p: NablaNN.Perceptron) -> Raster {
                    ZooPictures.decisionBoundary(points: labelledPoints(data)) { grid in
                        p.decisionFunction(Tensor(grid.flatMap { [$0.0, $0.1] }, shape: [grid.count, 2])).doubles.map { $0 > 0 ? 1 : 0 }
                    }
                }
                let before = picture(p)
                let fit = p.fit(x, y, maxEpochs: context.epochs(defaultEpochs))
                let accuracy = p.accuracy(x, y)
                context.record("epochs_\(name)", Double(fit.epochs))
                context.record("accuracy_\(name)", accuracy,
                               "\(name): \(fit.converged ? "converged after \(fit.epochs) epochs" : "did not converge in \(fit.epochs) epochs") (mistakes in the last epoch: \(fit.mistakesPerEpoch.last ?? 0)), training accuracy \(fmt(accuracy))")
                if name == "blobs" {
                    context.target("converges on the blobs in < 100 epochs", met: fit.converged && fit.epochs < 100)
                } else {
                    context.target("fails on XOR (no epoch without mistakes)", met: !fit.converged)
                }
                try context.save(ZooPictures.stack([before, picture(p)]), "perceptron-\(name).png")
                let file = SafeTensorsFile(entries: [try SafeTensorEntry(name: "weight", shape: [2], doubles: p.weight.doubles),
                                                     try SafeTensorEntry(name: "bias", shape: [1], doubles: [p.bias])])
                try file.write(to: context.path("perceptron-\(name).safetensors"))
                context.report.files.append(context.path("perceptron-\(name).safetensors"))
            }
        }
    }

    // MARK: Feed-forward networks

    /// Trains a two-logit classifier on the 2-D problems and draws its decision boundaries.
    static func planeClassifier(_ context: ZooContext, entry: String, choices: [String], epochs: Int,
                                model makeModel: (RandomGenerator) -> Sequential) throws {
        for name in context.options.data.map({ [$0] }) ?? choices {
            context.report.data.append(name)
            let train = context.limited(try plane(name, count: 1000, seed: context.seed))
            let test = context.limited(try plane(name, count: 1000, seed: context.seed &+ 100))
            let model = makeModel(context.generator(1))
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 0.01)], .supervised(model, loss: .crossEntropy))
            trainer.scheduler = LRScheduler(trainer.optimizer, CosineAnnealingLR(tMax: context.epochs(epochs)))
            _ = try trainer.fit(train, epochs: context.epochs(epochs), batchSize: 64)
            let accuracy = try trainer.evaluate(test).accuracy ?? 0
            context.record("test_accuracy_\(name)", accuracy, "\(name): test accuracy \(fmt(accuracy)) on 1000 fresh points")
            context.target("≥ 0.97 test accuracy on \(name)", met: accuracy >= 0.97)
            try context.save(ZooPictures.decisionBoundary(points: labelledPoints(test), probability: classOneProbability(model)),
                             "\(entry)-\(name).png")
            try context.saveModel(trainer, "\(entry)-\(name).safetensors")
        }
    }

    /// The feed-forward network (FF): one hidden layer of 128 tanh units.
    ///
    /// Architecture: `Linear(2, 128) → tanh → Linear(128, 2)`. Recipe: cross-entropy, Adam
    /// 0.01 with cosine decay, 300 epochs of batches of 64 on 1000 points; tested on 1000
    /// fresh points of the same problem.
    public enum FeedForward: ZooEntry {
        public static let name = "ff"
        public static let summary = "feed-forward network, one hidden layer: ring, spirals, three modes"
        public static let dataChoices = ["ring", "spirals", "three-modes"]
        public static let dataRequirement = "it needs a 2-D two-class problem"
        public static let defaultEpochs = 300

        /// The default architecture.
        public static func model(generator: RandomGenerator = .global) -> Sequential {
            Sequential { Linear(2, 128, generator: generator); Tanh(); Linear(128, 2, generator: generator) }
        }

        public static func train(_ context: ZooContext) throws {
            try planeClassifier(context, entry: name, choices: dataChoices, epochs: defaultEpochs) { model(generator: $0) }
        }
    }

    /// The deep feed-forward network (DFF): three hidden layers of 64 ReLU units.
    ///
    /// Architecture: `Linear(2, 64) → ReLU → Linear(64, 64) → ReLU → Linear(64, 64) → ReLU →
    /// Linear(64, 2)`. Recipe: as ``FeedForward``, 200 epochs.
    public enum DeepFeedForward: ZooEntry {
        public static let name = "dff"
        public static let summary = "deep feed-forward network, three hidden layers: ring, spirals, three modes"
        public static let dataChoices = ["ring", "spirals", "three-modes"]
        public static let dataRequirement = "it needs a 2-D two-class problem"
        public static let defaultEpochs = 200

        /// The default architecture.
        public static func model(generator: RandomGenerator = .global) -> Sequential {
            Sequential {
                Linear(2, 64, generator: generator); ReLU()
                Linear(64, 64, generator: generator); ReLU()
                Linear(64, 64, generator: generator); ReLU()
                Linear(64, 2, generator: generator)
            }
        }

        public static func train(_ context: ZooContext) throws {
            try planeClassifier(context, entry: name, choices: dataChoices, epochs: defaultEpochs) { model(generator: $0) }
        }
    }

    // MARK: Radial basis network

    /// The radial basis network (RBF): Gaussian units placed by k-means, then a linear read-out.
    ///
    /// Spirals: `RBF(2, 64) → Linear(64, 2)`, the centres by k-means on the training points
    /// and each width the spread of its cluster, then centres, widths and read-out trained
    /// together (cross-entropy, Adam 0.01, 200 epochs). Sine: `RBF(1, 10) → Linear(10, 1)` on
    /// noisy samples of sin x (MSE, Adam 0.01, 300 epochs). `--epochs` sets both.
    public enum RadialBasis: ZooEntry {
        public static let name = "rbf"
        public static let summary = "radial basis network, centres by k-means: spirals, and a 1-D sine regression"
        public static let dataChoices = ["spirals", "sine"]
        public static let dataRequirement = "it needs 2-D two-class points or 1-D regression"
        public static let defaultEpochs = 200

        /// The default architecture for `inputs` features and `outputs` outputs, centres placed
        /// on `data` (at least `units` points): the network and its radial basis layer.
        public static func model(inputs: Int, units: Int, outputs: Int, data: Tensor,
                                 generator: RandomGenerator) -> (network: Sequential, rbf: NablaNN.RBF) {
            let rbf = NablaNN.RBF(inputs, units, generator: generator)
            rbf.initialize(from: data, generator: generator)
            return (Sequential { rbf; Linear(units, outputs, generator: generator) }, rbf)
        }

        /// Refuses fewer training points than radial units (k-means needs one per centre).
        static func checkPoints(_ d: TensorDataset, _ units: Int) throws {
            if d.count < units { throw ZooError("rbf places \(units) centres by k-means and needs at least \(units) training points, got \(d.count)") }
        }

        public static func train(_ context: ZooContext) throws {
            for name in context.options.data.map({ [$0] }) ?? dataChoices {
                context.report.data.append(name)
                if name == "spirals" { try spirals(context) } else { try sine(context) }
            }
        }

        static func spirals(_ context: ZooContext) throws {
            let train = context.limited(Synthetic.twoSpirals(count: 1000, seed: context.seed))
            let test = context.limited(Synthetic.twoSpirals(count: 1000, seed: context.seed &+ 100))
            try checkPoints(train, 64)
            let (model, rbf) = model(inputs: 2, units: 64, outputs: 2, data: train.inputs, generator: context.generator(1))
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 0.01)], .supervised(model, loss: .crossEntropy))
            _ = try trainer.fit(train, epochs: context.epochs(defaultEpochs), batchSize: 64)
            let accuracy = try trainer.evaluate(test).accuracy ?? 0
            context.record("test_accuracy_spirals", accuracy, "spirals: test accuracy \(fmt(accuracy)) with 64 radial units")
            context.target("≥ 0.97 test accuracy on spirals", met: accuracy >= 0.97)
            let c = rbf.centres.doubles
            let centres = (0..<(c.count / 2)).map { (x: c[2 * $0], y: c[2 * $0 + 1]) }
            try context.save(ZooPictures.decisionBoundary(points: labelledPoints(test), centres: centres,
                                                          probability: classOneProbability(model)), "rbf-spirals.png")
            try context.saveModel(trainer, "rbf-spirals.safetensors")
        }

        static func sine(_ context: ZooContext) throws {
            let train = context.limited(Synthetic.sine(count: 200, noise: 0.1, seed: context.seed))
            let test = context.limited(Synthetic.sine(count: 200, noise: 0.1, seed: context.seed &+ 100))
            try checkPoints(train, 10)
            let (model, _) = model(inputs: 1, units: 10, outputs: 1, data: train.inputs, generator: context.generator(2))
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 0.01)], .supervised(model, loss: .mse))
            _ = try trainer.fit(train, epochs: context.epochs(300), batchSize: 32)
            let mse = try trainer.evaluate(test).loss
            context.record("test_mse_sine", mse, "sine: test MSE \(fmt(mse)) (the noise variance is 0.01)")
            let xs = stride(from: -Double.pi, through: Double.pi, by: 0.02).map { $0 }
            let fitted = withoutGrad { model.eval()(Tensor(xs.map(Float.init), shape: [xs.count, 1])).doubles }
            let points = zip(train.inputs.doubles, train.targets.doubles).map { (x: $0, y: $1) }
            try context.save(ZooPictures.curve(data: points, curve: Array(zip(xs, fitted).map { (x: $0, y: $1) }),
                                               truth: xs.map { (x: $0, y: Foundation.sin($0)) }), "rbf-sine.png")
            try context.saveModel(trainer, "rbf-sine.safetensors")
        }
    }

    // MARK: Gaussian output

    /// The true model of ``GaussianRegression``'s data: y ~ N(sin 1.5x, (0.15 + 0.3x)²).
    public static func heteroscedasticTruth(_ x: Double) -> (mean: Double, std: Double) {
        (Foundation.sin(1.5 * x), 0.15 + 0.3 * x)
    }

    /// 1-D heteroscedastic regression: x uniform in [0, 4], y drawn from ``heteroscedasticTruth(_:)``.
    public static func heteroscedastic(count: Int, seed: UInt64) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let x = 4 * g.nextDouble(), (m, s) = heteroscedasticTruth(x)
            xs.append(Float(x)); ys.append(Float(m + s * g.nextNormal()))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 1]), targets: Tensor(ys, shape: [count, 1]), name: "heteroscedastic")
    }

    /// A network whose output is a Gaussian N(μ(x), σ²(x)): the notes' probabilistic output.
    ///
    /// Architecture: `Linear(1, 64) → tanh → Linear(64, 64) → tanh → GaussianOutput(64, 1)`
    /// (σ² through softplus). Recipe: the Gaussian negative log-likelihood (with its ½ log 2π
    /// constant), Adam 3·10⁻³ with cosine decay, 150 epochs of batches of 64 on 2000 points.
    /// The test NLL is compared with that of the true generating model on the same points.
    public enum GaussianRegression: ZooEntry {
        public static let name = "gaussian"
        public static let summary = "Gaussian output N(μ(x), σ²(x)): 1-D regression whose noise grows with x"
        public static let dataChoices = ["heteroscedastic"]
        public static let dataRequirement = "it needs 1-D regression data"
        public static let defaultEpochs = 150

        /// The default network: a body and a Gaussian head.
        public final class Network: Module, Layer, @unchecked Sendable {
            /// It takes `[N, 1]` inputs.
            public typealias Input = Tensor
            /// It returns the mean and variance, each `[N, 1]`.
            public typealias Output = (mean: Tensor, variance: Tensor)
            /// The hidden layers.
            public let body: Sequential
            /// The Gaussian head.
            public let head: GaussianOutput
            /// The default architecture.
            public init(generator: RandomGenerator = .global) {
                body = Sequential { Linear(1, 64, generator: generator); Tanh(); Linear(64, 64, generator: generator); Tanh() }
                head = GaussianOutput(64, 1, generator: generator)
                super.init()
            }
            /// (μ, σ²) for inputs x.
            public func callAsFunction(_ x: Tensor) -> (mean: Tensor, variance: Tensor) { head(body(x)) }
            /// The training step: the full Gaussian NLL.
            public var step: TrainingStep {
                .loss("gaussian-nll") { batch in
                    let (mu, variance) = self(batch.inputs)
                    return StepOutput(loss: Loss.gaussianNLL(mean: mu, variance: variance, target: batch.targets, full: true))
                }
            }
        }

        public static func train(_ context: ZooContext) throws {
            context.report.data.append("heteroscedastic")
            let train = context.limited(heteroscedastic(count: 2000, seed: context.seed))
            let test = context.limited(heteroscedastic(count: 2000, seed: context.seed &+ 100))
            let model = Network(generator: context.generator(1))
            let trainer = context.trainer(model, [Adam(model.parameters(), lr: 3e-3)], model.step)
            trainer.scheduler = LRScheduler(trainer.optimizer, CosineAnnealingLR(tMax: context.epochs(defaultEpochs)))
            _ = try trainer.fit(train, epochs: context.epochs(defaultEpochs), batchSize: 64)
            let nll = try trainer.evaluate(test).loss
            // The true model's NLL on the same points: ½ log 2πσ² + (y − μ)²/2σ².
            let tx = test.inputs.doubles, ty = test.targets.doubles
            let trueNLL = zip(tx, ty).reduce(0.0) { acc, p in
                let (m, s) = heteroscedasticTruth(p.0)
                return acc + 0.5 * Foundation.log(2 * Double.pi * s * s) + (p.1 - m) * (p.1 - m) / (2 * s * s)
            } / Double(tx.count)
            let gap = (nll - trueNLL) / abs(trueNLL)
            context.record("test_nll", nll, "test Gaussian NLL \(fmt(nll)) nats against the true model's \(fmt(trueNLL)) (\(fmt(100 * gap, 1)) %)")
            context.record("true_nll", trueNLL)
            context.target("test NLL within 5 % of the true model's", met: gap <= 0.05)
            let xs = stride(from: 0.0, through: 4.0, by: 0.01).map { $0 }
            let (mu, variance) = withoutGrad { () -> ([Double], [Double]) in
                let (m, v) = model.eval()(Tensor(xs.map(Float.init), shape: [xs.count, 1]))
                return (m.doubles, v.doubles)
            }
            let points = zip(test.inputs.doubles, test.targets.doubles).prefix(800).map { (x: $0, y: $1) }
            try context.save(ZooPictures.curve(data: points, curve: Array(zip(xs, mu).map { (x: $0, y: $1) }),
                                               spread: variance.map { 2 * $0.squareRoot() },
                                               truth: xs.map { (x: $0, y: heteroscedasticTruth($0).mean) }), "gaussian.png")
            try context.saveModel(trainer, "gaussian.safetensors")
        }
    }
}

/// `v` with `digits` decimals.
func fmt(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", v) }
