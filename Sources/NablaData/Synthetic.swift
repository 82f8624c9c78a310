import NablaCore

/// Seeded synthetic data sets from the lecture notes.
///
/// Every generator takes a seed and returns the same data for the same arguments on every
/// run.
public enum Synthetic {
    /// Linear data `y = K·x + b + noise` with `x ~ U(−1, 1)^n`.
    ///
    /// Returns the data set and the true K (`[m, n]`) and b (`[m]`), which are drawn from
    /// N(0, 1).
    public static func linear(count: Int = 200, inputs n: Int = 1, outputs m: Int = 1, noise: Double = 0.1,
                              seed: UInt64 = 0) -> (data: TensorDataset, K: Tensor, b: Tensor) {
        let g = RandomGenerator(seed: seed)
        let K = Tensor.randomNormal([m, n], dtype: .float64, generator: g)
        let b = Tensor.randomNormal([m], dtype: .float64, generator: g)
        let x = Tensor.randomUniform([count, n], low: -1, high: 1, dtype: .float64, generator: g)
        let y = x.matmul(K.T) + b + Tensor.randomNormal([count, m], std: noise, dtype: .float64, generator: g)
        return (TensorDataset(inputs: x.to(.float32), targets: (m == 1 ? y.reshaped([count]) : y).to(.float32), name: "linear"), K, b)
    }

    /// XOR: points near the four corners of the unit square, labelled by x₁ XOR x₂.
    public static func xor(count: Int = 200, noise: Double = 0.1, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let a = g.nextInt(below: 2), b = g.nextInt(below: 2)
            xs.append(Float(Double(a) + noise * g.nextNormal()))
            xs.append(Float(Double(b) + noise * g.nextNormal()))
            ys.append(Float(a ^ b))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "xor", classCount: 2)
    }

    /// The n-bit parity problem: all 2ⁿ bit patterns, labelled 1 when they have an odd number of ones.
    ///
    /// The bits are given as ±1 inputs.
    public static func parity(bits: Int = 4) -> TensorDataset {
        nablaCheck(bits >= 1 && bits <= 20, "parity: bits must be in 1...20, got \(bits)")
        let n = 1 << bits
        var xs: [Float] = [], ys: [Float] = []
        for v in 0..<n {
            for k in 0..<bits { xs.append((v >> k) & 1 == 1 ? 1 : -1) }
            ys.append(Float(v.nonzeroBitCount % 2))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [n, bits]), targets: Tensor(ys), name: "parity", classCount: 2)
    }

    /// The ring: points uniform in the square [−3, 3]², class 1 when 1 ≤ ‖x‖ ≤ 2.
    public static func ring(count: Int = 400, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let a = 6 * g.nextDouble() - 3, b = 6 * g.nextDouble() - 3
            let r = (a * a + b * b).squareRoot()
            xs += [Float(a), Float(b)]
            ys.append(r >= 1 && r <= 2 ? 1 : 0)
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "ring", classCount: 2)
    }

    /// Two classes in three Gaussian modes, so that no single line separates them.
    ///
    /// Class 1 is a Gaussian at the origin, class 0 two Gaussians on either side of it.
    public static func threeModes(count: Int = 300, spread: Double = 0.5, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        let centres: [(Double, Double, Float)] = [(-3, 0, 0), (0, 0, 1), (3, 0, 0)]
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<count {
            let (cx, cy, label) = centres[i % 3]
            xs += [Float(cx + spread * g.nextNormal()), Float(cy + spread * g.nextNormal())]
            ys.append(label)
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "three-modes", classCount: 2)
    }

    /// Two interleaved spirals (classes 0 and 1).
    public static func twoSpirals(count: Int = 400, noise: Double = 0.1, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<count {
            let c = i % 2
            let t = 0.25 + 3.5 * Double.pi * g.nextDouble() / 1.0
            let r = t / (3.5 * .pi) * 3
            let sign = c == 0 ? 1.0 : -1.0
            xs.append(Float(sign * r * _cos(t) + noise * g.nextNormal()))
            xs.append(Float(sign * r * _sin(t) + noise * g.nextNormal()))
            ys.append(Float(c))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "spirals", classCount: 2)
    }

    /// Two interleaved half-moons (classes 0 and 1).
    public static func twoMoons(count: Int = 400, noise: Double = 0.1, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for i in 0..<count {
            let c = i % 2
            let t = Double.pi * g.nextDouble()
            let (a, b) = c == 0 ? (_cos(t), _sin(t)) : (1 - _cos(t), 0.5 - _sin(t))
            xs += [Float(a + noise * g.nextNormal()), Float(b + noise * g.nextNormal())]
            ys.append(Float(c))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 2]), targets: Tensor(ys), name: "moons", classCount: 2)
    }

    /// The breakpoints of ``piecewiseLinear(count:noise:seed:)``'s curve.
    public static let piecewiseKnots: [(Double, Double)] = [(-3, 0), (-1, 2), (0, 0.5), (1.5, 1.5), (3, -1)]

    /// Evaluates the piecewise-linear curve through ``piecewiseKnots``.
    public static func piecewiseCurve(_ x: Double) -> Double {
        let k = piecewiseKnots
        if x <= k[0].0 { return k[0].1 }
        for i in 1..<k.count where x <= k[i].0 {
            let (x0, y0) = k[i - 1], (x1, y1) = k[i]
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        }
        return k[k.count - 1].1
    }

    /// Samples of a piecewise-linear curve on [−3, 3] (regression).
    public static func piecewiseLinear(count: Int = 200, noise: Double = 0, seed: UInt64 = 0) -> TensorDataset {
        regression1D(count: count, noise: noise, seed: seed, name: "piecewise", piecewiseCurve)
    }

    /// Samples of sin(x) on [−π, π] (regression).
    public static func sine(count: Int = 200, noise: Double = 0, seed: UInt64 = 0) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let x = Double.pi * (2 * g.nextDouble() - 1)
            xs.append(Float(x)); ys.append(Float(_sin(x) + noise * g.nextNormal()))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 1]), targets: Tensor(ys), name: "sine")
    }

    static func regression1D(count: Int, noise: Double, seed: UInt64, name: String, _ f: (Double) -> Double) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let x = 6 * g.nextDouble() - 3
            xs.append(Float(x)); ys.append(Float(f(x) + noise * g.nextNormal()))
        }
        return TensorDataset(inputs: Tensor(xs, shape: [count, 1]), targets: Tensor(ys), name: name)
    }

    /// The names accepted by ``named(_:seed:)``.
    public static let names = ["linear", "xor", "parity", "ring", "three-modes", "spirals", "moons", "piecewise", "sine"]

    /// A synthetic data set by name (as the CLI's `--data` takes it), or nil.
    public static func named(_ name: String, seed: UInt64 = 0) -> TensorDataset? {
        switch name {
        case "linear": return linear(count: 500, inputs: 3, outputs: 1, seed: seed).data
        case "xor": return xor(count: 400, seed: seed)
        case "parity": return parity(bits: 8)   // 256 patterns: a test split of about 51, not 3
        case "ring": return ring(count: 1000, seed: seed)
        case "three-modes": return threeModes(count: 600, seed: seed)
        case "spirals": return twoSpirals(count: 1000, seed: seed)
        case "moons": return twoMoons(count: 1000, seed: seed)
        case "piecewise": return piecewiseLinear(count: 500, seed: seed)
        case "sine": return sine(count: 500, seed: seed)
        default: return nil
        }
    }
}

// Platform-independent sin/cos are not needed for determinism here beyond libm's
// correctly rounded results on the platforms we run; use Foundation-free wrappers.
@inline(__always) func _sin(_ x: Double) -> Double { Double.sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Double.cos(x) }
