import NablaCore

/// A module that can say, without trapping, why an input is unacceptable.
///
/// Layers check their input at the start of ``Module/forward(_:)`` and trap with the
/// message this returns; tests call it directly to check the message.
public protocol InputValidating {
    /// A message naming the layer, the expected and the actual input, or nil when the
    /// input is acceptable.
    func validateInput(_ input: Tensor) -> String?
}

extension InputValidating {
    /// Traps with ``validateInput(_:)``'s message when the input is unacceptable.
    func checkInput(_ input: Tensor) {
        if let message = validateInput(input) { nablaFail(message) }
    }
}

extension Module {
    /// The message for an input whose last dimension is not `expected`, or nil.
    func lastDimensionError(_ x: Tensor, _ expected: Int) -> String? {
        if x.rank >= 1 && x.shape.last == expected { return nil }
        return "\(displayName): expected input of shape [..., \(expected)], got shape \(x.shape)"
    }
}

/// The bound 1/√fanIn of PyTorch's default initialisation of `nn.Linear` (kaiming_uniform
/// with a = √5 for the weight, and the same bound for the bias).
func defaultLinearBound(_ fanIn: Int) -> Double { fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0 }

/// A fully connected (dense) layer: `y = x·Wᵀ + b`.
///
/// The weight is stored `[out, in]` and initialised as PyTorch's `nn.Linear`: weight and
/// bias uniform in ±1/√in. The input has shape `[..., in]` (any number of leading axes);
/// the output `[..., out]`.
///
/// The forward pass is NablaCore's fused `linear(weight:bias:)`: one GEMM that reads the
/// weight transposed in place, plus the bias.
public final class Linear: Module, @unchecked Sendable, InputValidating {
    /// The weight, shape `[out, in]`.
    public let weight: Tensor
    /// The bias, shape `[out]` (nil when created with `bias: false`).
    public let bias: Tensor?
    /// Input features.
    public let inputFeatures: Int
    /// Output features.
    public let outputFeatures: Int

    /// A layer from `inputFeatures` to `outputFeatures`, initialised as PyTorch's default.
    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        nablaCheck(inputFeatures >= 0 && outputFeatures >= 0,
                   "Linear: feature counts must be non-negative, got \(inputFeatures) => \(outputFeatures)")
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        let bound = defaultLinearBound(inputFeatures)
        weight = Tensor.randomUniform([outputFeatures, inputFeatures], low: -bound, high: bound,
                                      dtype: dtype, generator: generator).requiringGrad()
        self.bias = bias ? Tensor.randomUniform([outputFeatures], low: -bound, high: bound,
                                                dtype: dtype, generator: generator).requiringGrad() : nil
        super.init()
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]` (made parameters).
    public init(weight: Tensor, bias: Tensor? = nil) {
        nablaCheck(weight.rank == 2, "Linear(weight:bias:): weight must be [out, in], got shape \(weight.shape)")
        if let b = bias {
            nablaCheck(b.shape == [weight.shape[0]], "Linear(weight:bias:): bias of shape \(b.shape) does not match weight \(weight.shape)")
        }
        self.weight = weight.detached().requiringGrad()
        self.bias = bias.map { $0.detached().requiringGrad() }
        inputFeatures = weight.shape[1]
        outputFeatures = weight.shape[0]
        super.init()
    }

    /// The layer's configuration for descriptions: the feature counts, and whether there is no bias.
    public override var configDescription: String {
        "\(inputFeatures) => \(outputFeatures)" + (bias == nil ? ", bias: false" : "")
    }

    /// Nil, or a message when the input's last dimension is not `inputFeatures`.
    public func validateInput(_ input: Tensor) -> String? { lastDimensionError(input, inputFeatures) }

    /// `input·Wᵀ + b`.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.linear(weight: weight, bias: bias)
    }
}

/// Maxout (Goodfellow et al. 2013): each output unit is the maximum of several affine functions.
///
/// Each of the `out` units is the maximum of `pieces` affine functions of the input.
///
/// The weight is `[out·pieces, in]` with row `j·pieces + p` holding piece `p` of unit `j`;
/// initialised as a `Linear(in, out·pieces)`. PyTorch has no Maxout layer. At ties the
/// gradient is shared evenly among the maximal pieces.
public final class Maxout: Module, @unchecked Sendable, InputValidating {
    /// The weight, shape `[out·pieces, in]`.
    public let weight: Tensor
    /// The bias, shape `[out·pieces]`.
    public let bias: Tensor
    /// Input features.
    public let inputFeatures: Int
    /// Output units.
    public let outputFeatures: Int
    /// Affine pieces per unit.
    public let pieces: Int

    /// A maxout layer with `pieces` affine pieces per output unit.
    public init(_ inputFeatures: Int, _ outputFeatures: Int, pieces: Int, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        nablaCheck(pieces >= 1, "Maxout: pieces must be at least 1, got \(pieces)")
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.pieces = pieces
        let bound = defaultLinearBound(inputFeatures)
        weight = Tensor.randomUniform([outputFeatures * pieces, inputFeatures], low: -bound, high: bound,
                                      dtype: dtype, generator: generator).requiringGrad()
        bias = Tensor.randomUniform([outputFeatures * pieces], low: -bound, high: bound,
                                    dtype: dtype, generator: generator).requiringGrad()
        super.init()
    }

    /// The layer's configuration for descriptions: the feature counts and the number of pieces.
    public override var configDescription: String { "\(inputFeatures) => \(outputFeatures), pieces: \(pieces)" }

    /// Nil, or a message when the input's last dimension is not `inputFeatures`.
    public func validateInput(_ input: Tensor) -> String? { lastDimensionError(input, inputFeatures) }

    /// max over pieces of `input·Wᵀ + b`.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        let z = input.linear(weight: weight, bias: bias)
        var shape = z.shape
        shape.removeLast()
        return z.reshaped(shape + [outputFeatures, pieces]).max(axis: -1)
    }
}
