// libFuzzer harness for NPYArray.decode, and the encode → decode round trip of what decodes.
import NablaData
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: decodes one input as a .npy file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    guard let a = try? NPYArray.decode(bytes, source: "<fuzz>") else { return 0 }
    precondition(a.values.count == a.shape.reduce(1, *), "values do not match the shape")
    // What decodes must survive its own encoding (NaN payloads aside, compare bit counts).
    let again = try? NPYArray.decode(a.encoded(), source: "<fuzz again>")
    precondition(again?.shape == a.shape && again?.dataType == a.dataType, "round trip changed the array")
    _ = a.tensor()
    return 0
}

/// The program: hands the command line to libFuzzer, which calls ``fuzzNPY(_:_:)`` per input.
@main
enum FuzzNPYMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzNPY(data, size) })
    }
}
