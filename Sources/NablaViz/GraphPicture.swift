import Foundation
import NablaCore
import NablaNN

/// A computation graph prepared for drawing: value boxes (label | value | gradient), op
/// nodes between them, and module calls collapsed into one box, with edges labelled by the
/// local derivative where it is a number (micrograd's `draw_dot` picture).
///
/// Render it with ``dot()``, ``svg()`` or ``table()``.
public struct GraphPicture: Sendable {
    /// One thing drawn.
    public enum Item: Sendable, Equatable {
        /// A value box: its label (may be empty), its value and its gradient, as text.
        case value(label: String, value: String, gradient: String)
        /// An operation node, shown by its symbol; `detail` is the op's name.
        case op(symbol: String, detail: String)
        /// A collapsed module call: its label and what it holds.
        case module(label: String, detail: String)
    }

    /// One edge; `label` is the local derivative ∂(consumer)/∂(input) when it is a number.
    public struct Edge: Sendable, Equatable {
        /// The item the edge leaves.
        public let from: Int
        /// The item the edge enters.
        public let to: Int
        /// The edge's label, if any.
        public let label: String?
    }

    /// The items, each drawn once.
    public internal(set) var items: [Item] = []
    /// The edges between items.
    public internal(set) var edges: [Edge] = []
    /// The notes-style rows: node, formula, value, gradient (see ``table()``).
    public internal(set) var rows: [(node: String, formula: String, value: String, gradient: String)] = []
    /// The root's label (the `f` of `∂f/∂node`).
    public internal(set) var rootLabel: String = "f"

    /// A picture of `graph`.
    ///
    /// - Parameters:
    ///   - collapseModules: draw each call of a leaf module (a layer) as one box.
    ///   - rootName: the label of the root when it has no name of its own.
    public init(_ graph: ComputationGraph, collapseModules: Bool = true, rootName: String = "f") {
        let nodes = graph.nodes
        // Labels: the user's name, else f for the root, else n1, n2, … for unnamed ops.
        var labels = [String](repeating: "", count: nodes.count)
        var counter = 0
        for n in nodes {
            if let name = n.name { labels[n.id] = name; continue }
            switch n.kind {
            case .constant: labels[n.id] = n.value.map { GraphPicture.describe($0) } ?? "const"
            case .leaf: counter += 1; labels[n.id] = "v\(counter)"
            case .operation:
                if n.id == graph.root { labels[n.id] = rootName } else { counter += 1; labels[n.id] = "n\(counter)" }
            }
        }
        rootLabel = labels[graph.root]

        // Groups: each node recorded inside a leaf module's call belongs to that call.
        var group = [Int?](repeating: nil, count: nodes.count)
        if collapseModules {
            for n in nodes where n.kind != .leaf {
                var s = n.scope
                while let si = s {
                    if graph.scopes[si].isLeafModule { group[n.id] = si; break }
                    s = graph.scopes[si].parent
                }
            }
        }
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for n in nodes { for i in n.inputs { consumers[i].append(n.id) } }
        // A grouped node's value box is shown only if something outside the group uses it.
        func visible(_ id: Int) -> Bool {
            guard let g = group[id] else { return true }
            return id == graph.root || consumers[id].contains { group[$0] != g }
        }

        var valueItem = [Int?](repeating: nil, count: nodes.count)
        var moduleItem: [Int: Int] = [:]
        var moduleOps: [Int: [String]] = [:]
        for n in nodes { if let g = group[n.id], n.kind == .operation { moduleOps[g, default: []].append(GraphPicture.symbol(n, nodes)) } }
        func add(_ item: Item) -> Int { items.append(item); return items.count - 1 }
        var edgeSet = Set<String>()
        func edge(_ a: Int, _ b: Int, _ label: String?) {
            let key = "\(a)>\(b)"
            guard !edgeSet.contains(key) else { return }
            edgeSet.insert(key)
            edges.append(Edge(from: a, to: b, label: label))
        }
        for n in nodes {
            if let g = group[n.id] {
                // Inside a collapsed call: wire outside inputs to the call's box.
                let m: Int
                if let existing = moduleItem[g] { m = existing } else {
                    m = add(.module(label: graph.scopes[g].label, detail: (moduleOps[g] ?? []).joined(separator: ", ")))
                    moduleItem[g] = m
                }
                for i in n.inputs where group[i] != g {
                    if let v = valueItem[i] { edge(v, m, nil) }
                }
                if visible(n.id) {
                    let v = add(.value(label: n.name ?? (n.id == graph.root ? labels[n.id] : ""), value: GraphPicture.describe(n.value), gradient: GraphPicture.describe(n.gradient)))
                    valueItem[n.id] = v
                    edge(m, v, nil)
                }
                continue
            }
            if n.kind == .operation {
                let o = add(.op(symbol: GraphPicture.symbol(n, nodes), detail: n.op))
                for (k, i) in n.inputs.enumerated() {
                    guard let v = valueItem[i] else { continue }
                    let d = k < n.localDerivatives.count ? n.localDerivatives[k] : nil
                    edge(v, o, d.map { GraphPicture.format($0) })
                }
                let label = n.name ?? (n.id == graph.root ? labels[n.id] : "")
                let v = add(.value(label: label, value: GraphPicture.describe(n.value), gradient: GraphPicture.describe(n.gradient)))
                valueItem[n.id] = v
                edge(o, v, nil)
            } else {
                let label = n.kind == .constant ? "" : labels[n.id]
                valueItem[n.id] = add(.value(label: label, value: GraphPicture.describe(n.value), gradient: GraphPicture.describe(n.gradient)))
            }
        }

        // The notes' table: one row per leaf and op (constants are folded into formulas).
        for n in nodes where n.kind != .constant {
            let formula = n.kind == .leaf ? "input" : GraphPicture.formula(n, nodes, labels)
            rows.append((labels[n.id], formula, GraphPicture.describe(n.value), GraphPicture.describe(n.gradient)))
        }
    }

    // MARK: Text of values

    /// A number in at most four decimals (`-12`, `0.7311`), or four significant digits
    /// when very small or large (`0.0005`, `3.5e-07`).
    public static func format(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == x.rounded(), Swift.abs(x) < 1e9 { return String(Int(x)) }
        let a = Swift.abs(x)
        if a >= 1e-3 && a < 1e6 {
            var s = String(format: "%.4f", x)
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
            return s == "-0" ? "0" : s
        }
        return String(format: "%.4g", x)
    }

    /// A scalar in full; a tensor abbreviated to its shape and min/mean/max; "—" when unknown.
    public static func describe(_ t: Tensor?) -> String {
        guard let t else { return "—" }
        if t.count == 1 { return format(t.scalar(at: 0)) }
        if t.count == 0 { return "\(t.shape) empty" }
        let v = t.doubles
        let lo = v.min() ?? 0, hi = v.max() ?? 0, mean = v.reduce(0, +) / Double(v.count)
        return "\(t.shape) min \(format(lo)) mean \(format(mean)) max \(format(hi))"
    }

    /// The scalar a one-input scalar op was applied with, recovered from the values
    /// (`AddScalar`: out − in), or nil.
    static func scalarConstant(_ n: ComputationGraph.Node, _ nodes: [ComputationGraph.Node]) -> Double? {
        guard n.inputs.count == 1, let out = n.value, out.count == 1, let inV = nodes[n.inputs[0]].value, inV.count == 1 else { return nil }
        let y = out.scalar(at: 0), x = inV.scalar(at: 0)
        let d = n.localDerivatives.first ?? nil
        switch n.op {
        case "AddScalar": return y - x
        case "RSubScalar": return y + x
        case "MulScalar": return d
        case "DivScalar": return d.flatMap { $0 == 0 ? nil : 1 / $0 }
        case "RDivScalar": return y * x
        case "PowScalar": return (d != nil && y != 0) ? d! * x / y : nil
        default: return nil
        }
    }

    /// The op's symbol in a picture (`+`, `×`, `exp`, `1/x`, `σ`).
    static func symbol(_ n: ComputationGraph.Node, _ nodes: [ComputationGraph.Node]) -> String {
        let c = scalarConstant(n, nodes).map { format($0) }
        switch n.op {
        case "Add", "add": return "+"
        case "Sub", "sub": return "−"
        case "Mul", "mul": return "×"
        case "Div", "div": return "÷"
        case "Neg": return "−x"
        case "Exp": return "exp"
        case "Log": return "log"
        case "Sigmoid": return "σ"
        case "Tanh": return "tanh"
        case "Relu": return "ReLU"
        case "Pow", "pow": return "^"
        case "MatMul": return "@"
        case "Linear": return "linear"
        case "Sum", "sum": return "Σ"
        case "Mean", "mean": return "mean"
        case "AddScalar": return c.map { "+ \($0)" } ?? "+ c"
        case "RSubScalar": return c.map { "\($0) − x" } ?? "c − x"
        case "MulScalar": return c.map { "× \($0)" } ?? "× c"
        case "DivScalar": return c.map { "÷ \($0)" } ?? "÷ c"
        case "RDivScalar": return c.map { "\($0)/x" } ?? "c/x"
        case "PowScalar": return c.map { "^\($0)" } ?? "^c"
        default: return n.op
        }
    }

    /// A node's formula from its inputs' labels (`x + y`, `exp(n3)`).
    static func formula(_ n: ComputationGraph.Node, _ nodes: [ComputationGraph.Node], _ labels: [String]) -> String {
        let a = n.inputs.map { labels[$0] }
        let c = scalarConstant(n, nodes).map { format($0) } ?? "c"
        func infix(_ s: String) -> String? { a.count == 2 ? "\(a[0]) \(s) \(a[1])" : nil }
        let x = a.first ?? "?"
        switch n.op {
        case "Add", "add": if let f = infix("+") { return f }
        case "Sub", "sub": if let f = infix("−") { return f }
        case "Mul", "mul": if let f = infix("×") { return f }
        case "Div", "div": if let f = infix("÷") { return f }
        case "Pow", "pow": if let f = infix("^") { return f }
        case "Neg": return "−\(x)"
        case "Exp": return "exp(\(x))"
        case "Log": return "log(\(x))"
        case "Sigmoid": return "σ(\(x))"
        case "Tanh": return "tanh(\(x))"
        case "Relu": return "relu(\(x))"
        case "AddScalar": return "\(x) + \(c)"
        case "RSubScalar": return "\(c) − \(x)"
        case "MulScalar": return "\(x) × \(c)"
        case "DivScalar": return "\(x) ÷ \(c)"
        case "RDivScalar": return "\(c) / \(x)"
        case "PowScalar": return "\(x)^\(c)"
        default: break
        }
        return "\(n.op)(\(a.joined(separator: ", ")))"
    }
}

/// The forward graph of `module` on `input`, captured with values, its parameters named
/// as in the module (`layers.0.weight`) and the input named `input`.
///
/// The module runs in evaluation mode (restored afterwards) and no backward pass is made,
/// so gradients are absent unless `loss` is given: then the graph is that of
/// `loss(module(input))`, with every node's gradient.
public func forwardGraph(of module: Module, input: Tensor, loss: ((Tensor) -> Tensor)? = nil) -> ComputationGraph {
    let wasTraining = module.isTraining
    module.eval()
    defer { module.train(wasTraining) }
    let x = input.detached().requiringGrad(name: "input")
    let out = withGraphCapture { () -> Tensor in
        let y = module(x)
        return loss.map { $0(y) } ?? y
    }
    if loss != nil { out.backward(retainGraph: true) }
    var names: [ObjectIdentifier: String] = [:]
    for (name, p) in module.namedParameters() { if let id = p.parameterID { names[id] = name } }
    return out.graph().naming(names)
}
