import Foundation

/// The fuzzers' seed inputs and saved crashing inputs (`Fuzz/corpus`, `Fuzz/crashes`), for
/// the regression tests that run them through the parsers on every `swift test`.
public enum FuzzCorpus {
    /// The repository root, found from this file's path (Sources/_NablaTestSupport/<file>).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder `Fuzz/<kind>/<parser>` and its files (name and bytes), sorted by name;
    /// no files when the folder is missing.
    public static func files(_ kind: String, _ parser: String) throws -> (directory: String, files: [(String, [UInt8])]) {
        let dir = root.appendingPathComponent("Fuzz/\(kind)/\(parser)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { !$0.hasPrefix(".") }.sorted() ?? []
        return (dir.path, try names.map { ($0, [UInt8](try Data(contentsOf: dir.appendingPathComponent($0)))) })
    }
}
