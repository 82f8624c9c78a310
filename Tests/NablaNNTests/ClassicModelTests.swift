import XCTest
import NablaCore
@testable import NablaNN

/// Linear regression (closed form and gradient descent), logistic regression, perceptron.
final class ClassicModelTests: XCTestCase {
    /// N examples with n standard-normal inputs from a fixed seed, as `[N, n]`.
    func inputs(_ count: Int, _ n: Int, seed: UInt64) -> Tensor {
        let rng = RandomGenerator(seed: seed)
        return Tensor((0..<count * n).map { _ in rng.nextNormal() }, shape: [count, n])
    }

    /// y = x·[1.5, −2, 0.5] + 3 + 0.1·noise.
    func regressionData() -> (x: Tensor, y: Tensor) {
        let x = inputs(200, 3, seed: 7)
        let rng = RandomGenerator(seed: 8)
        let noise = Tensor((0..<200).map { _ in 0.1 * rng.nextNormal() })
        let y = x.matmul(Tensor([1.5, -2, 0.5])) + 3 + noise
        return (x, y)
    }

    func testClosedFormSolversAgreeWithGradientDescent() throws {
        let (x, y) = regressionData()
        let normal = try LinearRegression.fitNormalEquations(x, y)
        let qr = try LinearRegression.fitLeastSquares(x, y)
        XCTAssertEqual(normal.weight.shape, [1, 3])
        for (a, b) in zip(normal.weight.doubles + normal.bias.doubles, qr.weight.doubles + qr.bias.doubles) {
            XCTAssertEqual(a, b, accuracy: 1e-10)
        }
        // The noise is small, so the fit is close to the truth.
        for (a, b) in zip(normal.weight.doubles + normal.bias.doubles, [1.5, -2, 0.5, 3]) {
            XCTAssertEqual(a, b, accuracy: 0.05)
        }
        let gd = LinearRegression(inputs: 3)
        let losses = gd.fitGradientDescent(x, y, learningRate: 0.1, epochs: 500)
        XCTAssertLessThan(losses.last!, losses.first! / 100)
        for (a, b) in zip(gd.weight.doubles + gd.bias.doubles, normal.weight.doubles + normal.bias.doubles) {
            XCTAssertEqual(a, b, accuracy: 1e-6)
        }
        XCTAssertEqual(gd.meanSquaredError(x, y), normal.meanSquaredError(x, y), accuracy: 1e-9)
        XCTAssertEqual(gd.predict(x).shape, [200, 1])
    }

    func testMultiOutputRecoversExactCoefficients() throws {
        let x = inputs(50, 3, seed: 3)
        let k = Tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
        let b = Tensor([0.25, -4.0])
        let y = x.matmul(k.T) + b
        for model in [try LinearRegression.fitNormalEquations(x, y), try LinearRegression.fitLeastSquares(x, y)] {
            XCTAssertEqual(model.weight.shape, [2, 3])
            for (g, e) in zip(model.weight.doubles + model.bias.doubles, k.doubles + b.doubles) {
                XCTAssertEqual(g, e, accuracy: 1e-10)
            }
        }
        let gd = LinearRegression(inputs: 3, outputs: 2)
        gd.fitGradientDescent(x, y, learningRate: 0.2, epochs: 600)
        for (g, e) in zip(gd.weight.doubles + gd.bias.doubles, k.doubles + b.doubles) { XCTAssertEqual(g, e, accuracy: 1e-5) }
        XCTAssertEqual(gd.parameterCount, 8)
        XCTAssertEqual(gd.namedParameters().map(\.name), ["weight", "bias"])
    }

    func testRidgeShrinksCoefficientsButNotIntercept() throws {
        let (x, y) = regressionData()
        let plain = try LinearRegression.fitNormalEquations(x, y)
        let ridge = try LinearRegression.fitNormalEquations(x, y, ridge: 1000)
        XCTAssertLessThan(ridge.weight.abs().sum().item(), plain.weight.abs().sum().item() / 2)
        XCTAssertEqual(ridge.bias.item(), y.mean().item(), accuracy: 0.5)
    }

    func testCollinearInputsThrow() {
        let x = Tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
        XCTAssertThrowsError(try LinearRegression.fitNormalEquations(x, Tensor([1.0, 2.0, 3.0])))
    }

    /// Two Gaussian blobs (σ = 1) centred at (−c, −c) and (c, c), labels 0 and 1.
    func blobs(centre c: Double = 1.5) -> (x: Tensor, y: Tensor) {
        let x = inputs(100, 2, seed: 11)
        let labels = (0..<100).map { Double($0 % 2) }
        let shift = Tensor(labels.map { c * (2 * $0 - 1) }, shape: [100, 1])
        return (x + shift, Tensor(labels))
    }

    func testLogisticRegressionSeparatesBlobs() {
        let (x, y) = blobs()
        let model = LogisticRegression(inputs: 2)
        XCTAssertEqual(model.predictProbabilities(x).doubles[0], 0.5)
        let losses = model.fit(x, y, learningRate: 0.5, epochs: 200)
        XCTAssertLessThan(losses.last!, losses.first! / 3)
        XCTAssertGreaterThan(model.accuracy(x, y), 0.95)
        let p = model.predictProbabilities(Tensor([[2.0, 2.0], [-2.0, -2.0]])).doubles
        XCTAssertGreaterThan(p[0], 0.9)
        XCTAssertLessThan(p[1], 0.1)
        XCTAssertEqual(model.predict(Tensor([[2.0, 2.0], [-2.0, -2.0]])).doubles, [1, 0])
    }

    func testBinaryCrossEntropyIsStable() {
        let z = Tensor([-800.0, -1.0, 0.0, 2.0, 800.0]), y = Tensor([0.0, 1.0, 1.0, 0.0, 1.0])
        // Per element: log(1 + e^z) − z·y.
        let expected = [0.0, 1.3132616875182228, 0.6931471805599453, 2.1269280110429727, 0.0]
        XCTAssertEqual(LogisticRegression.binaryCrossEntropy(logits: z, labels: y).item(), expected.reduce(0, +) / 5, accuracy: 1e-12)
    }

    func testPerceptronConvergesOnSeparableData() {
        let (x, y01) = blobs(centre: 3)    // separable: the blobs are 8.5σ apart
        let y = 2 * y01 - 1
        let p = Perceptron(inputs: 2)
        let result = p.fit(x, y, maxEpochs: 100)
        XCTAssertTrue(result.converged, "mistakes per epoch: \(result.mistakesPerEpoch)")
        XCTAssertEqual(result.mistakesPerEpoch.last, 0)
        XCTAssertEqual(p.accuracy(x, y), 1)
        print("perceptron on separable blobs: converged after \(result.epochs) epochs, mistakes \(result.mistakesPerEpoch)")
    }

    func testPerceptronCannotLearnXOR() {
        let x = Tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        let y = Tensor([-1.0, 1.0, 1.0, -1.0])
        let result = Perceptron(inputs: 2).fit(x, y, maxEpochs: 50)
        XCTAssertFalse(result.converged)
        XCTAssertEqual(result.epochs, 50)
    }
}
