import XCTest
import NablaCore
import _NablaTestSupport

/// Regression tests for defects found in review.
final class ReviewRegressionTests: XCTestCase {
    /// A new leaf owns its storage: updating the parameter in place leaves the tensor it
    /// was made from unchanged (value semantics of the original).
    func testRequiringGradDoesNotAliasItsSource() {
        let w0 = Tensor([1, 2, 3] as [Float])
        let w = w0.requiringGrad()
        w.assignInPlace(Tensor([7, 8, 9] as [Float]))
        XCTAssertEqual(w0.floats, [1, 2, 3])
        var v = Tensor([4, 5] as [Float]); let snapshot = v
        v.requiresGrad = true
        v.assignInPlace(Tensor([0, 0] as [Float]))
        XCTAssertEqual(snapshot.floats, [4, 5])
    }

    /// A generator restored from `state` after an odd number of normal draws continues
    /// with the same values as the original (the cached second variate is part of the state).
    func testGeneratorStateIncludesTheCachedNormal() {
        let g = RandomGenerator(seed: 3)
        _ = g.nextNormal()
        let saved = g.state
        XCTAssertEqual(saved.count, 6)
        let expected = (0..<5).map { _ in g.nextNormal() }
        let h = RandomGenerator(seed: 99)
        h.state = saved
        XCTAssertEqual((0..<5).map { _ in h.nextNormal() }, expected)
    }

    /// Padding with ±inf (max-pooling's pad) keeps the interior values exact.
    func testPadWithInfinity() {
        let x = Tensor([1.5, -2, 3e30] as [Double])
        let p = x.padded([(1, 2)], value: -.infinity)
        XCTAssertEqual(p.doubles, [-.infinity, 1.5, -2, 3e30, -.infinity, -.infinity])
        XCTAssertTrue(gradCheck([Tensor([0.3, -0.7, 1.1] as [Double])]) { $0[0].padded([(2, 1)], value: 5) }.passed)
    }

    /// d/dx x⁰ = 0 at x = 0, and d/db 0^b = 0 (PyTorch's conventions), not NaN.
    func testPowGradientsAtZero() {
        let x = Tensor([0.0, 2.0]).requiringGrad()
        x.pow(0).sum().backward()
        XCTAssertEqual(x.grad!.doubles, [0, 0])
        let base = Tensor([0.0, 2.0])
        let b = Tensor([2.0, 3.0]).requiringGrad()
        base.pow(b).sum().backward()
        // ∂(a^b)/∂b = a^b·ln a: 0 at a = 0, and 8·ln 2 at a = 2, b = 3.
        XCTAssertEqual(b.grad!.doubles[0], 0)
        XCTAssertEqual(b.grad!.doubles[1], 8 * Double.log(2), accuracy: 1e-12)
    }

    /// A scalar comparison works with the scalar on either side.
    func testScalarOnTheLeftOfComparisons() {
        let x = Tensor([1.0, 2.0, 3.0])
        XCTAssertEqual((2 .< x).doubles, [0, 0, 1])
        XCTAssertEqual((2 .>= x).doubles, [1, 1, 0])
        XCTAssertEqual((2 .== x).doubles, [0, 1, 0])
    }

    /// A linear map with zero input features gives the bias (and zeros without one).
    func testLinearWithNoInputFeatures() {
        let x = Tensor.zeros([3, 0]), w = Tensor.zeros([2, 0])
        XCTAssertEqual(x.linear(weight: w).floats, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(x.linear(weight: w, bias: Tensor([1, 2] as [Float])).floats, [1, 2, 1, 2, 1, 2])
    }

    /// Rows beyond 2²⁴ are selected exactly through a float64 index tensor (a float32 one
    /// traps: see ErrorMessageTests' float32IndexBeyondExact).
    func testIndexBeyondTwoToThe24() {
        let n = 16_777_219
        let table = Tensor((0..<n).map(Double.init), shape: [n, 1])
        let idx = Tensor([16_777_217, 16_777_218, 3] as [Double])
        XCTAssertEqual(table.indexSelect(axis: 0, idx).doubles, [16_777_217, 16_777_218, 3])
        XCTAssertEqual(table.gather(axis: 0, idx.reshaped([3, 1])).doubles, [16_777_217, 16_777_218, 3])
    }
}
