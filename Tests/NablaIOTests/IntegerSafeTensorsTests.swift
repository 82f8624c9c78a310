import Foundation
import XCTest
import NablaCore
import NablaIO

/// Integer and boolean safetensors entries load as their own dtype and write back with
/// the same bytes (BatchNorm's `num_batches_tracked` is an I64 scalar in PyTorch files).
final class IntegerSafeTensorsTests: XCTestCase {
    func testIntegerEntriesRoundTripUnchanged() throws {
        // Little-endian bytes written out by hand: I64 scalar 7, I32 [-2, 3], U8 [0, 255], BOOL [1, 0, 1].
        let i64: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0]
        let i32: [UInt8] = [0xFE, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0]
        let u8: [UInt8] = [0, 255]
        let b: [UInt8] = [1, 0, 1]
        let file = SafeTensorsFile(entries: [
            try SafeTensorEntry(name: "bn.num_batches_tracked", dtype: .int64, shape: [], data: i64),
            try SafeTensorEntry(name: "ids", dtype: .int32, shape: [2], data: i32),
            try SafeTensorEntry(name: "pixels", dtype: .uint8, shape: [2], data: u8),
            try SafeTensorEntry(name: "mask", dtype: .bool, shape: [3], data: b),
        ])
        let decoded = try SafeTensorsFile.decode(try file.encoded())
        let expected: [String: (DType, [Int64])] = [
            "bn.num_batches_tracked": (.int64, [7]), "ids": (.int32, [-2, 3]),
            "pixels": (.uint8, [0, 255]), "mask": (.bool, [1, 0, 1]),
        ]
        for entry in decoded.entries {
            let t = entry.tensor()
            let (dtype, values) = expected[entry.name]!
            XCTAssertEqual(t.dtype, dtype, entry.name)
            XCTAssertEqual(t.int64s, values, entry.name)
            // Back to an entry: same dtype, shape and bytes.
            let again = try SafeTensorEntry(name: entry.name, tensor: t)
            XCTAssertEqual(again, entry, entry.name)
        }
        XCTAssertEqual(decoded["bn.num_batches_tracked"]!.tensor().shape, [])
    }

    func testI64BeyondDoublePrecisionSurvives() throws {
        let v: Int64 = (1 << 60) + 3   // not a Double
        let e = try SafeTensorEntry(name: "step", shape: [1], int64s: [v])
        XCTAssertEqual(e.tensor().int64s, [v])
        XCTAssertEqual(try SafeTensorEntry(name: "step", tensor: e.tensor()), e)
    }
}
