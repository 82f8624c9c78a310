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
        opt.step()
        XCTAssertEqual(model.encoder.floats, model.decoder.floats)
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
