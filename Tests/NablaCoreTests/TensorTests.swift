import XCTest
import Foundation
import NablaCore
import _NablaTestSupport

/// Creating tensors, reading them back, dtypes, value semantics and printing.
final class TensorTests: XCTestCase {

    // MARK: Creation

    func testFromFlatArrayAndShape() {
        let t = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.rank, 2)
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.dtype, .float32)
        XCTAssertEqual(t.floats, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t[1, 2], 6)
        XCTAssertEqual(t[0, 1], 2)
        XCTAssertEqual(t[-1, -3], 4)
        XCTAssertEqual(t.size(-1), 3)
        let v = Tensor([1.5, 2.5] as [Double])
        XCTAssertEqual(v.shape, [2])
        XCTAssertEqual(v.dtype, .float64)
        XCTAssertEqual(v.doubles, [1.5, 2.5])
    }

    func testFromNestedArrays() {
        let m = Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        XCTAssertEqual(m.shape, [2, 3])
        XCTAssertEqual(m.doubles, [1, 2, 3, 4, 5, 6])
        let c = Tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]] as [[[Float]]])
        XCTAssertEqual(c.shape, [2, 3, 2])
        XCTAssertEqual(c[1, 2, 0], 11)
        XCTAssertEqual(c.floats, (1...12).map(Float.init))
    }

    func testScalars() {
        let s = Tensor(Float(2.5))
        XCTAssertEqual(s.shape, [])
        XCTAssertTrue(s.isScalar)
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(s.item(), 2.5)
        let d = Tensor(scalar: -3, dtype: .float64)
        XCTAssertEqual(d.dtype, .float64)
        XCTAssertEqual(d.item(), -3)
        XCTAssertEqual(Tensor([7.0], shape: [1, 1]).item(), 7)
    }

    func testFilledTensors() {
        XCTAssertEqual(Tensor.zeros([2, 2]).floats, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3], dtype: .float64).doubles, [1, 1, 1])
        let f = Tensor.full([2, 1, 2], 0.25)
        XCTAssertEqual(f.shape, [2, 1, 2])
        XCTAssertEqual(f.floats, [0.25, 0.25, 0.25, 0.25])
        let like = Tensor.ones(like: Tensor.zeros([4, 1], dtype: .float64))
        XCTAssertEqual(like.shape, [4, 1])
        XCTAssertEqual(like.dtype, .float64)
        XCTAssertEqual(Tensor.zeros([0, 3]).count, 0)
        XCTAssertEqual(Tensor(repeating: 2, shape: []).item(), 2)
    }

    func testArange() {
        XCTAssertEqual(Tensor.arange(5).floats, [0, 1, 2, 3, 4])
        XCTAssertEqual(Tensor.arange(2, 5).floats, [2, 3, 4])
        XCTAssertEqual(Tensor.arange(1, 2, step: 0.25, dtype: .float64).doubles, [1, 1.25, 1.5, 1.75])
        XCTAssertEqual(Tensor.arange(5, 0, step: -2).floats, [5, 3, 1])
        XCTAssertEqual(Tensor.arange(3, 3).shape, [0])
        // torch.arange(0, 1, 0.3) has 4 elements (the end is exclusive).
        XCTAssertEqual(Tensor.arange(0, 1, step: 0.3, dtype: .float64).count, 4)
    }

    func testLinspace() {
        XCTAssertEqual(Tensor.linspace(0, 1, count: 5, dtype: .float64).doubles, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(Tensor.linspace(-1, 1, count: 3).floats, [-1, 0, 1])
        XCTAssertEqual(Tensor.linspace(2, 9, count: 1).floats, [2])
        XCTAssertEqual(Tensor.linspace(2, 9, count: 0).count, 0)
        XCTAssertEqual(Tensor.linspace(0, 0.3, count: 4, dtype: .float64).doubles.last, 0.3)
    }

    func testEye() {
        XCTAssertEqual(Tensor.eye(3).floats, [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let r = Tensor.eye(2, 3, dtype: .float64)
        XCTAssertEqual(r.shape, [2, 3])
        XCTAssertEqual(r.doubles, [1, 0, 0, 0, 1, 0])
        XCTAssertEqual(Tensor.eye(3, 2).floats, [1, 0, 0, 1, 0, 0])
    }

    // MARK: Reading back and converting

    func testToArrayConverts() {
        let t = Tensor([1.25, -2] as [Double])
        XCTAssertEqual(t.toArray(Float.self), [1.25, -2])
        XCTAssertEqual(t.toArray(Double.self), [1.25, -2])
        let f = Tensor([0.1] as [Float])
        XCTAssertEqual(f.doubles, [Double(Float(0.1))])
        XCTAssertEqual(f.scalar(at: 0), Double(Float(0.1)))
    }

    func testDTypeConversion() {
        let f = Tensor([1.5, -2.25, 3] as [Float])
        let d = f.to(.float64)
        XCTAssertEqual(d.dtype, .float64)
        XCTAssertEqual(d.doubles, [1.5, -2.25, 3])
        XCTAssertEqual(d.to(.float32).floats, [1.5, -2.25, 3])
        XCTAssertEqual(Tensor([1.0 / 3.0]).to(.float32).floats, [Float(1.0 / 3.0)])
        XCTAssertEqual(DType.float32.byteSize, 4)
        XCTAssertEqual(DType.float64.byteSize, 8)
        XCTAssertEqual(DType.promote(.float32, .float64), .float64)
        XCTAssertEqual(DType.promote(.float32, .float32), .float32)
        // Ops keep the dtype.
        XCTAssertEqual((d * 2).dtype, .float64)
        XCTAssertEqual((f + f).exp().sum().dtype, .float32)
    }

    func testValueSemantics() {
        let a = Tensor([1, 2, 3] as [Float])
        var b = a
        b[1] = 20
        XCTAssertEqual(a.floats, [1, 2, 3])
        XCTAssertEqual(b.floats, [1, 20, 3])
        var c = a.reshaped(3, 1)
        c[0, 0] = -1
        XCTAssertEqual(a.floats, [1, 2, 3], "a reshape shares storage but writes copy first")
        let d = a.clone()
        XCTAssertTrue(d.equals(a))
        XCTAssertFalse(a.equals(b))
        XCTAssertFalse(a.equals(a.reshaped(1, 3)))
    }

    func testAssignInPlaceIsSeenByCopies() {
        let p = Tensor([1, 2] as [Float]).requiringGrad()
        let q = p
        p.assignInPlace(Tensor([5, 6] as [Double]))
        XCTAssertEqual(q.floats, [5, 6])
        XCTAssertEqual(p.parameterID, q.parameterID)
        XCTAssertNotNil(p.parameterID)
        XCTAssertNil(Tensor([1] as [Float]).parameterID)
        p.withUnsafeMutableFloats { $0[0] = 9 }
        XCTAssertEqual(q.floats, [9, 6])
    }

    func testComparisons() {
        let a = Tensor([1, 2, 3] as [Float]), b = Tensor([3, 2, 1] as [Float])
        XCTAssertEqual((a .== b).floats, [0, 1, 0])
        XCTAssertEqual((a .!= b).floats, [1, 0, 1])
        XCTAssertEqual((a .< b).floats, [1, 0, 0])
        XCTAssertEqual((a .<= b).floats, [1, 1, 0])
        XCTAssertEqual((a .> b).floats, [0, 0, 1])
        XCTAssertEqual((a .>= b).floats, [0, 1, 1])
        XCTAssertEqual((a .> 1.5).floats, [0, 1, 1])
        XCTAssertEqual((a.reshaped(3, 1) .< b).shape, [3, 3])
        XCTAssertFalse((a.requiringGrad() .> b).requiresGrad)
    }

    func testElementwiseValues() {
        let x = Tensor([-2, -0.5, 0, 0.5, 2] as [Double])
        XCTAssertEqual(x.abs().doubles, [2, 0.5, 0, 0.5, 2])
        XCTAssertEqual(x.relu().doubles, [0, 0, 0, 0.5, 2])
        XCTAssertEqual(x.sign().doubles, [-1, -1, 0, 1, 1])
        XCTAssertEqual(x.clamped(min: -1, max: 1).doubles, [-1, -0.5, 0, 0.5, 1])
        XCTAssertEqual(x.sigmoid().doubles[2], 0.5)
        XCTAssertTrue(allClose(x.tanh(), Tensor(x.doubles.map { Foundation.tanh($0) })))
        XCTAssertTrue(allClose(x.erf(), Tensor(x.doubles.map { Foundation.erf($0) })))
        XCTAssertEqual(Tensor.maximum(x, Tensor(0.0)).doubles, [0, 0, 0, 0.5, 2])
        XCTAssertEqual(Tensor.minimum(x, Tensor(0.0)).doubles, [-2, -0.5, 0, 0, 0])
        // Large |x| sigmoid does not overflow, in both dtypes.
        let big = Tensor([-1000, 1000] as [Float])
        XCTAssertEqual(big.sigmoid().floats, [0, 1])
        XCTAssertEqual(big.to(.float64).sigmoid().doubles, [0, 1])
        let w = Tensor.where(Tensor([1, 0] as [Double]), Tensor([1, .infinity] as [Double]), Tensor([.infinity, 2] as [Double]))
        XCTAssertEqual(w.doubles, [1, 2])
        // float32 C kernels agree with float64 on the same values.
        let xf = x.to(.float32)
        for (name, op) in [("exp", { (t: Tensor) in t.exp() }), ("sin", { $0.sin() }), ("cos", { $0.cos() }),
                           ("tanh", { $0.tanh() }), ("sigmoid", { $0.sigmoid() }), ("erf", { $0.erf() }),
                           ("square", { $0.squared() }), ("neg", { -$0 })] as [(String, (Tensor) -> Tensor)] {
            XCTAssertTrue(allClose(op(xf).to(.float64), op(x), rtol: 1e-5, atol: 1e-6), name)
        }
        let p = Tensor([0.5, 1, 4] as [Double])
        XCTAssertTrue(allClose(p.to(.float32).log().to(.float64), p.log(), rtol: 1e-6, atol: 1e-7))
        XCTAssertTrue(allClose(p.to(.float32).sqrt().to(.float64), p.sqrt(), rtol: 1e-6))
        XCTAssertEqual(p.pow(2).doubles, [0.25, 1, 16])
        XCTAssertEqual(p.to(.float32).pow(3).floats, [0.125, 1, 64])
    }

    // MARK: Description

    func testDescriptionMatrix() {
        let t = Tensor([[1, -2.5], [3, 4]] as [[Float]])
        XCTAssertEqual(t.description, """
            tensor([[ 1.0000, -2.5000],
                    [ 3.0000,  4.0000]], shape: [2, 2])
            """)
    }

    func testDescriptionIntegralAndDType() {
        XCTAssertEqual(Tensor([1, 2, 3] as [Float]).description, "tensor([1., 2., 3.], shape: [3])")
        XCTAssertEqual(Tensor([1, 2, 3] as [Double]).description, "tensor([1., 2., 3.], shape: [3], dtype: float64)")
        XCTAssertEqual(Tensor(Float(3.5)).description, "tensor(3.5000, shape: [])")
    }

    func testDescriptionGradInfo() {
        let x = Tensor([1, 2] as [Float]).requiringGrad()
        XCTAssertEqual(x.description, "tensor([1., 2.], shape: [2], requiresGrad: true)")
        let y = x * x
        XCTAssertEqual(y.description, "tensor([1., 4.], shape: [2], grad_fn=<MulBackward>)")
        XCTAssertEqual(y.gradFunctionName, "MulBackward")
        XCTAssertEqual((x + 1).gradFunctionName, "AddScalarBackward")
        XCTAssertEqual(x.sum().gradFunctionName, "SumBackward")
        XCTAssertNil(x.gradFunctionName)
    }

    func testDescriptionRank3AndSummary() {
        let t = Tensor(Array(0..<8).map(Float.init), shape: [2, 2, 2])
        XCTAssertEqual(t.description, """
            tensor([[[0., 1.],
                     [2., 3.]],

                    [[4., 5.],
                     [6., 7.]]], shape: [2, 2, 2])
            """)
        let big = Tensor.arange(2000)
        XCTAssertEqual(big.description, "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape: [2000])")
    }
}
