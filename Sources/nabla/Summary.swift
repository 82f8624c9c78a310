import ArgumentParser
import Foundation
import Nabla

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the layer table and parameter counts of an architecture.",
        discussion: """
        Examples:
          nabla summary                                       # the default digits MLP
          nabla summary --hidden 10,20 --inputs 5 --outputs 3  # 60 + 220 + 63 = 343 parameters
          nabla summary --model mlp.yaml
          nabla summary --load model.safetensors
        """)

    @Option(help: ArgumentHelp("Architecture file (YAML or JSON).", valueName: "file"))
    var model: String?

    @Option(help: ArgumentHelp("Model file written by `nabla train --save`.", valueName: "path"))
    var load: String?

    @Option(help: "Hidden layer sizes of an MLP, comma-separated.")
    var hidden: String = "128"

    @Option(help: "Input features of the MLP.")
    var inputs: Int = 64

    @Option(help: "Outputs of the MLP.")
    var outputs: Int = 10

    @Option(help: "Activation of the MLP.")
    var activation: String = "relu"

    @Option(help: ArgumentHelp("The vocabulary size V of a character model's architecture (default 100).", valueName: "n"))
    var vocab: Int?

    func run() throws {
        let spec: ModelSpec
        if let load {
            guard FileManager.default.isReadableFile(atPath: load) else { throw CLIError("\(load): model file not found or not readable") }
            // The architecture from the metadata alone: nothing is built or converted.
            let file = try SafeTensorsFile.read(contentsOf: load)
            guard let json = file.metadata[ModelFile.architectureKey] else {
                throw CLIError("\(load): not a Nabla model file (no '\(ModelFile.architectureKey)' in the safetensors metadata)")
            }
            spec = try ModelSpec.parse(json, source: "\(load) (architecture metadata)")
        } else if let model {
            if let v = vocab, v < 1 { throw CLIError("--vocab must be positive, got \(v)") }
            spec = try ModelSpec.read(contentsOf: model, vocabulary: vocab ?? 100)
            if let text = try? String(contentsOfFile: model, encoding: .utf8), let other = try? ModelSpec.parse(text, source: model, vocabulary: 101),
               other != (try? ModelSpec.parse(text, source: model, vocabulary: 100)) {
                print("V (the vocabulary size, set by the text a model is trained on) taken as \(vocab ?? 100)\(vocab == nil ? "; --vocab sets it" : "")")
            }
        } else {
            guard inputs > 0, outputs > 0 else { throw CLIError("--inputs and --outputs must be positive") }
            let sizes = try parseHiddenSizes(hidden)
            spec = ModelSpec.mlp(inputs: inputs, hidden: sizes, outputs: outputs, activation: activation)
        }
        // From the architecture alone: nothing is built, so a file declaring huge layers
        // costs nothing to summarise.
        print(try spec.summary(), terminator: "")
    }
}
