import Foundation
import XCTest

/// Recurrent models from the command line: PyTorch LSTM/GRU/RNN state dicts through
/// `nabla predict` (fixtures from Scripts/reference_rnn_predict.py, logits computed by
/// PyTorch), character models trained on text, `nabla generate`, and the messages for bad
/// text, prompts and sequence lengths.
extension CLITests {
    func testPredictRunsPyTorchRecurrentModelsWithTheSameLogits() throws {
        try assertPredictMatchesFixtures([("pytorch-rnn", "rnn.yaml", [4, 3]), ("pytorch-charlm", "charlm.yaml", [3, 10, 11])])
    }

    /// `nabla predict --model --weights` on each fixture directory (written by a reference
    /// script from PyTorch) gives PyTorch's logits, of the given shape.
    func assertPredictMatchesFixtures(_ fixtures: [(name: String, yaml: String, shape: [Int])],
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, yaml, shape) in fixtures {
            let dir = repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/\(name)").path
            let expected = try readNPY(dir + "/logits.npy")
            XCTAssertEqual(expected.shape, shape, name, file: file, line: line)
            let r = try nabla(["predict", "--model", dir + "/" + yaml, "--weights", dir + "/weights.safetensors",
                               "--input", dir + "/x.npy", "--output", "\(name).npy"])
            XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
            let got = try readNPY(directory + "/\(name).npy")
            XCTAssertEqual(got.shape, shape, name, file: file, line: line)
            assertClose(got.values, expected.values, name, file: file, line: line)
        }
    }

    func testSummaryOfRecurrentLayersCountsPyTorchsParameters() throws {
        let r = try nabla(["summary", "--model", repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/pytorch-rnn/rnn.yaml").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        // LSTM(5→8, 2 layers, bidirectional): per direction 4·8·(in + 8) + 2·4·8, in = 5 then 16:
        // 2·(32·13 + 64) + 2·(32·24 + 64) = 960 + 1664 = 2624.
        XCTAssertTrue(r.stdout.contains("2624"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[1, 7, 16]"), r.stdout)
        let c = try nabla(["summary", "--model", repoRoot.appendingPathComponent("Examples/models/char-lstm.yaml").path, "--vocab", "50"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("[1, 100, 50]"), c.stdout)
    }

    func testARecurrentLayerOnImagesIsNamed() throws {
        try write("input: [3, 8, 8]\nlayers:\n  - {type: lstm, hidden: 4}\n", to: "bad-rnn.yaml")
        let r = try nabla(["summary", "--model", "bad-rnn.yaml"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("layer 0 (lstm): expects sequences [steps, features] per example, got shape [3, 8, 8]"), r.stderr)
        try write("input: [7, 5]\nlayers:\n  - {type: gru, hidden: 4, in: 6}\n", to: "bad-gru.yaml")
        let g = try nabla(["summary", "--model", "bad-gru.yaml"])
        XCTAssertTrue(g.stderr.contains("declares in = 6 but its input has 5 features per step"), g.stderr)
    }

    /// A small text: 30 repetitions of a 45-character sentence (1,350 characters; 1,215 for training).
    func writeSmallText() throws -> String {
        try write(String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 30), to: "small.txt")
        return directory + "/small.txt"
    }

    func testTrainOnTextThenGenerateTheSameTextForTheSameSeed() throws {
        let path = try writeSmallText()
        try write("input: [16]\nlayers:\n  - {type: embedding, vocab: V, dim: 8}\n  - {type: gru, hidden: 32}\n  - {type: linear, out: V}\n", to: "tiny-char.yaml")
        let r = try nabla(["train", "--data", "text:" + path, "--model", "tiny-char.yaml", "--seq-len", "16", "--epochs", "30",
                           "--batch-size", "8", "--lr", "0.01", "--save", "char.safetensors", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("bits/char"), r.stdout)
        XCTAssertTrue(r.stderr.contains("val_bpc") || r.stdout.contains("val_bpc") || r.stdout.contains("final_validation_bpc"), r.stdout + r.stderr)
        // The repeated sentence is easy: well under 1 bit per character (ln 2 nats).
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        let bpc = try XCTUnwrap(json?["test_bpc"] as? Double)
        XCTAssertLessThan(bpc, 1.0, last)
        let a = try nabla(["generate", "--load", "char.safetensors", "--prompt", "the quick ", "--length", "60", "--seed", "4"])
        let b = try nabla(["generate", "--load", "char.safetensors", "--prompt", "the quick ", "--length", "60", "--seed", "4"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertTrue(a.stdout.hasPrefix("the quick "), a.stdout)
        XCTAssertEqual(a.stdout.count, "the quick ".count + 60 + 1, a.stdout)
        // Greedy decoding of a well-learned sentence continues it.
        let g = try nabla(["generate", "--load", "char.safetensors", "--prompt", "the quick ", "--length", "10", "--temperature", "0"])
        XCTAssertTrue(g.stdout.hasPrefix("the quick brown fox"), g.stdout)
        let k = try nabla(["generate", "--load", "char.safetensors", "--prompt", "the ", "--length", "20", "--top-k", "1", "--seed", "9"])
        let k0 = try nabla(["generate", "--load", "char.safetensors", "--prompt", "the ", "--length", "20", "--temperature", "0"])
        XCTAssertEqual(k.stdout, k0.stdout, "top-k 1 is greedy")
    }

    func testTextAndPromptErrorsAreClear() throws {
        let path = try writeSmallText()
        let r = try nabla(["train", "--data", "text:" + path, "--seq-len", "5000", "--epochs", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--seq-len 5000 is larger than the training text (1215 characters)"), r.stderr)
        var bytes = Array("hello world, this is some text that is long enough to train on.".utf8)
        bytes.insert(0xFF, at: 17)
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/bad.txt"))
        let u = try nabla(["train", "--data", "text:" + directory + "/bad.txt", "--epochs", "1"])
        XCTAssertNotEqual(u.status, 0)
        XCTAssertTrue(u.stderr.contains("not valid UTF-8 at byte offset 17"), u.stderr)
        try write("input: [8]\nlayers:\n  - {type: embedding, vocab: V, dim: 4}\n  - {type: lstm, hidden: 8}\n  - {type: linear, out: V}\n", to: "c.yaml")
        let t = try nabla(["train", "--data", "text:" + path, "--model", "c.yaml", "--seq-len", "8", "--epochs", "1", "--save", "c.safetensors", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let p = try nabla(["generate", "--load", "c.safetensors", "--prompt", "xyz ΩQ"])
        XCTAssertNotEqual(p.status, 0)
        XCTAssertTrue(p.stderr.contains("--prompt has 2 characters the model does not know: 'Ω', 'Q'"), p.stderr)
        // A classifier is not a character model.
        let m = try nabla(["train", "--epochs", "1", "--save", "digits.safetensors", "--quiet"])
        XCTAssertEqual(m.status, 0, m.stderr)
        let d = try nabla(["generate", "--load", "digits.safetensors"])
        XCTAssertTrue(d.stderr.contains("not a character model"), d.stderr)
        let w = try nabla(["train", "--data", "text:" + path, "--model", "c.yaml", "--seq-len", "8", "--epochs", "1", "--resume", "digits.safetensors"])
        XCTAssertTrue(w.stderr.contains("not a character model"), w.stderr)
    }
}
