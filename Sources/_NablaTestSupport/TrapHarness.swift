import Foundation

/// Runs code that must trap in a child process and reports whether it trapped.
///
/// A trap ends the process, so a test that checks one re-runs the test binary itself,
/// filtered to a child test (`Module.Class/testTrapChild`) that reads the case to trigger
/// from the `NABLA_TRAP_CASE` environment variable. The parent reads the child's stderr.
public enum TrapHarness {
    /// The case the current process must trigger, when it is a child; nil in the parent.
    public static var currentCase: String? { ProcessInfo.processInfo.environment["NABLA_TRAP_CASE"] }

    /// Runs `childTest` (e.g. `"NablaNNTests.InPlaceVersionTests/testTrapChild"`) in a child
    /// process with `NABLA_TRAP_CASE=caseName`; returns whether it died of a signal, and its stderr.
    public static func run(childTest: String, caseName: String) throws -> (trapped: Bool, stderr: String) {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        proc.arguments = [childTest]
        var env = ProcessInfo.processInfo.environment
        env["NABLA_TRAP_CASE"] = caseName
        env["SWIFT_BACKTRACE"] = "enable=no"
        proc.environment = env
        let err = Pipe(), out = Pipe()
        proc.standardError = err
        proc.standardOutput = out
        try proc.run()
        // Read before waiting so a full pipe cannot block the child.
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        return (proc.terminationReason == .uncaughtSignal, String(decoding: errData, as: UTF8.self))
    }
}
