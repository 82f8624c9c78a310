import XCTest
import NablaCore
import NablaNN
import _NablaTestSupport

/// Gradient checks for branches the main suites do not reach.
final class GradientGapTests: XCTestCase {
    /// Softplus above its threshold is the identity (slope 1), below it the smooth branch,
    /// and far below it the stable form for large negative inputs.
    func testSoftplusAllBranches() {
        let x = Tensor([25.0, 21.0, 0.3, -1.7, -40.0])
        let r = gradCheck([x]) { $0[0].softplus(beta: 1, threshold: 20) }
        XCTAssertTrue(r.passed, r.description)
        let r2 = gradCheck([x]) { $0[0].softplus(beta: 2, threshold: 20) }
        XCTAssertTrue(r2.passed, r2.description)
    }

    /// `where` with ±inf on the unselected side: finite values and finite gradients.
    func testWhereWithInfiniteUnselectedSide() {
        let mask = Tensor([1.0, 0.0, 1.0])
        let other = Tensor([Double.infinity, 2.0, -Double.infinity])
        let r = gradCheck([Tensor([0.5, -1.0, 2.0])]) { Tensor.where(mask, $0[0], other) }
        XCTAssertTrue(r.passed, r.description)
    }

    /// The penalties' gradients, derived by hand: ∂(Σw²)/∂w = 2w and ∂(Σ|w|)/∂w = sign(w).
    func testPenaltyGradients() {
        let w = Tensor([[0.5, -2.0], [1.5, -0.25]])
        let b = Tensor([0.75, -1.0])
        let layer = Linear(weight: w, bias: b)
        Loss.l2Penalty(layer).backward()
        XCTAssertEqual(layer.weight.grad!.doubles, [1.0, -4.0, 3.0, -0.5])
        XCTAssertEqual(layer.bias!.grad!.doubles, [1.5, -2.0])
        layer.zeroGrad()
        Loss.l1Penalty(layer).backward()
        XCTAssertEqual(layer.weight.grad!.doubles, [1, -1, 1, -1])
        XCTAssertEqual(layer.bias!.grad!.doubles, [1, -1])
    }
}
