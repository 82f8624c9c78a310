import Foundation
import XCTest

/// Transformers from the command line: PyTorch `nn.TransformerEncoder` state dicts through
/// `nabla predict` (fixtures from Scripts/reference_transformer_predict.py, logits computed
/// by PyTorch), a small GPT trained on text and sampled with and without its key/value
/// cache, and the messages for tokens outside the vocabulary and contexts too long.
extension CLITests {
    func testPredictRunsPyTorchTransformersWithTheSameLogits() throws {
        try assertPredictMatchesFixtures([("pytorch-gpt", "gpt.yaml", [3, 12, 13]), ("pytorch-encoder", "encoder.yaml", [4, 4])])
    }

    func testTrainASmallGPTThenGenerateWithAndWithoutTheCache() throws {
        let path = try writeSmallText()
        try write("""
            input: [16]
            layers:
              - {type: embedding, vocab: V, dim: 16}
              - {type: positional_encoding, kind: learned, max_len: 16}
              - {type: transformer_encoder, d_model: 16, heads: 2, ff: 32, layers: 2, dropout: 0, norm_first: true, causal: true}
              - {type: layernorm}
              - {type: linear, out: V}

            """, to: "tiny-gpt.yaml")
        let r = try nabla(["train", "--data", "text:" + path, "--model", "tiny-gpt.yaml", "--seq-len", "16", "--epochs", "30",
                           "--batch-size", "8", "--lr", "0.01", "--save", "gpt.safetensors", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        XCTAssertLessThan(try XCTUnwrap(json?["test_bpc"] as? Double), 1.0, last)
        // Within the 16-character window the cache changes nothing: the same text either way,
        // greedy and sampled.
        for extra in [["--temperature", "0"], ["--seed", "3"]] {
            let base = ["generate", "--load", "gpt.safetensors", "--prompt", "the q", "--length", "11"] + extra
            let cached = try nabla(base), uncached = try nabla(base + ["--no-cache"])
            XCTAssertEqual(cached.status, 0, cached.stderr)
            XCTAssertEqual(cached.stdout, uncached.stdout)
        }
        // Greedy decoding continues the sentence, past the window (the cache is rebuilt).
        let g = try nabla(["generate", "--load", "gpt.safetensors", "--prompt", "the quick ", "--length", "40", "--temperature", "0"])
        XCTAssertTrue(g.stdout.hasPrefix("the quick brown fox jumps over the lazy dog. the"), g.stdout)
    }

    func testTransformerInputErrorsAreClear() throws {
        let dir = repoRoot.appendingPathComponent("Tests/NablaCLITests/Fixtures/pytorch-gpt").path
        // Token 20 in example 1, position 5, for a vocabulary of 13.
        var rows = (0..<3).map { r in (0..<12).map { String(($0 + r) % 13) } }
        rows[1][5] = "20"
        let header = (0..<12).map { "t\($0)" }.joined(separator: ",")
        try write(([header] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n") + "\n", to: "bad-tokens.csv")
        let r = try nabla(["predict", "--model", dir + "/gpt.yaml", "--weights", dir + "/weights.safetensors", "--input", "bad-tokens.csv"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("index 20.0 at example 1, position 5 of the input (shape [3, 12]) is not an integer in 0..<13"), r.stderr)
        // A context longer than the learned table.
        try write(String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 300), to: "big.txt")
        let l = try nabla(["train", "--data", "text:" + directory + "/big.txt", "--model",
                           repoRoot.appendingPathComponent("Examples/models/char-gpt.yaml").path, "--seq-len", "200", "--epochs", "1"])
        XCTAssertNotEqual(l.status, 0)
        XCTAssertTrue(l.stderr.contains("layer 1 (positional_encoding): the input has 200 steps but the learned positional table has max_len 128"), l.stderr)
        // d_model not divisible by heads.
        try write("input: [10]\nlayers:\n  - {type: embedding, vocab: V, dim: 30}\n  - {type: transformer_encoder, heads: 4}\n", to: "bad-heads.yaml")
        let h = try nabla(["summary", "--model", "bad-heads.yaml"])
        XCTAssertNotEqual(h.status, 0)
        XCTAssertTrue(h.stderr.contains("layer 1 (transformer_encoder): d_model 30 is not divisible by heads 4"), h.stderr)
    }
}
