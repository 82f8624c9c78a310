import ArgumentParser
import Foundation
import Nabla

// Entry point: argument errors (and --help) are reported by ArgumentParser with usage;
// every error while running a command is one line on stderr and exit code 1.
// Diagnostics: NABLA_REPORT_PEAK_MEMORY=1 prints the process's peak resident memory (VmHWM,
// which counts this program only, not what the parent had before exec) to stderr at exit.
if ProcessInfo.processInfo.environment["NABLA_REPORT_PEAK_MEMORY"] == "1" {
    atexit {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return }
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        FileHandle.standardError.write(Data("peak memory: \(kb) kB\n".utf8))
    }
}

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
