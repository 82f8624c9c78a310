import XCTest
import NablaCore
@testable import NablaNN
import _NablaTestSupport

/// Numerical defects found by an independent comparison with PyTorch (hardening issue),
/// each pinned by the value PyTorch gives or by a hand derivation written out below.
final class NumericHardeningTests: XCTestCase {
    /// d(a^b)/da at a = 0, b = 0 is 0 in PyTorch (a^0 is constant in a); it was 0·0⁻¹ = NaN.
    func testTensorPowGradientAtZeroToTheZero() {
        for dtype in [DType.float32, .float64] {
            let a = Tensor([0, 0, 2, 3] as [Double]).to(dtype).requiringGrad()
            let b = Tensor([0, 2, 0, 2] as [Double]).to(dtype)
            a.pow(b).sum().backward()
            // By hand: b·a^(b−1) = [0 (b = 0), 2·0¹ = 0, 0 (b = 0), 2·3 = 6].
            XCTAssertEqual(a.grad!.doubles, [0, 0, 0, 6], "\(dtype)")
        }
        // With a broadcast exponent and the exponent also requiring a gradient.
        let a = Tensor([[0, 1.5], [0, 2]] as [[Double]]).requiringGrad()
        let b = Tensor([0, 0] as [Double]).requiringGrad()
        a.pow(b).sum().backward()
        XCTAssertEqual(a.grad!.doubles, [0, 0, 0, 0])
        // ∂/∂b = a^b·log a summed over rows, with 0·log 0 taken as 0: log 1.5 + log 2.
        XCTAssertEqual(b.grad!.doubles[0], 0, accuracy: 0)
        XCTAssertEqual(b.grad!.doubles[1], Foundation.log(1.5) + Foundation.log(2.0), accuracy: 1e-12)
        // Away from zero the rule is unchanged.
        XCTAssertTrue(gradCheck([Tensor([0.7, 1.3, 2.1] as [Double]), Tensor([0.5, -1.5, 2.5] as [Double])]) {
            $0[0].pow($0[1])
        }.passed)
    }

    /// BCE on probabilities at the endpoints, against `F.binary_cross_entropy` (values
    /// from the PyTorch table): the gradient is (p − t) / max(p(1 − p), 1e-12).
    func testBinaryCrossEntropyGradientAtTheEndpoints() {
        let cases: [(p: Double, t: Double, grad: Double, loss: Double)] = [
            (0, 0, 0, 0),          // 0 / 1e-12
            (0, 1, -1e12, 100),    // −1 / 1e-12; log 0 clamped at −100
            (1, 0, 1e12, 100),
            (1, 1, 0, 0),
        ]
        for dtype in [DType.float64, .float32] {
            for c in cases {
                let p = Tensor([c.p]).to(dtype).requiringGrad()
                let loss = Loss.binaryCrossEntropy(p, Tensor([c.t]).to(dtype), reduction: .sum)
                XCTAssertEqual(loss.item(), c.loss, accuracy: 1e-4, "loss at p=\(c.p) t=\(c.t) \(dtype)")
                loss.backward()
                let g = p.grad!.item()
                XCTAssertEqual(g, c.grad, accuracy: Swift.abs(c.grad) * 1e-6, "grad at p=\(c.p) t=\(c.t) \(dtype)")
            }
        }
        // Below e^−100 the log is clamped but the gradient still pushes p up:
        // p = 1e-50, t = 1 gives −1/max(1e-50·(1 − 1e-50), 1e-12) = −1e12.
        let p = Tensor([1e-50]).requiringGrad()
        Loss.binaryCrossEntropy(p, Tensor([1.0]), reduction: .sum).backward()
        XCTAssertEqual(p.grad!.item(), -1e12, accuracy: 1)
        // p = 1e-13, t = 1: PyTorch divides by max(p(1−p), 1e-12) = 1e-12, not by p.
        let q = Tensor([1e-13]).requiringGrad()
        Loss.binaryCrossEntropy(q, Tensor([1.0]), reduction: .sum).backward()
        XCTAssertEqual(q.grad!.item(), (1e-13 - 1) / 1e-12, accuracy: 1)
        // In the interior it is the ordinary derivative: central differences agree.
        XCTAssertTrue(gradCheck([Tensor([0.2, 0.7, 0.95] as [Double])]) {
            Loss.binaryCrossEntropy($0[0], Tensor([0.0, 1.0, 0.3] as [Double]), reduction: .none)
        }.passed)
        // mean reduction scales the gradient by 1/n: (0.2 − 0)/(0.2·0.8)/2 = 0.625.
        let r = Tensor([0.2, 0.5] as [Double]).requiringGrad()
        Loss.binaryCrossEntropy(r, Tensor([0.0, 0.5] as [Double])).backward()
        XCTAssertEqual(r.grad!.doubles[0], 0.625, accuracy: 1e-12)
        XCTAssertEqual(r.grad!.doubles[1], 0, accuracy: 1e-12)
    }

    /// logSoftmax([1000, 1001, −1000]) in float32: PyTorch's float32 gives −0.31326166 for
    /// the middle entry; the exact value is −log(1 + e⁻¹) = −0.3132617. The old form
    /// x − (max + log Σ) gave −0.3132324.
    func testLogSoftmaxKeepsPrecisionForLargeLogitsInFloat32() {
        let x = Tensor([1000, 1001, -1000] as [Float])
        let y = x.logSoftmax(axis: 0).doubles
        let exact = -Foundation.log(1 + Foundation.exp(-1.0))
        XCTAssertEqual(y[1], exact, accuracy: 1e-6)
        XCTAssertEqual(y[0], exact - 1, accuracy: 1e-6)
        XCTAssertEqual(y[2], -2001 + exact, accuracy: 1e-3)
        // Cross-entropy goes through the same path: the loss for class 1 is −y[1].
        let ce = Loss.crossEntropy(logits: x.reshaped([1, 3]), [1])
        XCTAssertEqual(ce.item(), -exact, accuracy: 1e-6)
        // Probability targets too.
        let ce2 = Loss.crossEntropy(logits: x.reshaped([1, 3]), targetProbabilities: Tensor([[0, 1, 0] as [Float]]))
        XCTAssertEqual(ce2.item(), -exact, accuracy: 1e-6)
        // logSumExp: 1001 + log(1 + e⁻¹); the absolute precision of a float32 near 1001 is 6e-5.
        XCTAssertEqual(x.logSumExp(axis: 0).item(), 1001 - exact, accuracy: 1e-4)
        // The gradient is unchanged: softmax − onehot for cross-entropy, checked numerically.
        XCTAssertTrue(gradCheck([Tensor([[3, 5, -4], [100, 101, 99]] as [[Double]])]) { $0[0].logSoftmax(axis: 1) }.passed)
        XCTAssertTrue(gradCheck([Tensor([[0.3, -2, 1], [7, 7, 7]] as [[Double]])]) { $0[0].logSoftmax(axis: 0) }.passed)
    }

    /// The public custom-op entry point records a node whose rule is used by backward.
    func testCustomOperationRecordsItsRule() {
        let x = Tensor([0.5, -1.25, 2] as [Double]).requiringGrad()
        func cube(_ x: Tensor) -> Tensor {
            let xd = x.detached()
            return Tensor.custom(op: "Cube", value: xd * xd * xd, inputs: [x]) { g in [g * xd * xd * 3] }
        }
        let y = cube(x)
        XCTAssertEqual(y.gradFunctionName, "CubeBackward")
        XCTAssertTrue(gradCheck([Tensor([0.5, -1.25, 2] as [Double])]) { cube($0[0]) }.passed)
        XCTAssertNil(withoutGrad { cube(x) }.gradFunctionName)
        XCTAssertNil(cube(Tensor([1.0])).gradFunctionName)
    }
}
