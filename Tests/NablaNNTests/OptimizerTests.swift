import XCTest
import NablaCore
@testable import NablaNN
import _NablaTestSupport

/// Optimizer rules against PyTorch, loss decrease for every rule, skipping, state
/// saving, and gradient clipping.
final class OptimizerTests: XCTestCase {
    // The least-squares problem of Scripts/reference_optim.py, in float64:
    // loss(w, b) = mean((X·w + b − y)²) from w₀ = [0.5, −0.3, 0.8], b₀ = [0.1].
    static let X = Tensor([[1.0, 2.0, 0.5], [-1.0, 0.5, 2.0], [0.3, -1.2, 1.0], [2.0, 1.0, -1.0]])
    static let Y = Tensor([1.0, -2.0, 0.5, 3.0])

    static func loss(_ w: Tensor, _ b: Tensor) -> Tensor {
        (X.matmul(w) + b - Y).squared().mean()
    }

    /// [w0, w1, w2, b] after each of five steps, printed by Scripts/reference_optim.py
    /// (PyTorch 2.x, float64).
    static let reference: [String: [[Double]]] = [
        "sgd": [
            [0.96885, -0.11164999999999996, 0.3145, 0.08200000000000002],
            [1.189754225, -0.06269752499999998, 0.05986825000000001, 0.052709500000000006],
            [1.2983349024125, -0.06397952621249997, -0.075695564875, 0.030072548250000004],
            [1.3549670768145061, -0.08063225307068121, -0.1487059802589375, 0.01656911594637501],
            [1.386840460481323, -0.09978310361483832, -0.18831809116170223, 0.010295035558927322],
        ],
        "sgdMomentum": [
            [0.734175, -0.20567499999999997, 0.55685, 0.09095],
            [1.099794268125, -0.06730101812499997, 0.17127651124999993, 0.072155885],
            [1.4968850511187968, 0.06323254898276563, -0.2600788982574063, 0.041898852256437503],
            [1.828996157546221, 0.13857267578910967, -0.6409046765308571, 0.001021123822359731],
            [2.026341767159707, 0.12980228745472197, -0.895978387566001, -0.04538199148828536],
        ],
        "sgdNesterov": [
            [0.9449325000000001, -0.12078249999999997, 0.33801499999999995, 0.08280500000000002],
            [1.3553427588125, 0.008845166187500024, -0.11195660487500006, 0.04823521650000002],
            [1.6378206722494015, 0.050496666974817216, -0.44836774833169696, 0.003822031281981263],
            [1.7668709619595324, 0.008020805760221707, -0.6293335874793614, -0.03692261005643058],
            [1.767362138874592, -0.08768636878021563, -0.6629352374440728, -0.06072053779028421],
        ],
        "sgdMaximize": [
            [0.453115, -0.318835, 0.84855, 0.1018],
            [0.38030804225, -0.34848147525, 0.9236836825, 0.104387095],
            [0.2906852967725875, -0.3857138140487875, 1.015684030314875, 0.10718043595175],
            [0.18790121496844767, -0.42945146038565335, 1.1204988346847367, 0.10982393757691965],
            [0.07307337206129103, -0.4795929093815319, 1.2367176566941676, 0.1120705747523042],
        ],
        "adam": [
            [0.5999999997867121, -0.20000000053092648, 0.7000000002059733, 5.555555265823742e-09],
            [0.6995401799161252, -0.10123953271795859, 0.6005691478930402, -0.09237249835085908],
            [0.7982089358842835, -0.005179794762795162, 0.5022054542098131, -0.1650506615353649],
            [0.8954656586301508, 0.08580780561848032, 0.40547580039999187, -0.21183293536503325],
            [0.9906044055994602, 0.16805525850753156, 0.310996579283005, -0.24054698992959303],
        ],
        "adamAmsgrad": [
            [0.5999999997844131, -0.20000000052260253, 0.7000000002026343, 5.263157631940629e-09],
            [0.6992019919198303, -0.10188081383050977, 0.6009287736705544, -0.08960865944230495],
            [0.7969098651446431, -0.007744727593293671, 0.5035553753357394, -0.15418262261032512],
            [0.8922299651518929, 0.07913437623487628, 0.40869807115973017, -0.19121174954862336],
            [0.9840555848420459, 0.1540603904627877, 0.317193698558581, -0.2127373506912538],
        ],
        "adamW": [
            [0.5949999997867121, -0.19700000053092648, 0.6920000002059733, -0.000999994444444735],
            [0.6885887084923412, -0.0962794313270682, 0.5856751023751006, -0.09056984449269398],
            [0.7803707852135642, 0.0007142781377840884, 0.4815148412036213, -0.1527247066924085],
            [0.8698186278854347, 0.09157827764594174, 0.38004516480378514, -0.18493466043479062],
            [0.9562489378309205, 0.1726098600660255, 0.28181274745941737, -0.20066136367900406],
        ],
        "adamWAmsgrad": [
            [0.5449999893356107, -0.2470000265463092, 0.742000010298659, 0.04900027777623458],
            [0.5894532124503128, -0.19475600409115337, 0.6847046910538497, 0.00012646076770907871],
            [0.6332932288702816, -0.14345398960558808, 0.6282000311042788, -0.0442886483495648],
            [0.6764465492355826, -0.09332686276479152, 0.5725763898158684, -0.08000719122625091],
            [0.7188283913803231, -0.04468169427306151, 0.5179234184125991, -0.10520779947454655],
        ],
        "rmsprop": [
            [0.5999999978671217, -0.20000000530926443, 0.7000000020597323, 5.5555524750006136e-08],
            [0.666750847444922, -0.13758764535216195, 0.633967745775034, -0.04287624874643373],
            [0.7190444908368505, -0.0918890224109441, 0.5821806856914001, -0.07427994517847407],
            [0.7628577659378588, -0.05613368136331688, 0.5387895222480175, -0.09796454566215192],
            [0.8009172512440605, -0.027296010680188165, 0.5010889799974199, -0.11666017879998988],
        ],
        "rmspropCenteredMomentum": [
            [0.5333333330937923, -0.2666666672473362, 0.7666666668918158, 0.06666667251461886],
            [0.5883613528283236, -0.21206093347480104, 0.7116979350517151, 0.013785154789345137],
            [0.6591755381235784, -0.14281308704593768, 0.6410828570076759, -0.04882040877513001],
            [0.7417503229098174, -0.06402582409809283, 0.5589173285572981, -0.11182562236422013],
            [0.8328873864427542, 0.019503978531187734, 0.46841982632100354, -0.1674387937495354],
        ],
        "rmspropMomentum": [
            [0.6999999957342433, -0.10000001061852883, 0.6000000041194645, -0.0999998888889505],
            [0.9237754023198093, 0.10195682411103202, 0.3796405101488438, -0.188850353047152],
            [1.1116371312101685, 0.21800394035666032, 0.19373221867726978, -0.26258624854313356],
            [1.2503350449451247, 0.23501321500419117, 0.056271738832786425, -0.29508807810540827],
            [1.3450039007567847, 0.18251496584327984, -0.036008841591603585, -0.24606739939244626],
        ],
        "adagrad": [
            [0.5999999999978671, -0.20000000000530926, 0.7000000000020598, 5.5555560152242833e-11],
            [0.6665647191783904, -0.13777917954279253, 0.6341550268432233, -0.0427006305069586],
            [0.7185711353039462, -0.0923508915857108, 0.5826548662146509, -0.07391181047554315],
            [0.7620283142206751, -0.0568971467270868, 0.5396188122949441, -0.09740774261346642],
            [0.7996804265312688, -0.028362786183810596, 0.5023245404104405, -0.11592072600193973],
        ],
        "adagradDecay": [
            [0.5988579241316783, -0.20619965337482293, 0.7010109755598598, 0.07405039823881933],
            [0.6582739457679471, -0.15340855416587423, 0.6407340525857845, 0.04644802823946764],
            [0.7011290524810125, -0.11727699531908829, 0.5971507643989761, 0.022644127858239264],
            [0.734523485406366, -0.09040045077468228, 0.5631941119043922, 0.002686684121812978],
            [0.7617258159369281, -0.06943004574783827, 0.5355597679483937, -0.014069936247680055],
        ],
    ]

    /// Runs `make` on the reference problem for five steps and compares with PyTorch.
    func checkAgainstPyTorch(_ name: String, _ make: ([Tensor]) -> Optimizer,
                             file: StaticString = #filePath, line: UInt = #line) {
        let w = Tensor([0.5, -0.3, 0.8]).requiringGrad()
        let b = Tensor([0.1]).requiringGrad()
        let opt = make([w, b])
        let expected = Self.reference[name]!
        for stepIndex in 0..<5 {
            opt.zeroGrad()
            Self.loss(w, b).backward()
            opt.step()
            let got = w.doubles + b.doubles
            for (g, e) in zip(got, expected[stepIndex]) {
                XCTAssertEqual(g, e, accuracy: 1e-12, "\(name) step \(stepIndex + 1): got \(got), PyTorch \(expected[stepIndex])",
                               file: file, line: line)
            }
        }
    }

    func testSGDMatchesPyTorch() {
        checkAgainstPyTorch("sgd") { SGD($0, lr: 0.1) }
        checkAgainstPyTorch("sgdMomentum") { SGD($0, lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) }
        checkAgainstPyTorch("sgdNesterov") { SGD($0, lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true) }
        checkAgainstPyTorch("sgdMaximize") { SGD($0, lr: 0.01, momentum: 0.5, maximize: true) }
    }

    func testAdamMatchesPyTorch() {
        checkAgainstPyTorch("adam") { Adam($0, lr: 0.1) }
        checkAgainstPyTorch("adamAmsgrad") { Adam($0, lr: 0.1, betas: (0.8, 0.99), weightDecay: 0.1, amsgrad: true) }
    }

    func testAdamWMatchesPyTorch() {
        checkAgainstPyTorch("adamW") { AdamW($0, lr: 0.1, weightDecay: 0.1) }
        checkAgainstPyTorch("adamWAmsgrad") { AdamW($0, lr: 0.05, betas: (0.85, 0.95), eps: 1e-6, weightDecay: 0.2, amsgrad: true) }
    }

    func testRMSPropMatchesPyTorch() {
        checkAgainstPyTorch("rmsprop") { RMSProp($0, lr: 0.01) }
        checkAgainstPyTorch("rmspropCenteredMomentum") { RMSProp($0, lr: 0.01, alpha: 0.9, weightDecay: 0.1, momentum: 0.9, centered: true) }
        checkAgainstPyTorch("rmspropMomentum") { RMSProp($0, lr: 0.02, momentum: 0.5) }
    }

    func testAdagradMatchesPyTorch() {
        checkAgainstPyTorch("adagrad") { Adagrad($0, lr: 0.1) }
        checkAgainstPyTorch("adagradDecay") { Adagrad($0, lr: 0.1, lrDecay: 0.1, weightDecay: 0.1, initialAccumulatorValue: 0.5) }
    }

    /// Every rule, in float32, lowers the Rosenbrock function and a regression loss.
    func testEveryRuleLowersLoss() {
        let rules: [(String, ([Tensor]) -> Optimizer)] = [
            ("SGD", { SGD($0, lr: 1e-3) }),
            ("SGD+momentum", { SGD($0, lr: 2e-4, momentum: 0.9) }),
            ("SGD+Nesterov", { SGD($0, lr: 2e-4, momentum: 0.9, nesterov: true) }),
            ("Adam", { Adam($0, lr: 0.02) }),
            ("Adam+amsgrad", { Adam($0, lr: 0.02, amsgrad: true) }),
            ("AdamW", { AdamW($0, lr: 0.02) }),
            ("RMSProp", { RMSProp($0, lr: 0.01) }),
            ("RMSProp centred+momentum", { RMSProp($0, lr: 0.001, momentum: 0.9, centered: true) }),
            ("Adagrad", { Adagrad($0, lr: 0.1) }),
        ]
        for (name, make) in rules {
            // Rosenbrock: f(x, y) = (1 − x)² + 100(y − x²)² from (−1.5, 2); minimum 0 at (1, 1).
            let p = Tensor([Float(-1.5), 2]).requiringGrad()
            let rosenbrock = { (1 - p[0]).squared() + 100 * (p[1] - p[0].squared()).squared() }
            let opt = make([p])
            let start = rosenbrock().item()
            for _ in 0..<300 { opt.zeroGrad(); rosenbrock().backward(); opt.step() }
            XCTAssertLessThan(rosenbrock().item(), start * 0.5, "\(name) on Rosenbrock")

            // Least squares in float32.
            let w = Tensor([Float(0.5), -0.3, 0.8]).requiringGrad(), b = Tensor([Float(0.1)]).requiringGrad()
            let x = Self.X.to(.float32), y = Self.Y.to(.float32)
            let regression = { (x.matmul(w) + b - y).squared().mean() }
            let opt2 = make([w, b])
            let start2 = regression().item()
            for _ in 0..<100 { opt2.zeroGrad(); regression().backward(); opt2.step() }
            XCTAssertLessThan(regression().item(), start2 * 0.9, "\(name) on least squares")
        }
    }

    /// float32 parameters follow the float64 reference closely.
    func testFloat32FollowsFloat64() {
        let w = Tensor([Float(0.5), -0.3, 0.8]).requiringGrad(), b = Tensor([Float(0.1)]).requiringGrad()
        let x = Self.X.to(.float32), y = Self.Y.to(.float32)
        let opt = Adam([w, b], lr: 0.1)
        for _ in 0..<5 { opt.zeroGrad(); (x.matmul(w) + b - y).squared().mean().backward(); opt.step() }
        let expected = Self.reference["adam"]![4]
        for (g, e) in zip(w.doubles + b.doubles, expected) { XCTAssertEqual(g, e, accuracy: 1e-5) }
    }

    /// Updates are in place: every copy of the parameter (e.g. a module's) sees them.
    func testUpdatesInPlace() {
        let w = Tensor([1.0, 2.0]).requiringGrad()
        let copy = w
        let opt = SGD([w], lr: 0.5)
        (w * w).sum().backward()
        opt.step()
        XCTAssertEqual(copy.doubles, [0, 0])
    }

    /// Frozen parameters and parameters without gradients are skipped, and their step
    /// counts do not advance.
    func testSkipsFrozenAndGradientless() {
        let a = Tensor([1.0]).requiringGrad(), b = Tensor([1.0]).requiringGrad(), c = Tensor([1.0]).requiringGrad()
        let opt = Adam([a, b, c], lr: 0.1)
        c.isFrozen = true
        (a * 2 + c * 3).sum().backward()    // b is unused: nil gradient; c is frozen
        opt.step()
        XCTAssertNotEqual(a.doubles, [1.0])
        XCTAssertEqual(b.doubles, [1.0])
        XCTAssertEqual(c.doubles, [1.0])
        XCTAssertEqual(opt.parameterSteps, [1, 0, 0])
        XCTAssertEqual(opt.stateDict().tensors.keys.sorted(), ["state.0.exp_avg", "state.0.exp_avg_sq"])
    }

    /// Saving after three steps and restoring into a fresh optimizer continues exactly.
    func testStateDictRoundTrip() throws {
        for make in [{ (p: [Tensor]) -> Optimizer in Adam(p, lr: 0.1, amsgrad: true) },
                     { SGD($0, lr: 0.05, momentum: 0.9) },
                     { RMSProp($0, lr: 0.01, momentum: 0.5, centered: true) },
                     { Adagrad($0, lr: 0.1, initialAccumulatorValue: 0.1) }] {
            let w = Tensor([0.5, -0.3, 0.8]).requiringGrad(), b = Tensor([0.1]).requiringGrad()
            let opt = make([w, b])
            for _ in 0..<3 { opt.zeroGrad(); Self.loss(w, b).backward(); opt.step() }
            opt.learningRate *= 0.5
            let state = opt.stateDict()
            XCTAssertEqual(state.metadata["state.0.step"], "3")
            let w2 = w.detached().clone().requiringGrad(), b2 = b.detached().clone().requiringGrad()
            let opt2 = make([w2, b2])
            try opt2.load(state)
            XCTAssertEqual(opt2.learningRate, opt.learningRate)
            XCTAssertEqual(opt2.stepCount, 3)
            for _ in 0..<2 {
                opt.zeroGrad(); Self.loss(w, b).backward(); opt.step()
                opt2.zeroGrad(); Self.loss(w2, b2).backward(); opt2.step()
            }
            XCTAssertEqual(w.doubles + b.doubles, w2.doubles + b2.doubles, opt.name)
        }
    }

    /// A state that does not fit throws an error naming every problem.
    func testLoadMismatchThrows() {
        let w = Tensor([0.5, -0.3, 0.8]).requiringGrad(), b = Tensor([0.1]).requiringGrad()
        let adam = Adam([w, b])
        Self.loss(w, b).backward()
        adam.step()
        let state = adam.stateDict()
        XCTAssertThrowsError(try SGD([w, b], lr: 0.1).load(state)) { error in
            XCTAssertTrue("\(error)".contains("the state is for Adam"), "\(error)")
        }
        let other = Adam([Tensor([1.0, 2.0]).requiringGrad(), b])
        XCTAssertThrowsError(try other.load(state)) { error in
            XCTAssertTrue("\(error)".contains("state.0.exp_avg has shape [3], parameter 0 has shape [2]"), "\(error)")
        }
    }

    // MARK: Gradient clipping

    func testClipGradNorm() {
        let a = Tensor([1.0, 1.0]).requiringGrad(), b = Tensor([1.0]).requiringGrad()
        a.grad = Tensor([3.0, 4.0]); b.grad = Tensor([12.0])
        let norm = clipGradNorm([a, b], maxNorm: 6.5)
        XCTAssertEqual(norm, 13, accuracy: 1e-12)
        let c = 6.5 / (13 + 1e-6)
        XCTAssertEqual(a.grad!.doubles[0], 3 * c, accuracy: 1e-12)
        XCTAssertEqual(b.grad!.doubles[0], 12 * c, accuracy: 1e-12)
        // Below the limit nothing changes; the infinity norm is the largest magnitude.
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 100), 6.5, accuracy: 1e-5)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 100, normType: .infinity), 12 * c, accuracy: 1e-12)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 100, normType: 1), 19 * c, accuracy: 1e-12)
    }

    func testClipGradNormDoesNotTouchSharedStorage() {
        // Both gradients come from one `+`: they may share one buffer with each other.
        let a = Tensor([Float(1)]).requiringGrad(), b = Tensor([Float(1)]).requiringGrad()
        (a + b).sum().backward()
        clipGradNorm([a], maxNorm: 0.5)
        XCTAssertEqual(b.grad!.floats[0], 1)
        XCTAssertEqual(a.grad!.floats[0], 0.5, accuracy: 1e-5)
    }

    func testClipGradValue() {
        let a = Tensor([1.0, 1.0, 1.0]).requiringGrad()
        a.grad = Tensor([-3.0, 0.2, 5.0])
        clipGradValue([a], clipValue: 1)
        XCTAssertEqual(a.grad!.doubles, [-1, 0.2, 1])
    }
}
