// Keeping and walking a recorded graph for inspection: leaf names, values kept while a
// capture is active, gradients kept by `backward(retainGraph: true)`, module scopes, and a
// plain-data snapshot (`ComputationGraph`) that drawing code (NablaViz) renders. Nothing
// here draws: NablaCore only keeps and walks.

import CNablaKernels

/// What a graph node keeps for inspection (allocated only for named leaves, nodes recorded
/// inside ``withGraphCapture(_:)`` and nodes of a `backward(retainGraph: true)`).
final class NodeInspection: @unchecked Sendable {
    /// The user's name for a leaf (`requiringGrad(name:)`).
    var name: String?
    /// The node's value when it was recorded (detached).
    var value: Tensor?
    /// The values of inputs that needed no gradient (constants), by input position.
    var constantInputs: [Int: Tensor] = [:]
    /// An interior node's gradient from the last `backward(retainGraph: true)`.
    var retainedGrad: Tensor?
    /// The innermost module call active when the node was recorded.
    var scope: GraphScopeRecord?
}

/// One module call during a capture.
final class GraphScopeRecord: @unchecked Sendable {
    let id: Int
    let label: String
    let isLeafModule: Bool
    let parent: GraphScopeRecord?
    init(id: Int, label: String, isLeafModule: Bool, parent: GraphScopeRecord?) {
        self.id = id; self.label = label; self.isLeafModule = isLeafModule; self.parent = parent
    }
}

/// The state of an active capture on this task or thread.
final class GraphCaptureState: @unchecked Sendable {
    var scope: GraphScopeRecord?
    var nextScopeID = 0
}

extension GradNode {
    /// This node's inspection record, created on first use.
    var inspectionRecord: NodeInspection {
        if let i = inspection { return i }
        let i = NodeInspection()
        inspection = i
        return i
    }
}

/// Graph capture: while active, every recorded op keeps its value (and the module call it
/// happened in), so that ``Tensor/graph()`` can show values, not only structure.
///
/// Use ``withGraphCapture(_:)`` to start one. Capturing keeps every intermediate value alive
/// as long as the graph is, so it is meant for inspection, not for training runs.
public enum GraphCapture {
    @TaskLocal static var state: GraphCaptureState?

    /// Whether a capture is active on this task or thread.
    ///
    /// Checked by every recorded op, so it first reads a process-wide count of active
    /// captures (one relaxed atomic load) and only then the task-local.
    public static var isActive: Bool { nabla_captures_active() != 0 && state != nil }

    /// Runs `body` as one module call named `label`: nodes recorded inside are grouped
    /// under it in ``ComputationGraph/scopes`` (so drawings can collapse the call into one
    /// box). Without an active capture this is just `body()`.
    ///
    /// - Parameter isLeafModule: true for a module with no submodules (a layer); drawings
    ///   collapse calls of leaf modules.
    public static func withScope<R>(_ label: String, isLeafModule: Bool, _ body: () throws -> R) rethrows -> R {
        guard let s = state else { return try body() }
        let saved = s.scope
        s.scope = GraphScopeRecord(id: s.nextScopeID, label: label, isLeafModule: isLeafModule, parent: saved)
        s.nextScopeID += 1
        defer { s.scope = saved }
        return try body()
    }

    /// Records the value of a freshly recorded `output` and of its leaf and constant inputs
    /// (called by the recording functions only while a capture is active).
    static func note(_ output: Tensor, _ inputs: [Tensor]) {
        guard let s = state, let node = output.node else { return }
        let info = node.inspectionRecord
        info.value = output.detached()
        info.scope = s.scope
        for (i, t) in inputs.enumerated() {
            if let n = t.node, !n.frozen {
                if n.isLeaf { n.inspectionRecord.value = t.detached() }
            } else {
                info.constantInputs[i] = t.detached()
            }
        }
    }
}

/// Runs `body` with graph capture on: ops recorded inside keep their values, so that
/// ``Tensor/graph()`` shows each node's value (and, after `backward(retainGraph: true)`, its
/// gradient).
///
/// ```swift
/// let x = Tensor(-2.0).requiringGrad(name: "x"), y = Tensor(5.0).requiringGrad(name: "y")
/// let z = Tensor(-4.0).requiringGrad(name: "z")
/// let f = withGraphCapture { (x + y) * z }
/// f.backward(retainGraph: true)
/// let g = f.graph()        // nodes x, y, z, x + y, f with values and gradients
/// ```
@discardableResult
public func withGraphCapture<R>(_ body: () throws -> R) rethrows -> R {
    if GraphCapture.state != nil { return try body() }
    nabla_captures_add(1)
    defer { nabla_captures_add(-1) }
    return try GraphCapture.$state.withValue(GraphCaptureState()) { try body() }
}

/// A snapshot of a recorded computation graph: nodes in topological order (inputs before
/// the nodes that use them), each with its op, value, gradient and inputs.
///
/// Made by ``Tensor/graph()``. Values are present for nodes recorded inside
/// ``withGraphCapture(_:)`` (and always for the root and for leaves used under a capture);
/// gradients after `backward(retainGraph: true)` (leaves: their accumulated ``Tensor/grad``).
public struct ComputationGraph: Sendable {
    /// One node of the graph.
    public struct Node: Sendable {
        /// What made the node.
        public enum Kind: Sendable, Equatable {
            /// A tensor that requires gradients and was not computed (a variable or parameter).
            case leaf
            /// An input that needs no gradient (a constant), kept by a capture.
            case constant
            /// A recorded operation.
            case operation
        }
        /// The node's index in ``ComputationGraph/nodes``.
        public let id: Int
        /// Leaf, constant or operation.
        public let kind: Kind
        /// The op name (`Mul`, `Sigmoid`, …); `Leaf` or `Constant` for the others.
        public let op: String
        /// The name given with `requiringGrad(name:)` (or by ``ComputationGraph/naming(_:)``).
        public var name: String?
        /// The node's value, when known.
        public let value: Tensor?
        /// ∂root/∂node, when known.
        public let gradient: Tensor?
        /// The nodes of the op's inputs, in order (inputs that need no gradient appear only
        /// when a capture kept their value).
        public let inputs: [Int]
        /// For each input, ∂node/∂input when both are scalars and the rule is still held.
        public let localDerivatives: [Double?]
        /// The innermost module call the node was recorded in (an index into ``ComputationGraph/scopes``).
        public let scope: Int?
        /// The identity of a leaf, equal to ``Tensor/parameterID`` of the tensor.
        public let parameterID: ObjectIdentifier?
        /// The node's shape, when its value is known.
        public var shape: [Int]? { value?.shape }
    }

    /// One module call, as marked by ``GraphCapture/withScope(_:isLeafModule:_:)``.
    public struct Scope: Sendable {
        /// The label given to the call (`layers.0: Linear(2 → 32)`).
        public let label: String
        /// Whether the module has no submodules.
        public let isLeafModule: Bool
        /// The enclosing call, if any (an index into ``ComputationGraph/scopes``).
        public let parent: Int?
    }

    /// The nodes, inputs before the nodes that use them; the last is the root.
    public internal(set) var nodes: [Node]
    /// The module calls that nodes refer to.
    public internal(set) var scopes: [Scope]
    /// The index of the root (the tensor the graph was taken of).
    public var root: Int { nodes.count - 1 }

    /// The graph with leaves named from `names` (a parameter's ``Tensor/parameterID`` to its
    /// name, e.g. from a module's `namedParameters()`), where no name was given already.
    public func naming(_ names: [ObjectIdentifier: String]) -> ComputationGraph {
        var g = self
        for i in g.nodes.indices where g.nodes[i].name == nil {
            if let id = g.nodes[i].parameterID, let n = names[id] { g.nodes[i].name = n }
        }
        return g
    }
}

extension Tensor {
    /// This tensor marked as requiring gradients (a new leaf) and named `name` in graph
    /// pictures and tables (``graph()``).
    public func requiringGrad(name: String) -> Tensor {
        let t = requiringGrad()
        let info = t.node!.inspectionRecord
        info.name = name
        info.value = t.detached()
        return t
    }

    /// The name given with ``requiringGrad(name:)`` or ``namedInGraph(_:)``, if any.
    public var graphName: String? { node?.inspection?.name }

    /// This tensor, with its graph node named `name` in pictures and tables (`q = x + y`).
    /// A tensor outside any graph is returned unchanged.
    @discardableResult
    public func namedInGraph(_ name: String) -> Tensor {
        node?.inspectionRecord.name = name
        return self
    }

    /// A snapshot of the graph that produced this tensor (see ``ComputationGraph``).
    ///
    /// Take it before a plain ``backward(_:)`` (which releases the graph) or after
    /// `backward(retainGraph: true)` to see gradients. Ops recorded inside
    /// ``withGraphCapture(_:)`` show their values. A tensor that requires no gradient gives
    /// a one-node graph.
    public func graph() -> ComputationGraph {
        var nodes: [ComputationGraph.Node] = []
        var scopes: [ComputationGraph.Scope] = []
        var scopeIndex: [ObjectIdentifier: Int] = [:]
        func scopeID(_ s: GraphScopeRecord?) -> Int? {
            guard let s else { return nil }
            if let i = scopeIndex[ObjectIdentifier(s)] { return i }
            let parent = scopeID(s.parent)
            scopes.append(.init(label: s.label, isLeafModule: s.isLeafModule, parent: parent))
            scopeIndex[ObjectIdentifier(s)] = scopes.count - 1
            return scopes.count - 1
        }
        guard let root = node else {
            nodes.append(.init(id: 0, kind: .constant, op: "Constant", name: nil, value: detached(), gradient: nil,
                               inputs: [], localDerivatives: [], scope: nil, parameterID: nil))
            return ComputationGraph(nodes: nodes, scopes: scopes)
        }
        var index: [ObjectIdentifier: Int] = [:]
        // Post-order DFS without recursion: inputs get their index before their consumer.
        var stack: [(GradNode, Int)] = [(root, 0)]
        var onStack: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        while !stack.isEmpty {
            let (n, i) = stack[stack.count - 1]
            if i < n.inputCount {
                stack[stack.count - 1].1 = i + 1
                if let p = n.input(i), index[ObjectIdentifier(p)] == nil, !onStack.contains(ObjectIdentifier(p)) {
                    onStack.insert(ObjectIdentifier(p))
                    stack.append((p, 0))
                }
                continue
            }
            stack.removeLast()
            let info = n.inspection
            let value = n === root ? detached() : info?.value
            var inputs: [Int] = [], locals: [Double?] = []
            // ∂n/∂input for scalar nodes: the rule applied to a gradient of 1.
            var local: [Tensor?] = []
            if let rule = n.rule, let v = value, v.count == 1 {
                local = withoutGrad { rule(Tensor.ones(v.shape, dtype: v.dtype)) }
            }
            for k in 0..<n.inputCount {
                let d = k < local.count ? local[k].flatMap { $0.count == 1 ? $0.item() : nil } : nil
                if let p = n.input(k), let pi = index[ObjectIdentifier(p)] {
                    inputs.append(pi); locals.append(d)
                } else if let c = info?.constantInputs[k] {
                    nodes.append(.init(id: nodes.count, kind: .constant, op: "Constant", name: nil, value: c, gradient: nil,
                                       inputs: [], localDerivatives: [], scope: scopeID(info?.scope), parameterID: nil))
                    inputs.append(nodes.count - 1); locals.append(d)
                }
            }
            let grad: Tensor? = n.isLeaf ? n.grad : info?.retainedGrad
            nodes.append(.init(id: nodes.count, kind: n.isLeaf ? .leaf : .operation, op: n.op, name: info?.name,
                               value: value, gradient: grad, inputs: inputs, localDerivatives: locals,
                               scope: n.isLeaf ? nil : scopeID(info?.scope),
                               parameterID: n.isLeaf ? ObjectIdentifier(n) : nil))
            index[ObjectIdentifier(n)] = nodes.count - 1
        }
        return ComputationGraph(nodes: nodes, scopes: scopes)
    }
}

/// A snapshot of the graph that produced `tensor` (``Tensor/graph()``).
public func graph(of tensor: Tensor) -> ComputationGraph { tensor.graph() }
