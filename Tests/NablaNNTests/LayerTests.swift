import XCTest
import NablaCore
@testable import NablaNN
import _NablaTestSupport

/// Layers: shapes, initialisation, gradient checks (input and parameters), modes, and
/// the messages for bad input.
final class LayerTests: XCTestCase {
    /// Checks the gradients of `module(input)` w.r.t. the input (gradCheck) and w.r.t. each
    /// parameter (central differences, perturbing the parameter in place).
    func checkLayerGradients(_ module: Module, _ input: Tensor, tolerance: Double = 1e-5, checkInput: Bool = true,
                             file: StaticString = #filePath, line: UInt = #line) {
        if checkInput {
            let r = gradCheck([input]) { xs in module(xs[0]) }
            XCTAssertTrue(r.passed, "\(module.typeName) input: \(r)", file: file, line: line)
        }
        let gen = RandomGenerator(seed: 99)
        let probe = withoutGrad { module(input) }
        let weights = Tensor.randomUniform(probe.shape, low: 0.5, high: 1.5, dtype: .float64, generator: gen)
        func objective() -> Double { withoutGrad { (module(input) * weights).sum().item() } }
        if module.namedParameters().isEmpty { return }
        module.zeroGrad()
        (module(input) * weights).sum().backward()
        for (name, p) in module.namedParameters() {
            let analytic = p.grad!.doubles
            var values = p.detached().doubles
            let eps = 1e-6
            for i in 0..<values.count {
                let v = values[i]
                values[i] = v + eps; p.assignInPlace(Tensor(values, shape: p.shape))
                let plus = objective()
                values[i] = v - eps; p.assignInPlace(Tensor(values, shape: p.shape))
                let minus = objective()
                values[i] = v; p.assignInPlace(Tensor(values, shape: p.shape))
                let numeric = (plus - minus) / (2 * eps)
                XCTAssertEqual(analytic[i], numeric, accuracy: tolerance * max(1, abs(numeric)),
                               "\(module.typeName).\(name)[\(i)]", file: file, line: line)
            }
        }
    }

    func testLinearShapesAndInit() {
        let gen = RandomGenerator(seed: 1)
        let l = Linear(400, 300, generator: gen)
        XCTAssertEqual(l.weight.shape, [300, 400])
        XCTAssertEqual(l.bias!.shape, [300])
        XCTAssertEqual(l.namedParameters().map(\.name), ["weight", "bias"])
        XCTAssertEqual(l.parameterCount, 400 * 300 + 300)
        // PyTorch's default: U(−1/√in, 1/√in) for weight and bias; variance b²/3.
        let b = 1 / 400.0.squareRoot()
        XCTAssertLessThanOrEqual(l.weight.abs().max().item(), b)
        XCTAssertEqual(l.weight.variance().item(), b * b / 3, accuracy: b * b / 3 * 0.02)
        XCTAssertLessThanOrEqual(l.bias!.abs().max().item(), b)
        XCTAssertEqual(l(Tensor.zeros([7, 400])).shape, [7, 300])
        XCTAssertEqual(l(Tensor.zeros([2, 3, 400])).shape, [2, 3, 300])
        XCTAssertEqual(l(Tensor.zeros([400])).shape, [300])
        XCTAssertNil(Linear(3, 2, bias: false).bias)
        XCTAssertEqual(Linear(3, 2, bias: false).parameterCount, 6)
        XCTAssertEqual(Linear(5, 2).description, "Linear(5 => 2)  # 12 parameters")
    }

    func testLinearValuesAndGradients() {
        let l = Linear(weight: Tensor([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]]), bias: Tensor([0.1, 0.2, 0.3]))
        let y = l(Tensor([[1.0, -1.0]]))
        XCTAssertEqual(y.shape, [1, 3])
        XCTAssertEqual(y.doubles[0], -0.9, accuracy: 1e-12)
        XCTAssertEqual(y.doubles[1], -1.3, accuracy: 1e-12)
        XCTAssertEqual(y.doubles[2], -2.7, accuracy: 1e-12)
        let gen = RandomGenerator(seed: 2)
        checkLayerGradients(Linear(4, 3, dtype: .float64, generator: gen),
                            Tensor.randomNormal([2, 5, 4], dtype: .float64, generator: gen))
        checkLayerGradients(Linear(4, 3, bias: false, dtype: .float64, generator: gen),
                            Tensor.randomNormal([4], dtype: .float64, generator: gen))
    }

    func testMaxout() {
        let gen = RandomGenerator(seed: 3)
        let m = Maxout(4, 3, pieces: 2, dtype: .float64, generator: gen)
        XCTAssertEqual(m.weight.shape, [6, 4])
        XCTAssertEqual(m.parameterCount, 30)
        let x = Tensor.randomNormal([5, 4], dtype: .float64, generator: gen)
        let y = m(x)
        XCTAssertEqual(y.shape, [5, 3])
        // Unit j is the max of rows 2j and 2j + 1 of the affine map.
        let z = (x.matmul(m.weight.T) + m.bias).doubles
        for s in 0..<5 {
            for j in 0..<3 {
                XCTAssertEqual(y[s, j], max(z[s * 6 + 2 * j], z[s * 6 + 2 * j + 1]), accuracy: 1e-12)
            }
        }
        checkLayerGradients(m, x)
    }

    func testDropout() {
        let d = Dropout(0.25, generator: RandomGenerator(seed: 7))
        let x = Tensor.ones([100, 100], dtype: .float64)
        let y = d(x)
        let vals = y.doubles
        XCTAssertTrue(vals.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-12 })
        let dropped = Double(vals.filter { $0 == 0 }.count) / Double(vals.count)
        XCTAssertEqual(dropped, 0.25, accuracy: 0.02)
        XCTAssertEqual(y.mean().item(), 1, accuracy: 0.03)
        // Same seed, same mask.
        XCTAssertEqual(Dropout(0.25, generator: RandomGenerator(seed: 7))(x).doubles, vals)
        // Evaluation mode: identity. p = 0: identity; p = 1: zeros.
        d.eval()
        XCTAssertEqual(d(x).doubles, x.doubles)
        XCTAssertEqual(Dropout(0)(x).doubles, x.doubles)
        XCTAssertEqual(Dropout(1)(x).sum().item(), 0)
        // The gradient is the mask.
        let d2 = Dropout(0.5, generator: RandomGenerator(seed: 8))
        let xi = Tensor.ones([50], dtype: .float64).requiringGrad()
        let out = d2(xi)
        out.sum().backward()
        XCTAssertEqual(xi.grad!.doubles, out.doubles)
    }

    func testFlattenAndReshape() {
        let x = Tensor.zeros([2, 3, 4, 5])
        XCTAssertEqual(Flatten()(x).shape, [2, 60])
        XCTAssertEqual(Flatten(startAxis: 0)(x).shape, [120])
        XCTAssertEqual(Flatten(startAxis: 2)(x).shape, [2, 3, 20])
        XCTAssertEqual(Reshape([12, 5])(x).shape, [2, 12, 5])
        XCTAssertEqual(Reshape([-1, 10])(x).shape, [2, 6, 10])
        XCTAssertNotNil(Reshape([7, 5]).validateInput(x))
        XCTAssertNotNil(Flatten(startAxis: 1).validateInput(Tensor.zeros([3])))
        let gen = RandomGenerator(seed: 4)
        checkLayerGradients(Sequential { Reshape([2, 3]); Flatten() }, Tensor.randomNormal([2, 6], dtype: .float64, generator: gen))
    }

    func testEmbedding() {
        let gen = RandomGenerator(seed: 5)
        let e = Embedding(10, 4, dtype: .float64, generator: gen)
        XCTAssertEqual(e.weight.shape, [10, 4])
        let idx = Tensor([[1.0, 3.0, 1.0], [0.0, 9.0, 1.0]])
        let y = e(idx)
        XCTAssertEqual(y.shape, [2, 3, 4])
        XCTAssertEqual(y[1, 1, 2], e.weight[9, 2])
        y.sum().backward()
        let g = e.weight.grad!
        // Row 1 was used three times, rows 0, 3 and 9 once, others never.
        XCTAssertEqual(g[1, 0], 3); XCTAssertEqual(g[0, 0], 1); XCTAssertEqual(g[9, 3], 1); XCTAssertEqual(g[5, 0], 0)
        XCTAssertNil(e.validateInput(idx))
        XCTAssertEqual(e.validateInput(Tensor([2.0, 10.0])),
                       "Embedding: index 10.0 at position 1 of the input (shape [2]) is not an integer in 0..<10")
        XCTAssertNotNil(e.validateInput(Tensor([1.5])))
        checkLayerGradients(e, idx, checkInput: false)   // indices have no gradient
    }

    /// The message for a bad input names the layer (by dotted path inside a model), the
    /// expected and the actual shape.
    func testBadInputMessages() {
        let l = Linear(5, 3)
        XCTAssertNil(l.validateInput(Tensor.zeros([2, 5])))
        XCTAssertEqual(l.validateInput(Tensor.zeros([2, 4])),
                       "Linear: expected input of shape [..., 5], got shape [2, 4]")
        let model = Sequential { Linear(5, 10); ReLU(); Linear(10, 3) }
        let second = model.layers[2] as! Linear
        XCTAssertEqual(second.validateInput(Tensor.zeros([1, 5])),
                       "'layers.2' (Linear): expected input of shape [..., 10], got shape [1, 5]")
        XCTAssertEqual(Maxout(3, 2, pieces: 2).validateInput(Tensor.zeros([])),
                       "Maxout: expected input of shape [..., 3], got shape []")
    }
}
