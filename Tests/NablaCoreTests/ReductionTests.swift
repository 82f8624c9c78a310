import XCTest
import Foundation
import NablaCore
import _NablaTestSupport

/// Forward values of the reductions, in both dtypes (gradients are in GradCheckTests).
final class ReductionTests: XCTestCase {
    let x = Tensor([[1, 5, 2], [-4, 3, 0]] as [[Double]])

    func testSumMean() {
        for t in [x, x.to(.float32)] {
            XCTAssertEqual(t.sum().item(), 7)
            XCTAssertEqual(t.sum().shape, [])
            XCTAssertEqual(t.sum(axis: 0).doubles, [-3, 8, 2])
            XCTAssertEqual(t.sum(axis: 1).doubles, [8, -1])
            XCTAssertEqual(t.sum(axis: -1, keepDims: true).shape, [2, 1])
            XCTAssertEqual(t.sum(axes: [0, 1], keepDims: true).shape, [1, 1])
            XCTAssertEqual(t.sum(axes: [], keepDims: false).shape, [2, 3])
            XCTAssertEqual(t.mean().item(), 7.0 / 6.0, accuracy: 1e-6)
            XCTAssertEqual(t.mean(axis: 0).doubles, [-1.5, 4, 1])
            XCTAssertEqual(t.mean(axis: 1, keepDims: true).shape, [2, 1])
        }
        let y = Tensor.arange(0, 24, dtype: .float64).reshaped(2, 3, 4)
        XCTAssertEqual(y.sum(axes: [0, 2]).doubles, [60, 92, 124])
        XCTAssertEqual(y.to(.float32).sum(axis: 1).doubles, [12, 15, 18, 21, 48, 51, 54, 57])
        XCTAssertEqual(Tensor.zeros([0, 3]).sum().item(), 0)
    }

    func testMaxMinArg() {
        for t in [x, x.to(.float32)] {
            XCTAssertEqual(t.max().item(), 5)
            XCTAssertEqual(t.min().item(), -4)
            XCTAssertEqual(t.max(axis: 0).doubles, [1, 5, 2])
            XCTAssertEqual(t.min(axis: 1).doubles, [1, -4])
            XCTAssertEqual(t.max(axis: 1, keepDims: true).shape, [2, 1])
            XCTAssertEqual(t.argmax().item(), 1)
            XCTAssertEqual(t.argmin().item(), 3)
            XCTAssertEqual(t.argmax(axis: 1).doubles, [1, 1])
            XCTAssertEqual(t.argmin(axis: 0).doubles, [1, 1, 1])
            XCTAssertEqual(t.argmax(axis: 0, keepDims: true).shape, [1, 3])
        }
        // Ties: the first index; the gradient of max is shared evenly.
        let tie = Tensor([3, 1, 3] as [Double]).requiringGrad()
        XCTAssertEqual(tie.argmax().item(), 0)
        tie.max().backward()
        XCTAssertEqual(tie.grad!.doubles, [0.5, 0, 0.5])
        // NaN propagates through max.
        XCTAssertTrue(Tensor([1, .nan, 2] as [Double]).max().item().isNaN)
    }

    func testVarianceStd() {
        let v = Tensor([2, 4, 4, 4, 5, 5, 7, 9] as [Double])
        XCTAssertEqual(v.variance(correction: 0).item(), 4, accuracy: 1e-12)
        XCTAssertEqual(v.variance().item(), 32.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(v.standardDeviation(correction: 0).item(), 2, accuracy: 1e-12)
        // [1, 5, 2]: mean 8/3, squared deviations (25 + 49 + 4)/9 = 78/9, / 2 = 13/3.
        // [-4, 3, 0]: mean -1/3, squared deviations (121 + 100 + 1)/9 = 222/9, / 2 = 37/3.
        let v1 = x.variance(axes: [1]).doubles
        XCTAssertEqual(v1[0], 13.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(v1[1], 37.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(x.variance(axes: [0], correction: 0, keepDims: true).shape, [1, 3])
        XCTAssertEqual(x.to(.float32).variance(axes: [0], correction: 0).doubles, [6.25, 1, 1])
    }

    func testLogSumExp() {
        let t = Tensor([[0, 0], [1, 2]] as [[Double]])
        XCTAssertEqual(t.logSumExp(axis: 1).doubles[0], Foundation.log(2.0), accuracy: 1e-12)
        XCTAssertEqual(t.logSumExp(axis: 1).doubles[1], Foundation.log(Foundation.exp(1.0) + Foundation.exp(2.0)), accuracy: 1e-12)
        XCTAssertEqual(t.logSumExp().item(), Foundation.log(2 + Foundation.exp(1.0) + Foundation.exp(2.0)), accuracy: 1e-12)
        // Stable for large values and for rows of -inf.
        let big = Tensor([1000, 1000] as [Float])
        XCTAssertEqual(big.logSumExp().item(), 1000 + Foundation.log(2.0), accuracy: 1e-3)
        let ninf = Tensor([-Double.infinity, -.infinity])
        XCTAssertEqual(ninf.logSumExp().item(), -.infinity)
        XCTAssertEqual(t.logSumExp(axis: 0, keepDims: true).shape, [1, 2])
    }
}
