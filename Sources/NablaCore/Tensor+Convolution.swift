import CNablaKernels

/// How a convolution or pooling window is padded along the spatial axes, as PyTorch's
/// `padding` argument.
///
/// An integer literal pads every spatial axis by that much on both sides; `.perAxis([1, 0])`
/// gives each axis its own; `.same` pads so that the output has the input's size (stride 1
/// only; an even kernel pads one more at the end, as PyTorch does); `.valid` pads nothing.
public enum ConvPadding: Equatable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// No padding.
    case valid
    /// Output as large as the input (stride 1).
    case same
    /// The same padding on every spatial axis, both sides.
    case uniform(Int)
    /// One padding per spatial axis, both sides.
    case perAxis([Int])

    /// Pads every spatial axis by `value` on both sides.
    public init(integerLiteral value: Int) { self = .uniform(value) }

    /// As written in an architecture: `1`, `[1, 0]`, `same`, `valid`.
    public var description: String {
        switch self {
        case .valid: return "valid"
        case .same: return "same"
        case .uniform(let p): return "\(p)"
        case .perAxis(let p): return "\(p)"
        }
    }

    /// (before, after) padding of each of `spatial` axes for the given kernel, dilation and
    /// stride; nil with a message when this padding cannot apply.
    public func resolve(kernel: [Int], dilation: [Int], stride: [Int]) -> (pads: [(Int, Int)], error: String?) {
        let d = kernel.count
        switch self {
        case .valid: return (Array(repeating: (0, 0), count: d), nil)
        case .uniform(let p):
            if p < 0 { return ([], "padding must be non-negative, got \(p)") }
            return (Array(repeating: (p, p), count: d), nil)
        case .perAxis(let p):
            if p.count != d { return ([], "padding \(p) needs \(d) value\(d == 1 ? "" : "s"), one per spatial axis") }
            if p.contains(where: { $0 < 0 }) { return ([], "padding must be non-negative, got \(p)") }
            return (p.map { ($0, $0) }, nil)
        case .same:
            if stride.contains(where: { $0 != 1 }) { return ([], "padding 'same' needs stride 1, got stride \(stride)") }
            return (zip(kernel, dilation).map { k, dl in
                let total = dl * (k - 1)
                return (total / 2, total - total / 2)
            }, nil)
        }
    }
}

/// The size of a convolution's or pooling's output along one axis (PyTorch's formula), which
/// may be ≤ 0 when the window does not fit.
public func convOutputSize(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, dilation: Int = 1) -> Int {
    // Saturating: sizes from a file must not trap on overflow (the caller rejects them).
    let (scaled, o1) = dilation.multipliedReportingOverflow(by: kernel - 1)
    let (padded, o2) = input.addingReportingOverflow(padBefore &+ padAfter)
    if o1 || o2 { return o2 && !o1 ? Int.max : 0 }
    let room = padded - scaled - 1
    return room < 0 ? 0 : room / stride + 1
}

extension Tensor {
    // MARK: Convolution

    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `[N, C, H, W]` input.
    ///
    /// The weight is `[outChannels, C / groups, kH, kW]` and the bias `[outChannels]`. The
    /// output is `[N, outChannels, H', W']` with H' = ⌊(H + padding − dilation·(kH − 1) − 1) /
    /// stride⌋ + 1. Computed as im2col + GEMM per image, the images split over the threads.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: ConvPadding = .valid,
                       dilation: [Int] = [1, 1], groups: Int = 1) -> Tensor {
        nablaCheck(rank == 4, "conv2d: input must be [N, C, H, W], got shape \(shape)")
        nablaCheck(weight.rank == 4, "conv2d: weight must be [out, in/groups, kH, kW], got shape \(weight.shape)")
        let g = Tensor.convGeometry(op: "conv2d", input: shape, weight: weight.shape, stride: stride, padding: padding,
                                    dilation: dilation, groups: groups)
        return Tensor.convolution(self, weight, bias, g, op: "Conv2d")
    }

    /// 1-D convolution of `[N, C, L]` input with a `[outChannels, C / groups, k]` weight
    /// (PyTorch's `conv1d`). The output is `[N, outChannels, L']`.
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: ConvPadding = .valid,
                       dilation: Int = 1, groups: Int = 1) -> Tensor {
        nablaCheck(rank == 3, "conv1d: input must be [N, C, L], got shape \(shape)")
        nablaCheck(weight.rank == 3, "conv1d: weight must be [out, in/groups, k], got shape \(weight.shape)")
        let pad: ConvPadding
        switch padding {
        case .uniform(let p): pad = .perAxis([0, p])
        case .perAxis(let p) where p.count == 1: pad = .perAxis([0, p[0]])
        case .perAxis(let p): nablaFail("conv1d: padding \(p) needs 1 value")
        case .same, .valid: pad = padding
        }
        let g = Tensor.convGeometry(op: "conv1d", input: [shape[0], shape[1], 1, shape[2]],
                                    weight: [weight.shape[0], weight.shape[1], 1, weight.shape[2]],
                                    stride: [1, stride], padding: pad, dilation: [1, dilation], groups: groups)
        let y = Tensor.convolution(reshaped([shape[0], shape[1], 1, shape[2]]),
                                   weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]), bias, g, op: "Conv1d")
        return y.reshaped([g.n, g.oc, g.ow])
    }

    /// 2-D transposed convolution (PyTorch's `conv_transpose2d`), the adjoint of `conv2d`: it
    /// upsamples `[N, C, H, W]` to `[N, outChannels, H', W']` with H' = (H − 1)·stride −
    /// 2·padding + dilation·(kH − 1) + outputPadding + 1.
    ///
    /// The weight is `[C, outChannels / groups, kH, kW]`, as in PyTorch.
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: [Int] = [0, 0],
                                outputPadding: [Int] = [0, 0], dilation: [Int] = [1, 1], groups: Int = 1) -> Tensor {
        nablaCheck(rank == 4, "conv_transpose2d: input must be [N, C, H, W], got shape \(shape)")
        nablaCheck(weight.rank == 4, "conv_transpose2d: weight must be [in, out/groups, kH, kW], got shape \(weight.shape)")
        requireFloatingPoint("conv_transpose2d")
        nablaCheck(stride.count == 2 && padding.count == 2 && outputPadding.count == 2 && dilation.count == 2,
                   "conv_transpose2d: stride, padding, output padding and dilation need 2 values each")
        nablaCheck(stride.allSatisfy { $0 >= 1 } && dilation.allSatisfy { $0 >= 1 } && padding.allSatisfy { $0 >= 0 },
                   "conv_transpose2d: stride \(stride) and dilation \(dilation) must be positive, padding \(padding) non-negative")
        nablaCheck(groups >= 1 && shape[1] % groups == 0,
                   "conv_transpose2d: groups \(groups) do not divide the \(shape[1]) input channels")
        nablaCheck(weight.shape[0] == shape[1],
                   "conv_transpose2d: weight \(weight.shape) expects \(weight.shape[0]) input channels, got input of shape \(shape)")
        for i in 0..<2 {
            nablaCheck(outputPadding[i] >= 0 && (outputPadding[i] < stride[i] || outputPadding[i] < dilation[i]),
                       "conv_transpose2d: output padding \(outputPadding) must be smaller than stride \(stride) or dilation \(dilation)")
        }
        let outC = weight.shape[1] * groups
        let oh = (shape[2] - 1) * stride[0] - 2 * padding[0] + dilation[0] * (weight.shape[2] - 1) + outputPadding[0] + 1
        let ow = (shape[3] - 1) * stride[1] - 2 * padding[1] + dilation[1] * (weight.shape[3] - 1) + outputPadding[1] + 1
        nablaCheck(oh > 0 && ow > 0, "conv_transpose2d: input \(shape) with weight \(weight.shape) gives an empty output (\(oh) × \(ow))")
        // The convolution whose input gradient this is: input [N, outC, oh, ow], output x.
        var g = nabla_conv_geom()
        g.n = shape[0]; g.c = outC; g.h = oh; g.w = ow
        g.oc = shape[1]; g.oh = shape[2]; g.ow = shape[3]
        g.kh = weight.shape[2]; g.kw = weight.shape[3]; g.sh = stride[0]; g.sw = stride[1]
        g.ph = padding[0]; g.pw = padding[1]; g.dh = dilation[0]; g.dw = dilation[1]
        g.groups = groups; g.cg = weight.shape[1]
        let x = contiguous().detached(), w = weight.contiguous().detached()
        nablaCheck(x.dtype == w.dtype, "conv_transpose2d: input is \(x.dtype) but weight is \(w.dtype)")
        var y = Tensor(uninitializedShape: [g.n, outC, oh, ow], dtype: dtype)
        Tensor.convBackwardRaw(g, x: nil, w: w, gy: x, gx: y, gw: nil)
        if let b = bias {
            nablaCheck(b.shape == [outC], "conv_transpose2d: bias of shape \(b.shape) does not match \(outC) output channels")
            y = Tensor.addChannelBias(y, b.detached())
        }
        let needX = liveNode != nil, needW = weight.liveNode != nil, needB = bias?.liveNode != nil
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.record(y, op: "ConvTranspose2d", inputs: inputs) { gy in
            let gy = gy.to(x.dtype).contiguous()
            var gx: Tensor? = nil, gw: Tensor? = nil
            if needX {
                let t = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
                Tensor.convForwardRaw(g, x: gy, w: w, bias: nil, y: t)
                gx = t
            }
            if needW {
                let t = Tensor(uninitializedShape: w.shape, dtype: w.dtype)
                Tensor.convBackwardRaw(g, x: gy, w: w, gy: x, gx: nil, gw: t)
                gw = t
            }
            let gb: Tensor? = needB ? gy.sum(axes: [0, 2, 3]) : nil
            return [gx, gw, gb]
        }.saving(x, if: needW, w, if: needX)
    }

    /// The geometry of a convolution of `input` [N, C, H, W] with `weight` [OC, C/g, kH, kW],
    /// checked: every problem traps with a message naming `op` and the shapes.
    static func convGeometry(op: String, input: [Int], weight: [Int], stride: [Int], padding: ConvPadding,
                             dilation: [Int], groups: Int) -> nabla_conv_geom {
        nablaCheck(stride.count == 2 && dilation.count == 2, "\(op): stride and dilation need one value per spatial axis")
        nablaCheck(stride.allSatisfy { $0 >= 1 } && dilation.allSatisfy { $0 >= 1 },
                   "\(op): stride \(stride) and dilation \(dilation) must be positive")
        nablaCheck(groups >= 1, "\(op): groups must be positive, got \(groups)")
        let c = input[1], oc = weight[0]
        nablaCheck(c % groups == 0 && oc % groups == 0,
                   "\(op): groups \(groups) must divide the input channels \(c) and the output channels \(oc)")
        nablaCheck(weight[1] * groups == c,
                   "\(op): weight \(weight) expects \(weight[1] * groups) input channels, got input of shape \(input)")
        let (pads, err) = padding.resolve(kernel: [weight[2], weight[3]], dilation: dilation, stride: stride)
        if let err { nablaFail("\(op): \(err)") }
        var g = nabla_conv_geom()
        g.n = input[0]; g.c = c; g.h = input[2]; g.w = input[3]
        g.oc = oc; g.kh = weight[2]; g.kw = weight[3]
        g.sh = stride[0]; g.sw = stride[1]; g.dh = dilation[0]; g.dw = dilation[1]
        g.ph = pads[0].0; g.pw = pads[1].0
        g.groups = groups; g.cg = c / groups
        for (i, (size, k)) in [(input[2], weight[2]), (input[3], weight[3])].enumerated() {
            let span = dilation[i] * (k - 1) + 1
            nablaCheck(size + pads[i].0 + pads[i].1 >= span,
                       "\(op): kernel \(Array(weight[2...])) (dilation \(dilation)) is larger than the padded input \(Array(input[2...])) (padding \(padding))")
        }
        g.oh = convOutputSize(input: input[2], kernel: weight[2], stride: stride[0], padBefore: pads[0].0, padAfter: pads[0].1, dilation: dilation[0])
        g.ow = convOutputSize(input: input[3], kernel: weight[3], stride: stride[1], padBefore: pads[1].0, padAfter: pads[1].1, dilation: dilation[1])
        return g
    }

    /// The convolution with its gradient rule.
    static func convolution(_ input: Tensor, _ weight: Tensor, _ bias: Tensor?, _ g: nabla_conv_geom, op: String) -> Tensor {
        input.requireFloatingPoint(op.lowercased())
        nablaCheck(input.dtype == weight.dtype, "\(op.lowercased()): input is \(input.dtype) but weight is \(weight.dtype)")
        if let b = bias {
            nablaCheck(b.shape == [g.oc], "\(op.lowercased()): bias of shape \(b.shape) does not match \(g.oc) output channels")
            nablaCheck(b.dtype == input.dtype, "\(op.lowercased()): bias is \(b.dtype) but input is \(input.dtype)")
        }
        let x = input.contiguous().detached(), w = weight.contiguous().detached(), b = bias?.contiguous().detached()
        let y = Tensor(uninitializedShape: [g.n, g.oc, g.oh, g.ow], dtype: x.dtype)
        convForwardRaw(g, x: x, w: w, bias: b, y: y)
        let needX = input.liveNode != nil, needW = weight.liveNode != nil, needB = bias?.liveNode != nil
        guard (needX || needW || needB) && nabla_grad_enabled() != 0 else { return y }
        let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
        return record(y, op: op, inputs: inputs) { gy in
            let gy = gy.to(x.dtype).contiguous()
            let gx = needX ? Tensor(uninitializedShape: x.shape, dtype: x.dtype) : nil
            let gw = needW ? Tensor(uninitializedShape: w.shape, dtype: w.dtype) : nil
            let gb = needB ? Tensor(uninitializedShape: [g.oc], dtype: x.dtype) : nil
            convBackwardRaw(g, x: needW ? x : nil, w: w, gy: gy, gx: gx, gw: gw, gb: gb)
            return [gx, gw, gb]
        }.saving(x, if: needW, w, if: needX)
    }

    static func convForwardRaw(_ g: nabla_conv_geom, x: Tensor, w: Tensor, bias: Tensor?, y: Tensor) {
        var g = g
        if x.dtype == .float32 {
            nabla_s_conv2d_forward(&g, x.pointer(Float.self), w.pointer(Float.self), bias?.pointer(Float.self), y.pointer(Float.self))
        } else {
            nabla_d_conv2d_forward(&g, x.pointer(Double.self), w.pointer(Double.self), bias?.pointer(Double.self), y.pointer(Double.self))
        }
    }

    static func convBackwardRaw(_ g: nabla_conv_geom, x: Tensor?, w: Tensor, gy: Tensor, gx: Tensor?, gw: Tensor?, gb: Tensor? = nil) {
        var g = g
        if w.dtype == .float32 {
            nabla_s_conv2d_backward(&g, x?.pointer(Float.self), w.pointer(Float.self), gy.pointer(Float.self),
                                    gx?.pointer(Float.self), gw?.pointer(Float.self), gb?.pointer(Float.self))
        } else {
            nabla_d_conv2d_backward(&g, x?.pointer(Double.self), w.pointer(Double.self), gy.pointer(Double.self),
                                    gx?.pointer(Double.self), gw?.pointer(Double.self), gb?.pointer(Double.self))
        }
    }

    /// y + b[c] over the channel axis 1 of an `[N, C, ...]` tensor, without autograd.
    static func addChannelBias(_ y: Tensor, _ b: Tensor) -> Tensor {
        var shape = Array(repeating: 1, count: y.rank)
        shape[1] = b.count
        return binaryRaw(y, b.reshaped(shape), FAdd.self, kernel: NABLA_BIN_ADD, op: "bias")
    }
}
