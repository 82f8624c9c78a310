import Foundation
import XCTest
import NablaCore
@testable import NablaData

final class DatasetTests: XCTestCase {
    /// 10 examples; input i is [i, 10·i], target i.
    func tenExamples() -> TensorDataset {
        let x = (0..<10).flatMap { [Float($0), Float(10 * $0)] }
        return TensorDataset(inputs: Tensor(x, shape: [10, 2]), targets: Tensor((0..<10).map { Float($0) }), name: "ten", classCount: 10)
    }

    func ids(_ b: Batch) -> [Int] { b.targets.floats.map { Int($0) } }

    // MARK: DataLoader

    func testBatchCountsAndDropLast() {
        let d = tenExamples()
        let l3 = DataLoader(d, batchSize: 3)
        XCTAssertEqual(l3.count, 4)
        XCTAssertEqual(Array(l3).map(\.count), [3, 3, 3, 1])
        XCTAssertEqual(Array(l3).flatMap(ids), Array(0..<10))
        let drop = DataLoader(d, batchSize: 3, dropLast: true)
        XCTAssertEqual(drop.count, 3)
        XCTAssertEqual(Array(drop).map(\.count), [3, 3, 3])
        XCTAssertEqual(DataLoader(d, batchSize: 5).count, 2)
        XCTAssertEqual(DataLoader(d, batchSize: 5, dropLast: true).count, 2)
        XCTAssertEqual(DataLoader(d, batchSize: 11).count, 1)
        XCTAssertEqual(DataLoader(d, batchSize: 11, dropLast: true).count, 0)
        XCTAssertEqual(Array(DataLoader(d, batchSize: 11, dropLast: true)).count, 0)
        // Inputs stay paired with targets.
        for b in DataLoader(d, batchSize: 4, shuffle: true, generator: RandomGenerator(seed: 3)) {
            let x = b.inputs.floats
            for (k, t) in ids(b).enumerated() { XCTAssertEqual(x[2 * k], Float(t)); XCTAssertEqual(x[2 * k + 1], Float(10 * t)) }
        }
    }

    func testShuffleVisitsEveryExampleOncePerEpochAndIsSeeded() {
        let d = tenExamples()
        let a = DataLoader(d, batchSize: 4, shuffle: true, generator: RandomGenerator(seed: 9))
        let b = DataLoader(d, batchSize: 4, shuffle: true, generator: RandomGenerator(seed: 9))
        var epochsA: [[Int]] = [], epochsB: [[Int]] = []
        for _ in 0..<3 {
            epochsA.append(Array(a).flatMap(ids))
            epochsB.append(Array(b).flatMap(ids))
        }
        XCTAssertEqual(epochsA, epochsB)
        for e in epochsA { XCTAssertEqual(e.sorted(), Array(0..<10)) }
        XCTAssertNotEqual(epochsA[0], epochsA[1], "each epoch draws a new order")
        XCTAssertNotEqual(epochsA.filter { $0 == Array(0..<10) }.count, 3)
        let c = DataLoader(d, batchSize: 4, shuffle: true, generator: RandomGenerator(seed: 10))
        XCTAssertNotEqual(Array(c).flatMap(ids), epochsA[0])
        // With drop-last a shuffled epoch has distinct examples and only full batches.
        let dl = DataLoader(d, batchSize: 4, shuffle: true, dropLast: true, generator: RandomGenerator(seed: 1))
        let seen = Array(dl).flatMap(ids)
        XCTAssertEqual(seen.count, 8)
        XCTAssertEqual(Set(seen).count, 8)
    }

    // MARK: splits and scalers

    func testSplitPartitionsTheData() {
        let d = tenExamples()
        let parts = d.split([0.7, 0.3], generator: RandomGenerator(seed: 4))
        XCTAssertEqual(parts.map(\.count), [7, 3])
        let all = parts.flatMap { $0.targets.floats.map { Int($0) } }
        XCTAssertEqual(all.sorted(), Array(0..<10))
        XCTAssertEqual(parts[0].classCount, 10)
        XCTAssertEqual(d.split([0.7, 0.3], generator: RandomGenerator(seed: 4)).map { $0.targets.floats }, parts.map { $0.targets.floats })
        let ordered = d.split([0.5, 0.5], generator: nil)
        XCTAssertEqual(ordered[0].targets.floats, [0, 1, 2, 3, 4])
        XCTAssertEqual(ordered[1].targets.floats, [5, 6, 7, 8, 9])
        // Fractions summing below 1 leave the rest out.
        XCTAssertEqual(d.split([0.2, 0.3], generator: nil).map(\.count), [2, 3])
        XCTAssertEqual(d.split([0.3333, 0.3333, 0.3334]).map(\.count).reduce(0, +), 10)
    }

    func testScalersAreFittedOnTrainOnly() {
        // Train: feature 0 = 1, 2, 3 (mean 2, population std √(2/3)); feature 1 constant 5.
        let train = Tensor([1, 5, 2, 5, 3, 5] as [Float], shape: [3, 2])
        let test = Tensor([4, 7] as [Float], shape: [1, 2])
        let s = StandardScaler(fitting: train)
        XCTAssertEqual(s.mean, [2, 5])
        XCTAssertEqual(s.std[0], (2.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.std[1], 1) // constant feature: divided by 1
        let tt = s.transform(test).floats
        XCTAssertEqual(tt[0], Float(2 / (2.0 / 3).squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(tt[1], 2, accuracy: 1e-6)
        let st = s.transform(train).doubles
        XCTAssertEqual(st[0] + st[2] + st[4], 0, accuracy: 1e-6)

        let m = MinMaxScaler(fitting: train)
        XCTAssertEqual(m.minimum, [1, 5])
        XCTAssertEqual(m.range, [2, 1])
        XCTAssertEqual(m.transform(train).floats, [0, 0, 0.5, 0, 1, 0])
        XCTAssertEqual(m.transform(test).floats, [1.5, 2]) // test values outside [0, 1] stay outside
    }

    func testOneHot() {
        let o = oneHot(Tensor([2, 0, 1] as [Float]), classes: 3)
        XCTAssertEqual(o.shape, [3, 3])
        XCTAssertEqual(o.floats, [0, 0, 1, 1, 0, 0, 0, 1, 0])
    }

    // MARK: synthetic generators

    func checkClassification(_ d: TensorDataset, count: Int, features: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(d.inputs.shape, [count, features], file: file, line: line)
        XCTAssertEqual(d.targets.shape, [count], file: file, line: line)
        XCTAssertEqual(d.classCount, 2, file: file, line: line)
        XCTAssertTrue(d.targets.floats.allSatisfy { $0 == 0 || $0 == 1 }, file: file, line: line)
        XCTAssertTrue(d.inputs.floats.allSatisfy(\.isFinite), file: file, line: line)
        XCTAssertEqual(Set(d.targets.floats), [0, 1], "both classes present", file: file, line: line)
    }

    func testSyntheticGeneratorsShapesLabelsAndDeterminism() {
        typealias Gen = (UInt64) -> TensorDataset
        let gens: [(String, Int, Int, Gen)] = [
            ("xor", 100, 2, { Synthetic.xor(count: 100, seed: $0) }),
            ("ring", 300, 2, { Synthetic.ring(count: 300, seed: $0) }),
            ("three-modes", 90, 2, { Synthetic.threeModes(count: 90, seed: $0) }),
            ("spirals", 100, 2, { Synthetic.twoSpirals(count: 100, seed: $0) }),
            ("moons", 100, 2, { Synthetic.twoMoons(count: 100, seed: $0) }),
        ]
        for (name, n, f, g) in gens {
            let a = g(1), b = g(1), c = g(2)
            checkClassification(a, count: n, features: f)
            XCTAssertEqual(a.inputs.floats, b.inputs.floats, name)
            XCTAssertEqual(a.targets.floats, b.targets.floats, name)
            XCTAssertNotEqual(a.inputs.floats, c.inputs.floats, name)
        }
        for (name, g) in [("sine", { Synthetic.sine(count: 50, seed: $0) }), ("piecewise", { Synthetic.piecewiseLinear(count: 50, seed: $0) })] as [(String, Gen)] {
            let a = g(1)
            XCTAssertEqual(a.inputs.shape, [50, 1], name)
            XCTAssertEqual(a.targets.shape, [50], name)
            XCTAssertNil(a.classCount, name)
            XCTAssertEqual(a.inputs.floats, g(1).inputs.floats, name)
            XCTAssertNotEqual(a.inputs.floats, g(2).inputs.floats, name)
        }
        let lin = Synthetic.linear(count: 40, inputs: 3, outputs: 2, seed: 5)
        XCTAssertEqual(lin.data.inputs.shape, [40, 3])
        XCTAssertEqual(lin.data.targets.shape, [40, 2])
        XCTAssertEqual(lin.K.shape, [2, 3])
        XCTAssertEqual(lin.b.shape, [2])
        XCTAssertEqual(Synthetic.linear(count: 40, seed: 5).data.targets.shape, [40])
        XCTAssertEqual(Synthetic.linear(count: 40, inputs: 3, outputs: 2, seed: 5).data.targets.floats, lin.data.targets.floats)
        for name in Synthetic.names { XCTAssertNotNil(Synthetic.named(name, seed: 1), name) }
        XCTAssertNil(Synthetic.named("nope"))
    }

    func testSyntheticLabelsFollowTheirDefinitions() {
        // Ring: class 1 exactly when 1 ≤ ‖x‖ ≤ 2, points in [−3, 3]².
        let ring = Synthetic.ring(count: 500, seed: 3)
        let x = ring.inputs.doubles, y = ring.targets.floats
        for i in 0..<500 {
            let r = (x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1]).squareRoot()
            XCTAssertTrue(abs(x[2 * i]) <= 3 && abs(x[2 * i + 1]) <= 3)
            if abs(r - 1) > 1e-5 && abs(r - 2) > 1e-5 { XCTAssertEqual(y[i], r >= 1 && r <= 2 ? 1 : 0, "example \(i), r = \(r)") }
        }
        // XOR with zero noise: inputs are exact corners, label a XOR b.
        let xor = Synthetic.xor(count: 64, noise: 0, seed: 1)
        let xx = xor.inputs.floats, xy = xor.targets.floats
        for i in 0..<64 {
            XCTAssertTrue([0, 1].contains(xx[2 * i]) && [0, 1].contains(xx[2 * i + 1]))
            XCTAssertEqual(xy[i], xx[2 * i] != xx[2 * i + 1] ? 1 : 0)
        }
        // Parity: all 2ⁿ patterns, label = odd number of +1 entries.
        let p = Synthetic.parity(bits: 3)
        XCTAssertEqual(p.inputs.shape, [8, 3])
        let px = p.inputs.floats, py = p.targets.floats
        var patterns = Set<[Float]>()
        for i in 0..<8 {
            let row = Array(px[3 * i..<3 * i + 3])
            patterns.insert(row)
            XCTAssertEqual(py[i], Float(row.filter { $0 == 1 }.count % 2))
        }
        XCTAssertEqual(patterns.count, 8)
        // Sine with no noise: y = sin(x), x in [−π, π].
        let s = Synthetic.sine(count: 30, seed: 2)
        for (xv, yv) in zip(s.inputs.doubles, s.targets.doubles) {
            XCTAssertTrue(abs(xv) <= Double.pi + 1e-6)
            XCTAssertEqual(yv, sin(xv), accuracy: 1e-5)
        }
        // Piecewise: through the knots (-1, 2) and (0, 0.5): at x = -0.5 the value is 1.25.
        XCTAssertEqual(Synthetic.piecewiseCurve(-0.5), 1.25, accuracy: 1e-12)
        XCTAssertEqual(Synthetic.piecewiseCurve(-10), 0)
        XCTAssertEqual(Synthetic.piecewiseCurve(10), -1)
        // Linear with no noise: y = K x + b exactly (up to float32 rounding).
        let lin = Synthetic.linear(count: 20, inputs: 2, outputs: 1, noise: 0, seed: 4)
        let K = lin.K.doubles, b = lin.b.doubles, lx = lin.data.inputs.doubles, ly = lin.data.targets.doubles
        for i in 0..<20 { XCTAssertEqual(ly[i], K[0] * lx[2 * i] + K[1] * lx[2 * i + 1] + b[0], accuracy: 1e-5) }
        // Three modes: class 1 around the origin, class 0 around x = ±3.
        let tm = Synthetic.threeModes(count: 300, spread: 0.5, seed: 1)
        let tx = tm.inputs.doubles, ty = tm.targets.floats
        var mean1 = 0.0, n1 = 0.0
        for i in 0..<300 where ty[i] == 1 { mean1 += tx[2 * i]; n1 += 1 }
        XCTAssertEqual(n1, 100)
        XCTAssertEqual(mean1 / n1, 0, accuracy: 0.2)
    }

    // MARK: built-in data sets

    func testDigitsDataset() throws {
        let d = try Datasets.digits()
        XCTAssertEqual(d.inputs.shape, [1797, 64])
        XCTAssertEqual(d.targets.shape, [1797])
        XCTAssertEqual(d.classCount, 10)
        XCTAssertEqual(d.task, .classification)
        XCTAssertEqual(Set(d.targets.floats), Set((0..<10).map(Float.init)))
    }

    func testCSVClassificationAndRegression() throws {
        let dir = NSTemporaryDirectory() + "nabla-ds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/d.csv"
        try "a,label,b\n1,2,3.5\n4,0,6\n7,1,-9\n".write(toFile: path, atomically: true, encoding: .utf8)
        let c = try Datasets.csv(path: path, target: .name("label"), task: .classification)
        XCTAssertEqual(c.inputs.shape, [3, 2])
        XCTAssertEqual(c.inputs.floats, [1, 3.5, 4, 6, 7, -9])
        XCTAssertEqual(c.targets.floats, [2, 0, 1])
        XCTAssertEqual(c.classCount, 3)
        let r = try Datasets.csv(path: path, target: .index(-1), task: .regression)
        XCTAssertEqual(r.inputs.floats, [1, 2, 4, 0, 7, 1])
        XCTAssertEqual(r.targets.floats, [3.5, 6, -9])
        XCTAssertNil(r.classCount)
        XCTAssertEqual(r.task, .regression)
        // Real-valued targets are not class indices: the error names the row.
        XCTAssertThrowsError(try Datasets.csv(path: path, target: .index(-1), task: .classification)) {
            XCTAssertTrue("\($0)".contains("row 2"), "\($0)")
        }
        XCTAssertThrowsError(try Datasets.csv(path: path, target: .name("nope"), task: .regression))
    }

    func testFashionMNISTMissingDirectorySaysHowToInstall() {
        XCTAssertThrowsError(try Datasets.fashionMNIST(directory: "/nonexistent-nabla")) {
            XCTAssertTrue("\($0)".contains("apt-get install"), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }
}

/// Synthetic data sets as the CLI names them (hardening issue).
final class SyntheticSizeTests: XCTestCase {
    /// Each one has enough examples that the CLI's default 20 % test split is meaningful
    /// (`--data parity` used to test on 3 examples).
    func testEveryNamedSetHasAMeaningfulTestSplit() throws {
        for name in Synthetic.names {
            let d = try XCTUnwrap(Synthetic.named(name, seed: 0), name)
            XCTAssertGreaterThanOrEqual(d.count / 5, 50, "\(name): \(d.count) examples give a test split of \(d.count / 5)")
        }
    }
}
