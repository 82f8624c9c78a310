import CNablaKernels
import NablaCore

// Optimizers: SGD (momentum, dampening, Nesterov), Adam/AdamW (amsgrad), RMSProp,
// Adagrad. Every rule follows the update formulas of PyTorch's single-tensor
// implementation (`torch.optim.*`, `foreach=False`) step for step; the reference values
// in Tests/NablaNNTests/OptimizerTests.swift come from Scripts/reference_optim.py.
//
// The element loops run on raw pointers to the parameter, its gradient and the state
// buffers (float32 or float64), so a step allocates nothing after the first one and
// costs a few nanoseconds per parameter tensor plus the arithmetic.

/// The saved state of an optimizer: tensors by name plus a flat map of strings.
///
/// It is shaped so that a safetensors checkpoint can store it.
///
/// Keys follow PyTorch's `optimizer.state_dict()` where it has one: per-parameter
/// buffers are `state.<index>.<buffer>` (for example `state.0.exp_avg`), with `<index>`
/// the parameter's position in the list given to the optimizer; per-parameter step
/// counts are `state.<index>.step` in ``metadata``; hyper-parameters are stored in
/// ``metadata`` under their PyTorch names (`lr`, `momentum`, `betas`, …) and the rule
/// under `optimizer`.
public struct OptimizerState: @unchecked Sendable {
    /// Per-parameter buffers (`state.<index>.<buffer>`), each an independent copy.
    public var tensors: [String: Tensor]
    /// The rule's name, hyper-parameters, and per-parameter step counts, as strings.
    public var metadata: [String: String]

    /// A state from its parts.
    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }
}

/// The error thrown when an ``OptimizerState`` does not fit the optimizer it is loaded into.
///
/// The description lists every mismatch.
public struct OptimizerStateError: Error, CustomStringConvertible, Sendable {
    /// Every problem found, one per line.
    public let problems: [String]
    /// A readable summary naming every problem.
    public var description: String {
        "optimizer state does not match the optimizer:\n  " + problems.joined(separator: "\n  ")
    }
}

/// The base class of optimizers, which apply one update rule to every parameter with a gradient.
///
/// It holds the parameters and their per-parameter state.
///
/// Optimizers work on any list of tensors that require gradients, not only on a
/// module's parameters. Minimising f from x₀ by gradient descent is:
///
/// ```swift
/// let x = Tensor([3.0, -2.0]).requiringGrad()
/// let opt = SGD([x], lr: 0.1)
/// for _ in 0..<100 { opt.zeroGrad(); f(x).backward(); opt.step() }
/// ```
///
/// Parameters are updated in place, so the module (and every other copy of the
/// parameter) sees the new values, as in PyTorch. Frozen parameters and parameters whose
/// gradient is nil are skipped (their step counts do not advance, as in PyTorch).
///
/// Subclasses override ``update(_:parameter:gradient:)`` and name their buffers in
/// ``bufferNames``; the base class allocates the buffers (zeros, in the parameter's dtype)
/// on a parameter's first update and saves and restores them.
///
/// Departures from PyTorch: there is one parameter group (a single learning rate and one
/// set of hyper-parameters for all parameters); ``load(_:)`` restores the learning rate
/// and the per-parameter state but keeps the other hyper-parameters the optimizer was
/// created with.
open class Optimizer {
    /// The parameters being optimised, in the order given.
    public let parameters: [Tensor]
    /// The learning rate used by the next ``step()``; LR schedules set it.
    public var learningRate: Double
    /// The number of times ``step()`` has been called.
    public internal(set) var stepCount = 0

    /// Per-parameter update counts (PyTorch's `state[p]["step"]`).
    public internal(set) var parameterSteps: [Int]
    /// Per-parameter buffers, in the order of ``bufferNames``; empty until the first update.
    var buffers: [[Tensor]]
    /// ``bufferNames``, computed once (the hot loop must not allocate).
    private lazy var slotNames: [String] = bufferNames

    /// Creates an optimizer over `parameters` (each must require gradients; no duplicates).
    public init(_ parameters: [Tensor], learningRate: Double) {
        var seen = Set<ObjectIdentifier>()
        for (i, p) in parameters.enumerated() {
            guard let id = p.parameterID else {
                nablaFail("\(Self.self): parameter \(i) (shape \(p.shape)) does not require gradients; mark it with requiringGrad() or requiresGrad = true")
            }
            nablaCheck(p.isLeaf, "\(Self.self): parameter \(i) (shape \(p.shape)) is not a leaf tensor; optimise the tensor you created, not a result computed from it")
            nablaCheck(seen.insert(id).inserted, "\(Self.self): parameter \(i) (shape \(p.shape)) appears more than once in the parameter list")
        }
        nablaCheck(learningRate >= 0, "\(Self.self): learning rate must be non-negative, got \(learningRate)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.parameterSteps = Array(repeating: 0, count: parameters.count)
        self.buffers = Array(repeating: [], count: parameters.count)
    }

    /// The rule's name, stored in the state (`"SGD"`, `"Adam"`, …).
    open var name: String { String(describing: type(of: self)) }

    /// The names of the per-parameter buffers this rule keeps, in PyTorch's spelling.
    ///
    /// For example `["exp_avg", "exp_avg_sq"]` for Adam. Read once, at the first step: it
    /// must not change afterwards.
    open var bufferNames: [String] { [] }

    /// The hyper-parameters other than the learning rate, for the saved state.
    open var hyperparameters: [String: String] { [:] }

    /// Clears the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.zeroGrad() }
    }

    /// Applies one update to every parameter that has a gradient and is not frozen.
    public func step() {
        stepCount += 1
        let slotCount = slotNames.count
        for i in parameters.indices {
            let p = parameters[i]
            if p.isFrozen { continue }
            guard var g = p.grad else { continue }
            nablaCheck(g.shape == p.shape, "\(name).step: gradient of parameter \(i) has shape \(g.shape) but the parameter has shape \(p.shape)")
            if g.dtype != p.dtype { g = g.to(p.dtype) }
            if buffers[i].count != slotCount {
                buffers[i] = (0..<slotCount).map { _ in Tensor.zeros(like: p.detached()) }
                initializeBuffers(&buffers[i], parameter: p)
            }
            parameterSteps[i] += 1
            update(i, parameter: p, gradient: g)
        }
    }

    /// Sets the initial values of a parameter's freshly allocated (zero) buffers.
    ///
    /// The default leaves them at zero.
    open func initializeBuffers(_ buffers: inout [Tensor], parameter: Tensor) {}

    /// Updates parameter `index` in place from its gradient (same shape and dtype).
    ///
    /// ``parameterSteps``[index] already counts this update.
    open func update(_ index: Int, parameter: Tensor, gradient: Tensor) {
        nablaFail("\(name).update(_:parameter:gradient:) is not implemented")
    }

    // MARK: Saving and restoring

    /// The optimizer's state: per-parameter buffers and step counts, learning rate and hyper-parameters.
    ///
    /// The buffers are copies. See ``OptimizerState`` for the keys.
    public func stateDict() -> OptimizerState {
        var state = OptimizerState()
        state.metadata["optimizer"] = name
        state.metadata["lr"] = "\(learningRate)"
        state.metadata["step_count"] = "\(stepCount)"
        state.metadata["parameter_count"] = "\(parameters.count)"
        for (k, v) in hyperparameters { state.metadata[k] = v }
        let names = bufferNames
        for i in parameters.indices where parameterSteps[i] > 0 {
            state.metadata["state.\(i).step"] = "\(parameterSteps[i])"
            if buffers[i].count == names.count {
                for (k, n) in names.enumerated() {
                    state.tensors["state.\(i).\(n)"] = withoutGrad { buffers[i][k].detached().clone() }
                }
            }
        }
        return state
    }

    /// Restores a state saved by ``stateDict()`` of an optimizer of the same kind.
    ///
    /// The parameters must have the same shapes. Throws, listing every mismatch, without
    /// changing anything if the state does not fit.
    public func load(_ state: OptimizerState) throws {
        var problems: [String] = []
        if let n = state.metadata["optimizer"], n != name {
            problems.append("the state is for \(n), this optimizer is \(name)")
        }
        if let c = state.metadata["parameter_count"], Int(c) != parameters.count {
            problems.append("the state is for \(c) parameters, this optimizer has \(parameters.count)")
        }
        var lr = learningRate
        if let s = state.metadata["lr"] {
            if let v = Double(s) { lr = v } else { problems.append("lr '\(s)' is not a number") }
        }
        var stepCount = 0
        if let s = state.metadata["step_count"] {
            if let v = Int(s) { stepCount = v } else { problems.append("step_count '\(s)' is not an integer") }
        }
        let names = bufferNames
        var newSteps = Array(repeating: 0, count: parameters.count)
        var newBuffers: [[Tensor]] = Array(repeating: [], count: parameters.count)
        for i in parameters.indices {
            if let s = state.metadata["state.\(i).step"] {
                if let v = Int(s), v >= 0 { newSteps[i] = v } else { problems.append("state.\(i).step '\(s)' is not a non-negative integer") }
            }
            var found: [Tensor] = []
            for n in names {
                let key = "state.\(i).\(n)"
                guard let t = state.tensors[key] else { continue }
                if t.shape != parameters[i].shape {
                    problems.append("\(key) has shape \(t.shape), parameter \(i) has shape \(parameters[i].shape)")
                    continue
                }
                found.append(withoutGrad { t.detached().to(parameters[i].dtype).clone() })
            }
            if !found.isEmpty && found.count != names.count {
                problems.append("parameter \(i) has \(found.count) of the buffers \(names.joined(separator: ", "))")
            } else if found.isEmpty && newSteps[i] > 0 && !names.isEmpty {
                problems.append("parameter \(i) has a step count but no buffers (expected \(names.joined(separator: ", ")))")
            }
            newBuffers[i] = found.count == names.count ? found : []
        }
        let known = Set(parameters.indices.flatMap { i in names.map { "state.\(i).\($0)" } })
        for key in state.tensors.keys.sorted() where !known.contains(key) {
            problems.append("unexpected tensor \(key)")
        }
        guard problems.isEmpty else { throw OptimizerStateError(problems: problems) }
        learningRate = lr
        self.stepCount = stepCount
        parameterSteps = newSteps
        buffers = newBuffers
    }
}

// MARK: - Pointer access

/// A scalar type the update loops run on (Float or Double).
protocol OptimizerScalar: BinaryFloatingPoint {}
extension Float: OptimizerScalar {}
extension Double: OptimizerScalar {}

extension Tensor {
    /// The address of this tensor's elements as `T` (Float or Double, matching the
    /// dtype). The storage must be kept alive by the caller while the pointer is used;
    /// every caller here holds the tensor for the duration of the loop.
    @inline(__always)
    func elementPointer<T: OptimizerScalar>(_: T.Type) -> UnsafeMutablePointer<T> {
        if T.self == Float.self {
            return withUnsafeMutableFloats { UnsafeMutableRawPointer($0.baseAddress!) }.assumingMemoryBound(to: T.self)
        } else {
            return withUnsafeMutableDoubles { UnsafeMutableRawPointer($0.baseAddress!) }.assumingMemoryBound(to: T.self)
        }
    }
}

/// Runs `body` specialised for the dtype of `t`.
@inline(__always)
func dispatchScalar(_ t: Tensor, float: () -> Void, double: () -> Void) {
    if t.dtype == .float32 { float() } else { double() }
}

// MARK: - SGD

/// Stochastic gradient descent, exactly as PyTorch's `torch.optim.SGD`.
///
/// Momentum, dampening, Nesterov momentum and L2 weight decay are optional:
///
///     g ← ∇f(θ) + λθ                        (weight decay λ)
///     b ← g on the first step, else b ← μb + (1 − τ)g   (momentum μ, dampening τ)
///     g ← g + μb if Nesterov, else g ← b     (only when μ ≠ 0)
///     θ ← θ − γg                             (learning rate γ; +γg when maximising)
///
/// With the defaults this is plain gradient descent, θ ← θ − γ∇f(θ). Buffer:
/// `momentum_buffer` (only when μ ≠ 0).
public final class SGD: Optimizer {
    /// Momentum factor μ (fixed: it decides whether a momentum buffer exists).
    public let momentum: Double
    /// Dampening τ for momentum.
    public var dampening: Double
    /// L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    /// Whether to maximise the objective instead of minimising it.
    public var maximize: Bool

    /// Creates SGD over `parameters`, with PyTorch's defaults.
    ///
    /// Only the learning rate has no default, as in PyTorch.
    public init(_ parameters: [Tensor], lr: Double, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
        nablaCheck(momentum >= 0, "SGD: momentum must be non-negative, got \(momentum)")
        nablaCheck(weightDecay >= 0, "SGD: weight decay must be non-negative, got \(weightDecay)")
        nablaCheck(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.maximize = maximize
        super.init(parameters, learningRate: lr)
    }

    /// `momentum_buffer` when momentum is used.
    public override var bufferNames: [String] { momentum != 0 ? ["momentum_buffer"] : [] }

    /// The hyper-parameters under PyTorch's names.
    public override var hyperparameters: [String: String] {
        ["momentum": "\(momentum)", "dampening": "\(dampening)", "weight_decay": "\(weightDecay)",
         "nesterov": "\(nesterov)", "maximize": "\(maximize)"]
    }

    /// Applies the SGD rule to one parameter.
    public override func update(_ index: Int, parameter p: Tensor, gradient g: Tensor) {
        dispatchScalar(p, float: { run(Float.self, index, p, g) }, double: { run(Double.self, index, p, g) })
    }

    @inline(__always)
    private func run<T: OptimizerScalar>(_: T.Type, _ index: Int, _ p: Tensor, _ g: Tensor) {
        let n = p.count
        let x = p.elementPointer(T.self), gp = g.elementPointer(T.self)
        let lr = T(learningRate), wd = T(weightDecay), mu = T(momentum), damp = 1 - T(dampening)
        let sign: T = maximize ? -1 : 1
        if momentum == 0 {
            for j in 0..<n {
                let gj = sign * gp[j] + wd * x[j]
                x[j] -= lr * gj
            }
        } else {
            let buf = buffers[index][0]
            let b = buf.elementPointer(T.self)
            let first = parameterSteps[index] == 1
            for j in 0..<n {
                var gj = sign * gp[j] + wd * x[j]
                let bj = first ? gj : mu * b[j] + damp * gj
                b[j] = bj
                gj = nesterov ? gj + mu * bj : bj
                x[j] -= lr * gj
            }
            withExtendedLifetime(buf) {}
        }
        withExtendedLifetime((p, g)) {}
    }
}

// MARK: - Adam and AdamW

/// Adam (Kingma & Ba), optionally with AMSGrad, exactly as PyTorch's `torch.optim.Adam`.
///
/// The update is:
///
///     g ← ∇f(θ) + λθ                   (L2 weight decay λ, coupled)
///     m ← β₁m + (1 − β₁)g
///     v ← β₂v + (1 − β₂)g²
///     v̂ ← max(v̂, v) if AMSGrad, else v̂ = v
///     θ ← θ − γ/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
///
/// where t counts this parameter's updates. Buffers: `exp_avg`, `exp_avg_sq`, and
/// `max_exp_avg_sq` with AMSGrad.
public class Adam: Optimizer {
    /// β₁, β₂: decay rates of the first and second moment estimates.
    public var betas: (Double, Double)
    /// ε added to the denominator.
    public var eps: Double
    /// Weight decay λ (L2 penalty for Adam, decoupled decay for AdamW).
    public var weightDecay: Double
    /// Whether to use the AMSGrad variant.
    public let amsgrad: Bool
    /// Whether weight decay is decoupled from the gradient (AdamW).
    let decoupled: Bool

    /// Adam over `parameters` with PyTorch's defaults.
    public init(_ parameters: [Tensor], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false) {
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupled = false
        super.init(parameters, learningRate: lr)
        Self.check(betas: betas, eps: eps, weightDecay: weightDecay)
    }

    init(decoupled parameters: [Tensor], lr: Double, betas: (Double, Double), eps: Double,
         weightDecay: Double, amsgrad: Bool) {
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupled = true
        super.init(parameters, learningRate: lr)
        Self.check(betas: betas, eps: eps, weightDecay: weightDecay)
    }

    static func check(betas: (Double, Double), eps: Double, weightDecay: Double) {
        nablaCheck((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam: betas must be in [0, 1), got \(betas)")
        nablaCheck(eps >= 0, "Adam: eps must be non-negative, got \(eps)")
        nablaCheck(weightDecay >= 0, "Adam: weight decay must be non-negative, got \(weightDecay)")
    }

    /// `exp_avg`, `exp_avg_sq` and, with AMSGrad, `max_exp_avg_sq`.
    public override var bufferNames: [String] {
        amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    }

    /// The hyper-parameters under PyTorch's names.
    public override var hyperparameters: [String: String] {
        ["betas": "\(betas.0),\(betas.1)", "eps": "\(eps)", "weight_decay": "\(weightDecay)", "amsgrad": "\(amsgrad)"]
    }

    /// Applies the Adam (or AdamW) rule to one parameter.
    public override func update(_ index: Int, parameter p: Tensor, gradient g: Tensor) {
        dispatchScalar(p, float: { run(Float.self, index, p, g) }, double: { run(Double.self, index, p, g) })
    }

    @inline(__always)
    private func run<T: OptimizerScalar>(_: T.Type, _ index: Int, _ p: Tensor, _ g: Tensor) {
        let n = p.count
        let t = parameterSteps[index]
        let bufs = buffers[index]
        let x = p.elementPointer(T.self), gp = g.elementPointer(T.self)
        let m = bufs[0].elementPointer(T.self), v = bufs[1].elementPointer(T.self)
        let b1 = T(betas.0), b2 = T(betas.1)
        let stepSize = T(learningRate / (1 - integerPower(betas.0, t)))
        let bc2Sqrt = T((1 - integerPower(betas.1, t)).squareRoot())
        let e = T(eps)
        if decoupled && weightDecay != 0 {
            let decay = T(1 - learningRate * weightDecay)
            for j in 0..<n { x[j] *= decay }
        }
        let wd: T = decoupled ? 0 : T(weightDecay)
        if amsgrad {
            let vmax = bufs[2].elementPointer(T.self)
            for j in 0..<n {
                let gj = gp[j] + wd * x[j]
                m[j] += (1 - b1) * (gj - m[j])
                v[j] = b2 * v[j] + (1 - b2) * gj * gj
                vmax[j] = Swift.max(vmax[j], v[j])
                x[j] -= stepSize * m[j] / (vmax[j].squareRoot() / bc2Sqrt + e)
            }
        } else if T.self == Float.self {
            // The vectorised C kernel performs exactly the loop below, in float32.
            nabla_s_adam_step(n, UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self),
                              UnsafeRawPointer(gp).assumingMemoryBound(to: Float.self),
                              UnsafeMutableRawPointer(m).assumingMemoryBound(to: Float.self),
                              UnsafeMutableRawPointer(v).assumingMemoryBound(to: Float.self),
                              Float(b1), Float(b2), Float(stepSize), Float(bc2Sqrt), Float(e), Float(wd))
        } else {
            for j in 0..<n {
                let gj = gp[j] + wd * x[j]
                m[j] += (1 - b1) * (gj - m[j])
                v[j] = b2 * v[j] + (1 - b2) * gj * gj
                x[j] -= stepSize * m[j] / (v[j].squareRoot() / bc2Sqrt + e)
            }
        }
        withExtendedLifetime((p, g, bufs)) {}
    }
}

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as PyTorch's `torch.optim.AdamW`.
///
/// Before the Adam update the parameter shrinks, θ ← θ(1 − γλ), and λ does not enter the
/// gradient. The default λ is 0.01, as in PyTorch.
public final class AdamW: Adam {
    /// AdamW over `parameters` with PyTorch's defaults.
    public override init(_ parameters: [Tensor], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        super.init(decoupled: parameters, lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad)
    }
}

// MARK: - RMSProp

/// RMSProp (Hinton), optionally centred and with momentum, exactly as PyTorch's `torch.optim.RMSprop`.
///
/// The update is:
///
///     g ← ∇f(θ) + λθ
///     s ← αs + (1 − α)g²
///     d ← √(s − ḡ²) + ε with ḡ ← αḡ + (1 − α)g if centred, else d ← √s + ε
///     b ← μb + g/d, θ ← θ − γb  if momentum μ > 0, else θ ← θ − γg/d
///
/// Buffers: `square_avg`, plus `momentum_buffer` (μ > 0) and `grad_avg` (centred).
public final class RMSProp: Optimizer {
    /// Smoothing constant α of the squared-gradient average.
    public var alpha: Double
    /// ε added to the denominator.
    public var eps: Double
    /// L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// Momentum factor μ.
    public let momentum: Double
    /// Whether to normalise by the estimated variance instead of the raw second moment.
    public let centered: Bool

    /// RMSProp over `parameters` with PyTorch's defaults.
    public init(_ parameters: [Tensor], lr: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        nablaCheck(alpha >= 0, "RMSProp: alpha must be non-negative, got \(alpha)")
        nablaCheck(eps >= 0 && weightDecay >= 0 && momentum >= 0, "RMSProp: eps, weight decay and momentum must be non-negative")
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        super.init(parameters, learningRate: lr)
    }

    /// `square_avg`, then `momentum_buffer` and `grad_avg` when used.
    public override var bufferNames: [String] {
        ["square_avg"] + (momentum > 0 ? ["momentum_buffer"] : []) + (centered ? ["grad_avg"] : [])
    }

    /// The hyper-parameters under PyTorch's names.
    public override var hyperparameters: [String: String] {
        ["alpha": "\(alpha)", "eps": "\(eps)", "weight_decay": "\(weightDecay)", "momentum": "\(momentum)", "centered": "\(centered)"]
    }

    /// Applies the RMSProp rule to one parameter.
    public override func update(_ index: Int, parameter p: Tensor, gradient g: Tensor) {
        dispatchScalar(p, float: { run(Float.self, index, p, g) }, double: { run(Double.self, index, p, g) })
    }

    @inline(__always)
    private func run<T: OptimizerScalar>(_: T.Type, _ index: Int, _ p: Tensor, _ g: Tensor) {
        let n = p.count
        let bufs = buffers[index]
        let x = p.elementPointer(T.self), gp = g.elementPointer(T.self)
        let s = bufs[0].elementPointer(T.self)
        let hasMomentum = momentum > 0
        let mb: UnsafeMutablePointer<T>? = hasMomentum ? bufs[1].elementPointer(T.self) : nil
        let ga: UnsafeMutablePointer<T>? = centered ? bufs[hasMomentum ? 2 : 1].elementPointer(T.self) : nil
        let a = T(alpha), lr = T(learningRate), wd = T(weightDecay), mu = T(momentum), e = T(eps)
        for j in 0..<n {
            let gj = gp[j] + wd * x[j]
            s[j] = a * s[j] + (1 - a) * gj * gj
            var d: T
            if let ga {
                ga[j] += (1 - a) * (gj - ga[j])
                d = (s[j] - ga[j] * ga[j]).squareRoot()
            } else {
                d = s[j].squareRoot()
            }
            d += e
            if let mb {
                mb[j] = mu * mb[j] + gj / d
                x[j] -= lr * mb[j]
            } else {
                x[j] -= lr * gj / d
            }
        }
        withExtendedLifetime((p, g, bufs)) {}
    }
}

// MARK: - Adagrad

/// Adagrad (Duchi et al.), exactly as PyTorch's `torch.optim.Adagrad`.
///
/// The update is:
///
///     g ← ∇f(θ) + λθ
///     γₜ ← γ / (1 + (t − 1)·η)           (learning-rate decay η)
///     s ← s + g²                          (s starts at the initial accumulator value)
///     θ ← θ − γₜ · g / (√s + ε)
///
/// Buffer: `sum`.
public final class Adagrad: Optimizer {
    /// Learning-rate decay η.
    public var lrDecay: Double
    /// L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// The starting value of the squared-gradient sum.
    public let initialAccumulatorValue: Double
    /// ε added to the denominator.
    public var eps: Double

    /// Adagrad over `parameters` with PyTorch's defaults.
    public init(_ parameters: [Tensor], lr: Double = 1e-2, lrDecay: Double = 0, weightDecay: Double = 0,
                initialAccumulatorValue: Double = 0, eps: Double = 1e-10) {
        nablaCheck(lrDecay >= 0 && weightDecay >= 0 && initialAccumulatorValue >= 0 && eps >= 0,
                   "Adagrad: lrDecay, weightDecay, initialAccumulatorValue and eps must be non-negative")
        self.lrDecay = lrDecay
        self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.eps = eps
        super.init(parameters, learningRate: lr)
    }

    /// `sum`.
    public override var bufferNames: [String] { ["sum"] }

    /// The hyper-parameters under PyTorch's names.
    public override var hyperparameters: [String: String] {
        ["lr_decay": "\(lrDecay)", "weight_decay": "\(weightDecay)",
         "initial_accumulator_value": "\(initialAccumulatorValue)", "eps": "\(eps)"]
    }

    /// Fills `sum` with the initial accumulator value.
    public override func initializeBuffers(_ buffers: inout [Tensor], parameter: Tensor) {
        if initialAccumulatorValue != 0 {
            buffers[0] = Tensor.full(parameter.shape, initialAccumulatorValue, dtype: parameter.dtype)
        }
    }

    /// Applies the Adagrad rule to one parameter.
    public override func update(_ index: Int, parameter p: Tensor, gradient g: Tensor) {
        dispatchScalar(p, float: { run(Float.self, index, p, g) }, double: { run(Double.self, index, p, g) })
    }

    @inline(__always)
    private func run<T: OptimizerScalar>(_: T.Type, _ index: Int, _ p: Tensor, _ g: Tensor) {
        let n = p.count
        let buf = buffers[index][0]
        let x = p.elementPointer(T.self), gp = g.elementPointer(T.self), s = buf.elementPointer(T.self)
        let clr = T(learningRate / (1 + Double(parameterSteps[index] - 1) * lrDecay))
        let wd = T(weightDecay), e = T(eps)
        for j in 0..<n {
            let gj = gp[j] + wd * x[j]
            s[j] += gj * gj
            x[j] -= clr * gj / (s[j].squareRoot() + e)
        }
        withExtendedLifetime((p, g, buf)) {}
    }
}

/// `base` raised to a non-negative integer power by repeated squaring (the standard
/// library has no `pow`; NablaNN does not import Foundation).
@inline(__always)
func integerPower(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0, b = base, e = exponent
    while e > 0 {
        if e & 1 == 1 { result *= b }
        b *= b
        e >>= 1
    }
    return result
}
