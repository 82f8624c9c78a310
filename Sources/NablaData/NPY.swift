import Foundation
import NablaCore

/// The element types of a `.npy` file that Nabla reads and writes.
public enum NPYDataType: String, Sendable, CaseIterable {
    /// Little-endian IEEE single precision (`<f4`).
    case float32 = "<f4"
    /// Little-endian IEEE double precision (`<f8`).
    case float64 = "<f8"
    /// Little-endian signed 64-bit integer (`<i8`), NumPy's default integer.
    case int64 = "<i8"
    /// Little-endian signed 32-bit integer (`<i4`).
    case int32 = "<i4"

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }
}

/// An array read from NumPy's `.npy` format (C order), with its values as `Double`.
///
/// The format: the magic `\x93NUMPY`, a version, a little-endian header length, an ASCII
/// Python dict such as `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then
/// the elements in row-major order. Fortran order, big-endian data and object arrays are
/// refused with an error naming what the file holds.
public struct NPYArray: Sendable, Equatable {
    /// Dimension sizes, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// The element type stored in the file.
    public let dataType: NPYDataType
    /// All elements in row-major order (int64 values beyond 2⁵³ are rounded).
    public let values: [Double]

    /// An array of `values` with `shape`, to be written as `dataType`.
    public init(shape: [Int], values: [Double], dataType: NPYDataType = .float32) throws {
        guard let n = Shape.checkedCount(shape), n == values.count else {
            throw DataFileError(source: "<memory>", message: "shape \(shape) does not hold \(values.count) values")
        }
        self.shape = shape; self.values = values; self.dataType = dataType
    }

    /// The array as a tensor: float64 stays float64, every other type becomes float32.
    public func tensor() -> Tensor {
        dataType == .float64 ? Tensor(values, shape: shape) : Tensor(values.map(Float.init), shape: shape)
    }

    /// The largest header accepted (NumPy's own files use well under 1 KiB).
    static let maxHeaderLength = 65_536

    /// Reads a `.npy` file.
    /// - Throws: `DataFileError` naming the path and what is wrong.
    ///
    /// `limits` bounds the memory the values may take (8 bytes each, as `Double`), checked
    /// from the header before they are converted.
    public static func read(contentsOf path: String, limits: ResourceLimits = .unlimited) throws -> NPYArray {
        try decode(try readFileBytes(path), source: path, limits: limits)
    }

    /// Decodes `.npy` bytes; `source` names the data in errors.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>", limits: ResourceLimits = .unlimited) throws -> NPYArray {
        func fail(_ message: String) -> DataFileError { DataFileError(source: source, message: message) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file (missing the magic bytes \\x93NUMPY at byte offset 0)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("file ends inside the version \(major) header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7]) (1, 2 and 3 are read)")
        }
        guard headerLength <= maxHeaderLength else {
            throw fail("header length \(headerLength) is above the \(maxHeaderLength)-byte limit")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail("file ends at byte \(bytes.count), inside the \(headerLength)-byte header")
        }
        guard let header = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
            throw fail("header is not valid text")
        }
        var parser = HeaderParser(text: header, source: source)
        let dict = try parser.parse()
        guard let descr = dict["descr"], case .string(let d) = descr else { throw fail("header has no 'descr' string") }
        // '=' (native order) is little-endian on every platform Nabla runs on.
        guard let type = NPYDataType(rawValue: d.hasPrefix("=") ? "<" + d.dropFirst() : d) else {
            throw fail("element type '\(d)' is not supported (float32 <f4, float64 <f8, int64 <i8 or int32 <i4, little-endian)")
        }
        if let f = dict["fortran_order"] {
            guard case .bool(let fortran) = f else { throw fail("header 'fortran_order' is not True or False") }
            guard !fortran else { throw fail("the array is in Fortran order; save it in C order (numpy.ascontiguousarray)") }
        }
        guard let s = dict["shape"], case .tuple(let shape) = s else { throw fail("header has no 'shape' tuple") }
        guard let count = Shape.checkedCount(shape), let byteCount = CheckedSize.product(count, type.byteSize) else {
            throw fail("shape \(shape) is too large")
        }
        do { try limits.check(bytes: CheckedSize.product(count, 8), for: "the array (shape \(shape))") } catch let e as ResourceLimitError {
            throw fail(e.message)
        }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        guard available == byteCount else {
            throw fail(available < byteCount
                ? "truncated: shape \(shape) of \(d) needs \(byteCount) bytes of data, the file has \(available)"
                : "\(available - byteCount) unexpected bytes after the data at byte offset \(dataStart + byteCount)")
        }
        var values = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + dataStart
            for i in 0..<count {
                switch type {
                case .float32: values[i] = Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                case .float64: values[i] = Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case .int64: values[i] = Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case .int32: values[i] = Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                }
            }
        }
        return NPYArray(uncheckedShape: shape, values: values, dataType: type)
    }

    private init(uncheckedShape shape: [Int], values: [Double], dataType: NPYDataType) {
        self.shape = shape; self.values = values; self.dataType = dataType
    }

    /// The array in `.npy` format version 1.0 (the header padded to a multiple of 64 bytes).
    public func encoded() -> [UInt8] {
        let shapeText = shape.isEmpty ? "()" : shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dataType.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let n = header.utf8.count
        out += [UInt8(n & 0xff), UInt8(n >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + values.count * dataType.byteSize)
        for v in values {
            switch dataType {
            case .float32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { out += $0 }
            case .float64: withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            case .int64: withUnsafeBytes(of: Int64(exactly: v.rounded()) ?? 0) { out += $0 }
            case .int32: withUnsafeBytes(of: Int32(exactly: v.rounded()) ?? 0) { out += $0 }
            }
        }
        return out
    }

    /// A header value: the subset of Python literals `.npy` headers use.
    enum Value { case string(String), bool(Bool), tuple([Int]) }

    /// Parses the header's Python dict literal (strings, True/False and tuples of integers).
    struct HeaderParser {
        let chars: [Character]
        let source: String
        var i = 0

        init(text: String, source: String) { chars = Array(text); self.source = source }

        func fail(_ m: String) -> DataFileError { DataFileError(source: source, message: "header: \(m) at character \(i)") }

        mutating func space() { while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" { i += 1 } }

        mutating func expect(_ c: Character) throws {
            space()
            guard i < chars.count, chars[i] == c else { throw fail("expected '\(c)'") }
            i += 1
        }

        mutating func string() throws -> String {
            space()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a quoted string") }
            let q = chars[i]; i += 1
            var s = ""
            while i < chars.count, chars[i] != q {
                s.append(chars[i]); i += 1
                guard s.count <= 256 else { throw fail("string longer than 256 characters") }
            }
            guard i < chars.count else { throw fail("unterminated string") }
            i += 1
            return s
        }

        mutating func value() throws -> Value {
            space()
            guard i < chars.count else { throw fail("unexpected end") }
            switch chars[i] {
            case "'", "\"": return .string(try string())
            case "T", "F":
                let word = chars[i] == "T" ? "True" : "False"
                guard i + word.count <= chars.count, String(chars[i..<(i + word.count)]) == word else { throw fail("expected True or False") }
                i += word.count
                return .bool(word == "True")
            case "(":
                i += 1
                var dims: [Int] = []
                while true {
                    space()
                    if i < chars.count, chars[i] == ")" { i += 1; return .tuple(dims) }
                    var digits = ""
                    while i < chars.count, chars[i].isASCII, chars[i].isNumber { digits.append(chars[i]); i += 1 }
                    if i < chars.count, chars[i] == "L" { i += 1 }   // Python 2's long suffix
                    guard !digits.isEmpty, digits.count <= 18, let d = Int(digits) else { throw fail("expected a dimension size") }
                    dims.append(d)
                    guard dims.count <= 64 else { throw fail("more than 64 dimensions") }
                    space()
                    if i < chars.count, chars[i] == "," { i += 1; continue }
                    try expect(")")
                    return .tuple(dims)
                }
            default:
                throw fail("unexpected '\(chars[i])'")
            }
        }

        mutating func parse() throws -> [String: Value] {
            try expect("{")
            var out: [String: Value] = [:]
            while true {
                space()
                if i < chars.count, chars[i] == "}" { i += 1; break }
                let key = try string()
                try expect(":")
                guard out[key] == nil else { throw fail("key '\(key)' appears twice") }
                out[key] = try value()
                guard out.count <= 16 else { throw fail("too many keys") }
                space()
                if i < chars.count, chars[i] == "," { i += 1; continue }
                try expect("}")
                break
            }
            return out
        }
    }
}
