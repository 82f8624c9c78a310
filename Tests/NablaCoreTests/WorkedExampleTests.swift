import XCTest
import NablaCore
import _NablaTestSupport

/// The worked examples from the lecture notes, derived by hand.
final class WorkedExampleTests: XCTestCase {
    /// f(x, y, z) = (x + y)·z at x = −2, y = 5, z = −4.
    /// By hand: q = x + y = 3, f = q·z = −12; ∂f/∂z = q = 3, ∂f/∂q = z = −4, and
    /// ∂q/∂x = ∂q/∂y = 1, so ∂f/∂x = ∂f/∂y = −4.
    func testAddMultiplyCircuit() {
        let x = Tensor(-2.0).requiringGrad(), y = Tensor(5.0).requiringGrad(), z = Tensor(-4.0).requiringGrad()
        let f = (x + y) * z
        XCTAssertEqual(f.item(), -12)
        f.backward()
        XCTAssertEqual(x.grad!.item(), -4)
        XCTAssertEqual(y.grad!.item(), -4)
        XCTAssertEqual(z.grad!.item(), 3)
    }

    /// The neuron σ(w0·x0 + w1·x1 + w2) at w = (2, −3, −3), x = (−1, −2).
    /// By hand: the pre-activation is −2 + 6 − 3 = 1, σ(1) = 0.7311,
    /// dσ/dz = σ(1)(1 − σ(1)) = 0.1966, so ∂f/∂w0 = x0·0.1966 = −0.1966,
    /// ∂f/∂w1 = x1·0.1966 = −0.3932, ∂f/∂w2 = 0.1966, ∂f/∂x0 = w0·0.1966 = 0.3932,
    /// ∂f/∂x1 = w1·0.1966 = −0.5898.
    func testSigmoidNeuron() {
        let w = Tensor([2.0, -3.0, -3.0]).requiringGrad()
        let x = Tensor([-1.0, -2.0]).requiringGrad()
        let f = (w[0] * x[0] + w[1] * x[1] + w[2]).sigmoid()
        XCTAssertEqual(f.item(), 0.7310585786, accuracy: 1e-9)
        f.backward()
        let g = w.grad!.doubles
        XCTAssertEqual(g[0], -0.19661193324, accuracy: 1e-9)
        XCTAssertEqual(g[1], -0.39322386648, accuracy: 1e-9)
        XCTAssertEqual(g[2], 0.19661193324, accuracy: 1e-9)
        XCTAssertEqual(x.grad!.doubles[0], 0.39322386648, accuracy: 1e-9)
        XCTAssertEqual(x.grad!.doubles[1], -0.58983579972, accuracy: 1e-9)
    }
}
