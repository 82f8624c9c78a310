import Foundation
import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// The architecture chart's extra pieces: the RBF layer and k-means, Gaussian noise, the
/// Gaussian output head, the reparameterisation, and the VAE and sparsity penalties.
///
/// Gradients are checked against central differences in float64; the KL terms and the
/// Gaussian head against PyTorch (`Scripts/reference_zoo.py`, `Fixtures/zoo_reference.json`).
final class ChartLayerTests: XCTestCase {
    struct Stored: Decodable { let shape: [Int]; let data: [Double] }
    struct Case: Decodable { let config: [String: AttentionReferenceTests.JSONValue]; let tensors: [String: Stored] }
    struct File: Decodable { let cases: [String: Case] }

    static let cases: [String: Case] = {
        guard let url = Bundle.module.url(forResource: "zoo_reference", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [:] }
        return file.cases
    }()

    func reference(_ name: String) throws -> Case {
        guard let c = Self.cases[name] else { throw XCTSkip("fixture case \(name) missing") }
        return c
    }
    func tensor(_ c: Case, _ name: String) -> Tensor { Tensor(c.tensors[name]!.data, shape: c.tensors[name]!.shape) }
    func assertClose(_ a: Tensor?, _ c: Case, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let a else { return XCTFail("\(name): no value", file: file, line: line) }
        let ref = tensor(c, name)
        XCTAssertEqual(a.shape, ref.shape, "\(name): shape", file: file, line: line)
        guard a.shape == ref.shape else { return }
        XCTAssertTrue(allClose(a, ref, rtol: 1e-9, atol: 1e-10), "\(name) differs from PyTorch by \((a - ref).abs().max().item())", file: file, line: line)
    }

    func testFixtureIsPresent() {
        XCTAssertEqual(Self.cases.count, 6, "zoo_reference.json should hold 6 cases")
    }

    // MARK: PyTorch references

    func testGaussianKLMatchesPyTorch() throws {
        for (name, reduction) in [("gaussian_kl", Reduction.mean), ("gaussian_kl_sum", .sum)] {
            let c = try reference(name)
            let mu = tensor(c, "mu").requiringGrad(), lv = tensor(c, "logvar").requiringGrad()
            let kl = Loss.gaussianKL(mean: mu, logVariance: lv, reduction: reduction)
            kl.backward()
            assertClose(kl, c, "value")
            assertClose(mu.grad, c, "grad_mu")
            assertClose(lv.grad, c, "grad_logvar")
        }
    }

    func testSparsityKLMatchesPyTorch() throws {
        for name in ["sparsity_kl", "sparsity_kl_rho02"] {
            let c = try reference(name)
            guard case .number(let rho)? = c.config["rho"] else { return XCTFail("no rho") }
            let a = tensor(c, "activations").requiringGrad()
            let kl = Loss.sparsityKL(a, target: rho)
            kl.backward()
            assertClose(kl, c, "value")
            assertClose(a.grad, c, "grad_activations")
        }
    }

    func testGaussianOutputHeadWithNLLMatchesPyTorch() throws {
        for name in ["gaussian_output", "gaussian_output_full"] {
            let c = try reference(name)
            let full: Bool = { if case .bool(let b)? = c.config["full"] { return b }; return false }()
            let reduction: Reduction = { if case .string(let s)? = c.config["reduction"] { return Reduction(rawValue: s)! }; return .mean }()
            let head = GaussianOutput(3, 2, dtype: .float64)
            var state: [String: Tensor] = [:]
            for (key, _) in head.namedParameters() { state[key] = tensor(c, key) }
            XCTAssertEqual(Set(state.keys), ["mean.weight", "mean.bias", "variance.weight", "variance.bias"])
            try head.loadStateDict(state)
            let h = tensor(c, "h").requiringGrad()
            let (mu, variance) = head(h)
            let loss = Loss.gaussianNLL(mean: mu, variance: variance, target: tensor(c, "target"), full: full, reduction: reduction)
            loss.backward()
            assertClose(mu, c, "mean")
            assertClose(variance, c, "variance")
            assertClose(loss, c, "value")
            assertClose(h.grad, c, "grad_h")
            for (key, p) in head.namedParameters() { assertClose(p.grad, c, "grad_" + key) }
        }
    }

    // MARK: Gradient checks (central differences)

    func testGaussianKLGradientAndSign() {
        let g = RandomGenerator(seed: 3)
        let mu = Tensor.randomNormal([5, 3], dtype: .float64, generator: g), lv = Tensor.randomNormal([5, 3], dtype: .float64, generator: g)
        XCTAssertTrue(gradCheck([mu, lv]) { Loss.gaussianKL(mean: $0[0], logVariance: $0[1]) }.passed)
        XCTAssertGreaterThan(Loss.gaussianKL(mean: mu, logVariance: lv).item(), 0)
        // KL(N(0, 1) ‖ N(0, 1)) = 0.
        XCTAssertEqual(Loss.gaussianKL(mean: Tensor.zeros([4, 2]), logVariance: Tensor.zeros([4, 2])).item(), 0, accuracy: 1e-12)
        // One dimension by hand: μ = 1, σ² = e: −½(1 + 1 − 1 − e) = (e − 1)/2.
        XCTAssertEqual(Loss.gaussianKL(mean: Tensor([1.0], shape: [1, 1]), logVariance: Tensor([1.0], shape: [1, 1])).item(),
                       (M_E - 1) / 2, accuracy: 1e-12)
    }

    func testSparsityPenaltiesGradients() {
        let g = RandomGenerator(seed: 4)
        let a = Tensor.randomUniform([6, 4], low: 0.05, high: 0.9, dtype: .float64, generator: g)
        XCTAssertTrue(gradCheck([a]) { Loss.sparsityKL($0[0], target: 0.1) }.passed)
        let signed = Tensor.randomNormal([5, 3], dtype: .float64, generator: g)
        XCTAssertTrue(gradCheck([signed]) { Loss.activityL1($0[0]) }.passed)
        // Σ|a| / N by hand.
        XCTAssertEqual(Loss.activityL1(Tensor([1, -2, 3, -4.0], shape: [2, 2])).item(), 5, accuracy: 1e-12)
        // At ρ̂ = ρ for every unit the KL is 0.
        XCTAssertEqual(Loss.sparsityKL(Tensor.full([3, 5], 0.2, dtype: .float64), target: 0.2).item(), 0, accuracy: 1e-12)
    }

    func testReparameterizeGradientAndStatistics() {
        let g = RandomGenerator(seed: 5)
        let mu = Tensor.randomNormal([4, 3], dtype: .float64, generator: g), lv = Tensor.randomNormal([4, 3], dtype: .float64, generator: g)
        let eps = Tensor.randomNormal([4, 3], dtype: .float64, generator: g)
        XCTAssertTrue(gradCheck([mu, lv]) { reparameterize(mean: $0[0], logVariance: $0[1], noise: eps) }.passed)
        // z ~ N(μ, σ²): μ = 2, σ² = 0.25 over 20,000 draws.
        let z = reparameterize(mean: Tensor.full([20000], 2, dtype: .float64), logVariance: Tensor.full([20000], Foundation.log(0.25), dtype: .float64),
                               generator: RandomGenerator(seed: 6))
        let m = z.mean().item(), v = (z - m).squared().mean().item()
        XCTAssertEqual(m, 2, accuracy: 0.02)
        XCTAssertEqual(v, 0.25, accuracy: 0.01)
    }

    func testRBFGradientAndValueByHand() {
        let rbf = RBF(2, 3, dtype: .float64, generator: RandomGenerator(seed: 1))
        rbf.logWidths.assignInPlace(Tensor([0.2, -0.3, 0.5]))
        let x = Tensor.randomNormal([4, 2], dtype: .float64, generator: RandomGenerator(seed: 2))
        // The layer's ‖x‖² − 2x·c + ‖c‖² expansion against the differences taken directly.
        let d2 = (x.reshaped([4, 1, 2]) - rbf.centres.detached().reshaped([1, 3, 2])).squared().sum(axis: 2)
        let direct = (d2 * (rbf.logWidths.detached() * -2.0).exp() * -0.5).exp()
        XCTAssertTrue(allClose(rbf(x), direct, rtol: 1e-10, atol: 1e-12))
        // Central differences with respect to the input through the layer.
        let check = gradCheck([x]) { rbf($0[0]) }
        XCTAssertTrue(check.passed, "\(check)")
        // By hand: a point on a centre gives 1; at distance σ it gives e^(−½).
        let one = RBF(1, 1, dtype: .float64)
        one.centres.assignInPlace(Tensor([0.5], shape: [1, 1])); one.logWidths.assignInPlace(Tensor([Foundation.log(2.0)]))
        XCTAssertEqual(one(Tensor([0.5], shape: [1, 1])).item(), 1, accuracy: 1e-12)
        XCTAssertEqual(one(Tensor([2.5], shape: [1, 1])).item(), Foundation.exp(-0.5), accuracy: 1e-12)
    }

    func testRBFParametersGradientCheck() {
        // Central differences on the centres and log-widths through the layer itself.
        let x = Tensor.randomNormal([5, 2], dtype: .float64, generator: RandomGenerator(seed: 8))
        let c0 = Tensor.randomNormal([3, 2], dtype: .float64, generator: RandomGenerator(seed: 9))
        let w0 = Tensor([0.1, -0.2, 0.3], shape: [3])
        func layer(_ c: Tensor, _ w: Tensor) -> Tensor {
            let l = RBF(2, 3, dtype: .float64)
            return withoutGrad { () -> Tensor in l.centres.assignInPlace(c); l.logWidths.assignInPlace(w); return l(x) }
        }
        let l = RBF(2, 3, dtype: .float64)
        l.centres.assignInPlace(c0); l.logWidths.assignInPlace(w0)
        let r = Tensor.linspace(0.5, 1.5, count: 15, dtype: .float64).reshaped([5, 3])
        (l(x) * r).sum().backward()
        let eps = 1e-6
        for (param, analytic, isCentre) in [(c0, l.centres.grad!, true), (w0, l.logWidths.grad!, false)] {
            for i in 0..<param.count {
                var plus = param, minus = param
                plus.setScalar(param.scalar(at: i) + eps, at: i); minus.setScalar(param.scalar(at: i) - eps, at: i)
                let fp = (isCentre ? layer(plus, w0) : layer(c0, plus)) * r, fm = (isCentre ? layer(minus, w0) : layer(c0, minus)) * r
                let numeric = (fp.sum().item() - fm.sum().item()) / (2 * eps)
                XCTAssertEqual(analytic.scalar(at: i), numeric, accuracy: 1e-6, "\(isCentre ? "centre" : "log-width") \(i)")
            }
        }
    }

    func testKMeansFindsSeparatedClusters() {
        // Three tight clusters around known centres.
        let truth: [(Double, Double)] = [(-5, 0), (0, 5), (5, -1)]
        let g = RandomGenerator(seed: 11)
        var xs: [Double] = []
        for i in 0..<300 { let c = truth[i % 3]; xs += [c.0 + 0.2 * g.nextNormal(), c.1 + 0.2 * g.nextNormal()] }
        let result = KMeans.fit(Tensor(xs, shape: [300, 2]), clusters: 3, generator: RandomGenerator(seed: 12))
        let found = result.centres.doubles
        for c in truth {
            let nearest = (0..<3).map { hypot(found[2 * $0] - c.0, found[2 * $0 + 1] - c.1) }.min()!
            XCTAssertLessThan(nearest, 0.1, "no centre found near \(c)")
        }
        // Every cluster holds a third of the points.
        XCTAssertEqual(Set((0..<3).map { k in result.assignments.filter { $0 == k }.count }), [100])
    }

    func testKMeansOnIdenticalPointsAndEmptyClusters() {
        // Five copies of one point and three clusters: the seeding has no distance to go by
        // and two clusters start empty; every point still gets a valid cluster, at distance 0.
        let result = KMeans.fit(Tensor([Double](repeating: 1.5, count: 10), shape: [5, 2]), clusters: 3, generator: RandomGenerator(seed: 21))
        XCTAssertTrue(result.assignments.allSatisfy { (0..<3).contains($0) })
        XCTAssertEqual(result.inertia, 0)
        XCTAssertEqual(result.centres.doubles, [Double](repeating: 1.5, count: 6))
        // Two far groups and three clusters: the assignments belong to the returned centres.
        let g = RandomGenerator(seed: 22)
        let x = Tensor((0..<40).flatMap { i -> [Double] in [Double(i % 2) * 10 + 0.1 * g.nextNormal(), 0.1 * g.nextNormal()] }, shape: [40, 2])
        let r = KMeans.fit(x, clusters: 3, iterations: 1, generator: RandomGenerator(seed: 23))
        let c = r.centres.doubles, xs = x.doubles
        for i in 0..<40 {
            let d = (0..<3).map { hypot(xs[2 * i] - c[2 * $0], xs[2 * i + 1] - c[2 * $0 + 1]) }
            XCTAssertEqual(d[r.assignments[i]], d.min()!, "point \(i) is not assigned to its nearest returned centre")
        }
    }

    func testRBFInitialisationSetsCentresAndWidthsFromClusters() {
        let g = RandomGenerator(seed: 13)
        var xs: [Double] = []
        for i in 0..<400 { let c = i % 2 == 0 ? -3.0 : 3.0; xs += [c + 0.5 * g.nextNormal(), 0.5 * g.nextNormal()] }
        let rbf = RBF(2, 2, dtype: .float64)
        rbf.initialize(from: Tensor(xs, shape: [400, 2]), generator: RandomGenerator(seed: 14))
        let c = rbf.centres.doubles.map { abs($0) }
        XCTAssertEqual(c[0], 3, accuracy: 0.15); XCTAssertEqual(c[2], 3, accuracy: 0.15)
        // The RMS distance of a 2-D N(0, 0.5²) cluster to its centre is 0.5·√2.
        for w in rbf.widths { XCTAssertEqual(w, 0.5 * 2.0.squareRoot(), accuracy: 0.07) }
    }

    func testAnRBFCentreMovesTowardsItsCluster() {
        // One unit, centred away from a cluster at (2, 1); regressing the target 1 on the
        // cluster's points pulls the centre towards them.
        let g = RandomGenerator(seed: 15)
        let x = Tensor((0..<64).flatMap { _ in [Float(2 + 0.3 * g.nextNormal()), Float(1 + 0.3 * g.nextNormal())] }, shape: [64, 2])
        let rbf = RBF(2, 1)
        rbf.centres.assignInPlace(Tensor([0.5, -0.5] as [Float], shape: [1, 2]))
        rbf.logWidths.assignInPlace(Tensor([Float(Foundation.log(1.5))]))
        func distance() -> Double { let c = rbf.centres.doubles; return hypot(c[0] - 2, c[1] - 1) }
        let before = distance(), start = rbf.centres.doubles
        let opt = SGD(rbf.parameters(), lr: 0.5)
        for _ in 0..<50 {
            opt.zeroGrad()
            Loss.mse(rbf(x), Tensor.ones([64, 1])).backward()
            opt.step()
        }
        // Closer, and along the direction to the cluster (cosine of the move with it > 0.95).
        let end = rbf.centres.doubles
        let move = (end[0] - start[0], end[1] - start[1]), towards = (2 - start[0], 1 - start[1])
        let cosine = (move.0 * towards.0 + move.1 * towards.1) / (hypot(move.0, move.1) * hypot(towards.0, towards.1))
        XCTAssertLessThan(distance(), 0.8 * before, "centre moved from distance \(before) to \(distance())")
        XCTAssertGreaterThan(cosine, 0.95)
    }

    func testGaussianNoiseTrainingOnlyAndIdentityGradient() {
        let layer = GaussianNoise(std: 0.5, generator: RandomGenerator(seed: 16))
        let x = Tensor.zeros([20000], dtype: .float64)
        let noisy = layer(x)
        let m = noisy.mean().item(), s = (noisy - m).squared().mean().item().squareRoot()
        XCTAssertEqual(m, 0, accuracy: 0.02)
        XCTAssertEqual(s, 0.5, accuracy: 0.02)
        layer.eval()
        XCTAssertEqual(layer(x).doubles, x.doubles)
        layer.train()
        let xg = Tensor.randomNormal([3, 4], dtype: .float64, generator: RandomGenerator(seed: 17)).requiringGrad()
        let up = Tensor.linspace(-1, 1, count: 12, dtype: .float64).reshaped([3, 4])
        layer(xg).backward(up)
        XCTAssertEqual(xg.grad!.doubles, up.doubles)
    }

    func testGaussianOutputVarianceIsPositiveAndHeadGradientChecks() {
        let head = GaussianOutput(3, 2, dtype: .float64, generator: RandomGenerator(seed: 18))
        let h = Tensor.randomNormal([50, 3], std: 20, dtype: .float64, generator: RandomGenerator(seed: 19))
        XCTAssertGreaterThan(head(h).variance.min().item(), 0)
        let small = Tensor.randomNormal([4, 3], dtype: .float64, generator: RandomGenerator(seed: 20))
        XCTAssertTrue(gradCheck([small]) { head($0[0]).variance }.passed)
        XCTAssertTrue(gradCheck([small]) { head($0[0]).mean }.passed)
    }

    func testRegistryBuildsRBFAndGaussianNoise() throws {
        let spec = ModelSpec(input: [4], layers: [LayerSpec("gaussian_noise", ["std": 0.1]), LayerSpec("rbf", ["units": 5]),
                                                  LayerSpec("linear", ["out": 2])])
        let model = try spec.build(generator: RandomGenerator(seed: 1))
        XCTAssertEqual(model(Tensor.zeros([3, 4])).shape, [3, 2])
        XCTAssertEqual(model.parameterCount, 5 * 4 + 5 + 5 * 2 + 2)
        XCTAssertThrowsError(try ModelSpec(input: [2, 3], layers: [LayerSpec("rbf", ["units": 5])]).build(generator: RandomGenerator(seed: 1))) {
            XCTAssertTrue("\($0)".contains("expects flat features per example"), "\($0)")
        }
        XCTAssertThrowsError(try ModelSpec(input: [4], layers: [LayerSpec("gaussian_noise", ["std": -0.5])]).build(generator: RandomGenerator(seed: 1))) {
            XCTAssertTrue("\($0)".contains("std must be ≥ 0, got -0.5"), "\($0)")
        }
    }
}
