import Foundation
import NablaCore

/// A character-level text data set: a UTF-8 text cut into next-character examples.
///
/// Characters are Unicode scalars. The vocabulary is built from the training split alone
/// (sorted by code point); characters of the validation and test splits that the training
/// text lacks are dropped from those splits and counted in ``unknownDropped``. An example
/// is `sequenceLength` characters as indices and, as its targets, the same window shifted
/// by one character: the model learns to predict every next character.
public struct TextCorpus: Sendable {
    /// The characters the model knows, by index.
    public let vocabulary: [Unicode.Scalar]
    /// Training, validation and test text as vocabulary indices.
    public let train: [Int32], validation: [Int32], test: [Int32]
    /// Characters of the validation and test splits outside the vocabulary (dropped).
    public let unknownDropped: Int
    /// Where the text came from (for messages).
    public let name: String

    /// The built-in corpus: The Jargon File 4.4.7 (public domain, 1.68 MB), bundled with
    /// NablaData as `Resources/jargon.txt.gz`.
    public static var builtinURL: URL? {
        Bundle.module.url(forResource: "jargon.txt", withExtension: "gz", subdirectory: "Resources")
    }

    /// Decodes UTF-8 text, or throws naming the byte offset of the first invalid sequence.
    public static func decodeUTF8(_ bytes: [UInt8], source: String) throws -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(bytes.count)
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        // The decoder consumes whole sequences; a scalar's byte length gives the next offset.
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                scalars.append(s)
                offset += UTF8.width(s)
            case .emptyInput:
                return scalars
            case .error:
                throw DataFileError(source: source, message: "not valid UTF-8 at byte offset \(offset); a text data set must be UTF-8")
            }
        }
    }

    /// The scalars of a text file (gzip-compressed or not), checked to be UTF-8.
    public static func readText(path: String, limits: ResourceLimits = .standard) throws -> [Unicode.Scalar] {
        var bytes = try readFileBytes(path)
        if Gzip.isGzipped(bytes) { bytes = try Gzip.decompress(bytes, source: path, maxOutput: limits.maxBytes) }
        guard !bytes.isEmpty else { throw DataFileError(source: path, message: "the text is empty") }
        return try decodeUTF8(bytes, source: path)
    }

    /// Splits `text` into training (the first 90 %), validation (5 %) and test (the last 5 %)
    /// text, with the vocabulary of the training part, or of `vocabulary` when given (a
    /// model's stored vocabulary: then training characters outside it are dropped too).
    public init(text: [Unicode.Scalar], name: String, vocabulary given: [Unicode.Scalar]? = nil) throws {
        guard text.count >= 40 else {
            throw DataFileError(source: name, message: "the text has \(text.count) characters; a text data set needs at least 40")
        }
        let nTrain = text.count * 9 / 10, nVal = text.count / 20
        let trainText = text[..<nTrain], valText = text[nTrain..<(nTrain + nVal)], testText = text[(nTrain + nVal)...]
        let vocab = given ?? Array(Set(trainText)).sorted { $0.value < $1.value }
        let index = Dictionary(uniqueKeysWithValues: vocab.enumerated().map { ($1, Int32($0)) })
        var dropped = 0
        func encode(_ s: ArraySlice<Unicode.Scalar>) -> [Int32] {
            var out: [Int32] = []
            out.reserveCapacity(s.count)
            for c in s { if let i = index[c] { out.append(i) } else { dropped += 1 } }
            return out
        }
        vocabulary = vocab
        train = encode(trainText)
        validation = encode(valText)
        test = encode(testText)
        unknownDropped = dropped
        self.name = name
    }

    /// Next-character examples from `split`: non-overlapping windows of `sequenceLength`
    /// characters as inputs `[N, L]` (indices in float32, exact below 2²⁴) and the windows
    /// one character later as int64 targets `[N, L]`.
    public func examples(_ split: [Int32], sequenceLength: Int, splitName: String) throws -> TensorDataset {
        guard sequenceLength >= 1 else { throw DataFileError(source: name, message: "--seq-len must be positive, got \(sequenceLength)") }
        let count = split.count > sequenceLength ? (split.count - 1) / sequenceLength : 0
        guard count >= 1 else {
            throw DataFileError(source: name, message: "--seq-len \(sequenceLength) is larger than the \(splitName) text (\(split.count) characters); use a shorter --seq-len or a longer text")
        }
        var inputs = [Float](repeating: 0, count: count * sequenceLength)
        var targets = [Int64](repeating: 0, count: count * sequenceLength)
        for e in 0..<count {
            let base = e * sequenceLength
            for t in 0..<sequenceLength {
                inputs[base + t] = Float(split[base + t])
                targets[base + t] = Int64(split[base + t + 1])
            }
        }
        return TensorDataset(inputs: Tensor(inputs, shape: [count, sequenceLength]),
                             targets: Tensor(targets, shape: [count, sequenceLength]),
                             name: "\(name) (\(splitName))", classCount: vocabulary.count)
    }

    /// The vocabulary as a string (for model files).
    public var vocabularyString: String { String(String.UnicodeScalarView(vocabulary)) }
}
