import ArgumentParser
import Foundation
import Nabla

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample text from a character model trained with `nabla train --data text`.",
        discussion: """
        The prompt is fed to the model, then characters are drawn one at a time from the \
        softmax of its next-character logits divided by --temperature (0: always the most \
        likely one), among the --top-k most likely when given, and printed as they come. \
        Recurrent layers carry their state and causal transformers a key/value cache from \
        character to character, so each new character costs one step; other architectures \
        re-read the last --seq-len characters. The same seed gives the same text.

        Examples:
          nabla generate --load char.safetensors --prompt "hacker " --length 400
          nabla generate --load char.safetensors --prompt "The " --temperature 0.7 --top-k 10 --seed 3
        """)

    @Option(help: ArgumentHelp("Character model written by `nabla train --data text --save`.", valueName: "path"))
    var load: String

    @Option(help: "Text to start from (default: a newline, or the first character the model knows).")
    var prompt: String?

    @Option(help: "Characters to generate.")
    var length: Int = 300

    @Option(help: "Softmax temperature: below 1 more conservative, above 1 more random; 0 takes the most likely character.")
    var temperature: Double = 0.8

    @Option(help: ArgumentHelp("Draw only among the k most likely characters.", valueName: "k"))
    var topK: Int?

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Re-read the whole window for every character instead of carrying recurrent state or a key/value cache (slower; for comparison). Until the window is full the text is the same.")
    var noCache = false

    @OptionGroup var resources: ResourceOptions

    func run() throws {
        guard length >= 0 else { throw CLIError("--length must not be negative, got \(length)") }
        guard temperature >= 0 && temperature.isFinite else { throw CLIError("--temperature must be ≥ 0, got \(temperature)") }
        if let k = topK { guard k >= 1 else { throw CLIError("--top-k must be positive, got \(k)") } }
        guard FileManager.default.isReadableFile(atPath: load) else { throw CLIError("\(load): model file not found or not readable") }
        let contents = try ModelFile.load(load, limits: try resources.limits(), keepExtraTensors: false)
        let info = try Checkpoint.info(from: contents, path: load)
        guard let vocabulary = info.vocabulary else {
            throw CLIError("\(load): not a character model (it was trained on \(info.dataName.isEmpty ? "other data" : info.dataName)); train one with --data text or text:PATH")
        }
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        let start: String
        if let p = prompt { start = p } else { start = index["\n"] != nil ? "\n" : String(Character(vocabulary[0])) }
        guard !start.isEmpty else { throw CLIError("--prompt is empty; give at least one character (or leave --prompt out)") }
        var unknown: [Unicode.Scalar] = []
        for c in start.unicodeScalars where index[c] == nil && !unknown.contains(c) { unknown.append(c) }
        guard unknown.isEmpty else {
            let shown = unknown.prefix(10).map { c in c.properties.isWhitespace || c.value < 32 ? "U+\(String(c.value, radix: 16, uppercase: true))" : "'\(c)'" }
            throw CLIError("--prompt has \(unknown.count) character\(unknown.count == 1 ? "" : "s") the model does not know: \(shown.joined(separator: ", "))\(unknown.count > 10 ? ", …" : "") (it knows \(vocabulary.count) characters from its training text)")
        }
        let model = contents.model.eval()
        let runner = CharacterSampler(model: model, context: info.sequenceLength ?? contents.spec.input.first ?? 100, useCache: !noCache)
        let generator = RandomGenerator(seed: seed)
        // Unbuffered writes: each character appears as soon as it is drawn.
        func show(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
        show(start)
        var logits = runner.feed(start.unicodeScalars.map { index[$0]! })
        for _ in 0..<length {
            let next = sample(logits, generator)
            let text = String(Character(vocabulary[next]))
            show(text)
            logits = runner.feed([next])
        }
        show("\n")
    }

    /// Draws a character index from logits (temperature, top-k).
    func sample(_ logits: [Double], _ generator: RandomGenerator) -> Int {
        generator.sample(logits: logits, temperature: temperature, topK: topK)
    }
}

/// Runs a character model one new character at a time.
///
/// When every layer works step by step (embeddings, positional encodings, causal
/// transformer encoders, recurrent layers returning sequences, linear layers, layer norms,
/// activations, dropout), a character costs one step: recurrent layers keep their state and
/// transformer layers a key/value cache between calls. Models with positions (a positional
/// encoding or a transformer) see at most `context` characters: when the cache is full it is
/// rebuilt from the last half of the window. Other models re-read the last `context`
/// characters for every character.
final class CharacterSampler {
    let model: Sequential
    let context: Int
    let incremental: Bool
    /// Whether the model has positions, so that what it reads is limited to `context`.
    let positional: Bool
    var states: [Int: RecurrentState] = [:]
    var caches: [Int: [AttentionCache]] = [:]
    /// Positions in the caches.
    var position = 0
    var window: [Int] = []

    init(model: Sequential, context: Int, useCache: Bool = true) {
        self.model = model
        self.context = max(context, 1)
        positional = model.layers.contains { $0 is PositionalEncoding || $0 is TransformerEncoder }
        incremental = useCache && model.layers.allSatisfy { layer in
            if let r = layer as? RecurrentLayer { return r.output == .sequence }
            if let t = layer as? TransformerEncoder { return t.causal }
            return layer is Embedding || layer is Linear || layer is Dropout || layer is LayerNorm || layer is PositionalEncoding
                || LayerRegistry.types.contains { $0.isActivation && $0.typeName == layer.typeName }
        }
    }

    /// Feeds characters; returns the logits for the next one.
    func feed(_ tokens: [Int]) -> [Double] {
        withoutGrad {
            window = Array((window + tokens).suffix(context))
            var fresh = tokens
            if !incremental {
                fresh = window
            } else if positional && position + tokens.count > context {
                // The caches are full: start again from the last half of the window.
                fresh = Array(window.suffix(max(context / 2, 1)))
                caches = [:]
                states = [:]
                position = 0
            }
            var h = Tensor(fresh.map(Float.init), shape: [1, fresh.count])
            for (i, layer) in model.layers.enumerated() {
                if incremental, let r = layer as? RecurrentLayer {
                    let out = r.run(h, state: states[i])
                    states[i] = out.state
                    h = out.output
                } else if incremental, let t = layer as? TransformerEncoder {
                    let c = caches[i] ?? t.layers.map { _ in AttentionCache() }
                    caches[i] = c
                    h = t.forwardIncrementally(h, caches: c)
                } else if incremental, let p = layer as? PositionalEncoding {
                    h = p.forward(h, start: position)
                } else {
                    h = layer(h)
                }
            }
            if incremental { position += fresh.count }
            let steps = h.shape[1], v = h.shape[2]
            return h.narrow(axis: 1, start: steps - 1, length: 1).reshaped([v]).to(.float64).doubles
        }
    }
}
