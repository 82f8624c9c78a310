import CZlib
import Foundation

/// An error in a data file (gzip, IDX, CSV): says which file and what was wrong, in one line.
///
/// `description` is `"<source>: <message>"`, ready for a command-line tool to print.
/// `source` is the file path (or a label such as `"<memory>"` for in-memory data) and
/// `message` names the location inside the file (byte offset, row, column) where it applies.
public struct DataFileError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The file path or label of the data that was being read.
    public let source: String
    /// What was wrong, including where (byte offset, row/column) when known.
    public let message: String

    /// Creates an error for `source` with a one-line `message`.
    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }

    /// A one-line description of the error: the source, then what was wrong.
    public var description: String { "\(source): \(message)" }
    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

/// Reads a whole file into memory, throwing a `DataFileError` naming the path when it cannot.
func readFileBytes(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataFileError(source: path, message: "no such file")
    }
    if isDirectory.boolValue {
        throw DataFileError(source: path, message: "is a directory, not a file")
    }
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return [UInt8](data)
    } catch {
        throw DataFileError(source: path, message: "cannot read file (\(error.localizedDescription))")
    }
}

/// gzip (RFC 1952) decompression and compression on byte arrays, backed by the system zlib.
public enum Gzip {
    /// True when `bytes` starts with the gzip magic number `1f 8b`.
    public static func isGzipped(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Decompresses a gzip stream, including streams made of several concatenated members.
    ///
    /// Trailing zero bytes after the last member are ignored (some tools pad files);
    /// any other trailing data is an error.
    /// - Parameters:
    ///   - bytes: the compressed data, starting with `1f 8b`.
    ///   - source: file path or label used in error messages.
    ///   - maxOutput: the most bytes the stream may inflate to (`nil`: no limit). A stream that
    ///     inflates beyond it is an error, raised as soon as the limit is passed, so a small
    ///     "gzip bomb" cannot make this allocate more than about `maxOutput` bytes.
    /// - Throws: `DataFileError` for a corrupt or truncated stream, or one longer than `maxOutput`.
    public static func decompress(_ bytes: [UInt8], source: String = "<memory>", maxOutput: Int? = nil) throws -> [UInt8] {
        if let maxOutput, maxOutput < 0 {
            throw DataFileError(source: source, message: "maxOutput \(maxOutput) is negative")
        }
        let result = try inflateStream(bytes, source: source, limit: maxOutput)
        if let offset = result.exceededAt, let maxOutput {
            throw DataFileError(source: source, message: "gzip stream decompresses to more than the \(maxOutput)-byte limit (stopped near compressed byte offset \(offset))")
        }
        return result.bytes
    }

    /// Inflates `bytes`; with a `limit`, at most `limit + 1` bytes are ever held.
    ///
    /// When the stream goes past `limit`, inflation stops there: `bytes` is then the first
    /// `limit` bytes of the output (enough to read a header from) and `exceededAt` the
    /// compressed byte offset reached; the rest of the stream is not checked.
    static func inflateStream(_ bytes: [UInt8], source: String, limit: Int?) throws -> (bytes: [UInt8], exceededAt: Int?) {
        guard isGzipped(bytes) else {
            throw DataFileError(source: source, message: "not a gzip stream (missing magic bytes 1f 8b at byte offset 0)")
        }
        // One byte past the limit tells "exactly at the limit" from "beyond it".
        let capacity = limit.map { $0 == Int.max ? Int.max : $0 + 1 } ?? Int.max
        var input = bytes
        var output = [UInt8](repeating: 0, count: min(capacity, max(1024, min(bytes.count &* 4, 1 << 30))))
        var produced = 0
        var consumed = 0
        var stream = z_stream()
        var status = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DataFileError(source: source, message: "cannot initialise zlib (error \(status))")
        }
        defer { inflateEnd(&stream) }

        while true {
            // Member loop: inflate until Z_STREAM_END, then look for another member.
            var memberDone = false
            while !memberDone {
                if produced == output.count {
                    if let limit, produced > limit {
                        // Full at limit + 1 bytes: past the limit.
                        output.removeSubrange(limit...)
                        return (output, consumed)
                    }
                    let grow = min(max(output.count, 1024), capacity - output.count)
                    guard output.count <= Int.max - grow else {
                        throw DataFileError(source: source, message: "decompressed data is too large")
                    }
                    output.append(contentsOf: repeatElement(0, count: grow))
                }
                let (st, usedIn, usedOut) = zlibStep(&stream, &input, consumed, &output, produced) { CZlib.inflate(&$0, Z_NO_FLUSH) }
                consumed += usedIn
                produced += usedOut
                status = st
                switch status {
                case Z_STREAM_END:
                    memberDone = true
                case Z_OK:
                    if usedIn == 0 && usedOut == 0 && consumed >= input.count {
                        throw truncated(source, consumed)
                    }
                case Z_BUF_ERROR:
                    if consumed >= input.count {
                        throw truncated(source, consumed)
                    }
                    // Otherwise output space ran out: the loop grows it.
                case Z_DATA_ERROR:
                    let detail = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw DataFileError(source: source, message: "corrupt gzip stream near compressed byte offset \(consumed): \(detail)")
                case Z_MEM_ERROR:
                    throw DataFileError(source: source, message: "out of memory while decompressing")
                default:
                    throw DataFileError(source: source, message: "zlib error \(status) at compressed byte offset \(consumed)")
                }
            }
            if let limit, produced > limit {
                output.removeSubrange(limit...)
                return (output, consumed)
            }
            // After a member: more members, zero padding, or garbage.
            if consumed >= input.count { break }
            if input.count - consumed >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b {
                guard inflateReset(&stream) == Z_OK else {
                    throw DataFileError(source: source, message: "cannot reset zlib for the gzip member at byte offset \(consumed)")
                }
                continue
            }
            if input[consumed...].allSatisfy({ $0 == 0 }) { break }
            throw DataFileError(source: source, message: "unexpected data after the gzip stream at byte offset \(consumed)")
        }
        output.removeSubrange(produced...)
        return (output, nil)
    }

    /// Points `stream` at `input[consumed...]` and `output[produced...]` (at most 2³¹−1
    /// bytes each), runs one zlib call, and returns its status and the bytes it consumed
    /// and produced. The buffer pointers do not outlive the call.
    private static func zlibStep(_ stream: inout z_stream, _ input: inout [UInt8], _ consumed: Int,
                                 _ output: inout [UInt8], _ produced: Int,
                                 _ call: (inout z_stream) -> Int32) -> (Int32, Int, Int) {
        let maxChunk = Int(Int32.max)
        let inAvail = min(input.count - consumed, maxChunk)
        let outAvail = min(output.count - produced, maxChunk)
        return input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inAvail > 0 ? inBuf.baseAddress!.advanced(by: consumed) : nil
                stream.avail_in = uInt(inAvail)
                stream.next_out = outBuf.baseAddress!.advanced(by: produced)
                stream.avail_out = uInt(outAvail)
                let r = call(&stream)
                let usedIn = inAvail - Int(stream.avail_in)
                let usedOut = outAvail - Int(stream.avail_out)
                stream.next_in = nil
                stream.next_out = nil
                return (r, usedIn, usedOut)
            }
        }
    }

    private static func truncated(_ source: String, _ offset: Int) -> DataFileError {
        DataFileError(source: source, message: "truncated gzip stream (input ends at byte offset \(offset) before the end of the compressed data)")
    }

    /// Compresses `bytes` into a single-member gzip stream.
    ///
    /// The output has no file name and a zero modification time, so equal inputs give equal outputs.
    /// - Parameter level: zlib compression level, 0 (none) to 9 (best); 6 by default.
    public static func compress(_ bytes: [UInt8], level: Int = 6) throws -> [UInt8] {
        var stream = z_stream()
        let lvl = Int32(max(0, min(9, level)))
        var status = deflateInit2_(&stream, lvl, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DataFileError(source: "<gzip>", message: "cannot initialise zlib deflate (error \(status))")
        }
        defer { deflateEnd(&stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: 64 + bytes.count + bytes.count / 100)
        var produced = 0
        var consumed = 0
        let maxChunk = Int(Int32.max)
        repeat {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: max(output.count, 1024)))
            }
            let flush = (consumed + min(input.count - consumed, maxChunk) == input.count) ? Z_FINISH : Z_NO_FLUSH
            let (st, usedIn, usedOut) = zlibStep(&stream, &input, consumed, &output, produced) { deflate(&$0, flush) }
            consumed += usedIn
            produced += usedOut
            status = st
            if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                throw DataFileError(source: "<gzip>", message: "zlib deflate error \(status)")
            }
        } while status != Z_STREAM_END
        output.removeSubrange(produced...)
        return output
    }
}
