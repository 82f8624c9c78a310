import NablaCore

// Activation functions as `Tensor` methods, built from NablaCore primitives. The core
// already provides `relu()`, `tanh()` and `sigmoid()`; everything else is here. Layer
// wrappers (`ReLU()`, `ELU(alpha:)`, …) live in Layer+Activation.swift.
//
// Derivative conventions (documented on each function):
// - At a kink the subgradient PyTorch uses is taken: ReLU'(0) = 0, LeakyReLU'(0) = α,
//   ELU'(0) = α, hard tanh / hard sigmoid / the piecewise-linear unit pass the gradient
//   only strictly inside their linear region.
// - Step-like functions (binary step, Heaviside, sign) have zero gradient everywhere; their
//   result stays in the graph (with a zero gradient) so they compose inside a network.

/// The approximation used by `Tensor.gelu(approximation:)`.
public enum GELUApproximation: String, Sendable {
    /// The exact form x·Φ(x) with the error function.
    case none
    /// The tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    case tanh
}

extension Tensor {
    /// A constant `value` that stays attached to the graph of `self` with a zero gradient.
    func withZeroGradient(_ value: Tensor) -> Tensor {
        // `where` never blends the unselected side, so the result is exactly `value`, and
        // the gradient reaching `self` is g·0 = 0.
        Tensor.where(Tensor.zeros(like: value), self, value)
    }

    /// The identity function (derivative 1); returns `self`.
    public func identity() -> Tensor { self }

    /// Binary step: 1 where x ≥ 0, else 0.
    ///
    /// The gradient is zero everywhere (the discontinuity at 0 is ignored). See
    /// ``heaviside(valueAtZero:)`` for ½ at 0.
    public func binaryStep() -> Tensor {
        withZeroGradient((self .>= 0).to(dtype))
    }

    /// The Heaviside step: 0 for x < 0, `valueAtZero` (default ½) at 0, 1 for x > 0.
    ///
    /// This is `torch.heaviside(x, valueAtZero)`. Zero gradient everywhere; PyTorch's
    /// heaviside is not differentiable at all.
    public func heaviside(valueAtZero: Double = 0.5) -> Tensor {
        withZeroGradient((self .> 0).to(dtype) + (self .== 0).to(dtype) * valueAtZero)
    }

    /// Sign as an activation: −1, 0 or 1, with a zero gradient.
    ///
    /// The zero gradient keeps the result in the graph (NablaCore's `sign()` returns a
    /// detached constant).
    public func signActivation() -> Tensor {
        withZeroGradient(self.detached().sign())
    }

    /// Hard tanh: clamps to `[minValue, maxValue]` (default [−1, 1]).
    ///
    /// The gradient is 1 strictly inside the interval and 0 outside and on its ends
    /// (PyTorch's convention).
    public func hardTanh(minValue: Double = -1, maxValue: Double = 1) -> Tensor {
        nablaCheck(minValue < maxValue, "hardTanh: minValue \(minValue) must be below maxValue \(maxValue)")
        let inside = (self .> minValue) * (self .< maxValue)
        return Tensor.where(inside, self, self.detached().clamped(min: minValue, max: maxValue))
    }

    /// ReLU6: min(max(0, x), 6); gradient 1 strictly inside (0, 6), as PyTorch.
    public func relu6() -> Tensor { hardTanh(minValue: 0, maxValue: 6) }

    /// Hard sigmoid as PyTorch defines it: relu6(x + 3) / 6.
    ///
    /// That is 0 below −3, 1 above 3 and x/6 + ½ between. Gradient 1/6 strictly inside
    /// (−3, 3), else 0. (Other libraries use slope 0.2; Nabla follows PyTorch.)
    public func hardSigmoid() -> Tensor { (self + 3).relu6() / 6 }

    /// Hard swish: x · hardSigmoid(x) (PyTorch's `hardswish`, away from its kinks at ±3).
    public func hardSwish() -> Tensor { self * hardSigmoid() }

    /// The piecewise-linear unit: 0 below −½, x + ½ between −½ and ½, 1 above ½.
    ///
    /// Gradient 1 strictly inside (−½, ½), else 0. (No PyTorch equivalent; it equals
    /// `clamp(x + 0.5, 0, 1)` with a strict-interior gradient.)
    public func piecewiseLinear() -> Tensor { (self + 0.5).hardTanh(minValue: 0, maxValue: 1) }

    /// Leaky ReLU: x for x > 0, `negativeSlope`·x otherwise (default 0.01, as PyTorch).
    ///
    /// The derivative at 0 is `negativeSlope` (PyTorch's convention).
    public func leakyReLU(negativeSlope: Double = 0.01) -> Tensor {
        Tensor.where(self .> 0, self, self * negativeSlope)
    }

    /// Exponential linear unit: x for x > 0, α(eˣ − 1) otherwise (default α = 1).
    ///
    /// The derivative at 0 is α, as in PyTorch. Never overflows: the exponential only sees
    /// non-positive inputs.
    public func elu(alpha: Double = 1) -> Tensor {
        Tensor.where(self .> 0, self, (self.clamped(max: 0).exp() - 1) * alpha)
    }

    /// The scale λ of SELU (Klambauer et al., as in PyTorch).
    public static let seluScale = 1.0507009873554804934193349852946
    /// The α of SELU (Klambauer et al., as in PyTorch).
    public static let seluAlpha = 1.6732632423543772848170429916717

    /// Scaled exponential linear unit: λ·ELU(x, α) with self-normalising constants.
    ///
    /// The constants are ``seluScale`` (λ) and ``seluAlpha`` (α).
    public func selu() -> Tensor { elu(alpha: Tensor.seluAlpha) * Tensor.seluScale }

    /// Gaussian error linear unit x·Φ(x), as PyTorch's `gelu(x, approximate:)`.
    ///
    /// It uses the exact erf form (default) or the tanh approximation.
    public func gelu(approximation: GELUApproximation = .none) -> Tensor {
        switch approximation {
        case .none:
            return geluErf()
        case .tanh:
            let k = (2 / Double.pi).squareRoot()
            let inner = (self + self.pow(3) * 0.044715) * k
            return self * (inner.tanh() + 1) * 0.5
        }
    }

    /// Softplus (1/β)·log(1 + e^(βx)), reverting to the identity where βx > `threshold`.
    ///
    /// PyTorch's semantics; defaults β = 1, threshold = 20. Computed stably as
    /// max(z, 0) + log(1 + e^(−|z|)) with z = βx, so it never overflows; the derivative is
    /// the logistic sigmoid σ(βx) (exactly ½ at 0).
    public func softplus(beta: Double = 1, threshold: Double = 20) -> Tensor {
        nablaCheck(beta > 0, "softplus: beta must be positive, got \(beta)")
        let z = beta == 1 ? self : self * beta
        let smooth = z.stableSoftplus()
        let s = beta == 1 ? smooth : smooth / beta
        return Tensor.where(z .> threshold, self, s)
    }

    /// log(1 + eˣ) without a threshold, stable for any x.
    func stableSoftplus() -> Tensor {
        let e = (-self.abs()).exp()
        // log(1 + e) loses e entirely once 1 + e rounds to 1; there log(1 + e) = e to
        // working precision (NablaCore has no log1p).
        let cutoff = dtype == .float32 ? 16.0 : 36.0
        let tail = Tensor.where(self.abs() .> cutoff, e, (e + 1).log())
        return Tensor.maximum(self, Tensor.zeros(like: self)) + tail
    }

    /// SiLU / swish: x·σ(x).
    public func silu() -> Tensor { self * sigmoid() }

    /// Swish with a slope: x·σ(βx) (β = 1 is ``silu()``).
    public func swish(beta: Double = 1) -> Tensor { beta == 1 ? silu() : self * (self * beta).sigmoid() }

    /// Mish: x·tanh(softplus(x)).
    public func mish() -> Tensor { self * softplus().tanh() }

    /// Softmax over `axis` (default the last), computed stably.
    ///
    /// It is e^(x − max) / Σ e^(x − max), so it is finite and exact for large inputs
    /// (softmax([1000, 1001]) = [0.269, 0.731]).
    public func softmax(axis: Int = -1) -> Tensor {
        let m = detached().max(axis: axis, keepDims: true)
        let e = (self - m).exp()
        return e / e.sum(axis: axis, keepDims: true)
    }

    /// Log-softmax over `axis` (default the last): x − logΣexp(x), computed stably.
    ///
    /// It is computed as (x − m) − log Σ exp(x − m) with m the maximum, so the small
    /// differences survive in float32 even for large logits (for [1000, 1001, −1000] the
    /// middle entry is −0.31326, not x − (m + …), which would lose three digits).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let shifted = self - stableShift(axes: [axis])
        return shifted - shifted.exp().sum(axis: axis, keepDims: true).log()
    }
}
