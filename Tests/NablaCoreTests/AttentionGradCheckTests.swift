import Foundation
import XCTest
import NablaCore
import _NablaTestSupport

/// Gradient checks (central differences in float64, and float32 against float64) of the
/// fused attention kernel: masks of every broadcast form, causal with L = S, L < S and L > S,
/// tiles crossed (70 rows against 64-row tiles), strided inputs, and dropout with a fixed seed.
extension GradCheckTests {
    func testAttentionGradients() {
        check([[2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6]]) { scaledDotProductAttention($0[0], $0[1], $0[2]) }
        check([[1, 2, 6, 4], [1, 2, 6, 4], [1, 2, 6, 3]]) { scaledDotProductAttention($0[0], $0[1], $0[2], causal: true) }
        check([[1, 2, 3, 4], [1, 2, 6, 4], [1, 2, 6, 3]]) { scaledDotProductAttention($0[0], $0[1], $0[2], causal: true) }
        check([[1, 2, 6, 4], [1, 2, 3, 4], [1, 2, 3, 3]]) { scaledDotProductAttention($0[0], $0[1], $0[2], causal: true) }
        // Rank 3 and rank 2 inputs, and an explicit scale.
        check([[2, 5, 4], [2, 7, 4], [2, 7, 2]]) { scaledDotProductAttention($0[0], $0[1], $0[2], scale: 0.5) }
        check([[5, 4], [7, 4], [7, 2]]) { scaledDotProductAttention($0[0], $0[1], $0[2]) }
    }

    func testAttentionGradientsWithMasks() {
        var bools = [Bool](repeating: true, count: 35)
        for i in [1, 9, 13, 20, 34] { bools[i] = false }
        let boolMask = Tensor(bools, shape: [5, 7])
        check([[2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6]]) { scaledDotProductAttention($0[0], $0[1], $0[2], mask: boolMask) }
        let floatMask = Tensor.linspace(-2, 1, count: 70, dtype: .float64).reshaped([2, 1, 5, 7])
        check([[2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6]]) { scaledDotProductAttention($0[0], $0[1], $0[2], mask: floatMask) }
        // Key padding: one mask row per batch element, shared by heads and queries.
        let padding = Tensor([true, true, true, true, true, false, false, true, true, true, true, true, true, true], shape: [2, 1, 1, 7])
        check([[2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6]]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], mask: padding, causal: false)
        }
    }

    func testAttentionGradientsAcrossTiles() {
        // 70 rows and keys: two 64-wide tiles each way, causal and a padding mask together.
        var keep = [Bool](repeating: true, count: 70)
        for j in 61..<70 { keep[j] = false }
        let padding = Tensor(keep, shape: [1, 1, 1, 70])
        check([[1, 2, 70, 3], [1, 2, 70, 3], [1, 2, 70, 2]]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], mask: padding, causal: true)
        }
    }

    func testAttentionGradientsOfStridedInputs() {
        // q, k, v as the permuted thirds of one [B, L, 3, H, E] projection, as attention layers make them.
        check([[2, 5, 3, 2, 4]]) { x in
            let q = x[0].select(axis: 2, 0).permuted(0, 2, 1, 3)
            let k = x[0].select(axis: 2, 1).permuted(0, 2, 1, 3)
            let v = x[0].select(axis: 2, 2).permuted(0, 2, 1, 3)
            return scaledDotProductAttention(q, k, v, causal: true)
        }
    }

    func testFusedGELUGradients() {
        check([[7, 5]]) { $0[0].geluErf() }
        // 70 000 elements, several chunks over the threads: float32 (polynomial erf) against
        // float64 (the C library's), forward and backward.
        let x64 = Tensor.linspace(-8, 8, count: 70_000, dtype: .float64).requiringGrad()
        let x32 = x64.detached().to(.float32).requiringGrad()
        let up = Tensor.linspace(0.5, 1.5, count: 70_000, dtype: .float64)
        let y64 = x64.geluErf(), y32 = x32.geluErf()
        y64.backward(up)
        y32.backward(up.to(.float32))
        XCTAssertTrue(allClose(y32.to(.float64), y64, rtol: 1e-5, atol: 2e-6))
        XCTAssertTrue(allClose(x32.grad!.to(.float64), x64.grad!, rtol: 1e-5, atol: 2e-6))
    }

    func testFusedDropoutGradients() {
        // A fixed seed: the same mask in every evaluation, and on the gradient.
        check([[5, 7]]) { $0[0].dropout(0.3, seed: 5) }
        let x = Tensor.ones([100_000]).requiringGrad()
        let y = x.dropout(0.2, seed: 9)
        y.sum().backward()
        let kept = y.doubles.filter { $0 != 0 }
        XCTAssertEqual(Double(kept.count) / 100_000, 0.8, accuracy: 0.006)   // 4.7σ
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1.25) < 1e-6 })
        XCTAssertEqual(x.grad!.doubles, y.doubles, "the gradient of Σy is the mask itself")
    }

    func testPackedSelfAttentionGradients() {
        // [B, L, 3E] with E = 6 in 2 heads of 3; the output [B, L, E] has the heads side by side.
        check([[2, 5, 18]]) { Tensor.packedSelfAttention($0[0], heads: 2, mask: nil, causal: true, dropout: 0, generator: nil) }
        let padding = Tensor([true, true, true, false, false, true, true, true, true, true], shape: [2, 1, 1, 5])
        check([[2, 5, 18]]) { Tensor.packedSelfAttention($0[0], heads: 2, mask: padding, causal: false, dropout: 0, generator: nil) }
        check([[1, 70, 12]]) {
            Tensor.packedSelfAttention($0[0], heads: 2, mask: nil, causal: true, dropout: 0.2, generator: RandomGenerator(seed: 3))
        }
        // The same as attention of the three parts taken apart.
        let x = Tensor.randomNormal([2, 5, 18], dtype: .float64)
        func heads(_ i: Int) -> Tensor { x.narrow(axis: 2, start: 6 * i, length: 6).reshaped([2, 5, 2, 3]).permuted(0, 2, 1, 3) }
        let separate = scaledDotProductAttention(heads(0), heads(1), heads(2), causal: true).permuted(0, 2, 1, 3).reshaped([2, 5, 6])
        let packed = Tensor.packedSelfAttention(x, heads: 2, mask: nil, causal: true, dropout: 0, generator: nil)
        XCTAssertTrue(allClose(packed, separate, rtol: 1e-12, atol: 1e-12))
    }

    func testAttentionGradientsWithDropout() {
        // A fresh generator with the same seed per call: the same mask every evaluation.
        check([[1, 2, 6, 4], [1, 2, 9, 4], [1, 2, 9, 3]]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], dropout: 0.3, generator: RandomGenerator(seed: 11))
        }
    }
}

/// Values of the fused attention kernel against independent computations.
final class AttentionKernelTests: XCTestCase {
    /// softmax(q·kᵀ·scale + mask)·v from elementary ops (exp, sums, matmul).
    func naive(_ q: Tensor, _ k: Tensor, _ v: Tensor, additive: Tensor?, scale: Double) -> Tensor {
        var s = q.matmul(k.transposed()) * scale
        if let additive { s = s + additive }
        let e = (s - s.max(axis: -1, keepDims: true)).exp()
        return (e / e.sum(axis: -1, keepDims: true)).matmul(v)
    }

    func testMatchesTheDefinitionInFloat32AndFloat64() {
        for dtype in [DType.float32, .float64] {
            let g = RandomGenerator(seed: 3)
            // 130 queries and 100 keys: partial tiles on both axes; head size 40.
            let q = Tensor.randomNormal([2, 2, 130, 40], dtype: dtype, generator: g)
            let k = Tensor.randomNormal([2, 2, 100, 40], dtype: dtype, generator: g)
            let v = Tensor.randomNormal([2, 2, 100, 24], dtype: dtype, generator: g)
            let y = scaledDotProductAttention(q, k, v)
            let ref = naive(q.to(.float64), k.to(.float64), v.to(.float64), additive: nil, scale: 1 / 40.0.squareRoot())
            XCTAssertTrue(allClose(y.to(.float64), ref, rtol: dtype == .float32 ? 1e-4 : 1e-12, atol: dtype == .float32 ? 1e-5 : 1e-12))
            // Causal: the upper triangle is -inf.
            var tri = [Double](repeating: 0, count: 130 * 100)
            for i in 0..<130 { for j in 0..<100 where j > i { tri[i * 100 + j] = -.infinity } }
            let yc = scaledDotProductAttention(q, k, v, causal: true)
            let refc = naive(q.to(.float64), k.to(.float64), v.to(.float64), additive: Tensor(tri, shape: [130, 100]),
                             scale: 1 / 40.0.squareRoot())
            XCTAssertTrue(allClose(yc.to(.float64), refc, rtol: dtype == .float32 ? 1e-4 : 1e-12, atol: dtype == .float32 ? 1e-5 : 1e-12))
        }
    }

    func testLargeScoresStayFinite() {
        // Scores of ±1e4: a naive exp overflows; the online softmax must not.
        let q = Tensor([100.0, -100, 50, 100], shape: [2, 2])
        let k = Tensor([100.0, 100, -100, 100, 1, 1], shape: [3, 2])
        let v = Tensor([1.0, 2, 3], shape: [3, 1])
        let y = scaledDotProductAttention(q, k, v, scale: 1)
        // Row 0: scores [0, -20000, 0] → weights ½, 0, ½ → 2. Row 1: [15000, 5000, 150] → 1.
        XCTAssertEqual(y.doubles, [2, 1])
    }

    func testARowWithNoVisibleKeyGivesZeroAndNoGradient() {
        let q = Tensor.randomNormal([1, 1, 2, 3], dtype: .float64).requiringGrad()
        let k = Tensor.randomNormal([1, 1, 4, 3], dtype: .float64).requiringGrad()
        let v = Tensor.randomNormal([1, 1, 4, 2], dtype: .float64).requiringGrad()
        let mask = Tensor([false, false, false, false, true, false, true, true], shape: [2, 4])
        let y = scaledDotProductAttention(q, k, v, mask: mask)
        XCTAssertEqual(Array(y.doubles[0..<2]), [0, 0])
        XCTAssertTrue(y.doubles.allSatisfy { $0.isFinite })
        y.sum().backward()
        XCTAssertEqual(Array(q.grad!.doubles[0..<3]), [0, 0, 0])
        XCTAssertTrue(k.grad!.doubles.allSatisfy { $0.isFinite })
        // The masked key 1 gets no gradient from either row.
        XCTAssertEqual(Array(k.grad!.doubles[3..<6]), [0, 0, 0])
        XCTAssertEqual(Array(v.grad!.doubles[2..<4]), [0, 0])
    }

    func testFusedGELUMatchesTheErfDefinition() {
        // ½x(1 + erf(x/√2)) from the C library's erf, over [-10, 10], in both dtypes.
        let xs = (0...2000).map { -10 + Double($0) / 100 }
        for dtype in [DType.float32, .float64] {
            let y = Tensor(xs, shape: [xs.count]).to(dtype).geluErf().to(.float64).doubles
            for (x, v) in zip(xs, y) {
                let expected = 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
                XCTAssertEqual(v, expected, accuracy: dtype == .float32 ? 2e-6 * Swift.max(1, abs(x)) : 1e-15 * Swift.max(1, abs(x)), "x = \(x)")
            }
        }
    }

    func testDropoutDropsTheRightFractionAndRescales() {
        // One query, 4000 keys with equal scores: every weight is 1/4000 and v = 1, so the
        // output is (kept/4000)/(1 − p). Its expectation is 1; the kept fraction ~ 1 − p.
        let p = 0.25
        let q = Tensor.zeros([1, 1, 1, 4])
        let k = Tensor.randomNormal([1, 1, 4000, 4])
        let v = Tensor.ones([1, 1, 4000, 1])
        let y = scaledDotProductAttention(q, k, v, dropout: p, generator: RandomGenerator(seed: 1)).item()
        let kept = y * (1 - p)
        XCTAssertEqual(kept, 1 - p, accuracy: 0.03)   // 4σ of the binomial fraction is 0.027
        let again = scaledDotProductAttention(q, k, v, dropout: p, generator: RandomGenerator(seed: 1)).item()
        XCTAssertEqual(y, again, "the same seed gives the same mask")
        let other = scaledDotProductAttention(q, k, v, dropout: p, generator: RandomGenerator(seed: 2)).item()
        XCTAssertNotEqual(y, other, "another seed gives another mask")
    }
}
