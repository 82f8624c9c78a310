// Fitting the line y = 0.5·x + 4 by gradient descent, starting from w = 2, b = 2.
//
// The loss is the mean squared error L(w, b) = 1/N Σ (w·xᵢ + b − yᵢ)², and each step is
// (w, b) ← (w, b) − s·∇L(w, b), with ∇L from autograd and the update done by `SGD`.
//
//     swift run LineFit
import Nabla

/// One row of the trajectory: the step, the parameters after it, and the loss before it.
struct LineFitStep {
    let step: Int
    let w: Double
    let b: Double
    let loss: Double
}

/// Fits y = 0.5·x + 4 on 21 points x ∈ [−2, 2] by full-batch gradient descent from
/// (w, b) = (2, 2) and returns the trajectory.
func fitLine(steps: Int = 60, learningRate: Double = 0.2) -> [LineFitStep] {
    let x = Tensor.linspace(-2, 2, count: 21, dtype: .float64)
    let y = 0.5 * x + 4
    let w = Tensor([2.0]).requiringGrad()
    let b = Tensor([2.0]).requiringGrad()
    let optimizer = SGD([w, b], lr: learningRate)
    var trajectory: [LineFitStep] = []
    for step in 1...steps {
        optimizer.zeroGrad()
        let loss = (w * x + b - y).squared().mean()
        let lossValue = loss.item()
        loss.backward()
        optimizer.step()
        trajectory.append(LineFitStep(step: step, w: w.item(), b: b.item(), loss: lossValue))
    }
    return trajectory
}

/// Formats a number with `digits` decimals (no Foundation needed).
func fixed(_ v: Double, _ digits: Int = 4) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (Swift.abs(v) * scale).rounded()
    let whole = Int(r / scale), frac = Int(r.truncatingRemainder(dividingBy: scale))
    let f = String(frac)
    return (v < 0 && r != 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - f.count) + f
}

let trajectory = fitLine()
print("step      w        b        loss")
for t in trajectory where t.step <= 10 || t.step % 10 == 0 {
    print("\(t.step)".padding(toLength: 6) + "  " + fixed(t.w) + "   " + fixed(t.b) + "   " + fixed(t.loss, 6))
}
let last = trajectory.last!
print("final w = \(fixed(last.w)), b = \(fixed(last.b))")

extension String {
    /// Pads with spaces on the right to `length` characters.
    func padding(toLength length: Int) -> String { self + String(repeating: " ", count: Swift.max(0, length - count)) }
}
