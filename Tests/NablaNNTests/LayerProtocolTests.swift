import XCTest
import NablaCore
@testable import NablaNN

/// A VAE encoder: one input, two outputs.
private final class GaussianEncoder: Module, Layer, @unchecked Sendable {
    typealias Input = Tensor
    typealias Output = (mean: Tensor, logVariance: Tensor)
    let hidden = Linear(3, 8, generator: RandomGenerator(seed: 1))
    let heads: (mean: Linear, logVariance: Linear) = (Linear(8, 2, generator: RandomGenerator(seed: 2)),
                                                       Linear(8, 2, generator: RandomGenerator(seed: 3)))
    func callAsFunction(_ x: Tensor) -> Output {
        let h = hidden(x).tanh()
        return (heads.mean(h), heads.logVariance(h))
    }
}

/// A recurrent cell: `(x, (h, c))` to `(h, c)`, as an LSTM cell's signature (the gates
/// are simplified: what matters here is the types and the parameter discovery).
private final class TinyCell: Module, Layer, @unchecked Sendable {
    typealias Input = (x: Tensor, state: (h: Tensor, c: Tensor))
    typealias Output = (h: Tensor, c: Tensor)
    let gates: [String: Linear] = ["input": Linear(2 + 4, 4, generator: RandomGenerator(seed: 4)),
                                   "forget": Linear(2 + 4, 4, generator: RandomGenerator(seed: 5))]
    func callAsFunction(_ input: Input) -> Output {
        let xh = Tensor.concatenate([input.x, input.state.h], axis: 1)
        let c = gates["forget"]!(xh).sigmoid() * input.state.c + gates["input"]!(xh).tanh()
        return (c.tanh(), c)
    }
}

/// Attention's signature: query, key, value and an optional additive mask.
private final class TinyAttention: Module, Layer, @unchecked Sendable {
    typealias Input = (query: Tensor, key: Tensor, value: Tensor, mask: Tensor?)
    typealias Output = Tensor
    let projection = Linear(4, 4, bias: false, generator: RandomGenerator(seed: 6))
    func callAsFunction(_ input: Input) -> Tensor {
        var scores = projection(input.query).matmul(input.key.transposed()) * 0.5
        if let m = input.mask { scores = scores + m }
        return scores.softmax(axis: -1).matmul(input.value)
    }
}

/// Any layer from a tensor to a tensor, generically.
private func applyTwice<L: UnaryLayer>(_ layer: L, _ x: Tensor) -> Tensor { layer(layer(x)) }

final class LayerProtocolTests: XCTestCase {
    func testAVAEEncoderReturnsTwoTensorsAndItsParametersAreFound() {
        let enc = GaussianEncoder()
        let out = enc(Tensor.randomNormal([5, 3], generator: RandomGenerator(seed: 9)))   // the layer's own call, not Module's
        XCTAssertEqual(out.mean.shape, [5, 2])
        XCTAssertEqual(out.logVariance.shape, [5, 2])
        XCTAssertEqual(enc.namedParameters().map(\.name),
                       ["hidden.weight", "hidden.bias", "heads.mean.weight", "heads.mean.bias",
                        "heads.logVariance.weight", "heads.logVariance.bias"])
        (out.mean.sum() + out.logVariance.sum()).backward()
        for (name, p) in enc.namedParameters() { XCTAssertNotNil(p.grad, name) }
        XCTAssertFalse(GaussianEncoder.isUnary)
        XCTAssertEqual(enc.nonUnarySignature, "Tensor -> (mean: Tensor, logVariance: Tensor)")
    }

    func testARecurrentCellTakesAndReturnsState() {
        let cell = TinyCell()
        var state = (h: Tensor.zeros([3, 4]), c: Tensor.zeros([3, 4]))
        let xs = Tensor.randomNormal([3, 5, 2], generator: RandomGenerator(seed: 7))
        for t in 0..<5 { state = cell((xs.slice(axis: 1, t, t + 1).reshaped([3, 2]), state)) }
        XCTAssertEqual(state.h.shape, [3, 4])
        XCTAssertEqual(cell.namedParameters().map(\.name), ["gates.forget.weight", "gates.forget.bias", "gates.input.weight", "gates.input.bias"])
        state.h.sum().backward()
        for (name, p) in cell.namedParameters() { XCTAssertNotNil(p.grad, name) }
    }

    func testAttentionTakesQueryKeyValueAndMask() {
        let attention = TinyAttention()
        let q = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 8))
        let v = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 9))
        // A mask of −∞ everywhere but the first key: every query then attends to key 0 only,
        // so the output is value row 0 for each query, whatever the scores (softmax of one
        // finite entry is 1).
        var m = [Float](repeating: -.infinity, count: 9)
        for i in 0..<3 { m[3 * i] = 0 }
        let out = attention((q, q, v, Tensor(m, shape: [3, 3])))
        XCTAssertEqual(out.shape, [2, 3, 4])
        let o = out.floats, vs = v.floats
        for b in 0..<2 { for i in 0..<3 { for d in 0..<4 { XCTAssertEqual(o[b * 12 + i * 4 + d], vs[b * 12 + d], accuracy: 1e-6) } } }
        XCTAssertEqual(attention((q, q, v, nil)).shape, [2, 3, 4])
    }

    func testUnaryLayersAreLayersOfTensorToTensor() {
        XCTAssertTrue(Linear.isUnary)
        XCTAssertTrue(Sequential.isUnary)
        XCTAssertNil(Linear(2, 2).nonUnarySignature)
        let model = Sequential { Linear(2, 2, generator: RandomGenerator(seed: 1)); ReLU() }
        XCTAssertEqual(applyTwice(model, Tensor.ones([1, 2])).shape, [1, 2])
        XCTAssertEqual(applyTwice(ReLU(), Tensor([-1.0, 2.0])).doubles, [0, 2])
    }
}
