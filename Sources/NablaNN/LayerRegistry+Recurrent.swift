import NablaCore

/// The registry entries of recurrent layers and embeddings.
///
/// A recurrent layer takes per-example sequences `[steps, features]` (the batch axis comes
/// first, as PyTorch's `batch_first=True`) and gives `[steps, D·hidden]`, or `[D·hidden]`
/// with `return: last`. Its weights are PyTorch's `weight_ih_l0`, … under the layer's index.
/// An embedding maps per-example token indices of any shape to `shape + [dim]`.
extension LayerRegistry {
    /// Hidden sizes, layer counts and vocabularies are capped so that parameter arithmetic
    /// cannot overflow and a typo cannot ask for terabytes.
    static let maxRecurrentSize = 1 << 20

    static func recurrentOptions(_ extra: [LayerOption] = []) -> [LayerOption] {
        [.required("hidden", .positiveInteger), .optional("in", .positiveInteger), .optional("layers", .positiveInteger),
         .optional("bidirectional", .boolean), .optional("dropout", .probability),
         .optional("return", .choice(RecurrentOutput.allCases.map(\.rawValue))), .optional("bias", .boolean)] + extra
    }

    static func recurrentShape(_ shape: [Int], _ l: LayerSpec) throws -> [Int] {
        guard shape.count == 2 else {
            throw ModelSpecError(message: "expects sequences [steps, features] per example, got shape \(shape)"
                                 + (shape.count == 1 ? "; an embedding or a reshape before it makes one" : ""))
        }
        if let declared = l.int("in"), declared != shape[1] {
            throw ModelSpecError(message: "declares in = \(declared) but its input has \(shape[1]) features per step (shape \(shape))")
        }
        let hidden = l.int("hidden")!, layers = l.int("layers") ?? 1
        for (name, v) in [("hidden", hidden), ("layers", layers)] where v > maxRecurrentSize {
            throw ModelSpecError(message: "\(name) \(v) is larger than \(maxRecurrentSize)")
        }
        let width = hidden * ((l.bool("bidirectional") ?? false) ? 2 : 1)
        return (l.string("return") ?? "sequence") == "last" ? [width] : [shape[0], width]
    }

    static func recurrentParameters(_ shape: [Int], _ l: LayerSpec, gates: Int) -> Int? {
        guard shape.count == 2 else { return 0 }
        let h = l.int("hidden")!, layers = l.int("layers") ?? 1, d = (l.bool("bidirectional") ?? false) ? 2 : 1
        let bias = l.bool("bias") ?? true
        guard let gh = CheckedSize.product(gates, h) else { return nil }
        var total = 0
        for layer in 0..<layers {
            let inputs = layer == 0 ? shape[1] : h * d
            guard let wih = CheckedSize.product(gh, inputs), let whh = CheckedSize.product(gh, h),
                  var one = CheckedSize.sum(wih, whh) else { return nil }
            if bias { guard let b = CheckedSize.sum(one, 2 * gh) else { return nil }; one = b }
            guard let all = CheckedSize.product(one, d), let t = CheckedSize.sum(total, all) else { return nil }
            total = t
        }
        return total
    }

    static func buildRecurrent(_ shape: [Int], _ l: LayerSpec, _ g: RandomGenerator, cell: RecurrentCell) -> Module {
        let h = l.int("hidden")!, layers = l.int("layers") ?? 1
        let bi = l.bool("bidirectional") ?? false, p = l.double("dropout") ?? 0, bias = l.bool("bias") ?? true
        let output = RecurrentOutput(rawValue: l.string("return") ?? "sequence") ?? .sequence
        switch cell {
        case .lstm:
            return LSTM(shape[1], h, numLayers: layers, bias: bias, batchFirst: true, dropout: p, bidirectional: bi, output: output, generator: g)
        case .gru:
            return GRU(shape[1], h, numLayers: layers, bias: bias, batchFirst: true, dropout: p, bidirectional: bi, output: output, generator: g)
        case .rnnTanh, .rnnReLU:
            return RNN(shape[1], h, numLayers: layers, nonlinearity: cell == .rnnReLU ? .relu : .tanh, bias: bias, batchFirst: true,
                       dropout: p, bidirectional: bi, output: output, generator: g)
        }
    }

    static let recurrentTypes: [LayerType] = [
        LayerType("lstm", typeName: "LSTM", options: recurrentOptions(),
                  outputShape: { shape, l in try recurrentShape(shape, l) },
                  parameterCount: { shape, l in recurrentParameters(shape, l, gates: 4) },
                  build: { shape, l, g in buildRecurrent(shape, l, g, cell: .lstm) }),
        LayerType("gru", typeName: "GRU", options: recurrentOptions(),
                  outputShape: { shape, l in try recurrentShape(shape, l) },
                  parameterCount: { shape, l in recurrentParameters(shape, l, gates: 3) },
                  build: { shape, l, g in buildRecurrent(shape, l, g, cell: .gru) }),
        LayerType("rnn", typeName: "RNN", options: recurrentOptions([.optional("nonlinearity", .choice(RNNNonlinearity.allCases.map(\.rawValue)))]),
                  outputShape: { shape, l in try recurrentShape(shape, l) },
                  parameterCount: { shape, l in recurrentParameters(shape, l, gates: 1) },
                  build: { shape, l, g in
                      buildRecurrent(shape, l, g, cell: l.string("nonlinearity") == "relu" ? .rnnReLU : .rnnTanh)
                  }),
        LayerType("embedding", typeName: "Embedding",
                  options: [.required("vocab", .positiveInteger), .required("dim", .positiveInteger)],
                  outputShape: { shape, l in
                      for (name, v) in [("vocab", l.int("vocab")!), ("dim", l.int("dim")!)] where v > maxRecurrentSize * 16 {
                          throw ModelSpecError(message: "\(name) \(v) is larger than \(maxRecurrentSize * 16)")
                      }
                      return shape + [l.int("dim")!]
                  },
                  parameterCount: { _, l in CheckedSize.product(l.int("vocab")!, l.int("dim")!) },
                  build: { _, l, g in Embedding(l.int("vocab")!, l.int("dim")!, generator: g) }),
    ]
}
