import XCTest
import NablaCore
import NablaNN
import _NablaTestSupport

/// Storage version counters: backward refuses a tensor that an optimizer step changed
/// after the forward pass saved it (the classic GAN ordering mistake), and the correct
/// ordering trains.
final class InPlaceVersionTests: XCTestCase {

    /// A tiny GAN on 1-D data: G maps noise to a sample, D scores a sample.
    struct TinyGAN {
        let g = Sequential([Linear(2, 8), Tanh(), Linear(8, 1)])
        let d = Sequential([Linear(1, 8), Tanh(), Linear(8, 1)])
        let optG: Adam, optD: Adam
        init() {
            optG = Adam(g.parameters(), lr: 0.005, betas: (0.5, 0.999))
            optD = Adam(d.parameters(), lr: 0.005, betas: (0.5, 0.999))
        }
        static let ones = Tensor.ones([16, 1]), zeros = Tensor.zeros([16, 1])

        /// The mistake: G's loss is computed through D before D's step, then back-propagated
        /// after it. D's weights saved by G's graph have changed.
        func wrongOrder(real: Tensor, noise: Tensor) {
            let fake = g(noise)
            let lossD = Loss.binaryCrossEntropy(logits: d(real), Self.ones)
                + Loss.binaryCrossEntropy(logits: d(fake.detached()), Self.zeros)
            let lossG = Loss.binaryCrossEntropy(logits: d(fake), Self.ones)
            optD.zeroGrad(); lossD.backward(); optD.step()
            optG.zeroGrad(); lossG.backward(); optG.step()
        }

        /// The correct ordering: D steps, then G's loss is computed through the updated D.
        /// Returns (lossD, lossG).
        func rightOrder(real: Tensor, noise: Tensor) -> (Double, Double) {
            let fake = g(noise)
            let lossD = Loss.binaryCrossEntropy(logits: d(real), Self.ones)
                + Loss.binaryCrossEntropy(logits: d(fake.detached()), Self.zeros)
            optD.zeroGrad(); lossD.backward(); optD.step()
            let lossG = Loss.binaryCrossEntropy(logits: d(fake), Self.ones)
            optG.zeroGrad(); lossG.backward(); optG.step()
            return (lossD.item(), lossG.item())
        }
    }

    static func batch(_ rng: RandomGenerator) -> (real: Tensor, noise: Tensor) {
        (Tensor.randomNormal([16, 1], generator: rng) * 0.5 + 3, Tensor.randomNormal([16, 2], generator: rng))
    }

    func testTrapChild() throws {
        guard let name = TrapHarness.currentCase else { throw XCTSkip("only runs as a child of the trap tests") }
        Random.seed(1)
        let rng = RandomGenerator(seed: 2)
        let gan = TinyGAN()
        let (real, noise) = Self.batch(rng)
        switch name {
        case "ganWrongOrder": gan.wrongOrder(real: real, noise: noise)
        case "stepBeforeBackward":
            // Any optimizer step between a forward pass and its backward.
            // The input requires a gradient, so backward reads the weight (dx = g·W).
            let model = Linear(3, 2)
            let opt = SGD(model.parameters(), lr: 0.1)
            let loss = model(Tensor.ones([4, 3]).requiringGrad()).squared().sum()
            for p in model.parameters() { p.grad = Tensor.ones(like: p) }
            opt.step()
            loss.backward()
        default: XCTFail("unknown trap case \(name)"); return
        }
        print("NABLA_TRAP_CASE \(name) did not trap")
    }

    func testGANWrongOrderTraps() throws {
        #if !os(Linux)
        throw XCTSkip("child-process trap tests run on Linux only")
        #else
        if TrapHarness.currentCase != nil { throw XCTSkip("inside a child") }
        let child = "NablaNNTests.InPlaceVersionTests/testTrapChild"
        let (trapped, stderr) = try TrapHarness.run(childTest: child, caseName: "ganWrongOrder")
        XCTAssertTrue(trapped, "the GAN ordering mistake did not trap: \(stderr)")
        for fragment in ["backward", "Linear", "modified by an in-place operation", "version 1", "saved version 0"] {
            XCTAssertTrue(stderr.contains(fragment), "message lacks \"\(fragment)\": \(stderr)")
        }
        let (trapped2, stderr2) = try TrapHarness.run(childTest: child, caseName: "stepBeforeBackward")
        XCTAssertTrue(trapped2, "an SGD step between forward and backward did not trap: \(stderr2)")
        XCTAssertTrue(stderr2.contains("Linear") && stderr2.contains("in-place"), stderr2)
        #endif
    }

    func testGANRightOrderTrains() {
        Random.seed(1)
        let rng = RandomGenerator(seed: 2)
        let gan = TinyGAN()
        var lastG = 0.0
        for _ in 0..<800 {
            let (real, noise) = Self.batch(rng)
            let (ld, lg) = gan.rightOrder(real: real, noise: noise)
            XCTAssertTrue(ld.isFinite && lg.isFinite)
            lastG = lg
        }
        XCTAssertTrue(lastG.isFinite)
        // The generator moved its samples towards the real data's mean (3): at the start
        // they are near 0 (a small random network on unit noise).
        let rng2 = RandomGenerator(seed: 9)
        let samples = withoutGrad { gan.g(Tensor.randomNormal([512, 2], generator: rng2)) }
        XCTAssertEqual(samples.mean().item(), 3, accuracy: 0.5, "G did not learn: mean sample \(samples.mean().item())")
    }

    /// An op that saves nothing it reads back (Add) may have its input changed before
    /// backward, as in PyTorch: the gradient does not depend on it. So may a Linear's weight
    /// when the input needs no gradient (dW = gᵀ·x never reads W).
    func testUnsavedInputMayChange() {
        let b = Tensor([1, 2] as [Double]).requiringGrad()
        let x = Tensor([3, 4] as [Double]).requiringGrad()
        let y = (x + b).sum()
        b.assignInPlace(Tensor([10, 20] as [Double]))
        y.backward()
        XCTAssertEqual(b.grad!.doubles, [1, 1])
        XCTAssertEqual(x.grad!.doubles, [1, 1])
        let layer = Linear(weight: Tensor([[1, 2]] as [[Double]]))
        let out = layer(Tensor([[3, 4]] as [[Double]])).sum()       // 1·3 + 2·4
        layer.weight.assignInPlace(Tensor([[0, 0]] as [[Double]]))
        out.backward()
        XCTAssertEqual(layer.weight.grad!.doubles, [3, 4])          // ∂/∂W = x
    }

    /// The version counts in-place writes and is shared by every copy of a parameter.
    func testVersionCountsInPlaceWrites() {
        let w = Tensor.zeros([3]).requiringGrad()
        let copy = w
        XCTAssertEqual(w.version, 0)
        w.assignInPlace(Tensor.ones([3]))
        XCTAssertEqual(copy.version, 1)
        let opt = SGD([w], lr: 0.1)
        w.grad = Tensor.ones([3])
        opt.step()
        XCTAssertGreaterThan(w.version, 1, "an optimizer step must bump the version")
        var v = w.detached()
        v.setScalar(5, at: 0)   // copy-on-write: a new storage, the parameter is untouched
        XCTAssertEqual(w.scalar(at: 0), 0.9, accuracy: 1e-6)
    }
}

/// An embedding with more than 2²⁴ rows looks up the right row with int64 indices, and its
/// gradient lands in that row (a float32 index would round 2²⁴ + 1 to 2²⁴).
final class LargeEmbeddingTests: XCTestCase {
    func testEmbeddingBeyond2To24Rows() {
        let rows = (1 << 24) + 4
        let emb = Embedding(rows, 1, generator: RandomGenerator(seed: 3))
        // Mark three rows with values of their own, independent of the random init.
        var w = emb.weight.floats
        let marked = [(1 << 24) - 1, 1 << 24, (1 << 24) + 1]
        for (k, r) in marked.enumerated() { w[r] = Float(100 + k) }
        emb.weight.assignInPlace(Tensor(w, shape: [rows, 1]))
        let idx = Tensor(marked.reversed().map { Int64($0) })
        let out = emb(idx)
        XCTAssertEqual(out.shape, [3, 1])
        XCTAssertEqual(out.floats, [102, 101, 100])
        (out * Tensor([1, 2, 3] as [Float], shape: [3, 1])).sum().backward()
        let g = emb.weight.grad!.floats
        // ∂/∂w[r] is the weight of the output that looked r up: 3, 2, 1 for the marked rows.
        XCTAssertEqual([g[marked[0]], g[marked[1]], g[marked[2]]], [3, 2, 1])
        XCTAssertEqual(g[(1 << 24) + 2], 0)
    }
}
