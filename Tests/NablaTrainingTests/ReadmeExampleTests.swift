import XCTest
import NablaCore
import NablaNN
import NablaData

/// The README's code samples, kept compiling and correct.
final class ReadmeExampleTests: XCTestCase {
    func testTinyGraph() {
        let x = Tensor(-2.0).requiringGrad()
        let y = Tensor(5.0).requiringGrad()
        let z = Tensor(-4.0).requiringGrad()
        let f = (x + y) * z
        f.backward()
        XCTAssertEqual(f.item(), -12)
        XCTAssertEqual([x.grad!.item(), y.grad!.item(), z.grad!.item()], [-4, -4, 3])
    }

    func testTwentyLineMLP() {
        Random.seed(0)
        let data = Synthetic.ring(count: 1000, seed: 0)
        let (train, test) = { let p = data.split([0.8, 0.2]); return (p[0], p[1]) }()
        let model = Sequential {
            Linear(2, 32); Tanh()
            Linear(32, 32); Tanh()
            Linear(32, 2)
        }
        let optimizer = Adam(model.parameters(), lr: 0.01)
        for epoch in 1...60 {
            for batch in DataLoader(train, batchSize: 32, shuffle: true, generator: RandomGenerator(seed: UInt64(epoch))) {
                optimizer.zeroGrad()
                let loss = Loss.crossEntropy(logits: model(batch.inputs), classIndices: batch.targets)
                loss.backward()
                optimizer.step()
            }
        }
        let logits = withoutGrad { model.eval()(test.inputs) }
        let accuracy = (logits.argmax(axis: 1) .== test.targets).mean().item()
        // The ring is not linearly separable (a linear model stays near the majority
        // rate); a two-hidden-layer network should classify it well.
        XCTAssertGreaterThan(accuracy, 0.9)
    }
}
