import Foundation
import XCTest

/// Silent wrong results, data loss and untrusted model files (the "CLI a user can trust"
/// issue): each case failed (or succeeded wrongly) before its fix.
extension CLITests {
    /// Two outputs naming one file, or an output naming an input, are refused before any
    /// work: `--history X --save X` used to replace the checkpoint with history JSON.
    func testOutputsThatWouldOverwriteEachOtherOrAnInput() throws {
        try assertCleanError(["train", "--epochs", "1", "--history", "x.json", "--save", "x.json"], mentions: ["--save", "--history", "same file"])
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "ck.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/ck.safetensors"))
        try assertCleanError(["train", "--resume", "ck.safetensors", "--epochs", "2", "--history", "ck.safetensors"], mentions: ["same file"])
        try assertCleanError(["train", "--resume", "ck.safetensors", "--epochs", "2", "--history", "./ck.safetensors"], mentions: ["same file"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/ck.safetensors")), before, "the checkpoint is untouched")
        try FileManager.default.createSymbolicLink(atPath: directory + "/link.json", withDestinationPath: directory + "/ck.safetensors")
        try assertCleanError(["train", "--resume", "ck.safetensors", "--epochs", "2", "--history", "link.json"], mentions: ["same file"])
        try assertCleanError(["train", "--save", "ck.best.safetensors", "--history", "ck.best.safetensors", "--epochs", "1"], mentions: ["same file"])
        try assertCleanError(["train", "--save", "m.safetensors", "--history", "m.best.safetensors", "--epochs", "1"], mentions: ["best checkpoint"])
        // Output onto an input.
        try write("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,3,0\n2,4,1\n", to: "d.csv")
        let csv = try String(contentsOfFile: directory + "/d.csv", encoding: .utf8)
        try assertCleanError(["train", "--data", "csv:d.csv", "--save", "d.csv", "--epochs", "1"], mentions: ["--data", "destroy"])
        try assertCleanError(["train", "--data", "csv:d.csv", "--history", "d.csv", "--epochs", "1"], mentions: ["--data"])
        try write("input: [64]\nlayers:\n  - {type: linear, out: 10}\n", to: "a.yaml")
        try assertCleanError(["train", "--model", "a.yaml", "--save", "a.yaml", "--epochs", "1"], mentions: ["--model"])
        XCTAssertEqual(try String(contentsOfFile: directory + "/d.csv", encoding: .utf8), csv)
        // Resuming into the same checkpoint is the normal case and still works.
        let r = try nabla(["train", "--resume", "ck.safetensors", "--save", "ck.safetensors", "--epochs", "2", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A `--save` folder that cannot be written is reported before training, not after the first epoch.
    func testUnwritableSaveFolderIsReportedBeforeTraining() throws {
        try assertCleanError(["train", "--epochs", "1", "--save", "missing/m.safetensors"], mentions: ["does not exist"])
        try assertCleanError(["train", "--epochs", "1", "--save", "/proc/m.safetensors"], mentions: ["cannot write"])
        try FileManager.default.createDirectory(atPath: directory + "/dir.safetensors", withIntermediateDirectories: true)
        try assertCleanError(["train", "--epochs", "1", "--save", "dir.safetensors"], mentions: ["is a folder"])
        let r = try nabla(["train", "--epochs", "1", "--save", "/proc/m.safetensors"])
        XCTAssertFalse(r.stderr.contains("epoch 1/1"), "refused before the first epoch: \(r.stderr)")
    }

    /// `--hidden ""` and `--hidden 128,,64` were silently accepted as fewer layers.
    func testMalformedHiddenSizes() throws {
        try assertCleanError(["train", "--hidden", "", "--epochs", "1"], mentions: ["--hidden", "empty"])
        try assertCleanError(["train", "--hidden", "128,,64", "--epochs", "1"], mentions: ["item 2 is empty"])
        try assertCleanError(["train", "--hidden", "128,", "--epochs", "1"], mentions: ["item 2 is empty"])
        try assertCleanError(["summary", "--hidden", "12,x"], mentions: ["'x'"])
        let none = try nabla(["summary", "--hidden", "none", "--inputs", "5", "--outputs", "3"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stdout.contains("18"), "5·3 + 3 = 18 parameters: \(none.stdout)")
    }

    /// Negative option values: `--target -1` (the documented last column) used to fail with
    /// "Missing value"; a negative seed is a clear usage error.
    func testNegativeNumbersAsOptionValues() throws {
        let iris = repoRoot.appendingPathComponent("Examples/data/iris.csv").path
        let r = try nabla(["train", "--data", "csv:" + iris, "--target", "-1", "--epochs", "1", "--quiet", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try nabla(["train", "--seed", "-1", "--epochs", "1"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("'-1' is invalid for '--seed"), s.stderr)
    }

    /// Help text is wrapped by ArgumentParser, not hard-wrapped mid-sentence in the source.
    func testHelpIsNotHardWrappedMidSentence() throws {
        for cmd in ["train", "evaluate", "predict"] {
            let h = try nabla([cmd, "--help"])
            let lines = h.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // Inside a paragraph, a line after which the next line's first word would still
            // have fitted in ArgumentParser's 79 columns was broken by hand ("…The input" / "scaling fitted…").
            for (i, line) in lines.enumerated() where i + 1 < lines.count {
                let next = lines[i + 1]
                guard !line.hasPrefix(" "), !line.isEmpty, !next.isEmpty, !next.hasPrefix(" "), !line.hasSuffix(":") else { continue }
                let firstWord = next.split(separator: " ").first.map(String.init) ?? ""
                XCTAssertGreaterThanOrEqual(line.count + 1 + firstWord.count, 80, "\(cmd) --help: hard-wrapped paragraph: '\(line)' / '\(next)'")
            }
        }
    }
}

extension CLITests {
    /// A model file's metadata naming `csv:/etc/…` made `evaluate` read that file and print
    /// its first lines. Now a stored path is used only when it is relative and inside the
    /// model file's folder; anything else needs the user's own `--data`.
    func testModelFileCannotMakeEvaluateReadOtherFiles() throws {
        try write("secret_a,secret_b\nTOPSECRET1,TOPSECRET2\nTOPSECRET3,TOPSECRET4\n", to: "secret.csv")
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        for suggested in ["csv:" + directory + "/secret.csv", "csv:../" + URL(fileURLWithPath: directory).lastPathComponent + "/secret.csv",
                          "csv:/etc/passwd", "csv:~/x.csv"] {
            try editHeader("m.safetensors", "evil.safetensors") { h in
                var meta = h["__metadata__"] as! [String: Any]
                meta["nabla.data"] = suggested
                h["__metadata__"] = meta
            }
            for args in [["evaluate", "--load", "evil.safetensors"], ["train", "--resume", "evil.safetensors", "--epochs", "2"]] {
                let r = try nabla(args)
                XCTAssertEqual(r.status, 1, "\(suggested): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("--data"), r.stderr)
                XCTAssertFalse(r.stderr.contains("TOPSECRET") || r.stderr.contains("secret_a") || r.stderr.contains("root:"), "file content leaked: \(r.stderr)")
            }
        }
        // The user's own --data is always honoured.
        let ok = try nabla(["evaluate", "--load", "evil.safetensors", "--data", "digits"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// The CSV path is stored relative to the model file, so `evaluate` works from another
    /// directory (it failed: the path was stored as typed, relative to where train ran).
    func testRelativeDataPathsSurviveAChangeOfDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory + "/project/data", withIntermediateDirectories: true)
        let iris = try String(contentsOf: repoRoot.appendingPathComponent("Examples/data/iris.csv"), encoding: .utf8)
        try write(iris, to: "project/data/iris.csv")
        try FileManager.default.createDirectory(atPath: directory + "/project/models", withIntermediateDirectories: true)
        // The model is saved in project/, which holds data/iris.csv: the path is stored as
        // data/iris.csv, relative to the model file.
        let t = try nabla(["train", "--data", "csv:project/data/iris.csv", "--target", "species", "--epochs", "3", "--quiet", "--json", "--save", "project/iris.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let acc = try XCTUnwrap(try lastJSON(t)["test_accuracy"] as? Double)
        try FileManager.default.createDirectory(atPath: directory + "/elsewhere", withIntermediateDirectories: true)
        let runFromElsewhere = try nablaIn("elsewhere", ["evaluate", "--load", "../project/iris.safetensors", "--json"])
        XCTAssertEqual(runFromElsewhere.status, 0, runFromElsewhere.stderr)
        XCTAssertEqual(try XCTUnwrap(try lastJSON(runFromElsewhere)["test_accuracy"] as? Double), acc, accuracy: 1e-9)
        // A model saved next to a data folder it does not contain stores an absolute path;
        // evaluate names it and asks for --data instead of opening it.
        let u = try nabla(["train", "--data", "csv:project/data/iris.csv", "--target", "species", "--epochs", "1", "--quiet", "--save", "project/models/m.safetensors"])
        XCTAssertEqual(u.status, 0, u.stderr)
        let e = try nablaIn("elsewhere", ["evaluate", "--load", "../project/models/m.safetensors"])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("iris.csv") && e.stderr.contains("--data"), e.stderr)
        let f = try nablaIn("elsewhere", ["evaluate", "--load", "../project/models/m.safetensors", "--data", "csv:../project/data/iris.csv", "--target", "species"])
        XCTAssertEqual(f.status, 0, f.stderr)
    }

    /// Runs `nabla` in a sub-folder of the test's directory.
    func nablaIn(_ sub: String, _ args: [String]) throws -> Run {
        let saved = directory!
        directory = saved + "/" + sub
        defer { directory = saved }
        return try nabla(args)
    }

    /// Metadata values are validated with the key and the rule in the error:
    /// `nabla.classes="abc"` and `nabla.epoch=-3` used to be accepted.
    func testMetadataValuesAreValidated() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let cases: [(String, String, [String])] = [
            ("nabla.classes", "abc", ["nabla.classes", "positive integer"]),
            ("nabla.classes", "-2", ["nabla.classes"]),
            ("nabla.classes", "7", ["nabla.classes", "10 outputs"]),
            ("nabla.epoch", "-3", ["nabla.epoch", "non-negative"]),
            ("nabla.split.test_fraction", "1.5", ["nabla.split.test_fraction"]),
            ("nabla.split.validation_fraction", "nan", ["nabla.split.validation_fraction"]),
            ("nabla.split.seed", "-1", ["nabla.split.seed"]),
            ("nabla.step", "-5", ["nabla.step"]),
            ("nabla.epochs_since_best", "x", ["nabla.epochs_since_best"]),
        ]
        for (key, value, mentions) in cases {
            try editHeader("m.safetensors", "bad.safetensors") { h in
                var meta = h["__metadata__"] as! [String: Any]
                meta[key] = value
                h["__metadata__"] = meta
            }
            let cmd = key == "nabla.step" || key == "nabla.epochs_since_best" ? ["train", "--resume", "bad.safetensors", "--epochs", "3"]
                                                                              : ["evaluate", "--load", "bad.safetensors"]
            try assertCleanError(cmd, mentions: mentions)
        }
    }
}

extension CLITests {
    /// Ctrl-C (SIGINT) and SIGTERM end a run cleanly: the step in progress finishes, no
    /// temporary file is left, the message says where the last checkpoint is, and the exit
    /// status is 130 or 143. (They ended the run at once with no message, and 5 of 15 left
    /// `.NAME.tmp-*` files.)
    func testInterruptsStopCleanlyAndSayWhereTheCheckpointIs() throws {
        guard let exe = CLITests.executable else { throw XCTSkip("nabla not built") }
        for (signal, status, name) in [(SIGINT, Int32(130), "SIGINT"), (SIGTERM, Int32(143), "SIGTERM")] {
            let errPath = directory + "/err-\(name).txt"
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["train", "--epochs", "100000", "--hidden", "256", "--save", "sig-\(name).safetensors", "--quiet"]
            p.currentDirectoryURL = URL(fileURLWithPath: directory)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            try p.run()
            // Wait for the first checkpoint, then a little more so the signal lands mid-epoch or mid-save.
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: directory + "/sig-\(name).safetensors") && Date() < deadline { usleep(20_000) }
            usleep(useconds_t(150_000 + Int.random(in: 0..<300_000)))
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            let err = try String(contentsOfFile: errPath, encoding: .utf8)
            XCTAssertEqual(p.terminationReason, .exit, "\(name): ended by the signal instead of handling it: \(err)")
            XCTAssertEqual(p.terminationStatus, status, "\(name): \(err)")
            XCTAssertTrue(err.contains("interrupted by \(name)"), err)
            XCTAssertTrue(err.contains("last complete checkpoint is sig-\(name).safetensors"), err)
            XCTAssertTrue(err.contains("--resume sig-\(name).safetensors"), err)
            let temps = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
            XCTAssertEqual(temps, [], name)
            let e = try nabla(["evaluate", "--load", "sig-\(name).safetensors"])
            XCTAssertEqual(e.status, 0, "the checkpoint is complete: \(e.stderr)")
        }
    }
}

extension CLITests {
    /// Writes `rows` with their columns in the order `order` (indices into each row).
    func writeColumns(_ rows: [[String]], _ order: [Int], to name: String) throws {
        try write(rows.map { r in order.map { r[$0] }.joined(separator: ",") }.joined(separator: "\n") + "\n", to: name)
    }

    /// `predict` matches CSV columns by header name: the Iris example with its columns in
    /// reverse order was classified 1 instead of 0. Missing and unknown columns are named;
    /// a model without stored names matches by position and says so.
    func testPredictMatchesColumnsByName() throws {
        let iris = repoRoot.appendingPathComponent("Examples/data/iris.csv").path
        let newRows = try String(contentsOf: repoRoot.appendingPathComponent("Examples/data/iris-new.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(newRows[0], ["sepal_length", "sepal_width", "petal_length", "petal_width"])
        let t = try nabla(["train", "--data", "csv:" + iris, "--target", "species", "--save", "iris.safetensors", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try writeColumns(newRows, [0, 1, 2, 3], to: "same.csv")
        try writeColumns(newRows, [3, 2, 1, 0], to: "reversed.csv")
        let a = try nabla(["predict", "--load", "iris.safetensors", "--input", "same.csv"])
        let b = try nabla(["predict", "--load", "iris.safetensors", "--input", "reversed.csv"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(b.stdout, a.stdout, "the same flowers in another column order get the same classes")
        XCTAssertEqual(a.stdoutLines.first, "0", "the first new flower (5.1, 3.5, 1.4, 0.2) is a setosa")
        try writeColumns(newRows, [0, 1, 3], to: "missing.csv")
        try assertCleanError(["predict", "--load", "iris.safetensors", "--input", "missing.csv"], mentions: ["missing column 'petal_length'"])
        try write(newRows.enumerated().map { ($0.offset == 0 ? ["colour"] : ["3"]) + $0.element }.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n", to: "extra.csv")
        try assertCleanError(["predict", "--load", "iris.safetensors", "--input", "extra.csv"], mentions: ["unknown column 'colour'"])
        // The labelled training file itself: its target column is recognised and ignored.
        let c = try nabla(["predict", "--load", "iris.safetensors", "--input", iris])
        XCTAssertEqual(c.status, 0, c.stderr)
        // A model file without stored names (written before they were stored): by position, with a note.
        try editHeader("iris.safetensors", "old.safetensors") { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta["nabla.features"] = nil
            h["__metadata__"] = meta
        }
        let d = try nabla(["predict", "--load", "old.safetensors", "--input", "same.csv"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(d.stdout, a.stdout)
        XCTAssertTrue(d.stderr.contains("by position"), d.stderr)
        // Evaluate on the labelled file with its columns reversed: the same accuracy.
        let rows = try String(contentsOfFile: iris, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        try writeColumns(rows, [4, 3, 2, 1, 0], to: "iris-reversed.csv")
        let e1 = try nabla(["evaluate", "--load", "iris.safetensors", "--data", "csv:" + iris, "--json"])
        let e2 = try nabla(["evaluate", "--load", "iris.safetensors", "--data", "csv:iris-reversed.csv", "--json"])
        XCTAssertEqual(e1.status, 0, e1.stderr)
        XCTAssertEqual(e2.status, 0, e2.stderr)
        XCTAssertEqual(try lastJSON(e2)["test_accuracy"] as? Double, try lastJSON(e1)["test_accuracy"] as? Double)
    }
}

extension CLITests {
    /// A misspelt option in an architecture file (`activaton`), an option the layer does not
    /// take, or an unknown top-level key is refused by name (they were silently ignored).
    func testArchitectureTyposAreRefusedByName() throws {
        try write("input: [64]\nlayers:\n  - {type: linear, out: 10, activaton: relu}\n", to: "a.yaml")
        try assertCleanError(["train", "--model", "a.yaml", "--epochs", "1"], mentions: ["layer 0 (linear)", "unknown option 'activaton'", "'out', 'in', 'bias'"])
        try write("input: [64]\nlayers:\n  - {type: relu, alpha: 0.1}\n  - {type: linear, out: 10}\n", to: "b.yaml")
        try assertCleanError(["summary", "--model", "b.yaml"], mentions: ["layer 0 (relu)", "'alpha'", "takes no options"])
        try write(#"{"input": [64], "layers": [{"type": "linear", "out": 10}], "optimizer": "adam"}"#, to: "c.json")
        try assertCleanError(["summary", "--model", "c.json"], mentions: ["unknown key 'optimizer'"])
        try write("input: [64]\nlayers:\n  - {type: leaky_relu, alpha: 0.2}\n  - {type: linear, out: 10, bias: false}\n", to: "ok.yaml")
        let ok = try nabla(["summary", "--model", "ok.yaml"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// NaN, infinity and numbers beyond float32 in a CSV are refused with the row and column
    /// (the training split blamed "layer 0"; the test split reported `loss -nan`, exit 0).
    func testNonFiniteCSVCellsAreRefused() throws {
        for (cell, name) in [("nan", "nan"), ("inf", "inf"), ("-Infinity", "neginf"), ("1e39", "big")] {
            var rows = ["a,b,y"]
            for i in 0..<30 { rows.append("\(i),\(i == 17 ? cell : String(i * 2)),\(i % 2)") }
            try write(rows.joined(separator: "\n") + "\n", to: "\(name).csv")
            // Row 19: the header is row 1 and the value is in the 18th data row.
            try assertCleanError(["train", "--data", "csv:\(name).csv", "--epochs", "1"], mentions: ["\(name).csv", "row 19", "'b'"])
        }
    }
}

extension CLITests {
    /// A validation fraction so small that the split is empty is refused (its metrics would be NaN).
    func testEmptyValidationSplitIsRefused() throws {
        try assertCleanError(["train", "--validation", "0.0001", "--epochs", "1"], mentions: ["--validation", "0 validation"])
    }
}

/// Findings of the review of this round (each failed before its fix).
extension CLITests {
    /// A model whose output per example is not one axis of the right width is an error, not a
    /// trap in the loss: a regression task on a 10-output classifier, and a final reshape.
    func testOutputShapeMustFitTheTask() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try editHeader("m.safetensors", "reg.safetensors") { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta["nabla.task"] = "regression"; meta["nabla.loss"] = "mse"; meta["nabla.classes"] = nil
            h["__metadata__"] = meta
        }
        try assertCleanError(["evaluate", "--load", "reg.safetensors"], mentions: ["reg.safetensors", "[10]", "[1]"])
        try write("input: [64]\nlayers:\n  - {type: linear, out: 20}\n  - {type: reshape, shape: [2, 10]}\n", to: "r.yaml")
        try assertCleanError(["train", "--model", "r.yaml", "--epochs", "1"], mentions: ["[2, 10]", "flatten"])
    }

    /// An IDX file with no dimensions (a scalar) given to predict is an error, not a trap.
    func testPredictOnAScalarIDXFile() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try Data([0, 0, 8, 0, 42]).write(to: URL(fileURLWithPath: directory + "/x.idx"))
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "x.idx"], mentions: ["x.idx", "scalar"])
    }

    /// A symbolic link inside the model's folder cannot lead the stored data path outside it.
    func testStoredDataPathCannotEscapeThroughASymlink() throws {
        try FileManager.default.createDirectory(atPath: directory + "/outside", withIntermediateDirectories: true)
        try write("a,b\nSECRET1,SECRET2\n", to: "outside/secret.csv")
        try FileManager.default.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/models/d", withDestinationPath: directory + "/outside")
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "models/m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try editHeader("models/m.safetensors", "models/evil.safetensors") { h in
            var meta = h["__metadata__"] as! [String: Any]
            meta["nabla.data"] = "csv:d/secret.csv"
            h["__metadata__"] = meta
        }
        try assertCleanError(["evaluate", "--load", "models/evil.safetensors"], mentions: ["symbolic link", "--data"])
        let r = try nabla(["evaluate", "--load", "models/evil.safetensors"])
        XCTAssertFalse(r.stderr.contains("SECRET"), r.stderr)
    }

    /// --max-memory bounds data files too, from their headers: a gzipped IDX declaring
    /// 65535³ bytes is refused before anything is inflated.
    func testDataFileSizesAreBoundedByMaxMemory() throws {
        let t = try nabla(["train", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        try Data([0, 0, 8, 3, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255] + [UInt8](repeating: 0, count: 4096))
            .write(to: URL(fileURLWithPath: directory + "/big.idx"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-f", directory + "/big.idx"]
        do { try p.run() } catch { throw XCTSkip("gzip not available") }
        p.waitUntilExit()
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "big.idx.gz"], mentions: ["big.idx.gz", "--max-memory"])
        // And a .npy that declares more than the limit.
        var h = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"
        h += String(repeating: " ", count: (64 - (10 + h.utf8.count + 1) % 64) % 64) + "\n"
        try Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.utf8.count & 255), UInt8(h.utf8.count >> 8)] + Array(h.utf8))
            .write(to: URL(fileURLWithPath: directory + "/big.npy"))
        try assertCleanError(["predict", "--load", "m.safetensors", "--input", "big.npy"], mentions: ["big.npy", "--max-memory"])
    }

    /// --history cannot replace the CSV a resumed checkpoint trains on.
    func testHistoryCannotOverwriteTheResumedCheckpointsData() throws {
        var rows = ["a,b,y"]
        for i in 0..<40 { rows.append("\(i),\(i % 7),\(i % 2)") }
        try write(rows.joined(separator: "\n") + "\n", to: "train.csv")
        let t = try nabla(["train", "--data", "csv:train.csv", "--epochs", "1", "--quiet", "--save", "m.safetensors"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let before = try String(contentsOfFile: directory + "/train.csv", encoding: .utf8)
        try assertCleanError(["train", "--resume", "m.safetensors", "--epochs", "2", "--history", "train.csv"], mentions: ["train.csv", "destroy"])
        XCTAssertEqual(try String(contentsOfFile: directory + "/train.csv", encoding: .utf8), before)
    }

    /// Two tensors of a weights file that name the same weight (`0.weight` and
    /// `layers.0.weight`) are reported, not resolved silently.
    func testWeightsFileWithTheSameWeightTwice() throws {
        // The fixture plus a second copy of 0.bias's 16 floats under the name layers.0.bias.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture + "/weights.safetensors"))
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        var header = try XCTUnwrap(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
        let data = bytes.subdata(in: (8 + n)..<bytes.count)
        let bias = try XCTUnwrap(header["0.bias"] as? [String: Any])
        let o = try XCTUnwrap(bias["data_offsets"] as? [Int])
        header["layers.0.bias"] = ["dtype": "F32", "shape": [16], "data_offsets": [data.count, data.count + (o[1] - o[0])]]
        let h = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(h); out.append(data); out.append(data.subdata(in: o[0]..<o[1]))
        try out.write(to: URL(fileURLWithPath: directory + "/dup.safetensors"))
        try assertCleanError(["predict", "--model", fixture + "/mlp.yaml", "--weights", "dup.safetensors", "--input", fixture + "/x.npy"],
                             mentions: ["names the same weight"])
    }
}
