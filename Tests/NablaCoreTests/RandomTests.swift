import XCTest
import NablaCore

/// The random generator: determinism, and the first values checked against an
/// independent pure-Python implementation of SplitMix64 seeding + xoshiro256**
/// (`Scripts/reference_random.py`, written from Vigna's published C code; its output is
/// pasted below).
final class RandomTests: XCTestCase {

    typealias Expected = (seed: UInt64, state: [UInt64], raw: [UInt64], doubles: [Double], ints: [Int], normals: [Double])

    /// Output of `python3 Scripts/reference_random.py`. The bounds used for `ints` are
    /// [10, 3, 1000, 7, 2, 1 << 40].
    static let expected: [Expected] = [
        (0x0, state: [0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec],
         raw: [0x99ec5f36cb75f2b4, 0xbf6e1f784956452a, 0x1a5f849d4933e6e0, 0x6aa594f1262d2d2c, 0xbba5ad4a1f842e59, 0xffef8375d9ebcaca],
         doubles: [0.6012629994179048, 0.7477740925472398, 0.10301998939503632, 0.4165890778296456],
         ints: [6, 2, 103, 2, 1, 1099235030489],
         normals: [0.5981026483626094, 1.4634599192204392, -0.8950525532379914, -0.1880627660388742, -2.415606685712082]),
        (0x2a, state: [0xbdd732262feb6e95, 0x28efe333b266f103, 0x47526757130f9f52, 0x581ce1ff0e4ae394],
         raw: [0x15780b2e0c2ec716, 0x6104d9866d113a7e, 0xae17533239e499a1, 0xecb8ad4703b360a1, 0xfde6dc7fe2ec5e64, 0xc50da53101795238],
         doubles: [0.08386297105988216, 0.3789802506626686, 0.6800434110281394, 0.9246929453253876],
         ints: [0, 1, 680, 6, 1, 846337487105],
         normals: [-0.7262191382447857, -0.21119691823195985, 0.2216227015035933, 0.5227716877560146, 0.46417731016247366]),
        (0xffffffffffffffff, state: [0xe4d971771b652c20, 0xe99ff867dbf682c9, 0x382ff84cb27281e9, 0x6d1db36ccba982d2],
         raw: [0x8f5520d52a7ead08, 0xc476a018caa1802d, 0x81de31c0d260469e, 0xbf658d7e065f3c2f, 0x913593fda1bca32a, 0xbb535e93941ba525],
         doubles: [0.5598927040505212, 0.7674350796247662, 0.5072966666942884, 0.7476433212926822],
         ints: [5, 2, 507, 5, 1, 804557591444],
         normals: [0.33891515568206826, 1.513336274972966, 0.04935886182127198, 1.6752022517644154, 0.4756069443760676]),
    ]
    static let intBounds = [10, 3, 1000, 7, 2, 1 << 40]

    func testStateFromSplitMix64() {
        for e in Self.expected {
            XCTAssertEqual(RandomGenerator(seed: e.seed).state, e.state, "seed \(e.seed)")
        }
    }

    func testRawOutputsMatchReference() {
        for e in Self.expected {
            let g = RandomGenerator(seed: e.seed)
            XCTAssertEqual((0..<e.raw.count).map { _ in g.next() }, e.raw, "seed \(e.seed)")
        }
    }

    func testDoublesMatchReference() {
        for e in Self.expected {
            let g = RandomGenerator(seed: e.seed)
            // Bit-identical: (x >> 11) · 2⁻⁵³ is exact.
            XCTAssertEqual((0..<e.doubles.count).map { _ in g.nextDouble() }, e.doubles, "seed \(e.seed)")
        }
    }

    func testIntegersMatchReference() {
        for e in Self.expected {
            let g = RandomGenerator(seed: e.seed)
            XCTAssertEqual(Self.intBounds.map { g.nextInt(below: $0) }, e.ints, "seed \(e.seed)")
        }
    }

    func testNormalsMatchReference() {
        // The Swift side uses its own portable logarithm; Python uses libm: allow 1e-13.
        for e in Self.expected {
            let g = RandomGenerator(seed: e.seed)
            for (i, z) in e.normals.enumerated() {
                XCTAssertEqual(g.nextNormal(), z, accuracy: 1e-13 * Swift.max(1, Swift.abs(z)), "seed \(e.seed) normal \(i)")
            }
        }
    }

    func testUniformTensorUsesTheStream() {
        let e = Self.expected[1]
        let t = Tensor.randomUniform([2, 2], low: -1, high: 3, dtype: .float64, generator: RandomGenerator(seed: e.seed))
        XCTAssertEqual(t.shape, [2, 2])
        XCTAssertEqual(t.doubles, e.doubles.map { -1 + 4 * $0 })
        let f = Tensor.randomUniform([4], generator: RandomGenerator(seed: e.seed))
        XCTAssertEqual(f.dtype, .float32)
        XCTAssertEqual(f.floats, e.doubles.map { Float($0) })
    }

    func testNormalTensorUsesTheStream() {
        let e = Self.expected[0]
        let t = Tensor.randomNormal([5], mean: 2, std: 0.5, dtype: .float64, generator: RandomGenerator(seed: e.seed))
        for (a, z) in zip(t.doubles, e.normals) { XCTAssertEqual(a, 2 + 0.5 * z, accuracy: 1e-12) }
    }

    func testSameSeedIsBitIdentical() {
        for dtype in [DType.float32, .float64] {
            let a = Tensor.randomNormal([3, 50], dtype: dtype, generator: RandomGenerator(seed: 99))
            let b = Tensor.randomNormal([3, 50], dtype: dtype, generator: RandomGenerator(seed: 99))
            XCTAssertTrue(a.equals(b))
            let c = Tensor.randomNormal([3, 50], dtype: dtype, generator: RandomGenerator(seed: 100))
            XCTAssertFalse(a.equals(c))
        }
        Random.seed(1234)
        let u1 = Tensor.randomUniform([100], dtype: .float64), b1 = Tensor.randomBernoulli([100], p: 0.3)
        let p1 = RandomGenerator.global.permutation(20)
        Random.seed(1234)
        let u2 = Tensor.randomUniform([100], dtype: .float64), b2 = Tensor.randomBernoulli([100], p: 0.3)
        let p2 = RandomGenerator.global.permutation(20)
        XCTAssertTrue(u1.equals(u2))
        XCTAssertTrue(b1.equals(b2))
        XCTAssertEqual(p1, p2)
        XCTAssertEqual(u1.doubles.map { $0.bitPattern }, u2.doubles.map { $0.bitPattern })
    }

    func testStateRoundTrip() {
        let g = RandomGenerator(seed: 5)
        _ = (0..<10).map { _ in g.next() }
        let saved = g.state
        let a = (0..<5).map { _ in g.next() }
        let h = RandomGenerator(seed: 77)
        h.state = saved
        XCTAssertEqual((0..<5).map { _ in h.next() }, a)
    }

    func testDistributions() {
        let g = RandomGenerator(seed: 3)
        let n = 20000
        let u = Tensor.randomUniform([n], low: 2, high: 4, dtype: .float64, generator: g)
        XCTAssertTrue(u.doubles.allSatisfy { $0 >= 2 && $0 < 4 })
        XCTAssertEqual(u.mean().item(), 3, accuracy: 0.03)
        let z = Tensor.randomNormal([n], mean: 1, std: 2, dtype: .float64, generator: g)
        XCTAssertEqual(z.mean().item(), 1, accuracy: 0.06)
        XCTAssertEqual(z.standardDeviation().item(), 2, accuracy: 0.06)
        let b = Tensor.randomBernoulli([n], p: 0.25, dtype: .float64, generator: g)
        XCTAssertTrue(b.doubles.allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertEqual(b.mean().item(), 0.25, accuracy: 0.015)
        let p = g.permutation(50)
        XCTAssertEqual(p.sorted(), Array(0..<50))
        XCTAssertNotEqual(p, Array(0..<50))
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[g.nextInt(below: 7)] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > 850 && $0 < 1150 }, "\(counts)")
    }
}
