import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to write a file, naming the path and the reason in one line.
public struct FileWriteError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The destination path that could not be written.
    public let path: String
    /// What went wrong.
    public let message: String

    /// Creates an error for `path`.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// A one-line description of the error: the path, then what went wrong.
    public var description: String { "\(path): \(message)" }
    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

/// Writes `data` to `path` atomically: either the old file stays untouched or the new one is complete.
///
/// The bytes go to a temporary file in the same directory (`.<name>.tmp-<random>`), are
/// flushed to disk, and the temporary file is renamed over `path`. On any failure the
/// temporary file is removed and a `FileWriteError` is thrown.
public func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent()
    let name = url.lastPathComponent
    guard !name.isEmpty, name != "/" else {
        throw FileWriteError(path: path, message: "not a file path")
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw FileWriteError(path: path, message: "is a directory")
    }
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw FileWriteError(path: path, message: "directory \(directory.path) does not exist")
    }
    let temp = directory.appendingPathComponent(".\(name).tmp-\(UUID().uuidString)")
    do {
        try data.write(to: temp)
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(path: path, message: "cannot write temporary file \(temp.path): \(error.localizedDescription)")
    }
    // Flush to stable storage before the rename makes the file visible.
    let fd = open(temp.path, O_RDONLY)
    if fd >= 0 {
        _ = fsync(fd)
        _ = close(fd)
    }
    if rename(temp.path, path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(path: path, message: "cannot move temporary file into place: \(reason)")
    }
}

/// Removes temporary files that an interrupted ``atomicWrite(_:to:)`` of `path` left behind.
///
/// They are named `.<name>.tmp-<random>` beside `path`; a process killed between writing
/// one and renaming it (kill -9, power loss) cannot remove it itself. Call this when a new
/// run takes over the same output. Returns how many files were removed.
@discardableResult
public func removeStaleTemporaryFiles(for path: String) -> Int {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    let prefix = ".\(url.lastPathComponent).tmp-"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
    var removed = 0
    for n in names where n.hasPrefix(prefix) && n.count == prefix.count + 36 {   // a UUID's 36 characters
        if (try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(n))) != nil { removed += 1 }
    }
    return removed
}
