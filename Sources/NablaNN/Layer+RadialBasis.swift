import Foundation
import NablaCore

/// A layer of Gaussian radial basis units: φₖ(x) = exp(−‖x − cₖ‖² / (2σₖ²)).
///
/// Each of the `units` units has a learnable centre cₖ (a row of ``centres``, `[units, in]`)
/// and a learnable width σₖ, stored as its logarithm (``logWidths``, `[units]`) so it stays
/// positive. The input is `[N, in]` (or `[in]` for one example); the output `[N, units]`.
/// A radial basis network (the notes' RBF) is this layer followed by a ``Linear`` read-out.
///
/// The classic recipe places the centres by k-means on the training inputs and sets each
/// width from its cluster's spread: ``initialize(from:generator:)``. Without it the centres
/// start standard normal and the widths at 1. PyTorch has no such layer; the state-dict
/// names are `centres` and `logWidths`.
public final class RBF: Module, @unchecked Sendable, InputValidating {
    /// The centres cₖ, shape `[units, in]`.
    public let centres: Tensor
    /// log σₖ, shape `[units]`.
    public let logWidths: Tensor
    /// Input features.
    public let inputFeatures: Int
    /// Number of radial basis units.
    public let units: Int

    /// `units` Gaussian units on `inputFeatures` inputs: centres N(0, 1), widths 1.
    public init(_ inputFeatures: Int, _ units: Int, dtype: DType = .float32, generator: RandomGenerator = .global) {
        nablaCheck(inputFeatures > 0 && units > 0, "RBF: feature and unit counts must be positive, got \(inputFeatures) => \(units)")
        self.inputFeatures = inputFeatures
        self.units = units
        centres = Tensor.randomNormal([units, inputFeatures], dtype: dtype, generator: generator).requiringGrad()
        logWidths = Tensor.zeros([units], dtype: dtype).requiringGrad()
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(inputFeatures) => \(units)" }

    /// Nil, or a message when the input's last dimension is not `inputFeatures`.
    public func validateInput(_ input: Tensor) -> String? { lastDimensionError(input, inputFeatures) }

    /// The widths σₖ (no graph).
    public var widths: [Double] { logWidths.detached().exp().doubles }

    /// φ(x), `[N, units]`.
    ///
    /// ‖x − c‖² is expanded as ‖x‖² − 2x·c + ‖c‖² (one matrix product rather than an
    /// `[N, units, in]` difference) and clamped at 0 against rounding.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        let x = input.rank == 1 ? input.reshaped([1, inputFeatures]) : input
        nablaCheck(x.rank == 2, "RBF: expected inputs [N, \(inputFeatures)], got \(input.shape)")
        let xc = x.to(centres.dtype)
        let d2 = (xc.squared().sum(axis: 1, keepDims: true) - xc.matmul(centres.T) * 2.0
                  + centres.squared().sum(axis: 1)).clamped(min: 0)
        let inverseTwoVariance = (logWidths * -2.0).exp() * 0.5
        let phi = (d2 * inverseTwoVariance * -1.0).exp()
        return input.rank == 1 ? phi.reshaped([units]) : phi
    }

    /// The classic initialisation: centres by k-means on `data` (`[N, in]`), and each width
    /// the root-mean-square distance of its cluster's points to the centre.
    ///
    /// A cluster of one point takes the distance to the nearest other centre instead, so no
    /// width is zero. Returns the k-means result.
    @discardableResult
    public func initialize(from data: Tensor, iterations: Int = 100, generator: RandomGenerator = .global) -> KMeans.Result {
        nablaCheck(data.rank == 2 && data.shape[1] == inputFeatures,
                   "RBF.initialize(from:): expected data [N, \(inputFeatures)], got \(data.shape)")
        nablaCheck(data.shape[0] >= units, "RBF.initialize(from:): \(data.shape[0]) points cannot place \(units) centres")
        let result = KMeans.fit(data, clusters: units, iterations: iterations, generator: generator)
        let x = data.doubles, c = result.centres.doubles, d = inputFeatures
        var sum = [Double](repeating: 0, count: units), count = [Int](repeating: 0, count: units)
        for (i, k) in result.assignments.enumerated() {
            var s = 0.0
            for j in 0..<d { let t = x[i * d + j] - c[k * d + j]; s += t * t }
            sum[k] += s; count[k] += 1
        }
        var widths = [Double](repeating: 1, count: units)
        for k in 0..<units {
            let rms = count[k] > 1 ? (sum[k] / Double(count[k])).squareRoot() : 0
            if rms > 1e-12 { widths[k] = rms; continue }
            var nearest = Double.infinity
            for o in 0..<units where o != k {
                var s = 0.0
                for j in 0..<d { let t = c[o * d + j] - c[k * d + j]; s += t * t }
                nearest = min(nearest, s.squareRoot())
            }
            widths[k] = nearest.isFinite && nearest > 1e-12 ? nearest : 1
        }
        centres.assignInPlace(result.centres)
        logWidths.assignInPlace(Tensor(widths.map { Foundation.log($0) }))
        return result
    }
}

/// k-means clustering (Lloyd's algorithm with k-means++ seeding), for placing RBF centres.
public enum KMeans {
    /// The outcome of ``fit(_:clusters:iterations:generator:)``.
    public struct Result: Sendable {
        /// The centres, `[clusters, features]`, float64.
        public let centres: Tensor
        /// The cluster of each point.
        public let assignments: [Int]
        /// The sum of squared distances of the points to their centres.
        public let inertia: Double
        /// Lloyd iterations run (fewer than asked when the assignments stopped changing).
        public let iterations: Int
    }

    /// Clusters the rows of `points` (`[N, features]`) into `clusters` groups.
    ///
    /// Seeding is k-means++ (each new centre drawn with probability proportional to its
    /// squared distance from the nearest chosen one); then mean and assignment steps alternate
    /// until no point changes cluster or `iterations` mean steps have run, so the returned
    /// assignments are always those of the returned centres. An emptied cluster is re-seeded
    /// at the point farthest from its centre.
    public static func fit(_ points: Tensor, clusters k: Int, iterations: Int = 100,
                           generator: RandomGenerator = .global) -> Result {
        nablaCheck(points.rank == 2, "KMeans.fit: expected points [N, features], got \(points.shape)")
        let n = points.shape[0], d = points.shape[1]
        nablaCheck(k > 0 && k <= n, "KMeans.fit: cannot make \(k) clusters of \(n) points")
        nablaCheck(iterations >= 1, "KMeans.fit: iterations must be at least 1, got \(iterations)")
        let x = points.doubles
        func dist2(_ i: Int, _ c: [Double], _ j: Int) -> Double {
            var s = 0.0
            for f in 0..<d { let t = x[i * d + f] - c[j * d + f]; s += t * t }
            return s
        }
        // k-means++ seeding.
        var c = [Double](repeating: 0, count: k * d)
        let first = generator.nextInt(below: n)
        for f in 0..<d { c[f] = x[first * d + f] }
        var nearest = (0..<n).map { dist2($0, c, 0) }
        for j in 1..<max(k, 1) {
            let total = nearest.reduce(0, +)
            var pick = n - 1
            if total > 0 {
                var r = generator.nextDouble() * total
                for i in 0..<n { r -= nearest[i]; if r <= 0 { pick = i; break } }
            } else {
                pick = generator.nextInt(below: n)
            }
            for f in 0..<d { c[j * d + f] = x[pick * d + f] }
            for i in 0..<n { nearest[i] = min(nearest[i], dist2(i, c, j)) }
        }
        var assign = [Int](repeating: 0, count: n)
        func assignAll() -> Bool {
            var changed = false
            for i in 0..<n {
                var best = 0, bestD = Double.infinity
                for j in 0..<k { let dd = dist2(i, c, j); if dd < bestD { bestD = dd; best = j } }
                if assign[i] != best { assign[i] = best; changed = true }
            }
            return changed
        }
        _ = assignAll()
        var run = 0
        while run < iterations {
            run += 1
            // The mean step, from the current assignment; an emptied cluster is re-seeded at
            // the point farthest from its (old) centre.
            var sum = [Double](repeating: 0, count: k * d), count = [Int](repeating: 0, count: k)
            for i in 0..<n {
                count[assign[i]] += 1
                for f in 0..<d { sum[assign[i] * d + f] += x[i * d + f] }
            }
            var next = c
            for j in 0..<k {
                if count[j] == 0 {
                    let far = (0..<n).max { dist2($0, c, assign[$0]) < dist2($1, c, assign[$1]) }!
                    for f in 0..<d { next[j * d + f] = x[far * d + f] }
                } else {
                    for f in 0..<d { next[j * d + f] = sum[j * d + f] / Double(count[j]) }
                }
            }
            c = next
            // The assignment step: the assignments always belong to the returned centres.
            if !assignAll() { break }
        }
        let inertia = (0..<n).reduce(0.0) { $0 + dist2($1, c, assign[$1]) }
        return Result(centres: Tensor(c, shape: [k, d]), assignments: assign, inertia: inertia, iterations: run)
    }
}
extension RBF: UnaryLayer {}
