// libFuzzer harness for the CSV reader: datasets with several target columns, and features.
import NablaData
import CFuzzerDriver
import Foundation

/// libFuzzer entry point: runs one input through every CSV entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    for target in [CSVTarget.index(-1), .index(0), .index(1), .name("y"), .name("label")] {
        if let d = try? CSV.parseDataset(bytes, target: target, source: "<fuzz>") {
            precondition(d.features.count == d.rows * d.featureCount && d.targets.count == d.rows, "inconsistent dataset")
            precondition(d.features.allSatisfy(\.isFinite) && d.targets.allSatisfy(\.isFinite), "non-finite value accepted")
            _ = try? d.classIndices()
        }
    }
    if let f = try? CSV.parseFeatures(bytes, source: "<fuzz>") {
        precondition(f.features.count == f.rows * f.featureCount, "inconsistent features")
        precondition(f.features.allSatisfy(\.isFinite), "non-finite value accepted")
    }
    return 0
}

/// The program: hands the command line to libFuzzer, which calls ``fuzzCSV(_:_:)`` per input.
@main
enum FuzzCSVMain {
    /// Runs libFuzzer and exits with its status.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCSV(data, size) })
    }
}
