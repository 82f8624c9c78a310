import NablaCore

/// The outcome of a gradient check: the largest discrepancy found and where.
public struct GradCheckResult: CustomStringConvertible, Sendable {
    /// Largest |analytic − numeric| / max(1, |numeric|) over all inputs and elements.
    public let maxError: Double
    /// Human-readable location of the worst element.
    public let worst: String
    /// Whether the check passed at the tolerance it was run with.
    public let passed: Bool
    /// A one-line summary: passed or failed, the largest error and where it occurred.
    public var description: String { "gradCheck \(passed ? "passed" : "FAILED"): max error \(maxError) at \(worst)" }
}

/// Compares autograd's gradients of `f` at `inputs` with central differences in float64.
///
/// The inputs are converted to float64.
///
/// `f` must return a tensor; a non-scalar output is reduced with a fixed random
/// projection (`sum(f(x) * r)`) so every output element's gradient is exercised.
public func gradCheck(_ inputs: [Tensor], eps: Double = 1e-6, tolerance: Double = 1e-5,
                      _ f: ([Tensor]) -> Tensor) -> GradCheckResult {
    let xs = inputs.map { $0.to(.float64).detached() }
    let probe = f(xs)
    let gen = RandomGenerator(seed: 1234)
    let r = Tensor.randomUniform(probe.shape, low: 0.5, high: 1.5, dtype: .float64, generator: gen)
    func objective(_ args: [Tensor]) -> Tensor { (f(args).to(.float64) * r).sum() }

    // Analytic gradients.
    let leaves = xs.map { $0.requiringGrad() }
    objective(leaves).backward()
    var maxErr = 0.0, worst = "nowhere"
    for (k, x) in xs.enumerated() {
        let analytic = leaves[k].grad ?? Tensor.zeros(like: x)
        for i in 0..<x.count {
            var plus = x, minus = x
            plus.setScalar(x.scalar(at: i) + eps, at: i)
            minus.setScalar(x.scalar(at: i) - eps, at: i)
            var argsP = xs, argsM = xs
            argsP[k] = plus; argsM[k] = minus
            let numeric = withoutGrad { (objective(argsP).item() - objective(argsM).item()) / (2 * eps) }
            let a = analytic.scalar(at: i)
            let err = Swift.abs(a - numeric) / Swift.max(1, Swift.abs(numeric))
            if err > maxErr || err.isNaN {
                maxErr = err.isNaN ? .infinity : err
                worst = "input \(k) element \(i): autograd \(a), central difference \(numeric)"
            }
        }
    }
    return GradCheckResult(maxError: maxErr, worst: worst, passed: maxErr <= tolerance)
}

/// True when every element of `a` is within `atol + rtol·|b|` of `b` (same shape).
public func allClose(_ a: Tensor, _ b: Tensor, rtol: Double = 1e-5, atol: Double = 1e-8) -> Bool {
    guard a.shape == b.shape else { return false }
    for i in 0..<a.count {
        let x = a.scalar(at: i), y = b.scalar(at: i)
        if x.isNaN != y.isNaN { return false }
        if x.isNaN { continue }
        if x == y { continue }
        if Swift.abs(x - y) > atol + rtol * Swift.abs(y) { return false }
    }
    return true
}
