import Foundation
import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// Scaled dot-product attention, multi-head attention, the transformer encoder layer and a
/// stack of them against PyTorch: outputs, attention weights and the gradients of
/// sum(gy·y) (+ sum(gw·w)) with respect to the inputs and every parameter, in float64, with
/// bool and float masks, causal masks, key padding, pre- and post-norm. The numbers come
/// from `Scripts/reference_attention.py` (PyTorch, float64) in `Fixtures/attention_reference.json`.
final class AttentionReferenceTests: XCTestCase {
    struct Stored: Decodable { let shape: [Int]; let data: [Double] }
    struct Case: Decodable { let config: [String: JSONValue]; let tensors: [String: Stored] }
    struct File: Decodable { let cases: [String: Case] }
    /// A config value: a number, bool, string, list of numbers or null.
    enum JSONValue: Decodable {
        case number(Double), bool(Bool), string(String), list([Int]), null
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) } else if let s = try? c.decode(String.self) { self = .string(s) }
            else { self = .list(try c.decode([Int].self)) }
        }
    }

    static let cases: [String: Case] = {
        guard let url = Bundle.module.url(forResource: "attention_reference", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [:] }
        return file.cases
    }()

    func int(_ c: Case, _ k: String) -> Int { if case .number(let d)? = c.config[k] { return Int(d) }; XCTFail("no \(k)"); return 0 }
    func double(_ c: Case, _ k: String) -> Double? { if case .number(let d)? = c.config[k] { return d }; return nil }
    func bool(_ c: Case, _ k: String) -> Bool { if case .bool(let b)? = c.config[k] { return b }; return false }
    func string(_ c: Case, _ k: String) -> String? { if case .string(let s)? = c.config[k] { return s }; return nil }

    func tensor(_ c: Case, _ name: String) -> Tensor {
        let s = c.tensors[name]!
        return Tensor(s.data, shape: s.shape)
    }
    /// A stored mask as PyTorch received it: bool when its kind is "bool", float otherwise.
    func mask(_ c: Case, _ name: String, kind: String?) -> Tensor? {
        guard c.tensors[name] != nil else { return nil }
        let t = tensor(c, name)
        return kind == "bool" ? Tensor(t.doubles.map { $0 != 0 }, shape: t.shape) : t
    }

    func assertClose(_ a: Tensor?, _ c: Case, _ name: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let a else { return XCTFail("\(what): no value", file: file, line: line) }
        let ref = tensor(c, name)
        XCTAssertEqual(a.shape, ref.shape, "\(what): shape", file: file, line: line)
        guard a.shape == ref.shape else { return }
        XCTAssertTrue(allClose(a, ref, rtol: 1e-9, atol: 1e-9), "\(what) differs from PyTorch by \((a - ref).abs().max().item())", file: file, line: line)
    }

    func load(_ m: Module, _ c: Case, file: StaticString = #filePath, line: UInt = #line) {
        var state: [String: Tensor] = [:]
        for (key, _) in m.namedParameters() { state[key] = tensor(c, key) }
        XCTAssertNoThrow(try m.loadStateDict(state), file: file, line: line)
    }

    func checkParameterGradients(_ m: Module, _ c: Case, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let params = m.namedParameters()
        XCTAssertFalse(params.isEmpty)
        for (key, p) in params { assertClose(p.grad, c, "d" + key, "\(name): d\(key)", file: file, line: line) }
    }

    func cases(_ module: String) -> [(String, Case)] {
        let all = Self.cases.filter { string($0.value, "module") == module }.sorted { $0.key < $1.key }
        XCTAssertFalse(all.isEmpty, "no \(module) reference cases (is attention_reference.json there?)")
        return all.map { ($0.key, $0.value) }
    }

    func testScaledDotProductAttention() {
        for (name, c) in cases("sdpa") {
            let q = tensor(c, "q").requiringGrad(), k = tensor(c, "k").requiringGrad(), v = tensor(c, "v").requiringGrad()
            let y = scaledDotProductAttention(q, k, v, mask: mask(c, "mask", kind: string(c, "mask_kind")),
                                              causal: bool(c, "causal"), scale: double(c, "scale"))
            assertClose(y, c, "y", "\(name): y")
            (y * tensor(c, "gy")).sum().backward()
            assertClose(q.grad, c, "dq", "\(name): dq")
            assertClose(k.grad, c, "dk", "\(name): dk")
            assertClose(v.grad, c, "dv", "\(name): dv")
        }
    }

    func testMultiheadAttention() {
        XCTAssertEqual(cases("MultiheadAttention").count, 8)
        for (name, c) in cases("MultiheadAttention") {
            let mha = MultiheadAttention(embedDim: int(c, "embed_dim"), numHeads: int(c, "num_heads"), bias: bool(c, "bias"),
                                         batchFirst: bool(c, "batch_first"), dtype: .float64)
            XCTAssertEqual(Set(mha.namedParameters().map(\.name)),
                           Set(bool(c, "bias") ? ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
                                               : ["in_proj_weight", "out_proj.weight"]), name)
            load(mha, c)
            let selfAttention = bool(c, "self_attention")
            let inputs = selfAttention ? [tensor(c, "x").requiringGrad()]
                                       : ["query", "key", "value"].map { tensor(c, $0).requiringGrad() }
            let (q, k, v) = selfAttention ? (inputs[0], inputs[0], inputs[0]) : (inputs[0], inputs[1], inputs[2])
            let needWeights = bool(c, "need_weights")
            let (y, w) = mha(q, k, v, keyPaddingMask: mask(c, "key_padding_mask", kind: string(c, "key_padding_mask_kind")),
                             needWeights: needWeights, attnMask: mask(c, "attn_mask", kind: string(c, "attn_mask_kind")),
                             averageAttnWeights: bool(c, "average_attn_weights"), isCausal: bool(c, "is_causal"))
            assertClose(y, c, "y", "\(name): y")
            var loss = (y * tensor(c, "gy")).sum()
            if needWeights {
                assertClose(w, c, "w", "\(name): weights")
                if let w { loss = loss + (w * tensor(c, "gw")).sum() }
            } else {
                XCTAssertNil(w, name)
            }
            loss.backward()
            if selfAttention { assertClose(inputs[0].grad, c, "dx", "\(name): dx") } else {
                for (i, n) in ["query", "key", "value"].enumerated() { assertClose(inputs[i].grad, c, "d" + n, "\(name): d\(n)") }
            }
            checkParameterGradients(mha, c, name)
        }
    }

    func testTransformerEncoderLayer() {
        for (name, c) in cases("TransformerEncoderLayer") {
            let layer = TransformerEncoderLayer(dModel: int(c, "d_model"), nHead: int(c, "nhead"), dimFeedforward: int(c, "dim_feedforward"),
                                                dropout: 0, activation: TransformerActivation(rawValue: string(c, "activation")!)!,
                                                layerNormEps: double(c, "layer_norm_eps")!, batchFirst: true,
                                                normFirst: bool(c, "norm_first"), dtype: .float64)
            load(layer, c)
            let x = tensor(c, "x").requiringGrad()
            let y = layer(x, srcMask: mask(c, "src_mask", kind: string(c, "src_mask_kind")),
                          srcKeyPaddingMask: mask(c, "src_key_padding_mask", kind: string(c, "key_padding_mask_kind")),
                          isCausal: bool(c, "is_causal"))
            assertClose(y, c, "y", "\(name): y")
            (y * tensor(c, "gy")).sum().backward()
            assertClose(x.grad, c, "dx", "\(name): dx")
            checkParameterGradients(layer, c, name)
        }
    }

    func testTransformerEncoder() {
        for (name, c) in cases("TransformerEncoder") {
            let d = int(c, "d_model")
            let layer = TransformerEncoderLayer(dModel: d, nHead: int(c, "nhead"), dimFeedforward: int(c, "dim_feedforward"),
                                                dropout: 0, activation: TransformerActivation(rawValue: string(c, "activation")!)!,
                                                layerNormEps: double(c, "layer_norm_eps")!, batchFirst: true,
                                                normFirst: bool(c, "norm_first"), dtype: .float64)
            let encoder = TransformerEncoder(layer, numLayers: int(c, "num_layers"),
                                             norm: bool(c, "final_norm") ? LayerNorm([d], dtype: .float64) : nil)
            load(encoder, c)
            let x = tensor(c, "x").requiringGrad()
            // The causal case through the unary call (causal flag), the other with no mask.
            encoder.causal = bool(c, "causal")
            let y = encoder(x)
            assertClose(y, c, "y", "\(name): y")
            (y * tensor(c, "gy")).sum().backward()
            assertClose(x.grad, c, "dx", "\(name): dx")
            checkParameterGradients(encoder, c, name)
        }
    }

    func testTransformerDecoderLayer() {
        XCTAssertEqual(cases("TransformerDecoderLayer").count, 3)
        for (name, c) in cases("TransformerDecoderLayer") {
            let layer = TransformerDecoderLayer(dModel: int(c, "d_model"), nHead: int(c, "nhead"), dimFeedforward: int(c, "dim_feedforward"),
                                                dropout: 0, activation: TransformerActivation(rawValue: string(c, "activation")!)!,
                                                layerNormEps: double(c, "layer_norm_eps")!, batchFirst: true,
                                                normFirst: bool(c, "norm_first"), dtype: .float64)
            XCTAssertEqual(layer.namedParameters().count, 18, name)
            load(layer, c)
            let tgt = tensor(c, "tgt").requiringGrad(), memory = tensor(c, "memory").requiringGrad()
            let y = layer(tgt, memory, tgtMask: mask(c, "tgt_mask", kind: string(c, "tgt_mask_kind")),
                          memoryMask: mask(c, "memory_mask", kind: string(c, "memory_mask_kind")),
                          tgtKeyPaddingMask: mask(c, "tgt_key_padding_mask", kind: string(c, "tgt_key_padding_mask_kind")),
                          memoryKeyPaddingMask: mask(c, "memory_key_padding_mask", kind: string(c, "memory_key_padding_mask_kind")),
                          tgtIsCausal: bool(c, "tgt_is_causal"))
            assertClose(y, c, "y", "\(name): y")
            (y * tensor(c, "gy")).sum().backward()
            assertClose(tgt.grad, c, "dtgt", "\(name): dtgt")
            assertClose(memory.grad, c, "dmemory", "\(name): dmemory")
            checkParameterGradients(layer, c, name)
        }
    }
}
