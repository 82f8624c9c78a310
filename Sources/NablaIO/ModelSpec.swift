import Foundation
import NablaCore
import NablaNN
import Yams

/// Reading architectures from YAML or JSON text.
///
/// ``ModelSpec`` and its layer registry live in `NablaNN`; parsing text (with Yams) is file
/// work, so it is here. The parser turns the text into plain option values and hands them
/// to the registry, which checks them.
extension ModelSpec {
    /// Parses YAML or JSON (JSON is YAML), naming `source` in errors.
    ///
    /// Text longer than 1 MiB or nested more than 64 levels deep is rejected before parsing,
    /// and so are non-finite numbers (`p`, `alpha`), which could not be saved in a model file.
    ///
    /// With `vocabulary`, options written as `V` (a character model's vocabulary size) become
    /// that number before the options are checked.
    public static func parse(_ text: String, source: String = "<model>", vocabulary: Int? = nil) throws -> ModelSpec {
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
        if let root = try? Yams.compose(yaml: text), let top = root.mapping {
            for key in top.keys.compactMap(\.string) where key != "input" && key != "layers" {
                throw ModelSpecError(message: "\(source): unknown key '\(key)' at the top level; an architecture has 'input' and 'layers'")
            }
        }
        // Each layer's type and options, checked by its registry entry (unknown ones named).
        return try (vocabulary.map { spec.substitutingVocabulary($0) } ?? spec).checkedOptions(source: source)
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

    /// Reads a YAML or JSON file.
    ///
    /// With `vocabulary`, options written as `V` (a character model's vocabulary size) become
    /// that number before the architecture is checked.
    public static func read(contentsOf path: String, vocabulary: Int? = nil) throws -> ModelSpec {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > ArchitectureText.maxBytes {
            throw ModelSpecError(message: "\(path): the architecture file is \(size) bytes long, more than the \(ArchitectureText.maxBytes)-byte limit")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ModelSpecError(message: "\(path): cannot read the architecture file")
        }
        let spec = try parse(text, source: path, vocabulary: vocabulary)
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
}
