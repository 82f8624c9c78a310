import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// Recurrent layers beyond the PyTorch references: padding changes nothing, float32 agrees
/// with float64 on batches split over threads, gradient checks of whole layers, names,
/// shapes and messages.
final class RecurrentLayerTests: XCTestCase {
    /// A bidirectional 2-layer layer of each kind, float64, with fixed weights.
    func layers(_ gen: RandomGenerator) -> [RecurrentLayer] {
        [LSTM(3, 4, numLayers: 2, batchFirst: true, bidirectional: true, dtype: .float64, generator: gen),
         GRU(3, 4, numLayers: 2, batchFirst: true, bidirectional: true, dtype: .float64, generator: gen),
         RNN(3, 4, numLayers: 2, nonlinearity: .tanh, batchFirst: true, bidirectional: true, dtype: .float64, generator: gen)]
    }

    /// Padding must not change any result: each sequence run alone (unpadded) gives the
    /// same outputs at its real steps, the same final state and the same gradients as in
    /// the padded batch, whatever the padding holds.
    func testPaddingChangesNothing() {
        let gen = RandomGenerator(seed: 3)
        let lengths = [5, 2, 4]
        for layer in layers(gen) {
            let x = Tensor.randomNormal([3, 5, 3], dtype: .float64, generator: gen)
            // Garbage in the padding: large values that would change everything if read.
            var padded = x.doubles
            for (b, l) in lengths.enumerated() { for t in l..<5 { for f in 0..<3 { padded[(b * 5 + t) * 3 + f] = 1e3 * Double(t + f + 1) } } }
            let xp = Tensor(padded, shape: [3, 5, 3]).requiringGrad()
            let r = layer.run(xp, lengths: lengths)
            let gy = Tensor.randomNormal(r.output.shape, dtype: .float64, generator: gen)
            let gh = Tensor.randomNormal(r.state.h.shape, dtype: .float64, generator: gen)
            var loss = (r.output * gy).sum() + (r.state.h * gh).sum()
            let gc = r.state.c.map { Tensor.randomNormal($0.shape, dtype: .float64, generator: gen) }
            if let c = r.state.c, let gc { loss = loss + (c * gc).sum() }
            layer.zeroGrad()
            loss.backward()
            let batchGrads = layer.namedParameters().map { $0.tensor.grad! }
            var summed = batchGrads.map { Tensor.zeros(like: $0) }
            for (b, l) in lengths.enumerated() {
                let xb = x.narrow(axis: 0, start: b, length: 1).narrow(axis: 1, start: 0, length: l).contiguous().requiringGrad()
                let rb = layer.run(xb)
                let yb = r.output.narrow(axis: 0, start: b, length: 1).narrow(axis: 1, start: 0, length: l)
                XCTAssertTrue(allClose(rb.output, yb, rtol: 1e-12, atol: 1e-12), "\(layer.typeName) row \(b): outputs")
                if l < 5 {
                    let pad = r.output.narrow(axis: 0, start: b, length: 1).narrow(axis: 1, start: l, length: 5 - l)
                    XCTAssertEqual(pad.abs().max().item(), 0, "\(layer.typeName) row \(b): padded outputs are zero")
                }
                let hb = r.state.h.narrow(axis: 1, start: b, length: 1)
                XCTAssertTrue(allClose(rb.state.h, hb, rtol: 1e-12, atol: 1e-12), "\(layer.typeName) row \(b): final h")
                var lb = (rb.output * gy.narrow(axis: 0, start: b, length: 1).narrow(axis: 1, start: 0, length: l)).sum()
                    + (rb.state.h * gh.narrow(axis: 1, start: b, length: 1)).sum()
                if let c = rb.state.c, let gc {
                    XCTAssertTrue(allClose(c, r.state.c!.narrow(axis: 1, start: b, length: 1), rtol: 1e-12, atol: 1e-12), "\(layer.typeName) row \(b): final c")
                    lb = lb + (c * gc.narrow(axis: 1, start: b, length: 1)).sum()
                }
                layer.zeroGrad()
                lb.backward()
                let dxp = xp.grad!.narrow(axis: 0, start: b, length: 1)
                XCTAssertTrue(allClose(xb.grad!, dxp.narrow(axis: 1, start: 0, length: l), rtol: 1e-10, atol: 1e-12), "\(layer.typeName) row \(b): input gradient")
                if l < 5 { XCTAssertEqual(dxp.narrow(axis: 1, start: l, length: 5 - l).abs().max().item(), 0, "\(layer.typeName) row \(b): padding gets no gradient") }
                summed = zip(summed, layer.namedParameters()).map { $0 + $1.tensor.grad! }
            }
            for ((name, _), (a, b)) in zip(layer.namedParameters(), zip(batchGrads, summed)) {
                XCTAssertTrue(allClose(a, b, rtol: 1e-10, atol: 1e-12), "\(layer.typeName): gradient of \(name) with padding vs the sum over unpadded sequences")
            }
        }
    }

    /// Central differences through whole layers (input and initial state), float64.
    func testLayerGradientsCheck() {
        let gen = RandomGenerator(seed: 5)
        for layer in layers(gen) {
            let x = Tensor.randomNormal([2, 4, 3], dtype: .float64, generator: gen)
            let h0 = Tensor.randomNormal([4, 2, 4], dtype: .float64, generator: gen)
            let c0 = Tensor.randomNormal([4, 2, 4], dtype: .float64, generator: gen)
            let lstm = layer.cell == .lstm
            let result = gradCheck(lstm ? [x, h0, c0] : [x, h0]) { v in
                let r = layer.run(v[0], state: RecurrentState(h: v[1], c: lstm ? v[2] : nil), lengths: [4, 3])
                var parts = [r.output.reshaped([r.output.count]), r.state.h.reshaped([r.state.h.count])]
                if let c = r.state.c { parts.append(c.reshaped([c.count])) }
                return Tensor.concatenate(parts)
            }
            XCTAssertTrue(result.passed, "\(layer.typeName): \(result)")
        }
    }

    /// float32 against float64 on a batch the threads split (40 rows), H = 37 (vector tails).
    func testFloat32MatchesFloat64() {
        let gen = RandomGenerator(seed: 9)
        for make in [{ (d: DType) -> RecurrentLayer in LSTM(5, 37, batchFirst: true, dtype: d, generator: RandomGenerator(seed: 1)) },
                     { d in GRU(5, 37, batchFirst: true, dtype: d, generator: RandomGenerator(seed: 1)) }] {
            let l64 = make(.float64), l32 = make(.float32)
            let x = Tensor.randomNormal([40, 12, 5], dtype: .float64, generator: gen)
            let lengths = (0..<40).map { 1 + $0 % 12 }
            let x64 = x.requiringGrad(), x32 = x.to(.float32).requiringGrad()
            let r64 = l64.run(x64, lengths: lengths), r32 = l32.run(x32, lengths: lengths)
            XCTAssertTrue(allClose(r32.output.to(.float64), r64.output, rtol: 1e-4, atol: 1e-5), "\(l64.typeName) forward")
            r64.output.sum().backward(); r32.output.sum().backward()
            XCTAssertTrue(allClose(x32.grad!.to(.float64), x64.grad!, rtol: 1e-3, atol: 1e-4), "\(l64.typeName) input gradient")
            for ((n, a), (_, b)) in zip(l32.namedParameters(), l64.namedParameters()) {
                XCTAssertTrue(allClose(a.grad!.to(.float64), b.grad!, rtol: 1e-3, atol: 1e-3), "\(l64.typeName) gradient of \(n)")
            }
        }
    }

    func testNamesShapesAndInitialisation() {
        let lstm = LSTM(3, 5, numLayers: 2, bidirectional: true)
        XCTAssertEqual(lstm.namedParameters().map(\.name), [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"])
        XCTAssertEqual(lstm.parameter("weight_ih_l1").shape, [20, 10])
        // PyTorch: U(-1/sqrt(H), 1/sqrt(H)).
        let bound = 1 / 5.0.squareRoot()
        for (_, p) in lstm.namedParameters() { XCTAssertLessThanOrEqual(p.abs().max().item(), bound) }
        XCTAssertEqual(GRU(2, 3, bias: false).namedParameters().map(\.name), ["weight_ih_l0", "weight_hh_l0"])
        XCTAssertEqual(LSTMCell(2, 3).namedParameters().map(\.name), ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
        // Shapes: time-major, batch-first, unbatched, last step.
        let (y, s) = lstm(Tensor.randomNormal([7, 2, 3]))
        XCTAssertEqual(y.shape, [7, 2, 10]); XCTAssertEqual(s.h.shape, [4, 2, 5]); XCTAssertEqual(s.c.shape, [4, 2, 5])
        let g = GRU(3, 4, batchFirst: true, output: .last)
        XCTAssertEqual(g(Tensor.randomNormal([2, 6, 3])).0.shape, [2, 6, 4])
        XCTAssertEqual(g.forward(Tensor.randomNormal([2, 6, 3])).shape, [2, 4])
        let (yu, hu) = RNN(3, 4)(Tensor.randomNormal([6, 3]))
        XCTAssertEqual(yu.shape, [6, 4]); XCTAssertEqual(hu.shape, [1, 4])
        // The last step of the forward direction is the final state.
        let y2 = g.forward(Tensor.ones([1, 6, 3]))
        let (_, h2) = g(Tensor.ones([1, 6, 3]))
        XCTAssertTrue(allClose(y2, h2.reshaped([1, 4])))
    }

    func testMessages() {
        let lstm = LSTM(28, 8, batchFirst: true)
        let m = lstm.validateInput(Tensor.zeros([4, 28, 27]))
        XCTAssertEqual(m, "LSTM: expected 28 features per step (input [batch, steps, 28]), got shape [4, 28, 27]")
        XCTAssertNotNil(lstm.validateInput(Tensor.zeros([28])))
        XCTAssertEqual(RecurrentLayer.lengths(validMask: Tensor([1, 1, 0, 1, 0, 0], shape: [2, 3])), [2, 1])
    }

    func testLastStepInSequential() {
        let model = Sequential([LSTM(4, 6, batchFirst: true, output: .last), Linear(6, 3)])
        let y = model(Tensor.randomNormal([5, 7, 4]))
        XCTAssertEqual(y.shape, [5, 3])
        y.sum().backward()
        XCTAssertTrue(model.parameters().allSatisfy { $0.grad != nil })
    }
}
