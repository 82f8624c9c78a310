import Foundation
import NablaCore

/// How a loss combines its per-element (or per-sample) values, as PyTorch's `reduction`.
public enum Reduction: String, Sendable, CaseIterable {
    /// The mean over all elements (PyTorch's default).
    case mean
    /// The sum over all elements.
    case sum
    /// No reduction: one value per element (per sample for the cross-entropies).
    case none

    /// Applies the reduction to unreduced losses.
    public func apply(_ losses: Tensor) -> Tensor {
        switch self {
        case .mean: return losses.mean()
        case .sum: return losses.sum()
        case .none: return losses
        }
    }
}

/// Loss functions, each taking the prediction first and the target second.
///
/// As in PyTorch's `torch.nn.functional`, each takes a ``Reduction`` (default `.mean`).
///
/// Predictions and targets must have the same shape unless noted; targets never receive
/// gradients (they are detached). Every loss is built from differentiable NablaCore
/// primitives and gradient-checked against PyTorch (Scripts/reference_nn.py).
public enum Loss {
    static func checkSameShape(_ p: Tensor, _ t: Tensor, _ op: String) {
        nablaCheck(p.shape == t.shape, "\(op): prediction of shape \(p.shape) and target of shape \(t.shape) differ")
    }

    // MARK: Regression

    /// Mean squared error (a − t)², as `F.mse_loss`.
    public static func mse(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        checkSameShape(prediction, target, "mse")
        switch reduction {
        // One fused op for the reduced forms (PyTorch's mse_loss is one op too).
        case .mean: return prediction.squaredErrorSum(target.to(prediction.dtype), scale: 1 / Double(Swift.max(prediction.count, 1)))
        case .sum: return prediction.squaredErrorSum(target.to(prediction.dtype))
        case .none: return (prediction - target.detached()).squared()
        }
    }

    /// Mean absolute error |a − t|, as `F.l1_loss` (subgradient 0 where a = t).
    public static func l1(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        checkSameShape(prediction, target, "l1")
        return reduction.apply((prediction - target.detached()).abs())
    }

    /// Huber loss with threshold δ, as `F.huber_loss`.
    ///
    /// It is ½a² where |a| < δ, else δ(|a| − ½δ), with a = prediction − target.
    public static func huber(_ prediction: Tensor, _ target: Tensor, delta: Double = 1,
                             reduction: Reduction = .mean) -> Tensor {
        checkSameShape(prediction, target, "huber")
        nablaCheck(delta > 0, "huber: delta must be positive, got \(delta)")
        let a = prediction - target.detached()
        let abs = a.abs()
        let quadratic = a.squared() * 0.5
        let linear = (abs - 0.5 * delta) * delta
        return reduction.apply(Tensor.where(abs .< delta, quadratic, linear))
    }

    /// Pseudo-Huber loss δ²(√(1 + (a/δ)²) − 1), a smooth Huber (no PyTorch equivalent).
    ///
    /// Its derivative is a / √(1 + (a/δ)²).
    public static func pseudoHuber(_ prediction: Tensor, _ target: Tensor, delta: Double = 1,
                                   reduction: Reduction = .mean) -> Tensor {
        checkSameShape(prediction, target, "pseudoHuber")
        nablaCheck(delta > 0, "pseudoHuber: delta must be positive, got \(delta)")
        let a = (prediction - target.detached()) / delta
        return reduction.apply(((a.squared() + 1).sqrt() - 1) * (delta * delta))
    }

    /// Gaussian negative log-likelihood for a network predicting a mean and a variance.
    ///
    /// As PyTorch's `GaussianNLLLoss`: ½(log max(σ², eps) + (μ − t)²/max(σ², eps)), plus
    /// ½log 2π when `full`. As in PyTorch the clamp to `eps` passes gradients through
    /// unchanged. `variance` must have the shape of `mean`.
    public static func gaussianNLL(mean: Tensor, variance: Tensor, target: Tensor, full: Bool = false,
                                   eps: Double = 1e-6, reduction: Reduction = .mean) -> Tensor {
        checkSameShape(mean, target, "gaussianNLL")
        nablaCheck(variance.shape == mean.shape,
                   "gaussianNLL: variance of shape \(variance.shape) does not match the mean's \(mean.shape)")
        nablaCheck(variance.detached().min().item() >= 0, "gaussianNLL: variance has negative entries")
        // var + (clamp(var) − var) without gradient: clamped values, identity gradient.
        let v = variance + (variance.detached().clamped(min: eps) - variance.detached())
        var l = (v.log() + (mean - target.detached()).squared() / v) * 0.5
        if full { l = l + 0.91893853320467274178 }   // ½·log 2π
        return reduction.apply(l)
    }

    // MARK: Binary classification

    /// PyTorch's clamped log for BCE: log p, but never below −100 (so p = 0 gives 100,
    /// not infinity) and with a finite gradient at p = 0.
    static func clampedLog(_ p: Tensor) -> Tensor {
        let tiny = p.dtype == .float32 ? Double(Float.leastNormalMagnitude) : Double.leastNormalMagnitude
        let safe = Tensor.where(p .> 0, p.clamped(min: tiny).log(), Tensor.full([], -100, dtype: p.dtype))
        return safe.clamped(min: -100)
    }

    /// Binary cross-entropy on probabilities, −[t·log p + (1 − t)·log(1 − p)].
    ///
    /// As `F.binary_cross_entropy`: logs clamped at −100, and PyTorch's gradient
    /// (p − t) / max(p(1 − p), 10⁻¹²), which stays finite and non-zero at p = 0 and 1. Prefer
    /// ``binaryCrossEntropy(logits:_:reduction:)`` for numerical stability.
    public static func binaryCrossEntropy(_ probabilities: Tensor, _ target: Tensor,
                                          reduction: Reduction = .mean) -> Tensor {
        checkSameShape(probabilities, target, "binaryCrossEntropy")
        let t = target.detached(), p = probabilities.detached()
        let l = withoutGrad { -(t * clampedLog(p) + (1 - t) * clampedLog(1 - p)) }
        // PyTorch's rule, not the derivative of the clamped logs: ∂l/∂p = (p − t) / max(p(1 − p), 1e-12).
        // So p = 0 with t = 1 still learns (−1e12) where the clamp would give no gradient,
        // and p = 0 with t = 0 gives 0 where 1/(1 − p) would give 1.
        let elementwise = Tensor.custom(op: "BinaryCrossEntropy", value: l, inputs: [probabilities]) { g in
            [g * (p - t) / (p * (1 - p)).clamped(min: 1e-12)]
        }
        return reduction.apply(elementwise)
    }

    /// Binary cross-entropy on logits z, stable for any z.
    ///
    /// It is max(z, 0) − z·t + log(1 + e^−|z|), as `F.binary_cross_entropy_with_logits`
    /// (no `pos_weight`). Gradient σ(z) − t.
    public static func binaryCrossEntropy(logits: Tensor, _ target: Tensor,
                                          reduction: Reduction = .mean) -> Tensor {
        checkSameShape(logits, target, "binaryCrossEntropy(logits:)")
        return reduction.apply(logits.stableSoftplus() - logits * target.detached())
    }

    /// Hinge loss max(0, 1 − t·y) for targets t = ±1, the loss of a linear SVM.
    ///
    /// The subgradient at the margin (t·y = 1) is 0. PyTorch has no direct equivalent
    /// (`HingeEmbeddingLoss` is different); the reference is `clamp(1 − t·y, min=0)`.
    public static func hinge(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        checkSameShape(prediction, target, "hinge")
        return reduction.apply((1 - prediction * target.detached()).relu())
    }

    // MARK: Multi-class classification

    /// Checks class indices: nil when every index is in `0..<classes`, else a message.
    ///
    /// The message names the first bad index, its position and the valid range.
    public static func validateClassIndices(_ indices: [Int], classes: Int) -> String? {
        for (i, c) in indices.enumerated() where c < 0 || c >= classes {
            return "class index \(c) at position \(i) is out of range 0..<\(classes)"
        }
        return nil
    }

    /// The per-sample view: logits `[N, C]`, or `[C]` for a single sample.
    static func checkClassInput(_ x: Tensor, _ indices: [Int], _ op: String) -> Tensor {
        nablaCheck(x.rank == 1 || x.rank == 2, "\(op): expected input of shape [N, C] or [C], got \(x.shape)")
        let x2 = x.rank == 1 ? x.unsqueezed(axis: 0) : x
        nablaCheck(indices.count == x2.shape[0],
                   "\(op): \(indices.count) class indices for \(x2.shape[0]) samples (input shape \(x.shape))")
        if let message = validateClassIndices(indices, classes: x2.shape[1]) { nablaFail("\(op): \(message)") }
        return x2
    }

    /// A `[N, C]` one-hot matrix, smoothed: (1 − ε)·onehot + ε/C.
    /// Reduces per-sample losses `[N]`, or returns a scalar for a single-sample input.
    static func finish(_ perSample: Tensor, singleSample: Bool, _ reduction: Reduction) -> Tensor {
        if singleSample && reduction == .none { return perSample.reshaped([]) }
        return reduction.apply(perSample)
    }

    /// Negative log-likelihood −log p[class] of log-probabilities `[N, C]` (or `[C]`).
    ///
    /// As `F.nll_loss` (no class weights, no `ignore_index`). Traps on an index outside
    /// `0..<C` (see ``validateClassIndices(_:classes:)``).
    public static func nll(logProbabilities: Tensor, _ classes: [Int], reduction: Reduction = .mean) -> Tensor {
        let x = checkClassInput(logProbabilities, classes, "nll")
        let picked = x.gather(axis: 1, Tensor(classes, shape: [classes.count, 1]))
        return finish(-picked.reshaped([classes.count]), singleSample: logProbabilities.rank == 1, reduction)
    }

    /// Softmax cross-entropy of logits `[N, C]` (or `[C]`) against class indices.
    ///
    /// As `F.cross_entropy`: −log softmax(x)[class], optionally with label smoothing ε
    /// (target (1 − ε)·onehot + ε/C). No class weights, no `ignore_index`. Traps on an
    /// index outside `0..<C`.
    public static func crossEntropy(logits: Tensor, _ classes: [Int], labelSmoothing: Double = 0,
                                    reduction: Reduction = .mean) -> Tensor {
        nablaCheck(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: labelSmoothing must be in [0, 1], got \(labelSmoothing)")
        let x = checkClassInput(logits, classes, "crossEntropy")
        let logp = x.logSoftmax(axis: 1)
        let perSample: Tensor
        if labelSmoothing == 0 {
            perSample = -logp.gather(axis: 1, Tensor(classes, shape: [classes.count, 1])).reshaped([classes.count])
        } else {
            let q = Tensor.oneHot(classes, classes: x.shape[1], smoothing: labelSmoothing, dtype: x.dtype)
            perSample = -(q * logp).sum(axis: 1)
        }
        return finish(perSample, singleSample: logits.rank == 1, reduction)
    }

    /// Softmax cross-entropy of logits against class indices held in a tensor.
    ///
    /// The same as ``crossEntropy(logits:_:labelSmoothing:reduction:)`` with the class
    /// indices in an int64 tensor `[N]` (or a scalar for a single sample), as a
    /// `DataLoader` yields them. Other integer dtypes, and floats holding exact integers,
    /// are accepted. The indices are read in place: no Swift array per batch.
    public static func crossEntropy(logits: Tensor, classIndices: Tensor, labelSmoothing: Double = 0,
                                    reduction: Reduction = .mean) -> Tensor {
        nablaCheck(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: labelSmoothing must be in [0, 1], got \(labelSmoothing)")
        nablaCheck(logits.rank == 1 || logits.rank == 2, "crossEntropy: expected input of shape [N, C] or [C], got \(logits.shape)")
        let x = logits.rank == 1 ? logits.unsqueezed(axis: 0) : logits
        let idx = classIndices.indexTensor(op: "crossEntropy")
        let n = x.shape[0], classes = x.shape[1]
        nablaCheck(idx.count == n, "crossEntropy: \(idx.count) class indices for \(n) samples (input shape \(logits.shape))")
        idx.checkIndexRange(below: classes, op: "crossEntropy", what: "class index")
        if labelSmoothing > 0 {
            return crossEntropy(logits: logits, idx.ints, labelSmoothing: labelSmoothing, reduction: reduction)
        }
        let perSample = -x.logSoftmax(axis: 1).gather(axis: 1, idx.reshaped([n, 1])).reshaped([n])
        return finish(perSample, singleSample: logits.rank == 1, reduction)
    }

    /// Softmax cross-entropy of logits `[N, C]` against probability targets of the same shape.
    ///
    /// It is −Σ_c t_c·log softmax(x)_c, as `F.cross_entropy` with probability targets.
    public static func crossEntropy(logits: Tensor, targetProbabilities: Tensor, labelSmoothing: Double = 0,
                                    reduction: Reduction = .mean) -> Tensor {
        checkSameShape(logits, targetProbabilities, "crossEntropy(targetProbabilities:)")
        nablaCheck(logits.rank >= 1, "crossEntropy: expected input of shape [N, C] or [C], got a scalar")
        var t = targetProbabilities.detached()
        let c = Double(logits.shape[logits.rank - 1])
        if labelSmoothing > 0 { t = t * (1 - labelSmoothing) + labelSmoothing / c }
        return reduction.apply(-(t * logits.logSoftmax(axis: -1)).sum(axis: -1))
    }

    /// Cross-entropy −log p[class] of predicted probabilities `[N, C]` (or `[C]`) against class indices.
    ///
    /// Logs are clamped at −100 as in BCE. Use it for a model that already ends in a
    /// softmax; for logits use ``crossEntropy(logits:_:labelSmoothing:reduction:)``.
    /// No PyTorch equivalent (`nll_loss(log(p))`).
    public static func crossEntropy(probabilities: Tensor, _ classes: [Int], reduction: Reduction = .mean) -> Tensor {
        let x = checkClassInput(probabilities, classes, "crossEntropy(probabilities:)")
        let picked = x.gather(axis: 1, Tensor(classes, shape: [classes.count, 1])).reshaped([classes.count])
        return finish(-clampedLog(picked), singleSample: probabilities.rank == 1, reduction)
    }

    // MARK: Penalties

    /// The L1 penalty Σ|w| over the trainable parameters of `model` (frozen ones excluded).
    ///
    /// Multiply by λ and add to the loss.
    public static func l1Penalty(_ model: Module) -> Tensor {
        penalty(model) { $0.abs().sum() }
    }

    /// The L2 penalty Σw² over the trainable parameters of `model`, **without** a factor ½.
    ///
    /// PyTorch's `weight_decay = λ` in SGD corresponds to adding ½λ·l2Penalty(model).
    public static func l2Penalty(_ model: Module) -> Tensor {
        penalty(model) { $0.squared().sum() }
    }

    // MARK: Latent codes and sparse activations

    /// The KL divergence of N(μ, σ²) from the standard normal, summed over the last axis
    /// (the latent dimensions) and reduced over the examples: a VAE's regulariser.
    ///
    /// Per example, −½ Σⱼ (1 + log σⱼ² − μⱼ² − σⱼ²) (Kingma and Welling 2014, appendix B).
    /// It is ≥ 0, and 0 only when μ = 0 and σ² = 1. `.none` gives one value per example.
    public static func gaussianKL(mean: Tensor, logVariance: Tensor, reduction: Reduction = .mean) -> Tensor {
        checkSameShape(mean, logVariance, "gaussianKL")
        let perDimension = (logVariance + 1.0 - mean.squared() - logVariance.exp()) * -0.5
        return reduction.apply(mean.rank == 0 ? perDimension : perDimension.sum(axis: -1))
    }

    /// The sparse auto-encoder's penalty: the KL divergence of Bernoulli(ρ̂ⱼ) from the target
    /// Bernoulli(ρ), summed over the hidden units j.
    ///
    /// ρ̂ⱼ is unit j's mean activation over the batch (axis 0 of `activations`, `[N, units]`,
    /// values in (0, 1), e.g. after a sigmoid): Σⱼ ρ log(ρ/ρ̂ⱼ) + (1 − ρ) log((1 − ρ)/(1 − ρ̂ⱼ)).
    /// ρ̂ is clamped to [10⁻⁶, 1 − 10⁻⁶] so a dead or saturated unit gives a large finite
    /// penalty (but, clamped, no gradient: the penalty cannot revive such a unit). Multiply by
    /// a weight β and add to the reconstruction loss.
    public static func sparsityKL(_ activations: Tensor, target rho: Double) -> Tensor {
        nablaCheck(rho > 0 && rho < 1, "sparsityKL: the target activation ρ must be in (0, 1), got \(rho)")
        nablaCheck(activations.rank == 2 && activations.shape[0] > 0,
                   "sparsityKL: expected activations [N, units] with N > 0, got \(activations.shape)")
        let rhoHat = activations.mean(axis: 0).clamped(min: 1e-6, max: 1 - 1e-6)
        let constant = rho * Foundation.log(rho) + (1 - rho) * Foundation.log(1 - rho)
        let perUnit = rhoHat.log() * -rho - (rhoHat * -1.0 + 1.0).log() * (1 - rho) + constant
        return perUnit.sum()
    }

    /// The L1 activity penalty: Σ |aᵢⱼ| over the units, averaged over the examples (axis 0).
    ///
    /// The other sparse auto-encoder penalty: it pushes activations to exactly zero.
    public static func activityL1(_ activations: Tensor) -> Tensor {
        nablaCheck(activations.rank >= 1 && activations.shape[0] > 0,
                   "activityL1: expected activations [N, ...] with N > 0, got \(activations.shape)")
        return activations.abs().sum() / Double(activations.shape[0])
    }

    static func penalty(_ model: Module, _ f: (Tensor) -> Tensor) -> Tensor {
        let ps = model.parameters()
        guard var total = ps.first.map(f) else { return Tensor(scalar: 0) }
        for p in ps.dropFirst() { total = total + f(p).to(total.dtype) }
        return total
    }
}
