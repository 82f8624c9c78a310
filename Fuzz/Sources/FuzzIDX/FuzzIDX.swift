// libFuzzer harness for IDXArray.decode: the input as a plain file and gzip-compressed.
import NablaData
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: runs one input through the IDX decoder, plain and gzipped.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    let plain = try? IDXArray.decode(bytes, source: "<fuzz>")
    if let plain {
        precondition(plain.values.count == plain.shape.reduce(1, *), "values do not match the shape")
    }
    // Also through the gzip path, which must agree with the plain one.
    if let packed = try? Gzip.compress(bytes, level: 1) {
        let unpacked = try? IDXArray.decode(packed, source: "<fuzz>")
        if !Gzip.isGzipped(bytes) {
            precondition((plain == nil) == (unpacked == nil), "gzipped and plain decoding disagree")
            if let plain, let unpacked {
                precondition(plain.shape == unpacked.shape && plain.values.count == unpacked.values.count, "gzipped and plain decoding disagree")
            }
        }
    }
    return 0
}

/// The program: hands the command line to libFuzzer, which calls ``fuzzIDX(_:_:)`` per input.
@main
enum FuzzIDXMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzIDX(data, size) })
    }
}
