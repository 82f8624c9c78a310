import NablaCore

/// The registry entries of convolution, pooling, normalisation and residual layers.
///
/// Per-example shapes have no batch axis: a 2-D layer takes `[C, H, W]`, a 1-D one `[C, L]`.
/// Option names are PyTorch's in snake case (`kernel`, `stride`, `padding`, `dilation`,
/// `groups`, `bias`, `output_padding`, …).
extension LayerRegistry {
    static let spatialTypes: [LayerType] = [
        LayerType("conv2d", typeName: "Conv2d", options: convOptions,
                  outputShape: { shape, l in try convShape(shape, l, dims: 2) },
                  parameterCount: { shape, l in convParameters(shape, l, dims: 2) },
                  build: { shape, l, g in
                      Conv2d(shape[0], l.int("out")!, kernelSize: l.sizes("kernel", count: 2)!, stride: l.sizes("stride", count: 2) ?? [1, 1],
                             padding: padding(l, dims: 2), dilation: l.sizes("dilation", count: 2) ?? [1, 1],
                             groups: l.int("groups") ?? 1, bias: l.bool("bias") ?? true, generator: g)
                  }),
        LayerType("conv1d", typeName: "Conv1d", options: convOptions,
                  outputShape: { shape, l in try convShape(shape, l, dims: 1) },
                  parameterCount: { shape, l in convParameters(shape, l, dims: 1) },
                  build: { shape, l, g in
                      Conv1d(shape[0], l.int("out")!, kernelSize: l.sizes("kernel", count: 1)![0], stride: l.sizes("stride", count: 1)?[0] ?? 1,
                             padding: padding(l, dims: 1), dilation: l.sizes("dilation", count: 1)?[0] ?? 1,
                             groups: l.int("groups") ?? 1, bias: l.bool("bias") ?? true, generator: g)
                  }),
        LayerType("conv_transpose2d", typeName: "ConvTranspose2d",
                  options: [.required("out", .positiveInteger), .required("kernel", .sizes), .optional("in", .positiveInteger),
                            .optional("stride", .sizes), .optional("padding", .padding), .optional("output_padding", .padding),
                            .optional("dilation", .sizes), .optional("groups", .positiveInteger), .optional("bias", .boolean)],
                  outputShape: { shape, l in try convTransposeShape(shape, l) },
                  parameterCount: { shape, l in
                      guard shape.count == 3, let k = l.sizes("kernel", count: 2) else { return 0 }
                      let out = l.int("out")!, g = l.int("groups") ?? 1
                      guard let w = CheckedSize.product(shape[0], out / Swift.max(g, 1)), let wk = CheckedSize.product(w, k[0] * k[1]) else { return nil }
                      return (l.bool("bias") ?? true) ? CheckedSize.sum(wk, out) : wk
                  },
                  build: { shape, l, g in
                      ConvTranspose2d(shape[0], l.int("out")!, kernelSize: l.sizes("kernel", count: 2)!, stride: l.sizes("stride", count: 2) ?? [1, 1],
                                      padding: l.sizes0("padding", count: 2) ?? [0, 0], outputPadding: l.sizes0("output_padding", count: 2) ?? [0, 0],
                                      dilation: l.sizes("dilation", count: 2) ?? [1, 1], groups: l.int("groups") ?? 1,
                                      bias: l.bool("bias") ?? true, generator: g)
                  }),
        LayerType("maxpool2d", typeName: "MaxPool2d", options: poolOptions,
                  outputShape: { shape, l in try poolShape(shape, l, dims: 2) },
                  build: { _, l, _ in
                      MaxPool2d(kernelSize: l.sizes("kernel", count: 2)!, stride: l.sizes("stride", count: 2), padding: l.sizes0("padding", count: 2) ?? [0, 0])
                  }),
        LayerType("maxpool1d", typeName: "MaxPool1d", options: poolOptions,
                  outputShape: { shape, l in try poolShape(shape, l, dims: 1) },
                  build: { _, l, _ in
                      MaxPool1d(kernelSize: l.sizes("kernel", count: 1)![0], stride: l.sizes("stride", count: 1)?[0], padding: l.sizes0("padding", count: 1)?[0] ?? 0)
                  }),
        LayerType("avgpool2d", typeName: "AvgPool2d", options: poolOptions + [.optional("count_include_pad", .boolean)],
                  outputShape: { shape, l in try poolShape(shape, l, dims: 2) },
                  build: { _, l, _ in
                      AvgPool2d(kernelSize: l.sizes("kernel", count: 2)!, stride: l.sizes("stride", count: 2), padding: l.sizes0("padding", count: 2) ?? [0, 0],
                                countIncludePad: l.bool("count_include_pad") ?? true)
                  }),
        LayerType("avgpool1d", typeName: "AvgPool1d", options: poolOptions,
                  outputShape: { shape, l in try poolShape(shape, l, dims: 1) },
                  build: { _, l, _ in
                      AvgPool1d(kernelSize: l.sizes("kernel", count: 1)![0], stride: l.sizes("stride", count: 1)?[0], padding: l.sizes0("padding", count: 1)?[0] ?? 0)
                  }),
        LayerType("adaptive_avgpool2d", typeName: "AdaptiveAvgPool2d", options: [.required("out", .sizes)],
                  outputShape: { shape, l in
                      try expectRank(shape, 3, "[C, H, W]")
                      return [shape[0]] + (try sized(l, "out", 2)!)
                  },
                  build: { _, l, _ in AdaptiveAvgPool2d(l.sizes("out", count: 2)!) }),
        LayerType("upsample", typeName: "Upsample",
                  options: [.optional("scale", .positiveInteger), .optional("mode", .choice(UpsampleMode.allCases.map(\.rawValue)))],
                  outputShape: { shape, l in
                      try expectRank(shape, 3, "[C, H, W]")
                      let s = l.int("scale") ?? 2
                      try capped("scale", [s])
                      return [shape[0], try fits(CheckedSize.product(shape[1], s)), try fits(CheckedSize.product(shape[2], s))]
                  },
                  build: { _, l, _ in Upsample(scale: l.int("scale") ?? 2, mode: UpsampleMode(rawValue: l.string("mode") ?? "nearest") ?? .nearest) }),
        LayerType("dropout2d", typeName: "Dropout2d", options: [.optional("p", .probability)],
                  outputShape: { shape, _ in
                      guard shape.count >= 2 else { throw ModelSpecError(message: "expects inputs with channels, [C, ...], got \(shape)") }
                      return shape
                  },
                  build: { _, l, g in Dropout2d(l.double("p") ?? 0.5, generator: g) }),
        LayerType("batchnorm2d", typeName: "BatchNorm2d", options: batchNormOptions,
                  outputShape: { shape, l in
                      try expectRank(shape, 3, "[C, H, W]")
                      try checkFeatures(shape, l)
                      return shape
                  },
                  parameterCount: { shape, l in (l.bool("affine") ?? true) ? CheckedSize.product(2, shape[0]) : 0 },
                  build: { shape, l, _ in
                      BatchNorm2d(shape[0], eps: l.double("eps") ?? 1e-5, momentum: l.double("momentum") ?? 0.1,
                                  affine: l.bool("affine") ?? true, trackRunningStats: l.bool("track_running_stats") ?? true)
                  }),
        LayerType("batchnorm1d", typeName: "BatchNorm1d", options: batchNormOptions,
                  outputShape: { shape, l in
                      guard shape.count == 1 || shape.count == 2 else {
                          throw ModelSpecError(message: "expects inputs [C] or [C, L] per example, got \(shape)")
                      }
                      try checkFeatures(shape, l)
                      return shape
                  },
                  parameterCount: { shape, l in (l.bool("affine") ?? true) ? CheckedSize.product(2, shape[0]) : 0 },
                  build: { shape, l, _ in
                      BatchNorm1d(shape[0], eps: l.double("eps") ?? 1e-5, momentum: l.double("momentum") ?? 0.1,
                                  affine: l.bool("affine") ?? true, trackRunningStats: l.bool("track_running_stats") ?? true)
                  }),
        LayerType("layernorm", typeName: "LayerNorm",
                  options: [.optional("dims", .positiveInteger), .optional("eps", .number), .optional("elementwise_affine", .boolean)],
                  outputShape: { shape, l in
                      if let eps = l.double("eps"), eps < 0 { throw ModelSpecError(message: "eps must be non-negative, got \(eps)") }
                      let d = l.int("dims") ?? 1
                      guard d <= shape.count else {
                          throw ModelSpecError(message: "dims \(d) is more than the \(shape.count) axes of an example (shape \(shape))")
                      }
                      return shape
                  },
                  parameterCount: { shape, l in
                      (l.bool("elementwise_affine") ?? true) ? CheckedSize.product(2, Shape.count(Array(shape.suffix(Swift.min(l.int("dims") ?? 1, shape.count))))) : 0
                  },
                  build: { shape, l, _ in
                      LayerNorm(Array(shape.suffix(l.int("dims") ?? 1)), eps: l.double("eps") ?? 1e-5,
                                elementwiseAffine: l.bool("elementwise_affine") ?? true)
                  }),
        LayerType("groupnorm", typeName: "GroupNorm",
                  options: [.required("groups", .positiveInteger), .optional("eps", .number), .optional("affine", .boolean)],
                  outputShape: { shape, l in
                      if let eps = l.double("eps"), eps < 0 { throw ModelSpecError(message: "eps must be non-negative, got \(eps)") }
                      let g = l.int("groups")!
                      guard shape[0] % g == 0 else {
                          throw ModelSpecError(message: "groups \(g) do not divide the \(shape[0]) channels (input shape \(shape))")
                      }
                      return shape
                  },
                  parameterCount: { shape, l in (l.bool("affine") ?? true) ? CheckedSize.product(2, shape[0]) : 0 },
                  build: { shape, l, _ in GroupNorm(l.int("groups")!, shape[0], eps: l.double("eps") ?? 1e-5, affine: l.bool("affine") ?? true) }),
        LayerType("residual", typeName: "Residual", options: [.required("layers", .layers)],
                  outputShape: { shape, l in
                      let inner = l.layers("layers")!
                      let shapes = try ModelSpec.shapes(of: inner, input: shape, prefix: "layers ")
                      guard shapes.last == shape else {
                          throw ModelSpecError(message: "the body maps shape \(shape) to \(shapes.last ?? shape); a residual block must keep the shape")
                      }
                      return shape
                  },
                  parameterCount: { shape, l in ModelSpec.parameterCount(of: l.layers("layers")!, input: shape) },
                  build: { shape, l, g in Residual(ModelSpec.modules(of: l.layers("layers")!, input: shape, generator: g)) }),
    ]

    static let convOptions: [LayerOption] = [
        .required("out", .positiveInteger), .required("kernel", .sizes), .optional("in", .positiveInteger),
        .optional("stride", .sizes), .optional("padding", .padding), .optional("dilation", .sizes),
        .optional("groups", .positiveInteger), .optional("bias", .boolean),
    ]
    static let poolOptions: [LayerOption] = [.required("kernel", .sizes), .optional("stride", .sizes), .optional("padding", .padding)]
    static let batchNormOptions: [LayerOption] = [
        .optional("eps", .number), .optional("momentum", .number), .optional("affine", .boolean),
        .optional("track_running_stats", .boolean), .optional("in", .positiveInteger),
    ]

    static func expectRank(_ shape: [Int], _ rank: Int, _ layout: String) throws {
        guard shape.count == rank else { throw ModelSpecError(message: "expects inputs \(layout) per example, got \(shape)") }
    }

    static func checkFeatures(_ shape: [Int], _ l: LayerSpec) throws {
        if let eps = l.double("eps"), eps < 0 { throw ModelSpecError(message: "eps must be non-negative, got \(eps)") }
        if let declared = l.int("in"), declared != shape[0] {
            throw ModelSpecError(message: "declares in = \(declared) but the previous layer produces \(shape[0]) channels (shape \(shape))")
        }
    }

    /// The padding option of a layer (`0` when absent).
    static func padding(_ l: LayerSpec, dims: Int) -> ConvPadding {
        switch l.options["padding"] {
        case .string("same")?: return .same
        case .string("valid")?: return .valid
        case .int(let p)?: return .uniform(p)
        case .ints(let p)?: return p.count == 1 ? .uniform(p[0]) : .perAxis(p)
        default: return .valid
        }
    }

    static func convShape(_ shape: [Int], _ l: LayerSpec, dims: Int) throws -> [Int] {
        try expectRank(shape, dims + 1, dims == 2 ? "[C, H, W]" : "[C, L]")
        let c = shape[0], out = l.int("out")!, groups = l.int("groups") ?? 1
        if let declared = l.int("in"), declared != c {
            throw ModelSpecError(message: "declares in = \(declared) but the previous layer produces \(c) channels (shape \(shape))")
        }
        guard c % groups == 0, out % groups == 0 else {
            throw ModelSpecError(message: "groups \(groups) must divide the input channels \(c) and the output channels \(out)")
        }
        let kernel = try sized(l, "kernel", dims)!, stride = try sized(l, "stride", dims) ?? Array(repeating: 1, count: dims)
        let dilation = try sized(l, "dilation", dims) ?? Array(repeating: 1, count: dims)
        if case .ints(let p)? = l.options["padding"], p.count != 1 && p.count != dims {
            throw ModelSpecError(message: "padding \(p) needs 1 or \(dims) values")
        }
        if let p = l.sizes0("padding", count: dims) { try capped("padding", p) }
        let (pads, err) = padding(l, dims: dims).resolve(kernel: kernel, dilation: dilation, stride: stride)
        if let err { throw ModelSpecError(message: err) }
        var result = [out]
        for i in 0..<dims {
            let size = shape[1 + i]
            guard try fits(CheckedSize.sum(size, pads[i].0 + pads[i].1)) >= dilation[i] * (kernel[i] - 1) + 1 else {
                throw ModelSpecError(message: "kernel \(kernel) (dilation \(dilation)) is larger than the padded input \(Array(shape.dropFirst())) (padding \(padding(l, dims: dims)))")
            }
            result.append(convOutputSize(input: size, kernel: kernel[i], stride: stride[i], padBefore: pads[i].0, padAfter: pads[i].1, dilation: dilation[i]))
        }
        return result
    }

    static func convParameters(_ shape: [Int], _ l: LayerSpec, dims: Int) -> Int? {
        guard let k = l.sizes("kernel", count: dims), shape.count == dims + 1 else { return 0 }
        let out = l.int("out")!, g = Swift.max(l.int("groups") ?? 1, 1)
        var w: Int? = CheckedSize.product(out, shape[0] / g)
        for s in k { w = w.flatMap { CheckedSize.product($0, s) } }
        guard let weights = w else { return nil }
        return (l.bool("bias") ?? true) ? CheckedSize.sum(weights, out) : weights
    }

    static func convTransposeShape(_ shape: [Int], _ l: LayerSpec) throws -> [Int] {
        try expectRank(shape, 3, "[C, H, W]")
        let c = shape[0], out = l.int("out")!, groups = l.int("groups") ?? 1
        if let declared = l.int("in"), declared != c {
            throw ModelSpecError(message: "declares in = \(declared) but the previous layer produces \(c) channels (shape \(shape))")
        }
        guard c % groups == 0, out % groups == 0 else {
            throw ModelSpecError(message: "groups \(groups) must divide the input channels \(c) and the output channels \(out)")
        }
        for name in ["padding", "output_padding"] {
            if case .string(let s)? = l.options[name] { throw ModelSpecError(message: "\(name) '\(s)' is not available for a transposed convolution; give sizes") }
        }
        let kernel = try sized(l, "kernel", 2)!, stride = try sized(l, "stride", 2) ?? [1, 1]
        let dilation = try sized(l, "dilation", 2) ?? [1, 1]
        let pad = l.sizes0("padding", count: 2) ?? [0, 0], outPad = l.sizes0("output_padding", count: 2) ?? [0, 0]
        guard pad.count == 2, outPad.count == 2 else { throw ModelSpecError(message: "padding and output_padding need 1 or 2 values") }
        try capped("padding", pad)
        try capped("output_padding", outPad)
        var result = [out]
        for i in 0..<2 {
            guard outPad[i] < stride[i] || outPad[i] < dilation[i] else {
                throw ModelSpecError(message: "output_padding \(outPad) must be smaller than stride \(stride) or dilation \(dilation)")
            }
            let grown = try fits(CheckedSize.product(shape[1 + i] - 1, stride[i]))
            let size = try fits(CheckedSize.sum(grown, dilation[i] * (kernel[i] - 1) + outPad[i] + 1)) - 2 * pad[i]
            guard size > 0 else { throw ModelSpecError(message: "input \(Array(shape.dropFirst())) gives an empty output (padding \(pad) too large)") }
            result.append(size)
        }
        return result
    }

    static func poolShape(_ shape: [Int], _ l: LayerSpec, dims: Int) throws -> [Int] {
        try expectRank(shape, dims + 1, dims == 2 ? "[C, H, W]" : "[C, L]")
        if case .string(let s)? = l.options["padding"] { throw ModelSpecError(message: "padding '\(s)' is not available for pooling; give sizes") }
        let kernel = try sized(l, "kernel", dims)!, stride = try sized(l, "stride", dims) ?? kernel
        guard let pad = l.sizes0("padding", count: dims) ?? Optional(Array(repeating: 0, count: dims)), pad.count == dims else {
            throw ModelSpecError(message: "padding needs 1 or \(dims) values")
        }
        try capped("padding", pad)
        var result = [shape[0]]
        for i in 0..<dims {
            guard pad[i] * 2 <= kernel[i] else { throw ModelSpecError(message: "padding \(pad) must be at most half the kernel \(kernel)") }
            let o = convOutputSize(input: shape[1 + i], kernel: kernel[i], stride: stride[i], padBefore: pad[i], padAfter: pad[i])
            guard try fits(CheckedSize.sum(shape[1 + i], 2 * pad[i])) >= kernel[i], o >= 1 else {
                throw ModelSpecError(message: "kernel \(kernel) does not fit the input \(Array(shape.dropFirst())) (padding \(pad)): the pooled size reaches zero")
            }
            result.append(o)
        }
        return result
    }

    /// A `.sizes` option as `dims` values, checking the count.
    static func sized(_ l: LayerSpec, _ name: String, _ dims: Int) throws -> [Int]? {
        guard let v = l.sizes(name, count: dims) else { return nil }
        guard v.count == dims else { throw ModelSpecError(message: "\(name) \(v) needs 1 or \(dims) values") }
        try capped(name, v)
        return v
    }

    /// The largest kernel, stride, dilation, padding or scale an architecture may give
    /// (2²⁰): far beyond any real layer, and small enough that the shape arithmetic on
    /// them cannot overflow.
    static let maxWindow = 1 << 20

    static func capped(_ name: String, _ values: [Int]) throws {
        if let v = values.first(where: { $0 > maxWindow }) {
            throw ModelSpecError(message: "\(name) \(v) is larger than \(maxWindow)")
        }
    }

    /// `value`, or an error saying the sizes overflow.
    static func fits(_ value: Int?) throws -> Int {
        guard let v = value else { throw ModelSpecError(message: "the output size overflows 64 bits") }
        return v
    }
}

extension LayerSpec {
    /// A non-negative size option (padding) as `count` values; nil when absent or a name.
    func sizes0(_ name: String, count: Int) -> [Int]? {
        switch options[name] {
        case .int(let v)?: return Array(repeating: v, count: count)
        case .ints(let v)?: return v.count == 1 ? Array(repeating: v[0], count: count) : v
        default: return nil
        }
    }
}
