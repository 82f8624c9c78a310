import Foundation
import NablaCore
import NablaNN

extension SafeTensorEntry {
    /// An entry holding a tensor's values in its own dtype (F32, F64, I32, I64, U8 or BOOL).
    public init(name: String, tensor: Tensor) throws {
        switch tensor.dtype {
        case .float32: try self.init(name: name, shape: tensor.shape, floats: tensor.floats, dtype: .float32)
        case .float64: try self.init(name: name, shape: tensor.shape, doubles: tensor.doubles)
        case .int64: try self.init(name: name, shape: tensor.shape, int64s: tensor.int64s)
        case .int32: try self.init(name: name, shape: tensor.shape, int32s: tensor.int64s.map { Int32(truncatingIfNeeded: $0) })
        case .uint8: try self.init(name: name, shape: tensor.shape, uint8s: tensor.int64s.map { UInt8(truncatingIfNeeded: $0) })
        case .bool: try self.init(name: name, shape: tensor.shape, bools: tensor.bools)
        }
    }

    /// The entry as a tensor of its own dtype where Nabla has it: F32, F64, I32, I64, U8 and
    /// BOOL load unchanged (so they write back unchanged); F16 and BF16 widen to float32;
    /// I8, I16, U16, U32 and U64 become int64 by value (U64 values above Int64.max saturate).
    public func tensor() -> Tensor {
        switch dtype {
        case .float64: return Tensor(doubles(), shape: shape)
        case .float32, .float16, .bfloat16: return Tensor(floats(), shape: shape)
        case .bool: return Tensor(int64sWrapping().map { $0 != 0 }, shape: shape)
        case .uint8: return Tensor(int64sWrapping().map { UInt8(truncatingIfNeeded: $0) }, shape: shape)
        case .int32: return Tensor(int64sWrapping().map { Int32(truncatingIfNeeded: $0) }, shape: shape)
        default: return Tensor(int64sWrapping(), shape: shape)
        }
    }

    /// The integer values as Int64 (U64 above Int64.max saturates).
    private func int64sWrapping() -> [Int64] {
        if let v = try? int64s() { return v }
        return doubles().map { $0 >= 9.2e18 ? Int64.max : Int64($0) }   // only U64 beyond Int64.max gets here
    }
}

/// Saves and loads models as safetensors files whose metadata carries the architecture.
///
/// A file alone is enough to rebuild and run the model.
///
/// Tensor names are the module's state-dict names (`layers.0.weight`, `layers.0.bias`, …),
/// so the file loads unchanged in Python with `safetensors.torch.load_file`. To load the
/// weights into an equivalent PyTorch `nn.Sequential`, strip the `layers.` prefix
/// (PyTorch's `Sequential` names them `0.weight`, …). Extra tensors (a checkpoint's
/// optimizer state) are stored under prefixed names such as `optimizer.…`.
public enum ModelFile {
    /// Metadata key holding the architecture as JSON.
    public static let architectureKey = "nabla.architecture"
    /// Metadata key holding the format marker.
    public static let formatKey = "format"

    /// The contents of a model file.
    public struct Contents {
        /// The architecture.
        public var spec: ModelSpec
        /// The rebuilt model with the saved weights.
        public var model: Sequential
        /// All metadata (including the architecture).
        public var metadata: [String: String]
        /// Entries that are not model state (e.g. `optimizer.*`), by name, still as raw bytes:
        /// `evaluate` and `predict` never need them, so they are not converted.
        var extraEntries: [String: SafeTensorEntry]
        /// Tensors that are not model state (e.g. `optimizer.*`), by name, converted on each access.
        public var extraTensors: [String: Tensor] { extraEntries.mapValues { $0.tensor() } }
    }

    /// Writes the model's state and architecture to `path`, atomically.
    ///
    /// `metadata` and `extraTensors` are written too. The file is written to a temporary file
    /// and then renamed.
    public static func save(_ model: Module, spec: ModelSpec, to path: String, metadata: [String: String] = [:],
                            extraTensors: [String: Tensor] = [:]) throws {
        var entries: [SafeTensorEntry] = []
        for (name, t) in model.orderedStateDict() { entries.append(try SafeTensorEntry(name: name, tensor: t)) }
        for (name, t) in extraTensors.sorted(by: { $0.key < $1.key }) { entries.append(try SafeTensorEntry(name: name, tensor: t)) }
        var meta = metadata
        meta[formatKey] = "pt"
        meta[architectureKey] = spec.json()
        try SafeTensorsFile(entries: entries, metadata: meta).write(to: path)
    }

    /// Reads a model file, rebuilding the architecture and loading the weights.
    ///
    /// Every name and shape is checked. Throws a one-line error naming the file and what
    /// disagrees.
    ///
    /// The architecture's parameters are sized with checked arithmetic before the model is
    /// built; a file declaring more than `limits` allows is refused (``ResourceLimitError``).
    ///
    /// `keepExtraTensors` keeps the entries that are not model state (a checkpoint's
    /// optimizer state), copied out of the file's buffer; without them (`evaluate`,
    /// `predict`) the file's bytes are released as soon as the weights are loaded.
    public static func load(_ path: String, limits: ResourceLimits = .standard, keepExtraTensors: Bool = true) throws -> Contents {
        let file = try SafeTensorsFile.read(contentsOf: path)
        guard let json = file.metadata[architectureKey] else {
            throw ModelSpecError(message: "\(path): not a Nabla model file (no '\(architectureKey)' in the safetensors metadata)")
        }
        let spec = try ModelSpec.parse(json, source: "\(path) (architecture metadata)")
        let model = try buildModel(spec, holdingWeightsOf: file, path: path, limits: limits)
        let expected = Set(model.orderedStateDict().map(\.name))
        var state: [String: Tensor] = [:], extra: [String: SafeTensorEntry] = [:]
        for entry in file.entries {
            if expected.contains(entry.name) || (!entry.name.hasPrefix("optimizer.") && !entry.name.hasPrefix("nabla.")) {
                // Model state, or an unexpected key that loadStateDict will name.
                state[entry.name] = entry.tensor()
            } else if keepExtraTensors {
                // A copy, so that the extras do not keep the whole file's buffer alive.
                extra[entry.name] = try SafeTensorEntry(name: entry.name, dtype: entry.dtype, shape: entry.shape, data: entry.data)
            }
        }
        do {
            try model.loadStateDict(state, strict: true)
        } catch let e as StateDictError {
            throw ModelSpecError(message: "\(path): weights do not match the architecture: \(e.description.replacingOccurrences(of: "\n", with: "; "))")
        }
        return Contents(spec: spec, model: model, metadata: file.metadata, extraEntries: extra)
    }
}

extension ModelFile {
    /// Builds `spec` once `file` is known to hold at least as many values as the weights it
    /// declares: a few bytes of header naming huge layers would otherwise make us allocate
    /// them before the weights are found missing. Limits and errors name `path`.
    static func buildModel(_ spec: ModelSpec, holdingWeightsOf file: SafeTensorsFile, path: String,
                           limits: ResourceLimits) throws -> Sequential {
        let declared = try spec.parameterCount()
        let held = file.entries.reduce(0) { CheckedSize.sum($0, Shape.checkedCount($1.shape) ?? 0) ?? Int.max }
        guard held >= declared else {
            throw ModelSpecError(message: "\(path): the architecture declares \(declared) parameters but the file holds only \(held) values; the weights are missing or the file is truncated")
        }
        do { return try spec.build(generator: RandomGenerator(seed: 0), limits: limits) } catch let e as ResourceLimitError {
            throw ResourceLimitError(message: "\(path): \(e.message)")
        }
    }

    /// Builds `spec` and loads its weights from a plain safetensors file, such as a PyTorch
    /// `state_dict` saved with `safetensors.torch.save_file`.
    ///
    /// Names are PyTorch's for the same layers, under the architecture's list index as in
    /// `torch.nn.Sequential` (`0.weight`, `0.bias`, `2.weight`, …); Nabla's own
    /// `layers.0.weight` form is accepted too. Every missing, unexpected or mis-shaped tensor
    /// is listed by name in one error; nothing is built before the file is known to hold
    /// the weights the architecture declares. F64 and F16/BF16 values are converted to the
    /// model's float32. The model is returned in evaluation mode.
    public static func build(_ spec: ModelSpec, weights path: String, limits: ResourceLimits = .standard) throws -> Sequential {
        let file = try SafeTensorsFile.read(contentsOf: path)
        let model = try buildModel(spec, holdingWeightsOf: file, path: path, limits: limits)
        let usesPrefix = file.entries.contains { $0.name.hasPrefix("layers.") }
        func shown(_ name: String) -> String { usesPrefix || !name.hasPrefix("layers.") ? name : String(name.dropFirst(7)) }
        let own = model.orderedStateDict()
        let shapes = Dictionary(own.map { ($0.name, ($0.tensor.shape, $0.tensor.dtype)) }, uniquingKeysWith: { a, _ in a })
        var state: [String: Tensor] = [:]
        var unexpected: [String] = [], misshaped: [String] = []
        for entry in file.entries {
            let name = entry.name.hasPrefix("layers.") ? entry.name : "layers." + entry.name
            guard let (shape, dtype) = shapes[name] else { unexpected.append(entry.name); continue }
            guard state[name] == nil else {
                misshaped.append("\(entry.name) names the same weight as another tensor in the file")
                continue
            }
            guard entry.shape == shape else {
                misshaped.append("\(entry.name) has shape \(entry.shape), the architecture needs \(shape)")
                continue
            }
            // Parameters and running statistics are floating point; counters such as
            // BatchNorm's num_batches_tracked are integers.
            guard entry.dtype.isFloatingPoint == dtype.isFloatingPoint else {
                misshaped.append("\(entry.name) is \(entry.dtype), not " + (dtype.isFloatingPoint ? "a floating-point tensor" : "an integer tensor (\(dtype))"))
                continue
            }
            state[name] = entry.tensor().to(dtype)
        }
        let misshapedNames = Set(misshaped.map { String($0.prefix { $0 != " " }) })
        let missing = own.map(\.name).filter { name in state[name] == nil && !misshapedNames.contains(shown(name)) && !misshapedNames.contains(name) }
        if !missing.isEmpty || !unexpected.isEmpty || !misshaped.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing " + missing.map(shown).joined(separator: ", ")) }
            if !unexpected.isEmpty { parts.append("unexpected " + unexpected.sorted().joined(separator: ", ")) }
            parts += misshaped
            throw ModelSpecError(message: "\(path): the weights do not fit the architecture: " + parts.joined(separator: "; "))
        }
        do { try model.loadStateDict(state, strict: true) } catch let e as StateDictError {
            throw ModelSpecError(message: "\(path): \(e.description.replacingOccurrences(of: "\n", with: "; "))")
        }
        return model.eval()
    }
}
