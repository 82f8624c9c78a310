import Foundation
import XCTest
import NablaCore
import NablaData

/// Reads the real Fashion-MNIST files when Debian's `dataset-fashion-mnist` is installed
/// (CI installs it); skipped otherwise.
final class FashionMNISTTests: XCTestCase {
    func testLoadsTheInstalledDataSet() throws {
        guard FileManager.default.fileExists(atPath: Datasets.defaultFashionMNISTDirectory + "/train-labels-idx1-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
        }
        let (train, test) = try Datasets.fashionMNIST()
        XCTAssertEqual(train.inputs.shape, [60000, 1, 28, 28])
        XCTAssertEqual(test.inputs.shape, [10000, 1, 28, 28])
        // The published data set is balanced: 6,000 training and 1,000 test images per class.
        var trainCounts = [Int](repeating: 0, count: 10), testCounts = [Int](repeating: 0, count: 10)
        for v in train.targets.integerValues(op: "test") { trainCounts[v] += 1 }
        for v in test.targets.integerValues(op: "test") { testCounts[v] += 1 }
        XCTAssertEqual(trainCounts, [Int](repeating: 6000, count: 10))
        XCTAssertEqual(testCounts, [Int](repeating: 1000, count: 10))
        // Pixels are scaled to [0, 1].
        XCTAssertEqual(train.inputs.min().item(), 0)
        XCTAssertEqual(train.inputs.max().item(), 1)
    }
}
