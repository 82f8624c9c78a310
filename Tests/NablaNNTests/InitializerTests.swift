import XCTest
import NablaCore
@testable import NablaNN

/// Initialisers: statistics over large draws, orthogonality, reproducibility.
final class InitializerTests: XCTestCase {
    func stats(_ t: Tensor) -> (mean: Double, std: Double) {
        (t.mean().item(), t.to(.float64).standardDeviation().item())
    }

    func testConstantAndZeros() {
        XCTAssertEqual(Initializers.zeros([2, 3]).doubles, [Double](repeating: 0, count: 6))
        XCTAssertEqual(Initializers.constant([4], 0.25, dtype: .float64).doubles, [0.25, 0.25, 0.25, 0.25])
    }

    func testFansAndGains() {
        XCTAssertTrue(Initializers.fans([300, 400]) == (400, 300))
        XCTAssertTrue(Initializers.fans([16, 3, 5, 5]) == (75, 400))
        XCTAssertEqual(Initializers.gain(.relu), 2.0.squareRoot())
        XCTAssertEqual(Initializers.gain(.tanh), 5.0 / 3)
        XCTAssertEqual(Initializers.gain(.leakyReLU(negativeSlope: 5.0.squareRoot())), (1.0 / 3).squareRoot(), accuracy: 1e-15)
    }

    func testDistributions() {
        let g = RandomGenerator(seed: 11)
        let shape = [300, 200]   // fanIn 200, fanOut 300
        var (m, s) = stats(Initializers.uniform(shape, low: -2, high: 4, generator: g))
        XCTAssertEqual(m, 1, accuracy: 0.03); XCTAssertEqual(s, 6 / 12.0.squareRoot(), accuracy: 0.02)
        (m, s) = stats(Initializers.normal(shape, mean: 3, std: 0.5, generator: g))
        XCTAssertEqual(m, 3, accuracy: 0.01); XCTAssertEqual(s, 0.5, accuracy: 0.01)
        (m, s) = stats(Initializers.xavierUniform(shape, generator: g))
        XCTAssertEqual(m, 0, accuracy: 0.003); XCTAssertEqual(s, (2 / 500.0).squareRoot(), accuracy: 0.001)
        XCTAssertLessThanOrEqual(Initializers.xavierUniform(shape, generator: g).abs().max().item(), (6 / 500.0).squareRoot() + 1e-6)
        (m, s) = stats(Initializers.xavierNormal(shape, gain: 2, generator: g))
        XCTAssertEqual(m, 0, accuracy: 0.005); XCTAssertEqual(s, 2 * (2 / 500.0).squareRoot(), accuracy: 0.002)
        (m, s) = stats(Initializers.kaimingUniform(shape, generator: g))
        XCTAssertEqual(m, 0, accuracy: 0.003); XCTAssertEqual(s, (2 / 200.0).squareRoot(), accuracy: 0.002)
        (m, s) = stats(Initializers.kaimingNormal(shape, mode: .fanOut, nonlinearity: .relu, generator: g))
        XCTAssertEqual(m, 0, accuracy: 0.003); XCTAssertEqual(s, (2 / 300.0).squareRoot(), accuracy: 0.002)
        (m, s) = stats(Initializers.kaimingNormal(shape, nonlinearity: .linear, generator: g))
        XCTAssertEqual(s, (1 / 200.0).squareRoot(), accuracy: 0.002)
        // PyTorch's Linear default is kaimingUniform with a = √5: bound 1/√fanIn.
        let w = Initializers.kaimingUniform(shape, nonlinearity: .leakyReLU(negativeSlope: 5.0.squareRoot()), generator: g)
        XCTAssertLessThanOrEqual(w.abs().max().item(), 1 / 200.0.squareRoot() + 1e-7)
        XCTAssertGreaterThan(w.abs().max().item(), 0.99 / 200.0.squareRoot())
    }

    func testOrthogonal() {
        let g = RandomGenerator(seed: 12)
        for shape in [[20, 20], [30, 10], [10, 30], [6, 2, 3]] {
            let w = Initializers.orthogonal(shape, gain: 1, dtype: .float64, generator: g)
            XCTAssertEqual(w.shape, shape)
            let m = w.reshaped([shape[0], -1])
            // The smaller Gram matrix is the identity.
            let gram = m.shape[0] <= m.shape[1] ? m.matmul(m.T) : m.T.matmul(m)
            let n = gram.shape[0]
            let err = (gram - Tensor.eye(n, dtype: .float64)).abs().max().item()
            XCTAssertLessThan(err, 1e-12, "\(shape)")
        }
        let w2 = Initializers.orthogonal([8, 8], gain: 2, dtype: .float64, generator: g)
        XCTAssertEqual((w2.T.matmul(w2) - Tensor.eye(8, dtype: .float64) * 4).abs().max().item(), 0, accuracy: 1e-12)
    }

    func testSameSeedSameTensor() {
        let draws: [(RandomGenerator) -> Tensor] = [
            { Initializers.uniform([5, 7], generator: $0) }, { Initializers.normal([5, 7], generator: $0) },
            { Initializers.xavierUniform([5, 7], generator: $0) }, { Initializers.xavierNormal([5, 7], generator: $0) },
            { Initializers.kaimingUniform([5, 7], generator: $0) }, { Initializers.kaimingNormal([5, 7], generator: $0) },
            { Initializers.orthogonal([5, 7], generator: $0) },
        ]
        for (i, f) in draws.enumerated() {
            let a = f(RandomGenerator(seed: 42)), b = f(RandomGenerator(seed: 42)), c = f(RandomGenerator(seed: 43))
            XCTAssertTrue(a.equals(b), "initialiser \(i)")
            XCTAssertFalse(a.equals(c), "initialiser \(i)")
        }
        Random.seed(5); let l1 = Linear(3, 4)
        Random.seed(5); let l2 = Linear(3, 4)
        XCTAssertTrue(l1.weight.equals(l2.weight) && l1.bias!.equals(l2.bias!))
    }
}
