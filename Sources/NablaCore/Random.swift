import Foundation

/// A seedable pseudo-random number generator (xoshiro256**, seeded through SplitMix64).
///
/// The same seed gives bit-identical streams on every run and platform: integers come
/// from integer arithmetic only, and normal variates use the Marsaglia polar method with
/// a logarithm written here from exactly rounded operations (not the platform's libm).
/// A generator is a reference type so that layers, data loaders and the global default
/// can share one; do not use one generator from two threads at once.
public final class RandomGenerator: @unchecked Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// A generator seeded with `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The process-wide default generator (seed 0 until ``Random/seed(_:)`` is called).
    nonisolated(unsafe) public static var global = RandomGenerator(seed: 0)

    /// The full internal state, for checkpoints (restore by setting it).
    ///
    /// It holds the four xoshiro words, plus two more (a flag and the bits) while a second
    /// normal variate of the polar method is cached, so a restored generator continues exactly.
    public var state: [UInt64] {
        get { spare.map { [s.0, s.1, s.2, s.3, 1, $0.bitPattern] } ?? [s.0, s.1, s.2, s.3] }
        set {
            nablaCheck(newValue.count == 4 || newValue.count == 6,
                       "RandomGenerator.state: expected 4 or 6 words, got \(newValue.count)")
            s = (newValue[0], newValue[1], newValue[2], newValue[3])
            spare = newValue.count == 6 && newValue[4] == 1 ? Double(bitPattern: newValue[5]) : nil
        }
    }

    /// The next 64 random bits.
    public func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 53 random bits.
    public func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in `0..<n` without modulo bias (Lemire's method).
    public func nextInt(below n: Int) -> Int {
        nablaCheck(n > 0, "nextInt(below:): n must be positive, got \(n)")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// A standard normal variate (Marsaglia polar method).
    public func nextNormal() -> Double {
        if let z = spare { spare = nil; return z }
        while true {
            let u = 2 * nextDouble() - 1, v = 2 * nextDouble() - 1
            let q = u * u + v * v
            if q > 0 && q < 1 {
                let f = (-2 * RandomGenerator.portableLog(q) / q).squareRoot()
                spare = v * f
                return u * f
            }
        }
    }
    private var spare: Double?

    /// An index drawn from the softmax of `logits / temperature`, among the `topK` largest
    /// logits when given; temperature 0 takes the largest (the first of equal ones).
    ///
    /// This is how a character model picks its next character (`nabla generate`, the zoo's
    /// recurrent entries). `logits` must not be empty.
    public func sample(logits: [Double], temperature: Double = 1, topK: Int? = nil) -> Int {
        nablaCheck(!logits.isEmpty, "RandomGenerator.sample(logits:): no logits to sample from")
        if temperature == 0 { return logits.indices.max { logits[$0] < logits[$1] }! }
        var order = Array(logits.indices)
        if let k = topK, k < logits.count {
            order.sort { logits[$0] > logits[$1] }
            order = Array(order.prefix(max(k, 1)))
        }
        let top = order.map { logits[$0] }.max()!
        let weights = order.map { Foundation.exp((logits[$0] - top) / temperature) }
        var u = nextDouble() * weights.reduce(0, +)
        for (i, w) in zip(order, weights) {
            u -= w
            if u < 0 { return i }
        }
        return order.last!
    }

    /// A random permutation of `0..<n` (Fisher–Yates).
    public func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(below: i + 1)) }
        return p
    }

    /// Natural log of a positive finite double, using only exactly rounded IEEE
    /// operations so the result is identical on every platform (error < 1e-15 relative).
    static func portableLog(_ x: Double) -> Double {
        // x = m·2^e with m in [√½, √2); log x = e·ln2 + 2·atanh((m−1)/(m+1)).
        var e = Int(x.exponent)
        var m = x.significand   // in [1, 2)
        if m > 1.4142135623730951 { m /= 2; e += 1 }
        let s = (m - 1) / (m + 1), s2 = s * s
        var term = s, sum = s
        var k = 3.0
        for _ in 0..<14 { term *= s2; sum += term / k; k += 2 }
        let ln2Hi = 0.6931471803691238, ln2Lo = 1.9082149292705877e-10
        return Double(e) * ln2Hi + (2 * sum + Double(e) * ln2Lo)
    }
}

/// The global random seed, as `torch.manual_seed`.
public enum Random {
    /// Reseeds the global generator used when no generator is passed.
    public static func seed(_ seed: UInt64) { RandomGenerator.global = RandomGenerator(seed: seed) }
}

extension Tensor {
    /// Uniform samples in `[low, high)`.
    public static func randomUniform(_ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
                                     generator: RandomGenerator = .global) -> Tensor {
        nablaCheck(shape.allSatisfy { $0 >= 0 }, "randomUniform: negative dimension in shape \(shape)")
        nablaCheck(dtype.isFloatingPoint, "randomUniform: dtype must be float32 or float64, got \(dtype); use randomInt for integers")
        var t = Tensor(uninitializedShape: shape, dtype: dtype)
        t.fill { low + (high - low) * generator.nextDouble() }
        return t
    }

    /// Normal samples with the given mean and standard deviation.
    public static func randomNormal(_ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32,
                                    generator: RandomGenerator = .global) -> Tensor {
        nablaCheck(shape.allSatisfy { $0 >= 0 }, "randomNormal: negative dimension in shape \(shape)")
        nablaCheck(dtype.isFloatingPoint, "randomNormal: dtype must be float32 or float64, got \(dtype)")
        var t = Tensor(uninitializedShape: shape, dtype: dtype)
        t.fill { mean + std * generator.nextNormal() }
        return t
    }

    /// Bernoulli samples: 1 with probability `p`, else 0.
    public static func randomBernoulli(_ shape: [Int], p: Double, dtype: DType = .float32,
                                       generator: RandomGenerator = .global) -> Tensor {
        nablaCheck(p >= 0 && p <= 1, "randomBernoulli: probability \(p) is outside [0, 1]")
        var t = Tensor(uninitializedShape: shape, dtype: dtype)
        t.fill { generator.nextDouble() < p ? 1 : 0 }
        return t
    }

    /// Overwrites every element with successive values of `f` (row-major order).
    mutating func fill(_ f: () -> Double) {
        makeUnique()
        switch dtype {
        case .float32:
            let p = pointer(Float.self)
            for i in 0..<count { p[i] = Float(f()) }
        case .float64:
            let p = pointer(Double.self)
            for i in 0..<count { p[i] = f() }
        default:
            for i in 0..<count { write(f(), at: i) }
        }
    }

    /// Integers drawn uniformly from `low ..< high` (as `torch.randint`; int64 by default).
    public static func randomInt(low: Int = 0, high: Int, shape: [Int], dtype: DType = .int64,
                                 generator: RandomGenerator = .global) -> Tensor {
        nablaCheck(high > low, "randomInt: high \(high) must be greater than low \(low)")
        nablaCheck(shape.allSatisfy { $0 >= 0 }, "randomInt: negative dimension in shape \(shape)")
        let t = Tensor(uninitializedShape: shape, dtype: .int64)
        let p = t.pointer(Int64.self)
        for i in 0..<t.count { p[i] = Int64(low + generator.nextInt(below: high - low)) }
        return t.to(dtype)
    }
}
