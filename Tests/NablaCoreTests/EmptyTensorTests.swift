import XCTest
import NablaCore
import _NablaTestSupport

/// Tensors with a zero-sized dimension flow through ops and their gradients.
final class EmptyTensorTests: XCTestCase {
    /// Broadcasting `[0, 3] + [3]`: the result is empty and the bias gradient is all zeros
    /// (a sum over no rows), in both dtypes.
    func testBroadcastWithZeroSizedDimension() {
        for dtype in [DType.float32, .float64] {
            let x = Tensor.zeros([0, 3], dtype: dtype).requiringGrad()
            let b = Tensor.ones([3], dtype: dtype).requiringGrad()
            let y = x + b
            XCTAssertEqual(y.shape, [0, 3])
            y.sum().backward()
            XCTAssertEqual(b.grad!.doubles, [0, 0, 0], "\(dtype)")
            XCTAssertEqual(x.grad!.shape, [0, 3])
        }
    }

    /// Reductions of empty tensors: the sum is 0 and the mean NaN (as PyTorch); max traps.
    func testReductionsOfEmptyTensors() {
        let e = Tensor.zeros([2, 0])
        XCTAssertEqual(e.sum().item(), 0)
        XCTAssertEqual(e.sum(axis: 1).doubles, [0, 0])
        XCTAssertTrue(e.mean().item().isNaN)
    }

    /// Matmul with an inner dimension of 0 gives zeros.
    func testMatmulWithEmptyInnerDimension() {
        for dtype in [DType.float32, .float64] {
            let a = Tensor.zeros([2, 0], dtype: dtype), b = Tensor.zeros([0, 3], dtype: dtype)
            XCTAssertEqual(a.matmul(b).doubles, [Double](repeating: 0, count: 6), "\(dtype)")
        }
    }
}
