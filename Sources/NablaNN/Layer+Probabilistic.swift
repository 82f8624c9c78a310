import NablaCore

/// Adds Gaussian noise N(0, σ²) to its input in training mode: a denoising auto-encoder's
/// noisy input cell.
///
/// In evaluation mode the input passes unchanged (Keras's `GaussianNoise`). The noise does
/// not depend on the input, so the gradient passes through unchanged. Each call draws fresh
/// noise from `generator` (the global generator when nil).
public final class GaussianNoise: Module, @unchecked Sendable {
    /// The noise's standard deviation σ.
    public let standardDeviation: Double
    /// The generator the noise is drawn from (nil: ``NablaCore/RandomGenerator/global``).
    public let generator: RandomGenerator?

    /// Noise of standard deviation `std` (≥ 0).
    public init(std: Double, generator: RandomGenerator? = nil) {
        nablaCheck(std >= 0 && std.isFinite, "GaussianNoise: std must be a finite number ≥ 0, got \(std)")
        standardDeviation = std
        self.generator = generator
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "std: \(standardDeviation)" }

    /// `input + σ·ε`, ε standard normal, in training mode; the input in evaluation mode.
    public override func forward(_ input: Tensor) -> Tensor {
        guard isTraining, standardDeviation > 0 else { return input }
        let dtype = input.dtype.isFloatingPoint ? input.dtype : .float32
        return input.to(dtype) + Tensor.randomNormal(input.shape, std: standardDeviation, dtype: dtype,
                                                     generator: generator ?? .global)
    }
}

/// A Gaussian output head: from features h, a mean μ and a variance σ² > 0 per output.
///
/// μ = W_μ h + b_μ and σ² = softplus(W_σ h + b_σ) + `minVariance`: the network of the notes
/// whose output is the distribution N(μ, σ²) conditioned on the input. Train it with
/// ``Loss/gaussianNLL(mean:variance:target:full:eps:reduction:)`` (PyTorch's
/// `GaussianNLLLoss`). The state-dict names are `mean.weight`, `mean.bias`,
/// `variance.weight`, `variance.bias`.
///
/// ```swift
/// let head = GaussianOutput(64, 1)
/// let (mu, variance) = head(features)
/// let loss = Loss.gaussianNLL(mean: mu, variance: variance, target: y)
/// ```
public final class GaussianOutput: Module, Layer, @unchecked Sendable {
    /// The layer takes features.
    public typealias Input = Tensor
    /// The layer returns the mean and the variance, each `[..., outputs]`.
    public typealias Output = (mean: Tensor, variance: Tensor)

    /// The linear map to the mean.
    public let mean: Linear
    /// The linear map to the variance's pre-activation.
    public let variance: Linear
    /// A floor added to every variance (0 by default: the loss clamps at its `eps`).
    public let minVariance: Double

    /// A head from `inputFeatures` features to `outputs` Gaussians, initialised as two `Linear`s.
    public init(_ inputFeatures: Int, _ outputs: Int, minVariance: Double = 0, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        nablaCheck(minVariance >= 0 && minVariance.isFinite, "GaussianOutput: minVariance must be ≥ 0, got \(minVariance)")
        mean = Linear(inputFeatures, outputs, dtype: dtype, generator: generator)
        variance = Linear(inputFeatures, outputs, dtype: dtype, generator: generator)
        self.minVariance = minVariance
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(mean.inputFeatures) => \(mean.outputFeatures) × (μ, σ²)" }

    /// (μ, σ²) for the features `h`.
    public func callAsFunction(_ h: Tensor) -> (mean: Tensor, variance: Tensor) {
        let v = variance(h).softplus()
        return (mean(h), minVariance > 0 ? v + minVariance : v)
    }
}

/// The reparameterisation trick: z = μ + exp(½ log σ²)·ε with ε ~ N(0, I) drawn from
/// `generator`.
///
/// z is a sample of N(μ, σ²) that is differentiable in μ and log σ² (ε carries the
/// randomness), which is what lets a VAE's encoder learn by backpropagation.
public func reparameterize(mean: Tensor, logVariance: Tensor, generator: RandomGenerator = .global) -> Tensor {
    let noise = Tensor.randomNormal(mean.shape, dtype: mean.dtype, generator: generator)
    return reparameterize(mean: mean, logVariance: logVariance, noise: noise)
}

/// z = μ + exp(½ log σ²)·ε for a given ε (the same shape as μ).
public func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
    nablaCheck(mean.shape == logVariance.shape && mean.shape == noise.shape,
               "reparameterize: mean \(mean.shape), log-variance \(logVariance.shape) and noise \(noise.shape) must have one shape")
    return mean + (logVariance * 0.5).exp() * noise.detached()
}
extension GaussianNoise: UnaryLayer {}
