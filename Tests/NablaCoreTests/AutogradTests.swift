import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import NablaCore
import _NablaTestSupport

/// Autograd semantics: accumulation, detaching, no-grad scopes, shared nodes, explicit
/// upstream gradients, very long chains and memory across many training steps.
final class AutogradTests: XCTestCase {

    func testGradientsAccumulateUntilZeroed() {
        let x = Tensor([1, 2, 3] as [Double]).requiringGrad()
        XCTAssertNil(x.grad)
        (x * x).sum().backward()
        XCTAssertEqual(x.grad!.doubles, [2, 4, 6])
        (x * 3).sum().backward()
        XCTAssertEqual(x.grad!.doubles, [5, 7, 9])
        x.zeroGrad()
        XCTAssertNil(x.grad)
        x.sum().backward()
        XCTAssertEqual(x.grad!.doubles, [1, 1, 1])
    }

    func testAccumulationDoesNotAliasEarlierGradients() {
        let x = Tensor([1, 2] as [Float]).requiringGrad()
        x.sum().backward()
        let first = x.grad!
        x.sum().backward()
        XCTAssertEqual(first.floats, [1, 1], "a gradient read earlier must not change")
        XCTAssertEqual(x.grad!.floats, [2, 2])
    }

    func testCopiesShareTheGradient() {
        let w = Tensor([2] as [Double]).requiringGrad()
        let alias = w
        (alias * 5).sum().backward()
        XCTAssertEqual(w.grad!.doubles, [5])
    }

    func testDetached() {
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        let d = x.detached()
        XCTAssertFalse(d.requiresGrad)
        XCTAssertEqual(d.doubles, [1, 2])
        let y = x * d            // d is a constant
        y.sum().backward()
        XCTAssertEqual(x.grad!.doubles, [1, 2])
        XCTAssertFalse((d * d).requiresGrad)
        XCTAssertFalse((x * 2).detached().requiresGrad)
        XCTAssertTrue((x * 2).detached().isLeaf)
    }

    func testWithoutGradRecordsNothing() {
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        XCTAssertTrue(Autograd.isGradEnabled)
        let y = withoutGrad { () -> Tensor in
            XCTAssertFalse(Autograd.isGradEnabled)
            let a = (x * x).exp().sum(axis: 0)
            let b = x.matmul(x) + x.reshaped(2, 1).T.sum()
            return a + b
        }
        XCTAssertTrue(Autograd.isGradEnabled)
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.gradFunctionName)
        XCTAssertNil(y.node, "no graph node allocated")
        // Nested scopes restore the outer state.
        withoutGrad {
            withoutGrad { }
            XCTAssertFalse(Autograd.isGradEnabled)
        }
        XCTAssertTrue((x * x).requiresGrad)
    }

    func testRequiresGradFlags() {
        var t = Tensor([1] as [Double])
        XCTAssertFalse(t.requiresGrad)
        XCTAssertTrue(t.isLeaf)
        t.requiresGrad = true
        XCTAssertTrue(t.requiresGrad)
        XCTAssertTrue(t.isLeaf)
        let y = t * 2
        XCTAssertTrue(y.requiresGrad)
        XCTAssertFalse(y.isLeaf)
        t.requiresGrad = false
        XCTAssertFalse(t.requiresGrad)
        XCTAssertFalse((t * 2).requiresGrad)
    }

    func testFrozenLeafGetsNoGradient() {
        let w = Tensor([1, 2] as [Double]).requiringGrad()
        let b = Tensor([3, 4] as [Double]).requiringGrad()
        w.isFrozen = true
        XCTAssertFalse(w.requiresGrad)
        (w * b).sum().backward()
        XCTAssertNil(w.grad)
        XCTAssertEqual(b.grad!.doubles, [1, 2])
        w.isFrozen = false
        (w * b).sum().backward()
        XCTAssertEqual(w.grad!.doubles, [3, 4])
    }

    /// A diamond: y is used by two branches that meet again; x's gradient is the sum of
    /// both paths.
    func testDiamondSumsBothContributions() {
        let x = Tensor(3.0).requiringGrad()
        let y = x * x             // 9, dy/dx = 6
        let z = y.sin() + y * 2   // dz/dy = cos(9) + 2
        z.backward()
        XCTAssertEqual(x.grad!.item(), (Foundation.cos(9) + 2) * 6, accuracy: 1e-12)
    }

    /// Each node's rule runs exactly once per backward pass, however many consumers it has.
    func testNothingIsComputedTwice() {
        final class Counter: @unchecked Sendable { var n = 0 }
        let counter = Counter()
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        let y = Tensor.record(x * 1, op: "Count", inputs: [x]) { g in counter.n += 1; return [g] }
        let z = y * y + y.exp() + y.sum() * y + y[0]
        z.sum().backward()
        XCTAssertEqual(counter.n, 1)
        // Expected by hand: z = y² + eʸ + (y0 + y1)·y + y0 elementwise, summed over 2 entries.
        // The sum of z is Σ y_i² + Σ e^{y_i} + S² + 2·y0 with S = y0 + y1 (y[0] is
        // broadcast over both entries), so dz/dy_i = 2y_i + e^{y_i} + 2S + 2·[i = 0].
        let e = [2 + Foundation.exp(1.0) + 6 + 2, 4 + Foundation.exp(2.0) + 6]
        for (a, b) in zip(x.grad!.doubles, e) { XCTAssertEqual(a, b, accuracy: 1e-12) }

        // 60 nested diamonds: a naive recursive backward would take 2⁶⁰ steps.
        var t = Tensor(1.0).requiringGrad()
        let leaf = t
        for _ in 0..<60 { t = t + t }
        t.backward()
        XCTAssertEqual(leaf.grad!.item(), 0x1p60)
    }

    func testBackwardWithExplicitUpstreamGradient() {
        let x = Tensor([[1, 2], [3, 4]] as [[Double]]).requiringGrad()
        let y = x * x
        y.backward(Tensor([[1, 0], [0.5, -1]] as [[Double]]))
        XCTAssertEqual(x.grad!.doubles, [2, 0, 3, -8])
        // A float32 upstream gradient for a float64 tensor is converted.
        let w = Tensor([1, 2] as [Double]).requiringGrad()
        (w * 3).backward(Tensor([1, 1] as [Float]))
        XCTAssertEqual(w.grad!.doubles, [3, 3])
        XCTAssertEqual(w.grad!.dtype, .float64)
    }

    func testBackwardOnLeaf() {
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        x.backward(Tensor([4, 5] as [Double]))
        XCTAssertEqual(x.grad!.doubles, [4, 5])
        let s = Tensor(2.0).requiringGrad()
        s.backward()
        XCTAssertEqual(s.grad!.item(), 1)
    }

    func testGraphIsReleasedAfterBackward() {
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        weak var interior: GradNode?
        do {
            let y = (x * x).exp()
            interior = y.node
            let loss = y.sum()
            XCTAssertNotNil(interior)
            loss.backward()
            XCTAssertNil(loss.node?.rule, "the root's rule is released")
        }
        XCTAssertNil(interior, "graph nodes are freed once the results go out of scope")
        XCTAssertNotNil(x.grad)
    }

    func testUnusedGraphIsFreed() {
        let x = Tensor([1, 2] as [Double]).requiringGrad()
        weak var node: GradNode?
        do {
            let y = (x * x + x.matmul(x)) / x
            node = y.node
            XCTAssertNotNil(node)
        }
        XCTAssertNil(node)
    }

    // MARK: Very long chains

    static let chainLength = 1_000_000

    /// One million scalar ops differentiate without overflowing the stack.
    func testMillionOpChainBackward() {
        let start = Date()
        let x = Tensor(1.0).requiringGrad()
        var y = x
        for _ in 0..<Self.chainLength { y = y * 1.0000001 }
        let forward = Date().timeIntervalSince(start)
        y.backward()
        let total = Date().timeIntervalSince(start)
        print("1M-op chain: forward \(String(format: "%.2f", forward)) s, forward+backward \(String(format: "%.2f", total)) s")
        // d/dx (x·c^n) = c^n
        XCTAssertEqual(x.grad!.item(), Foundation.pow(1.0000001, Double(Self.chainLength)), accuracy: 1e-6)
    }

    /// Dropping a million-node graph without calling backward does not overflow either,
    /// for ops whose rules capture their inputs (tensor × tensor) and for scalar ops.
    func testMillionOpChainDroppedWithoutBackward() {
        let start = Date()
        let x = Tensor(1.0).requiringGrad()
        let c = Tensor(1.0000001).requiringGrad()
        do {
            var y = x
            for _ in 0..<Self.chainLength { y = y * c }
            XCTAssertTrue(y.requiresGrad)
        }
        do {
            var y = x
            for _ in 0..<Self.chainLength { y = y * 1.0000001 }
            XCTAssertTrue(y.requiresGrad)
        }
        print("1M-op chain dropped: \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    /// Backward through a million tensor × tensor products (the rule captures both inputs).
    func testMillionOpTensorChainBackward() {
        let x = Tensor(1.0).requiringGrad()
        let c = Tensor(1.0000001)
        var y = x
        for _ in 0..<Self.chainLength { y = y * c }
        y.backward()
        XCTAssertEqual(x.grad!.item(), Foundation.pow(1.0000001, Double(Self.chainLength)), accuracy: 1e-6)
    }

    // MARK: Memory across training steps

    /// Resident set size in bytes, from /proc/self/statm (nil where unavailable).
    static func residentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let f = s.split(separator: " ")
        guard f.count > 1, let pages = Int(f[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A small linear regression trained for 10,000 steps with in-place updates: memory
    /// must not grow (each step's graph is released), and the fit converges.
    func testMemoryDoesNotGrowAcrossTrainingSteps() throws {
        let g = RandomGenerator(seed: 21)
        let X = Tensor.randomNormal([128, 8], generator: g)
        let trueW = Tensor.randomNormal([8, 1], generator: g)
        let Y = X.matmul(trueW) + 0.5
        let w = Tensor.zeros([8, 1]).requiringGrad()
        let b = Tensor.zeros([1]).requiringGrad()
        weak var lastGraph: GradNode?
        func step() -> Double {
            let pred = X.matmul(w) + b
            let loss = ((pred - Y) * (pred - Y)).mean()
            lastGraph = pred.node
            w.zeroGrad(); b.zeroGrad()
            loss.backward()
            withoutGrad {
                w.assignInPlace(w - w.grad! * 0.05)
                b.assignInPlace(b - b.grad! * 0.05)
            }
            return loss.item()
        }
        for _ in 0..<1000 { _ = step() }
        XCTAssertNil(lastGraph, "the graph of a finished step is freed")
        let before = Self.residentBytes()
        var loss = 0.0
        for _ in 0..<10_000 { loss = step() }
        let after = Self.residentBytes()
        XCTAssertLessThan(loss, 1e-6)
        XCTAssertTrue(w.requiresGrad && w.isLeaf)
        guard let before, let after else { throw XCTSkip("/proc/self/statm not available") }
        let growth = after - before
        print("RSS growth over 10,000 steps: \(growth / 1024) KiB")
        // A leaked graph per step would hold several KiB: 10,000 steps ⇒ tens of MiB.
        XCTAssertLessThan(growth, 4 << 20, "resident memory grew by \(growth) bytes")
    }
}
