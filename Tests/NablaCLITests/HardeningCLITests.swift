import Foundation
import XCTest

/// Crashes found by running the CLI as a new user and an attacker would (hardening issue):
/// each must be one clear `error:` line and exit 1, or valid output.
extension CLITests {
    /// The repository's root folder.
    var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Overwrites the values of tensor `name` in a safetensors file with float32 NaN.
    func poison(_ file: String, tensor name: String) throws {
        let url = URL(fileURLWithPath: directory + "/" + file)
        var bytes = try Data(contentsOf: url)
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
        let entry = try XCTUnwrap(header[name] as? [String: Any], "no tensor \(name)")
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let o = try XCTUnwrap(entry["data_offsets"] as? [Int])
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) }
        for at in stride(from: 8 + n + o[0], to: 8 + n + o[1], by: 4) { bytes.replaceSubrange(at..<(at + 4), with: nan) }
        try bytes.write(to: url)
    }

    /// NaN in any JSON output is written as null: `predict --json` and `evaluate --json` on a
    /// model whose weights became NaN used to stop in `try!` ("Invalid number value (nan) in JSON write").
    func testJSONOutputOfAModelWithNaNWeights() throws {
        let iris = repoRoot.appendingPathComponent("Examples/data/iris.csv").path
        let new = repoRoot.appendingPathComponent("Examples/data/iris-new.csv").path
        let t = try nabla(["train", "--data", "csv:" + iris, "--target", "species", "--epochs", "2", "--save", "m.safetensors", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try poison("m.safetensors", tensor: "layers.0.bias")

        let p = try nabla(["predict", "--load", "m.safetensors", "--input", new, "--json"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertFalse(p.stdoutLines.isEmpty)
        for line in p.stdoutLines {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            let probs = try XCTUnwrap(o["probabilities"] as? [Any], line)
            XCTAssertTrue(probs.allSatisfy { $0 is NSNull }, "NaN probabilities are null: \(line)")
        }
        let e = try nabla(["evaluate", "--load", "m.safetensors", "--data", "csv:" + iris, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let o = try lastJSON(e)
        XCTAssertTrue(o["test_loss"] is NSNull, "\(o)")
        XCTAssertFalse(e.stderr.contains("Fatal error"))

        // Resuming from NaN weights stops at the first step with the NaN message, not a JSON crash.
        let r = try nabla(["train", "--resume", "m.safetensors", "--epochs", "3", "--json", "--history", "h.json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: "), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    /// A CSV with a constant feature (zero standard deviation) trains and prints valid JSON.
    func testConstantFeatureAndJSON() throws {
        var rows = ["a,const,y"]
        for i in 0..<40 { rows.append("\(Double(i) / 10),5,\(i % 2)") }
        try write(rows.joined(separator: "\n") + "\n", to: "c.csv")
        let r = try nabla(["train", "--data", "csv:c.csv", "--epochs", "2", "--json", "--history", "h.json", "--save", "c.safetensors", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        _ = try lastJSON(r)
        let h = try Data(contentsOf: URL(fileURLWithPath: directory + "/h.json"))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: h) as? [Any])
        let p = try nabla(["predict", "--load", "c.safetensors", "--input", "c.csv", "--json"])
        // c.csv has the target column too: three columns for a two-feature model is an error, not a crash.
        XCTAssertLessThan(p.status, 128, p.stderr)
    }

    /// Sizes from the command line, an architecture file, a model file or a class label are
    /// checked before anything is allocated ("failed to allocate … bytes" before).
    func testAbsurdSizesAreRefusedBeforeAllocating() throws {
        try assertCleanError(["train", "--hidden", "100000,100000", "--epochs", "1"], mentions: ["--max-memory", "parameters"])
        try write("input: [4]\nlayers:\n  - {type: linear, out: 16000000000}\n", to: "huge.yaml")
        // summary counts from the architecture alone, so it can describe it without building it.
        let s = try nabla(["summary", "--model", "huge.yaml"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("Total parameters: 80000000000"), s.stdout)
        try assertCleanError(["train", "--model", "huge.yaml", "--epochs", "1"], mentions: ["--max-memory"])
        // Overflowing sizes: the element count does not fit in 64 bits.
        try write("input: [4]\nlayers:\n  - {type: linear, out: 9223372036854775807}\n", to: "overflow.yaml")
        try assertCleanError(["summary", "--model", "overflow.yaml"], mentions: ["overflow"])
        try write("input: [3037000500, 3037000500, 4]\nlayers:\n  - {type: flatten}\n", to: "overflow2.yaml")
        try assertCleanError(["summary", "--model", "overflow2.yaml"], mentions: ["64 bits"])
        // A class label of 10⁷ asks for a 10⁷-way output layer.
        var rows = ["a,b,y"]
        for i in 0..<20 { rows.append("\(i),\(i * 2),\(i == 3 ? 10_000_000 : i % 2)") }
        try write(rows.joined(separator: "\n") + "\n", to: "labels.csv")
        try assertCleanError(["train", "--data", "csv:labels.csv", "--epochs", "1"], mentions: ["--max-memory"])
        // A model file whose architecture metadata declares a huge layer (no weights at all).
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try editHeader("m.safetensors", "bomb.safetensors") { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta["nabla.architecture"] = #"{"input":[64],"layers":[{"type":"linear","out":4000000000},{"type":"linear","out":10}]}"#
            h["__metadata__"] = meta
        }
        for cmd in ["evaluate", "predict"] {
            let extra = cmd == "predict" ? ["--input", "m.safetensors"] : []
            try assertCleanError([cmd, "--load", "bomb.safetensors"] + extra, mentions: ["bomb.safetensors", "holds only"])
        }
        // summary reads the architecture alone and allocates nothing, so it can describe it.
        let bomb = try nabla(["summary", "--load", "bomb.safetensors"])
        XCTAssertEqual(bomb.status, 0, bomb.stderr)
        XCTAssertTrue(bomb.stdout.contains("Total parameters: 300000000010"), bomb.stdout)
        // The flag raises (or lowers) the limit, and its value is checked.
        try assertCleanError(["train", "--max-memory", "1k", "--epochs", "1"], mentions: ["above the limit of 1.0 KiB"])
        try assertCleanError(["train", "--max-memory", "lots", "--epochs", "1"], mentions: ["--max-memory"])
        // 64·3000 + 3000 + 3000·10 + 10 = 225,010 parameters: 900,040 bytes in float32.
        // Training needs 16 bytes per parameter (weights, gradients, two Adam moments):
        // 225,010 · 16 = 3,600,160, plus 8 bytes per activation value of a 1,024-example
        // batch: (64 + 3000 + 3000 + 10) · 1024 · 8 = 49,758,208; 53,358,368 in all (50.9 MiB).
        try assertCleanError(["train", "--hidden", "3000", "--max-memory", "50M", "--epochs", "1"], mentions: ["225010 parameters", "50.9 MiB"])
        let ok = try nabla(["train", "--hidden", "3000", "--max-memory", "51M", "--epochs", "1", "--quiet"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// A model taking `[8, 8]` examples on the flat digits: train, evaluate and predict scale
    /// the 64 features first and reshape after (they used to reshape first and trap in the scaler).
    func testModelWithImageShapedInput() throws {
        try write("input: [8, 8]\nlayers:\n  - {type: flatten}\n  - {type: linear, out: 32}\n  - {type: relu}\n  - {type: linear, out: 10}\n", to: "m88.yaml")
        let t = try nabla(["train", "--model", "m88.yaml", "--epochs", "8", "--save", "m88.safetensors", "--quiet", "--json"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let trained = try XCTUnwrap(try lastJSON(t)["test_accuracy"] as? Double)
        XCTAssertGreaterThan(trained, 0.85)
        let e = try nabla(["evaluate", "--load", "m88.safetensors", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertEqual(try XCTUnwrap(try lastJSON(e)["test_accuracy"] as? Double), trained, accuracy: 1e-9, "evaluate sees what train saw")
        let rows = try digitsRows(20)
        try write(featureHeader() + "\n" + rows.map { $0.prefix(64).joined(separator: ",") }.joined(separator: "\n") + "\n", to: "x.csv")
        let p = try nabla(["predict", "--load", "m88.safetensors", "--input", "x.csv"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let predicted = p.stdoutLines.compactMap { Int($0) }
        XCTAssertEqual(predicted.count, 20)
        let correct = zip(predicted, rows.map { Int(Double($0[64])!) }).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(correct, 15, "the [8, 8] model predicts the digits it was trained on")
        // The same with [1, 8, 8].
        try write("input: [1, 8, 8]\nlayers:\n  - {type: flatten}\n  - {type: linear, out: 10}\n", to: "m188.yaml")
        XCTAssertEqual(try nabla(["train", "--model", "m188.yaml", "--epochs", "1", "--quiet"]).status, 0)
    }

    /// A checkpoint or model meeting data of another width names both widths (it trapped in
    /// `StandardScaler`): `--resume`, `evaluate` and `predict`.
    func testModelOnDataOfAnotherWidth() throws {
        let iris = repoRoot.appendingPathComponent("Examples/data/iris.csv").path
        let new = repoRoot.appendingPathComponent("Examples/data/iris-new.csv").path
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "d.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try assertCleanError(["train", "--resume", "d.safetensors", "--data", "csv:" + iris, "--epochs", "2"], mentions: ["d.safetensors", "64", "4"])
        try assertCleanError(["evaluate", "--load", "d.safetensors", "--data", "csv:" + iris], mentions: ["d.safetensors", "64", "4"])
        try assertCleanError(["predict", "--load", "d.safetensors", "--input", new], mentions: ["64", "4"])
    }

    /// Writes an IDX file of `n` images of `h×w` zero bytes, or of `n` labels when `h` is 0.
    func writeIDX(_ name: String, n: Int, h: Int = 0, w: Int = 0) throws {
        var b: [UInt8] = [0, 0, 8, h == 0 ? 1 : 3]
        for d in (h == 0 ? [n] : [n, h, w]) { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        b += [UInt8](repeating: 0, count: h == 0 ? n : n * h * w)
        try Data(b).write(to: URL(fileURLWithPath: directory + "/fm/" + name))
    }

    /// A Fashion-MNIST folder whose test images differ in size from the training images is a
    /// data error naming the files (it trapped inside `Linear`); so is an empty split.
    func testFashionMNISTFolderWithMismatchedFiles() throws {
        try FileManager.default.createDirectory(atPath: directory + "/fm", withIntermediateDirectories: true)
        try writeIDX("train-images-idx3-ubyte", n: 12, h: 28, w: 28)
        try writeIDX("train-labels-idx1-ubyte", n: 12)
        try writeIDX("t10k-images-idx3-ubyte", n: 5, h: 27, w: 27)
        try writeIDX("t10k-labels-idx1-ubyte", n: 5)
        try assertCleanError(["train", "--data", "fashion-mnist", "--data-dir", "fm", "--epochs", "1"], mentions: ["27×27", "28×28", "t10k-images"])
        try writeIDX("t10k-images-idx3-ubyte", n: 0, h: 28, w: 28)
        try writeIDX("t10k-labels-idx1-ubyte", n: 0)
        try assertCleanError(["train", "--data", "fashion-mnist", "--data-dir", "fm", "--epochs", "1"], mentions: ["no images"])
        try writeIDX("t10k-images-idx3-ubyte", n: 5, h: 28, w: 28)
        try writeIDX("t10k-labels-idx1-ubyte", n: 5)
        let ok = try nabla(["train", "--data", "fashion-mnist", "--data-dir", "fm", "--epochs", "1", "--validation", "0", "--quiet"])
        XCTAssertEqual(ok.status, 0, "the matching folder trains: \(ok.stderr)")
    }

    /// No `try!` where input can reach: every JSON write and parse goes through throwing
    /// code (a `try!` on NaN is what crashed the CLI). Benchmarks are exempt.
    func testNoForcedTryInSources() throws {
        let sources = repoRoot.appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("NablaBenchmarks/") }
        XCTAssertGreaterThan(files.count, 30, "the source tree was found")
        var offenders: [String] = []
        for f in files {
            let text = try String(contentsOfFile: sources.appendingPathComponent(f).path, encoding: .utf8)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.components(separatedBy: "//").first ?? ""
                if code.contains("try!") { offenders.append("Sources/\(f):\(i + 1): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        XCTAssertEqual(offenders, [], "replace try! with throwing code")
    }
}

extension CLITests {
    /// A run killed inside a save leaves `.NAME.tmp-UUID`; the next run on that name removes
    /// it (and leaves other files alone).
    func testStaleTemporaryFilesAreRemovedByTheNextRun() throws {
        let stale = ".m.safetensors.tmp-\(UUID().uuidString)", other = ".other.safetensors.tmp-\(UUID().uuidString)"
        try write("partial", to: stale)
        try write("partial", to: other)
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/" + stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/" + other))
        try FileManager.default.removeItem(atPath: directory + "/" + other)
    }
}

extension CLITests {
    /// Runs `nabla args…` and returns its exit status and peak resident memory in bytes, as
    /// the program reports it with NABLA_REPORT_PEAK_MEMORY=1 (VmHWM: its own pages only;
    /// `wait4`'s figure would include the test process's memory from before exec).
    func peakMemory(_ args: [String]) throws -> (status: Int32, bytes: Int) {
        setenv("NABLA_REPORT_PEAK_MEMORY", "1", 1)
        defer { unsetenv("NABLA_REPORT_PEAK_MEMORY") }
        let r = try nabla(args)
        let line = try XCTUnwrap(r.stderrLines.last { $0.hasPrefix("peak memory: ") }, "no peak memory reported: \(r.stderr)")
        let kb = try XCTUnwrap(Int(line.dropFirst("peak memory: ".count).dropLast(3)), line)
        return (r.status, kb * 1024)
    }

    func writeSafeTensors(_ name: String, header: String) throws {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(Data(header.utf8))
        try bytes.write(to: URL(fileURLWithPath: directory + "/" + name))
    }

    /// A malicious model file cannot make loading allocate far beyond its size: peak memory
    /// stays within 2 × the file plus a constant. The attacks: a 40 MB array in a shape
    /// (each element cost ~25× its two bytes of text before), a 16 MiB header of
    /// empty tensors, a 16 MiB header of metadata keys, and a header over the 16 MiB cap.
    func testPeakMemoryOfMaliciousModelFilesIsBounded() throws {
        let mib = 1 << 20
        let shape = "[" + Array(repeating: "0", count: 20_000_000).joined(separator: ",") + "]"
        try writeSafeTensors("array.safetensors", header: #"{"a":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,0]}}"#)
        var entries: [String] = [], size = 2, i = 0
        while true {
            let e = #""t\#(i)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"#
            if size + e.utf8.count + 1 > 16 * mib { break }
            entries.append(e); size += e.utf8.count + 1; i += 1
        }
        try writeSafeTensors("entries.safetensors", header: "{" + entries.joined(separator: ",") + "}")
        var keys: [String] = []; size = 20; i = 0
        while true {
            let k = #""k\#(i)":"""#
            if size + k.utf8.count + 1 > 16 * mib { break }
            keys.append(k); size += k.utf8.count + 1; i += 1
        }
        try writeSafeTensors("metadata.safetensors", header: #"{"__metadata__":{"# + keys.joined(separator: ",") + "}}")
        try writeSafeTensors("toolarge.safetensors", header: #"{"__metadata__":{"x":""# + String(repeating: "a", count: 17 * mib) + #""}}"#)
        for name in ["array", "entries", "metadata", "toolarge"] {
            let file = directory + "/\(name).safetensors"
            let fileSize = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            let (status, peak) = try peakMemory(["evaluate", "--load", "\(name).safetensors"])
            XCTAssertEqual(status, 1, "\(name): refused with an error")
            // The constant: the process itself (~30 MB) and the parsed form of a header at
            // the 16 MiB cap (~12× its text at worst, measured ~200 MB).
            let bound = 2 * fileSize + 256 * mib
            XCTAssertLessThan(peak, bound, "\(name): \(peak / mib) MiB peak for a \(fileSize / mib) MiB file")
            try assertCleanError(["evaluate", "--load", "\(name).safetensors"], mentions: ["\(name).safetensors"])
        }
    }
}

extension CLITests {
    /// A CSV through a model taking `[2, 2]` (and `[1, 2, 2]`) examples: train, evaluate and
    /// predict all standardise the 4 columns first and reshape after, through one function.
    func testCSVModelWithImageShapedInput() throws {
        let iris = repoRoot.appendingPathComponent("Examples/data/iris.csv").path
        let new = repoRoot.appendingPathComponent("Examples/data/iris-new.csv").path
        for (name, input) in [("m22", "[2, 2]"), ("m122", "[1, 2, 2]")] {
            try write("input: \(input)\nlayers:\n  - {type: flatten}\n  - {type: linear, out: 16}\n  - {type: tanh}\n  - {type: linear, out: 3}\n", to: name + ".yaml")
            let t = try nabla(["train", "--model", name + ".yaml", "--data", "csv:" + iris, "--target", "species", "--epochs", "40",
                               "--save", name + ".safetensors", "--quiet", "--json"])
            XCTAssertEqual(t.status, 0, t.stderr)
            // Iris is nearly linearly separable once standardised: well above the 1/3 of guessing.
            let trained = try XCTUnwrap(try lastJSON(t)["test_accuracy"] as? Double)
            XCTAssertGreaterThan(trained, 0.8, name)
            let e = try nabla(["evaluate", "--load", name + ".safetensors", "--data", "csv:" + iris, "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            XCTAssertEqual(try XCTUnwrap(try lastJSON(e)["test_accuracy"] as? Double), trained, accuracy: 1e-9, "evaluate sees what train saw")
            let p = try nabla(["predict", "--load", name + ".safetensors", "--input", new])
            XCTAssertEqual(p.status, 0, p.stderr)
            let classes = p.stdoutLines.compactMap { Int($0) }
            XCTAssertFalse(classes.isEmpty)
            XCTAssertTrue(classes.allSatisfy { (0...2).contains($0) }, "\(classes)")
        }
    }

    /// IDX images keep their shape (`[N, 1, 28, 28]`): an MLP flattens them through its input
    /// shape, a model taking `[1, 28, 28]` gets them as images, and a linear layer on images
    /// is a clear error asking for a flatten layer, not a crash.
    func testIDXImagesKeepTheirShape() throws {
        try FileManager.default.createDirectory(atPath: directory + "/fm", withIntermediateDirectories: true)
        try writeIDX("train-images-idx3-ubyte", n: 12, h: 28, w: 28)
        try writeIDX("train-labels-idx1-ubyte", n: 12)
        try writeIDX("t10k-images-idx3-ubyte", n: 5, h: 28, w: 28)
        try writeIDX("t10k-labels-idx1-ubyte", n: 5)
        let data = ["--data", "fashion-mnist", "--data-dir", "fm", "--epochs", "1", "--validation", "0", "--quiet"]
        let mlp = try nabla(["train"] + data)
        XCTAssertEqual(mlp.status, 0, mlp.stderr)
        try write("input: [1, 28, 28]\nlayers:\n  - {type: flatten}\n  - {type: linear, out: 10}\n", to: "img.yaml")
        let img = try nabla(["train", "--model", "img.yaml", "--save", "img.safetensors"] + data)
        XCTAssertEqual(img.status, 0, img.stderr)
        let p = try nabla(["predict", "--load", "img.safetensors", "--input", "fm/t10k-images-idx3-ubyte"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(p.stdoutLines.count, 5)
        try write("input: [1, 28, 28]\nlayers:\n  - {type: linear, out: 10}\n", to: "bad.yaml")
        try assertCleanError(["train", "--model", "bad.yaml"] + data, mentions: ["[1, 28, 10]", "flatten"])
    }
}
