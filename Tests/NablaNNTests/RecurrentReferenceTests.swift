import Foundation
import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// RNN, LSTM, GRU and their cells against PyTorch: outputs, final states and the gradients
/// of sum(gy·y) + sum(ghn·hn) (+ sum(gcn·cn)) with respect to the input, the initial state
/// and every parameter, in float64, for multi-layer, bidirectional and packed (variable
/// length) cases. The numbers come from `Scripts/reference_rnn.py` (PyTorch, float64) in
/// `Fixtures/rnn_reference.json`.
final class RecurrentReferenceTests: XCTestCase {
    struct Stored: Decodable { let shape: [Int]; let data: [Double] }
    struct Config: Decodable {
        let module: String
        let input_size: Int, hidden_size: Int, num_layers: Int
        let bidirectional: Bool, batch_first: Bool, bias: Bool
        let nonlinearity: String?
        let lengths: [Int]?
        let has_state: Bool
    }
    struct Case: Decodable { let config: Config; let tensors: [String: Stored] }
    struct File: Decodable { let cases: [String: Case] }

    static let cases: [String: Case] = {
        guard let url = Bundle.module.url(forResource: "rnn_reference", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [:] }
        return file.cases
    }()

    func tensor(_ c: Case, _ name: String) -> Tensor {
        let s = c.tensors[name]!
        return Tensor(s.data, shape: s.shape)
    }

    func assertClose(_ a: Tensor, _ c: Case, _ name: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let ref = tensor(c, name)
        XCTAssertEqual(a.shape, ref.shape, "\(what): shape", file: file, line: line)
        guard a.shape == ref.shape else { return }
        XCTAssertTrue(allClose(a, ref, rtol: 1e-9, atol: 1e-9), "\(what) differs from PyTorch by \((a - ref).abs().max().item())", file: file, line: line)
    }

    func loadParameters(_ m: Module, _ c: Case, file: StaticString = #filePath, line: UInt = #line) {
        var state: [String: Tensor] = [:]
        for (key, _) in m.namedParameters() { state[key] = tensor(c, key) }
        XCTAssertNoThrow(try m.loadStateDict(state), file: file, line: line)
    }

    func checkSequence(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let c = Self.cases[name] else { return XCTFail("no reference case \(name)", file: file, line: line) }
        let k = c.config
        let layer: RecurrentLayer
        switch k.module {
        case "LSTM": layer = LSTM(k.input_size, k.hidden_size, numLayers: k.num_layers, bias: k.bias, batchFirst: k.batch_first, bidirectional: k.bidirectional, dtype: .float64)
        case "GRU": layer = GRU(k.input_size, k.hidden_size, numLayers: k.num_layers, bias: k.bias, batchFirst: k.batch_first, bidirectional: k.bidirectional, dtype: .float64)
        default: layer = RNN(k.input_size, k.hidden_size, numLayers: k.num_layers, nonlinearity: k.nonlinearity == "relu" ? .relu : .tanh,
                             bias: k.bias, batchFirst: k.batch_first, bidirectional: k.bidirectional, dtype: .float64)
        }
        loadParameters(layer, c, file: file, line: line)
        let x = tensor(c, "x").requiringGrad()
        let lstm = k.module == "LSTM"
        let h0 = k.has_state ? tensor(c, "h0").requiringGrad() : nil
        let c0 = k.has_state && lstm ? tensor(c, "c0").requiringGrad() : nil
        let r = layer.run(x, state: h0.map { RecurrentState(h: $0, c: c0) }, lengths: k.lengths)
        assertClose(r.output, c, "y", "\(name): output", file: file, line: line)
        assertClose(r.state.h, c, "hn", "\(name): final h", file: file, line: line)
        if lstm { assertClose(r.state.c!, c, "cn", "\(name): final c", file: file, line: line) }
        var loss = (r.output * tensor(c, "gy")).sum() + (r.state.h * tensor(c, "ghn")).sum()
        if lstm { loss = loss + (r.state.c! * tensor(c, "gcn")).sum() }
        loss.backward()
        assertClose(x.grad!, c, "dx", "\(name): input gradient", file: file, line: line)
        if let h0 { assertClose(h0.grad!, c, "dh0", "\(name): h0 gradient", file: file, line: line) }
        if let c0 { assertClose(c0.grad!, c, "dc0", "\(name): c0 gradient", file: file, line: line) }
        for (key, p) in layer.namedParameters() {
            assertClose(p.grad!, c, "d" + key, "\(name): gradient of \(key)", file: file, line: line)
        }
    }

    func checkCell(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let c = Self.cases[name] else { return XCTFail("no reference case \(name)", file: file, line: line) }
        let k = c.config
        let x = tensor(c, "x").requiringGrad()
        let h0 = k.has_state ? tensor(c, "h0").requiringGrad() : nil
        var loss: Tensor
        let cell: RecurrentCellLayer
        switch k.module {
        case "LSTMCell":
            let m = LSTMCell(k.input_size, k.hidden_size, bias: k.bias, dtype: .float64)
            loadParameters(m, c, file: file, line: line)
            let c0 = k.has_state ? tensor(c, "c0").requiringGrad() : nil
            let (h, cc) = m(x, h0.map { ($0, c0!) })
            assertClose(h, c, "h", "\(name): h", file: file, line: line)
            assertClose(cc, c, "c", "\(name): c", file: file, line: line)
            loss = (h * tensor(c, "gh")).sum() + (cc * tensor(c, "gc")).sum()
            loss.backward()
            if let c0 { assertClose(c0.grad!, c, "dc0", "\(name): c0 gradient", file: file, line: line) }
            cell = m
        case "GRUCell":
            let m = GRUCell(k.input_size, k.hidden_size, bias: k.bias, dtype: .float64)
            loadParameters(m, c, file: file, line: line)
            let h = m(x, h0)
            assertClose(h, c, "h", "\(name): h", file: file, line: line)
            (h * tensor(c, "gh")).sum().backward()
            cell = m
        default:
            let m = RNNCell(k.input_size, k.hidden_size, bias: k.bias, nonlinearity: k.nonlinearity == "relu" ? .relu : .tanh, dtype: .float64)
            loadParameters(m, c, file: file, line: line)
            let h = m(x, h0)
            assertClose(h, c, "h", "\(name): h", file: file, line: line)
            (h * tensor(c, "gh")).sum().backward()
            cell = m
        }
        assertClose(x.grad!, c, "dx", "\(name): input gradient", file: file, line: line)
        if let h0 { assertClose(h0.grad!, c, "dh0", "\(name): h0 gradient", file: file, line: line) }
        for (key, p) in cell.namedParameters() {
            assertClose(p.grad!, c, "d" + key, "\(name): gradient of \(key)", file: file, line: line)
        }
    }

    func testFixtureLoads() { XCTAssertEqual(Self.cases.count, 20) }

    func testLSTM() {
        for n in ["lstm_basic", "lstm_nobias_batchfirst", "lstm_2layer_bidir", "lstm_packed", "lstm_packed_1layer"] { checkSequence(n) }
    }
    func testGRU() {
        for n in ["gru_basic", "gru_nobias_batchfirst", "gru_2layer_bidir", "gru_packed"] { checkSequence(n) }
    }
    func testRNN() {
        for n in ["rnn_tanh_basic", "rnn_relu_2layer_bidir", "rnn_tanh_packed", "rnn_relu_nobias_packed_nostate"] { checkSequence(n) }
    }
    func testCells() {
        for n in ["lstmcell_state", "lstmcell_nostate", "lstmcell_nobias", "grucell_state", "grucell_nostate",
                  "rnncell_tanh_state", "rnncell_relu_nostate"] { checkCell(n) }
    }
}
