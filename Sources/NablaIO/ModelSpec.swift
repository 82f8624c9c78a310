import Foundation
import NablaCore
import NablaNN
import Yams

/// One layer of a ``ModelSpec``: a type name and the options that type takes.
///
/// In YAML: `{type: linear, out: 128}`, `{type: relu}`, `{type: dropout, p: 0.2}`,
/// `{type: leaky_relu, alpha: 0.1}`, `{type: maxout, out: 32, pieces: 3}`,
/// `{type: flatten}`, `{type: reshape, shape: [8, 8]}`. A linear layer's input size is
/// inferred from the previous layer; `in` may be given and is then checked.
public struct LayerSpec: Codable, Equatable, Sendable {
    /// The layer type (see ``ModelSpec/layerTypes``).
    public var type: String
    /// Output features (linear, maxout).
    public var out: Int?
    /// Input features (optional; checked against the previous layer).
    public var `in`: Int?
    /// Whether a linear layer has a bias (default true).
    public var bias: Bool?
    /// Dropout probability.
    public var p: Double?
    /// Slope or scale (leaky_relu, elu).
    public var alpha: Double?
    /// Affine pieces of a maxout layer.
    public var pieces: Int?
    /// Target shape of a reshape layer (per example).
    public var shape: [Int]?
    /// Axis of softmax / log_softmax.
    public var axis: Int?

    /// A layer spec of the given type.
    public init(type: String, out: Int? = nil, in: Int? = nil, bias: Bool? = nil, p: Double? = nil, alpha: Double? = nil,
                pieces: Int? = nil, shape: [Int]? = nil, axis: Int? = nil) {
        self.type = type; self.out = out; self.in = `in`; self.bias = bias; self.p = p; self.alpha = alpha
        self.pieces = pieces; self.shape = shape; self.axis = axis
    }
}

/// An error in an architecture description, saying which layer is at fault.
///
/// The problem may be an unknown layer, a missing option or sizes that do not fit together.
public struct ModelSpecError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// What was wrong and where.
    public let message: String
    /// An error with the given one-line message.
    public init(message: String) { self.message = message }
    /// A one-line description of the error.
    public var description: String { message }
    /// A one-line description of the error (the same as ``description``).
    public var errorDescription: String? { message }
}

/// A model architecture as data: the input shape of one example and a list of layers.
///
/// It is what `nabla train --model FILE` reads (YAML or JSON) and what a saved model file
/// carries in its metadata, so that the file alone is enough to rebuild the model.
///
/// ```yaml
/// input: [64]
/// layers:
///   - {type: linear, out: 128}
///   - {type: relu}
///   - {type: linear, out: 10}
/// ```
public struct ModelSpec: Codable, Equatable, Sendable {
    /// The shape of one input example (without the batch axis).
    public var input: [Int]
    /// The layers in order.
    public var layers: [LayerSpec]

    /// A spec from its parts.
    public init(input: [Int], layers: [LayerSpec]) { self.input = input; self.layers = layers }

    /// The activation names accepted as layer types.
    public static let activations = ["identity", "binary_step", "heaviside", "sign", "sigmoid", "tanh", "hard_tanh",
                                     "hard_sigmoid", "piecewise_linear", "relu", "relu6", "leaky_relu", "elu", "selu",
                                     "gelu", "gelu_tanh", "softplus", "silu", "mish", "softmax", "log_softmax"]
    /// Every accepted layer type.
    public static let layerTypes = ["linear", "dropout", "flatten", "reshape", "maxout"] + activations

    /// A multilayer perceptron: `inputs → hidden… → outputs` with `activation` between.
    public static func mlp(inputs: Int, hidden: [Int], outputs: Int, activation: String = "relu", dropout: Double = 0) -> ModelSpec {
        var layers: [LayerSpec] = []
        for h in hidden {
            layers.append(LayerSpec(type: "linear", out: h))
            layers.append(LayerSpec(type: activation))
            if dropout > 0 { layers.append(LayerSpec(type: "dropout", p: dropout)) }
        }
        layers.append(LayerSpec(type: "linear", out: outputs))
        return ModelSpec(input: [inputs], layers: layers)
    }

    /// Parses YAML or JSON (JSON is YAML), naming `source` in errors.
    ///
    /// Text longer than 1 MiB or nested more than 64 levels deep is rejected before parsing,
    /// and so are non-finite numbers (`p`, `alpha`), which could not be saved in a model file.
    public static func parse(_ text: String, source: String = "<model>") throws -> ModelSpec {
        try ArchitectureText.check(text, source: source)
        try checkScalars(text, source: source)
        let spec: ModelSpec
        do {
            spec = try YAMLDecoder().decode(ModelSpec.self, from: text)
        } catch let e as DecodingError {
            if case .dataCorrupted(let c) = e, c.codingPath.isEmpty, let yaml = c.underlyingError {
                throw ModelSpecError(message: "\(source): not valid YAML or JSON: \(firstLine(of: yaml))")
            }
            throw ModelSpecError(message: "\(source): \(describe(e))")
        } catch {
            throw ModelSpecError(message: "\(source): not valid YAML or JSON: \(firstLine(of: error))")
        }
        try checkKeys(text, source: source)
        for (i, l) in spec.layers.enumerated() {
            for (name, value) in [("p", l.p), ("alpha", l.alpha)] {
                if let value, !value.isFinite {
                    throw ModelSpecError(message: "\(source): layer \(i) (\(l.type)): '\(name)' must be a finite number, got \(value)")
                }
            }
        }
        return spec
    }

    /// The options each layer type takes (besides `type`).
    public static func options(of type: String) -> [String]? {
        switch type {
        case "linear": return ["out", "in", "bias"]
        case "maxout": return ["out", "in", "pieces"]
        case "dropout": return ["p"]
        case "flatten": return []
        case "reshape": return ["shape"]
        case "leaky_relu", "elu": return ["alpha"]
        case "softmax", "log_softmax": return ["axis"]
        case let t where activations.contains(t): return []
        default: return nil
        }
    }

    /// Rejects scalars with a colon before they are decoded. YAML 1.1 reads `1:30` as a
    /// base-60 integer, and Yams 5 computes it with trapping arithmetic, so a long enough
    /// `out: 1:2:3:4:5:6:7:8:9:10:11:12` crashed the program (found by fuzzing). No value of
    /// an architecture (numbers, layer type names) contains a colon.
    static func checkScalars(_ text: String, source: String) throws {
        guard let root = try? Yams.compose(yaml: text) else { return }   // the decoder reports syntax errors
        var stack: [Node] = [root]
        while let node = stack.popLast() {
            switch node {
            case .scalar(let s):
                if s.string.contains(":") {
                    let shown = s.string.count > 40 ? String(s.string.prefix(40)) + "…" : s.string
                    throw ModelSpecError(message: "\(source): line \(s.mark.map { String($0.line) } ?? "?"): '\(shown)' is not a valid value (no architecture value contains ':'; YAML base-60 numbers are not accepted)")
                }
            case .mapping(let m):
                for (k, v) in m { stack.append(k); stack.append(v) }
            case .sequence(let q):
                stack.append(contentsOf: q)
            default:
                break
            }
        }
    }

    /// Rejects keys the architecture format does not have: a misspelt option
    /// (`activaton: relu`) or one the layer type does not take used to be ignored silently.
    static func checkKeys(_ text: String, source: String) throws {
        guard let root = try? Yams.compose(yaml: text), let top = root.mapping else { return }
        for key in top.keys.compactMap(\.string) where key != "input" && key != "layers" {
            throw ModelSpecError(message: "\(source): unknown key '\(key)' at the top level; an architecture has 'input' and 'layers'")
        }
        guard let layers = top["layers"]?.sequence else { return }
        for (i, node) in layers.enumerated() {
            guard let m = node.mapping, let type = m["type"]?.string, let allowed = options(of: type) else { continue }
            for key in m.keys.compactMap(\.string) where key != "type" && !allowed.contains(key) {
                let takes = allowed.isEmpty ? "\(type) takes no options" : "\(type) takes \(allowed.map { "'\($0)'" }.joined(separator: ", "))"
                throw ModelSpecError(message: "\(source): layer \(i) (\(type)): unknown option '\(key)'; \(takes)")
            }
        }
    }

    /// Reads a YAML or JSON file.
    public static func read(contentsOf path: String) throws -> ModelSpec {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > ArchitectureText.maxBytes {
            throw ModelSpecError(message: "\(path): the architecture file is \(size) bytes long, more than the \(ArchitectureText.maxBytes)-byte limit")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ModelSpecError(message: "\(path): cannot read the architecture file")
        }
        let spec = try parse(text, source: path)
        do { try spec.validated() } catch let e as ModelSpecError {
            throw ModelSpecError(message: e.message.replacingOccurrences(of: "architecture:", with: "\(path):"))
        }
        return spec
    }

    /// The first line of an error's description: Yams's messages go on to quote the offending
    /// line of text under a caret, and error messages here are one line.
    static func firstLine(of error: Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch e {
        case .keyNotFound(let k, let c): return "missing key '\(k.stringValue)' at \(path(c.codingPath).isEmpty ? "top level" : path(c.codingPath))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at \(path(c.codingPath)): \(c.debugDescription)"
        case .dataCorrupted(let c):
            return path(c.codingPath).isEmpty ? c.debugDescription : "invalid data at \(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// Compact JSON (stored in model files).
    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // With numbers written as strings when they are not finite, encoding this plain
        // value type cannot fail; the fallback is never reached.
        guard let data = try? enc.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The number of outputs of the last layer (for an MLP: classes or targets).
    public func outputShape() throws -> [Int] { try validated().last ?? input }

    /// Checks every layer and returns the per-example shape after each one.
    @discardableResult
    public func validated() throws -> [[Int]] {
        guard !input.isEmpty, input.allSatisfy({ $0 > 0 }) else {
            throw ModelSpecError(message: "architecture: input shape \(input) must be non-empty with positive sizes")
        }
        guard Shape.checkedCount(input) != nil else {
            throw ModelSpecError(message: "architecture: input shape \(input) has more elements than fit in 64 bits")
        }
        guard !layers.isEmpty else { throw ModelSpecError(message: "architecture: no layers") }
        var shape = input
        var shapes: [[Int]] = []
        for (i, l) in layers.enumerated() {
            let at = "architecture: layer \(i) (\(l.type))"
            func need(_ v: Int?, _ name: String) throws -> Int {
                guard let v else { throw ModelSpecError(message: "\(at): missing '\(name)'") }
                guard v > 0 else { throw ModelSpecError(message: "\(at): '\(name)' must be positive, got \(v)") }
                return v
            }
            switch l.type {
            case "linear", "maxout":
                let out = try need(l.out, "out")
                if l.type == "maxout" { _ = try need(l.pieces, "pieces") }
                let inF = shape.last!
                if let declared = l.in, declared != inF {
                    throw ModelSpecError(message: "\(at): declares in = \(declared) but the previous layer produces \(inF) features (shape \(shape))")
                }
                shape[shape.count - 1] = out
                guard Shape.checkedCount(shape) != nil, ModelSpec.layerParameters(l, inFeatures: inF) != nil else {
                    throw ModelSpecError(message: "\(at): \(inF) → \(out) features is too large to represent (sizes overflow 64 bits)")
                }
            case "dropout":
                if let p = l.p, !(p >= 0 && p < 1) { throw ModelSpecError(message: "\(at): p must be in [0, 1), got \(p)") }
            case "flatten":
                shape = [Shape.count(shape)]   // fits: every shape so far was checked
            case "reshape":
                guard let s = l.shape, !s.isEmpty, s.allSatisfy({ $0 > 0 }), Shape.checkedCount(s) == Shape.count(shape) else {
                    throw ModelSpecError(message: "\(at): shape \(l.shape.map { "\($0)" } ?? "missing") does not hold the \(Shape.count(shape)) values of shape \(shape)")
                }
                shape = s
            case let t where ModelSpec.activations.contains(t):
                if let a = l.axis, !(a >= -(shape.count + 1) && a <= shape.count) {
                    // The batch axis comes first, so an example of rank r gives tensors of rank r + 1.
                    throw ModelSpecError(message: "\(at): axis \(a) is out of range for inputs of shape [batch] + \(shape)")
                }
            default:
                throw ModelSpecError(message: "\(at): unknown layer type '\(l.type)'; known types: \(ModelSpec.layerTypes.joined(separator: ", "))")
            }
            shapes.append(shape)
        }
        return shapes
    }

    /// The parameters of one linear or maxout layer on `inFeatures` inputs (nil on overflow).
    static func layerParameters(_ l: LayerSpec, inFeatures: Int) -> Int? {
        guard let out = l.out else { return 0 }
        let pieces = l.type == "maxout" ? (l.pieces ?? 1) : 1
        let bias = l.type == "maxout" || (l.bias ?? true)
        guard let units = CheckedSize.product(out, pieces), let w = CheckedSize.product(units, inFeatures) else { return nil }
        return bias ? CheckedSize.sum(w, units) : w
    }

    /// The number of parameters the architecture declares, computed from the spec alone
    /// (nothing is allocated), with checked arithmetic.
    public func parameterCount() throws -> Int {
        let shapes = try validated()
        var total = 0
        var shape = input
        for (i, l) in layers.enumerated() {
            if l.type == "linear" || l.type == "maxout" {
                guard let n = ModelSpec.layerParameters(l, inFeatures: shape.last!), let t = CheckedSize.sum(total, n) else {
                    throw ModelSpecError(message: "architecture: layer \(i) (\(l.type)): parameter count overflows 64 bits")
                }
                total = t
            }
            shape = shapes[i]
        }
        return total
    }

    /// Bytes needed to hold the parameters in `dtype` (nil when that overflows).
    public func parameterBytes(dtype: DType = .float32) throws -> Int? {
        CheckedSize.product(try parameterCount(), dtype.byteSize)
    }

    /// Builds the model (a ``Sequential``), initialising parameters from `generator`.
    ///
    /// The architecture's parameters are counted first: if they need more than `limits`
    /// allows, it throws a ``ResourceLimitError`` instead of allocating them.
    public func build(generator: RandomGenerator = .global, limits: ResourceLimits = .standard) throws -> Sequential {
        let shapes = try validated()
        let count = try parameterCount()
        try limits.check(bytes: CheckedSize.product(count, DType.float32.byteSize), for: "the architecture (\(count) parameters)")
        var modules: [Module] = []
        var shape = input
        for (i, l) in layers.enumerated() {
            switch l.type {
            case "linear": modules.append(Linear(shape.last!, l.out!, bias: l.bias ?? true, generator: generator))
            case "maxout": modules.append(Maxout(shape.last!, l.out!, pieces: l.pieces!, generator: generator))
            case "dropout": modules.append(Dropout(l.p ?? 0.5, generator: generator))
            case "flatten": modules.append(Flatten())
            case "reshape": modules.append(Reshape(l.shape!))
            default: modules.append(ModelSpec.activationLayer(l))
            }
            shape = shapes[i]
        }
        return Sequential(modules)
    }

    /// The layer table of ``NablaNN/Module/summary(inputShape:dtype:)``, computed from the
    /// architecture alone: shapes from ``validated()``, counts from ``parameterCount()``.
    /// Nothing is built or allocated, so it is safe on any architecture.
    public func summary() throws -> String {
        let shapes = try validated()
        var rows: [(String, String, String)] = []
        var shape = input
        var total = 0
        for (i, l) in layers.enumerated() {
            let n = ModelSpec.layerParameters(l, inFeatures: shape.last!) ?? 0
            total = CheckedSize.sum(total, n) ?? Int.max
            let type: String
            switch l.type {
            case "linear": type = "Linear"
            case "maxout": type = "Maxout"
            case "dropout": type = "Dropout"
            case "flatten": type = "Flatten"
            case "reshape": type = "Reshape"
            default: type = ModelSpec.activationLayer(l).typeName
            }
            rows.append(("layers.\(i) (\(type))", "\([1] + shapes[i])", "\(n)"))
            shape = shapes[i]
        }
        return summaryTable(title: "Sequential summary for input shape \([1] + input)", rows: rows, total: total, frozen: 0)
    }

    static func activationLayer(_ l: LayerSpec) -> Module {
        switch l.type {
        case "identity": return Identity()
        case "binary_step": return BinaryStep()
        case "heaviside": return Heaviside()
        case "sign": return Sign()
        case "sigmoid": return Sigmoid()
        case "tanh": return Tanh()
        case "hard_tanh": return HardTanh()
        case "hard_sigmoid": return HardSigmoid()
        case "piecewise_linear": return PiecewiseLinear()
        case "relu": return ReLU()
        case "relu6": return ReLU6()
        case "leaky_relu": return LeakyReLU(l.alpha ?? 0.01)
        case "elu": return ELU(alpha: l.alpha ?? 1)
        case "selu": return SELU()
        case "gelu": return GELU()
        case "gelu_tanh": return GELU(approximation: .tanh)
        case "softplus": return Softplus()
        case "silu": return SiLU()
        case "mish": return Mish()
        case "softmax": return Softmax(axis: l.axis ?? -1)
        case "log_softmax": return LogSoftmax(axis: l.axis ?? -1)
        default: nablaFail("ModelSpec: unknown activation \(l.type)")
        }
    }
}
