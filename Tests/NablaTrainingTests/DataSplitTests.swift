import XCTest
import NablaCore
import NablaData
import NablaTraining

/// The one place train/test and train/validation splits are drawn from a seed.
final class DataSplitTests: XCTestCase {
    /// Ten examples whose input is their own index, so a split shows which went where.
    let data = TensorDataset(inputs: Tensor((0..<10).map(Double.init), shape: [10, 1]),
                             targets: Tensor((0..<10).map { $0 % 2 }), name: "ten", classCount: 2)

    func indices(_ d: TensorDataset) -> [Int] { d.inputs.doubles.map { Int($0) } }

    func testSameSeedSameSplitsAndPartsPartitionTheData() throws {
        let a = try DataSplit(seed: 7, testFraction: 0.3).trainTest(data)
        let b = try DataSplit(seed: 7, testFraction: 0.3).trainTest(data)
        XCTAssertEqual(indices(a.test), indices(b.test))
        XCTAssertEqual(a.test.count, 3)
        XCTAssertEqual(Set(indices(a.train) + indices(a.test)), Set(0..<10))
        let c = try DataSplit(seed: 8, testFraction: 0.3).trainTest(data)
        XCTAssertNotEqual(indices(a.test), indices(c.test), "a different seed should draw a different test set")
        // Validation is split off the training part; the labels stay int64 class indices.
        let (train, validation) = try DataSplit(seed: 7, validationFraction: 0.2).trainValidation(data)
        XCTAssertEqual(validation?.count, 2)
        XCTAssertEqual(train.count, 8)
        XCTAssertEqual(train.targets.dtype, .int64)
        XCTAssertNil(try DataSplit(validationFraction: 0).trainValidation(data).validation)
    }

    func testImpossibleSplitsThrowClearly() {
        let two = data.subset([0, 1])
        XCTAssertThrowsError(try DataSplit(testFraction: 0.01).trainTest(two)) { e in
            XCTAssertTrue("\(e)".contains("too few examples (2)"), "\(e)")
        }
        XCTAssertThrowsError(try DataSplit(testFraction: 1.5).trainTest(data)) { e in
            XCTAssertTrue("\(e)".contains("between 0 and 1"), "\(e)")
        }
    }
}
