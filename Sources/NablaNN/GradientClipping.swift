import Foundation
import NablaCore

// Gradient clipping, as PyTorch's `torch.nn.utils.clip_grad_norm_` and
// `clip_grad_value_`. Gradients are replaced by new tensors rather than scaled in place,
// because a gradient's storage may be shared with other tensors of the graph.

/// Scales gradients so their global norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`).
///
/// Returns the global norm before clipping.
///
/// The global norm is the p-norm of all gradient elements together,
/// ‖g‖ = (Σᵢ |gᵢ|ᵖ)^(1/p), or maxᵢ |gᵢ| for p = ∞. When it exceeds `maxNorm` every
/// gradient is multiplied by maxNorm / (‖g‖ + 10⁻⁶), as in PyTorch. Parameters without a
/// gradient or frozen are ignored; with no gradients at all the norm is 0.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Double, normType: Double = 2) -> Double {
    nablaCheck(maxNorm >= 0, "clipGradNorm: maxNorm must be non-negative, got \(maxNorm)")
    nablaCheck(normType > 0, "clipGradNorm: normType must be positive, got \(normType)")
    let grads = parameters.filter { !$0.isFrozen }.compactMap { p in p.grad.map { (p, $0) } }
    var total = 0.0
    for (_, g) in grads {
        let n = g.count
        if g.dtype == .float32 {
            let x = g.elementPointer(Float.self)
            for i in 0..<n {
                let a = Double(Swift.abs(x[i]))
                if normType == .infinity { total = Swift.max(total, a) }
                else if normType == 2 { total += a * a }
                else if normType == 1 { total += a }
                else { total += pow(a, normType) }
            }
        } else {
            let x = g.elementPointer(Double.self)
            for i in 0..<n {
                let a = Swift.abs(x[i])
                if normType == .infinity { total = Swift.max(total, a) }
                else if normType == 2 { total += a * a }
                else if normType == 1 { total += a }
                else { total += pow(a, normType) }
            }
        }
        withExtendedLifetime(g) {}
    }
    let norm: Double
    if normType == .infinity || normType == 1 { norm = total }
    else if normType == 2 { norm = total.squareRoot() }
    else { norm = pow(total, 1 / normType) }
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        withoutGrad {
            for (p, g) in grads { p.grad = g * coefficient }
        }
    }
    return norm
}

/// Clamps every gradient element of `parameters` to [−clipValue, clipValue].
///
/// This is PyTorch's `clip_grad_value_`. Parameters without a gradient or frozen are
/// ignored.
public func clipGradValue(_ parameters: [Tensor], clipValue: Double) {
    nablaCheck(clipValue >= 0, "clipGradValue: clipValue must be non-negative, got \(clipValue)")
    withoutGrad {
        for p in parameters where !p.isFrozen {
            if let g = p.grad { p.grad = g.clamped(min: -clipValue, max: clipValue) }
        }
    }
}
