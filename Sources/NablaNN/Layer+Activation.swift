import NablaCore

// One layer per activation function, each a thin wrapper over the `Tensor` method of the
// same name in Activations.swift (where the derivative conventions are documented).

/// The identity layer: returns its input (PyTorch's `nn.Identity`).
public final class Identity: Module, @unchecked Sendable {
    /// An identity layer.
    public override init() { super.init() }
    /// Returns the input.
    public override func forward(_ input: Tensor) -> Tensor { input }
}

/// Binary step layer: 1 where x ≥ 0, else 0 (zero gradient).
public final class BinaryStep: Module, @unchecked Sendable {
    /// A binary step layer.
    public override init() { super.init() }
    /// Applies `Tensor.binaryStep()`.
    public override func forward(_ input: Tensor) -> Tensor { input.binaryStep() }
}

/// Heaviside step layer: 0, `valueAtZero` (default ½) at 0, 1 (zero gradient).
public final class Heaviside: Module, @unchecked Sendable {
    /// The value at exactly 0.
    public let valueAtZero: Double
    /// A Heaviside layer.
    public init(valueAtZero: Double = 0.5) { self.valueAtZero = valueAtZero; super.init() }
    /// The layer's configuration for descriptions: the value at zero.
    public override var configDescription: String { "valueAtZero: \(valueAtZero)" }
    /// Applies `Tensor.heaviside(valueAtZero:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.heaviside(valueAtZero: valueAtZero) }
}

/// Sign layer: −1, 0 or 1 (zero gradient).
public final class Sign: Module, @unchecked Sendable {
    /// A sign layer.
    public override init() { super.init() }
    /// Applies `Tensor.signActivation()`.
    public override func forward(_ input: Tensor) -> Tensor { input.signActivation() }
}

/// Logistic sigmoid layer.
public final class Sigmoid: Module, @unchecked Sendable {
    /// A sigmoid layer.
    public override init() { super.init() }
    /// Applies `sigmoid()`.
    public override func forward(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// Hyperbolic tangent layer.
public final class Tanh: Module, @unchecked Sendable {
    /// A tanh layer.
    public override init() { super.init() }
    /// Applies `tanh()`.
    public override func forward(_ input: Tensor) -> Tensor { input.tanh() }
}

/// Hard tanh layer: clamps to `[minValue, maxValue]` (default [−1, 1]).
public final class HardTanh: Module, @unchecked Sendable {
    /// Lower end of the linear region.
    public let minValue: Double
    /// Upper end of the linear region.
    public let maxValue: Double
    /// A hard tanh layer.
    public init(minValue: Double = -1, maxValue: Double = 1) {
        self.minValue = minValue; self.maxValue = maxValue; super.init()
    }
    /// The layer's configuration for descriptions: the clamping interval.
    public override var configDescription: String { "\(minValue), \(maxValue)" }
    /// Applies `Tensor.hardTanh(minValue:maxValue:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.hardTanh(minValue: minValue, maxValue: maxValue) }
}

/// Hard sigmoid layer, PyTorch's relu6(x + 3)/6.
public final class HardSigmoid: Module, @unchecked Sendable {
    /// A hard sigmoid layer.
    public override init() { super.init() }
    /// Applies `Tensor.hardSigmoid()`.
    public override func forward(_ input: Tensor) -> Tensor { input.hardSigmoid() }
}

/// Piecewise-linear unit layer: 0 below −½, x + ½ between, 1 above ½.
public final class PiecewiseLinear: Module, @unchecked Sendable {
    /// A piecewise-linear unit layer.
    public override init() { super.init() }
    /// Applies `Tensor.piecewiseLinear()`.
    public override func forward(_ input: Tensor) -> Tensor { input.piecewiseLinear() }
}

/// Rectified linear unit layer (ReLU'(0) = 0, as PyTorch).
public final class ReLU: Module, @unchecked Sendable {
    /// A ReLU layer.
    public override init() { super.init() }
    /// Applies `relu()`.
    public override func forward(_ input: Tensor) -> Tensor { input.relu() }
}

/// ReLU6 layer: min(max(0, x), 6).
public final class ReLU6: Module, @unchecked Sendable {
    /// A ReLU6 layer.
    public override init() { super.init() }
    /// Applies `Tensor.relu6()`.
    public override func forward(_ input: Tensor) -> Tensor { input.relu6() }
}

/// Leaky ReLU layer with slope `negativeSlope` (default 0.01) for negative inputs.
public final class LeakyReLU: Module, @unchecked Sendable {
    /// The slope for negative inputs.
    public let negativeSlope: Double
    /// A leaky ReLU layer.
    public init(_ negativeSlope: Double = 0.01) { self.negativeSlope = negativeSlope; super.init() }
    /// The layer's configuration for descriptions: the negative slope.
    public override var configDescription: String { "\(negativeSlope)" }
    /// Applies `Tensor.leakyReLU(negativeSlope:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.leakyReLU(negativeSlope: negativeSlope) }
}

/// Exponential linear unit layer (default α = 1).
public final class ELU: Module, @unchecked Sendable {
    /// The α of ELU.
    public let alpha: Double
    /// An ELU layer.
    public init(alpha: Double = 1) { self.alpha = alpha; super.init() }
    /// The layer's configuration for descriptions: α.
    public override var configDescription: String { "alpha: \(alpha)" }
    /// Applies `Tensor.elu(alpha:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.elu(alpha: alpha) }
}

/// Scaled exponential linear unit layer.
public final class SELU: Module, @unchecked Sendable {
    /// A SELU layer.
    public override init() { super.init() }
    /// Applies `Tensor.selu()`.
    public override func forward(_ input: Tensor) -> Tensor { input.selu() }
}

/// Gaussian error linear unit layer (exact or tanh approximation).
public final class GELU: Module, @unchecked Sendable {
    /// The approximation used.
    public let approximation: GELUApproximation
    /// A GELU layer.
    public init(approximation: GELUApproximation = .none) { self.approximation = approximation; super.init() }
    /// The layer's configuration for descriptions: the approximation, unless it is exact.
    public override var configDescription: String { approximation == .none ? "" : "approximation: \(approximation)" }
    /// Applies `Tensor.gelu(approximation:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.gelu(approximation: approximation) }
}

/// Softplus layer with PyTorch's β (default 1) and threshold (default 20).
public final class Softplus: Module, @unchecked Sendable {
    /// The β of softplus.
    public let beta: Double
    /// Above β·x > threshold the layer is the identity.
    public let threshold: Double
    /// A softplus layer.
    public init(beta: Double = 1, threshold: Double = 20) { self.beta = beta; self.threshold = threshold; super.init() }
    /// The layer's configuration for descriptions: β and the threshold.
    public override var configDescription: String { "beta: \(beta), threshold: \(threshold)" }
    /// Applies `Tensor.softplus(beta:threshold:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.softplus(beta: beta, threshold: threshold) }
}

/// SiLU (swish) layer: x·σ(x).
public final class SiLU: Module, @unchecked Sendable {
    /// A SiLU layer.
    public override init() { super.init() }
    /// Applies `Tensor.silu()`.
    public override func forward(_ input: Tensor) -> Tensor { input.silu() }
}

/// Mish layer: x·tanh(softplus(x)).
public final class Mish: Module, @unchecked Sendable {
    /// A mish layer.
    public override init() { super.init() }
    /// Applies `Tensor.mish()`.
    public override func forward(_ input: Tensor) -> Tensor { input.mish() }
}

/// Softmax layer over `axis` (default the last; PyTorch's `nn.Softmax` requires `dim`).
public final class Softmax: Module, @unchecked Sendable {
    /// The axis normalised over.
    public let axis: Int
    /// A softmax layer.
    public init(axis: Int = -1) { self.axis = axis; super.init() }
    /// The layer's configuration for descriptions: the axis.
    public override var configDescription: String { "axis: \(axis)" }
    /// Applies `Tensor.softmax(axis:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.softmax(axis: axis) }
}

/// Log-softmax layer over `axis` (default the last).
public final class LogSoftmax: Module, @unchecked Sendable {
    /// The axis normalised over.
    public let axis: Int
    /// A log-softmax layer.
    public init(axis: Int = -1) { self.axis = axis; super.init() }
    /// The layer's configuration for descriptions: the axis.
    public override var configDescription: String { "axis: \(axis)" }
    /// Applies `Tensor.logSoftmax(axis:)`.
    public override func forward(_ input: Tensor) -> Tensor { input.logSoftmax(axis: axis) }
}
