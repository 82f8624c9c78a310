// libFuzzer harness for SafeTensorsFile.decode: decode, convert every entry, re-encode, and
// parse an embedded architecture as ModelFile.load would.
import NablaCore
import NablaIO
import NablaNN
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: runs one input through the safetensors decoder and converters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    guard let file = try? SafeTensorsFile.decode(bytes, source: "<fuzz>") else { return 0 }
    for e in file.entries {
        let n = e.shape.reduce(1, *)
        precondition(e.data.count == n * e.dtype.byteSize, "entry size does not match its shape")
        precondition(e.floats().count == n && e.doubles().count == n, "conversion lost elements")
        if let ints = try? e.int64s() { precondition(ints.count == n, "conversion lost elements") }
        precondition(e.tensor().shape == e.shape, "tensor shape differs")
        _ = try? SafeTensorEntry(name: e.name, dtype: e.dtype, shape: e.shape, data: e.data)
    }
    // Re-encoding what decoded must give a file that decodes to the same thing.
    if let again = try? file.encoded() {
        guard let back = try? SafeTensorsFile.decode(again) else { fatalError("re-encoded file does not decode") }
        precondition(Set(back.names) == Set(file.names) && back.metadata == file.metadata, "round trip changed the file")
    }
    if let arch = file.metadata[ModelFile.architectureKey], let spec = try? ModelSpec.parse(arch, source: "<fuzz>") {
        _ = try? ModelSpec.parse(spec.json(), source: "<fuzz json>")
    }
    return 0
}

/// The program: hands the command line to libFuzzer, which calls ``fuzzSafeTensors(_:_:)`` per input.
@main
enum FuzzSafeTensorsMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzSafeTensors(data, size) })
    }
}
