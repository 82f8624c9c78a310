import Foundation
import XCTest

/// End-to-end tests: run the built `nabla` executable and read what it prints.
///
/// `swift build --build-tests` builds the executable next to the test bundle; the tests
/// fail with a clear message when it is missing.
final class CLITests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "nabla-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: running the executable

    /// The `nabla` executable in the build folder that holds this test bundle.
    static let executable: String? = {
        var starts: [URL] = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("nabla").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
    }

    /// Runs `nabla args…` in the test's directory; output goes through files (no pipe deadlock).
    func nabla(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        guard let exe = CLITests.executable else {
            XCTFail("the `nabla` executable was not found next to the test bundle (\(Bundle.main.bundleURL.path)); build it with `swift build --build-tests`", file: file, line: line)
            throw XCTSkip("nabla not built")
        }
        let out = directory + "/.stdout-\(UUID().uuidString)", err = directory + "/.stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["FMNIST_DIR"] = nil
        p.environment = env
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        p.waitUntilExit()
        return Run(status: p.terminationStatus,
                   stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// The JSON object on the last line of stdout.
    func lastJSON(_ r: Run, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let last = try XCTUnwrap(r.stdoutLines.last, "no output; stderr: \(r.stderr)", file: file, line: line)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "not a JSON object: \(last)", file: file, line: line)
    }

    /// Asserts a clean failure: non-zero exit, exactly one stderr line `error: …` (containing
    /// every string of `mentions`), no stack trace, nothing on stdout, and no `leftover` file.
    func assertCleanError(_ args: [String], mentions: [String] = [], leftover: String? = nil,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try nabla(args, file: file, line: line)
        let shown = "nabla \(args.joined(separator: " ")) → status \(r.status), stderr: \(r.stderr)"
        XCTAssertNotEqual(r.status, 0, shown, file: file, line: line)
        XCTAssertLessThan(r.status, 128, "killed by a signal: " + shown, file: file, line: line)
        let errLines = r.stderrLines.filter { !$0.hasPrefix("training ") } // the progress header may precede
        XCTAssertEqual(errLines.count, 1, shown, file: file, line: line)
        XCTAssertTrue(errLines.first?.hasPrefix("error: ") ?? false, shown, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "expected '\(m)' in: " + shown, file: file, line: line) }
        for bad in ["Fatal error", "Stack dump", "Backtrace", "Thread 0", "at /"] {
            XCTAssertFalse(r.stderr.contains(bad), "looks like a crash: " + shown, file: file, line: line)
        }
        XCTAssertFalse(r.stdout.contains("saved model"), shown, file: file, line: line)
        if let leftover {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/" + leftover), "\(leftover) left behind: " + shown, file: file, line: line)
        }
        let temps = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.contains(".tmp-") } ?? []
        XCTAssertEqual(temps, [], "temporary files left behind: " + shown, file: file, line: line)
    }

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }

    /// The bundled digits rows (64 pixel values and the label), read with the system gzip.
    func digitsRows(_ count: Int) throws -> [[String]] {
        let gz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/NablaData/Resources/digits.csv.gz").path
        let out = directory + "/digits.csv"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", gz]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        do { try p.run() } catch { throw XCTSkip("gzip not available") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("cannot decompress \(gz)") }
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").prefix(count)
        try FileManager.default.removeItem(atPath: out)
        return rows.map { $0.split(separator: ",").map(String.init) }
    }

    func featureHeader() -> String { (0..<64).map { "p\($0)" }.joined(separator: ",") }

    // MARK: train / evaluate / predict

    func testTrainJSONLastLine() throws {
        let r = try nabla(["train", "--epochs", "3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try lastJSON(r)
        XCTAssertEqual(o["epochs"] as? Int, 3)
        let acc = try XCTUnwrap(o["test_accuracy"] as? Double)
        XCTAssertTrue(acc > 0.5 && acc <= 1, "\(acc)")
        XCTAssertGreaterThan(try XCTUnwrap(o["seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(o["samples_per_second"] as? Double), 0)
        XCTAssertTrue(r.stdoutLines.first?.hasPrefix("test accuracy") ?? false, r.stdout)
        // Progress goes to stderr, one line per epoch when not on a terminal.
        XCTAssertEqual(r.stderrLines.filter { $0.hasPrefix("epoch ") }.count, 3, r.stderr)
    }

    func testDefaultTrainingOnDigitsReaches95Percent() throws {
        let r = try nabla(["train", "--json", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let o = try lastJSON(r)
        let acc = try XCTUnwrap(o["test_accuracy"] as? Double)
        XCTAssertGreaterThanOrEqual(acc, 0.95, "default digits run: \(r.stdout)")
    }

    func testSaveEvaluatePredict() throws {
        let t = try nabla(["train", "--epochs", "4", "--quiet", "--json", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("saved model to m.safetensors"))
        let trained = try XCTUnwrap(try lastJSON(t)["test_accuracy"] as? Double)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/m.safetensors"))

        let e = try nabla(["evaluate", "--load", "m.safetensors", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let eo = try lastJSON(e)
        XCTAssertEqual(eo["test_accuracy"] as? Double, trained)
        XCTAssertEqual(eo["test_examples"] as? Int, 359) // 20 % of 1,797, rounded

        // Predict on the first 12 digits rows (their labels are 0…9, 0, 1).
        let rows = try digitsRows(12)
        try write(featureHeader() + "\n" + rows.map { $0.prefix(64).joined(separator: ",") }.joined(separator: "\n") + "\n", to: "new.csv")
        let p = try nabla(["predict", "--load", "m.safetensors", "--input", "new.csv"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(p.stdoutLines.count, 12, p.stdout)
        let classes = p.stdoutLines.compactMap { Int($0) }
        XCTAssertEqual(classes.count, 12, p.stdout)
        XCTAssertTrue(classes.allSatisfy { (0..<10).contains($0) })
        let labels = rows.map { Int($0[64])! }
        XCTAssertGreaterThanOrEqual(zip(classes, labels).filter { $0 == $1 }.count, 9, "predictions \(classes) vs labels \(labels)")

        let pj = try nabla(["predict", "--load", "m.safetensors", "--input", "new.csv", "--json"])
        XCTAssertEqual(pj.status, 0, pj.stderr)
        XCTAssertEqual(pj.stdoutLines.count, 12)
        for (i, line) in pj.stdoutLines.enumerated() {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            XCTAssertEqual(o["index"] as? Int, i)
            XCTAssertEqual(o["class"] as? Int, classes[i])
            let probs = try XCTUnwrap(o["probabilities"] as? [Double])
            XCTAssertEqual(probs.count, 10)
            XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-4)
            XCTAssertEqual(probs.indices.max { probs[$0] < probs[$1] }, classes[i])
        }
    }

    func testResumeContinuesTheEpochCount() throws {
        let a = try nabla(["train", "--epochs", "2", "--quiet", "--json", "--save", "ck.safetensors"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(try lastJSON(a)["epochs"] as? Int, 2)
        let b = try nabla(["train", "--resume", "ck.safetensors", "--epochs", "4", "--json", "--save", "ck.safetensors", "--history", "h.json"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(try lastJSON(b)["epochs"] as? Int, 4)
        // Only epochs 3 and 4 were trained.
        XCTAssertEqual(b.stderrLines.filter { $0.hasPrefix("epoch ") }.map { String($0.prefix(9)) }, ["epoch 3/4", "epoch 4/4"])
        let h = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/h.json"))) as? [[String: Any]]
        XCTAssertEqual(h?.compactMap { $0["epoch"] as? Int }, [1, 2, 3, 4])
        // The same run uninterrupted gives the same figures.
        let c = try nabla(["train", "--epochs", "4", "--quiet", "--json"])
        XCTAssertEqual(try lastJSON(c)["test_loss"] as? Double, try lastJSON(b)["test_loss"] as? Double)
        XCTAssertEqual(try lastJSON(c)["final_train_loss"] as? Double, try lastJSON(b)["final_train_loss"] as? Double)
        // Resuming without --save keeps the checkpoint itself up to date: a further
        // resume continues from epoch 4, not from 2.
        let d = try nabla(["train", "--resume", "ck.safetensors", "--epochs", "5", "--quiet", "--json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let e = try nabla(["train", "--resume", "ck.safetensors", "--epochs", "6", "--json"])
        XCTAssertEqual(e.stderrLines.filter { $0.hasPrefix("epoch ") }.map { String($0.prefix(9)) }, ["epoch 6/6"])
    }

    /// The README's walk-through on the shipped Iris CSV: train with a named target column,
    /// predict one class per line (and JSON), and a regression on another column.
    func testReadmeIrisWalkthrough() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let iris = repo.appendingPathComponent("Examples/data/iris.csv").path
        let new = repo.appendingPathComponent("Examples/data/iris-new.csv").path
        let model = directory + "/iris.safetensors"
        let train = try nabla(["train", "--data", "csv:" + iris, "--target", "species", "--save", model, "--quiet", "--json"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let accuracy = try lastJSON(train)["test_accuracy"] as? Double ?? 0
        XCTAssertGreaterThan(accuracy, 0.85, "an MLP separates the three iris species well")
        let predict = try nabla(["predict", "--load", model, "--input", new])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        // iris-new.csv holds rows 1, 61, 121, 26, 76, 141 of iris.csv: species 0, 1, 2, 0, 1, 2.
        let classes = predict.stdoutLines.compactMap { Int($0) }
        XCTAssertEqual(classes.count, 6)
        XCTAssertGreaterThanOrEqual(zip(classes, [0, 1, 2, 0, 1, 2]).filter { $0 == $1 }.count, 5)
        let json = try nabla(["predict", "--load", model, "--input", new, "--json"])
        XCTAssertEqual(json.stdoutLines.count, 6)
        XCTAssertTrue(json.stdoutLines[0].contains("probabilities"))
        let regression = try nabla(["train", "--data", "csv:" + iris, "--target", "petal_width", "--task", "regression",
                                    "--loss", "mse", "--quiet", "--json"])
        XCTAssertEqual(regression.status, 0, regression.stderr)
        XCTAssertNotNil(try lastJSON(regression)["test_mae"])
    }

    /// A model trained with a non-default seed and test fraction is evaluated on the same
    /// test split by default (the split settings travel in the model file).
    func testEvaluateUsesTheStoredSplit() throws {
        let model = directory + "/seed7.safetensors"
        let train = try nabla(["train", "--seed", "7", "--test-fraction", "0.3", "--epochs", "3", "--save", model, "--quiet", "--json"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let trained = try lastJSON(train)
        let eval = try nabla(["evaluate", "--load", model, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let evaluated = try lastJSON(eval)
        XCTAssertEqual(evaluated["test_examples"] as? Int, trained["test_examples"] as? Int)
        XCTAssertEqual(evaluated["test_accuracy"] as? Double, trained["test_accuracy"] as? Double)
    }

    func testCSVRegression() throws {
        // y = 2a − b + 0.5 on a grid: a regression problem an MLP fits well.
        var lines = ["a,b,y"]
        var ys: [Double] = []
        for i in 0..<120 {
            let a = Double(i % 12) / 4 - 1.5, b = Double(i / 12) / 3 - 1.5
            let y = 2 * a - b + 0.5
            ys.append(y)
            lines.append("\(a),\(b),\(y)")
        }
        try write(lines.joined(separator: "\n") + "\n", to: "plane.csv")
        let r = try nabla(["train", "--data", "csv:plane.csv", "--target", "y", "--task", "regression", "--epochs", "40",
                           "--quiet", "--json", "--save", "plane.safetensors"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try lastJSON(r)
        XCTAssertNil(o["test_accuracy"])
        let mae = try XCTUnwrap(o["test_mae"] as? Double)
        let mean = ys.reduce(0, +) / Double(ys.count)
        let spread = ys.map { abs($0 - mean) }.reduce(0, +) / Double(ys.count) // MAE of predicting the mean
        XCTAssertLessThan(mae, 0.25 * spread, "test MAE \(mae) vs \(spread) for the mean")
        try write("a,b\n1,1\n-1,0.5\n", to: "q.csv")
        let p = try nabla(["predict", "--load", "plane.safetensors", "--input", "q.csv"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let v = p.stdoutLines.compactMap(Double.init)
        XCTAssertEqual(v.count, 2, p.stdout)
        if v.count == 2 {
            XCTAssertEqual(v[0], 1.5, accuracy: 0.5) // 2 − 1 + 0.5
            XCTAssertEqual(v[1], -2, accuracy: 0.5) // −2 − 0.5 + 0.5
        }
    }

    // MARK: summary, info, help

    func testSummaryCountsParameters() throws {
        let r = try nabla(["summary", "--hidden", "10,20", "--inputs", "5", "--outputs", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 5·10 + 10 = 60, 10·20 + 20 = 220, 20·3 + 3 = 63, total 343.
        let counts = r.stdoutLines.filter { $0.contains("Linear") }.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
        XCTAssertEqual(counts, [60, 220, 63], r.stdout)
        XCTAssertTrue(r.stdout.contains("343"), r.stdout)
    }

    func testInfoShowsTheGEMMPath() throws {
        let r = try nabla(["info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let gemm = r.stdoutLines.first { $0.hasPrefix("gemm_path") }
        XCTAssertNotNil(gemm, r.stdout)
        XCTAssertTrue(["builtin", "openblas", "accelerate"].contains { gemm?.hasSuffix($0) ?? false }, r.stdout)
        let j = try nabla(["info", "--json"])
        XCTAssertNotNil(try lastJSON(j)["gemm_path"] as? String)
    }

    func testHelpOfEveryCommandShowsExamples() throws {
        for cmd in [[], ["train"], ["evaluate"], ["predict"], ["summary"], ["info"]] {
            let r = try nabla(cmd + ["--help"])
            XCTAssertEqual(r.status, 0, "\(cmd): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("Examples:"), "\(cmd) --help: \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("nabla \(cmd.first ?? "train")"), "\(cmd) --help: \(r.stdout)")
        }
    }

    // MARK: bad input

    func testBadDataFiles() throws {
        try assertCleanError(["train", "--data", "csv:missing.csv", "--save", "o.safetensors"], mentions: ["missing.csv"], leftover: "o.safetensors")
        try FileManager.default.createDirectory(atPath: directory + "/adir", withIntermediateDirectories: true)
        try assertCleanError(["train", "--data", "csv:adir", "--save", "o.safetensors"], mentions: ["adir"], leftover: "o.safetensors")
        try write("a,b,y\n1,2,0\n3,x,1\n4,5,1\n", to: "nonnum.csv")
        try assertCleanError(["train", "--data", "csv:nonnum.csv", "--save", "o.safetensors"], mentions: ["nonnum.csv", "row 3", "'x'", "'b'"], leftover: "o.safetensors")
        try write("a,b,y\n1,2,0\n3,4\n5,6,1\n", to: "ragged.csv")
        try assertCleanError(["train", "--data", "csv:ragged.csv", "--save", "o.safetensors"], mentions: ["ragged.csv", "row 3"], leftover: "o.safetensors")
        try write("a,b,y\n1,2,0\n3,4,1\n5,6,1\n", to: "ok.csv")
        try assertCleanError(["train", "--data", "csv:ok.csv", "--target", "price", "--save", "o.safetensors"], mentions: ["price"], leftover: "o.safetensors")
        try assertCleanError(["train", "--data", "nonsense"], mentions: ["nonsense"])
        try assertCleanError(["train", "--data", "fashion-mnist", "--data-dir", directory + "/nowhere", "--save", "o.safetensors"],
                             mentions: ["apt-get install"], leftover: "o.safetensors")
    }

    func testBadPredictInputs() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        // A truncated IDX file: header says 10×8×8 bytes, 100 follow.
        var idx: [UInt8] = [0, 0, 0x08, 3, 0, 0, 0, 10, 0, 0, 0, 8, 0, 0, 0, 8]
        let header = idx
        idx += [UInt8](repeating: 7, count: 100)
        try Data(idx).write(to: URL(fileURLWithPath: directory + "/trunc.idx"))
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "trunc.idx"], mentions: ["trunc.idx", "truncated"])
        // A gzip file whose compressed stream is corrupted (a valid gzip header, then garbage).
        var gz: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
        gz += [0xff, 0xfe, 0xfd, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]
        try Data(gz).write(to: URL(fileURLWithPath: directory + "/bad.idx.gz"))
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "bad.idx.gz"], mentions: ["bad.idx.gz"])
        // An IDX file of 8×8 images is fine in shape terms but 10×8×8 needs 640 bytes: give them all.
        try Data(header + [UInt8](repeating: 3, count: 640)).write(to: URL(fileURLWithPath: directory + "/ok.idx"))
        let ok = try nabla(["predict", "--load", "m.safetensors", "--input", "ok.idx"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdoutLines.count, 10)
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "missing.csv"], mentions: ["missing.csv"])
        try write("a,b\n1,2\n", to: "narrow.csv")
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "narrow.csv"], mentions: ["64"])
        try write(featureHeader() + "\n" + Array(repeating: "1", count: 63).joined(separator: ",") + ",oops\n", to: "word.csv")
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "word.csv"], mentions: ["row 2", "oops"])
        try assertCleanError(["predict", "--load", "missing.safetensors", "--input", "word.csv"], mentions: ["missing.safetensors"])
    }

    func testLabelsOutsideTheModelsClasses() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let rows = try digitsRows(40)
        var lines = [featureHeader() + ",label"]
        for (i, r) in rows.enumerated() { lines.append(r.prefix(64).joined(separator: ",") + "," + (i == 7 ? "12" : r[64])) }
        try write(lines.joined(separator: "\n") + "\n", to: "c12.csv")
        // Whichever split example 7 falls into, the data do not fit a 10-class model.
        for seed in ["0", "1", "2"] {
            try assertCleanError(["evaluate", "--load", "m.safetensors", "--data", "csv:c12.csv", "--seed", seed], mentions: ["12"])
        }
        // And resuming training on it is refused too.
        try assertCleanError(["train", "--resume", "m.safetensors", "--data", "csv:c12.csv", "--epochs", "3", "--save", "r.safetensors"],
                             mentions: ["12"], leftover: "r.safetensors")
    }

    /// Rewrites a saved model file's JSON header with `edit` (keeping the data bytes).
    func editHeader(_ source: String, _ dest: String, _ edit: (inout [String: Any]) -> Void) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + source))
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        var header = try XCTUnwrap(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
        edit(&header)
        let h = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(h)
        out.append(bytes.subdata(in: (8 + n)..<bytes.count))
        try out.write(to: URL(fileURLWithPath: directory + "/" + dest))
    }

    func testCorruptModelFiles() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try write(featureHeader() + "\n" + Array(repeating: "1", count: 64).joined(separator: ",") + "\n", to: "one.csv")
        // Sanity: the edit helper itself keeps a good file good.
        try editHeader("m.safetensors", "same.safetensors") { _ in }
        XCTAssertEqual(try nabla(["evaluate", "--load", "same.safetensors"]).status, 0)

        // Malformed JSON header.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/m.safetensors"))
        bytes[8] = UInt8(ascii: "[")
        bytes[9] = UInt8(ascii: "}")
        try bytes.write(to: URL(fileURLWithPath: directory + "/malformed.safetensors"))
        // Header length beyond the file, and a file shorter than the length field.
        var huge = bytes
        huge.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x10])
        try huge.write(to: URL(fileURLWithPath: directory + "/huge.safetensors"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory + "/tiny.safetensors"))
        // Offsets outside the data.
        try editHeader("m.safetensors", "offsets.safetensors") { h in
            var e = h["layers.0.weight"] as! [String: Any]
            let o = e["data_offsets"] as! [Int]
            e["data_offsets"] = [o[0], o[1] + 1_000_000]
            h["layers.0.weight"] = e
        }
        // A tensor's shape that disagrees with the architecture (same byte count).
        try editHeader("m.safetensors", "shape.safetensors") { h in
            var e = h["layers.0.weight"] as! [String: Any]
            e["shape"] = [64, 128]
            h["layers.0.weight"] = e
        }
        // An architecture that disagrees with the stored tensors.
        try editHeader("m.safetensors", "arch.safetensors") { h in
            var meta = h["__metadata__"] as! [String: String]
            meta["nabla.architecture"] = meta["nabla.architecture"]!.replacingOccurrences(of: "\"out\":128", with: "\"out\":32")
            h["__metadata__"] = meta
        }
        // A weight under the wrong name: one missing, one unexpected.
        try editHeader("m.safetensors", "missing.safetensors") { h in
            h["layers.2.offset"] = h["layers.2.bias"]
            h["layers.2.bias"] = nil
        }
        // An architecture that is not valid.
        try editHeader("m.safetensors", "badarch.safetensors") { h in
            var meta = h["__metadata__"] as! [String: String]
            meta["nabla.architecture"] = "{\"input\": [64], \"layers\": [{\"type\": \"warp\"}]}"
            h["__metadata__"] = meta
        }
        let cases: [(String, [String])] = [
            ("malformed.safetensors", ["malformed.safetensors"]),
            ("huge.safetensors", ["huge.safetensors"]),
            ("tiny.safetensors", ["tiny.safetensors"]),
            ("offsets.safetensors", ["offsets.safetensors", "layers.0.weight"]),
            ("shape.safetensors", ["shape.safetensors", "layers.0.weight"]),
            ("arch.safetensors", ["arch.safetensors", "layers.0.weight"]),
            ("missing.safetensors", ["missing.safetensors", "layers.2.bias", "layers.2.offset"]),
            ("badarch.safetensors", ["warp"]),
        ]
        for (file, mentions) in cases {
            try assertCleanError(["evaluate", "--load", file], mentions: mentions)
            try assertCleanError(["predict", "--load", file, "--input", "one.csv"], mentions: mentions)
            try assertCleanError(["train", "--resume", file, "--epochs", "3", "--save", "out.safetensors"], mentions: mentions, leftover: "out.safetensors")
            // summary reads the architecture alone: it fails on a broken file or architecture,
            // not on weights that disagree with it.
            if ["malformed.safetensors", "huge.safetensors", "tiny.safetensors", "offsets.safetensors", "badarch.safetensors"].contains(file) {
                try assertCleanError(["summary", "--load", file], mentions: mentions)
            }
        }
    }

    func testBadArchitectureFiles() throws {
        try write("input: [64]\nlayers:\n  - {type: linear, out: 32}\n  - {type: frobnicate}\n  - {type: linear, out: 10}\n", to: "unknown.yaml")
        try assertCleanError(["train", "--model", "unknown.yaml", "--save", "o.safetensors"], mentions: ["frobnicate", "layer 1"], leftover: "o.safetensors")
        try assertCleanError(["summary", "--model", "unknown.yaml"], mentions: ["frobnicate"])
        try write("input: [64]\nlayers:\n  - {type: linear, out: 32}\n  - {type: relu}\n  - {type: linear, in: 16, out: 10}\n", to: "sizes.yaml")
        try assertCleanError(["train", "--model", "sizes.yaml", "--save", "o.safetensors"], mentions: ["layer 2", "16", "32"], leftover: "o.safetensors")
        try write("{\"input\": [64], \"layers\": [{\"type\": \"linear\", \"out\": 7}]}", to: "outputs.json")
        try assertCleanError(["train", "--model", "outputs.json", "--save", "o.safetensors"], mentions: ["7", "10"], leftover: "o.safetensors")
        try write("input: [30]\nlayers:\n  - {type: linear, out: 10}\n", to: "inputs.yaml")
        try assertCleanError(["train", "--model", "inputs.yaml", "--save", "o.safetensors"], mentions: ["30", "64"], leftover: "o.safetensors")
        try write("input: [64\nlayers: [", to: "broken.yaml")
        try assertCleanError(["train", "--model", "broken.yaml", "--save", "o.safetensors"], mentions: ["broken.yaml"], leftover: "o.safetensors")
        try write("layers: []\n", to: "noinput.yaml")
        try assertCleanError(["train", "--model", "noinput.yaml"], mentions: ["input"])
        try assertCleanError(["train", "--model", "missing.yaml", "--save", "o.safetensors"], mentions: ["missing.yaml"], leftover: "o.safetensors")
    }

    func testBadNumbers() throws {
        let cases: [([String], String)] = [
            (["--epochs", "0"], "--epochs"), (["--epochs=-3"], "--epochs"),
            (["--batch-size", "0"], "--batch-size"), (["--batch-size=-8"], "--batch-size"),
            (["--lr", "0"], "--lr"), (["--lr=-0.1"], "--lr"), (["--lr", "nan"], "--lr"), (["--lr", "inf"], "--lr"),
            (["--dropout", "1"], "--dropout"), (["--validation", "1"], "--validation"),
            (["--test-fraction", "0"], "--test-fraction"), (["--patience", "0"], "--patience"),
            (["--hidden", "10,0"], "--hidden"), (["--hidden", "10,x"], "--hidden"),
            (["--activation", "sparkle"], "sparkle"), (["--optimizer", "magic"], "magic"),
        ]
        for (args, mention) in cases {
            try assertCleanError(["train"] + args + ["--save", "o.safetensors"], mentions: [mention], leftover: "o.safetensors")
        }
        try assertCleanError(["summary", "--inputs", "0"], mentions: ["--inputs"])
        try assertCleanError(["summary", "--hidden", "4,-1"], mentions: ["--hidden"])
        // Training that diverges stops with the epoch, the step and the layer.
        try assertCleanError(["train", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "2", "--quiet"], mentions: ["epoch 1", "step", "layer"])
        // ArgumentParser's own usage errors (malformed flags) exit non-zero without a crash.
        let r = try nabla(["train", "--epochs", "many"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(r.status, 128)
    }
}
