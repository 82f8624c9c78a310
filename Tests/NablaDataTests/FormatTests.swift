import Foundation
import XCTest
@testable import NablaData

final class FormatTests: XCTestCase {
    private func assertError<T>(_ body: @autoclosure () throws -> T, _ fragments: [String],
                                file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "error should be one line: \(text)", file: file, line: line)
            for f in fragments {
                XCTAssertTrue(text.contains(f), "'\(text)' should contain '\(f)'", file: file, line: line)
            }
        }
    }

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-fmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    // MARK: gzip

    func testGzipRoundTripAndMultiMember() throws {
        let text = Array(String(repeating: "nabla gzip ", count: 5000).utf8)
        let z = try Gzip.compress(text)
        XCTAssertTrue(Gzip.isGzipped(z))
        XCTAssertLessThan(z.count, text.count / 10)
        XCTAssertEqual(try Gzip.decompress(z), text)
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress([])), [])
        // Two members concatenated (as `cat a.gz b.gz`), then zero padding.
        let two = try Gzip.compress(Array("hello ".utf8)) + Gzip.compress(Array("world".utf8)) + [0, 0, 0]
        XCTAssertEqual(String(decoding: try Gzip.decompress(two), as: UTF8.self), "hello world")
    }

    func testGzipErrors() throws {
        let z = try Gzip.compress(Array(String(repeating: "0123456789", count: 1000).utf8))
        assertError(try Gzip.decompress(Array(z.prefix(z.count / 2)), source: "x.gz"), ["x.gz: truncated gzip stream"])
        assertError(try Gzip.decompress(Array(z.dropLast(4)), source: "x.gz"), ["truncated gzip stream"])
        var corrupt = z
        corrupt[12] ^= 0xff
        corrupt[13] ^= 0x5a
        assertError(try Gzip.decompress(corrupt, source: "x.gz"), ["x.gz: corrupt gzip stream"])
        var badCRC = z
        badCRC[badCRC.count - 6] ^= 1
        assertError(try Gzip.decompress(badCRC, source: "x.gz"), ["x.gz: corrupt gzip stream", "incorrect data check"])
        assertError(try Gzip.decompress(z + [1, 2, 3], source: "x.gz"), ["unexpected data after the gzip stream at byte offset \(z.count)"])
        assertError(try Gzip.decompress([1, 2, 3], source: "x.gz"), ["not a gzip stream"])
    }

    // MARK: IDX

    func testIDXRoundTripsPlainAndGzipped() throws {
        let dir = try tempDir()
        let images = try IDXArray(shape: [3, 2, 2], values: (0..<12).map { Float($0 * 20) }, dataType: .uint8)
        for gz in [false, true] {
            let path = dir.appendingPathComponent(gz ? "img.idx.gz" : "img.idx").path
            try Data(images.encoded(gzip: gz)).write(to: URL(fileURLWithPath: path))
            let back = try IDXArray.read(contentsOf: path)
            XCTAssertEqual(back, images)
        }
        // Exact bytes of a tiny MNIST-style label file.
        let labels = try IDXArray(shape: [3], values: [7, 2, 1], dataType: .uint8)
        XCTAssertEqual(try labels.encoded(), [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])

        let cases: [(IDXDataType, [Float])] = [
            (.int8, [-128, 127, -1, 0]), (.int16, [-32768, 32767, -2, 300]), (.int32, [-2147483648, 16777216, -5, 9]),
            (.float32, [0.1, -1e30, .infinity, Float.leastNormalMagnitude / 4]), (.float64, [0.1, -3, 65504, 2.5]),
        ]
        for (type, values) in cases {
            let a = try IDXArray(shape: [2, 2], values: values, dataType: type)
            let back = try IDXArray.decode(try a.encoded(gzip: type == .int16))
            XCTAssertEqual(back, a, "\(type)")
        }
        // Big-endian layout of a float32 element.
        XCTAssertEqual(try IDXArray(shape: [1], values: [1], dataType: .float32).encoded(), [0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0])
        // 0-d array (one element).
        XCTAssertEqual(try IDXArray.decode([0, 0, 8, 0, 42]).values, [42])
        assertError(try IDXArray(shape: [2], values: [300], dataType: .uint8), ["shape [2] does not match 1 values"])
        assertError(try IDXArray(shape: [1], values: [300], dataType: .uint8).encoded(), ["value 300.0 at index 0 does not fit"])
    }

    func testIDXErrors() throws {
        let dir = try tempDir()
        assertError(try IDXArray.read(contentsOf: dir.appendingPathComponent("missing.idx").path), ["missing.idx: no such file"])
        assertError(try IDXArray.read(contentsOf: dir.path), ["is a directory"])
        assertError(try IDXArray.decode([0, 0], source: "t.idx"), ["t.idx: file is 2 bytes long"])
        assertError(try IDXArray.decode([0x50, 0x4b, 3, 4, 0, 0], source: "t.idx"), ["t.idx: bad IDX magic number 50 4b 03 04 at byte offset 0"])
        assertError(try IDXArray.decode([0, 0, 0x0a, 1, 0, 0, 0, 1, 0], source: "t.idx"), ["unknown IDX data type 0x0A at byte offset 2"])
        assertError(try IDXArray.decode([0, 0, 8, 3, 0, 0, 0, 1], source: "t.idx"), ["ends at byte 8 inside the header", "16-byte header"])
        // The MNIST training-image header with only 1000 bytes of pixels.
        let mnistHeader: [UInt8] = [0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]
        let truncated = mnistHeader + [UInt8](repeating: 0, count: 1000)
        assertError(try IDXArray.decode(truncated, source: "train-images-idx3-ubyte"),
                    ["train-images-idx3-ubyte: truncated IDX data", "expected 47040000 bytes of data after the header, found 1000"])
        assertError(try IDXArray.decode(try Gzip.compress(truncated), source: "train.gz"), ["expected 47040000 bytes", "found 1000"])
        let gz = try Gzip.compress(truncated)
        assertError(try IDXArray.decode(Array(gz.prefix(20)), source: "train.gz"), ["train.gz: truncated gzip stream"])
        // 4 × 0xFFFFFFFF float64 elements overflow Int.
        let huge: [UInt8] = [0, 0, 0x0e, 4] + [UInt8](repeating: 0xff, count: 16)
        assertError(try IDXArray.decode(huge, source: "h.idx"), ["h.idx: shape [4294967295, 4294967295, 4294967295, 4294967295] is too large"])
        assertError(try IDXArray.decode([0, 0, 8, 1, 0, 0, 0, 1, 5, 6], source: "t.idx"), ["1 unexpected trailing bytes", "byte offset 9"])
    }

    // MARK: CSV

    func testCSVHappyPath() throws {
        let text = "age, \"height, cm\" ,label\r\n 31 , 180.5, 1\r\n\"42\",1.6e2,0\r\n-7,0,2\r\n\r\n\n"
        let ds = try CSV.parseDataset(text, target: .name("label"), source: "people.csv")
        XCTAssertEqual(ds.rows, 3)
        XCTAssertEqual(ds.featureNames, ["age", "height, cm"])
        XCTAssertEqual(ds.targetName, "label")
        XCTAssertEqual(ds.features, [31, 180.5, 42, 160, -7, 0])
        XCTAssertEqual(ds.targets, [1, 0, 2])
        XCTAssertEqual(try ds.classIndices(), [1, 0, 2])
        XCTAssertEqual(ds.lineNumbers, [2, 3, 4])

        let byIndex = try CSV.parseDataset(text, target: .index(-1))
        XCTAssertEqual(byIndex.features, ds.features)
        let first = try CSV.parseDataset(text, target: .index(0))
        XCTAssertEqual(first.featureNames, ["height, cm", "label"])
        XCTAssertEqual(first.targets, [31, 42, -7])
        assertError(try first.classIndices(), ["row 4, target column 'age': -7.0 is not a class index"])
        let reg = try CSV.parseDataset("x,y\n1,0.5\n2,1.5\n", target: .name("y"), source: "r.csv")
        assertError(try reg.classIndices(), ["r.csv: row 2, target column 'y': 0.5 is not a class index"])

        let dir = try tempDir()
        let path = dir.appendingPathComponent("data.csv").path
        try Data(("\u{FEFF}a,b\n1,2\n3,4").utf8).write(to: URL(fileURLWithPath: path)) // BOM, no final newline
        let fromFile = try CSV.readDataset(contentsOf: path, target: .name("b"))
        XCTAssertEqual(fromFile.features, [1, 3])
        XCTAssertEqual(fromFile.targets, [2, 4])
        XCTAssertEqual(fromFile.source, path)

        let inputs = try CSV.readFeatures(contentsOf: path)
        XCTAssertEqual(inputs.featureNames, ["a", "b"])
        XCTAssertEqual(inputs.features, [1, 2, 3, 4])
        XCTAssertEqual(inputs.rows, 2)
        XCTAssertEqual(try CSV.parseFeatures("\"q\"\"x\"\n\"1\"\n").featureNames, ["q\"x"])
        assertError(try CSV.parseFeatures("\"a\nb\"\n\"1\n\"\n"), ["row 3, column 'a\\nb' (1): '1\\n' is not a number"])
    }

    func testCSVErrors() throws {
        var rows = ["name_id,age,score,label"]
        for i in 0..<20 { rows.append("\(i),\(i + 20),\(Double(i) / 2),\(i % 3)") }
        rows[16] = "15,abc,7.5,0" // file row 17
        let bad = rows.joined(separator: "\n")
        assertError(try CSV.parseDataset(bad, target: .name("label"), source: "data.csv"),
                    ["data.csv: row 17, column 'age' (2): 'abc' is not a number"])
        assertError(try CSV.parseDataset("a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n", target: .index(-1), source: "r.csv"),
                    ["r.csv: row 5 has 3 fields, the header has 4"])
        assertError(try CSV.parseDataset("a,b,c\n1,2,3,4\n", target: .index(-1)), ["row 2 has 4 fields, the header has 3"])
        assertError(try CSV.parseDataset("a,b,c\n1,2,3\n", target: .name("target"), source: "m.csv"),
                    ["m.csv: no target column named 'target'; the columns are: 'a', 'b', 'c'"])
        assertError(try CSV.parseDataset("a,b,c\n1,2,3\n", target: .index(3)), ["target column index 3 is out of range: the file has 3 columns"])
        assertError(try CSV.parseDataset("a,b,c\n1,2,3\n", target: .index(-4)), ["index -4 is out of range"])
        assertError(try CSV.parseDataset("", target: .index(0), source: "e.csv"), ["e.csv: file is empty"])
        assertError(try CSV.parseDataset("\n\r\n\n", target: .index(0), source: "e.csv"), ["e.csv: file has no rows"])
        assertError(try CSV.parseDataset("a,b\n\n", target: .index(0), source: "e.csv"), ["no data rows after the header (row 1)"])
        assertError(try CSV.parseDataset("a,b\n1,\n", target: .index(0)), ["row 2, column 'b' (2): empty cell"])
        assertError(try CSV.parseDataset("a,b\n1,\"2\n", target: .index(0)), ["row 2, column 2: quoted field is never closed"])
        assertError(try CSV.parseDataset("a,b\n1,\"2\"x\n", target: .index(0)), ["row 2, column 2: unexpected character after closing quote"])
        assertError(try CSV.parseDataset("a,,c\n1,2,3\n", target: .index(0)), ["row 1, column 2: empty column name"])
        assertError(try CSV.parseDataset("a,b,a\n1,2,3\n", target: .name("a")), ["'a' is ambiguous: it appears in columns 1, 3"])
        assertError(try CSV.parseDataset("y\n1\n", target: .name("y")), ["no feature columns"])
        assertError(try CSV.parseDataset("a,b\n0x10,1\n", target: .index(1)), ["'0x10' is not a number"])
        assertError(try CSV.readDataset(contentsOf: "/nonexistent/dir/data.csv", target: .index(0)), ["/nonexistent/dir/data.csv: no such file"])
        assertError(try CSV.parseFeatures("a,b\n1,x\n", source: "p.csv"), ["p.csv: row 2, column 'b' (2): 'x' is not a number"])
    }

    // MARK: Digits

    func testDigitsLoad() throws {
        let digits = try DigitsResource.load()
        XCTAssertEqual(digits.count, 1797)
        XCTAssertEqual(digits.features.count, 1797 * 64)
        XCTAssertEqual(digits.labels.count, 1797)
        // Expected values from scikit-learn 1.9.1: load_digits().data[0], .data[1796], target[1796],
        // np.bincount(target), target[:10], data.sum().
        XCTAssertEqual(Array(digits.features[0..<64]), [
            0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
            0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0,
        ])
        XCTAssertEqual(Array(digits.features[(1796 * 64)...]), [
            0, 0, 10, 14, 8, 1, 0, 0, 0, 2, 16, 14, 6, 1, 0, 0, 0, 0, 15, 15, 8, 15, 0, 0, 0, 0, 5, 16, 16, 10, 0, 0,
            0, 0, 12, 15, 15, 12, 0, 0, 0, 4, 16, 6, 4, 16, 6, 0, 0, 8, 16, 10, 8, 16, 8, 0, 0, 1, 8, 12, 14, 12, 1, 0,
        ])
        XCTAssertEqual(digits.labels[1796], 8)
        XCTAssertEqual(Array(digits.labels.prefix(10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        var counts = [Int](repeating: 0, count: 10)
        for l in digits.labels { counts[l] += 1 }
        XCTAssertEqual(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        XCTAssertEqual(digits.features.reduce(0, +), 561_718)
        XCTAssertTrue(digits.features.allSatisfy { $0 >= 0 && $0 <= 16 })
    }

    func testDigitsDecoderRejectsBadRows() throws {
        let row = Array(repeating: "0", count: 64).joined(separator: ",")
        assertError(try DigitsResource.decode(Array("\(row),3\n\(row),12\n".utf8), source: "d.csv"), ["d.csv: row 2, column 65: label 12.0 is not a digit"])
        assertError(try DigitsResource.decode(Array("\(row)\n".utf8), source: "d.csv"), ["row 1 has 64 fields, expected 65"])
        assertError(try DigitsResource.decode(Array("17,\(row)\n".utf8), source: "d.csv"), ["row 1, column 1: pixel value 17.0 is outside 0…16"])
    }

    /// Random corruptions of IDX, gzip and CSV inputs must throw or decode, never crash.
    func testRandomCorruptionNeverCrashes() throws {
        var rng = SplitMix(seed: 7)
        let idx = try IDXArray(shape: [4, 3, 2], values: (0..<24).map(Float.init), dataType: .int16).encoded()
        let gz = try Gzip.compress(idx)
        let csv = Array("a,\"b\",c\r\n1,2,3\n4,\"5\",6\n".utf8)
        for round in 0..<3000 {
            var bytes = [idx, gz, csv][round % 3]
            if rng.next() % 2 == 0 {
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
            }
            if !bytes.isEmpty {
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes[i] = round % 3 == 2 ? Array("0,\"\n\r x".utf8)[Int(rng.next() % 7)] : UInt8(truncatingIfNeeded: rng.next())
                }
            }
            switch round % 3 {
            case 2:
                _ = try? CSV.parseDataset(bytes, target: .index(-1))
                _ = try? CSV.parseFeatures(bytes)
            default:
                _ = try? IDXArray.decode(bytes)
            }
        }
    }
}

/// Small deterministic PRNG for the fuzz tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// NumPy's .npy format.
final class NPYTests: XCTestCase {
    /// Every supported dtype and shape (scalar, 1-D, 3-D) survives a write and a read, and
    /// the header is padded so the data start at a multiple of 64 bytes, as NumPy does.
    func testRoundTrip() throws {
        for type in NPYDataType.allCases {
            for shape in [[], [3], [2, 1, 3]] {
                let n = shape.reduce(1, *)
                let values = (0..<n).map { Double($0) * (type == .int64 || type == .int32 ? 3 : 0.25) - 1 }
                let a = try NPYArray(shape: shape, values: values, dataType: type)
                let bytes = a.encoded()
                let headerEnd = 10 + Int(bytes[8]) + Int(bytes[9]) * 256
                XCTAssertEqual(headerEnd % 64, 0, "\(type) \(shape)")
                XCTAssertEqual(bytes[headerEnd - 1], UInt8(ascii: "\n"))
                XCTAssertEqual(try NPYArray.decode(bytes), a, "\(type) \(shape)")
            }
        }
    }

    /// A file written by NumPy 2 (`np.save`, float32 [7, 5]) reads with its shape and values.
    func testReadsNumPysOwnFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("NablaCLITests/Fixtures/pytorch-mlp/x.npy").path
        let a = try NPYArray.read(contentsOf: path)
        XCTAssertEqual(a.shape, [7, 5])
        XCTAssertEqual(a.dataType, .float32)
        // The first value, read straight from the bytes after the header.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let start = 10 + Int(bytes[8]) + Int(bytes[9]) * 256
        let first = Float(bitPattern: UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8 | UInt32(bytes[start + 2]) << 16 | UInt32(bytes[start + 3]) << 24)
        XCTAssertEqual(a.values[0], Double(first))
        XCTAssertEqual(a.tensor().shape, [7, 5])
    }

    /// Malformed headers are errors naming what is wrong, never traps.
    func testMalformedHeaders() {
        func npy(_ header: String, data: Int = 0) -> [UInt8] {
            [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 255), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
                + [UInt8](repeating: 0, count: data)
        }
        let cases: [([UInt8], String)] = [
            (npy("{'descr': '<f4', 'shape': (2,), "), "expected"),
            (npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }"), "unexpected 'M'"),
            (npy("{'descr': '<f4', 'fortran_order': Truthy, 'shape': (2,), }"), "True or False"),
            (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"), "dimension"),
            (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: 9), "1 unexpected bytes"),
            (npy("{'descr': '<f4', 'descr': '<f8', 'shape': (2,), }"), "twice"),
            (npy("{'fortran_order': False, 'shape': (2,), }"), "no 'descr'"),
            (Array(npy("{}").prefix(9)), "magic"),
            ([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 9, 0, 0, 0], "version 9"),
            ([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0xff, 0xff], "inside"),
        ]
        for (bytes, message) in cases {
            XCTAssertThrowsError(try NPYArray.decode(bytes, source: "t.npy")) { e in
                XCTAssertTrue("\(e)".hasPrefix("t.npy: ") && "\(e)".contains(message), "\(e) should mention \(message)")
            }
        }
    }
}
