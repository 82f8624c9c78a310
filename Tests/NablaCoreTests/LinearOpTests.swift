import XCTest
import NablaCore
import _NablaTestSupport

/// The fused dense-layer op `linear(weight:bias:)`.
final class LinearOpTests: XCTestCase {
    func testGradCheckMatrixInput() {
        let g = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([4, 3], dtype: .float64, generator: g)
        let w = Tensor.randomNormal([5, 3], dtype: .float64, generator: g)
        let b = Tensor.randomNormal([5], dtype: .float64, generator: g)
        let r = gradCheck([x, w, b]) { t in t[0].linear(weight: t[1], bias: t[2]) }
        XCTAssertTrue(r.passed, r.description)
    }

    func testGradCheckBatchedInputWithoutBias() {
        let g = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 3, 4], dtype: .float64, generator: g)
        let w = Tensor.randomNormal([2, 4], dtype: .float64, generator: g)
        let r = gradCheck([x, w]) { t in t[0].linear(weight: t[1]) }
        XCTAssertTrue(r.passed, r.description)
    }

    /// Forward agrees with the unfused composition x·Wᵀ + b, in float32 (GEMM path).
    func testMatchesComposition() {
        let g = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([33, 17], generator: g)
        let w = Tensor.randomNormal([9, 17], generator: g)
        let b = Tensor.randomNormal([9], generator: g)
        XCTAssertTrue(allClose(x.linear(weight: w, bias: b), x.matmul(w.transposed()) + b, rtol: 1e-5, atol: 1e-5))
    }
}

/// The fused squared-error op behind `Loss.mse`.
final class SquaredErrorOpTests: XCTestCase {
    func testGradCheck() {
        let g = RandomGenerator(seed: 11)
        let p = Tensor.randomNormal([3, 4], dtype: .float64, generator: g)
        let t = Tensor.randomNormal([3, 4], dtype: .float64, generator: g)
        let r = gradCheck([p]) { xs in xs[0].squaredErrorSum(t, scale: 0.25) }
        XCTAssertTrue(r.passed, r.description)
    }

    /// Equals the unfused composition mean((p − t)²), by definition of the mean.
    func testMatchesComposition() {
        let g = RandomGenerator(seed: 12)
        let p = Tensor.randomNormal([5, 7], generator: g), t = Tensor.randomNormal([5, 7], generator: g)
        XCTAssertEqual(p.squaredErrorSum(t, scale: 1.0 / 35).item(), ((p - t) * (p - t)).mean().item(), accuracy: 1e-6)
    }
}
