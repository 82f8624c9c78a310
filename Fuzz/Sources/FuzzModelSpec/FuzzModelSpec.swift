// libFuzzer harness for ModelSpec.parse (YAML/JSON architectures), then validated() and json().
import NablaIO
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
    if sizesFitInt(spec) { _ = try? spec.validated() }
    return 0
}

/// True when validated() cannot overflow multiplying the sizes this spec mentions, and no
/// reshape has an empty shape; validated() itself belongs to another change (see docs/fuzzing.md).
func sizesFitInt(_ spec: ModelSpec) -> Bool {
    let outs = spec.layers.compactMap(\.out).map(\.magnitude)
    let biggestOut = outs.max() ?? 1
    var bases = [spec.input]
    for l in spec.layers where l.type == "reshape" {
        guard let s = l.shape, !s.isEmpty else { return false }
        bases.append(s)
    }
    for base in bases {
        var product: UInt = 1
        for (k, d) in base.enumerated() {
            let m = k == base.count - 1 ? max(d.magnitude, biggestOut, 1) : max(d.magnitude, 1)
            let (p, o) = product.multipliedReportingOverflow(by: m)
            if o || p > UInt(Int.max) { return false }
            product = p
        }
    }
    return true
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
