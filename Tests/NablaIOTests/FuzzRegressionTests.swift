import Foundation
import XCTest
import _NablaTestSupport
@testable import NablaIO
import NablaNN

/// Every fuzz seed and every input that once crashed a parser (Fuzz/corpus, Fuzz/crashes) must
/// return or throw, never trap; plus the limits on architecture nesting and safetensors sizes.
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

    /// A safetensors file with the given header JSON and data bytes.
    private func safetensors(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        var out = [UInt8]()
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> UInt64(8 * k))) }
        return out + json + data
    }


    // MARK: Corpus and crashes

    func testSafeTensorsCorpusAndCrashesNeverTrap() throws {
        var decoded = 0
        for (name, bytes) in try allInputs("safetensors") {
            guard let file = try? SafeTensorsFile.decode(bytes, source: name) else { continue }
            decoded += 1
            for e in file.entries {
                let n = e.shape.reduce(1, *)
                XCTAssertEqual(e.floats().count, n, name)
                XCTAssertEqual(e.doubles().count, n, name)
                if let ints = try? e.int64s() { XCTAssertEqual(ints.count, n, name) }
                XCTAssertEqual(e.tensor().shape, e.shape, name)
            }
            if let arch = file.metadata[ModelFile.architectureKey], let spec = try? ModelSpec.parse(arch, source: name) {
                _ = try? spec.validated(); _ = try? spec.summary()
            }
        }
        XCTAssertGreaterThan(decoded, 0, "the seeds include valid files")
    }

    func testModelSpecCorpusAndCrashesNeverTrap() throws {
        var parsed = 0
        for (name, bytes) in try allInputs("modelspec") {
            guard let spec = try? ModelSpec.parse(String(decoding: bytes, as: UTF8.self), source: name) else { continue }
            parsed += 1
            XCTAssertEqual(try ModelSpec.parse(spec.json()), spec, name)
            _ = try? spec.validated(); _ = try? spec.parameterCount(); _ = try? spec.summary()
        }
        XCTAssertGreaterThan(parsed, 0, "the seeds include valid architectures")
    }

    // MARK: Architecture nesting and size

    func testDeeplyNestedArchitectureIsRejectedBeforeParsing() {
        // Each of these used to overflow the stack inside Yams (signal 11).
        let deep: [(String, String)] = [
            (String(repeating: "[", count: 100_000), "line 1"),
            (String(repeating: "{a: ", count: 50_000), "line 1"),
            ("input: [4]\nlayers: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "line 2"),
            (String(repeating: "- ", count: 100_000) + "x", "line 1"),
            (String(repeating: "? ", count: 100_000) + "x", "line 1"),
            ((0..<100).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n"), "line 65"),
            ((0..<100).map { String(repeating: " ", count: 2 * $0) + "- " }.joined(separator: "\n"), "line "),
            ("a: [\n" + String(repeating: "[\n", count: 100) + "x", "line "),
            // Quotes do not hide brackets: neither a string that really holds closers…
            ("a: " + String(repeating: "[[[[ \"]]]]\", ", count: 1000), "line 1"),
            // …nor a stray quote that is not the start of a string.
            ("a: it's [\nb: " + String(repeating: "[", count: 1000), "line 2"),
        ]
        for (text, place) in deep {
            assertError(try ModelSpec.parse(text, source: "deep.yaml"),
                        ["deep.yaml: \(place)", "nested more than 64 levels deep"])
        }
    }

    func testRealisticNestingStillParses() throws {
        let yaml = """
        # comment with [[[[ brackets and a quote: it's fine
        input: [8]
        layers:
          - {type: reshape, shape: [2, 4]}   # trailing [ comment
          - type: "relu"
          - type: 'leaky_relu'
            alpha: 0.5
        """
        XCTAssertEqual(try ModelSpec.parse(yaml).layers.count, 3)
        // 60 levels of flow nesting pass the depth check (the key is then refused as unknown).
        let nested = "input: [1]\nlayers: [{type: relu}]\nextra: " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        XCTAssertThrowsError(try ModelSpec.parse(nested)) { e in XCTAssertTrue("\(e)".contains("unknown key 'extra'"), "\(e)") }
        let json = "{\"input\": [3], \"layers\": [" + Array(repeating: "{\"type\": \"linear\", \"out\": 3}", count: 500).joined(separator: ", ") + "]}"
        XCTAssertEqual(try ModelSpec.parse(json).layers.count, 500)
        // Brackets inside a string still count through the quote-blind count (erring on the deep side).
        XCTAssertNotNil(ArchitectureText.firstLineTooDeep(Array(("a: \"" + String(repeating: "[", count: 64) + "\"").utf8)))
    }

    func testArchitectureTextSizeIsCapped() throws {
        let text = "input: [4]\nlayers: [{type: relu}]\n#" + String(repeating: "x", count: 1 << 20)
        assertError(try ModelSpec.parse(text, source: "big.yaml"), ["big.yaml: the architecture is", "more than the 1048576-byte limit"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-big-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        assertError(try ModelSpec.read(contentsOf: path), [path, "more than the 1048576-byte limit"])
    }

    func testArchitectureErrorsAreOneLine() {
        assertError(try ModelSpec.parse("input: [4\nlayers: x", source: "bad.yaml"), ["bad.yaml: not valid YAML or JSON"])
        assertError(try ModelSpec.parse("input: [4]\nlayers: [{type: leaky_relu, alpha: .nan}]", source: "n.yaml"),
                    ["n.yaml: layer 0 (leaky_relu): 'alpha' must be a finite number"])
        assertError(try ModelSpec.parse("input: [4]\nlayers: [{type: dropout, p: -.inf}]", source: "n.yaml"),
                    ["n.yaml: layer 0 (dropout): 'p' must be a finite number"])
    }

    // MARK: Safetensors sizes

    func testHugeShapeWithShortPayloadFailsBeforeAllocating() {
        let before = peakRSS()
        let data = [UInt8](repeating: 0, count: 16)
        let overflow = safetensors(header: #"{"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,16]}}"#, data: data)
        assertError(try SafeTensorsFile.decode(overflow, source: "a.safetensors"),
                    ["a.safetensors: tensor 't': shape [1099511627776, 1099511627776] is too large"])
        let big = safetensors(header: #"{"t":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,16]}}"#, data: data)
        assertError(try SafeTensorsFile.decode(big, source: "b.safetensors"),
                    ["b.safetensors: tensor 't': data_offsets [0, 16] span 16 bytes but shape [1048576, 1048576] of F32 needs 4398046511104"])
        let lying = safetensors(header: #"{"t":{"dtype":"F64","shape":[1048576,1048576],"data_offsets":[0,8796093022208]}}"#, data: data)
        assertError(try SafeTensorsFile.decode(lying, source: "c.safetensors"), ["lie outside the 16-byte data buffer"])
        let overflowingBytes = safetensors(header: #"{"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}}"#, data: data)
        assertError(try SafeTensorsFile.decode(overflowingBytes, source: "d.safetensors"), ["is too large"])
        XCTAssertLessThan(peakRSS() - before, 16 << 20)
    }

    func testHeaderLengthBeyondTheFileFailsCleanly() {
        var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x10] // 2^60, little-endian
        bytes += Array(#"{"a":1}"#.utf8)
        assertError(try SafeTensorsFile.decode(bytes, source: "h.safetensors"),
                    ["h.safetensors: header length 1152921504606846976 (bytes 0–7) exceeds the 7 bytes that follow"])
        let maxLength = [UInt8](repeating: 0xff, count: 8) + Array("{}".utf8)
        assertError(try SafeTensorsFile.decode(maxLength, source: "m.safetensors"), ["header length 18446744073709551615"])
    }
}
