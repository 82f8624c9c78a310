// libFuzzer harness for ModelSpec.parse (YAML/JSON architectures), then validated() and json().
import NablaIO
import NablaNN
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: parses one input as an architecture and checks what parses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: data == nil ? 0 : size), as: UTF8.self)
    guard let spec = try? ModelSpec.parse(text, source: "<fuzz>") else { return 0 }
    // What parses must survive the JSON round trip that model files use.
    let again = try? ModelSpec.parse(spec.json(), source: "<fuzz json>")
    precondition(again == spec, "JSON round trip changed the architecture")
    _ = try? spec.validated(); _ = try? spec.parameterCount(); _ = try? spec.summary()
    return 0
}


/// The program: hands the command line to libFuzzer, which calls ``fuzzModelSpec(_:_:)`` per input.
@main
enum FuzzModelSpecMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzModelSpec(data, size) })
    }
}
