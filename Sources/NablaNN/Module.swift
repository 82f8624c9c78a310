import NablaCore

/// The base class of every layer and model: a callable object that owns tensors and submodules.
///
/// It owns parameters (tensors that require gradients), buffers (other tensors, like
/// running statistics) and child modules, all discovered automatically from its stored
/// properties.
///
/// Subclass it, store parameters and children as properties, and override
/// ``forward(_:)``:
///
/// ```swift
/// final class TwoLayer: Module {
///     let fc1 = Linear(4, 8), fc2 = Linear(8, 1)
///     override func forward(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
/// }
/// let model = TwoLayer()
/// model.namedParameters().map(\.name)  // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
/// ```
///
/// Names follow PyTorch: a property's name, array elements by index (`layers.0.weight`).
/// Modules are reference types, and parameters are updated in place by optimizers, so a
/// model, its optimizer and any copy of a parameter always agree (as in PyTorch).
open class Module: CustomStringConvertible, @unchecked Sendable {
    /// Whether the module is in training mode (dropout active, batch statistics used).
    public private(set) var isTraining = true
    /// The module's dotted path inside the model it was last discovered in, for error messages.
    ///
    /// It is "" for the root.
    public internal(set) var path: String = ""

    /// Creates an empty module; subclasses call it after initialising their stored properties.
    public init() {}

    /// Computes the output of a unary module (one tensor to one tensor). Unary layers
    /// override this; a ``Layer`` with other inputs or outputs implements its own
    /// `callAsFunction(_:)` instead.
    open func forward(_ input: Tensor) -> Tensor {
        if let signature = nonUnarySignature {
            nablaFail("\(displayName) is a layer \(signature), not Tensor -> Tensor: call it with its own input type")
        }
        nablaFail("\(typeName).forward(_:) is not implemented")
    }

    /// Calls ``forward(_:)``; inside ``withGraphCapture(_:)`` the call is marked as one
    /// module call (``GraphCapture/withScope(_:isLeafModule:_:)``) so pictures can collapse it.
    ///
    /// Disfavoured, so that a ``Layer`` whose own `callAsFunction(_:)` takes a tensor but
    /// returns a tuple is called with that one.
    @_disfavoredOverload
    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard GraphCapture.isActive else { return forward(input) }
        let config = configDescription
        let label = (path.isEmpty ? "" : path + ": ") + typeName + (config.isEmpty ? "" : "(\(config))")
        return GraphCapture.withScope(label, isLeafModule: namedChildren().isEmpty) { forward(input) }
    }

    /// The class name, used in summaries and messages.
    public var typeName: String { String(describing: type(of: self)) }

    /// A short description of the layer's configuration, e.g. `"784 => 256"`.
    open var configDescription: String { "" }

    /// Display name used in error messages: the dotted path when known, else the type.
    public var displayName: String { path.isEmpty ? typeName : "'\(path)' (\(typeName))" }

    // MARK: Discovery

    /// The direct children with their property names.
    open func namedChildren() -> [(name: String, module: Module)] {
        var out: [(String, Module)] = []
        for (label, value) in Module.fields(of: self) {
            Module.collect(value, label) { name, v in
                if let m = v as? Module { out.append((name, m)) }
            }
        }
        return out
    }

    /// This module's own tensors (not its children's), with their property names, then
    /// its ``computedTensors``.
    func ownTensors() -> [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for (label, value) in Module.fields(of: self) {
            Module.collect(value, label) { name, v in
                if let t = v as? Tensor { out.append((name, t)) }
            }
        }
        return out + computedTensors
    }

    /// Tensors whose names are computed rather than taken from a property, for a layer
    /// whose number of parameters depends on its configuration (a recurrent layer's
    /// `weight_ih_l0`, `weight_ih_l1_reverse`, …). Empty by default. A tensor listed here
    /// must not also be stored where reflection finds it (a property, array or dictionary).
    open var computedTensors: [(name: String, tensor: Tensor)] { [] }

    static func fields(of object: AnyObject) -> [(String, Any)] {
        var result: [(String, Any)] = []
        var mirror: Mirror? = Mirror(reflecting: object)
        var chain: [Mirror] = []
        while let m = mirror { chain.append(m); mirror = m.superclassMirror }
        // Superclass fields first, as declared.
        for m in chain.reversed() {
            for child in m.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("_") { label.removeFirst() }    // property wrappers, lazy
                if label.hasPrefix("$__lazy_storage_$_") { label = String(label.dropFirst("$__lazy_storage_$_".count)) }
                if label == "isTraining" || label == "path" { continue }
                result.append((label, child.value))
            }
        }
        return result
    }

    /// Visits a field's value: a Tensor or Module, or an optional, array, dictionary or tuple
    /// of them (at any depth).
    ///
    /// Dictionary entries are named by key, in sorted key order (PyTorch's `ModuleDict` /
    /// `ParameterDict`: `heads.cat.weight`); tuple elements by label or position
    /// (`pair.0`). Parameters held this way used to be skipped silently, and so never trained.
    static func collect(_ value: Any, _ name: String, _ visit: (String, Any) -> Void) {
        if value is Tensor || value is Module { visit(name, value); return }
        let m = Mirror(reflecting: value)
        switch m.displayStyle {
        case .optional:
            if let inner = m.children.first { collect(inner.value, name, visit) }
        case .collection:
            for (i, c) in m.children.enumerated() { collect(c.value, "\(name).\(i)", visit) }
        case .dictionary:
            var entries: [(String, Any)] = []
            for c in m.children {
                let pair = Array(Mirror(reflecting: c.value).children)
                guard pair.count == 2 else { continue }
                entries.append(("\(pair[0].value)", pair[1].value))
            }
            for (key, v) in entries.sorted(by: { $0.0 < $1.0 }) { collect(v, "\(name).\(key)", visit) }
        case .tuple:
            for (i, c) in m.children.enumerated() {
                let label = c.label.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? String(i)
                collect(c.value, "\(name).\(label)", visit)
            }
        case .set:
            // A set has no stable order or names: refuse loudly rather than skip.
            for c in m.children where c.value is Tensor || c.value is Module {
                nablaFail("Module property '\(name)' is a Set holding tensors or modules; parameters there would have no stable names. Use an array or a dictionary.")
            }
        default:
            break
        }
    }

    /// Every module in the tree (this one first), with dotted paths.
    ///
    /// Also records each module's ``path``.
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var out: [(String, Module)] = []
        var stack: [(String, Module)] = [(prefix, self)]
        var seen = Set<ObjectIdentifier>()
        while let (name, m) = stack.popLast() {
            guard seen.insert(ObjectIdentifier(m)).inserted else { continue }
            m.path = name
            out.append((name, m))
            for (cn, c) in m.namedChildren().reversed() { stack.append((name.isEmpty ? cn : name + "." + cn, c)) }
        }
        return out
    }

    /// Every random generator stored in a module of the tree (a dropout layer's mask
    /// generator, a VAE's noise), with dotted names (`layers.2.generator`).
    ///
    /// Checkpoints save their states: they are part of where training stands. A generator
    /// held by two modules is listed once, under its first name.
    public func namedGenerators() -> [(name: String, generator: RandomGenerator)] {
        var out: [(String, RandomGenerator)] = []
        var seen = Set<ObjectIdentifier>()
        func visit(_ value: Any, _ name: String) {
            if let g = value as? RandomGenerator {
                if seen.insert(ObjectIdentifier(g)).inserted { out.append((name, g)) }
                return
            }
            let m = Mirror(reflecting: value)
            if m.displayStyle == .optional, let inner = m.children.first { visit(inner.value, name) }
        }
        for (prefix, m) in namedModules() {
            for (label, value) in Module.fields(of: m) { visit(value, prefix.isEmpty ? label : prefix + "." + label) }
        }
        return out
    }

    /// All parameters with PyTorch-style dotted names, in declaration order.
    ///
    /// Parameters are the tensors that require gradients, including frozen ones.
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        namedTensors().filter { $0.tensor.parameterID != nil }
    }

    /// All buffers (tensors that are not parameters, e.g. running statistics).
    public func namedBuffers() -> [(name: String, tensor: Tensor)] {
        namedTensors().filter { $0.tensor.parameterID == nil }
    }

    /// Parameters and buffers together: the module's state.
    public func namedTensors() -> [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for (prefix, m) in namedModules() {
            for (n, t) in m.ownTensors() { out.append((prefix.isEmpty ? n : prefix + "." + n, t)) }
        }
        return out
    }

    /// The trainable parameters (not frozen), as an optimizer wants them.
    public func parameters() -> [Tensor] {
        // A tensor shared by two layers (tied weights) is listed once.
        var seen = Set<ObjectIdentifier>()
        return namedParameters().map(\.tensor).filter { !$0.isFrozen && seen.insert($0.parameterID!).inserted }
    }

    /// The total number of elements over all parameters (frozen ones included).
    public var parameterCount: Int {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().filter { seen.insert($0.tensor.parameterID!).inserted }.reduce(0) { $0 + $1.tensor.count }
    }

    // MARK: Modes

    /// Switches this module and its children to training mode.
    @discardableResult
    public func train(_ on: Bool = true) -> Self {
        for (_, m) in namedModules() { m.isTraining = on }
        return self
    }

    /// Switches this module and its children to evaluation mode.
    @discardableResult
    public func eval() -> Self { train(false) }

    /// Freezes every parameter (no gradients; optimizers skip them).
    public func freeze() { for (_, p) in namedParameters() { p.isFrozen = true } }
    /// Unfreezes every parameter.
    public func unfreeze() { for (_, p) in namedParameters() { p.isFrozen = false } }

    /// Clears the gradients of every parameter.
    public func zeroGrad() { for (_, p) in namedParameters() { p.zeroGrad() } }

    // MARK: Printing

    /// Flux-style: `Linear(5 => 2)  # 12 parameters`, children indented.
    public var description: String { describe(indent: 0) }

    func describe(indent: Int) -> String {
        let kids = namedChildren()
        let pad = String(repeating: "  ", count: indent)
        if kids.isEmpty {
            let n = parameterCount
            return "\(typeName)(\(configDescription))" + (n > 0 ? "  # \(n) parameters" : "")
        }
        var s = "\(typeName)(\n"
        for (name, k) in kids { s += pad + "  (\(name)): " + k.describe(indent: indent + 1) + "\n" }
        s += pad + ")  # \(parameterCount) parameters"
        return s
    }

    // MARK: Checks

    /// Traps unless the input's last dimension is `expected`, naming this module.
    public func checkLastDimension(_ x: Tensor, _ expected: Int, function: String = "forward") {
        nablaCheck(x.rank >= 1 && x.shape.last == expected,
                   "\(displayName): expected input with last dimension \(expected) (shape [..., \(expected)]), got shape \(x.shape)")
    }
}
