// Deep versus wide networks at (nearly) equal parameter count, on a function built by
// composition: the sawtooth t∘t∘t with t(x) = 1 − |2x − 1| on [0, 1], which has 8 linear
// pieces. A deep ReLU network can build the teeth by composing folds, a shallow one must
// place every kink with its own unit. Both are trained the same way (Adam, MSE, full
// batch); the result depends on training, which is the point of running it.
//
//     swift run DeepVsWide
import Nabla

/// The triangle map t(x) = 1 − |2x − 1|.
func tent(_ x: Double) -> Double { 1 - Swift.abs(2 * x - 1) }

/// A ReLU network with the given layer widths, float64, seeded.
func relUNetwork(_ widths: [Int], seed: UInt64) -> Sequential {
    let g = RandomGenerator(seed: seed)
    var layers: [Module] = []
    for k in 1..<widths.count {
        layers.append(Linear(widths[k - 1], widths[k], dtype: .float64, generator: g))
        if k < widths.count - 1 { layers.append(ReLU()) }
    }
    return Sequential(layers)
}

/// Trains a network of the given widths on the sawtooth and returns its parameter count
/// and the best root-mean-square error over `restarts` seeds.
func train(_ widths: [Int], steps: Int = 800, restarts: Int = 2) -> (parameters: Int, rms: Double) {
    let n = 129
    let x = Tensor.linspace(0, 1, count: n, dtype: .float64).reshaped([n, 1])
    let y = Tensor(x.doubles.map { tent(tent(tent($0))) }, shape: [n, 1])
    var best = Double.infinity, count = 0
    for seed in 0..<UInt64(restarts) {
        let net = relUNetwork(widths, seed: seed)
        count = net.parameterCount
        let optimizer = Adam(net.parameters(), lr: 0.02)
        let scheduler = LRScheduler(optimizer, CosineAnnealingLR(tMax: steps, etaMin: 1e-4))
        for _ in 0..<steps {
            optimizer.zeroGrad()
            (net(x) - y).squared().mean().backward()
            optimizer.step()
            scheduler.step()
        }
        let rms = withoutGrad { (net(x) - y).squared().mean().sqrt().item() }
        best = Swift.min(best, rms)
    }
    return (count, best)
}

/// Three decimals.
func threeDecimals(_ v: Double) -> String {
    let r = Int((v * 1000).rounded())
    let f = String(r % 1000)
    return "\(r / 1000)." + String(repeating: "0", count: 3 - f.count) + f
}

let deepWidths = [1, 8, 8, 8, 1]          // 16 + 72 + 72 + 9 = 169 parameters
let wideWidths = [1, 56, 1]               // 112 + 57 = 169 parameters
let deep = train(deepWidths)
let wide = train(wideWidths)
print("deep \(deepWidths) (\(deep.parameters) parameters): rms error \(threeDecimals(deep.rms))")
print("wide \(wideWidths) (\(wide.parameters) parameters): rms error \(threeDecimals(wide.rms))")
print("deep error \(threeDecimals(deep.rms)), wide error \(threeDecimals(wide.rms))")
