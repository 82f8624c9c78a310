import Foundation
import NablaCore

/// The value of a layer option as an architecture writes it: a number, a boolean, a list of
/// integers or a name.
///
/// Literals build one: `["out": 128, "p": 0.2, "bias": false, "shape": [8, 8]]`.
public indirect enum OptionValue: Equatable, Sendable, Codable, CustomStringConvertible,
                         ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
                         ExpressibleByArrayLiteral, ExpressibleByStringLiteral {
    /// An integer.
    case int(Int)
    /// A real number.
    case double(Double)
    /// A boolean.
    case bool(Bool)
    /// A list of integers (a shape).
    case ints([Int])
    /// A name.
    case string(String)
    /// A list of layers (the body of a `residual` block).
    case layers([LayerSpec])

    /// An integer literal.
    public init(integerLiteral v: Int) { self = .int(v) }
    /// A floating-point literal.
    public init(floatLiteral v: Double) { self = .double(v) }
    /// A boolean literal.
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    /// A list of integers.
    public init(arrayLiteral v: Int...) { self = .ints(v) }
    /// A name.
    public init(stringLiteral v: String) { self = .string(v) }

    /// Decodes whichever form the text holds: integer, number, boolean, integer list, name.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode([Int].self) { self = .ints(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([LayerSpec].self) { self = .layers(v) }
        else {
            throw DecodingError.typeMismatch(OptionValue.self, .init(codingPath: decoder.codingPath,
                debugDescription: "expected a number, a boolean, a list of integers, a name or a list of layers"))
        }
    }

    /// Encodes the value in its own form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .ints(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .layers(let v): try c.encode(v)
        }
    }

    /// The value as written.
    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .ints(let v): return "\(v)"
        case .string(let v): return "'\(v)'"
        case .layers(let v): return "[" + v.map { "{type: \($0.type)}" }.joined(separator: ", ") + "]"
        }
    }
}

/// One layer of a ``ModelSpec``: its type (a name in ``LayerRegistry``) and its options.
///
/// In YAML: `{type: linear, out: 128}`, `{type: relu}`, `{type: dropout, p: 0.2}`,
/// `{type: leaky_relu, alpha: 0.1}`, `{type: maxout, out: 32, pieces: 3}`,
/// `{type: flatten}`, `{type: reshape, shape: [8, 8]}`. Which options a type takes, and
/// what they mean, is its registry entry's business; a spec only carries them.
public struct LayerSpec: Codable, Equatable, Sendable {
    /// The layer type (see ``LayerRegistry``).
    public var type: String
    /// The options, by name (everything but `type`).
    public var options: [String: OptionValue]

    /// A layer of `type` with `options`.
    public init(_ type: String, _ options: [String: OptionValue] = [:]) {
        self.type = type
        self.options = options
    }

    /// An integer option.
    public func int(_ name: String) -> Int? { if case .int(let v)? = options[name] { return v }; return nil }
    /// A real option (an integer reads as a real).
    public func double(_ name: String) -> Double? {
        switch options[name] {
        case .double(let v)?: return v
        case .int(let v)?: return Double(v)
        default: return nil
        }
    }
    /// A boolean option.
    public func bool(_ name: String) -> Bool? { if case .bool(let v)? = options[name] { return v }; return nil }
    /// An integer-list option.
    public func ints(_ name: String) -> [Int]? { if case .ints(let v)? = options[name] { return v }; return nil }
    /// A name option.
    public func string(_ name: String) -> String? { if case .string(let v)? = options[name] { return v }; return nil }
    /// A layer-list option.
    public func layers(_ name: String) -> [LayerSpec]? { if case .layers(let v)? = options[name] { return v }; return nil }
    /// A size option given as one integer (for every spatial axis) or one per axis, as
    /// `count` sizes; nil when absent.
    public func sizes(_ name: String, count: Int) -> [Int]? {
        switch options[name] {
        case .int(let v)?: return Array(repeating: v, count: count)
        case .ints(let v)?: return v.count == 1 ? Array(repeating: v[0], count: count) : v
        default: return nil
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes `{type: NAME, option: value, …}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        type = try c.decode(String.self, forKey: Key(stringValue: "type"))
        var options: [String: OptionValue] = [:]
        for key in c.allKeys where key.stringValue != "type" {
            options[key.stringValue] = try c.decode(OptionValue.self, forKey: key)
        }
        self.options = options
    }

    /// Encodes `{type: NAME, option: value, …}` (flat, as written).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type, forKey: Key(stringValue: "type"))
        for (k, v) in options { try c.encode(v, forKey: Key(stringValue: k)) }
    }
}

/// An error in an architecture description, saying which layer is at fault.
///
/// The problem may be an unknown layer, a missing or unknown option, or sizes that do not
/// fit together.
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
/// It is what `nabla train --model FILE` reads (YAML or JSON, parsed in `NablaIO`) and what
/// a saved model file carries in its metadata, so that the file alone is enough to rebuild
/// the model. Every layer type is an entry of ``LayerRegistry``: its options, shape rule,
/// parameter count and builder live there, so this type knows no layer by name.
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

    /// The activation names accepted as layer types (and by `--activation`).
    public static var activations: [String] { LayerRegistry.types.filter(\.isActivation).map(\.name) }
    /// Every accepted layer type.
    public static var layerTypes: [String] { LayerRegistry.types.map(\.name) }

    /// A multilayer perceptron: `inputs → hidden… → outputs` with `activation` between.
    public static func mlp(inputs: Int, hidden: [Int], outputs: Int, activation: String = "relu", dropout: Double = 0) -> ModelSpec {
        var layers: [LayerSpec] = []
        for h in hidden {
            layers.append(LayerSpec("linear", ["out": .int(h)]))
            layers.append(LayerSpec(activation))
            if dropout > 0 { layers.append(LayerSpec("dropout", ["p": .double(dropout)])) }
        }
        layers.append(LayerSpec("linear", ["out": .int(outputs)]))
        return ModelSpec(input: [inputs], layers: layers)
    }

    /// The options each layer type takes (besides `type`); nil for an unknown type.
    public static func options(of type: String) -> [String]? { LayerRegistry[type]?.options.map(\.name) }

    /// Checks every layer's type and options against the registry — unknown types and
    /// options are named, values must have their option's kind — and returns the spec
    /// with each value in its option's form (an integer given for a real becomes a real).
    ///
    /// Messages begin with `source`.
    public func checkedOptions(source: String = "architecture") throws -> ModelSpec {
        var out = self
        for (i, l) in layers.enumerated() {
            let at = "\(source): layer \(i) (\(l.type))"
            guard let type = LayerRegistry[l.type] else {
                throw ModelSpecError(message: "\(at): unknown layer type '\(l.type)'; known types: \(ModelSpec.layerTypes.joined(separator: ", "))")
            }
            do { out.layers[i] = try type.checked(l) } catch let e as ModelSpecError {
                throw ModelSpecError(message: "\(at): \(e.message)")
            }
        }
        return out
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

    /// The per-example shape of the last layer's output.
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
        let spec = try checkedOptions()
        return try ModelSpec.shapes(of: spec.layers, input: input, prefix: "architecture: layer ")
    }

    /// The per-example shape after each of `layers` (checked options) applied to `input`;
    /// errors begin with `prefix` and the layer's index and type.
    static func shapes(of layers: [LayerSpec], input: [Int], prefix: String) throws -> [[Int]] {
        var shape = input
        var shapes: [[Int]] = []
        for (i, l) in layers.enumerated() {
            guard let type = LayerRegistry[l.type] else { throw ModelSpecError(message: "\(prefix)\(i): unknown layer type '\(l.type)'") }
            do {
                let next = try type.outputShape(shape, l)
                guard Shape.checkedCount(next) != nil, type.parameterCount(shape, l) != nil else {
                    throw ModelSpecError(message: "\(shape) → \(next) is too large to represent (sizes overflow 64 bits)")
                }
                shape = next
            } catch let e as ModelSpecError {
                throw ModelSpecError(message: "\(prefix)\(i) (\(l.type)): \(e.message)")
            }
            shapes.append(shape)
        }
        return shapes
    }

    /// The parameters of `layers` (shapes already checked) on `input`; nil on overflow.
    static func parameterCount(of layers: [LayerSpec], input: [Int]) -> Int? {
        var total = 0
        var shape = input
        for l in layers {
            guard let type = LayerRegistry[l.type], let n = type.parameterCount(shape, l), let t = CheckedSize.sum(total, n),
                  let next = try? type.outputShape(shape, l) else { return nil }
            total = t
            shape = next
        }
        return total
    }

    /// The modules of `layers` (shapes already checked) on `input`.
    static func modules(of layers: [LayerSpec], input: [Int], generator: RandomGenerator) -> [Module] {
        var modules: [Module] = []
        var shape = input
        for l in layers {
            let type = LayerRegistry[l.type]!
            modules.append(type.build(shape, l, generator))
            shape = (try? type.outputShape(shape, l)) ?? shape
        }
        return modules
    }

    /// The number of parameters the architecture declares, computed from the spec alone
    /// (nothing is allocated), with checked arithmetic.
    public func parameterCount() throws -> Int {
        let shapes = try validated()
        var total = 0
        var shape = input
        for (i, l) in layers.enumerated() {
            guard let n = LayerRegistry[l.type]!.parameterCount(shape, l), let t = CheckedSize.sum(total, n) else {
                throw ModelSpecError(message: "architecture: layer \(i) (\(l.type)): parameter count overflows 64 bits")
            }
            total = t
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
        let count = try parameterCount()   // validates the architecture first
        try limits.check(bytes: CheckedSize.product(count, DType.float32.byteSize), for: "the architecture (\(count) parameters)")
        let spec = try checkedOptions()
        return Sequential(ModelSpec.modules(of: spec.layers, input: input, generator: generator))
    }

    /// The layer table of ``Module/summary(inputShape:dtype:)``, computed from the
    /// architecture alone: shapes from ``validated()``, counts from the registry's rules.
    /// Nothing is built or allocated, so it is safe on any architecture.
    public func summary() throws -> String {
        let shapes = try validated()
        let spec = try checkedOptions()
        var rows: [(String, String, String)] = []
        var total = 0
        func visit(_ layers: [LayerSpec], _ shapes: [[Int]], input: [Int], prefix: String) {
            var shape = input
            for (i, l) in layers.enumerated() {
                let type = LayerRegistry[l.type]!
                let n = type.parameterCount(shape, l) ?? 0
                rows.append(("\(prefix)\(i) (\(type.typeName))", "\([1] + shapes[i])", "\(n)"))
                if let inner = l.layers("layers"), let innerShapes = try? ModelSpec.shapes(of: inner, input: shape, prefix: "") {
                    visit(inner, innerShapes, input: shape, prefix: "\(prefix)\(i).layers.")
                } else {
                    total = CheckedSize.sum(total, n) ?? Int.max
                }
                shape = shapes[i]
            }
        }
        visit(spec.layers, shapes, input: input, prefix: "layers.")
        return summaryTable(title: "Sequential summary for input shape \([1] + input)", rows: rows, total: total, frozen: 0)
    }
}

extension ModelSpec {
    /// The spec with every option written as `V` (as in `{type: linear, out: V}`) replaced by
    /// `size`, in nested layers too: a character model's vocabulary size is known only once
    /// its text is read.
    public func substitutingVocabulary(_ size: Int) -> ModelSpec {
        func fix(_ l: LayerSpec) -> LayerSpec {
            var out = l
            for (k, v) in l.options {
                switch v {
                case .string("V"): out.options[k] = .int(size)
                case .layers(let inner): out.options[k] = .layers(inner.map(fix))
                default: break
                }
            }
            return out
        }
        return ModelSpec(input: input, layers: layers.map(fix))
    }

    /// Whether any option is the vocabulary placeholder `V`.
    public var usesVocabularyPlaceholder: Bool {
        func has(_ l: LayerSpec) -> Bool {
            l.options.values.contains { v in
                if case .string("V") = v { return true }
                if case .layers(let inner) = v { return inner.contains(where: has) }
                return false
            }
        }
        return layers.contains(where: has)
    }
}
