import NablaCore

/// `value` repeated to `count` entries when it has one; itself otherwise.
func spatial(_ value: [Int], _ count: Int) -> [Int] { value.count == 1 ? Array(repeating: value[0], count: count) : value }

/// A 2-D convolution layer over `[N, C, H, W]` input, as PyTorch's `nn.Conv2d`.
///
/// The weight is `[out, in/groups, kH, kW]` and the bias `[out]`, both initialised as
/// PyTorch does: uniform in ±1/√(in/groups · kH · kW). Stride, padding (a size per axis,
/// `.same` or `.valid`), dilation and groups (depthwise when groups = in) mean what they
/// mean in PyTorch.
///
/// ```swift
/// let conv = Conv2d(1, 32, kernelSize: [3, 3], padding: 1)
/// let y = conv(Tensor.randomNormal([8, 1, 28, 28]))   // [8, 32, 28, 28]
/// ```
public final class Conv2d: Module, @unchecked Sendable, InputValidating {
    /// The weight, shape `[out, in/groups, kH, kW]`.
    public let weight: Tensor
    /// The bias, shape `[out]` (nil when created with `bias: false`).
    public let bias: Tensor?
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel height and width.
    public let kernelSize: [Int]
    /// Step between windows along each axis.
    public let stride: [Int]
    /// Padding of the input.
    public let padding: ConvPadding
    /// Spacing between kernel taps.
    public let dilation: [Int]
    /// Channel groups.
    public let groups: Int

    /// A convolution from `inChannels` to `outChannels` with the given kernel (one size for
    /// both axes, or one per axis).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1], padding: ConvPadding = .valid,
                dilation: [Int] = [1], groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        let k = spatial(kernelSize, 2)
        nablaCheck(inChannels >= 1 && outChannels >= 1, "Conv2d: channel counts must be positive, got \(inChannels) => \(outChannels)")
        nablaCheck(k.count == 2 && k.allSatisfy { $0 >= 1 }, "Conv2d: kernel size must be one or two positive sizes, got \(kernelSize)")
        nablaCheck(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                   "Conv2d: groups \(groups) must divide the input channels \(inChannels) and the output channels \(outChannels)")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernelSize = k
        self.stride = spatial(stride, 2); self.padding = padding; self.dilation = spatial(dilation, 2); self.groups = groups
        let fanIn = inChannels / groups * k[0] * k[1]
        let bound = defaultLinearBound(fanIn)
        weight = Tensor.randomUniform([outChannels, inChannels / groups, k[0], k[1]], low: -bound, high: bound,
                                      dtype: dtype, generator: generator).requiringGrad()
        self.bias = bias ? Tensor.randomUniform([outChannels], low: -bound, high: bound, dtype: dtype, generator: generator).requiringGrad() : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        var s = "\(inChannels) => \(outChannels), kernel: \(kernelSize)"
        if stride != [1, 1] { s += ", stride: \(stride)" }
        if padding != .valid && padding != 0 { s += ", padding: \(padding)" }
        if dilation != [1, 1] { s += ", dilation: \(dilation)" }
        if groups != 1 { s += ", groups: \(groups)" }
        return s + (bias == nil ? ", bias: false" : "")
    }

    /// Nil, or a message naming the layer and the shapes when the input is not
    /// `[N, inChannels, H, W]` or is smaller than the kernel.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 4 else { return "\(displayName): expected input [N, \(inChannels), H, W], got shape \(input.shape)" }
        guard input.shape[1] == inChannels else {
            return "\(displayName): expected \(inChannels) input channels, got \(input.shape[1]) (input shape \(input.shape))"
        }
        let (pads, err) = padding.resolve(kernel: kernelSize, dilation: dilation, stride: stride)
        if let err { return "\(displayName): \(err)" }
        for i in 0..<2 where input.shape[2 + i] + pads[i].0 + pads[i].1 < dilation[i] * (kernelSize[i] - 1) + 1 {
            return "\(displayName): kernel \(kernelSize) (dilation \(dilation)) is larger than the padded input \(Array(input.shape[2...])) (padding \(padding))"
        }
        return nil
    }

    /// The convolution.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// A 1-D convolution layer over `[N, C, L]` input, as PyTorch's `nn.Conv1d`.
///
/// The weight is `[out, in/groups, k]`, initialised uniform in ±1/√(in/groups · k).
public final class Conv1d: Module, @unchecked Sendable, InputValidating {
    /// The weight, shape `[out, in/groups, k]`.
    public let weight: Tensor
    /// The bias, shape `[out]` (nil when created with `bias: false`).
    public let bias: Tensor?
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel length.
    public let kernelSize: Int
    /// Step between windows.
    public let stride: Int
    /// Padding of the input.
    public let padding: ConvPadding
    /// Spacing between kernel taps.
    public let dilation: Int
    /// Channel groups.
    public let groups: Int

    /// A 1-D convolution from `inChannels` to `outChannels`.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: ConvPadding = .valid,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        nablaCheck(inChannels >= 1 && outChannels >= 1 && kernelSize >= 1, "Conv1d: channel counts and kernel size must be positive")
        nablaCheck(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                   "Conv1d: groups \(groups) must divide the input channels \(inChannels) and the output channels \(outChannels)")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernelSize = kernelSize
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
        let bound = defaultLinearBound(inChannels / groups * kernelSize)
        weight = Tensor.randomUniform([outChannels, inChannels / groups, kernelSize], low: -bound, high: bound,
                                      dtype: dtype, generator: generator).requiringGrad()
        self.bias = bias ? Tensor.randomUniform([outChannels], low: -bound, high: bound, dtype: dtype, generator: generator).requiringGrad() : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        var s = "\(inChannels) => \(outChannels), kernel: \(kernelSize)"
        if stride != 1 { s += ", stride: \(stride)" }
        if padding != .valid && padding != 0 { s += ", padding: \(padding)" }
        if dilation != 1 { s += ", dilation: \(dilation)" }
        if groups != 1 { s += ", groups: \(groups)" }
        return s + (bias == nil ? ", bias: false" : "")
    }

    /// Nil, or a message naming the layer and the shapes.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 3 else { return "\(displayName): expected input [N, \(inChannels), L], got shape \(input.shape)" }
        guard input.shape[1] == inChannels else {
            return "\(displayName): expected \(inChannels) input channels, got \(input.shape[1]) (input shape \(input.shape))"
        }
        let (pads, err) = padding.resolve(kernel: [kernelSize], dilation: [dilation], stride: [stride])
        if let err { return "\(displayName): \(err)" }
        if input.shape[2] + pads[0].0 + pads[0].1 < dilation * (kernelSize - 1) + 1 {
            return "\(displayName): kernel \(kernelSize) (dilation \(dilation)) is larger than the padded input length \(input.shape[2]) (padding \(padding))"
        }
        return nil
    }

    /// The convolution.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// A 2-D transposed convolution (PyTorch's `nn.ConvTranspose2d`), which upsamples by its
/// stride.
///
/// The weight is `[in, out/groups, kH, kW]`, initialised uniform in ±1/√(out/groups · kH ·
/// kW) as PyTorch does (its fan-in is the weight's second axis).
public final class ConvTranspose2d: Module, @unchecked Sendable, InputValidating {
    /// The weight, shape `[in, out/groups, kH, kW]`.
    public let weight: Tensor
    /// The bias, shape `[out]` (nil when created with `bias: false`).
    public let bias: Tensor?
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel height and width.
    public let kernelSize: [Int]
    /// Upsampling step along each axis.
    public let stride: [Int]
    /// Rows and columns removed from each border of the full output.
    public let padding: [Int]
    /// Rows and columns added at the bottom/right (to pick among output sizes).
    public let outputPadding: [Int]
    /// Spacing between kernel taps.
    public let dilation: [Int]
    /// Channel groups.
    public let groups: Int

    /// A transposed convolution from `inChannels` to `outChannels`.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1], padding: [Int] = [0],
                outputPadding: [Int] = [0], dilation: [Int] = [1], groups: Int = 1, bias: Bool = true,
                dtype: DType = .float32, generator: RandomGenerator = .global) {
        let k = spatial(kernelSize, 2)
        nablaCheck(inChannels >= 1 && outChannels >= 1 && k.count == 2 && k.allSatisfy { $0 >= 1 },
                   "ConvTranspose2d: channel counts and kernel sizes must be positive")
        nablaCheck(stride.allSatisfy { $0 >= 1 } && dilation.allSatisfy { $0 >= 1 } && padding.allSatisfy { $0 >= 0 } && outputPadding.allSatisfy { $0 >= 0 },
                   "ConvTranspose2d: stride \(stride) and dilation \(dilation) must be positive, padding \(padding) and output padding \(outputPadding) non-negative")
        nablaCheck(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                   "ConvTranspose2d: groups \(groups) must divide the input channels \(inChannels) and the output channels \(outChannels)")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernelSize = k
        self.stride = spatial(stride, 2); self.padding = spatial(padding, 2); self.outputPadding = spatial(outputPadding, 2)
        self.dilation = spatial(dilation, 2); self.groups = groups
        let bound = defaultLinearBound(outChannels / groups * k[0] * k[1])
        weight = Tensor.randomUniform([inChannels, outChannels / groups, k[0], k[1]], low: -bound, high: bound,
                                      dtype: dtype, generator: generator).requiringGrad()
        self.bias = bias ? Tensor.randomUniform([outChannels], low: -bound, high: bound, dtype: dtype, generator: generator).requiringGrad() : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        var s = "\(inChannels) => \(outChannels), kernel: \(kernelSize)"
        if stride != [1, 1] { s += ", stride: \(stride)" }
        if padding != [0, 0] { s += ", padding: \(padding)" }
        if outputPadding != [0, 0] { s += ", output padding: \(outputPadding)" }
        if groups != 1 { s += ", groups: \(groups)" }
        return s + (bias == nil ? ", bias: false" : "")
    }

    /// Nil, or a message naming the layer and the shapes.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 4 else { return "\(displayName): expected input [N, \(inChannels), H, W], got shape \(input.shape)" }
        guard input.shape[1] == inChannels else {
            return "\(displayName): expected \(inChannels) input channels, got \(input.shape[1]) (input shape \(input.shape))"
        }
        return nil
    }

    /// The transposed convolution.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding,
                                     outputPadding: outputPadding, dilation: dilation, groups: groups)
    }
}

/// Why a pooling window does not fit an input, or nil.
func poolingError(_ name: String, _ input: [Int], kernel: [Int], stride: [Int], padding: [Int]) -> String? {
    let spatialShape = Array(input.suffix(kernel.count))
    for i in 0..<kernel.count {
        if padding[i] * 2 > kernel[i] { return "\(name): padding \(padding) must be at most half the kernel \(kernel)" }
        if convOutputSize(input: spatialShape[i], kernel: kernel[i], stride: stride[i], padBefore: padding[i], padAfter: padding[i]) < 1
            || spatialShape[i] + 2 * padding[i] < kernel[i] {
            return "\(name): kernel \(kernel) does not fit the input \(spatialShape) (padding \(padding)): the pooled size reaches zero"
        }
    }
    return nil
}

/// The window of a 2-D pooling layer (kernel, stride, padding) and its checks: the common
/// part of ``MaxPool2d`` and ``AvgPool2d``.
open class Pool2dBase: Module, @unchecked Sendable, InputValidating {
    /// Window height and width.
    public let kernelSize: [Int]
    /// Step between windows.
    public let stride: [Int]
    /// Padding on each side (−∞ for max pooling, zeros for average pooling).
    public let padding: [Int]

    /// A pooling window; `stride` nil means the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0]) {
        self.kernelSize = spatial(kernelSize, 2)
        self.stride = spatial(stride ?? kernelSize, 2)
        self.padding = spatial(padding, 2)
        nablaCheck(self.kernelSize.count == 2 && self.stride.count == 2 && self.padding.count == 2,
                   "\(Self.self): kernel, stride and padding need one or two values")
        nablaCheck(self.kernelSize.allSatisfy { $0 >= 1 } && self.stride.allSatisfy { $0 >= 1 } && self.padding.allSatisfy { $0 >= 0 },
                   "\(Self.self): kernel \(self.kernelSize) and stride \(self.stride) must be positive, padding \(self.padding) non-negative")
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "kernel: \(kernelSize), stride: \(stride)" + (padding != [0, 0] ? ", padding: \(padding)" : "") }

    /// Nil, or a message when the input is not `[N, C, H, W]` or the window does not fit.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 4 else { return "\(displayName): expected input [N, C, H, W], got shape \(input.shape)" }
        return poolingError(displayName, input.shape, kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// The window of a 1-D pooling layer: the common part of ``MaxPool1d`` and ``AvgPool1d``.
open class Pool1dBase: Module, @unchecked Sendable, InputValidating {
    /// Window length.
    public let kernelSize: Int
    /// Step between windows.
    public let stride: Int
    /// Padding on each side.
    public let padding: Int

    /// A 1-D pooling window; `stride` nil means the kernel size.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernelSize = kernelSize; self.stride = stride ?? kernelSize; self.padding = padding
        nablaCheck(kernelSize >= 1 && self.stride >= 1 && padding >= 0,
                   "\(Self.self): kernel \(kernelSize) and stride \(self.stride) must be positive, padding \(padding) non-negative")
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "kernel: \(kernelSize), stride: \(stride)" + (padding != 0 ? ", padding: \(padding)" : "") }

    /// Nil, or a message when the input is not `[N, C, L]` or the window does not fit.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 3 else { return "\(displayName): expected input [N, C, L], got shape \(input.shape)" }
        return poolingError(displayName, input.shape, kernel: [kernelSize], stride: [stride], padding: [padding])
    }
}

/// Max pooling over `[N, C, H, W]` windows, as PyTorch's `nn.MaxPool2d` (stride defaults to
/// the kernel, padding is −∞).
public final class MaxPool2d: Pool2dBase, @unchecked Sendable {
    /// The pooled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.maxPool2d(kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// Max pooling over `[N, C, L]` windows, as PyTorch's `nn.MaxPool1d`.
public final class MaxPool1d: Pool1dBase, @unchecked Sendable {
    /// The pooled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.maxPool1d(kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// Average pooling over `[N, C, H, W]` windows, as PyTorch's `nn.AvgPool2d` (padding counts
/// in the divisor unless `countIncludePad` is false).
public final class AvgPool2d: Pool2dBase, @unchecked Sendable {
    /// Whether padded positions count in each window's divisor.
    public let countIncludePad: Bool

    /// An average-pooling layer; `stride` nil means the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0], countIncludePad: Bool = true) {
        self.countIncludePad = countIncludePad
        super.init(kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// The pooled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.avgPool2d(kernel: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }
}

/// Average pooling over `[N, C, L]` windows, as PyTorch's `nn.AvgPool1d`.
public final class AvgPool1d: Pool1dBase, @unchecked Sendable {
    /// The pooled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.avgPool1d(kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// Average pooling to a fixed output grid, as PyTorch's `nn.AdaptiveAvgPool2d`; `[1, 1]` is
/// global average pooling.
public final class AdaptiveAvgPool2d: Module, @unchecked Sendable, InputValidating {
    /// The output height and width.
    public let outputSize: [Int]

    /// Pools any `[N, C, H, W]` input to `[N, C] + outputSize`.
    public init(_ outputSize: [Int]) {
        self.outputSize = spatial(outputSize, 2)
        nablaCheck(self.outputSize.count == 2 && self.outputSize.allSatisfy { $0 >= 1 },
                   "AdaptiveAvgPool2d: output size must be one or two positive sizes, got \(outputSize)")
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "out: \(outputSize)" }

    /// Nil, or a message when the input is not `[N, C, H, W]`.
    public func validateInput(_ input: Tensor) -> String? {
        input.rank == 4 ? nil : "\(displayName): expected input [N, C, H, W], got shape \(input.shape)"
    }

    /// The pooled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.adaptiveAvgPool2d(outputSize)
    }
}

/// Upsampling of `[N, C, H, W]` by an integer factor, as PyTorch's `nn.Upsample`
/// (`nearest`, or `bilinear` with `align_corners=False`).
public final class Upsample: Module, @unchecked Sendable, InputValidating {
    /// The factor along both spatial axes.
    public let scale: Int
    /// How new pixels are filled.
    public let mode: UpsampleMode

    /// An upsampling layer.
    public init(scale: Int = 2, mode: UpsampleMode = .nearest) {
        nablaCheck(scale >= 1, "Upsample: scale must be a positive integer, got \(scale)")
        self.scale = scale; self.mode = mode
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "scale: \(scale), mode: \(mode.rawValue)" }

    /// Nil, or a message when the input is not `[N, C, H, W]`.
    public func validateInput(_ input: Tensor) -> String? {
        input.rank == 4 ? nil : "\(displayName): expected input [N, C, H, W], got shape \(input.shape)"
    }

    /// The upsampled input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.upsample2d(scale: scale, mode: mode)
    }
}

/// Channel dropout (PyTorch's `nn.Dropout2d`): in training mode each channel of each example
/// is zeroed with probability `p` and the survivors scaled by 1/(1 − p).
///
/// The input is `[N, C, ...]`; evaluation mode passes it unchanged.
public final class Dropout2d: Module, @unchecked Sendable {
    /// The probability of zeroing a channel.
    public let probability: Double
    /// The generator masks are drawn from (nil: the global generator).
    public let generator: RandomGenerator?

    /// A channel-dropout layer with drop probability `p` (default 0.5, as PyTorch).
    public init(_ p: Double = 0.5, generator: RandomGenerator? = nil) {
        nablaCheck(p >= 0 && p <= 1, "Dropout2d: probability must be in [0, 1], got \(p)")
        probability = p
        self.generator = generator
        super.init()
    }

    /// The layer's configuration for descriptions: the dropout probability.
    public override var configDescription: String { "p: \(probability)" }

    /// Zeroes whole channels in training mode; the identity in evaluation mode.
    public override func forward(_ input: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return input }
        nablaCheck(input.rank >= 2, "\(displayName): expected input [N, C, ...], got shape \(input.shape)")
        if probability == 1 { return input * 0.0 }
        let keep = 1 - probability
        var maskShape = Array(repeating: 1, count: input.rank)
        maskShape[0] = input.shape[0]; maskShape[1] = input.shape[1]
        let mask = Tensor.randomBernoulli(maskShape, p: keep, dtype: input.dtype, generator: generator ?? RandomGenerator.global) / keep
        return input * mask
    }
}

/// A skip connection: `x + body(x)`, the building block of residual networks.
///
/// The layers are named `layers.0`, `layers.1`, … under it (a PyTorch module with
/// `self.layers = nn.Sequential(...)` has the same state-dict names). The body must keep the
/// input's shape.
public final class Residual: Module, @unchecked Sendable {
    /// The body's layers, applied in order.
    public let layers: [Module]

    /// A residual block around `layers`.
    public init(_ layers: [Module]) {
        for (i, layer) in layers.enumerated() {
            if let signature = layer.nonUnarySignature {
                nablaFail("Residual: layer \(i) (\(layer.typeName)) is a layer \(signature); a residual body chains Tensor -> Tensor layers")
            }
        }
        self.layers = layers
        super.init()
    }

    /// A residual block built with ``ModuleBuilder``.
    public convenience init(@ModuleBuilder _ build: () -> [Module]) { self.init(build()) }

    /// `input + body(input)`.
    public override func forward(_ input: Tensor) -> Tensor {
        var h = input
        for layer in layers { h = layer(h) }
        nablaCheck(h.shape == input.shape, "\(displayName): the body maps shape \(input.shape) to \(h.shape); a residual block must keep the shape")
        return input + h
    }
}
