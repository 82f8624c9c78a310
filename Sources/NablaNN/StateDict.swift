import NablaCore

/// Why ``Module/loadStateDict(_:strict:)`` refused a state dict.
///
/// It lists every missing, unexpected and mis-shaped key, not just the first.
public struct StateDictError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Keys the module has but the state dict lacks (reported when strict).
    public var missingKeys: [String]
    /// Keys in the state dict the module does not have (reported when strict).
    public var unexpectedKeys: [String]
    /// Keys present on both sides with different shapes: (key, module's shape, given shape).
    public var shapeMismatches: [ShapeMismatch]

    /// One key whose shapes differ.
    public struct ShapeMismatch: Sendable, Equatable {
        /// The dotted name.
        public var key: String
        /// The shape in the module.
        public var expected: [Int]
        /// The shape in the state dict.
        public var actual: [Int]
    }

    /// A one-paragraph account listing every problem.
    public var description: String {
        var parts: [String] = []
        if !missingKeys.isEmpty { parts.append("missing keys: " + missingKeys.joined(separator: ", ")) }
        if !unexpectedKeys.isEmpty { parts.append("unexpected keys: " + unexpectedKeys.joined(separator: ", ")) }
        if !shapeMismatches.isEmpty {
            parts.append("shape mismatches: " + shapeMismatches.map {
                "\($0.key) (model \($0.expected), state dict \($0.actual))"
            }.joined(separator: ", "))
        }
        return "loadStateDict: " + parts.joined(separator: "; ")
    }
}

extension Module {
    /// The module's state (parameters and buffers) by dotted name, as PyTorch's `state_dict()`.
    ///
    /// The tensors are detached copies that share storage with the module's own (they change
    /// when the module is trained).
    public func stateDict() -> [String: Tensor] {
        Dictionary(orderedStateDict().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    }

    /// The state in declaration order (the order PyTorch prints and saves).
    public func orderedStateDict() -> [(name: String, tensor: Tensor)] {
        namedTensors().map { ($0.name, $0.tensor.detached()) }
    }

    /// Copies values from `state` into the module's parameters and buffers in place.
    ///
    /// The copy uses ``NablaCore/Tensor/assignInPlace(_:)``, so optimizers holding the
    /// parameters see the new values; values are converted to each tensor's dtype.
    ///
    /// Throws ``StateDictError`` listing every problem, and then writes nothing. When
    /// `strict`, missing and unexpected keys are errors; shape mismatches always are (as
    /// in PyTorch).
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws {
        let own = namedTensors()
        let ownNames = Set(own.map(\.name))
        var error = StateDictError(missingKeys: [], unexpectedKeys: [], shapeMismatches: [])
        for (name, t) in own {
            guard let v = state[name] else {
                if strict { error.missingKeys.append(name) }
                continue
            }
            if v.shape != t.shape {
                error.shapeMismatches.append(.init(key: name, expected: t.shape, actual: v.shape))
            }
        }
        if strict { error.unexpectedKeys = state.keys.filter { !ownNames.contains($0) }.sorted() }
        if !error.missingKeys.isEmpty || !error.unexpectedKeys.isEmpty || !error.shapeMismatches.isEmpty {
            throw error
        }
        for (name, t) in own {
            if let v = state[name] { t.assignInPlace(v.detached()) }
        }
    }
}
