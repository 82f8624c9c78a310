import XCTest
import NablaCore
import NablaNN

/// A parameter shared by two places of a model is one parameter.
final class TiedWeightTests: XCTestCase {
    /// Holds one weight under two names (an encoder and its tied decoder).
    final class Tied: Module, @unchecked Sendable {
        let encoder: Tensor
        let decoder: Tensor
        override init() {
            let w = Tensor.ones([3, 4]).requiringGrad()
            encoder = w; decoder = w
            super.init()
        }
        override func forward(_ x: Tensor) -> Tensor { x.linear(weight: encoder).matmul(decoder) }
    }

    func testTiedTensorIsOneParameter() {
        let model = Tied()
        XCTAssertEqual(model.namedParameters().map(\.name), ["encoder", "decoder"], "both names stay in the state")
        XCTAssertEqual(model.parameters().count, 1, "the optimizer sees the tensor once")
        XCTAssertEqual(model.parameterCount, 12)
        let opt = SGD(model.parameters(), lr: 0.1)   // would trap on a duplicate
        model(Tensor.ones([2, 4])).sum().backward()
        // By hand, x = 1 [2×4], W = 1 [3×4], f = Σ x·Wᵀ·W: A = x·Wᵀ is 4 everywhere and
        // ∂f/∂A = 1·Wᵀ is 4 everywhere. Through the encoder, ∂f/∂W = (∂f/∂A)ᵀ·x = 8 per
        // entry; through the decoder, ∂f/∂W = Aᵀ·1 = 8 per entry. Tied: 16 (untied: 8 each).
        XCTAssertEqual(model.encoder.grad?.floats, [Float](repeating: 16, count: 12))
        opt.step()
        // One SGD step of 0.1: 1 − 0.1·16 = −0.6 in every entry, seen through both names.
        for (a, b) in zip(model.encoder.floats, model.decoder.floats) {
            XCTAssertEqual(a, -0.6, accuracy: 1e-6)
            XCTAssertEqual(b, -0.6, accuracy: 1e-6)
        }
    }

    /// The same layer used twice in a Sequential appears once (as PyTorch's
    /// `named_parameters()`), under its first position.
    func testReusedLayerIsListedOnce() {
        let shared = Linear(4, 4)
        let model = Sequential([shared, ReLU(), shared])
        XCTAssertEqual(model.namedParameters().map(\.name), ["layers.0.weight", "layers.0.bias"])
        XCTAssertEqual(model.parameters().count, 2)
    }
}
