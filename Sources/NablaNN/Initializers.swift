import NablaCore

/// Weight initialisers, as `torch.nn.init`, each returning a fresh random tensor.
///
/// The tensors are drawn from a ``NablaCore/RandomGenerator`` (default the global one).
/// Assign one to a layer with
/// `layer.weight.assignInPlace(Initializers.xavierUniform(layer.weight.shape))`.
///
/// Fans follow PyTorch: for a shape `[out, in, k…]` fanIn = in·∏k, fanOut = out·∏k.
/// The same seed always gives the same tensor, but not the same numbers as PyTorch
/// (the generators differ).
public enum Initializers {
    /// The nonlinearity a gain is computed for (PyTorch's `calculate_gain`).
    public enum Nonlinearity: Sendable, Equatable {
        /// Gain 1 (also for conv layers and sigmoid).
        case linear
        /// Gain 1.
        case sigmoid
        /// Gain 5/3.
        case tanh
        /// Gain √2.
        case relu
        /// Gain √(2 / (1 + slope²)).
        case leakyReLU(negativeSlope: Double)
        /// Gain 3/4 (as PyTorch, for self-normalising networks).
        case selu
    }

    /// Which fan Kaiming initialisation preserves the variance of.
    public enum FanMode: Sendable {
        /// Preserve the variance in the forward pass (default).
        case fanIn
        /// Preserve the variance in the backward pass.
        case fanOut
    }

    /// The recommended gain for a nonlinearity (PyTorch's `calculate_gain`).
    public static func gain(_ nonlinearity: Nonlinearity) -> Double {
        switch nonlinearity {
        case .linear, .sigmoid: return 1
        case .tanh: return 5.0 / 3
        case .relu: return 2.0.squareRoot()
        case .leakyReLU(let s): return (2 / (1 + s * s)).squareRoot()
        case .selu: return 0.75
        }
    }

    /// (fanIn, fanOut) of a weight shape (rank ≥ 2; a vector has fanIn = fanOut = count).
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        nablaCheck(shape.count >= 1, "Initializers.fans: a scalar has no fan")
        if shape.count == 1 { return (shape[0], shape[0]) }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// All zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor { Tensor.zeros(shape, dtype: dtype) }

    /// Every element `value`.
    public static func constant(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        Tensor.full(shape, value, dtype: dtype)
    }

    /// Uniform in `[low, high)`.
    public static func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
                               generator: RandomGenerator = .global) -> Tensor {
        Tensor.randomUniform(shape, low: low, high: high, dtype: dtype, generator: generator)
    }

    /// Normal with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32,
                              generator: RandomGenerator = .global) -> Tensor {
        Tensor.randomNormal(shape, mean: mean, std: std, dtype: dtype, generator: generator)
    }

    /// Xavier/Glorot uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                     generator: RandomGenerator = .global) -> Tensor {
        let (i, o) = fans(shape)
        let b = gain * (6 / Double(i + o)).squareRoot()
        return uniform(shape, low: -b, high: b, dtype: dtype, generator: generator)
    }

    /// Xavier/Glorot normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)).
    public static func xavierNormal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                    generator: RandomGenerator = .global) -> Tensor {
        let (i, o) = fans(shape)
        return normal(shape, std: gain * (2 / Double(i + o)).squareRoot(), dtype: dtype, generator: generator)
    }

    static func kaimingStd(_ shape: [Int], _ mode: FanMode, _ nonlinearity: Nonlinearity) -> Double {
        let (i, o) = fans(shape)
        let fan = mode == .fanIn ? i : o
        nablaCheck(fan > 0, "Kaiming initialisation: shape \(shape) has a zero fan")
        return gain(nonlinearity) / Double(fan).squareRoot()
    }

    /// Kaiming/He uniform: U(−b, b) with b = gain·√(3 / fan).
    ///
    /// PyTorch's defaults: fan-in, leaky ReLU with slope 0, i.e. gain √2. PyTorch's
    /// `nn.Linear` default is this with `.leakyReLU(negativeSlope: √5)`, which gives
    /// b = 1/√fanIn.
    public static func kaimingUniform(_ shape: [Int], mode: FanMode = .fanIn,
                                      nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0),
                                      dtype: DType = .float32, generator: RandomGenerator = .global) -> Tensor {
        let b = 3.0.squareRoot() * kaimingStd(shape, mode, nonlinearity)
        return uniform(shape, low: -b, high: b, dtype: dtype, generator: generator)
    }

    /// Kaiming/He normal: N(0, σ²) with σ = gain/√fan.
    public static func kaimingNormal(_ shape: [Int], mode: FanMode = .fanIn,
                                     nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0),
                                     dtype: DType = .float32, generator: RandomGenerator = .global) -> Tensor {
        normal(shape, std: kaimingStd(shape, mode, nonlinearity), dtype: dtype, generator: generator)
    }

    /// A (semi-)orthogonal matrix times `gain` (Saxe et al.), as `nn.init.orthogonal_`.
    ///
    /// The shape is viewed as `[shape[0], rest]`; rows are orthonormal when rows ≤ columns,
    /// columns otherwise. Made by Gram–Schmidt (applied twice, for accuracy) on a normal
    /// matrix, which gives the Q of a QR factorisation with positive diagonal in R (the
    /// sign convention PyTorch enforces).
    public static func orthogonal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                  generator: RandomGenerator = .global) -> Tensor {
        nablaCheck(shape.count >= 2, "Initializers.orthogonal: needs at least 2 dimensions, got shape \(shape)")
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
        // Work on a tall matrix m × n (m ≥ n), column by column.
        let m = max(rows, cols), n = min(rows, cols)
        var a = (0..<(m * n)).map { _ in generator.nextNormal() }   // row-major m × n
        nablaCheck(orthonormalizeColumns(&a, rows: m, columns: n), "Initializers.orthogonal: degenerate random draw")
        var q = Tensor(a.map { $0 * gain }, shape: [m, n])
        if rows < cols { q = q.T }
        return q.reshaped(shape).to(dtype)
    }

    /// Makes the columns of the row-major `rows × columns` matrix `a` orthonormal, in place,
    /// by Gram–Schmidt applied twice (for accuracy). False when a column is a combination of
    /// the ones before it; the columns from it on are then left unfinished.
    package static func orthonormalizeColumns(_ a: inout [Double], rows m: Int, columns n: Int) -> Bool {
        for j in 0..<n {
            for _ in 0..<2 {
                for k in 0..<j {
                    var dot = 0.0
                    for i in 0..<m { dot += a[i * n + k] * a[i * n + j] }
                    for i in 0..<m { a[i * n + j] -= dot * a[i * n + k] }
                }
            }
            var norm = 0.0
            for i in 0..<m { norm += a[i * n + j] * a[i * n + j] }
            norm = norm.squareRoot()
            guard norm > 0 else { return false }
            for i in 0..<m { a[i * n + j] /= norm }
        }
        return true
    }
}
