import NablaCore

// Classic models: linear regression (closed form and gradient descent, one or many
// outputs), logistic regression and the perceptron. They are built on NablaCore tensors
// and, apart from the perceptron, are modules whose parameters any optimizer can train.

/// Linear regression with one or more outputs, ŷ = K·x + b.
///
/// K has shape `[m, n]` (m outputs, n inputs, stored `[out, in]` as PyTorch's `Linear`)
/// and b has shape `[m]`.
///
/// Fitting minimises the mean squared error over N examples (rows of X, shape `[N, n]`;
/// targets Y, shape `[N, m]`, or `[N]` for one output):
///
///     L(K, b) = 1/(N·m) · Σᵢ ‖K·xᵢ + b − yᵢ‖²
///
/// Appending a column of ones to X gives A = [X 1] and θ = [Kᵀ; bᵀ] of shape
/// `[n + 1, m]`, and L is minimised where the gradient vanishes — the **normal
/// equations** AᵀA·θ = AᵀY. ``fitNormalEquations(_:_:ridge:)`` solves them by Cholesky
/// (AᵀA is symmetric positive definite when A has full column rank; a ridge term
/// λ adds λ·I to the block of K, leaving b unpenalised);
/// ``fitLeastSquares(_:_:)`` solves min ‖Aθ − Y‖ by QR, which avoids squaring the
/// condition number; ``fitGradientDescent(_:_:learningRate:epochs:)`` follows
/// θ ← θ − s·∇L(θ) from the current parameters. All three agree on well-conditioned data.
///
/// ``predict(_:)`` returns `[N, m]`. The parameters are float64 by default, since the
/// closed-form solvers work in float64.
public final class LinearRegression: Module, @unchecked Sendable {
    /// The coefficients K, shape `[outputs, inputs]`.
    public var weight: Tensor
    /// The intercepts b, shape `[outputs]`.
    public var bias: Tensor

    /// A model with zero coefficients and intercepts.
    public init(inputs: Int, outputs: Int = 1, dtype: DType = .float64) {
        nablaCheck(inputs > 0 && outputs > 0, "LinearRegression: inputs and outputs must be positive, got \(inputs) and \(outputs)")
        weight = Tensor.zeros([outputs, inputs], dtype: dtype).requiringGrad()
        bias = Tensor.zeros([outputs], dtype: dtype).requiringGrad()
        super.init()
    }

    /// The number of inputs n.
    public var inputCount: Int { weight.shape[1] }
    /// The number of outputs m.
    public var outputCount: Int { weight.shape[0] }

    /// `"n => m"`.
    public override var configDescription: String { "\(inputCount) => \(outputCount)" }

    /// ŷ = X·Kᵀ + b for X of shape `[N, n]` (or one example `[n]`), recording the graph.
    public override func forward(_ x: Tensor) -> Tensor {
        checkLastDimension(x, inputCount)
        return x.to(weight.dtype).linear(weight: weight, bias: bias)
    }

    /// The predictions for X (`[N, n]` → `[N, m]`), without recording a graph.
    public func predict(_ x: Tensor) -> Tensor { withoutGrad { forward(x) } }

    /// The mean squared error of the predictions for X against Y (`[N, m]` or `[N]`).
    public func meanSquaredError(_ x: Tensor, _ y: Tensor) -> Double {
        withoutGrad { (forward(x) - Self.targets(y, outputs: outputCount, rows: x.shape[0]).to(weight.dtype)).squared().mean().item() }
    }

    /// Y as a matrix `[N, m]`, checking its shape.
    static func targets(_ y: Tensor, outputs: Int?, rows: Int) -> Tensor {
        let y2 = y.rank == 1 ? y.reshaped([y.shape[0], 1]) : y
        nablaCheck(y2.rank == 2 && y2.shape[0] == rows && (outputs == nil || y2.shape[1] == outputs!),
                   "LinearRegression: targets of shape \(y.shape) do not fit \(rows) examples\(outputs.map { " with \($0) outputs" } ?? "")")
        return y2
    }

    /// A = [X 1] in float64, and Y as `[N, m]` float64.
    static func design(_ x: Tensor, _ y: Tensor) -> (a: Tensor, y: Tensor) {
        nablaCheck(x.rank == 2, "LinearRegression: inputs must have shape [N, n], got \(x.shape)")
        let n = x.shape[0]
        let x64 = x.detached().to(.float64)
        let a = Tensor.concatenate([x64, Tensor.ones([n, 1], dtype: .float64)], axis: 1)
        return (a, targets(y.detached(), outputs: nil, rows: n).to(.float64))
    }

    /// A model from θ = [Kᵀ; bᵀ] (`[n + 1, m]`).
    static func fromSolution(_ theta: Tensor) -> LinearRegression {
        let n = theta.shape[0] - 1, m = theta.shape[1]
        let model = LinearRegression(inputs: n, outputs: m)
        model.weight.assignInPlace(theta.slice(axis: 0, 0, n).T)
        model.bias.assignInPlace(theta.slice(axis: 0, n, n + 1).reshaped([m]))
        return model
    }

    /// Fits by the normal equations (AᵀA + λD)·θ = AᵀY, solved by Cholesky in float64.
    ///
    /// D is the identity except for a zero at the intercept. Throws when AᵀA + λD is not
    /// positive definite (collinear inputs with λ = 0).
    public static func fitNormalEquations(_ x: Tensor, _ y: Tensor, ridge: Double = 0) throws -> LinearRegression {
        nablaCheck(ridge >= 0, "LinearRegression.fitNormalEquations: ridge must be non-negative, got \(ridge)")
        return try withoutGrad {
            let (a, y) = design(x, y)
            var gram = a.T.matmul(a)
            if ridge > 0 {
                let k = a.shape[1]
                var d = Tensor.eye(k, dtype: .float64)
                d[k - 1, k - 1] = 0
                gram = gram + ridge * d
            }
            return fromSolution(try LinearAlgebra.solveSPD(gram, a.T.matmul(y)))
        }
    }

    /// Fits by least squares, min ‖Aθ − Y‖, solved by Householder QR in float64.
    ///
    /// Throws when A does not have full column rank.
    public static func fitLeastSquares(_ x: Tensor, _ y: Tensor) throws -> LinearRegression {
        try withoutGrad {
            let (a, y) = design(x, y)
            return fromSolution(try LinearAlgebra.leastSquares(a, y))
        }
    }

    /// Fits by full-batch gradient descent on the mean squared error, from the current parameters.
    ///
    /// Runs θ ← θ − s·∇L(θ) for `epochs` steps. Returns the loss before each step.
    @discardableResult
    public func fitGradientDescent(_ x: Tensor, _ y: Tensor, learningRate: Double = 0.1, epochs: Int = 1000) -> [Double] {
        let x = x.detached().to(weight.dtype)
        let y = Self.targets(y.detached(), outputs: outputCount, rows: x.shape[0]).to(weight.dtype)
        let optimizer = SGD([weight, bias], lr: learningRate)
        var losses: [Double] = []
        losses.reserveCapacity(epochs)
        for _ in 0..<epochs {
            optimizer.zeroGrad()
            let loss = (forward(x) - y).squared().mean()
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        return losses
    }
}

/// Binary logistic regression: P(y = 1 | x) = σ(w·x + b), with σ(z) = 1/(1 + e⁻ᶻ).
///
/// Fitting minimises the mean binary cross-entropy of the labels y ∈ {0, 1}, computed
/// from the logits z = w·x + b in the numerically stable form
///
///     ℓ(z, y) = max(z, 0) − z·y + log(1 + e^(−|z|))
///
/// (PyTorch's `BCEWithLogitsLoss`), whose gradient is ∂ℓ/∂z = σ(z) − y. The loss is
/// convex in (w, b), so gradient descent reaches the minimum when one exists; on
/// linearly separable data it does not exist and ‖w‖ grows without bound while the
/// classes come apart. The decision boundary w·x + b = 0 is a hyperplane, which is why a
/// linear classifier cannot solve XOR.
public final class LogisticRegression: Module, @unchecked Sendable {
    /// The coefficients w, shape `[inputs]`.
    public var weight: Tensor
    /// The intercept b, shape `[1]`.
    public var bias: Tensor

    /// A model with zero coefficients (every probability starts at ½).
    public init(inputs: Int, dtype: DType = .float64) {
        nablaCheck(inputs > 0, "LogisticRegression: inputs must be positive, got \(inputs)")
        weight = Tensor.zeros([inputs], dtype: dtype).requiringGrad()
        bias = Tensor.zeros([1], dtype: dtype).requiringGrad()
        super.init()
    }

    /// The number of inputs.
    public var inputCount: Int { weight.shape[0] }

    /// `"n => 1"`.
    public override var configDescription: String { "\(inputCount) => 1" }

    /// The logits z = X·w + b, shape `[N]` for X of shape `[N, n]`.
    public override func forward(_ x: Tensor) -> Tensor {
        checkLastDimension(x, inputCount)
        return x.to(weight.dtype).matmul(weight) + bias
    }

    /// The mean binary cross-entropy of labels `y` (0 or 1) given logits `z`.
    ///
    /// It is computed in the stable form max(z, 0) − z·y + log(1 + e^(−|z|)).
    public static func binaryCrossEntropy(logits z: Tensor, labels y: Tensor) -> Tensor {
        nablaCheck(z.shape == y.shape, "LogisticRegression.binaryCrossEntropy: logits \(z.shape) and labels \(y.shape) differ in shape")
        return Loss.binaryCrossEntropy(logits: z, y.to(z.dtype))
    }

    /// P(y = 1 | x) for each row of X, shape `[N]`.
    public func predictProbabilities(_ x: Tensor) -> Tensor { withoutGrad { forward(x).sigmoid() } }

    /// The predicted class (1 where the probability is at least `threshold`, else 0).
    public func predict(_ x: Tensor, threshold: Double = 0.5) -> Tensor {
        withoutGrad { (predictProbabilities(x) .>= threshold).to(weight.dtype) }
    }

    /// The fraction of rows of X whose predicted class equals the label.
    public func accuracy(_ x: Tensor, _ y: Tensor) -> Double {
        withoutGrad { (predict(x) .== y.to(weight.dtype)).to(.float64).mean().item() }
    }

    /// Fits by full-batch gradient descent on the mean cross-entropy, from the current parameters.
    ///
    /// Runs w ← w − s·∇ℓ. Returns the loss before each step.
    @discardableResult
    public func fit(_ x: Tensor, _ y: Tensor, learningRate: Double = 0.5, epochs: Int = 1000) -> [Double] {
        nablaCheck(x.rank == 2 && y.shape == [x.shape[0]], "LogisticRegression.fit: expected X [N, n] and labels [N], got \(x.shape) and \(y.shape)")
        let x = x.detached().to(weight.dtype), y = y.detached().to(weight.dtype)
        let optimizer = SGD([weight, bias], lr: learningRate)
        var losses: [Double] = []
        losses.reserveCapacity(epochs)
        for _ in 0..<epochs {
            optimizer.zeroGrad()
            let loss = Self.binaryCrossEntropy(logits: forward(x), labels: y)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        return losses
    }
}

/// Rosenblatt's perceptron: a linear classifier ŷ = sign(w·x + b) for labels ±1.
///
/// It is trained by its own mistake-driven rule rather than by gradients:
///
///     for each example (x, y): if y·(w·x + b) ≤ 0 then w ← w + η·y·x, b ← b + η·y
///
/// On linearly separable data the rule stops making mistakes after finitely many updates
/// (Novikoff: at most (R/γ)² updates, R the largest ‖x‖ and γ the margin of a separating
/// hyperplane through the origin in the augmented space); on other data it cycles for
/// ever, so ``fit(_:_:learningRate:maxEpochs:)`` stops after `maxEpochs` epochs. The
/// examples are visited in order, so training is deterministic.
public final class Perceptron: CustomStringConvertible, @unchecked Sendable {
    /// The weights w, shape `[inputs]`, float64.
    public private(set) var weight: Tensor
    /// The bias b.
    public private(set) var bias: Double = 0

    /// The result of ``Perceptron/fit(_:_:learningRate:maxEpochs:)``.
    public struct FitResult: Sendable {
        /// The number of epochs run, counting the final epoch without mistakes.
        public let epochs: Int
        /// Whether an epoch passed without mistakes (the data were separated).
        public let converged: Bool
        /// The number of mistakes (updates) in each epoch.
        public let mistakesPerEpoch: [Int]
    }

    /// A perceptron with zero weights and bias.
    public init(inputs: Int) {
        nablaCheck(inputs > 0, "Perceptron: inputs must be positive, got \(inputs)")
        weight = Tensor.zeros([inputs], dtype: .float64)
    }

    /// `Perceptron(n => 1)`.
    public var description: String { "Perceptron(\(weight.count) => 1)  # \(weight.count + 1) parameters" }

    /// w·x + b for each row of X (`[N, n]` → `[N]`).
    public func decisionFunction(_ x: Tensor) -> Tensor {
        nablaCheck(x.rank == 2 && x.shape[1] == weight.count, "Perceptron: expected inputs [N, \(weight.count)], got \(x.shape)")
        return withoutGrad { x.detached().to(.float64).matmul(weight) + bias }
    }

    /// The predicted labels, +1 where w·x + b > 0 and −1 elsewhere.
    public func predict(_ x: Tensor) -> Tensor {
        withoutGrad { Tensor.where(decisionFunction(x) .> 0, Tensor.ones([x.shape[0]], dtype: .float64), Tensor.full([x.shape[0]], -1, dtype: .float64)) }
    }

    /// The fraction of rows whose predicted label equals `y` (±1).
    public func accuracy(_ x: Tensor, _ y: Tensor) -> Double {
        withoutGrad { (predict(x) .== y.to(.float64)).to(.float64).mean().item() }
    }

    /// Trains with the perceptron rule until an epoch makes no mistakes or `maxEpochs` have run.
    ///
    /// Each epoch is one pass over the examples. Labels must be +1 or −1.
    @discardableResult
    public func fit(_ x: Tensor, _ y: Tensor, learningRate: Double = 1, maxEpochs: Int = 1000) -> FitResult {
        let n = weight.count
        nablaCheck(x.rank == 2 && x.shape[1] == n && y.shape == [x.shape[0]],
                   "Perceptron.fit: expected X [N, \(n)] and labels [N], got \(x.shape) and \(y.shape)")
        let xs = x.doubles, ys = y.doubles
        nablaCheck(ys.allSatisfy { $0 == 1 || $0 == -1 }, "Perceptron.fit: labels must be +1 or -1")
        var w = weight.doubles, b = bias
        var mistakes: [Int] = []
        var converged = false
        for _ in 0..<maxEpochs {
            var count = 0
            for i in 0..<ys.count {
                var activation = b
                for j in 0..<n { activation += w[j] * xs[i * n + j] }
                if ys[i] * activation <= 0 {
                    let step = learningRate * ys[i]
                    for j in 0..<n { w[j] += step * xs[i * n + j] }
                    b += step
                    count += 1
                }
            }
            mistakes.append(count)
            if count == 0 { converged = true; break }
        }
        weight = Tensor(w)
        bias = b
        return FitResult(epochs: mistakes.count, converged: converged, mistakesPerEpoch: mistakes)
    }
}
