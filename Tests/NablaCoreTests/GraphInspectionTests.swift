import Foundation
import NablaCore
import XCTest

/// Keeping and walking graphs: what is kept with and without a capture, retained backward,
/// and deep graphs walked without recursion.
final class GraphInspectionTests: XCTestCase {
    func testWithoutCaptureOnlyStructureIsKept() {
        let a = Tensor(scalar: 2, dtype: .float64).requiringGrad(name: "a")
        let b = Tensor(scalar: 3, dtype: .float64).requiringGrad()
        let f = (a * b).exp()
        let g = f.graph()
        XCTAssertFalse(GraphCapture.isActive)
        XCTAssertEqual(g.nodes.map(\.op), ["Leaf", "Leaf", "Mul", "Exp"])
        XCTAssertNil(g.nodes[2].value, "an interior node keeps no value outside a capture")
        XCTAssertEqual(g.nodes[g.root].value?.item() ?? .nan, Foundation.exp(6), accuracy: 1e-9)
        XCTAssertEqual(g.nodes[0].name, "a")
        XCTAssertEqual(g.nodes[0].value?.item(), 2, "a named leaf keeps its value")
        XCTAssertEqual(g.nodes[2].inputs, [0, 1])
        // The local derivative of exp at 6 is e⁶ (the root's value is known); the product's
        // shape is unknown without a capture, so its local derivatives are too.
        XCTAssertEqual(g.nodes[3].localDerivatives[0] ?? .nan, Foundation.exp(6), accuracy: 1e-6)
        XCTAssertEqual(g.nodes[2].localDerivatives.compactMap { $0 }, [])
        // Under a capture: ∂(a·b)/∂a = b = 3, ∂(a·b)/∂b = a = 2.
        let captured = withGraphCapture { (a * b).exp() }.graph()
        XCTAssertEqual(captured.nodes[2].localDerivatives.map { $0 ?? .nan }, [3, 2])
    }

    func testCaptureKeepsValuesScopesAndConstants() {
        let a = Tensor(scalar: 2, dtype: .float64).requiringGrad()
        let c = Tensor(scalar: 10, dtype: .float64)   // needs no gradient: a constant
        let f = withGraphCapture {
            GraphCapture.withScope("block", isLeafModule: true) { (a + c) * a }
        }
        XCTAssertFalse(GraphCapture.isActive)
        let g = f.graph()
        let add = g.nodes.first { $0.op == "Add" }!
        XCTAssertEqual(add.value?.item(), 12)
        XCTAssertEqual(add.inputs.map { g.nodes[$0].kind }, [.leaf, .constant])
        XCTAssertEqual(g.nodes[add.inputs[1]].value?.item(), 10)
        XCTAssertEqual(add.scope.map { g.scopes[$0].label }, "block")
        XCTAssertEqual(g.nodes.filter { $0.kind == .leaf }.count, 1, "a leaf used twice is one node")
    }

    /// f = (a + 1)² at a = 2: f = 9, df/da = 2(a + 1) = 6; the node a + 1 has gradient 6.
    func testRetainedBackwardKeepsInteriorGradientsAndTheGraph() {
        let a = Tensor(scalar: 2, dtype: .float64).requiringGrad()
        let f = withGraphCapture { (a + 1).pow(2) }
        f.backward(retainGraph: true)
        let g = f.graph()
        XCTAssertEqual(g.nodes.first { $0.op == "AddScalar" }?.gradient?.item(), 6)
        XCTAssertEqual(a.grad?.item(), 6)
        f.backward()   // the graph was retained: a plain pass still works, and frees it
        XCTAssertEqual(a.grad?.item(), 12)
        XCTAssertNil(f.graph().nodes.first { $0.op == "AddScalar" }, "a plain backward releases the graph")
    }

    func testFrozenParametersAreNotInTheGraph() {
        let w = Tensor(scalar: 2, dtype: .float64).requiringGrad()
        let b = Tensor(scalar: 1, dtype: .float64).requiringGrad()
        b.isFrozen = true
        let g = (w * 3 + b).graph()
        XCTAssertEqual(g.nodes.filter { $0.kind == .leaf }.count, 1)
    }

    func testDeepGraphIsWalkedWithoutRecursion() {
        var x = Tensor(scalar: 1, dtype: .float64).requiringGrad()
        for _ in 0..<200_000 { x = x * 1.0 }
        let g = x.graph()
        XCTAssertEqual(g.nodes.count, 200_001)
        XCTAssertEqual(g.nodes.last?.inputs, [199_999])
    }

    func testTensorOutsideAnyGraph() {
        let g = Tensor(scalar: 4, dtype: .float64).graph()
        XCTAssertEqual(g.nodes.count, 1)
        XCTAssertEqual(g.nodes[0].kind, .constant)
        XCTAssertEqual(Tensor(scalar: 4).namedInGraph("k").graphName, nil)
    }
}
