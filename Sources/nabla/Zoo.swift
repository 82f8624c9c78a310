import ArgumentParser
import Foundation
import Nabla

struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Train one network of the notes' architecture chart and draw what it learned.",
        discussion: """
        Each entry has a default architecture, data set and recipe (see `nabla zoo --list`
        and the README's zoo table). The folder given by --out receives metrics.json, the
        trained model (.safetensors) and PNG pictures; progress and results go to stderr.

        Examples:
          nabla zoo --list
          nabla zoo perceptron --out zoo/perceptron
          nabla zoo vae --epochs 5 --out zoo/vae
          nabla zoo lstm --data text --out zoo/lstm-text
          nabla zoo gan --arch conv --epochs 5 --out zoo/dcgan
        """)

    @Argument(help: ArgumentHelp("The entry to train (nabla zoo --list names them).", valueName: "name"))
    var name: String?

    @Flag(help: "List the entries, one line each, and exit.")
    var list = false

    @Option(help: ArgumentHelp("The data set (default: the entry's own; --list and the README say which fit).", valueName: "name"))
    var data: String?

    @Option(help: "Epochs (default: the entry's recipe).")
    var epochs: Int?

    @Option(help: ArgumentHelp("Folder for the pictures, model and metrics (created if missing).", valueName: "dir"))
    var out: String = "zoo"

    @Option(help: "Seed for weights, shuffling, noise and synthetic data.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Folder holding the Fashion-MNIST IDX files.", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Encoders and decoders of ae, dae, vae and gan: dense or conv (default: the entry's).", valueName: "arch"))
    var arch: String?

    func run() throws {
        if list {
            print(Zoo.listing)
            return
        }
        guard let name else {
            throw CLIError("give an entry to train, one of: " + Zoo.entries.map(\.name).joined(separator: ", ") + " (nabla zoo --list describes them)")
        }
        if let epochs, epochs < 1 { throw CLIError("--epochs must be at least 1, got \(epochs)") }
        var architecture: Zoo.ImageArchitecture?
        if let arch {
            guard let a = Zoo.ImageArchitecture(rawValue: arch) else {
                throw CLIError("--arch '\(arch)': use " + Zoo.ImageArchitecture.allCases.map(\.rawValue).joined(separator: " or "))
            }
            architecture = a
        }
        var options = ZooOptions(data: data, epochs: epochs, out: out, seed: seed, fashionDirectory: dataDir, architecture: architecture)
        options.shouldStop = { receivedStopSignal != 0 }
        Interrupts.install()
        defer { Interrupts.restore() }
        do {
            let report = try Zoo.run(name, options)
            for file in report.files { print("wrote \(file)") }
            print(String(format: "%@ finished in %.1f s", report.entry, report.seconds))
            for (target, met) in report.targets { print("target \(met ? "met" : "NOT met"): \(target)") }
        } catch let e as TrainingInterrupted {
            // Every file is written whole (a temporary file, then a rename), so what is in the
            // folder is complete; the rest of the run is not saved.
            Interrupts.restore()
            FileHandle.standardError.write(Data("\ninterrupted by \(Interrupts.signalName) in epoch \(e.epoch) of \(name); the files already in \(out) are complete, the rest of the run was not saved\n".utf8))
            Foundation.exit(128 + receivedStopSignal)
        } catch let e as ZooError {
            throw CLIError(e.message)
        } catch let e as DataFileError {
            throw CLIError(e.description)
        }
    }
}
