// Approximating a piecewise-linear curve with a sum of sigmoids and with a sum of ReLUs.
//
// Both models are g(x) = c + Σᵢ aᵢ·φ(wᵢ·x + bᵢ), a network with one hidden layer of
// `units` neurons, trained by Adam on the mean squared error. With φ = ReLU the sum is
// itself piecewise linear, so four units (one per linear piece) reproduce the curve
// exactly, as the construction g(x) = f(x₀) + s₀·relu(x − x₀) + Σₖ (sₖ − sₖ₋₁)·relu(x − xₖ)
// shows; with φ = σ each unit is a smooth step, and the corners can only be approached.
//
//     swift run CurveFitting
import Nabla

/// The corners of the target curve f on [−3, 3].
let corners: [(x: Double, y: Double)] = [(-3, 0), (-1, 2), (0, 1), (1.5, 2.5), (3, 0)]

/// f(x) by linear interpolation between the corners.
func target(_ x: Double) -> Double {
    for k in 1..<corners.count where x <= corners[k].x {
        let (x0, y0) = corners[k - 1], (x1, y1) = corners[k]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
    return corners.last!.y
}

/// The exact sum-of-ReLUs representation on x ≥ x₀, with one unit per linear piece:
/// f(x₀) + s₀·relu(x − x₀) + Σₖ (sₖ − sₖ₋₁)·relu(x − xₖ), sₖ the slope of piece k.
func exactReLUSum(_ x: Tensor) -> Tensor {
    var slopes: [Double] = []
    for k in 1..<corners.count { slopes.append((corners[k].y - corners[k - 1].y) / (corners[k].x - corners[k - 1].x)) }
    var g = corners[0].y + slopes[0] * (x - corners[0].x).relu()
    for k in 1..<slopes.count { g = g + (slopes[k] - slopes[k - 1]) * (x - corners[k].x).relu() }
    return g
}

/// Trains c + Σ aᵢ·φ(wᵢx + bᵢ) with `units` hidden units on the curve and returns the
/// root-mean-square and maximum errors on the training grid.
func fitSum(activation: Module, units: Int = 12, steps: Int = 2000, seed: UInt64 = 3) -> (rms: Double, max: Double) {
    let n = 121
    let x = Tensor.linspace(-3, 3, count: n, dtype: .float64).reshaped([n, 1])
    let y = Tensor(x.doubles.map(target), shape: [n, 1])
    let g = RandomGenerator(seed: seed)
    let net = Sequential([Linear(1, units, dtype: .float64, generator: g), activation, Linear(units, 1, dtype: .float64, generator: g)])
    let optimizer = Adam(net.parameters(), lr: 0.02)
    let scheduler = LRScheduler(optimizer, CosineAnnealingLR(tMax: steps, etaMin: 0.001))
    for _ in 0..<steps {
        optimizer.zeroGrad()
        (net(x) - y).squared().mean().backward()
        optimizer.step()
        scheduler.step()
    }
    return withoutGrad {
        let e = net(x) - y
        return (e.squared().mean().sqrt().item(), e.abs().max().item())
    }
}

/// Three decimals.
func threeDecimals(_ v: Double) -> String {
    let r = Int((v * 1000).rounded())
    let f = String(r % 1000)
    return "\(r / 1000)." + String(repeating: "0", count: 3 - f.count) + f
}

let grid = Tensor.linspace(-3, 3, count: 121, dtype: .float64)
let exactError = (exactReLUSum(grid) - Tensor(grid.doubles.map(target))).abs().max().item()
print("exact sum of \(corners.count - 1) ReLUs (by construction): max error \(threeDecimals(exactError))")
let sigmoid = fitSum(activation: Sigmoid())
print("sum of 12 sigmoids (trained): rms error \(threeDecimals(sigmoid.rms)), max error \(threeDecimals(sigmoid.max))")
let relu = fitSum(activation: ReLU())
print("sum of 12 ReLUs (trained): rms error \(threeDecimals(relu.rms)), max error \(threeDecimals(relu.max))")
print("sigmoid error \(threeDecimals(sigmoid.rms)), relu error \(threeDecimals(relu.rms))")
