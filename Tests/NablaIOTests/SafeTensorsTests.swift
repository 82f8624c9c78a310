import Foundation
import XCTest
import NablaCore
@testable import NablaIO
import NablaNN

/// Fixtures come from Scripts/make_safetensors_fixtures.py (Python `safetensors` 0.8 + numpy);
/// expected.json holds the values that script wrote.
final class SafeTensorsTests: XCTestCase {
    // MARK: Helpers

    private func fixtureBytes(_ name: String, _ ext: String) throws -> [UInt8] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
                                "missing fixture \(name).\(ext)")
        return [UInt8](try Data(contentsOf: url))
    }

    private func expected() throws -> [String: Any] {
        let data = Data(try fixtureBytes("expected", "json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func tensorSpecs() throws -> [String: [String: Any]] {
        try XCTUnwrap(try expected()["tensors"] as? [String: [String: Any]])
    }

    private func parseDouble(_ s: String) -> Double {
        switch s {
        case "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(s) ?? .nan
        }
    }

    private func sameFloat(_ a: Double, _ b: Double) -> Bool {
        (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
    }

    /// safetensors bytes from a header string and a data buffer.
    private func file(_ header: String, _ buffer: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        var out = [UInt8]()
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(h.count) >> UInt64(8 * k))) }
        return out + h + buffer
    }

    private func assertThrows(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try SafeTensorsFile.decode(bytes, source: "bad.safetensors")
            XCTFail("decoding should have failed", file: file, line: line)
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("bad.safetensors: "), text, file: file, line: line)
            for f in fragments {
                XCTAssertTrue(text.contains(f), "'\(text)' should contain '\(f)'", file: file, line: line)
            }
        }
    }

    // MARK: Reading the Python-written fixture

    func testReadsEveryDtypeWrittenByPython() throws {
        let st = try SafeTensorsFile.decode(try fixtureBytes("all_dtypes", "safetensors"), source: "all_dtypes.safetensors")
        XCTAssertEqual(st.metadata, ["framework": "nabla-fixture"])
        let specs = try tensorSpecs()
        XCTAssertEqual(Set(st.names), Set(specs.keys))
        for (name, spec) in specs {
            let entry = try XCTUnwrap(st[name], name)
            XCTAssertEqual(entry.dtype.rawValue, spec["dtype"] as? String, name)
            XCTAssertEqual(entry.shape, spec["shape"] as? [Int], name)
            let values = try XCTUnwrap(spec["values"] as? [String])
            XCTAssertEqual(entry.elementCount, values.count, name)
            let doubles = entry.doubles()
            let floats = entry.floats()
            for (i, text) in values.enumerated() {
                let want = parseDouble(text)
                if entry.dtype == .float64 || !entry.dtype.isFloatingPoint && entry.dtype != .int64 && entry.dtype != .uint64 {
                    XCTAssertTrue(sameFloat(doubles[i], want), "\(name)[\(i)]: \(doubles[i]) != \(text)")
                }
                XCTAssertTrue(sameFloat(Double(floats[i]), Double(Float(want))), "\(name)[\(i)]: \(floats[i]) != \(text)")
            }
            if !entry.dtype.isFloatingPoint {
                if entry.dtype == .uint64 {
                    XCTAssertThrowsError(try entry.int64s()) { XCTAssertTrue("\($0)".contains("does not fit Int64"), "\($0)") }
                    XCTAssertEqual(entry.data.count, 24)
                } else {
                    XCTAssertEqual(try entry.int64s(), values.map { Int64($0) }, name)
                }
            } else {
                XCTAssertThrowsError(try entry.int64s())
            }
            if let bits = spec["bits"] as? [Int] {
                let raw = stride(from: 0, to: entry.data.count, by: 2).map { Int(entry.data[$0]) | Int(entry.data[$0 + 1]) << 8 }
                XCTAssertEqual(raw, bits, name)
            }
        }
        // Spot checks with literals (values from make_safetensors_fixtures.py).
        XCTAssertEqual(st["scalar"]?.shape, [])
        XCTAssertEqual(st["scalar"]?.floats(), [42.5])
        XCTAssertEqual(st["empty"]?.shape, [0, 3])
        XCTAssertEqual(st["empty"]?.floats(), [])
        XCTAssertEqual(try st["i64"]?.int64s(), [Int64.min, Int64.max, -1, 0])
        let f16 = try XCTUnwrap(st["f16"]).floats()
        XCTAssertEqual(Array(f16[2...7]), [1, -2, 65504, 0x1p-14, 0x1p-24, 0x3ffp-24])
        XCTAssertEqual(f16[9], .infinity)
        XCTAssertTrue(f16[11].isNaN)
        XCTAssertEqual(f16[1].sign, .minus)
        let bf16 = try XCTUnwrap(st["bf16"]).floats()
        XCTAssertEqual(Array(bf16[2...6]), [1, -2, Float(bitPattern: 0x7f7f_0000), 0x1p-126, Float(bitPattern: 0x0001_0000)])
        XCTAssertEqual(st["u64"]?.doubles(), [0, 18446744073709551615.0, 9223372036854775808.0])
        XCTAssertEqual(st["bool"]?.floats(), [1, 0, 1])
    }

    // MARK: Writing: byte-identical to Python

    /// Builds the fixture's tensors from expected.json with the public constructors.
    private func rebuildEntries() throws -> [SafeTensorEntry] {
        var entries: [SafeTensorEntry] = []
        for (name, spec) in try tensorSpecs() {
            let dtype = try XCTUnwrap(SafeTensorDType(rawValue: try XCTUnwrap(spec["dtype"] as? String)))
            let shape = try XCTUnwrap(spec["shape"] as? [Int])
            let values = try XCTUnwrap(spec["values"] as? [String])
            switch dtype {
            case .float32, .float16, .bfloat16:
                entries.append(try SafeTensorEntry(name: name, shape: shape, floats: values.map { Float(parseDouble($0)) }, dtype: dtype))
            case .float64:
                entries.append(try SafeTensorEntry(name: name, shape: shape, doubles: values.map(parseDouble)))
            case .int64:
                entries.append(try SafeTensorEntry(name: name, shape: shape, int64s: values.compactMap { Int64($0) }))
            case .int32:
                entries.append(try SafeTensorEntry(name: name, shape: shape, int32s: values.compactMap { Int32($0) }))
            case .uint8:
                entries.append(try SafeTensorEntry(name: name, shape: shape, uint8s: values.compactMap { UInt8($0) }))
            case .bool:
                entries.append(try SafeTensorEntry(name: name, shape: shape, bools: values.map { $0 == "1" }))
            case .int8, .int16, .uint16, .uint32, .uint64:
                var data: [UInt8] = []
                for v in values {
                    let bits = v.hasPrefix("-") ? UInt64(bitPattern: Int64(v) ?? 0) : (UInt64(v) ?? 0)
                    for k in 0..<dtype.byteSize { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(8 * k))) }
                }
                entries.append(try SafeTensorEntry(name: name, dtype: dtype, shape: shape, data: data))
            }
        }
        return entries.shuffled()
    }

    func testEncodingIsByteIdenticalToPython() throws {
        let python = try fixtureBytes("all_dtypes", "safetensors")
        let nabla = try SafeTensorsFile(entries: rebuildEntries(), metadata: ["framework": "nabla-fixture"]).encoded()
        XCTAssertEqual(nabla.count, python.count)
        XCTAssertTrue(nabla == python, "Nabla's encoding differs from the Python fixture")

        let numpyAPI = try fixtureBytes("numpy_api", "safetensors")
        let withoutBF16 = try SafeTensorsFile(entries: rebuildEntries().filter { $0.name != "bf16" },
                                              metadata: ["framework": "nabla-fixture"]).encoded()
        XCTAssertTrue(withoutBF16 == numpyAPI, "differs from safetensors.numpy.save_file output")

        // Decoding and re-encoding reproduces the file exactly.
        XCTAssertTrue(try SafeTensorsFile.decode(python).encoded() == python)
    }

    func testSeveralMetadataKeysRoundTrip() throws {
        let st = try SafeTensorsFile.decode(try fixtureBytes("multi_metadata", "safetensors"))
        XCTAssertEqual(st.metadata, ["a": "1", "b": "two", "c": "é \"quoted\" \\ \n"])
        XCTAssertEqual(st.names, ["b", "w"])
        XCTAssertEqual(st["w"]?.floats(), [1, 2, 3, 4])
        let again = try SafeTensorsFile.decode(try st.encoded())
        XCTAssertEqual(again, st)
    }

    func testHeaderLayout() throws {
        let empty = try SafeTensorsFile(entries: []).encoded()
        XCTAssertEqual(empty, [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)) // as safetensors.numpy.save({})
        let a = try SafeTensorEntry(name: "a", shape: [1], floats: [1])
        let b = try SafeTensorEntry(name: "b", shape: [2], int64s: [1, 2])
        let bytes = try SafeTensorsFile(entries: [a, b], metadata: ["k\u{1}": "v\n"]).encoded()
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual((8 + n) % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix(#"{"__metadata__":{"k\u0001":"v\n"},"b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"a":"#), header)
    }

    // MARK: Conversions

    func testFloat16RoundingMatchesNumpy() throws {
        let cases = try XCTUnwrap(try expected()["f16_rounding"] as? [String: Any])
        let inputs = try XCTUnwrap(cases["inputs"] as? [String]).map { Float(parseDouble($0)) }
        let bits = try XCTUnwrap(cases["bits"] as? [Int])
        XCTAssertEqual(inputs.count, bits.count)
        for (x, want) in zip(inputs, bits) {
            XCTAssertEqual(Int(halfBits(from: x)), want, "float16(\(x))")
        }
        // Every finite half value survives half -> float -> half.
        for h in UInt16.min...UInt16.max {
            let f = floatFromHalfBits(h)
            if f.isNaN { XCTAssertTrue(floatFromHalfBits(halfBits(from: f)).isNaN); continue }
            XCTAssertEqual(halfBits(from: f), h)
        }
    }

    func testBFloat16Rounding() {
        XCTAssertEqual(bfloat16Bits(from: 1), 0x3f80)
        XCTAssertEqual(bfloat16Bits(from: Float(bitPattern: 0x3f80_8000)), 0x3f80) // tie -> even (down)
        XCTAssertEqual(bfloat16Bits(from: Float(bitPattern: 0x3f81_8000)), 0x3f82) // tie -> even (up)
        XCTAssertEqual(bfloat16Bits(from: Float(bitPattern: 0x3f80_8001)), 0x3f81)
        XCTAssertEqual(bfloat16Bits(from: .greatestFiniteMagnitude), 0x7f80) // rounds to inf
        XCTAssertEqual(bfloat16Bits(from: -.infinity), 0xff80)
        XCTAssertEqual(bfloat16Bits(from: Float(bitPattern: 0x0000_8001)), 0x0001) // subnormal
        XCTAssertTrue(floatFromBFloat16Bits(bfloat16Bits(from: .nan)).isNaN)
        XCTAssertTrue(floatFromBFloat16Bits(bfloat16Bits(from: Float(bitPattern: 0x7f80_0001))).isNaN) // NaN stays NaN
    }

    func testEntryValidation() throws {
        XCTAssertThrowsError(try SafeTensorEntry(name: "x", shape: [2, 2], floats: [1, 2, 3])) {
            XCTAssertTrue("\($0)".contains("tensor 'x'") && "\($0)".contains("holds 4 elements but 3"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensorEntry(name: "x", shape: [-1], floats: []))
        XCTAssertThrowsError(try SafeTensorEntry(name: "x", shape: [1], floats: [1], dtype: .int32))
        XCTAssertThrowsError(try SafeTensorEntry(name: "x", dtype: .float32, shape: [2], data: [0, 0, 0]))
        let a = try SafeTensorEntry(name: "a", shape: [], floats: [1])
        XCTAssertThrowsError(try SafeTensorsFile(entries: [a, a]).encoded()) {
            XCTAssertTrue("\($0)".contains("two tensors have this name"), "\($0)")
        }
    }

    // MARK: Files

    func testWriteAndReadFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        let st = SafeTensorsFile(entries: [
            try SafeTensorEntry(name: "w", shape: [2, 2], floats: [1, 2, 3, 4]),
            try SafeTensorEntry(name: "h", shape: [2], floats: [0.1, -1e-6], dtype: .float16),
        ], metadata: ["epoch": "3"])
        try st.write(to: path)
        try st.write(to: path) // overwriting works
        let back = try SafeTensorsFile.read(contentsOf: path)
        XCTAssertEqual(back.metadata, ["epoch": "3"])
        XCTAssertEqual(back["w"]?.floats(), [1, 2, 3, 4])
        XCTAssertEqual(back["h"]?.data, st["h"]?.data)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"]) // no temp files left

        XCTAssertThrowsError(try st.write(to: dir.appendingPathComponent("missing/dir/x.safetensors").path)) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensorsFile.read(contentsOf: dir.appendingPathComponent("nope.safetensors").path)) {
            XCTAssertTrue("\($0)".contains("nope.safetensors: no such file"), "\($0)")
        }

        // For manual checking with Scripts/check_safetensors_roundtrip.py.
        if let out = ProcessInfo.processInfo.environment["NABLA_ROUNDTRIP_OUT"] {
            let entries = try rebuildEntries() + [try SafeTensorEntry(name: "nabla_f16", shape: [3], floats: [0.1, 65519, 1e-7], dtype: .float16)]
            try SafeTensorsFile(entries: entries, metadata: ["writer": "nabla", "note": "round trip"]).write(to: out)
        }
    }

    // MARK: Malformed files

    func testMalformedFilesThrowHelpfulErrors() throws {
        let good = try fixtureBytes("all_dtypes", "safetensors")
        assertThrows(Array(good.prefix(5)), ["5 bytes long", "shorter than the 8-byte header length"])
        assertThrows(Array(good.prefix(100)), ["header length", "exceeds the 92 bytes that follow"])
        assertThrows(Array(good.dropLast(10)), ["tensor 'i16'", "lie outside the 221-byte data buffer"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0]), ["tensor 'x'", "outside the 4-byte data buffer"])
        assertThrows(file(#"{"x":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, Array(repeating: 0, count: 16)), ["tensor 'x'", "unknown dtype \"F128\""])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, [0, 0, 0, 0]), ["not valid JSON", "unexpected end of header"])
        assertThrows(file(#"{"x":{"dtype":"F32",,}}"#), ["not valid JSON", "expected a string key at byte offset 28"])
        assertThrows(file("[1,2]"), ["not an object"])
        assertThrows(file(#"{"x":1}"#), ["tensor 'x'", "header entry is not a JSON object"])
        var invalidUTF8 = file(#"{"xx":{}}"#)
        invalidUTF8[10] = 0xC3
        invalidUTF8[11] = 0x28
        assertThrows(invalidUTF8, ["not valid UTF-8"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,0]}}"#), ["tensor 'x'", "shape entry -2 is not a non-negative integer"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8)), ["tensor 'x'", "span 8 bytes but shape [3] of F32 needs 12"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, Array(repeating: 0, count: 8)), ["tensor 'y'", "overlap", "'x'"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, Array(repeating: 0, count: 8)), ["tensor 'x'", "gap", "0..<4"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, Array(repeating: 0, count: 6)), ["cover 4 bytes", "has 6"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[1]}}"#), ["tensor 'x'", "no \"data_offsets\""])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, Array(repeating: 0, count: 8)), ["tensor 'x'", "twice"])
        assertThrows(file(#"{"__metadata__":{"a":1}}"#), ["__metadata__ value for 'a' is not a string"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#), ["tensor 'x'", "too large"])
        assertThrows(file(#"{"x":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}"#), ["tensor 'x'", "not a non-negative integer"])
        assertThrows(file(String(repeating: "[", count: 10000)), ["nesting too deep"])
        assertThrows(file(#"{"a\nb":{"dtype":"X","shape":[],"data_offsets":[0,0]}}"#), [#"tensor 'a\nb': unknown dtype"#])
        var huge = [UInt8](repeating: 0xff, count: 8)
        huge += Array("{}".utf8)
        assertThrows(huge, ["header length 18446744073709551615"])
    }

    /// Random corruptions of a valid file must throw or decode, never crash.
    func testRandomCorruptionNeverCrashes() throws {
        let good = try fixtureBytes("all_dtypes", "safetensors")
        var rng = SplitMix(seed: 42)
        for round in 0..<3000 {
            var bytes = good
            switch round % 3 {
            case 0:
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 1:
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            default:
                let i = 8 + Int(rng.next() % 900)
                let alphabet = Array("{}[]\",:0-9e ".utf8)
                bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }
            if let st = try? SafeTensorsFile.decode(bytes) {
                for e in st.entries { _ = e.floats(); _ = e.doubles(); _ = try? e.int64s() }
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

/// Sizes of architectures counted with checked arithmetic before anything is built.
final class ModelSpecSizeTests: XCTestCase {
    /// Parameter counts by hand: 64·128 + 128 + 128·10 + 10 = 9,610; maxout 10·(4·3) + 4·3 = 132.
    func testParameterCountFromTheSpecAlone() throws {
        XCTAssertEqual(try ModelSpec.mlp(inputs: 64, hidden: [128], outputs: 10).parameterCount(), 9_610)
        let m = ModelSpec(input: [10], layers: [LayerSpec("maxout", ["out": 4, "pieces": 3]), LayerSpec("linear", ["out": 2, "bias": false])])
        XCTAssertEqual(try m.parameterCount(), 132 + 8)
        XCTAssertEqual(try m.build().parameterCount, 140, "the count agrees with the built model")
    }

    /// A huge layer is refused by `build` before allocating, with the limit in the message.
    func testBuildRefusesAnArchitectureAboveTheLimit() throws {
        let spec = ModelSpec(input: [4], layers: [LayerSpec("linear", ["out": 16_000_000_000])])
        XCTAssertThrowsError(try spec.build(limits: .standard)) { e in
            XCTAssertTrue(e is ResourceLimitError, "\(e)")
            XCTAssertTrue("\(e)".contains("80000000000 parameters"), "\(e)")
        }
        XCTAssertThrowsError(try ModelSpec.mlp(inputs: 64, hidden: [128], outputs: 10).build(limits: ResourceLimits(maxBytes: 1000)))
        let overflow = ModelSpec(input: [1 << 62], layers: [LayerSpec("linear", ["out": .int(1 << 62)])])
        XCTAssertThrowsError(try overflow.parameterCount()) { e in XCTAssertTrue("\(e)".contains("overflow"), "\(e)") }
    }

    /// The summary computed from the spec alone is the built model's summary, line for line.
    func testSpecSummaryEqualsTheBuiltModelsSummary() throws {
        let specs = [ModelSpec.mlp(inputs: 5, hidden: [10, 20], outputs: 3, activation: "gelu", dropout: 0.1),
                     ModelSpec(input: [8, 8], layers: [LayerSpec("flatten"), LayerSpec("maxout", ["out": 6, "pieces": 2]),
                                                       LayerSpec("leaky_relu", ["alpha": 0.2]), LayerSpec("reshape", ["shape": [2, 3]]),
                                                       LayerSpec("linear", ["out": 4, "bias": false]), LayerSpec("softmax", ["axis": -1])])]
        for spec in specs {
            XCTAssertEqual(try spec.summary(), try spec.build().summary(inputShape: [1] + spec.input))
        }
    }

    /// A YAML base-60 integer with many places overflowed inside Yams and trapped (found by
    /// the fuzzer); any value with a colon is now refused before decoding.
    func testBase60NumbersAreRefusedNotTrapped() {
        let text = "input: [64]\nlayers:\n  - {type: linear, out: 1:2:3:4:5:6:7:8:9:10:11:12}\n"
        XCTAssertThrowsError(try ModelSpec.parse(text, source: "a.yaml")) { e in
            XCTAssertTrue("\(e)".contains("a.yaml: line 3") && "\(e)".contains("':'"), "\(e)")
        }
        XCTAssertThrowsError(try ModelSpec.parse(#"{"input": ["9:99:99:99:99:99:99:99:99:99:99:99"], "layers": []}"#))
    }

    /// `--max-memory` sizes.
    func testParseSize() {
        XCTAssertEqual(ResourceLimits.parseSize("4G"), 4 << 30)
        XCTAssertEqual(ResourceLimits.parseSize("512M"), 512 << 20)
        XCTAssertEqual(ResourceLimits.parseSize("1.5GiB"), 3 << 29)
        XCTAssertEqual(ResourceLimits.parseSize("64k"), 65536)
        XCTAssertEqual(ResourceLimits.parseSize("1000"), 1000)
        XCTAssertNil(ResourceLimits.parseSize("lots"))
        XCTAssertNil(ResourceLimits.parseSize("-1G"))
        XCTAssertNil(ResourceLimits.parseSize("1e30"))
        XCTAssertEqual(ResourceLimits.describe(bytes: 3 << 29), "1.5 GiB")
    }
}
