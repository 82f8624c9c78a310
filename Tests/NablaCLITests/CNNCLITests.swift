import Foundation
import XCTest

/// Convolutional networks through the CLI: PyTorch CNNs (every convolution, pooling,
/// normalisation and upsampling layer, a residual block, BatchNorm's int64 counter) run by
/// `nabla predict --model --weights` with PyTorch's logits; `nabla summary` on a CNN.
/// The fixtures come from Scripts/reference_cnn_predict.py (logits computed by PyTorch in
/// float64 from the float32 weights).
extension CLITests {
    func testPredictRunsPyTorchCNNsWithTheSameLogits() throws {
        for (name, shape) in [("pytorch-cnn", [5, 5]), ("pytorch-cnn1d", [5, 3])] {
            let dir = repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/\(name)").path
            let expected = try readNPY(dir + "/logits.npy")
            XCTAssertEqual(expected.shape, shape, name)
            let r = try nabla(["predict", "--model", dir + "/cnn.yaml", "--weights", dir + "/weights.safetensors",
                               "--input", dir + "/x.npy", "--output", "\(name).npy"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = try readNPY(directory + "/\(name).npy")
            XCTAssertEqual(got.shape, shape, name)
            assertClose(got.values, expected.values, name)
        }
    }

    func testSummaryOfACNNShowsShapesAndParameterCounts() throws {
        let r = try nabla(["summary", "--model", repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/pytorch-cnn/cnn.yaml").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Conv2d(3, 8, 3): 8·3·9 + 8 = 224; the residual's inner conv without bias: 8·4·9 = 288.
        XCTAssertTrue(r.stdout.contains("layers.0 (Conv2d)") && r.stdout.contains("[1, 8, 16, 16]") && r.stdout.contains("224"), r.stdout)
        XCTAssertTrue(r.stdout.contains("layers.5.layers.0 (Conv2d)") && r.stdout.contains("288"), r.stdout)
        XCTAssertTrue(r.stdout.contains("layers.15 (AdaptiveAvgPool2d)") && r.stdout.contains("[1, 12, 1, 1]"), r.stdout)
        // The fixture's state dict holds 14,083 parameters (PyTorch's sum of numel over parameters).
        XCTAssertTrue(r.stdout.contains("Total parameters: 14083"), r.stdout)
    }

    func testABadCNNArchitectureIsNamedByLayer() throws {
        try write("input: [1, 8, 8]\nlayers:\n  - {type: conv2d, out: 4, kernel: 3}\n  - {type: maxpool2d, kernel: 2}\n  - {type: maxpool2d, kernel: 2}\n  - {type: maxpool2d, kernel: 2}\n", to: "bad.yaml")
        let r = try nabla(["summary", "--model", "bad.yaml"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("layer 3 (maxpool2d): kernel [2, 2] does not fit the input [1, 1]"), r.stderr)
        try write("input: [1, 8, 8]\nlayers:\n  - {type: conv2d, out: 4, kernel: 3, momentum: 0.1}\n", to: "bad2.yaml")
        let s = try nabla(["summary", "--model", "bad2.yaml"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("layer 0 (conv2d): unknown option 'momentum'"), s.stderr)
    }
}

extension CLITests {
    /// Every shipped architecture parses, infers its shapes and ends in 10 classes.
    func testShippedArchitecturesAreValid() throws {
        let dir = repoRoot.appendingPathComponent("Examples/models").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(files, ["char-gpt.yaml", "char-lstm.yaml", "digits-cnn.yaml", "fashion-cnn.yaml", "fashion-lstm.yaml", "fashion-transformer.yaml", "resnet-small.yaml"])
        for f in files {
            let r = try nabla(["summary", "--model", dir + "/" + f])
            XCTAssertEqual(r.status, 0, "\(f): \(r.stderr)")
            // A character model's output is a vocabulary's logits at every step (V = 100 here).
            XCTAssertTrue(r.stdout.contains(f == "char-lstm.yaml" ? "[1, 100, 100]" : f == "char-gpt.yaml" ? "[1, 128, 100]" : "[1, 10]"), "\(f): \(r.stdout)")
        }
    }
}

extension CLITests {
    /// `--lr-schedule cosine`: the rate of epoch e is base·(1 + cos(π·e/T))/2 with T the
    /// epoch count (PyTorch's CosineAnnealingLR stepped per epoch): for T = 4 and base 1e-3,
    /// 1e-3, 1e-3·(1 + √½)/2, 5e-4, 1e-3·(1 − √½)/2.
    func testCosineScheduleSetsEachEpochsRate() throws {
        let r = try nabla(["train", "--epochs", "4", "--lr-schedule", "cosine", "--history", "h.json", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/h.json"))
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let rates = rows.compactMap { $0["lr"] as? Double }
        let expected = [1e-3, 1e-3 * (1 + 0.5.squareRoot()) / 2, 5e-4, 1e-3 * (1 - 0.5.squareRoot()) / 2]
        XCTAssertEqual(rates.count, 4)
        for (a, b) in zip(rates, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        let bad = try nabla(["train", "--epochs", "1", "--lr-schedule", "linear"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--lr-schedule linear: unknown schedule; use constant or cosine"), bad.stderr)
    }

    /// A CNN trained and saved by `nabla train` is evaluated and used for prediction from its
    /// file alone (the nested architecture and BatchNorm's buffers are in it).
    func testACNNModelFileRoundTrips() throws {
        let arch = repoRoot.appendingPathComponent("Examples/models/digits-cnn.yaml").path
        let t = try nabla(["train", "--model", arch, "--epochs", "2", "--save", "cnn.safetensors", "--json", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let trained = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(t.stdoutLines.last!.utf8)) as? [String: Any])
        let e = try nabla(["evaluate", "--load", "cnn.safetensors", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let evaluated = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.stdoutLines.last!.utf8)) as? [String: Any])
        XCTAssertEqual(evaluated["test_accuracy"] as? Double, trained["test_accuracy"] as? Double)
    }
}

extension CLITests {
    /// A resumed cosine run picks the schedule up at the checkpoint's epoch: 2 epochs, then
    /// `--resume --epochs 4`, trains epochs 3 and 4 at the rates of epochs e = 2, 3 of a
    /// 4-epoch curve: 1e-3·(1 + cos(π·e/4))/2 = 5e-4 and 1e-3·(1 − √½)/2.
    func testCosineScheduleResumesAtTheCheckpointsEpoch() throws {
        let first = try nabla(["train", "--epochs", "2", "--lr-schedule", "cosine", "--save", "m.safetensors", "--quiet"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let resumed = try nabla(["train", "--resume", "m.safetensors", "--epochs", "4", "--lr-schedule", "cosine", "--quiet", "--history", "r.json"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/r.json"))) as? [[String: Any]])
        let rates = rows.compactMap { $0["lr"] as? Double }.suffix(2)
        XCTAssertEqual(Array(rates).count, 2)
        for (a, b) in zip(rates, [5e-4, 1e-3 * (1 - 0.5.squareRoot()) / 2]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }
}
