import Foundation
import XCTest

/// `nabla predict --model ARCH.yaml --weights W.safetensors`: PyTorch state dicts and NumPy
/// arrays through the CLI. The fixture comes from Scripts/reference_predict.py (weights in
/// torch.nn.Sequential's names and layout, expected logits computed with NumPy).
extension CLITests {
    var fixture: String { repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/pytorch-mlp").path }

    /// Reads a float32 or float64 C-order .npy file (a minimal reader independent of Nabla's).
    func readNPY(_ path: String) throws -> (shape: [Int], values: [Double]) {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(b[8]) | Int(b[9]) << 8
        let header = String(decoding: b[10..<(10 + n)], as: UTF8.self)
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let f8 = header.contains("<f8")
        let data = Array(b[(10 + n)...])
        let values: [Double] = stride(from: 0, to: data.count, by: f8 ? 8 : 4).map { o in
            var bits: UInt64 = 0
            for k in stride(from: (f8 ? 8 : 4) - 1, through: 0, by: -1) { bits = bits << 8 | UInt64(data[o + k]) }
            return f8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(bits)))
        }
        return (shape, values)
    }

    func assertClose(_ got: [Double], _ expected: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, what, file: file, line: line)
        let scale = expected.map(abs).max() ?? 1
        for (g, e) in zip(got, expected) {
            XCTAssertEqual(g, e, accuracy: 1e-4 * scale, "\(what): \(got) vs \(expected)", file: file, line: line)
        }
    }

    /// The same logits as the reference (≤ 1e-4 relative, float32), to .npy, to CSV and on stdout.
    func testPredictWithPyTorchWeightsMatchesTheReference() throws {
        let expected = try readNPY(fixture + "/logits.npy")
        XCTAssertEqual(expected.shape, [7, 3])
        let base = ["predict", "--model", fixture + "/mlp.yaml", "--weights", fixture + "/weights.safetensors", "--input", fixture + "/x.npy"]
        let r = try nabla(base + ["--output", "out.npy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try readNPY(directory + "/out.npy")
        XCTAssertEqual(got.shape, [7, 3])
        assertClose(got.values, expected.values, "out.npy")
        let c = try nabla(base + ["--output", "out.csv"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let rows = try String(contentsOfFile: directory + "/out.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, "out0,out1,out2")
        assertClose(rows.dropFirst().flatMap { $0.split(separator: ",").compactMap { Double($0) } }, expected.values, "out.csv")
        let s = try nabla(base)
        XCTAssertEqual(s.status, 0, s.stderr)
        assertClose(s.stdoutLines.flatMap { $0.split(separator: ",").compactMap { Double($0) } }, expected.values, "stdout")
        // The same inputs as CSV (no names stored: by position).
        let x = try readNPY(fixture + "/x.npy")
        try write("a,b,c,d,e\n" + (0..<7).map { i in (0..<5).map { "\(Float(x.values[i * 5 + $0]))" }.joined(separator: ",") }.joined(separator: "\n") + "\n", to: "x.csv")
        let v = try nabla(["predict", "--model", fixture + "/mlp.yaml", "--weights", fixture + "/weights.safetensors", "--input", "x.csv", "--output", "csv.npy"])
        XCTAssertEqual(v.status, 0, v.stderr)
        assertClose(try readNPY(directory + "/csv.npy").values, expected.values, "from CSV")
    }

    /// Nabla's own `layers.` prefix is accepted; missing, unexpected and mis-shaped weights
    /// are listed by name in one error.
    func testWeightNamesAndMismatches() throws {
        let src = fixture + "/weights.safetensors"
        try FileManager.default.copyItem(atPath: src, toPath: directory + "/w.safetensors")
        try editHeader("w.safetensors", "prefixed.safetensors") { h in
            for k in Array(h.keys) where k != "__metadata__" { h["layers." + k] = h.removeValue(forKey: k) }
        }
        let base = ["predict", "--model", fixture + "/mlp.yaml", "--input", fixture + "/x.npy"]
        let p = try nabla(base + ["--weights", "prefixed.safetensors", "--output", "p.npy"])
        XCTAssertEqual(p.status, 0, p.stderr)
        assertClose(try readNPY(directory + "/p.npy").values, try readNPY(fixture + "/logits.npy").values, "layers. prefix")
        // 2.bias renamed to 5.bias: missing 2.bias, unexpected 5.bias. 0.weight given the shape of [5, 16].
        try editHeader("w.safetensors", "bad.safetensors") { h in
            h["5.bias"] = h.removeValue(forKey: "2.bias")
            var e = h["0.weight"] as! [String: Any]
            e["shape"] = [5, 16]
            h["0.weight"] = e
        }
        try assertCleanError(base + ["--weights", "bad.safetensors"],
                             mentions: ["bad.safetensors", "missing 2.bias", "unexpected 5.bias", "0.weight has shape [5, 16], the architecture needs [16, 5]"])
        // A state dict for another architecture: too few values for what the YAML declares.
        try write("input: [5]\nlayers:\n  - {type: linear, out: 4000}\n  - {type: linear, out: 3}\n", to: "big.yaml")
        try assertCleanError(["predict", "--model", "big.yaml", "--weights", "w.safetensors", "--input", fixture + "/x.npy"], mentions: ["holds only"])
        // Option combinations.
        try assertCleanError(["predict", "--model", fixture + "/mlp.yaml", "--input", fixture + "/x.npy"], mentions: ["--weights"])
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try assertCleanError(["predict", "--load", "m.safetensors", "--model", fixture + "/mlp.yaml", "--weights", "w.safetensors", "--input", fixture + "/x.npy"], mentions: ["one or the other"])
        try assertCleanError(base + ["--weights", "w.safetensors", "--output", "out.txt"], mentions: [".npy or .csv"])
        try assertCleanError(base + ["--weights", "w.safetensors", "--output", fixture + "/x.npy"], mentions: ["--input"])
    }

    /// .npy inputs that are not C-order little-endian float/int arrays are refused clearly.
    func testBadNPYInputs() throws {
        func npy(_ header: String, _ data: [UInt8]) -> Data {
            var h = header
            h += String(repeating: " ", count: (64 - (10 + h.utf8.count + 1) % 64) % 64) + "\n"
            return Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.utf8.count & 255), UInt8(h.utf8.count >> 8)] + Array(h.utf8) + data)
        }
        let cases: [(String, Data, String)] = [
            ("fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 5), }", [UInt8](repeating: 0, count: 20)), "Fortran order"),
            ("bigendian", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 5), }", [UInt8](repeating: 0, count: 20)), "'>f4' is not supported"),
            ("truncated", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), }", [UInt8](repeating: 0, count: 20)), "truncated"),
            ("object", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1, 5), }", []), "'|O' is not supported"),
            ("notnpy", Data("a,b\n1,2\n".utf8), "magic"),
            ("huge", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", []), "too large"),
        ]
        for (name, data, message) in cases {
            try data.write(to: URL(fileURLWithPath: directory + "/\(name).npy"))
            try assertCleanError(["predict", "--model", fixture + "/mlp.yaml", "--weights", fixture + "/weights.safetensors", "--input", "\(name).npy"],
                                 mentions: ["\(name).npy", message])
        }
        // int64 inputs are accepted (converted to float32).
        try npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 5), }", (0..<5).flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } })
            .write(to: URL(fileURLWithPath: directory + "/ints.npy"))
        let r = try nabla(["predict", "--model", fixture + "/mlp.yaml", "--weights", fixture + "/weights.safetensors", "--input", "ints.npy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 1)
    }
}
