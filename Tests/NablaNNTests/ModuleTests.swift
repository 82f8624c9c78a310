import XCTest
import NablaCore
@testable import NablaNN
import _NablaTestSupport

/// Sequential, summaries and state dicts.
final class ModuleTests: XCTestCase {
    func dense() -> Sequential {
        Sequential { Linear(5, 10); ReLU(); Linear(10, 20); Tanh(); Linear(20, 3) }
    }

    func testSequentialNamesAndForward() {
        let model = dense()
        XCTAssertEqual(model.count, 5)
        XCTAssertEqual(model.namedParameters().map(\.name),
                       ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"])
        XCTAssertEqual(model(Tensor.zeros([7, 5])).shape, [7, 3])
        let arrayForm = Sequential([Linear(2, 2), Sigmoid()])
        XCTAssertEqual(arrayForm.parameterCount, 6)
        let useDropout = true
        let built = Sequential {
            Linear(4, 4)
            if useDropout { Dropout(0.1) }
            for _ in 0..<2 { ReLU() }
        }
        XCTAssertEqual(built.layers.map(\.typeName), ["Linear", "Dropout", "ReLU", "ReLU"])
        // A whole network passes a gradient check (float64 parameters).
        let gen = RandomGenerator(seed: 21)
        let net = Sequential { Linear(3, 4, dtype: .float64, generator: gen); GELU(); Linear(4, 2, dtype: .float64, generator: gen); Softmax() }
        let r = gradCheck([Tensor.randomNormal([2, 3], dtype: .float64, generator: gen)]) { net($0[0]) }
        XCTAssertTrue(r.passed, "\(r)")
    }

    /// Parameters held in dictionaries and tuples are found, named by key and position, and
    /// trained (they were skipped silently).
    func testParametersInDictionariesAndTuplesAreDiscovered() {
        final class Heads: Module, @unchecked Sendable {
            let heads: [String: Linear] = ["dog": Linear(3, 2), "cat": Linear(3, 1)]
            let pair: (Tensor, scale: Tensor) = (Tensor.ones([2]).requiringGrad(), Tensor.ones([1]).requiringGrad())
            let nested: [String: [Tensor]] = ["a": [Tensor.zeros([3]).requiringGrad()]]
            override func forward(_ x: Tensor) -> Tensor {
                heads["dog"]!(x).sum() * pair.0.sum() + heads["cat"]!(x).sum() * pair.scale.sum() + (x * nested["a"]![0]).sum()
            }
        }
        let m = Heads()
        XCTAssertEqual(m.namedParameters().map(\.name),
                       // The module's own tensors first, then its children's (as PyTorch's named_parameters).
                       ["pair.0", "pair.scale", "nested.a.0", "heads.cat.weight", "heads.cat.bias", "heads.dog.weight", "heads.dog.bias"])
        XCTAssertEqual(m.parameterCount, 4 + 8 + 2 + 1 + 3)
        XCTAssertEqual(Set(m.stateDict().keys).count, 7)
        // Every one of them trains: after one SGD step each has moved.
        let before = m.parameters().map(\.doubles)
        let opt = SGD(m.parameters(), lr: 0.1)
        m(Tensor.ones([4, 3])).backward()
        opt.step()
        for (b, a) in zip(before, m.parameters().map(\.doubles)) { XCTAssertNotEqual(a, b) }
    }

    func testSummary() {
        let s = dense().summary(inputShape: [1, 5])
        let lines = s.split(separator: "\n").map(String.init)
        func row(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }
        XCTAssertTrue(row("layers.0 (Linear)")!.hasSuffix(" 60"), s)
        XCTAssertTrue(row("layers.0 (Linear)")!.contains("[1, 10]"), s)
        XCTAssertTrue(row("layers.1 (ReLU)")!.hasSuffix(" 0"), s)
        XCTAssertTrue(row("layers.2 (Linear)")!.hasSuffix(" 220"), s)
        XCTAssertTrue(row("layers.2 (Linear)")!.contains("[1, 20]"), s)
        XCTAssertTrue(row("layers.4 (Linear)")!.hasSuffix(" 63"), s)
        XCTAssertTrue(row("layers.4 (Linear)")!.contains("[1, 3]"), s)
        XCTAssertTrue(s.contains("Total parameters: 343 (trainable: 343, frozen: 0)"), s)
        // No graph is recorded by a summary: its forward pass runs with gradients disabled
        // (a probe layer records the mode it was called in), and the mode is restored.
        final class Probe: Module, @unchecked Sendable {
            var gradEnabledInForward: Bool?
            override func forward(_ x: Tensor) -> Tensor { gradEnabledInForward = Autograd.isGradEnabled; return x }
        }
        let probe = Probe()
        _ = Sequential([Linear(5, 3), probe]).summary(inputShape: [1, 5])
        XCTAssertEqual(probe.gradEnabledInForward, false)
        XCTAssertTrue(Autograd.isGradEnabled)
        // A custom module: leaf layers with counts, and the output shape.
        final class Custom: Module, @unchecked Sendable {
            let a = Linear(5, 10), b = Linear(10, 3)
            override func forward(_ x: Tensor) -> Tensor { b(a(x).relu()) }
        }
        let c = Custom().summary(inputShape: [2, 5])
        XCTAssertTrue(c.contains("(output)") && c.contains("[2, 3]") && c.contains("Total parameters: 93"), c)
    }

    func testStateDictRoundTrip() throws {
        let a = dense(), b = dense()
        XCTAssertEqual(a.orderedStateDict().map(\.name), a.namedParameters().map(\.name))
        XCTAssertEqual(a.stateDict().count, 6)
        let heldByOptimizer = b.parameters()
        try b.loadStateDict(a.stateDict())
        for (pa, pb) in zip(a.parameters(), heldByOptimizer) { XCTAssertTrue(pa.equals(pb)) }
        let x = Tensor.randomNormal([4, 5])
        XCTAssertEqual(a(x).doubles, b(x).doubles)
        // Values are copied, not shared: changing a afterwards leaves b alone.
        a.parameters()[0].assignInPlace(Tensor.zeros([10, 5]))
        XCTAssertFalse(a.parameters()[0].equals(b.parameters()[0]))
        // float64 values load into float32 parameters.
        try b.loadStateDict(a.stateDict().mapValues { $0.to(.float64) })
        XCTAssertEqual(b.parameters()[0].dtype, .float32)
        XCTAssertEqual(b.parameters()[0].abs().sum().item(), 0)
    }

    func testStateDictErrorsListEverything() {
        let m = dense()
        var state = m.stateDict()
        state["layers.0.bias"] = nil
        state["layers.4.weight"] = nil
        state["layers.9.weight"] = Tensor.zeros([1])
        state["extra"] = Tensor.zeros([1])
        state["layers.2.weight"] = Tensor.zeros([20, 11])
        state["layers.2.bias"] = Tensor.zeros([21])
        let before = m.parameters()[0].clone()
        state["layers.0.weight"] = Tensor.ones([10, 5])
        XCTAssertThrowsError(try m.loadStateDict(state)) { error in
            let e = error as! StateDictError
            XCTAssertEqual(e.missingKeys, ["layers.0.bias", "layers.4.weight"])
            XCTAssertEqual(e.unexpectedKeys, ["extra", "layers.9.weight"])
            XCTAssertEqual(e.shapeMismatches.map(\.key), ["layers.2.weight", "layers.2.bias"])
            XCTAssertEqual(e.shapeMismatches[0].expected, [20, 10])
            XCTAssertEqual(e.shapeMismatches[0].actual, [20, 11])
            let text = e.description
            for key in ["layers.0.bias", "layers.4.weight", "extra", "layers.9.weight", "layers.2.weight", "layers.2.bias"] {
                XCTAssertTrue(text.contains(key), text)
            }
        }
        // Nothing was written.
        XCTAssertTrue(m.parameters()[0].equals(before))
        // Non-strict: missing and unexpected keys are fine, shapes still checked.
        XCTAssertThrowsError(try m.loadStateDict(state, strict: false)) { error in
            let e = error as! StateDictError
            XCTAssertEqual(e.missingKeys, []); XCTAssertEqual(e.unexpectedKeys, [])
            XCTAssertEqual(e.shapeMismatches.count, 2)
        }
        state["layers.2.weight"] = nil; state["layers.2.bias"] = nil
        XCTAssertNoThrow(try m.loadStateDict(state, strict: false))
        XCTAssertEqual(m.parameters()[0].sum().item(), 50)
    }
}
