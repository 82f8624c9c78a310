import NablaCore

/// An option a layer type takes in an architecture: its name, its kind and whether it must
/// be given.
public struct LayerOption: Sendable {
    /// What values an option takes.
    public enum Kind: Sendable {
        /// An integer ≥ 1 (sizes).
        case positiveInteger
        /// Any integer (an axis).
        case integer
        /// A finite real number.
        case number
        /// A probability in [0, 1).
        case probability
        /// `true` or `false`.
        case boolean
        /// A non-empty list of positive integers.
        case shape
        /// A positive integer (the same on every spatial axis) or a list of them, one per axis.
        case sizes
        /// Convolution padding: a non-negative integer, a list of them (one per axis),
        /// `same` or `valid`.
        case padding
        /// One of the given names.
        case choice([String])
        /// A list of layers.
        case layers

        var phrase: String {
            switch self {
            case .positiveInteger: return "a positive integer"
            case .integer: return "an integer"
            case .number: return "a finite number"
            case .probability: return "a number in [0, 1)"
            case .boolean: return "true or false"
            case .shape: return "a non-empty list of positive integers"
            case .sizes: return "a positive integer or a list of positive integers"
            case .padding: return "a non-negative integer, a list of them, 'same' or 'valid'"
            case .choice(let names): return "one of " + names.map { "'\($0)'" }.joined(separator: ", ")
            case .layers: return "a list of layers"
            }
        }
    }
    /// The option's name in the architecture (`out`, `p`).
    public let name: String
    /// The values it takes.
    public let kind: Kind
    /// Whether a layer must give it.
    public let isRequired: Bool

    /// An option that must be given.
    public static func required(_ name: String, _ kind: Kind) -> LayerOption { LayerOption(name: name, kind: kind, isRequired: true) }
    /// An option that may be left out (the layer then uses its default).
    public static func optional(_ name: String, _ kind: Kind) -> LayerOption { LayerOption(name: name, kind: kind, isRequired: false) }

    /// `value` in this option's form, or an error naming the option.
    func checked(_ value: OptionValue) throws -> OptionValue {
        func bad() -> ModelSpecError { ModelSpecError(message: "'\(name)' must be \(kind.phrase), got \(value)") }
        switch (kind, value) {
        case (.positiveInteger, .int(let v)):
            guard v > 0 else { throw ModelSpecError(message: "'\(name)' must be positive, got \(v)") }
            return value
        case (.integer, .int): return value
        case (.number, .int(let v)): return .double(Double(v))
        case (.number, .double(let v)):
            guard v.isFinite else { throw ModelSpecError(message: "'\(name)' must be a finite number, got \(v)") }
            return value
        case (.probability, .int(let v)):
            guard v == 0 else { throw bad() }
            return .double(0)
        case (.probability, .double(let v)):
            guard v.isFinite else { throw ModelSpecError(message: "'\(name)' must be a finite number, got \(v)") }
            guard v >= 0 && v < 1 else { throw ModelSpecError(message: "\(name) must be in [0, 1), got \(v)") }
            return value
        case (.boolean, .bool): return value
        case (.shape, .ints(let v)):
            guard !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { throw bad() }
            return value
        case (.sizes, .int(let v)):
            guard v > 0 else { throw bad() }
            return value
        case (.sizes, .ints(let v)):
            guard !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { throw bad() }
            return value
        case (.padding, .int(let v)):
            guard v >= 0 else { throw bad() }
            return value
        case (.padding, .ints(let v)):
            guard !v.isEmpty, v.allSatisfy({ $0 >= 0 }) else { throw bad() }
            return value
        case (.padding, .string(let v)):
            guard v == "same" || v == "valid" else { throw bad() }
            return value
        case (.choice(let names), .string(let v)):
            guard names.contains(v) else { throw bad() }
            return value
        case (.layers, .layers(let inner)):
            guard !inner.isEmpty else { throw ModelSpecError(message: "'\(name)' must list at least one layer") }
            var out: [LayerSpec] = []
            for (i, l) in inner.enumerated() {
                guard let type = LayerRegistry[l.type] else {
                    throw ModelSpecError(message: "\(name) \(i): unknown layer type '\(l.type)'; known types: \(ModelSpec.layerTypes.joined(separator: ", "))")
                }
                do { out.append(try type.checked(l)) } catch let e as ModelSpecError {
                    throw ModelSpecError(message: "\(name) \(i) (\(l.type)): \(e.message)")
                }
            }
            return .layers(out)
        default: throw bad()
        }
    }
}

/// One layer type of the architecture format: everything about it in one entry.
///
/// Its YAML name, its options, the rule giving its output shape, its parameter count and
/// its builder. ``ModelSpec`` validates, counts, summarises and builds through these
/// entries alone, so a new layer type is one entry in ``LayerRegistry/types``.
public struct LayerType: Sendable {
    /// The name in architectures (`linear`, `leaky_relu`).
    public let name: String
    /// The module's type name, for summaries (`Linear`).
    public let typeName: String
    /// Whether it is an activation (offered by `--activation`).
    public let isActivation: Bool
    /// The options it takes.
    public let options: [LayerOption]
    /// The per-example output shape for a per-example input shape; throws a
    /// ``ModelSpecError`` saying what does not fit (without the layer's position, which the
    /// caller adds).
    public let outputShape: @Sendable (_ input: [Int], _ layer: LayerSpec) throws -> [Int]
    /// The number of parameters on a per-example input shape (nil when it overflows).
    public let parameterCount: @Sendable (_ input: [Int], _ layer: LayerSpec) -> Int?
    /// Builds the module for a per-example input shape, drawing initial weights from the
    /// generator. Called only on a layer whose options and shapes were checked.
    public let build: @Sendable (_ input: [Int], _ layer: LayerSpec, _ generator: RandomGenerator) -> Module

    /// An entry. Shape and parameter rules default to those of a layer that keeps its
    /// input's shape and has no parameters.
    public init(_ name: String, typeName: String, isActivation: Bool = false, options: [LayerOption] = [],
                outputShape: @escaping @Sendable ([Int], LayerSpec) throws -> [Int] = { shape, _ in shape },
                parameterCount: @escaping @Sendable ([Int], LayerSpec) -> Int? = { _, _ in 0 },
                build: @escaping @Sendable ([Int], LayerSpec, RandomGenerator) -> Module) {
        self.name = name; self.typeName = typeName; self.isActivation = isActivation; self.options = options
        self.outputShape = outputShape; self.parameterCount = parameterCount; self.build = build
    }

    /// An activation entry: no parameters, the shape unchanged.
    static func activation(_ name: String, _ typeName: String, options: [LayerOption] = [],
                           _ build: @escaping @Sendable (LayerSpec) -> Module) -> LayerType {
        LayerType(name, typeName: typeName, isActivation: true, options: options, outputShape: { shape, l in
            if let a = l.int("axis"), !(a >= -(shape.count + 1) && a <= shape.count) {
                // The batch axis comes first, so an example of rank r gives tensors of rank r + 1.
                throw ModelSpecError(message: "axis \(a) is out of range for inputs of shape [batch] + \(shape)")
            }
            return shape
        }, build: { _, l, _ in build(l) })
    }

    /// `layer` with every option checked and in its option's form; unknown options and
    /// missing required ones are named.
    public func checked(_ layer: LayerSpec) throws -> LayerSpec {
        var out = layer
        for key in layer.options.keys.sorted() where !options.contains(where: { $0.name == key }) {
            let takes = options.isEmpty ? "\(name) takes no options" : "\(name) takes \(options.map { "'\($0.name)'" }.joined(separator: ", "))"
            throw ModelSpecError(message: "unknown option '\(key)'; \(takes)")
        }
        for option in options {
            if let v = layer.options[option.name] {
                out.options[option.name] = try option.checked(v)
            } else if option.isRequired {
                throw ModelSpecError(message: "missing '\(option.name)'")
            }
        }
        return out
    }
}

/// The table of layer types an architecture may use: one ``LayerType`` entry each.
///
/// `ModelSpec` (and so `nabla train --model`, `nabla summary`, model files) reads only this
/// table.
public enum LayerRegistry {
    /// Every layer type, in the order error messages list them.
    public static let types: [LayerType] = [
        LayerType("linear", typeName: "Linear",
                  options: [.required("out", .positiveInteger), .optional("in", .positiveInteger), .optional("bias", .boolean)],
                  outputShape: { shape, l in try features(shape, l) }, parameterCount: { shape, l in
                      affineParameters(inputs: shape.last!, outputs: l.int("out")!, pieces: 1, bias: l.bool("bias") ?? true)
                  }, build: { shape, l, g in Linear(shape.last!, l.int("out")!, bias: l.bool("bias") ?? true, generator: g) }),
        LayerType("dropout", typeName: "Dropout", options: [.optional("p", .probability)],
                  build: { _, l, g in Dropout(l.double("p") ?? 0.5, generator: g) }),
        LayerType("flatten", typeName: "Flatten", outputShape: { shape, _ in [Shape.count(shape)] }, build: { _, _, _ in Flatten() }),
        LayerType("reshape", typeName: "Reshape", options: [.required("shape", .shape)], outputShape: { shape, l in
            let s = l.ints("shape")!
            guard Shape.checkedCount(s) == Shape.count(shape) else {
                throw ModelSpecError(message: "shape \(s) does not hold the \(Shape.count(shape)) values of shape \(shape)")
            }
            return s
        }, build: { _, l, _ in Reshape(l.ints("shape")!) }),
        LayerType("maxout", typeName: "Maxout",
                  options: [.required("out", .positiveInteger), .optional("in", .positiveInteger), .required("pieces", .positiveInteger)],
                  outputShape: { shape, l in try features(shape, l) }, parameterCount: { shape, l in
                      affineParameters(inputs: shape.last!, outputs: l.int("out")!, pieces: l.int("pieces")!, bias: true)
                  }, build: { shape, l, g in Maxout(shape.last!, l.int("out")!, pieces: l.int("pieces")!, generator: g) }),
        .activation("identity", "Identity") { _ in Identity() },
        .activation("binary_step", "BinaryStep") { _ in BinaryStep() },
        .activation("heaviside", "Heaviside") { _ in Heaviside() },
        .activation("sign", "Sign") { _ in Sign() },
        .activation("sigmoid", "Sigmoid") { _ in Sigmoid() },
        .activation("tanh", "Tanh") { _ in Tanh() },
        .activation("hard_tanh", "HardTanh") { _ in HardTanh() },
        .activation("hard_sigmoid", "HardSigmoid") { _ in HardSigmoid() },
        .activation("piecewise_linear", "PiecewiseLinear") { _ in PiecewiseLinear() },
        .activation("relu", "ReLU") { _ in ReLU() },
        .activation("relu6", "ReLU6") { _ in ReLU6() },
        .activation("leaky_relu", "LeakyReLU", options: [.optional("alpha", .number)]) { l in LeakyReLU(l.double("alpha") ?? 0.01) },
        .activation("elu", "ELU", options: [.optional("alpha", .number)]) { l in ELU(alpha: l.double("alpha") ?? 1) },
        .activation("selu", "SELU") { _ in SELU() },
        .activation("gelu", "GELU") { _ in GELU() },
        .activation("gelu_tanh", "GELU") { _ in GELU(approximation: .tanh) },
        .activation("softplus", "Softplus") { _ in Softplus() },
        .activation("silu", "SiLU") { _ in SiLU() },
        .activation("mish", "Mish") { _ in Mish() },
        .activation("softmax", "Softmax", options: [.optional("axis", .integer)]) { l in Softmax(axis: l.int("axis") ?? -1) },
        .activation("log_softmax", "LogSoftmax", options: [.optional("axis", .integer)]) { l in LogSoftmax(axis: l.int("axis") ?? -1) },
    ] + spatialTypes + recurrentTypes + attentionTypes + chartTypes

    /// The entries by name.
    static let byName: [String: LayerType] = Dictionary(types.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// The entry of the layer type called `name`, if there is one.
    public static subscript(name: String) -> LayerType? { byName[name] }

    /// The shape rule of layers mapping the last axis to `out` features (linear, maxout),
    /// checking a declared `in`.
    static func features(_ shape: [Int], _ l: LayerSpec) throws -> [Int] {
        let inputs = shape.last!
        if let declared = l.int("in"), declared != inputs {
            throw ModelSpecError(message: "declares in = \(declared) but the previous layer produces \(inputs) features (shape \(shape))")
        }
        var out = shape
        out[out.count - 1] = l.int("out")!
        return out
    }

    /// Weights and biases of `pieces` affine maps from `inputs` to `outputs` (nil on overflow).
    static func affineParameters(inputs: Int, outputs: Int, pieces: Int, bias: Bool) -> Int? {
        guard let units = CheckedSize.product(outputs, pieces), let w = CheckedSize.product(units, inputs) else { return nil }
        return bias ? CheckedSize.sum(w, units) : w
    }
}
