import XCTest
import NablaCore
import _NablaTestSupport

/// A gradient check for every differentiable op of NablaCore, one line per case, in the
/// style of tinygrad's `test_ops.py`: `check(shapes) { xs in op(xs) }`.
///
/// `check` fills inputs of the given shapes with deterministic values whose magnitudes
/// lie in `0.5…1.5` (random sign unless `positive`), so no input sits on a kink of
/// abs/relu/max, then
/// 1. compares autograd with central differences in float64 (``gradCheck``), and
/// 2. runs the same function in float32 (the C-kernel paths) and compares its forward
///    values and gradients with the float64 ones, so both dtypes are exercised.
final class GradCheckTests: XCTestCase {

    // MARK: The helper

    /// Deterministic test inputs: magnitude in 0.5…1.5, random sign unless `positive`.
    static func inputs(_ shapes: [[Int]], positive: Bool, seed: UInt64) -> [Tensor] {
        let gen = RandomGenerator(seed: seed)
        return shapes.map { s in
            let n = Shape.count(s)
            let v = (0..<n).map { _ -> Double in
                let m = 0.5 + gen.nextDouble()
                return positive || gen.nextDouble() < 0.5 ? m : -m
            }
            return Tensor(v, shape: s)
        }
    }

    /// Checks the gradients of `f` at inputs of `shapes` (see the class comment).
    func check(_ shapes: [[Int]], positive: Bool = false, seed: UInt64 = 7, float32: Bool = true,
               file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
        let xs = Self.inputs(shapes, positive: positive, seed: seed)
        let result = gradCheck(xs, f)
        XCTAssertTrue(result.passed, "\(result)", file: file, line: line)
        guard float32 else { return }
        // float64 and float32 forward/backward, with the same upstream gradient.
        func run(_ dtype: DType) -> (Tensor, [Tensor?]) {
            let leaves = xs.map { $0.to(dtype).requiringGrad() }
            let y = f(leaves)
            XCTAssertEqual(y.dtype, dtype, "op changed the dtype", file: file, line: line)
            let up = Tensor.linspace(0.5, 1.5, count: y.count, dtype: dtype).reshaped(y.shape)
            if y.requiresGrad { y.backward(up) }
            return (y, leaves.map { $0.grad })
        }
        let (y64, g64) = run(.float64), (y32, g32) = run(.float32)
        XCTAssertEqual(y32.shape, y64.shape, file: file, line: line)
        XCTAssertTrue(allClose(y32.to(.float64), y64, rtol: 1e-4, atol: 1e-5),
                      "float32 forward \(y32.doubles) vs float64 \(y64.doubles)", file: file, line: line)
        for (k, (a, b)) in zip(g32, g64).enumerated() {
            switch (a, b) {
            case (nil, nil): continue
            case let (a?, b?):
                XCTAssertEqual(a.dtype, .float32, file: file, line: line)
                XCTAssertTrue(allClose(a.to(.float64), b, rtol: 1e-3, atol: 1e-4),
                              "input \(k): float32 gradient \(a.doubles) vs float64 \(b.doubles)", file: file, line: line)
            default:
                XCTFail("input \(k): gradient present in one dtype only", file: file, line: line)
            }
        }
    }

    /// Every broadcasting case a binary op must handle.
    static let broadcastCases: [([Int], [Int])] = [
        ([2, 3], [2, 3]),            // same shape
        ([2, 3], []), ([], [2, 3]),  // scalar tensor on either side
        ([2, 3], [1]), ([1], [2, 3]),
        ([2, 3], [3]), ([3], [2, 3]),   // row vector [n] vs [m, n]
        ([2, 3], [1, 3]), ([2, 3], [2, 1]),
        ([2, 1], [1, 3]), ([1, 3], [2, 1]),   // column vs row
        ([2, 3, 4], [4]), ([4], [2, 3, 4]),   // rank 3 vs rank 1
        ([2, 3, 4], [3, 1]), ([3, 1], [2, 3, 4]),
        ([4, 2, 3], [2, 3]), ([2, 3], [4, 2, 3]),   // leading batch dims
        ([2, 1, 3], [1, 4, 3]), ([3, 1, 2, 1], [4, 1, 5]),
    ]

    func checkBroadcasting(positive: Bool = false, file: StaticString = #filePath, line: UInt = #line,
                           _ f: @escaping (Tensor, Tensor) -> Tensor) {
        for (sa, sb) in Self.broadcastCases {
            let expected = Shape.broadcast(sa, sb)!
            let probe = f(Tensor.ones(sa, dtype: .float64), Tensor.ones(sb, dtype: .float64))
            XCTAssertEqual(probe.shape, expected, "\(sa) with \(sb)", file: file, line: line)
            check([sa, sb], positive: positive, file: file, line: line) { f($0[0], $0[1]) }
        }
    }

    // MARK: Binary arithmetic with broadcasting

    func testAddBroadcasting() { checkBroadcasting { $0 + $1 } }
    func testSubBroadcasting() { checkBroadcasting { $0 - $1 } }
    func testMulBroadcasting() { checkBroadcasting { $0 * $1 } }
    func testDivBroadcasting() { checkBroadcasting { $0 / $1 } }
    func testPowTensorBroadcasting() { checkBroadcasting(positive: true) { $0.pow($1) } }
    func testMaximumBroadcasting() { checkBroadcasting { Tensor.maximum($0, $1) } }
    func testMinimumBroadcasting() { checkBroadcasting { Tensor.minimum($0, $1) } }

    func testSameInputOnBothSides() {
        check([[2, 3]]) { $0[0] * $0[0] }
        check([[2, 3]]) { $0[0] / ($0[0] * $0[0] + 1) }
        check([[2, 3]]) { $0[0] - $0[0].sin() }
        check([[2, 3]], positive: true) { $0[0].pow($0[0]) }
    }

    func testOnlyOneSideRequiresGrad() {
        let c = Tensor([0.7, -1.2, 0.9], shape: [3])
        check([[2, 3]]) { $0[0] * c.to($0[0].dtype) }
        check([[2, 3]]) { c.to($0[0].dtype) / $0[0] }
        check([[2, 3]]) { c.to($0[0].dtype).abs().pow($0[0]) }
        check([[2, 3]]) { $0[0].abs().pow(c.to($0[0].dtype)) }
        check([[3]]) { Tensor.maximum($0[0], c.to($0[0].dtype)) }
    }

    // MARK: Swift scalars on either side

    func testScalarArithmetic() {
        check([[2, 3]]) { $0[0] + 2.5 }
        check([[2, 3]]) { 2.5 + $0[0] }
        check([[2, 3]]) { $0[0] - 2.5 }
        check([[2, 3]]) { 2.5 - $0[0] }
        check([[2, 3]]) { $0[0] * -1.75 }
        check([[2, 3]]) { -1.75 * $0[0] }
        check([[2, 3]]) { $0[0] / 2.5 }
        check([[2, 3]]) { 2.5 / $0[0] }
        check([[2, 3]]) { $0[0] + Float(2.5) }
        check([[2, 3]]) { Float(2.5) - $0[0] }
        check([[2, 3]]) { Float(3) * $0[0] }
        check([[2, 3]]) { Float(3) / $0[0] }
        check([[]]) { 3 / $0[0] - 1 }
    }

    func testCompoundAssignment() {
        check([[2, 3], [3]]) { xs in
            var y = xs[0]
            y += xs[1]; y *= xs[1]; y -= xs[0]; y /= xs[1] * xs[1] + 1
            y += 1.5; y *= 2; y -= 0.5; y /= 3
            return y
        }
    }

    // MARK: Unary functions

    func testNegation() { check([[2, 3]]) { -$0[0] } }
    func testPowScalar() {
        check([[2, 3]]) { $0[0].pow(2) }
        check([[2, 3]]) { $0[0].pow(3) }
        check([[2, 3]]) { $0[0].squared() }
        check([[2, 3]], positive: true) { $0[0].pow(0.5) }
        check([[2, 3]], positive: true) { $0[0].pow(-1.5) }
        check([[2, 3]], positive: true) { $0[0].pow(2.7) }
        check([[2, 3]]) { $0[0].pow(1) }
        check([[2, 3]]) { $0[0].pow(0) }
    }
    func testExp() { check([[2, 3]]) { $0[0].exp() } }
    func testLog() { check([[2, 3]], positive: true) { $0[0].log() } }
    func testSqrt() { check([[2, 3]], positive: true) { $0[0].sqrt() } }
    func testAbs() { check([[2, 3]]) { $0[0].abs() } }
    func testSin() { check([[2, 3]]) { $0[0].sin() } }
    func testCos() { check([[2, 3]]) { $0[0].cos() } }
    func testTanh() { check([[2, 3]]) { $0[0].tanh() } }
    func testSigmoid() {
        check([[2, 3]]) { $0[0].sigmoid() }
        check([[2, 3]]) { ($0[0] * 6).sigmoid() }
    }
    func testRelu() { check([[3, 4]]) { $0[0].relu() } }
    func testErf() { check([[2, 3]]) { $0[0].erf() } }

    func testClamp() {
        // Inputs have |x| in 0.5…1.5; the bounds sit at ±1.05, away from the inputs used.
        check([[3, 4]], seed: 3) { $0[0].clamped(min: -1.05, max: 1.05) }
        check([[3, 4]], seed: 3) { $0[0].clamped(min: 0.2) }
        check([[3, 4]], seed: 3) { $0[0].clamped(max: -0.2) }
    }

    func testWhere() {
        let c = Tensor([1, 0, 1, 0, 0, 1] as [Double], shape: [2, 3])
        check([[2, 3], [2, 3]]) { Tensor.where(c.to($0[0].dtype), $0[0], $0[1]) }
        check([[2, 3], [3]]) { Tensor.where(c.to($0[0].dtype), $0[0], $0[1]) }
        check([[3], [2, 1]]) { Tensor.where(c.to($0[0].dtype), $0[0], $0[1]) }
        check([[], [2, 3]]) { Tensor.where(c.to($0[0].dtype), $0[0], $0[1]) }
        check([[2, 3]]) { Tensor.where($0[0] .> 0, $0[0].exp(), $0[0] * 3) }
        // Condition broadcasting up to a larger shape than either value.
        check([[4, 1], []]) { Tensor.where(c.to($0[0].dtype).reshaped(2, 1, 3), $0[0], $0[1]) }
    }

    func testToDType() {
        // float64 → float32 → float64 loses precision, so use a larger step and a
        // linear function (the central difference is then exact up to rounding).
        let xs = Self.inputs([[2, 3]], positive: false, seed: 9)
        let r = gradCheck(xs, eps: 1e-2, tolerance: 1e-4) { ($0[0].to(.float32) * 3).to(.float64) }
        XCTAssertTrue(r.passed, "\(r)")
        let x = Tensor([1.5, -2] as [Float]).requiringGrad()
        let y = x.to(.float64)
        XCTAssertEqual(y.dtype, .float64)
        (y * Tensor([3.0, 4.0])).sum().backward()
        XCTAssertEqual(x.grad!.dtype, .float32)
        XCTAssertEqual(x.grad!.floats, [3, 4])
        check([[2, 3]]) { $0[0].to(.float64).to($0[0].dtype) * 2 }
    }

    func testClone() {
        check([[2, 3]]) { $0[0].clone() * $0[0] }
    }

    // MARK: Reductions

    func testSum() {
        check([[2, 3, 4]]) { $0[0].sum() }
        check([[2, 3, 4]]) { $0[0].sum(axis: 0) }
        check([[2, 3, 4]]) { $0[0].sum(axis: 1, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].sum(axis: -1) }
        check([[2, 3, 4]]) { $0[0].sum(axes: [0, 2]) }
        check([[2, 3, 4]]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        check([[2, 3, 4]]) { $0[0].sum(axes: nil, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].sum(axes: [2, 0, 1]) }
        check([[]]) { $0[0].sum() }
    }
    func testMean() {
        check([[2, 3, 4]]) { $0[0].mean() }
        check([[2, 3, 4]]) { $0[0].mean(axis: 1) }
        check([[2, 3, 4]]) { $0[0].mean(axis: 2, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].mean(axes: [0, 1]) }
        check([[2, 3, 4]]) { $0[0].mean(axes: [-1, 0], keepDims: true) }
    }
    func testMaxMin() {
        check([[2, 3, 4]]) { $0[0].max() }
        check([[2, 3, 4]]) { $0[0].min() }
        check([[2, 3, 4]]) { $0[0].max(axis: 0) }
        check([[2, 3, 4]]) { $0[0].max(axis: 1, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].max(axis: -1) }
        check([[2, 3, 4]]) { $0[0].min(axis: 2) }
        check([[2, 3, 4]]) { $0[0].min(axes: [0, 2], keepDims: true) }
        check([[2, 3, 4]]) { $0[0].max(axes: [1, 2]) }
    }
    func testVariance() {
        check([[3, 4]]) { $0[0].variance() }
        check([[3, 4]]) { $0[0].variance(axes: [1]) }
        check([[3, 4]]) { $0[0].variance(axes: [0], correction: 0, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].variance(axes: [0, 2]) }
        check([[3, 4]]) { $0[0].standardDeviation(axes: [1]) }
    }
    func testLogSumExp() {
        check([[3, 4]]) { $0[0].logSumExp() }
        check([[3, 4]]) { $0[0].logSumExp(axis: 1) }
        check([[3, 4]]) { $0[0].logSumExp(axis: 0, keepDims: true) }
        check([[2, 3, 4]]) { $0[0].logSumExp(axes: [0, 2]) }
        check([[3, 4]]) { ($0[0] * 40).logSumExp(axis: 1) }   // large values: stable path
    }
    func testSumToShape() {
        check([[2, 3, 4]]) { $0[0].sum(toShape: [3, 1]) }
        check([[2, 3, 4]]) { $0[0].sum(toShape: [1, 1, 4]) }
    }

    // MARK: Shape operations

    func testReshape() {
        check([[2, 3, 4]]) { $0[0].reshaped(4, 6) * $0[0].reshaped(4, 6).sin() }
        check([[2, 3, 4]]) { $0[0].reshaped([-1, 2]) }
        check([[2, 3]]) { $0[0].reshaped([6]) }
    }
    func testFlatten() {
        check([[2, 3, 4]]) { $0[0].flattened() }
        check([[2, 3, 4]]) { $0[0].flattened(startAxis: 1) }
        check([[2, 3, 4]]) { $0[0].flattened(startAxis: 0, endAxis: 1) }
        check([[]]) { $0[0].flattened() }
    }
    func testSqueezeUnsqueeze() {
        check([[2, 1, 3, 1]]) { $0[0].squeezed() }
        check([[2, 1, 3, 1]]) { $0[0].squeezed(axis: 1) }
        check([[2, 1, 3, 1]]) { $0[0].squeezed(axis: -1) }
        check([[2, 3]]) { $0[0].unsqueezed(axis: 0) }
        check([[2, 3]]) { $0[0].unsqueezed(axis: -1) }
        check([[2, 3]]) { $0[0].unsqueezed(axis: 1) * $0[0] }
    }
    func testTransposePermute() {
        check([[2, 3]]) { $0[0].T }
        check([[2, 3, 4]]) { $0[0].transposed() }
        check([[2, 3, 4]]) { $0[0].transposed(0, 2) }
        check([[2, 3, 4]]) { $0[0].permuted(2, 0, 1) }
        check([[2, 3, 4]]) { $0[0].permuted([1, 2, 0]) * 2 }
        check([[2, 3, 4, 2]]) { $0[0].permuted(3, 1, 0, 2) }
    }
    func testBroadcastTo() {
        check([[3]]) { $0[0].broadcast(to: [2, 3]) }
        check([[2, 1]]) { $0[0].broadcast(to: [2, 3]) }
        check([[]]) { $0[0].broadcast(to: [2, 2]) }
        check([[1, 3]]) { $0[0].broadcast(to: [4, 2, 3]) }
        check([[2, 1, 3]]) { $0[0].broadcast(to: [5, 2, 4, 3]) }
    }
    func testSlicing() {
        check([[5, 4]]) { $0[0][1..<3] }
        check([[5, 4]]) { $0[0][0] }
        check([[5, 4]]) { $0[0][-1] }
        check([[5, 4]]) { $0[0][TensorIndex.all, 2] }
        check([[5, 4]]) { $0[0][2, 3] }
        check([[5, 4]]) { $0[0][TensorIndex.every(2)] }
        check([[5, 4]]) { $0[0][TensorIndex.r(0..<5, step: 3), 1..<3] }
        check([[5, 4]]) { $0[0][1...3, ..<2] }
        check([[5, 4]]) { $0[0][2...] }
        check([[5, 4, 3]]) { $0[0][1, TensorIndex.all, TensorIndex.every(2)] }
        check([[5, 4]]) { $0[0].slice(axis: 1, 1, nil, step: 2) }
        check([[5, 4]]) { $0[0].slice(axis: 0, -3) }
        // Overlapping slices of one tensor: contributions add up.
        check([[6]]) { $0[0][0..<4] * $0[0][2..<6] }
    }
    func testIndexSelect() {
        check([[4, 3]]) { $0[0].indexSelect(axis: 0, [2, 0, 2, 2]) }
        check([[4, 3]]) { $0[0].indexSelect(axis: 1, [1, 1, 0]) }
        check([[2, 4, 3]]) { $0[0].indexSelect(axis: -2, [3, 0]) }
        check([[5, 3]]) { $0[0].indexSelect(axis: 0, Tensor([1, 4, 1, 0] as [Double], shape: [2, 2]).to($0[0].dtype)) }
    }
    func testGather() {
        let i1 = Tensor([0, 2, 2, 1, 1, 1] as [Double], shape: [2, 3])
        check([[2, 3]]) { $0[0].gather(axis: 1, i1.to($0[0].dtype)) }
        let i0 = Tensor([1, 0, 1, 1] as [Double], shape: [2, 2])
        check([[2, 3]]) { $0[0].gather(axis: 0, i0.to($0[0].dtype)) }
        let i2 = Tensor([0, 0, 1, 1] as [Double], shape: [2, 2, 1])
        check([[2, 3, 2]]) { $0[0].gather(axis: 2, i2.to($0[0].dtype)) }
    }
    func testConcatenate() {
        check([[2, 3], [1, 3], [3, 3]]) { Tensor.concatenate($0, axis: 0) }
        check([[2, 3], [2, 1], [2, 2]]) { Tensor.concatenate($0, axis: 1) }
        check([[2, 3, 1], [2, 3, 2]]) { Tensor.concatenate($0, axis: -1) }
        check([[2, 3]]) { Tensor.concatenate([$0[0], $0[0] * 2], axis: 0) }
    }
    func testStack() {
        check([[2, 3], [2, 3], [2, 3]]) { Tensor.stack($0, axis: 0) }
        check([[2, 3], [2, 3]]) { Tensor.stack($0, axis: 1) }
        check([[2, 3], [2, 3]]) { Tensor.stack($0, axis: -1) }
        check([[], []]) { Tensor.stack($0) }
    }
    /// Joins pieces back with distinct weights so each piece's gradient is distinguishable.
    static func weighted(_ parts: [Tensor]) -> Tensor {
        Tensor.stack(parts.enumerated().map { (i, p) in (p * Double(i + 1)).sin().sum() })
    }
    func testSplitChunk() {
        check([[6, 2]]) { Self.weighted($0[0].split(sizes: [1, 3, 2])) }
        check([[2, 5]]) { Self.weighted($0[0].split(sizes: [2, 0, 3], axis: 1)) }
        check([[7, 2]]) { Self.weighted($0[0].chunked(3)) }
        check([[2, 6]]) { Self.weighted($0[0].chunked(2, axis: -1)) }
        // Only some pieces used: the others get zero gradient.
        check([[6, 2]]) { $0[0].split(sizes: [2, 4])[1] }
    }
    func testPadded() {
        check([[2, 3]]) { $0[0].padded([(1, 2), (0, 1)]) }
        check([[2, 3]]) { $0[0].padded([(2, 0)], value: 1.5) }
        check([[2, 3, 2]]) { $0[0].padded([(0, 0), (1, 1), (2, 0)], value: -1) }
    }

    // MARK: Linear algebra

    func testMatmul() {
        check([[4], [4]]) { $0[0].matmul($0[1]) }             // vector · vector
        check([[3, 4], [4]]) { $0[0].matmul($0[1]) }          // matrix · vector
        check([[4], [4, 5]]) { $0[0].matmul($0[1]) }          // vector · matrix
        check([[3, 4], [4, 5]]) { $0[0].matmul($0[1]) }       // matrix · matrix
        check([[2, 3, 4], [2, 4, 5]]) { $0[0].matmul($0[1]) } // batched
        check([[2, 3, 4], [4, 5]]) { $0[0].matmul($0[1]) }    // [B,m,k]·[k,n]
        check([[3, 4], [2, 4, 5]]) { $0[0].matmul($0[1]) }    // [m,k]·[B,k,n]
        check([[2, 1, 3, 4], [3, 4, 2]]) { $0[0].matmul($0[1]) } // batch dims broadcast both ways
        check([[2, 3, 4], [4]]) { $0[0].matmul($0[1]) }       // batched matrix · vector
        check([[4], [2, 4, 5]]) { $0[0].matmul($0[1]) }       // vector · batched matrix
        check([[3, 4]]) { $0[0].matmul($0[0].T) }            // same tensor on both sides
        check([[1, 1], [1, 1]]) { $0[0].matmul($0[1]) }
    }
    func testOuterDot() {
        check([[3], [4]]) { $0[0].outer($0[1]) }
        check([[4], [4]]) { $0[0].dot($0[1]) }
        check([[4]]) { $0[0].dot($0[0]) }
    }

    // MARK: Composites

    func testComposites() {
        check([[4, 3], [3, 2], [2]]) { xs in (xs[0].matmul(xs[1]) + xs[2]).tanh().logSumExp(axis: 1) }
        check([[3, 4]]) { xs in xs[0] - xs[0].logSumExp(axis: 1, keepDims: true) }
        check([[3, 4]]) { xs in
            let mu = xs[0].mean(axis: -1, keepDims: true)
            return (xs[0] - mu) / (xs[0].variance(axes: [-1], correction: 0, keepDims: true) + 1e-5).sqrt()
        }
        check([[2, 3]]) { xs in 0.5 * xs[0] * (1 + (xs[0] / 2.0.squareRoot()).erf()) }
    }
}
