import ArgumentParser
import Foundation
import Nabla

// Entry point: argument errors (and --help) are reported by ArgumentParser with usage;
// every error while running a command is one line on stderr and exit code 1.
let command: ParsableCommand
do {
    command = try NablaCommand.parseAsRoot()
} catch {
    NablaCommand.exit(withError: error)
}
do {
    var c = command
    try c.run()
} catch let e as CleanExit {
    NablaCommand.exit(withError: e)
} catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
    // ArgumentParser's own outcomes: `--help` (its help command throws a help request
    // from run()), ExitCode, ValidationError.
    NablaCommand.exit(withError: error)
} catch {
    let text = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
    FileHandle.standardError.write(Data(("error: " + text.replacingOccurrences(of: "\n", with: "; ") + "\n").utf8))
    exit(1)
}
