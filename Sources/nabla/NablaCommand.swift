import ArgumentParser
import Foundation
import Nabla

/// A command-line error: one line for the user.
struct CLIError: Error, LocalizedError, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
    var errorDescription: String? { message }
}

struct NablaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nabla",
        abstract: "Train, evaluate and run neural networks — Swift all the way down.",
        discussion: """
        Examples:
          nabla train                                   # MLP on the built-in digits, reports test accuracy
          nabla train --data fashion-mnist --hidden 256,128 --epochs 10 --batch-size 128 --save fm.safetensors
          nabla train --data csv:houses.csv --target price --loss mse --save price.safetensors
          nabla evaluate --load fm.safetensors --data fashion-mnist
          nabla predict --load price.safetensors --input new-houses.csv
          nabla summary --hidden 256,128 --inputs 784 --outputs 10
          nabla train --report report                   # report/index.html with curves and a confusion matrix
          nabla graph --expr "(x + y) * z" --set x=-2,y=5,z=-4 --out graph.svg
          nabla plot adam.csv sgd.csv --out loss.svg
          nabla zoo vae --out zoo/vae                   # a network of the notes' chart, with PNG pictures
          nabla info
        """,
        version: NablaVersion.string,
        subcommands: [Train.self, Evaluate.self, Predict.self, Generate.self, Summary.self, Graph.self, Plot.self, ZooCommand.self, Info.self],
        defaultSubcommand: nil)
}

/// The release version.
enum NablaVersion { static let string = "0.1.0" }
