import XCTest
import NablaCore
import _NablaTestSupport

/// Forward values of the shape operations (their gradients are in GradCheckTests).
final class ShapeOpTests: XCTestCase {
    /// 0, 1, …, n−1 as float64 with the given shape.
    func iota(_ shape: [Int]) -> Tensor { Tensor.arange(0, Double(Shape.count(shape)), dtype: .float64).reshaped(shape) }

    func testReshapeFlattenSqueeze() {
        let x = iota([2, 3, 4])
        XCTAssertEqual(x.reshaped(4, -1).shape, [4, 6])
        XCTAssertEqual(x.reshaped(4, -1).doubles, x.doubles)
        XCTAssertEqual(x.flattened().shape, [24])
        XCTAssertEqual(x.flattened(startAxis: 1).shape, [2, 12])
        XCTAssertEqual(x.flattened(startAxis: 0, endAxis: 1).shape, [6, 4])
        let y = iota([1, 3, 1, 2])
        XCTAssertEqual(y.squeezed().shape, [3, 2])
        XCTAssertEqual(y.squeezed(axis: 2).shape, [1, 3, 2])
        XCTAssertEqual(y.squeezed(axis: 1).shape, [1, 3, 1, 2], "squeezing a non-1 axis is a no-op, as in PyTorch")
        XCTAssertEqual(iota([3]).unsqueezed(axis: 0).shape, [1, 3])
        XCTAssertEqual(iota([3]).unsqueezed(axis: -1).shape, [3, 1])
        XCTAssertEqual(iota([2, 3]).unsqueezed(axis: 2).shape, [2, 3, 1])
    }

    func testTransposePermute() {
        let x = iota([2, 3])
        XCTAssertEqual(x.T.shape, [3, 2])
        XCTAssertEqual(x.T.doubles, [0, 3, 1, 4, 2, 5])
        let y = iota([2, 3, 4])
        let p = y.permuted(2, 0, 1)
        XCTAssertEqual(p.shape, [4, 2, 3])
        // p[k, i, j] = y[i, j, k] = 12i + 4j + k
        XCTAssertEqual(p[3, 1, 2], 12 + 8 + 3)
        XCTAssertEqual(p[1, 0, 1], 4 + 1)
        XCTAssertEqual(y.transposed(0, 2).shape, [4, 3, 2])
        XCTAssertEqual(y.transposed(0, 2)[1, 2, 1], 12 + 8 + 1)
        XCTAssertEqual(iota([5]).T.shape, [5])
        XCTAssertEqual(iota([5, 2]).permuted([-1, 0]).shape, [2, 5])
    }

    func testBroadcastTo() {
        let r = Tensor([1, 2, 3] as [Double]).broadcast(to: [2, 3])
        XCTAssertEqual(r.doubles, [1, 2, 3, 1, 2, 3])
        let c = Tensor([1, 2] as [Double], shape: [2, 1]).broadcast(to: [2, 3])
        XCTAssertEqual(c.doubles, [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(Tensor(5.0).broadcast(to: [2, 2]).doubles, [5, 5, 5, 5])
        let b = iota([2, 1, 2]).broadcast(to: [2, 2, 2, 2])
        XCTAssertEqual(b.doubles, [0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3])
    }

    func testBroadcastArithmeticValues() {
        let m = iota([2, 3])
        XCTAssertEqual((m + Tensor([10, 20, 30] as [Double])).doubles, [10, 21, 32, 13, 24, 35])
        XCTAssertEqual((m * Tensor([1, -1] as [Double], shape: [2, 1])).doubles, [0, 1, 2, -3, -4, -5])
        XCTAssertEqual((Tensor([1, 2] as [Double], shape: [2, 1]) - Tensor([1, 2, 3] as [Double])).doubles, [0, -1, -2, 1, 0, -1])
        XCTAssertEqual((Tensor(12.0) / Tensor([1, 2, 3] as [Double])).doubles, [12, 6, 4])
        // Same in float32 (C kernels: rows, scalar, general).
        let mf = m.to(.float32)
        XCTAssertEqual((mf + Tensor([10, 20, 30] as [Float])).floats, [10, 21, 32, 13, 24, 35])
        XCTAssertEqual((mf * Tensor([1, -1] as [Float], shape: [2, 1])).floats, [0, 1, 2, -3, -4, -5])
        XCTAssertEqual((Tensor(Float(12)) / Tensor([1, 2, 3] as [Float])).floats, [12, 6, 4])
        XCTAssertEqual((mf - Tensor(Float(1))).floats, [-1, 0, 1, 2, 3, 4])
        XCTAssertEqual((2 - mf).floats, [2, 1, 0, -1, -2, -3])
        XCTAssertEqual((6 / (mf + 1)).floats, [6, 3, 2, 1.5, 1.2, 1])
        let big = iota([2, 3, 4]) + iota([3, 1])
        XCTAssertEqual(big[1, 2, 3], 23 + 2)
        XCTAssertEqual((iota([3, 1, 2, 1]) * iota([4, 1, 5])).shape, [3, 4, 2, 5])
    }

    func testSlicing() {
        let x = iota([4, 5])
        XCTAssertEqual(x[1].doubles, [5, 6, 7, 8, 9])
        XCTAssertEqual(x[-1].doubles, [15, 16, 17, 18, 19])
        XCTAssertEqual(x[1..<3, 2].doubles, [7, 12])
        XCTAssertEqual(x[1..<3, 2].shape, [2])
        XCTAssertEqual(x[TensorIndex.all, TensorIndex.every(2)].doubles, [0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19])
        XCTAssertEqual(x[TensorIndex.r(0..<4, step: 3), 3...4].doubles, [3, 4, 18, 19])
        XCTAssertEqual(x[2...].shape, [2, 5])
        XCTAssertEqual(x[..<1].shape, [1, 5])
        XCTAssertEqual(x[2, 3].shape, [])
        XCTAssertEqual(x[2, 3].item(), 13)
        XCTAssertEqual(x.slice(axis: 1, 1, nil, step: 2).doubles, [1, 3, 6, 8, 11, 13, 16, 18])
        XCTAssertEqual(x.slice(axis: 0, -2).doubles, Array(10...19).map(Double.init))
        XCTAssertEqual(x[3..<10].shape, [1, 5], "ranges clamp to the axis, as in Python")
        XCTAssertEqual(x[4..<4].shape, [0, 5])
        XCTAssertEqual(x.to(.float32)[1..<3, 2].floats, [7, 12])
    }

    func testIndexSelectGather() {
        let x = iota([3, 4])
        XCTAssertEqual(x.indexSelect(axis: 0, [2, 0, 2]).doubles, [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11])
        XCTAssertEqual(x.indexSelect(axis: 1, [3, 0]).doubles, [3, 0, 7, 4, 11, 8])
        let t = x.indexSelect(axis: 0, Tensor([1, 1, 0, 2] as [Float], shape: [2, 2]))
        XCTAssertEqual(t.shape, [2, 2, 4])
        XCTAssertEqual(t[1, 1, 3], 11)
        let g = x.gather(axis: 1, Tensor([0, 3, 1, 1, 2, 0] as [Double], shape: [3, 2]))
        XCTAssertEqual(g.doubles, [0, 3, 5, 5, 10, 8])
        let g0 = x.gather(axis: 0, Tensor([2, 0, 1, 2] as [Double], shape: [1, 4]))
        XCTAssertEqual(g0.doubles, [8, 1, 6, 11])
        // Repeated indices accumulate in the gradient.
        let w = x.requiringGrad()
        w.indexSelect(axis: 0, [1, 1, 1]).sum().backward()
        XCTAssertEqual(w.grad!.doubles, [0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0])
        let v = x.requiringGrad()
        v.gather(axis: 1, Tensor([0, 0, 0, 0, 1, 1] as [Double], shape: [3, 2])).sum().backward()
        XCTAssertEqual(v.grad!.doubles, [2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0])
    }

    func testConcatenateStackSplitChunkPad() {
        let a = iota([2, 2]), b = iota([2, 1]) + 10
        XCTAssertEqual(Tensor.concatenate([a, b], axis: 1).doubles, [0, 1, 10, 2, 3, 11])
        XCTAssertEqual(Tensor.concatenate([a, a], axis: 0).shape, [4, 2])
        XCTAssertEqual(Tensor.concatenate([a, b], axis: -1).shape, [2, 3])
        let s = Tensor.stack([a, a + 4], axis: 1)
        XCTAssertEqual(s.shape, [2, 2, 2])
        XCTAssertEqual(s.doubles, [0, 1, 4, 5, 2, 3, 6, 7])
        XCTAssertEqual(Tensor.stack([a, a], axis: -1).shape, [2, 2, 2])
        XCTAssertEqual(Tensor.stack([a, a], axis: -1).doubles, [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(Tensor.stack([Tensor(1.0), Tensor(2.0)]).doubles, [1, 2])
        let parts = iota([5, 2]).split(sizes: [2, 3])
        XCTAssertEqual(parts.map { $0.shape }, [[2, 2], [3, 2]])
        XCTAssertEqual(parts[1].doubles, [4, 5, 6, 7, 8, 9])
        XCTAssertEqual(iota([5]).chunked(2).map { $0.doubles }, [[0, 1, 2], [3, 4]])
        XCTAssertEqual(iota([6]).chunked(3).map { $0.count }, [2, 2, 2])
        XCTAssertEqual(iota([2, 5]).chunked(2, axis: 1).map { $0.shape }, [[2, 3], [2, 2]])
        let p = iota([2, 2]).padded([(1, 0), (0, 2)], value: -1)
        XCTAssertEqual(p.shape, [3, 4])
        XCTAssertEqual(p.doubles, [-1, -1, -1, -1, 0, 1, -1, -1, 2, 3, -1, -1])
        XCTAssertEqual(iota([2, 2]).to(.float32).padded([(0, 0), (1, 1)]).floats, [0, 0, 1, 0, 0, 2, 3, 0])
    }
}
