// Hard cases for a linear classifier: XOR, n-bit parity, a ring 1 ≤ ‖x‖ ≤ 2 against the
// rest, and three separated modes on a line. Logistic regression (a hyperplane decision
// boundary) fails on each; a network with one hidden layer solves them.
//
//     swift run HardClassifiers
import Nabla

/// A binary classification task: inputs `[N, d]` and labels `[N]` in {0, 1}.
struct Task {
    let name: String
    let x: Tensor
    let y: Tensor
}

/// The four corners of the unit square, labelled by XOR.
func xorTask() -> Task {
    Task(name: "XOR", x: Tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), y: Tensor([0.0, 1.0, 1.0, 0.0]))
}

/// All 2ⁿ bit strings of length n, labelled by their parity.
func parityTask(bits n: Int) -> Task {
    var xs: [Double] = [], ys: [Double] = []
    for v in 0..<(1 << n) {
        var ones = 0
        for k in 0..<n { let bit = (v >> k) & 1; xs.append(Double(bit)); ones += bit }
        ys.append(Double(ones % 2))
    }
    return Task(name: "\(n)-bit parity", x: Tensor(xs, shape: [1 << n, n]), y: Tensor(ys))
}

/// Points uniform in [−3, 3]², labelled 1 inside the ring 1 ≤ ‖x‖ ≤ 2.
func ringTask(count: Int = 400, seed: UInt64 = 1) -> Task {
    let rng = RandomGenerator(seed: seed)
    var xs: [Double] = [], ys: [Double] = []
    for _ in 0..<count {
        let a = 6 * rng.nextDouble() - 3, b = 6 * rng.nextDouble() - 3
        let r = (a * a + b * b).squareRoot()
        xs += [a, b]
        ys.append(r >= 1 && r <= 2 ? 1 : 0)
    }
    return Task(name: "ring 1 ≤ ‖x‖ ≤ 2", x: Tensor(xs, shape: [count, 2]), y: Tensor(ys))
}

/// Points on [−3, 3], labelled 1 within 0.5 of −2, 0 or 2 (three modes).
func threeModesTask(count: Int = 300) -> Task {
    let xs = (0..<count).map { -3 + 6 * Double($0) / Double(count - 1) }
    let ys = xs.map { x in [-2.0, 0, 2].contains { Swift.abs(x - $0) < 0.5 } ? 1.0 : 0.0 }
    return Task(name: "three modes", x: Tensor(xs, shape: [count, 1]), y: Tensor(ys))
}

/// The training accuracy of logistic regression fitted by gradient descent.
func linearAccuracy(_ task: Task) -> Double {
    let model = LogisticRegression(inputs: task.x.shape[1])
    model.fit(task.x, task.y, learningRate: 0.5, epochs: 500)
    return model.accuracy(task.x, task.y)
}

/// The training accuracy of a network with one tanh hidden layer, trained with Adam on
/// the binary cross-entropy of its logits.
func networkAccuracy(_ task: Task, hidden: Int = 16, steps: Int = 1500, seed: UInt64 = 0) -> Double {
    let g = RandomGenerator(seed: seed)
    let d = task.x.shape[1]
    let net = Sequential([Linear(d, hidden, dtype: .float64, generator: g), Tanh(), Linear(hidden, 1, dtype: .float64, generator: g)])
    let optimizer = Adam(net.parameters(), lr: 0.03)
    let n = task.x.shape[0]
    for _ in 0..<steps {
        optimizer.zeroGrad()
        let logits = net(task.x).reshaped([n])
        LogisticRegression.binaryCrossEntropy(logits: logits, labels: task.y).backward()
        optimizer.step()
    }
    return withoutGrad {
        let predicted = (net(task.x).reshaped([n]) .> 0).to(.float64)
        return (predicted .== task.y).to(.float64).mean().item()
    }
}

/// Two decimals.
func twoDecimals(_ v: Double) -> String {
    let r = Int((v * 100).rounded())
    return "\(r / 100)." + (r % 100 < 10 ? "0" : "") + "\(r % 100)"
}

let tasks = [xorTask(), parityTask(bits: 4), ringTask(), threeModesTask()]
var linearSum = 0.0, networkSum = 0.0
for task in tasks {
    let lin = linearAccuracy(task), net = networkAccuracy(task)
    linearSum += lin; networkSum += net
    print("\(task.name): linear accuracy \(twoDecimals(lin)), network accuracy \(twoDecimals(net))")
}
print("mean over \(tasks.count) tasks: linear accuracy \(twoDecimals(linearSum / Double(tasks.count))), network accuracy \(twoDecimals(networkSum / Double(tasks.count)))")
