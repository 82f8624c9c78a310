import Foundation
import XCTest
import _NablaTestSupport
@testable import NablaData

/// Every fuzz seed and every input that once crashed a parser (Fuzz/corpus, Fuzz/crashes) must
/// return or throw, never trap; plus the fixes for gzip bombs and non-finite CSV numbers.
final class FuzzRegressionTests: XCTestCase {
    // MARK: Helpers

    /// The files of `Fuzz/<kind>/<parser>`, sorted; fails when `required` and there are none.
    private func inputs(_ kind: String, _ parser: String, required: Bool) throws -> [(String, [UInt8])] {
        let (dir, files) = try FuzzCorpus.files(kind, parser)
        if required && files.isEmpty {
            XCTFail("no files in \(dir): the fuzz corpus is missing, so this test would check nothing")
        }
        return files
    }

    /// Seeds (which must exist) and saved crashes (which may not, yet) for `parser`.
    private func allInputs(_ parser: String) throws -> [(String, [UInt8])] {
        try inputs("corpus", parser, required: true) + inputs("crashes", parser, required: false)
    }

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

    /// Peak resident memory of this process so far, in bytes.
    private func peakRSS() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// `copies` gzip members of one MiB of zeros each: about 1 KiB per MiB of output.
    private func zeroBomb(megabytes copies: Int) throws -> [UInt8] {
        let member = try Gzip.compress([UInt8](repeating: 0, count: 1 << 20), level: 9)
        var out = [UInt8]()
        out.reserveCapacity(member.count * copies)
        for _ in 0..<copies { out += member }
        return out
    }

    // MARK: Corpus and crashes

    func testNPYCorpusAndCrashesNeverTrap() throws {
        var decoded = 0
        for (name, bytes) in try allInputs("npy") {
            guard let a = try? NPYArray.decode(bytes, source: name) else { continue }
            decoded += 1
            XCTAssertEqual(a.values.count, a.shape.reduce(1, *), name)
            XCTAssertEqual(try NPYArray.decode(a.encoded()), a, name)
        }
        XCTAssertGreaterThan(decoded, 3, "the seeds include valid files")
    }

    func testIDXCorpusAndCrashesNeverTrap() throws {
        for (name, bytes) in try allInputs("idx") {
            if let a = try? IDXArray.decode(bytes, source: name) {
                XCTAssertEqual(a.values.count, a.shape.reduce(1, *), name)
            }
        }
    }

    func testGzipCorpusAndCrashesNeverTrap() throws {
        for (name, bytes) in try allInputs("gzip") {
            for candidate in [bytes, [0x1f, 0x8b] + bytes] {
                _ = try? Gzip.decompress(candidate, source: name)
                if let out = try? Gzip.decompress(candidate, source: name, maxOutput: 100) {
                    XCTAssertLessThanOrEqual(out.count, 100, name)
                }
            }
        }
    }

    func testCSVCorpusAndCrashesNeverTrap() throws {
        for (name, bytes) in try allInputs("csv") {
            for target in [CSVTarget.index(-1), .index(0), .name("y")] {
                if let d = try? CSV.parseDataset(bytes, target: target, source: name) {
                    XCTAssertTrue(d.features.allSatisfy(\.isFinite) && d.targets.allSatisfy(\.isFinite), name)
                    _ = try? d.classIndices()
                }
            }
            if let f = try? CSV.parseFeatures(bytes, source: name) {
                XCTAssertTrue(f.features.allSatisfy(\.isFinite), name)
            }
        }
    }

    // MARK: Gzip bombs

    func testDecompressStopsAtMaxOutput() throws {
        let text = Array(String(repeating: "abc", count: 1000).utf8)
        let z = try Gzip.compress(text)
        XCTAssertEqual(try Gzip.decompress(z, maxOutput: text.count), text)
        XCTAssertEqual(try Gzip.decompress(z, maxOutput: text.count + 1), text)
        assertError(try Gzip.decompress(z, source: "t.gz", maxOutput: text.count - 1),
                    ["t.gz: gzip stream decompresses to more than the 2999-byte limit"])
        assertError(try Gzip.decompress(z, source: "t.gz", maxOutput: 0), ["more than the 0-byte limit"])
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress([]), maxOutput: 0), [])
        // Several members count together.
        let two = try Gzip.compress(Array("hello ".utf8)) + Gzip.compress(Array("world".utf8))
        XCTAssertEqual(try Gzip.decompress(two, maxOutput: 11).count, 11)
        assertError(try Gzip.decompress(two, maxOutput: 10), ["more than the 10-byte limit"])
        assertError(try Gzip.decompress(z, maxOutput: -1), ["negative"])
    }

    func testGzipBombFailsFastWithoutAllocating() throws {
        let bomb = try zeroBomb(megabytes: 200) // ~200 KB that inflate to 200 MB
        XCTAssertLessThan(bomb.count, 1 << 20)
        let before = peakRSS()
        let start = Date()
        assertError(try Gzip.decompress(bomb, source: "bomb.gz", maxOutput: 1 << 20),
                    ["bomb.gz: gzip stream decompresses to more than the 1048576-byte limit"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertLessThan(peakRSS() - before, 64 << 20, "a bounded decompression must not reach the bomb's size")
    }

    func testGzippedIDXIsBoundedByItsHeader() throws {
        // A valid 2×2 u8 IDX file followed, inside the gzip stream, by 200 MB of zeros.
        let idx = try IDXArray(shape: [2, 2], values: [1, 2, 3, 4], dataType: .uint8).encoded()
        XCTAssertEqual(idx.count, 16)
        let bomb = try Gzip.compress(idx) + zeroBomb(megabytes: 200)
        let before = peakRSS()
        let start = Date()
        assertError(try IDXArray.decode(bomb, source: "bomb.idx.gz"),
                    ["bomb.idx.gz: gzip stream decompresses to more than the 16 bytes its header declares",
                     "12-byte header + 4 bytes of data"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertLessThan(peakRSS() - before, 64 << 20)
        // One byte too many is as wrong as 200 MB.
        assertError(try IDXArray.decode(try Gzip.compress(idx + [0]), source: "x.gz"), ["more than the 16 bytes its header declares"])
        // The exact size still decodes; short data is still "truncated".
        XCTAssertEqual(try IDXArray.decode(try Gzip.compress(idx)).values, [1, 2, 3, 4])
        assertError(try IDXArray.decode(try Gzip.compress(Array(idx.dropLast()))), ["truncated IDX data", "expected 4 bytes", "found 3"])
        assertError(try IDXArray.decode(try Gzip.compress([0, 0, 8])), ["decompressed data is 3 bytes long"])
        assertError(try IDXArray.decode(try Gzip.compress([0, 0, 8, 2, 0])), ["decompressed data ends at byte 5 inside the header"])
        // A header declaring more than the stream holds is truncated, not a bomb.
        let huge: [UInt8] = [0, 0, 0x0D, 2, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff] // 16 GiB of F32
        assertError(try IDXArray.decode(try Gzip.compress(huge + [1, 2, 3, 4])), ["truncated IDX data"])
    }

    // MARK: CSV numbers

    func testCSVRejectsNonFiniteAndOutOfRangeNumbers() throws {
        let cases: [(String, String)] = [
            ("nan", "is not a finite number"), ("NaN", "is not a finite number"), ("inf", "is not a finite number"),
            ("-inf", "is not a finite number"), ("+inf", "is not a finite number"), ("infinity", "is not a finite number"),
            ("-Infinity", "is not a finite number"), ("1e39", "is out of range for a 32-bit float"),
            ("-1e39", "is out of range for a 32-bit float"), ("3.5e38", "is out of range for a 32-bit float"),
        ]
        for (cell, why) in cases {
            // Row 1 is the header, so the bad cell is on row 3, column 2.
            let text = "a,b,y\n1,2,0\n3,\(cell),1\n"
            assertError(try CSV.parseDataset(text, target: .name("y"), source: "d.csv"),
                        ["d.csv: row 3, column 'b' (2): '\(cell)' \(why)"])
            assertError(try CSV.parseFeatures(text, source: "f.csv"), ["f.csv: row 3, column 'b' (2): '\(cell)' \(why)"])
            // In the target column too.
            assertError(try CSV.parseDataset("a,y\n1,\(cell)\n", target: .index(-1), source: "t.csv"),
                        ["t.csv: row 2, column 'y' (2): '\(cell)' \(why)"])
        }
        // The largest floats, tiny numbers and negative zero are still fine.
        let ok = try CSV.parseFeatures("a,b,c\n3.4e38,-3.4e38,1e-50\n-0,1e-3,-2.5\n")
        XCTAssertEqual(ok.features[0], 3.4e38)
        XCTAssertEqual(ok.features[2], 0)
        XCTAssertEqual(ok.features[5], -2.5)
    }
}
