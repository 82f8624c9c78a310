import Foundation
import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// Attention layers beyond the PyTorch references: causality, the key/value cache against
/// the full pass, positional tables, the encoder's copies, and the messages for bad input.
final class AttentionLayerTests: XCTestCase {
    func gpt(normFirst: Bool, learned: Bool = true) -> Sequential {
        let g = RandomGenerator(seed: 5)
        let layers = (0..<2).map { _ in
            TransformerEncoderLayer(dModel: 8, nHead: 2, dimFeedforward: 16, dropout: 0.1, activation: .gelu, batchFirst: true,
                                    normFirst: normFirst, causal: true, dtype: .float64, generator: g)
        }
        return Sequential([Embedding(11, 8, dtype: .float64, generator: g),
                           PositionalEncoding(learned ? .learned : .sinusoidal, maxLength: 20, dimension: 8, dtype: .float64, generator: g),
                           TransformerEncoder(layers: layers, causal: true), LayerNorm([8], dtype: .float64),
                           Linear(8, 11, dtype: .float64, generator: g)]).eval()
    }

    func tokens(_ values: [Int]) -> Tensor { Tensor(values.map(Double.init), shape: [1, values.count]) }

    func testCausalOutputsDoNotSeeTheFuture() {
        for normFirst in [true, false] {
            let model = gpt(normFirst: normFirst)
            let a = model(tokens([1, 2, 3, 4, 5, 6, 7])), b = model(tokens([1, 2, 3, 4, 9, 0, 10]))
            // Positions 0…3 are equal; position 4 differs (its own token changed).
            XCTAssertTrue(allClose(a.narrow(axis: 1, start: 0, length: 4), b.narrow(axis: 1, start: 0, length: 4), rtol: 1e-12, atol: 1e-12))
            XCTAssertFalse(allClose(a.narrow(axis: 1, start: 4, length: 1), b.narrow(axis: 1, start: 4, length: 1)))
        }
    }

    func testTheKeyValueCacheGivesTheFullPassRowByRow() {
        for normFirst in [true, false] {
            for learned in [true, false] {
                let model = gpt(normFirst: normFirst, learned: learned)
                let seq = [3, 1, 4, 1, 5, 9, 2, 6, 5]
                let full = withoutGrad { model(tokens(seq)) }
                let encoder = model.layers[2] as! TransformerEncoder
                let pe = model.layers[1] as! PositionalEncoding
                let caches = encoder.layers.map { _ in AttentionCache() }
                // A prompt of 3, then one token at a time, then 2 at once (a masked block after a prefix).
                var position = 0
                var rows: [Tensor] = []
                for chunk in [[3, 1, 4], [1], [5], [9], [2], [6, 5]] {
                    var h = withoutGrad { pe.forward(model.layers[0](tokens(chunk)), start: position) }
                    h = withoutGrad { encoder.forwardIncrementally(h, caches: caches) }
                    h = withoutGrad { model.layers[4](model.layers[3](h)) }
                    rows.append(h)
                    position += chunk.count
                }
                XCTAssertEqual(caches[0].count, seq.count)
                let stepwise = Tensor.concatenate(rows, axis: 1)
                XCTAssertTrue(allClose(stepwise, full, rtol: 1e-10, atol: 1e-10), "normFirst \(normFirst), learned \(learned)")
            }
        }
    }

    func testSinusoidalTableByHand() {
        // dim 4: pe[pos, 0] = sin(pos), pe[pos, 1] = cos(pos), pe[pos, 2] = sin(pos/100), pe[pos, 3] = cos(pos/100)
        // (10000^(−2/4) = 1/100).
        let pe = PositionalEncoding.sinusoids(3, 4).doubles
        let expected: [Double] = [0, 1, 0, 1, Foundation.sin(1.0), Foundation.cos(1.0), Foundation.sin(0.01), Foundation.cos(0.01), Foundation.sin(2.0), Foundation.cos(2.0), Foundation.sin(0.02), Foundation.cos(0.02)]
        for (a, b) in zip(pe, expected) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        // The table grows past max_len for a sinusoidal encoding.
        let p = PositionalEncoding(.sinusoidal, maxLength: 2, dimension: 4, dtype: .float64)
        let y = p(Tensor.zeros([1, 3, 4], dtype: .float64))
        for (a, b) in zip(y.doubles[8..<12], expected[8..<12]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        XCTAssertTrue(p.namedParameters().isEmpty && p.namedBuffers().isEmpty, "no state-dict entry for the sinusoidal table")
    }

    func testPositionalEncodingGradients() {
        let p = PositionalEncoding(.learned, maxLength: 6, dimension: 3, dtype: .float64, generator: RandomGenerator(seed: 2))
        let x = Tensor.randomNormal([2, 4, 3], dtype: .float64).requiringGrad()
        let result = gradCheck([x, p.weight!]) { _ in p(x) }
        XCTAssertTrue(result.passed, "\(result)")
        // Rows past the sequence get no gradient; the others the sum over the batch.
        p.zeroGrad()
        p(x).sum().backward()
        XCTAssertEqual(p.weight!.grad!.doubles, [Double](repeating: 2, count: 12) + [Double](repeating: 0, count: 6))
    }

    func testEncoderCopiesStartEqualAndAreIndependent() throws {
        let layer = TransformerEncoderLayer(dModel: 8, nHead: 2, dimFeedforward: 16, batchFirst: true)
        let encoder = TransformerEncoder(layer, numLayers: 3)
        let names = encoder.namedParameters().map(\.name)
        XCTAssertEqual(names.count, 36)
        XCTAssertTrue(names.contains("layers.2.self_attn.in_proj_weight") && names.contains("layers.1.norm2.bias"))
        let w0 = encoder.layers[0].selfAttn.inProjWeight, w2 = encoder.layers[2].selfAttn.inProjWeight
        XCTAssertEqual(w0.doubles, w2.doubles)
        w2.assignInPlace(w2 * 2)
        XCTAssertNotEqual(w0.doubles, w2.doubles)
    }

    func testNoBiasDropsTheNormShiftsToo() throws {
        // PyTorch's TransformerEncoderLayer(bias=False) has no bias anywhere, its layer norms
        // included: the six weights only.
        let layer = TransformerEncoderLayer(dModel: 8, nHead: 2, dimFeedforward: 16, bias: false)
        XCTAssertEqual(layer.namedParameters().map(\.name).sorted(),
                       ["linear1.weight", "linear2.weight", "norm1.weight", "norm2.weight", "self_attn.in_proj_weight", "self_attn.out_proj.weight"])
        // The architecture's count agrees with the model's, with and without biases:
        // with: 4·8² + 4·8 + 2·8·16 + 16 + 8 + 4·8 = 256 + 32 + 256 + 24 + 32 = 600;
        // without: 4·8² + 2·8·16 + 2·8 = 256 + 256 + 16 = 528.
        for (bias, expected) in [(true, 600), (false, 528)] {
            let spec = ModelSpec(input: [5, 8], layers: [LayerSpec("transformer_encoder", ["heads": 2, "ff": 16, "bias": .bool(bias)])])
            XCTAssertEqual(try spec.parameterCount(), expected)
            XCTAssertEqual(try spec.build().parameterCount, expected)
        }
    }

    func testMultiheadAttentionNamesPyTorchsParametersAndInitialisesThem() {
        let mha = MultiheadAttention(embedDim: 12, numHeads: 3)
        XCTAssertEqual(mha.namedParameters().map(\.name), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        // Xavier-uniform over [36, 12]: bound √(6/48) = 0.354; biases 0.
        let bound = (6.0 / 48).squareRoot()
        XCTAssertTrue(mha.inProjWeight.doubles.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(mha.inProjWeight.doubles.map(abs).max()!, 0.9 * bound)
        XCTAssertEqual(Set(mha.inProjBias!.doubles), [0])
        XCTAssertEqual(Set(mha.outProj.bias!.doubles), [0])
    }

    func testBadInputIsNamed() throws {
        let mha = MultiheadAttention(embedDim: 8, numHeads: 2, batchFirst: true)
        let x = Tensor.zeros([2, 5, 8])
        XCTAssertEqual(mha.validate(x, x, x, attnMask: Tensor.zeros([5, 4])),
                       "MultiheadAttention: attnMask of shape [5, 4] does not match [L, S] = [5, 5] or [B·heads, L, S] = [4, 5, 5]")
        XCTAssertEqual(mha.validate(x, x, x, keyPaddingMask: Tensor.zeros([2, 6])),
                       "MultiheadAttention: keyPaddingMask of shape [2, 6] does not match [B, S] = [2, 5]")
        XCTAssertEqual(mha.validate(x, Tensor.zeros([2, 5, 6]), x),
                       "MultiheadAttention: key of shape [2, 5, 6] does not match embedDim 8 and the query's shape [2, 5, 8]")
        let p = PositionalEncoding(.learned, maxLength: 4, dimension: 8)
        XCTAssertEqual(p.validateInput(x), "PositionalEncoding: the sequence has 5 steps but the learned positional table has max_len 4")
        let e = Embedding(10, 4)
        XCTAssertEqual(e.validateInput(Tensor([1.0, 2, 3, 4, 12, 5], shape: [2, 3])),
                       "Embedding: index 12.0 at example 1, position 1 of the input (shape [2, 3]) is not an integer in 0..<10")
        // In an architecture, the layer is named.
        let bad = ModelSpec(input: [10], layers: [LayerSpec("embedding", ["vocab": 5, "dim": 30]),
                                                  LayerSpec("transformer_encoder", ["heads": 4])])
        XCTAssertThrowsError(try bad.outputShape()) { error in
            XCTAssertTrue("\(error)".contains("layer 1 (transformer_encoder): d_model 30 is not divisible by heads 4"), "\(error)")
        }
        let long = ModelSpec(input: [10], layers: [LayerSpec("embedding", ["vocab": 5, "dim": 8]),
                                                   LayerSpec("positional_encoding", ["kind": "learned", "max_len": 6])])
        XCTAssertThrowsError(try long.outputShape()) { error in
            XCTAssertTrue("\(error)".contains("layer 1 (positional_encoding): the input has 10 steps but the learned positional table has max_len 6"), "\(error)")
        }
    }

    func testSequenceClassifierTrainsOnAToyTask() {
        // Whether a sequence holds more ones than zeros: needs every position, so attention
        // and the mean pool must work together.
        let g = RandomGenerator(seed: 3)
        let model = Sequential([Linear(1, 16, generator: g), PositionalEncoding(.sinusoidal, maxLength: 9, dimension: 16),
                                TransformerEncoder(layers: [TransformerEncoderLayer(dModel: 16, nHead: 2, dimFeedforward: 32, dropout: 0,
                                                                                    batchFirst: true, normFirst: true, generator: g)]),
                                Mean(axis: 1), Linear(16, 2, generator: g)])
        let opt = Adam(model.parameters(), lr: 0.02)
        var xs: [Float] = [], ys: [Int64] = []
        for _ in 0..<128 {
            let bits = (0..<9).map { _ in Float(g.nextInt(below: 2)) }
            xs += bits
            ys.append(bits.reduce(0, +) > 4.5 ? 1 : 0)
        }
        let x = Tensor(xs, shape: [128, 9, 1]), y = Tensor(ys, shape: [128])
        for _ in 0..<60 {
            opt.zeroGrad()
            Loss.crossEntropy(logits: model(x), classIndices: y).backward()
            opt.step()
        }
        let predicted = model.eval()(x).argmax(axis: 1).int64s
        let accuracy = Double(zip(predicted, ys).filter { $0 == $1 }.count) / 128
        XCTAssertGreaterThan(accuracy, 0.95)
    }
}
