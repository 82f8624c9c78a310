import NablaCore

/// Batch normalisation over the channel axis 1 (the common code of ``BatchNorm1d`` and
/// ``BatchNorm2d``), with PyTorch's parameters, buffers and update rule.
///
/// In training mode the batch's own statistics normalise the input, and the running ones
/// move towards them: `running = (1 − momentum)·running + momentum·batch` (the variance
/// unbiased), or a cumulative average when `momentum` is nil. In evaluation mode the running
/// statistics are used. State-dict names are PyTorch's: `weight`, `bias`, `running_mean`,
/// `running_var`, `num_batches_tracked` (int64).
open class BatchNormBase: Module, @unchecked Sendable, InputValidating {
    /// The scale γ, shape `[C]` (nil when not affine).
    public let weight: Tensor?
    /// The shift β, shape `[C]` (nil when not affine).
    public let bias: Tensor?
    // Stored under PyTorch's state-dict names (module discovery uses property names).
    let running_mean: Tensor?
    let running_var: Tensor?
    let num_batches_tracked: Tensor?
    /// Channels.
    public let numFeatures: Int
    /// Added to the variance.
    public let eps: Double
    /// Weight of the new batch in the running statistics (nil: cumulative average).
    public let momentum: Double?

    /// The running mean, shape `[C]` (nil when statistics are not tracked).
    public var runningMean: Tensor? { running_mean }
    /// The running (unbiased) variance, shape `[C]`.
    public var runningVar: Tensor? { running_var }
    /// How many training batches updated the running statistics (an int64 scalar).
    public var numBatchesTracked: Tensor? { num_batches_tracked }

    /// Batch normalisation of `numFeatures` channels.
    public init(_ numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true, dtype: DType = .float32) {
        nablaCheck(numFeatures >= 1, "\(Self.self): number of features must be positive, got \(numFeatures)")
        nablaCheck(eps >= 0, "\(Self.self): eps must be non-negative, got \(eps)")
        self.numFeatures = numFeatures; self.eps = eps; self.momentum = momentum
        weight = affine ? Tensor.ones([numFeatures], dtype: dtype).requiringGrad() : nil
        bias = affine ? Tensor.zeros([numFeatures], dtype: dtype).requiringGrad() : nil
        running_mean = trackRunningStats ? Tensor.zeros([numFeatures], dtype: dtype) : nil
        running_var = trackRunningStats ? Tensor.ones([numFeatures], dtype: dtype) : nil
        num_batches_tracked = trackRunningStats ? Tensor(Int64(0)) : nil
        super.init()
    }

    /// The input ranks the layer takes, for messages.
    open var acceptedRanks: [Int] { [2, 3, 4] }
    /// The input layout, for messages.
    open var layout: String { "[N, C, ...]" }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        "\(numFeatures)" + (eps != 1e-5 ? ", eps: \(eps)" : "") + (momentum != 0.1 ? ", momentum: \(momentum.map { "\($0)" } ?? "nil")" : "")
    }

    /// Nil, or a message naming the layer when the input's rank or channel count is wrong.
    public func validateInput(_ input: Tensor) -> String? {
        let shown = layout.replacingOccurrences(of: "C", with: "\(numFeatures)")
        guard acceptedRanks.contains(input.rank) else { return "\(displayName): expected input \(shown), got shape \(input.shape)" }
        guard input.shape[1] == numFeatures else {
            return "\(displayName): expected \(numFeatures) channels, got \(input.shape[1]) (input shape \(input.shape))"
        }
        return nil
    }

    /// Normalises with batch statistics (training, updating the running ones) or running
    /// statistics (evaluation).
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        if !isTraining, let rm = running_mean, let rv = running_var {
            return input.batchNormInference(runningMean: rm, runningVar: rv, weight: weight, bias: bias, eps: eps)
        }
        let per = input.count / numFeatures
        nablaCheck(per > 1, "\(displayName): expected more than 1 value per channel when training, got input of shape \(input.shape)")
        let (y, mean, variance) = input.batchNormTraining(weight: weight, bias: bias, eps: eps)
        if let rm = running_mean, let rv = running_var, let nb = num_batches_tracked {
            let count = nb.int64s[0] + 1
            nb.assignInPlace(Tensor(count))
            let m = momentum ?? 1 / Double(count)
            let unbiased = variance * (Double(per) / Double(per - 1))
            withoutGrad {
                rm.assignInPlace(rm * (1 - m) + mean.to(rm.dtype) * m)
                rv.assignInPlace(rv * (1 - m) + unbiased.to(rv.dtype) * m)
            }
        }
        return y
    }
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` input, as PyTorch's `nn.BatchNorm1d`.
public final class BatchNorm1d: BatchNormBase, @unchecked Sendable {
    /// `[N, C]` or `[N, C, L]`.
    public override var acceptedRanks: [Int] { [2, 3] }
    /// The input layout, for messages.
    public override var layout: String { "[N, C] or [N, C, L]" }
}

/// Batch normalisation of `[N, C, H, W]` input, as PyTorch's `nn.BatchNorm2d`.
public final class BatchNorm2d: BatchNormBase, @unchecked Sendable {
    /// `[N, C, H, W]`.
    public override var acceptedRanks: [Int] { [4] }
    /// The input layout, for messages.
    public override var layout: String { "[N, C, H, W]" }
}

/// Layer normalisation over the trailing axes, as PyTorch's `nn.LayerNorm`.
///
/// Each example's last `normalizedShape.count` axes are normalised to mean 0 and variance 1,
/// then scaled and shifted element-wise by `weight` and `bias` (shape `normalizedShape`,
/// initialised to 1 and 0).
public final class LayerNorm: Module, @unchecked Sendable, InputValidating {
    /// The scale, shape `normalizedShape` (nil without element-wise affine).
    public let weight: Tensor?
    /// The shift, shape `normalizedShape` (nil without element-wise affine or with `bias: false`).
    public let bias: Tensor?
    /// The trailing shape normalised over.
    public let normalizedShape: [Int]
    /// Added to the variance.
    public let eps: Double

    /// Layer normalisation over trailing axes of shape `normalizedShape`; `bias: false`
    /// keeps the scale but drops the shift (PyTorch's `bias=False`).
    public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true, dtype: DType = .float32) {
        nablaCheck(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 >= 1 },
                   "LayerNorm: normalized shape must be non-empty and positive, got \(normalizedShape)")
        self.normalizedShape = normalizedShape; self.eps = eps
        weight = elementwiseAffine ? Tensor.ones(normalizedShape, dtype: dtype).requiringGrad() : nil
        self.bias = elementwiseAffine && bias ? Tensor.zeros(normalizedShape, dtype: dtype).requiringGrad() : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(normalizedShape)" + (eps != 1e-5 ? ", eps: \(eps)" : "") }

    /// Nil, or a message when the input does not end in `normalizedShape`.
    public func validateInput(_ input: Tensor) -> String? {
        if input.rank >= normalizedShape.count && Array(input.shape.suffix(normalizedShape.count)) == normalizedShape { return nil }
        return "\(displayName): expected input ending in \(normalizedShape), got shape \(input.shape)"
    }

    /// The normalised input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.layerNorm(dims: normalizedShape.count, weight: weight, bias: bias, eps: eps)
    }
}

/// Group normalisation, as PyTorch's `nn.GroupNorm`: the channels of `[N, C, ...]` input are
/// split into groups, each normalised over its channels and positions, then scaled and
/// shifted per channel (weight and bias `[C]`, initialised to 1 and 0).
public final class GroupNorm: Module, @unchecked Sendable, InputValidating {
    /// The scale, shape `[C]` (nil when not affine).
    public let weight: Tensor?
    /// The shift, shape `[C]`.
    public let bias: Tensor?
    /// Groups of channels.
    public let numGroups: Int
    /// Channels.
    public let numChannels: Int
    /// Added to the variance.
    public let eps: Double

    /// Group normalisation of `numChannels` channels in `numGroups` groups.
    public init(_ numGroups: Int, _ numChannels: Int, eps: Double = 1e-5, affine: Bool = true, dtype: DType = .float32) {
        nablaCheck(numGroups >= 1 && numChannels % numGroups == 0,
                   "GroupNorm: \(numGroups) groups must divide the \(numChannels) channels")
        self.numGroups = numGroups; self.numChannels = numChannels; self.eps = eps
        weight = affine ? Tensor.ones([numChannels], dtype: dtype).requiringGrad() : nil
        bias = affine ? Tensor.zeros([numChannels], dtype: dtype).requiringGrad() : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "groups: \(numGroups), channels: \(numChannels)" }

    /// Nil, or a message when the input is not `[N, numChannels, ...]`.
    public func validateInput(_ input: Tensor) -> String? {
        if input.rank >= 2 && input.shape[1] == numChannels { return nil }
        return "\(displayName): expected input [N, \(numChannels), ...], got shape \(input.shape)"
    }

    /// The normalised input.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.groupNorm(groups: numGroups, weight: weight, bias: bias, eps: eps)
    }
}
