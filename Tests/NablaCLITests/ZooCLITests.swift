import Foundation
import XCTest

/// `nabla zoo`: the list, a run that writes its pictures, model and metrics, and the
/// messages for an unknown entry, data that does not fit and an --out that is a file.
extension CLITests {
    func testZooListNamesEveryEntryWithOneLineEach() throws {
        let r = try nabla(["zoo", "--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 13, r.stdout)
        for name in ["perceptron", "ff", "dff", "rbf", "gaussian", "rnn", "lstm", "gru", "ae", "dae", "sae", "vae", "gan"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(name + " ") }, "\(name) missing from:\n\(r.stdout)")
        }
    }

    func testZooPerceptronRunWritesPicturesModelAndMetrics() throws {
        let r = try nabla(["zoo", "perceptron", "--out", "p"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("target met: converges on the blobs in < 100 epochs"), r.stdout)
        XCTAssertTrue(r.stdout.contains("target met: fails on XOR"), r.stdout)
        for f in ["perceptron-blobs.png", "perceptron-xor.png", "perceptron-blobs.safetensors", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/p/" + f), f)
        }
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/p/metrics.json"))) as? [String: Any]
        XCTAssertEqual(metrics?["entry"] as? String, "perceptron")
        XCTAssertEqual((metrics?["metrics"] as? [String: Double])?["accuracy_blobs"], 1)
    }

    /// Ctrl-C during a zoo run: the step in progress finishes, the message names the epoch,
    /// no temporary file is left, and the exit status is 130.
    func testZooInterruptStopsCleanly() throws {
        guard let exe = CLITests.executable else { throw XCTSkip("nabla not built") }
        let errPath = directory + "/zoo-err.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["zoo", "dff", "--data", "ring", "--epochs", "100000", "--out", "z"]
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try p.run()
        // Wait until training has started (the first epoch line), then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "").contains("epoch") { usleep(20_000) }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let err = try String(contentsOfFile: errPath, encoding: .utf8)
        XCTAssertEqual(p.terminationReason, .exit, "ended by the signal instead of handling it: \(err)")
        XCTAssertEqual(p.terminationStatus, 130, err)
        XCTAssertTrue(err.contains("interrupted by SIGINT (Ctrl-C) in epoch") && err.contains("of dff"), err)
        let temps = try FileManager.default.contentsOfDirectory(atPath: directory + "/z").filter { $0.contains(".tmp-") }
        XCTAssertEqual(temps, [])
    }

    func testZooBadInputSaysWhatWasWrong() throws {
        let unknown = try nabla(["zoo", "hopfield"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown zoo entry 'hopfield'") && unknown.stderr.contains("perceptron, ff, dff"), unknown.stderr)
        let data = try nabla(["zoo", "vae", "--data", "heteroscedastic", "--out", "v"])
        XCTAssertNotEqual(data.status, 0)
        XCTAssertTrue(data.stderr.contains("vae cannot train on 'heteroscedastic'") && data.stderr.contains("image data set"), data.stderr)
        try write("not a folder", to: "file.txt")
        let out = try nabla(["zoo", "perceptron", "--out", "file.txt"])
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("--out file.txt is a file, not a folder"), out.stderr)
        let epochs = try nabla(["zoo", "ff", "--epochs", "0", "--out", "f"])
        XCTAssertNotEqual(epochs.status, 0)
        XCTAssertTrue(epochs.stderr.contains("--epochs must be at least 1, got 0"), epochs.stderr)
        let arch = try nabla(["zoo", "vae", "--arch", "resnet", "--out", "v"])
        XCTAssertNotEqual(arch.status, 0)
        XCTAssertTrue(arch.stderr.contains("--arch 'resnet': use dense or conv"), arch.stderr)
        let archRBF = try nabla(["zoo", "rbf", "--arch", "conv", "--out", "r"])
        XCTAssertNotEqual(archRBF.status, 0)
        XCTAssertTrue(archRBF.stderr.contains("--arch applies to the image entries (ae, dae, vae, gan), not to rbf"), archRBF.stderr)
        let none = try nabla(["zoo"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("give an entry to train"), none.stderr)
    }
}
