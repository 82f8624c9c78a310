import CNablaKernels

/// One operation in the recorded computation graph: the op's name, the nodes of the
/// inputs that require gradients, and the rule that turns the output's gradient into the
/// inputs' gradients.
///
/// Leaves (tensors the user marked with `requiresGrad`) have no rule; their gradient
/// accumulates in `grad` across backward passes until zeroed.
final class GradNode: @unchecked Sendable {
    /// The op name shown in descriptions (`grad_fn=<MulBackward>`).
    let op: String
    /// The nodes of the op's first three inputs, stored inline so recording an op of up
    /// to three inputs allocates no input list (nil where an input needs no gradient).
    var input0: GradNode?, input1: GradNode?, input2: GradNode?
    /// The nodes of inputs beyond the third (n-ary ops such as concatenate).
    var moreInputs: [GradNode?] = []
    /// How many inputs the op has.
    var inputCount: Int
    /// Maps the output gradient to one gradient per input (nil for no contribution).
    var rule: ((Tensor) -> [Tensor?])?
    /// For leaves: the accumulated gradient. For interior nodes: the gradient being
    /// summed over the node's consumers during a backward pass.
    var grad: Tensor?
    /// Whether this is a leaf.
    let isLeaf: Bool
    /// Mark used by the topological sort.
    var visitMark: UInt64 = 0
    /// A frozen leaf takes no part in new graphs (see ``Tensor/isFrozen``).
    var frozen = false
    /// The storages of the tensors the rule reads, with their versions when the op ran
    /// (two inline, more in `moreSaved`); backward checks them before running the rule.
    /// Only the storage is kept (one reference), not the tensor: saving is on the hot path.
    var saved0: TensorStorage?, saved1: TensorStorage?
    var savedVersion0 = 0, savedVersion1 = 0
    var moreSaved: [(TensorStorage, Int)] = []
    /// For a slice: where its elements sit in its input, so backward adds the gradient
    /// into the input's gradient in place (cost of the slice, not of the input).
    var scatter: ScatterInfo?
    /// Inputs that are pieces of a split (input index, where the piece sits): their
    /// gradients are added into the split node's gradient at the piece's place.
    var pieceInputs: [(Int, ScatterInfo)] = []

    /// Notes input `i` when it is a piece of a split (see ``pieceInputs``).
    @inline(__always)
    func notePiece(_ t: Tensor, at i: Int) {
        if _slowPath(t.base.isView), let p = t.base.view!.piece { pieceInputs.append((i, p)) }
    }

    /// Where input `i`'s gradient goes in its node's gradient, when that input is a piece.
    @inline(__always)
    func pieceScatter(_ i: Int) -> ScatterInfo? {
        if _fastPath(pieceInputs.isEmpty) { return nil }
        return pieceInputs.first { $0.0 == i }?.1
    }
    /// Name, kept value and gradient for graph pictures (GraphInspection.swift); usually nil.
    var inspection: NodeInspection?

    init(leaf: ()) {
        op = "Leaf"; inputCount = 0; rule = nil; isLeaf = true
    }

    init(op: String, _ a: GradNode?, _ b: GradNode? = nil, _ c: GradNode? = nil, count: Int,
         rule: @escaping (Tensor) -> [Tensor?]) {
        self.op = op; input0 = a; input1 = b; input2 = c; inputCount = count; self.rule = rule; isLeaf = false
    }

    init(op: String, inputs: [GradNode?], rule: @escaping (Tensor) -> [Tensor?]) {
        self.op = op; inputCount = inputs.count; self.rule = rule; isLeaf = false
        if inputs.count > 0 { input0 = inputs[0] }
        if inputs.count > 1 { input1 = inputs[1] }
        if inputs.count > 2 { input2 = inputs[2] }
        if inputs.count > 3 { moreInputs = Array(inputs[3...]) }
    }

    /// The node of input `i`.
    @inline(__always)
    func input(_ i: Int) -> GradNode? {
        switch i {
        case 0: return input0
        case 1: return input1
        case 2: return input2
        default: return moreInputs[i - 3]
        }
    }

    /// Remembers that the rule reads `t`, at its storage's current version.
    @inline(__always)
    func save(_ t: Tensor) {
        let s = t.rootStorage
        if saved0 == nil { savedVersion0 = s.version; saved0 = s }
        else if saved1 == nil { savedVersion1 = s.version; saved1 = s }
        else { moreSaved.append((s, s.version)) }
    }

    /// Traps if a saved tensor was written in place since the op ran (PyTorch's "one of
    /// the variables needed for gradient computation has been modified by an inplace
    /// operation"): the rule would silently compute a wrong gradient from the new values.
    @inline(__always)
    func checkSaved() {
        if let s = saved0, s.version != savedVersion0 { Self.fail(s, savedVersion0, op) }
        if let s = saved1, s.version != savedVersion1 { Self.fail(s, savedVersion1, op) }
        for (s, v) in moreSaved where s.version != v { Self.fail(s, v, op) }
    }

    private static func fail(_ s: TensorStorage, _ version: Int, _ op: String) -> Never {
        nablaFail("backward: a tensor of \(s.count) elements (\(s.dtype)) that \(op) saved for its gradient was modified by an in-place operation after the forward pass (it is at version \(s.version); \(op) saved version \(version)). An optimizer step or assignInPlace ran between this forward pass and backward(): call backward() before stepping, or run the forward pass again after the step")
    }

    /// Drops the links to the inputs and the rule (the graph is released).
    func release() {
        input0 = nil; input1 = nil; input2 = nil
        if !moreInputs.isEmpty { moreInputs = [] }
        saved0 = nil; saved1 = nil
        if !moreSaved.isEmpty { moreSaved = [] }
        inputCount = 0
        rule = nil
    }

    /// Moves the inputs that only this node keeps alive onto `stack`.
    func detachInputs(onto stack: inout [GradNode]) {
        rule = nil   // a rule may hold input tensors: drop it before judging uniqueness
        if isKnownUniquelyReferenced(&input0) { stack.append(input0!) }
        if isKnownUniquelyReferenced(&input1) { stack.append(input1!) }
        if isKnownUniquelyReferenced(&input2) { stack.append(input2!) }
        for i in moreInputs.indices where isKnownUniquelyReferenced(&moreInputs[i]) { stack.append(moreInputs[i]!) }
        release()
    }

    deinit {
        // Unlink long chains iteratively so that dropping a graph of a million nodes
        // never recurses a million deinit calls deep. Rules capture only detached
        // tensors, but release the rule first anyway, while the inputs are still held.
        guard inputCount > 0 else { return }
        rule = nil
        var stack: [GradNode] = []
        detachInputs(onto: &stack)
        while var n = stack.popLast() {
            if isKnownUniquelyReferenced(&n) { n.detachInputs(onto: &stack) }
        }
    }
}

/// Where a slice's elements sit in its input: the input's shape and, in the input's
/// row-major layout, the slice's shape, strides and offset (a class, so a graph node
/// pays one pointer for it).
final class ScatterInfo {
    let inShape: [Int]
    let outShape: [Int]
    let strides: [Int]
    let offset: Int
    init(inShape: [Int], outShape: [Int], strides: [Int], offset: Int) {
        self.inShape = inShape; self.outShape = outShape; self.strides = strides; self.offset = offset
    }

    /// Adds the slice's gradient `g` into `acc`, a gradient shaped like the input, in place.
    func add(_ g: Tensor, into acc: inout Tensor) {
        nablaCheck(acc.shape == inShape, "backward: gradient of shape \(acc.shape) where \(inShape) was expected")
        acc.stridedAddInPlace(g.to(acc.dtype), shape: outShape, strides: strides, offset: offset)
    }
}

/// Global switches of the autograd engine.
public enum Autograd {
    /// Whether operations on this thread currently record a graph.
    public static var isGradEnabled: Bool { nabla_grad_enabled() != 0 }
}

/// Runs `body` without recording any graph on this thread (PyTorch's `torch.no_grad()`).
///
/// Results do not require gradients and no graph nodes are allocated.
@discardableResult
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    let prev = nabla_grad_enabled()
    nabla_set_grad_enabled(0)
    defer { nabla_set_grad_enabled(prev) }
    return try body()
}

extension Tensor {
    /// Whether gradients flow to this tensor.
    ///
    /// Setting it on a tensor makes it a leaf of future graphs (PyTorch's `requires_grad_`);
    /// clearing it detaches the tensor.
    public var requiresGrad: Bool {
        get { node.map { !$0.frozen } ?? false }
        set {
            if newValue {
                requireGradientDType()
                if node == nil { makeUnique(); node = GradNode(leaf: ()) }
            } else {
                node = nil
            }
        }
    }

    /// This tensor marked as requiring gradients (a new leaf).
    public func requiringGrad() -> Tensor {
        requireGradientDType()
        var t = self
        // A parameter is updated in place; give it storage no other tensor shares.
        t.makeUnique()
        t.node = GradNode(leaf: ())
        return t
    }

    /// Traps unless this tensor's dtype can carry gradients (float32 or float64).
    func requireGradientDType() {
        nablaCheck(dtype.isFloatingPoint, "requiresGrad: only floating-point tensors can require gradients; this tensor is \(dtype) (shape \(shape)). Integer and boolean tensors (labels, indices, masks) carry no gradient; convert with .to(.float32) first if you need one")
    }

    /// Whether this parameter is frozen, so that no gradient is computed for it.
    ///
    /// A frozen parameter keeps its identity (and stays in a module's parameter list), but no
    /// gradient is computed for it and optimizers skip it. Shared by every copy of the tensor.
    public var isFrozen: Bool {
        get { node?.frozen ?? false }
        nonmutating set {
            nablaCheck(node?.isLeaf ?? false, "isFrozen: only a leaf that requires gradients can be frozen")
            node!.frozen = newValue
        }
    }

    /// Overwrites this tensor's elements in place with `values`, without recording a graph operation.
    ///
    /// `values` must have the same shape; it is converted to this tensor's dtype.
    ///
    /// Unlike every other mutation this does not copy shared storage first: it is how
    /// optimizers and state-dict loading update a parameter so that every holder of the
    /// parameter (the module, the optimizer) sees the new values, as in PyTorch.
    public func assignInPlace(_ values: Tensor) {
        nablaCheck(values.shape == shape, "assignInPlace: value of shape \(values.shape) does not match \(shape)")
        nablaCheck(!base.isView, "assignInPlace: this tensor is a view of another tensor's storage (a slice, transpose or expand); write to the tensor it was taken from, or to .contiguous()")
        let v = values.to(dtype)
        base.bumpVersion()
        base.raw.copyMemory(from: v.storage.raw, byteCount: count * dtype.byteSize)
    }

    /// Runs `body` with a mutable pointer to this tensor's float32 elements, in place.
    ///
    /// There is no copy-on-write: this is for optimizers (see ``assignInPlace(_:)``).
    public func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        nablaCheck(dtype == .float32, "withUnsafeMutableFloats: tensor is \(dtype)")
        nablaCheck(!base.isView, "withUnsafeMutableFloats: this tensor is a view of another tensor's storage; call .contiguous() first")
        base.bumpVersion()
        return try body(UnsafeMutableBufferPointer(start: pointer(Float.self), count: count))
    }

    /// Runs `body` with a mutable pointer to this tensor's float64 elements, in place.
    public func withUnsafeMutableDoubles<R>(_ body: (UnsafeMutableBufferPointer<Double>) throws -> R) rethrows -> R {
        nablaCheck(dtype == .float64, "withUnsafeMutableDoubles: tensor is \(dtype)")
        nablaCheck(!base.isView, "withUnsafeMutableDoubles: this tensor is a view of another tensor's storage; call .contiguous() first")
        base.bumpVersion()
        return try body(UnsafeMutableBufferPointer(start: pointer(Double.self), count: count))
    }

    /// An identifier shared by all copies of a tensor that requires gradients.
    ///
    /// It is nil for a tensor that does not require gradients; optimizers key their
    /// per-parameter state by it.
    public var parameterID: ObjectIdentifier? { node.map { ObjectIdentifier($0) } }

    /// True for tensors not produced by a recorded operation.
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// The accumulated gradient of a leaf after ``backward(_:)``; nil before.
    public var grad: Tensor? {
        get { node?.grad }
        nonmutating set {
            nablaCheck(node != nil, "grad: cannot set the gradient of a tensor that does not require gradients")
            if let g = newValue {
                nablaCheck(g.shape == shape && g.dtype == dtype,
                           "grad: a gradient of shape \(g.shape) (\(g.dtype)) cannot belong to a tensor of shape \(shape) (\(dtype))")
            }
            node!.grad = newValue?.contiguous()
        }
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { node?.grad = nil }

    /// The same values, cut from the graph: the result does not require gradients.
    public func detached() -> Tensor {
        var t = self
        t.node = nil
        return t
    }

    /// The name of the operation that produced this tensor, if it is in a graph.
    public var gradFunctionName: String? {
        guard let n = node, !n.isLeaf else { return nil }
        return n.op + "Backward"
    }

    /// Wraps a freshly computed `value` into the graph: if gradients are enabled and any
    /// input requires them, the result gets a node whose rule is `backward`.
    static func record(_ value: Tensor, op: @autoclosure () -> String, inputs: [Tensor],
                       _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard nabla_grad_enabled() != 0 else { return value }
        var any = false
        for t in inputs { if let n = t.node, !n.frozen { any = true; break } }
        guard any else { return value }
        var out = value
        out.node = GradNode(op: op(), inputs: inputs.map { $0.node.flatMap { $0.frozen ? nil : $0 } }, rule: backward)
        for (i, t) in inputs.enumerated() { out.node!.notePiece(t, at: i) }
        if GraphCapture.isActive { GraphCapture.note(out, inputs) }
        return out
    }

    /// Records a user-defined differentiable operation (PyTorch's `autograd.Function`).
    ///
    /// `value` is the result, already computed (from detached inputs or inside
    /// ``withoutGrad(_:)``). `backward` receives the upstream gradient (shaped like `value`)
    /// and returns one gradient per input, shaped like that input, or nil for an input that
    /// needs none. The rule runs without recording. When no input requires gradients, or
    /// gradients are disabled, `value` is returned as it is and `backward` is never called.
    ///
    /// ```swift
    /// // y = x³ with its own derivative 3x²
    /// let xd = x.detached()
    /// let y = Tensor.custom(op: "Cube", value: xd * xd * xd, inputs: [x]) { g in [g * xd * xd * 3] }
    /// ```
    public static func custom(op: String, value: Tensor, inputs: [Tensor],
                              backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        record(value.detached(), op: op, inputs: inputs) { g in
            let grads = backward(g)
            nablaCheck(grads.count == inputs.count, "\(op) backward: returned \(grads.count) gradients for \(inputs.count) inputs")
            return grads
        }
    }

    /// Marks `tensors` as read by the backward rule of the op that produced this tensor,
    /// so backward traps if any of them is written in place before it runs. Returns self.
    @inline(__always)
    func saving(_ a: Tensor) -> Tensor {
        if let n = node, !n.isLeaf { n.save(a) }
        return self
    }

    /// ``saving(_:)`` for two tensors, each only when its condition holds (a rule reads an
    /// operand only for the other operand's gradient).
    @inline(__always)
    func saving(_ a: Tensor, if saveA: Bool = true, _ b: Tensor, if saveB: Bool = true) -> Tensor {
        if let n = node, !n.isLeaf {
            if saveA { n.save(a) }
            if saveB { n.save(b) }
        }
        return self
    }

    /// ``saving(_:)`` for three tensors.
    func saving(_ a: Tensor, _ b: Tensor, _ c: Tensor) -> Tensor {
        if let n = node, !n.isLeaf { n.save(a); n.save(b); n.save(c) }
        return self
    }

    /// The current version of this tensor's storage: how many in-place writes
    /// (``assignInPlace(_:)``, optimizer steps) it has had. Backward compares it with the
    /// version each op saved.
    public var version: Int { rootStorage.version }

    /// This tensor's node if it takes part in new graphs (requires gradients, not frozen).
    var liveNode: GradNode? { node.flatMap { $0.frozen ? nil : $0 } }

    /// Whether an op on `a` must record a graph node (checked before building the
    /// backward closure, so ops outside a graph allocate no closure context).
    @inline(__always)
    static func recording(_ a: Tensor) -> Bool { a.node != nil && nabla_grad_enabled() != 0 }

    /// Whether an op on `a` and `b` must record a graph node.
    @inline(__always)
    static func recording(_ a: Tensor, _ b: Tensor) -> Bool { (a.node != nil || b.node != nil) && nabla_grad_enabled() != 0 }

    /// ``record(_:op:inputs:_:)`` for a one-input op, without building an input array.
    static func record(_ value: Tensor, op: @autoclosure () -> String, _ a: Tensor,
                       _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard let na = a.node, !na.frozen, nabla_grad_enabled() != 0 else { return value }
        var out = value
        out.node = GradNode(op: op(), na, count: 1, rule: backward)
        out.node!.notePiece(a, at: 0)
        if GraphCapture.isActive { GraphCapture.note(out, [a]) }
        return out
    }

    /// ``record(_:op:inputs:_:)`` for a two-input op, without building an input array.
    static func record(_ value: Tensor, op: @autoclosure () -> String, _ a: Tensor, _ b: Tensor,
                       _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        let na = a.node.flatMap { $0.frozen ? nil : $0 }, nb = b.node.flatMap { $0.frozen ? nil : $0 }
        guard na != nil || nb != nil, nabla_grad_enabled() != 0 else { return value }
        var out = value
        out.node = GradNode(op: op(), na, nb, count: 2, rule: backward)
        out.node!.notePiece(a, at: 0); out.node!.notePiece(b, at: 1)
        if GraphCapture.isActive { GraphCapture.note(out, [a, b]) }
        return out
    }

    /// Computes gradients of this tensor with respect to every leaf that requires them.
    ///
    /// The gradients accumulate into each leaf's ``grad``.
    ///
    /// For a scalar, `gradient` defaults to 1. For a non-scalar an explicit upstream
    /// gradient of the same shape is required. The graph is released afterwards (as
    /// PyTorch with `retain_graph=False`); calling backward twice through the same graph
    /// traps. Higher-order gradients are not supported: the rules run without recording.
    public func backward(_ gradient: Tensor? = nil) { backward(gradient, retainGraph: false) }

    /// Computes gradients like ``backward(_:)``; with `retainGraph` the graph is kept, so that
    /// backward can run through it again, and every interior node keeps its gradient for
    /// ``graph()`` (PyTorch's `retain_graph=True` together with `retain_grad()`).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool) {
        guard let root = node else {
            nablaFail("backward: this tensor does not require gradients (no input was marked requiresGrad, or it was computed inside withoutGrad)")
        }
        let seed: Tensor
        if let g = gradient {
            nablaCheck(g.shape == shape, "backward: upstream gradient has shape \(g.shape) but the tensor has shape \(shape)")
            seed = g.to(dtype).detached()
        } else {
            nablaCheck(count == 1, "backward: the tensor has shape \(shape); a non-scalar needs an explicit upstream gradient, as in backward(Tensor.ones(like: y))")
            seed = Tensor.ones(shape, dtype: dtype)
        }
        if root.isLeaf {
            Tensor.accumulate(into: root, seed)
            return
        }
        nablaCheck(root.rule != nil, "backward: the graph of this tensor was already released by an earlier backward()")
        let order = Tensor.topologicalOrder(from: root)
        if retainGraph { for n in order { n.grad = nil; n.inspection?.retainedGrad = nil } }
        if base.isView, let piece = base.view!.piece {
            Tensor.accumulateSlice(into: root, seed, piece)   // backward from a piece of a split
        } else {
            root.grad = seed
        }
        withoutGrad {
            for n in order.reversed() {
                guard let rule = n.rule, let g = n.grad else {
                    n.grad = nil
                    if !retainGraph { n.release() }
                    continue
                }
                n.checkSaved()
                if retainGraph { n.inspectionRecord.retainedGrad = g }
                if let sc = n.scatter, n.pieceInputs.isEmpty {
                    if let p = n.input0 { Tensor.accumulateSlice(into: p, g, sc) }
                } else {
                    let grads = rule(g)
                    for i in 0..<Swift.min(n.inputCount, grads.count) {
                        guard let p = n.input(i), let pg = grads[i] else { continue }
                        if let piece = n.pieceScatter(i) {
                            Tensor.accumulateSlice(into: p, pg, piece)   // a piece of a split
                        } else {
                            Tensor.accumulate(into: p, pg)
                        }
                    }
                }
                // Clear the pass's running sum; without retainGraph, release this part of the graph.
                n.grad = nil
                if !retainGraph { n.release() }
            }
        }
    }

    /// Adds `g` to a node's gradient (in place when the buffer is not shared).
    static func accumulate(into node: GradNode, _ g: Tensor) {
        if node.grad == nil {
            // A leaf's gradient is read in place by optimizers: never keep a view there.
            node.grad = node.isLeaf ? g.detached().contiguous() : g.detached()
        } else {
            var acc = node.grad!
            node.grad = nil
            acc.addInPlace(g)
            node.grad = acc
        }
    }

    /// Adds the gradient `g` of a slice into the gradient of its input, in place.
    ///
    /// The input's gradient is allocated once (zeros) by the first slice that reaches it;
    /// every slice then writes only its own elements.
    static func accumulateSlice(into node: GradNode, _ g: Tensor, _ sc: ScatterInfo) {
        var acc = node.grad ?? Tensor.zeros(sc.inShape, dtype: g.dtype)
        node.grad = nil
        sc.add(g, into: &acc)
        node.grad = acc
    }

    /// Records a slice-like op: a view whose gradient is added into its input's gradient
    /// at the places `info` describes.
    static func recordSlice(_ value: Tensor, op: String, _ a: Tensor, _ info: ScatterInfo) -> Tensor {
        var out = record(value, op: op, a) { g in
            // The general rule (the backward loop uses `scatter` instead): a full-size gradient.
            var full = Tensor.zeros(info.inShape, dtype: g.dtype)
            info.add(g, into: &full)
            return [full]
        }
        out.node?.scatter = info
        return out
    }

    /// Interior nodes reachable from `root`, parents before children, found iteratively.
    static func topologicalOrder(from root: GradNode) -> [GradNode] {
        let mark = UInt64(nabla_next_graph_mark())
        var order: [GradNode] = []
        // Explicit stack of (node, next input index): a post-order DFS without recursion.
        var stack: [(GradNode, Int)] = [(root, 0)]
        root.visitMark = mark
        while !stack.isEmpty {
            let (n, i) = stack[stack.count - 1]
            if i < n.inputCount {
                stack[stack.count - 1].1 = i + 1
                if let p = n.input(i), !p.isLeaf, p.visitMark != mark {
                    nablaCheck(p.rule != nil, "backward: part of this graph (a \(p.op) op) was already released by an earlier backward(); compute it again for a second backward pass")
                    p.visitMark = mark
                    stack.append((p, 0))
                }
            } else {
                order.append(n)
                stack.removeLast()
            }
        }
        return order
    }
}
