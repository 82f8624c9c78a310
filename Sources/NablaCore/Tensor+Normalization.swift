import CNablaKernels

extension Tensor {
    // MARK: Normalisation

    /// Batch normalisation with the batch's own statistics (training mode) of `[N, C, ...]`
    /// input: per channel c, y = (x − mean_c) / √(var_c + eps) · weight_c + bias_c, mean and
    /// (biased) variance over every axis but 1.
    ///
    /// Returns the output and the batch's mean and biased variance (without gradients), from
    /// which a layer updates its running statistics. One fused kernel each way.
    public func batchNormTraining(weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        nablaCheck(rank >= 2, "batch_norm: input must be [N, C, ...], got shape \(shape)")
        requireFloatingPoint("batch_norm")
        let c = shape[1], outer = shape[0], inner = Shape.count(Array(shape[2...]))
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t {
                nablaCheck(t.shape == [c], "batch_norm: \(name) of shape \(t.shape) does not match \(c) channels (input \(shape))")
                nablaCheck(t.dtype == dtype, "batch_norm: \(name) is \(t.dtype) but input is \(dtype)")
            }
        }
        let x = contiguous().detached(), w = weight?.contiguous().detached(), b = bias?.contiguous().detached()
        let mean = Tensor(uninitializedShape: [c], dtype: dtype), variance = Tensor(uninitializedShape: [c], dtype: dtype)
        let rstd = Tensor(uninitializedShape: [c], dtype: dtype)
        let y = Tensor(uninitializedShape: shape, dtype: dtype)
        if dtype == .float32 {
            nabla_s_channel_stats(x.pointer(Float.self), outer, c, inner, eps, mean.pointer(Float.self), variance.pointer(Float.self), rstd.pointer(Float.self))
            nabla_s_channel_normalize(x.pointer(Float.self), outer, c, inner, mean.pointer(Float.self), rstd.pointer(Float.self),
                                      w?.pointer(Float.self), b?.pointer(Float.self), y.pointer(Float.self))
        } else {
            nabla_d_channel_stats(x.pointer(Double.self), outer, c, inner, eps, mean.pointer(Double.self), variance.pointer(Double.self), rstd.pointer(Double.self))
            nabla_d_channel_normalize(x.pointer(Double.self), outer, c, inner, mean.pointer(Double.self), rstd.pointer(Double.self),
                                      w?.pointer(Double.self), b?.pointer(Double.self), y.pointer(Double.self))
        }
        let out = Tensor.channelNormalizeRecord(y, op: "BatchNorm", input: self, x: x, weight: weight, bias: bias, w: w,
                                                outer: outer, channels: c, inner: inner, mean: mean, rstd: rstd)
        return (out, mean, variance)
    }

    /// Batch normalisation with fixed statistics (evaluation mode):
    /// y = (x − runningMean_c) / √(runningVar_c + eps) · weight_c + bias_c. Gradients reach
    /// the input, weight and bias; the statistics are constants.
    public func batchNormInference(runningMean: Tensor, runningVar: Tensor, weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> Tensor {
        nablaCheck(rank >= 2, "batch_norm: input must be [N, C, ...], got shape \(shape)")
        let c = shape[1]
        nablaCheck(runningMean.shape == [c] && runningVar.shape == [c],
                   "batch_norm: running statistics of shapes \(runningMean.shape), \(runningVar.shape) do not match \(c) channels (input \(shape))")
        var bshape = Array(repeating: 1, count: rank)
        bshape[1] = c
        let rstd = 1.0 / (runningVar.detached().to(dtype) + eps).sqrt()
        var scale = rstd
        if let w = weight { scale = scale * w }
        var shift = runningMean.detached().to(dtype) * scale * -1.0
        if let b = bias { shift = shift + b }
        return self * scale.reshaped(bshape) + shift.reshaped(bshape)
    }

    /// Each slice over the trailing `dims` axes normalised to mean 0 and variance 1 (biased
    /// variance, `eps` added): the core of layer and group normalisation, one fused kernel
    /// each way.
    public func normalized(overTrailing dims: Int, eps: Double = 1e-5) -> Tensor {
        nablaCheck(dims >= 1 && dims <= rank, "normalized: cannot normalise over the last \(dims) axes of shape \(shape)")
        requireFloatingPoint("normalized")
        let inner = Shape.count(Array(shape[(rank - dims)...])), rows = count / Swift.max(inner, 1)
        let x = contiguous().detached()
        let mean = Tensor(uninitializedShape: [rows], dtype: dtype), variance = Tensor(uninitializedShape: [rows], dtype: dtype)
        let rstd = Tensor(uninitializedShape: [rows], dtype: dtype)
        let y = Tensor(uninitializedShape: shape, dtype: dtype)
        if dtype == .float32 {
            nabla_s_channel_stats(x.pointer(Float.self), 1, rows, inner, eps, mean.pointer(Float.self), variance.pointer(Float.self), rstd.pointer(Float.self))
            nabla_s_channel_normalize(x.pointer(Float.self), 1, rows, inner, mean.pointer(Float.self), rstd.pointer(Float.self), nil, nil, y.pointer(Float.self))
        } else {
            nabla_d_channel_stats(x.pointer(Double.self), 1, rows, inner, eps, mean.pointer(Double.self), variance.pointer(Double.self), rstd.pointer(Double.self))
            nabla_d_channel_normalize(x.pointer(Double.self), 1, rows, inner, mean.pointer(Double.self), rstd.pointer(Double.self), nil, nil, y.pointer(Double.self))
        }
        return Tensor.channelNormalizeRecord(y, op: "Normalize", input: self, x: x, weight: nil, bias: nil, w: nil,
                                             outer: 1, channels: rows, inner: inner, mean: mean, rstd: rstd)
    }

    /// Layer normalisation (PyTorch's `layer_norm`) over the trailing axes of `weight`'s
    /// shape (or the last `dims` axes): normalise, then scale and shift element-wise.
    public func layerNorm(dims: Int, weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> Tensor {
        nablaCheck(dims >= 1 && dims <= rank, "layer_norm: input of shape \(shape) has fewer than \(dims) axes to normalise")
        let trailing = Array(shape[(rank - dims)...])
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t { nablaCheck(t.shape == trailing, "layer_norm: \(name) of shape \(t.shape) does not match the normalised shape \(trailing) (input \(shape))") }
        }
        var y = normalized(overTrailing: dims, eps: eps)
        if let w = weight { y = y * w }
        if let b = bias { y = y + b }
        return y
    }

    /// Group normalisation (PyTorch's `group_norm`) of `[N, C, ...]` input: the channels are
    /// split into `groups`, each normalised over its channels and positions, then scaled and
    /// shifted per channel.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> Tensor {
        nablaCheck(rank >= 2, "group_norm: input must be [N, C, ...], got shape \(shape)")
        let c = shape[1]
        nablaCheck(groups >= 1 && c % groups == 0, "group_norm: \(groups) groups do not divide the \(c) channels (input \(shape))")
        var y = reshaped([shape[0], groups, count / Swift.max(shape[0] * groups, 1)]).normalized(overTrailing: 1, eps: eps).reshaped(shape)
        var bshape = Array(repeating: 1, count: rank)
        bshape[1] = c
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t { nablaCheck(t.shape == [c], "group_norm: \(name) of shape \(t.shape) does not match \(c) channels") }
        }
        if let w = weight { y = y * w.reshaped(bshape) }
        if let b = bias { y = y + b.reshaped(bshape) }
        return y
    }

    /// Records the fused normalisation's gradient rule (input, and weight/bias when given).
    static func channelNormalizeRecord(_ y: Tensor, op: String, input: Tensor, x: Tensor, weight: Tensor?, bias: Tensor?, w: Tensor?,
                                       outer: Int, channels: Int, inner: Int, mean: Tensor, rstd: Tensor) -> Tensor {
        let needX = input.liveNode != nil, needW = weight?.liveNode != nil, needB = bias?.liveNode != nil
        guard (needX || needW || needB) && nabla_grad_enabled() != 0 else { return y }
        var inputs = [input]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasW = weight != nil
        return record(y, op: op, inputs: inputs) { gy in
            let gy = gy.to(x.dtype).contiguous()
            let gx = needX ? Tensor(uninitializedShape: x.shape, dtype: x.dtype) : nil
            let gw = needW ? Tensor(uninitializedShape: [channels], dtype: x.dtype) : nil
            let gb = needB ? Tensor(uninitializedShape: [channels], dtype: x.dtype) : nil
            if x.dtype == .float32 {
                nabla_s_channel_normalize_backward(x.pointer(Float.self), gy.pointer(Float.self), outer, channels, inner,
                                                   mean.pointer(Float.self), rstd.pointer(Float.self), w?.pointer(Float.self),
                                                   gx?.pointer(Float.self), gw?.pointer(Float.self), gb?.pointer(Float.self))
            } else {
                nabla_d_channel_normalize_backward(x.pointer(Double.self), gy.pointer(Double.self), outer, channels, inner,
                                                   mean.pointer(Double.self), rstd.pointer(Double.self), w?.pointer(Double.self),
                                                   gx?.pointer(Double.self), gw?.pointer(Double.self), gb?.pointer(Double.self))
            }
            var grads: [Tensor?] = [gx]
            if hasW { grads.append(gw) }
            if bias != nil { grads.append(gb) }
            return grads
        }.saving(x)
    }
}
