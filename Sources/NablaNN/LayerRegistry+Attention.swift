import NablaCore

/// The registry entries of attention layers: positional encodings, transformer encoders
/// and the mean that pools a sequence.
///
/// They take per-example sequences `[steps, features]` (the batch axis first, as PyTorch's
/// `batch_first=True`). A `transformer_encoder`'s weights are PyTorch's
/// `layers.0.self_attn.in_proj_weight`, … under the layer's index, so a PyTorch
/// `nn.TransformerEncoder` state dict loads as it is.
extension LayerRegistry {
    static func sequenceShape(_ shape: [Int]) throws {
        guard shape.count == 2 else {
            throw ModelSpecError(message: "expects sequences [steps, features] per example, got shape \(shape)"
                                 + (shape.count == 1 ? "; an embedding before it makes one from token indices" : ""))
        }
    }

    static func encoderParameters(_ d: Int, _ l: LayerSpec) -> Int? {
        let ff = l.int("ff") ?? 2048, layers = l.int("layers") ?? 1, bias = l.bool("bias") ?? true
        guard let dd = CheckedSize.product(d, d), let attn = CheckedSize.product(4, dd), let f = CheckedSize.product(d, ff),
              let ffw = CheckedSize.product(2, f) else { return nil }
        var one = attn + ffw + 2 * d                       // in/out projections, feed-forward, two norms' scales
        if bias { one += 4 * d + ff + d + 2 * d }          // in_proj 3d + out_proj d, linear1 ff, linear2 d, two norms' shifts
        guard var total = CheckedSize.product(one, layers) else { return nil }
        if l.bool("norm") ?? false { total += 2 * d }
        return total
    }

    static let attentionTypes: [LayerType] = [
        LayerType("positional_encoding", typeName: "PositionalEncoding",
                  options: [.optional("kind", .choice(PositionalEncodingKind.allCases.map(\.rawValue))),
                            .optional("max_len", .positiveInteger), .optional("dropout", .probability)],
                  outputShape: { shape, l in
                      try sequenceShape(shape)
                      let maxLen = l.int("max_len") ?? 5000
                      if maxLen > maxRecurrentSize { throw ModelSpecError(message: "max_len \(maxLen) is larger than \(maxRecurrentSize)") }
                      if l.string("kind") == "learned" && shape[0] > maxLen {
                          throw ModelSpecError(message: "the input has \(shape[0]) steps but the learned positional table has max_len \(maxLen)")
                      }
                      return shape
                  },
                  parameterCount: { shape, l in
                      l.string("kind") == "learned" && shape.count == 2 ? CheckedSize.product(l.int("max_len") ?? 5000, shape[1]) : 0
                  },
                  build: { shape, l, g in
                      PositionalEncoding(PositionalEncodingKind(rawValue: l.string("kind") ?? "sinusoidal") ?? .sinusoidal,
                                         maxLength: l.int("max_len") ?? 5000, dimension: shape[1], dropout: l.double("dropout") ?? 0,
                                         generator: g)
                  }),
        LayerType("transformer_encoder", typeName: "TransformerEncoder",
                  options: [.optional("d_model", .positiveInteger), .required("heads", .positiveInteger),
                            .optional("ff", .positiveInteger), .optional("layers", .positiveInteger),
                            .optional("dropout", .probability), .optional("activation", .choice(TransformerActivation.allCases.map(\.rawValue))),
                            .optional("norm_first", .boolean), .optional("eps", .number), .optional("causal", .boolean),
                            .optional("norm", .boolean), .optional("bias", .boolean)],
                  outputShape: { shape, l in
                      try sequenceShape(shape)
                      let d = shape[1], heads = l.int("heads")!
                      if let declared = l.int("d_model"), declared != d {
                          throw ModelSpecError(message: "declares d_model = \(declared) but its input has \(d) features per step (shape \(shape))")
                      }
                      guard d % heads == 0 else {
                          throw ModelSpecError(message: "d_model \(d) is not divisible by heads \(heads)")
                      }
                      for (name, v) in [("ff", l.int("ff") ?? 2048), ("layers", l.int("layers") ?? 1), ("d_model", d)] where v > maxRecurrentSize {
                          throw ModelSpecError(message: "\(name) \(v) is larger than \(maxRecurrentSize)")
                      }
                      if let eps = l.double("eps"), eps < 0 { throw ModelSpecError(message: "eps must be non-negative, got \(eps)") }
                      return shape
                  },
                  parameterCount: { shape, l in shape.count == 2 ? encoderParameters(shape[1], l) : 0 },
                  build: { shape, l, g in
                      let d = shape[1]
                      let layers = (0..<(l.int("layers") ?? 1)).map { _ in
                          TransformerEncoderLayer(dModel: d, nHead: l.int("heads")!, dimFeedforward: l.int("ff") ?? 2048,
                                                  dropout: l.double("dropout") ?? 0.1,
                                                  activation: TransformerActivation(rawValue: l.string("activation") ?? "relu") ?? .relu,
                                                  layerNormEps: l.double("eps") ?? 1e-5, batchFirst: true,
                                                  normFirst: l.bool("norm_first") ?? false, bias: l.bool("bias") ?? true,
                                                  causal: l.bool("causal") ?? false, generator: g)
                      }
                      return TransformerEncoder(layers: layers, norm: (l.bool("norm") ?? false) ? LayerNorm([d], eps: l.double("eps") ?? 1e-5) : nil,
                                                causal: l.bool("causal") ?? false)
                  }),
        LayerType("mean", typeName: "Mean", options: [.optional("axis", .integer)],
                  outputShape: { shape, l in
                      let axis = l.int("axis") ?? 0
                      let a = axis < 0 ? axis + shape.count : axis
                      guard a >= 0 && a < shape.count else {
                          throw ModelSpecError(message: "axis \(axis) is not an axis of an example of shape \(shape)")
                      }
                      var out = shape
                      out.remove(at: a)
                      return out
                  },
                  build: { shape, l, _ in
                      let axis = l.int("axis") ?? 0
                      return Mean(axis: (axis < 0 ? axis + shape.count : axis) + 1)
                  }),
    ]
}
