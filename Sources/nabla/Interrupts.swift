import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The signal (SIGINT or SIGTERM) that asked the running command to stop, or 0.
///
/// Written only by the signal handler, read between training steps.
nonisolated(unsafe) var receivedStopSignal: Int32 = 0

/// Ctrl-C and SIGTERM during training: finish the current step, never cut a save in half,
/// say where the last good checkpoint is, and exit 130 or 143.
enum Interrupts {
    /// Installs the handlers. A second signal while the first is being handled ends the
    /// process at once (the usual "press Ctrl-C again" escape).
    static func install() {
        receivedStopSignal = 0
        for s in [SIGINT, SIGTERM] {
            signal(s) { sig in
                if receivedStopSignal != 0 { _exit(128 + sig) }
                receivedStopSignal = sig
            }
        }
    }

    /// Restores the default behaviour (outside training, a signal ends the process).
    static func restore() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// The name a user knows the received signal by.
    static var signalName: String { receivedStopSignal == SIGTERM ? "SIGTERM" : "SIGINT (Ctrl-C)" }
}
