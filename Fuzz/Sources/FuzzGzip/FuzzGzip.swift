// libFuzzer harness for Gzip.decompress: arbitrary bytes, with and without an output limit,
// and a compress → decompress round trip of the input.
import NablaData
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: runs one input through the gzip decoder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    // The magic number is easy to miss; try the input both as is and behind `1f 8b`.
    for candidate in [bytes, [0x1f, 0x8b] + bytes] {
        _ = try? Gzip.decompress(candidate, source: "<fuzz>")
        if let limited = try? Gzip.decompress(candidate, source: "<fuzz>", maxOutput: 100) {
            precondition(limited.count <= 100, "maxOutput exceeded")
        }
    }
    guard let packed = try? Gzip.compress(bytes, level: size % 10) else { fatalError("compress failed") }
    guard let unpacked = try? Gzip.decompress(packed), unpacked == bytes else { fatalError("round trip changed the data") }
    return 0
}

/// The program: hands the command line to libFuzzer, which calls ``fuzzGzip(_:_:)`` per input.
@main
enum FuzzGzipMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzGzip(data, size) })
    }
}
