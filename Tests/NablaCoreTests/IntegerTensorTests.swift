import XCTest
import NablaCore
import _NablaTestSupport

/// int32, int64, uint8 and bool tensors: creation, promotion, integer arithmetic,
/// comparisons returning bool, `where`, reductions, conversion, and exact indices.
final class IntegerTensorTests: XCTestCase {
    func testCreationFollowsTheSwiftType() {
        XCTAssertEqual(Tensor([1, 2, 3]).dtype, .int64)                 // Swift Int, as torch.tensor([1, 2, 3])
        XCTAssertEqual(Tensor([1, 2] as [Int32]).dtype, .int32)
        XCTAssertEqual(Tensor([7] as [UInt8]).dtype, .uint8)
        XCTAssertEqual(Tensor([true, false]).dtype, .bool)
        XCTAssertEqual(Tensor.zeros([2], dtype: .int64).int64s, [0, 0])
        XCTAssertEqual(Tensor.arange(5, dtype: .int64).int64s, [0, 1, 2, 3, 4])
        XCTAssertEqual(Tensor([true, false]).bools, [true, false])
        XCTAssertEqual(DType.int64.byteSize, 8)
        XCTAssertEqual(DType.bool.byteSize, 1)
    }

    func testInt64IsExactBeyondDoublePrecision() {
        // 2⁶² + 1 is not representable in a Double (53-bit significand): int64 keeps it.
        let big: Int64 = (1 << 62) + 1
        let t = Tensor([big, 1])
        XCTAssertEqual(t.int64s, [big, 1])
        XCTAssertEqual(t.sum().int64s, [big + 1])
        XCTAssertEqual(t.sum().dtype, .int64)
        XCTAssertEqual((t + Tensor([Int64(1), 2])).int64s, [big + 1, 3])
    }

    func testIntegerArithmeticAndPromotion() {
        let a = Tensor([5, -7, 3]), b = Tensor([2, 2, 2])
        XCTAssertEqual((a + b).int64s, [7, -5, 5])
        XCTAssertEqual((a - b).int64s, [3, -9, 1])
        XCTAssertEqual((a * b).int64s, [10, -14, 6])
        XCTAssertEqual((a * b).dtype, .int64)
        // True division, as PyTorch: float32.
        let q = a / b
        XCTAssertEqual(q.dtype, .float32)
        XCTAssertEqual(q.floats, [2.5, -3.5, 1.5])
        // Integral Swift scalars keep the integer dtype; fractional ones give float32.
        XCTAssertEqual((a + 1).dtype, .int64)
        XCTAssertEqual((a + 1).int64s, [6, -6, 4])
        XCTAssertEqual((a * 0.5).dtype, .float32)
        XCTAssertEqual((a * 0.5).floats, [2.5, -3.5, 1.5])
        XCTAssertEqual((-a).int64s, [-5, 7, -3])
        // With a float tensor, the float dtype wins; int32 with int64 gives int64.
        let f = Tensor([0.5, 0.5, 0.5] as [Double])
        XCTAssertEqual((a + f).dtype, .float64)
        XCTAssertEqual((a + f).doubles, [5.5, -6.5, 3.5])
        XCTAssertEqual((Tensor([1, 2] as [Int32]) + Tensor([Int64(10), 20])).dtype, .int64)
        // Bool arithmetic counts as int64.
        XCTAssertEqual((Tensor([true, true, false]) + Tensor([true, false, false])).int64s, [2, 1, 0])
        // Broadcasting.
        XCTAssertEqual((Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]) * Tensor([10, 100, 1000])).int64s, [10, 200, 3000, 40, 500, 6000])
        // Wrap-around, as C and PyTorch integer arithmetic.
        XCTAssertEqual((Tensor([Int32.max]) + Tensor([1] as [Int32])).int64s, [Int64(Int32.min)])
    }

    func testComparisonsReturnBoolAndWhereTakesIt() {
        let x = Tensor([1.5, -2, 0, 3] as [Float])
        let m = x .> 0
        XCTAssertEqual(m.dtype, .bool)
        XCTAssertEqual(m.bools, [true, false, false, true])
        XCTAssertEqual((x .== 0).bools, [false, false, true, false])
        XCTAssertEqual((Tensor([1, 5, 3]) .>= Tensor([2, 5, 1])).bools, [false, true, true])
        XCTAssertEqual((Tensor([1, 2, 3]) .< 2.5).bools, [true, true, false])          // int vs fractional scalar
        XCTAssertEqual((Tensor([200] as [UInt8]) .< 300).bools, [true])                 // no wrap of the scalar
        XCTAssertEqual(((x .> 0) .& (x .< 2)).bools, [true, false, false, false])
        XCTAssertEqual(((x .> 2) .| (x .< -1)).bools, [false, true, false, true])
        XCTAssertEqual((.!m).bools, [false, true, true, false])
        let w = Tensor.where(m, x, Tensor.zeros(like: x))
        XCTAssertEqual(w.floats, [1.5, 0, 0, 3])
        XCTAssertEqual(Tensor.where(Tensor([true, false]), Tensor([1, 2]), Tensor([10, 20])).int64s, [1, 20])
        // Counting with sum, averaging with mean (float32).
        XCTAssertEqual(m.sum().int64s, [2])
        XCTAssertEqual(m.mean().item(), 0.5)
    }

    func testReductionsAndArgmaxAreInt64() {
        let x = Tensor([3, 9, 2, 7, 1, 8], shape: [2, 3])
        XCTAssertEqual(x.sum(axis: 1).int64s, [14, 16])
        XCTAssertEqual(x.max(axis: 0).int64s, [7, 9, 8])
        XCTAssertEqual(x.min().int64s, [1])
        XCTAssertEqual(x.argmax(axis: 1).int64s, [1, 2])
        let f = Tensor([0.1, 0.7, 0.2, 0.9, 0.05, 0.05] as [Float], shape: [2, 3])
        XCTAssertEqual(f.argmax(axis: 1).dtype, .int64)
        XCTAssertEqual(f.argmax(axis: 1).int64s, [1, 0])
        XCTAssertEqual(f.argmin().int64s, [4])
        XCTAssertEqual(Tensor([true, false, true]).sum(axis: 0).int64s, [2])
    }

    func testConversion() {
        // Toward zero, NaN to 0, saturating at the ends of int64 (as torch for in-range values).
        let f = Tensor([-1.7, 1.7, 2.5, -0.2, .nan, 1e300] as [Double])
        XCTAssertEqual(f.to(.int64).int64s, [-1, 1, 2, 0, 0, Int64.max])
        XCTAssertEqual(f.to(.bool).bools, [true, true, true, true, true, true])
        XCTAssertEqual(Tensor([0.0, 2.0] as [Float]).to(.bool).bools, [false, true])
        XCTAssertEqual(Tensor([300, -1]).to(.uint8).int64s, [44, 255])               // wraps, as C casts
        XCTAssertEqual(Tensor([true, false]).to(.float32).floats, [1, 0])
        XCTAssertEqual(Tensor([Int64(1) << 40]).to(.int32).int64s, [0])
        XCTAssertEqual(Tensor([-3] as [Int32]).to(.float64).doubles, [-3])
    }

    /// No gradient flows through integers: a float input's gradient ignores the integer side.
    func testNoGradientThroughIntegers() {
        let w = Tensor([1, 2, 3] as [Double]).requiringGrad()
        let k = Tensor([2, 0, 5])
        let y = (w * k).sum()
        y.backward()
        XCTAssertEqual(w.grad!.doubles, [2, 0, 5])          // ∂(Σ w·k)/∂w = k
        XCTAssertFalse(w.to(.int64).requiresGrad)           // conversion to int leaves the graph
    }

    /// An index at or above 2²⁴ selects the right row through an int64 index tensor (a
    /// float32 index tensor cannot even hold 2²⁴ + 1).
    func testIndicesBeyond2To24() {
        let rows = (1 << 24) + 3
        // Column 0 holds each row's own number modulo 1000, computed independently below.
        var values = [Float](repeating: 0, count: rows)
        for r in stride(from: (1 << 24) - 2, to: rows, by: 1) { values[r] = Float(r % 1000) }
        let table = Tensor(values, shape: [rows, 1])
        let targetRows: [Int64] = [(1 << 24) + 1, (1 << 24) - 1, (1 << 24) + 2]
        let picked = table.indexSelect(axis: 0, Tensor(targetRows))
        XCTAssertEqual(picked.floats, targetRows.map { Float($0 % 1000) })          // 217, 215, 218
        let gathered = table.gather(axis: 0, Tensor(targetRows, shape: [3, 1]))
        XCTAssertEqual(gathered.floats, [217, 215, 218])
    }

    func testIntegerMinimumMaximumAndBoolArgmax() {
        // Exact in the integer dtype (not through negation, which wraps for uint8).
        XCTAssertEqual(Tensor.minimum(Tensor([0, 7] as [UInt8]), Tensor([5, 3] as [UInt8])).int64s, [0, 3])
        XCTAssertEqual(Tensor.minimum(Tensor([Int64.min, 4]), Tensor([Int64(0), 9])).int64s, [Int64.min, 4])
        XCTAssertEqual(Tensor.maximum(Tensor([0, 7] as [UInt8]), Tensor([5, 3] as [UInt8])).int64s, [5, 7])
        XCTAssertEqual(Tensor.minimum(Tensor([0, 7] as [UInt8]), Tensor([5, 3] as [UInt8])).dtype, .uint8)
        // argmax of a long bool vector: the one true element.
        XCTAssertEqual(Tensor((0..<257).map { $0 == 200 }).argmax().int64s, [200])
        // A scalar an int32 tensor cannot hold widens to int64 instead of wrapping.
        XCTAssertEqual((Tensor([1] as [Int32]) + 3e9).int64s, [3_000_000_001])
        XCTAssertEqual(Tensor.randomInt(low: -3, high: 3, shape: [200]).int64s.allSatisfy { $0 >= -3 && $0 < 3 }, true)
    }

    func testEqualsComparesDTypeAndExactIntegers() {
        XCTAssertFalse(Tensor([Int64(1) << 53]).equals(Tensor([(Int64(1) << 53) + 1])))
        XCTAssertFalse(Tensor([1.0] as [Double]).equals(Tensor([true])))
        XCTAssertTrue(Tensor([3, 4]).equals(Tensor([3, 4])))
    }

    func testViewsOfIntegerTensors() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(x.T.int64s, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(x[1].int64s, [4, 5, 6])
        XCTAssertEqual(Tensor([true, false]).broadcast(to: [2, 2]).bools, [true, false, true, false])
        XCTAssertEqual(Tensor.concatenate([x, x], axis: 0).int64s.count, 12)
        XCTAssertEqual(x.reshaped([3, 2]).int64s, [1, 2, 3, 4, 5, 6])
    }
}
