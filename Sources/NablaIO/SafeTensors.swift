import Foundation

// safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes   little-endian UInt64 N, the header length
//   N bytes   UTF-8 JSON object: optional "__metadata__": {String: String}, and for each tensor
//             "name": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}
//             (may be padded with trailing spaces)
//   rest      the byte buffer; offsets are relative to its start; data is little-endian,
//             row-major, and the tensors cover the buffer exactly, without holes or overlaps.

/// A malformed safetensors file or an invalid tensor, described in one line.
///
/// `description` reads `"<source>: tensor '<name>': <message>"` (without the tensor part when
/// the problem is not tied to one tensor).
public struct SafeTensorsError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The file path, or a label such as `"<memory>"`.
    public let source: String
    /// The tensor the problem concerns, if any.
    public let tensor: String?
    /// What was wrong.
    public let message: String

    /// Creates an error.
    public init(source: String, tensor: String? = nil, message: String) {
        self.source = source
        self.tensor = tensor
        self.message = message
    }

    /// A one-line description of the error, with control characters in names escaped.
    public var description: String {
        if let tensor { return "\(source): tensor '\(Self.oneLine(tensor))': \(Self.oneLine(message))" }
        return "\(source): \(Self.oneLine(message))"
    }

    /// Escapes control characters (names from a hostile file may contain newlines).
    static func oneLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            if ch.value < 0x20 || ch.value == 0x7f {
                out += ch == "\n" ? "\\n" : "\\u{\(String(ch.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }
    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

/// The element type of a safetensors tensor, spelled as in the file (`"F32"`, `"BF16"`, …).
public enum SafeTensorDType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Boolean, one byte per element (0 or 1).
    case bool = "BOOL"
    /// Unsigned 8-bit integer.
    case uint8 = "U8"
    /// Signed 8-bit integer.
    case int8 = "I8"
    /// Signed 16-bit integer.
    case int16 = "I16"
    /// Unsigned 16-bit integer.
    case uint16 = "U16"
    /// IEEE 754 half precision.
    case float16 = "F16"
    /// bfloat16 (the top 16 bits of an IEEE 754 single).
    case bfloat16 = "BF16"
    /// Signed 32-bit integer.
    case int32 = "I32"
    /// Unsigned 32-bit integer.
    case uint32 = "U32"
    /// IEEE 754 single precision.
    case float32 = "F32"
    /// IEEE 754 double precision.
    case float64 = "F64"
    /// Signed 64-bit integer.
    case int64 = "I64"
    /// Unsigned 64-bit integer.
    case uint64 = "U64"

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// True for the floating-point types (F16, BF16, F32, F64).
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: return true
        default: return false
        }
    }

    /// Position in the reference implementation's dtype enumeration; the writer lays tensors out
    /// by this rank, highest first, like Python's `safetensors`.
    var layoutRank: Int {
        switch self {
        case .bool: return 0
        case .uint8: return 1
        case .int8: return 2
        case .int16: return 3
        case .uint16: return 4
        case .float16: return 5
        case .bfloat16: return 6
        case .int32: return 7
        case .uint32: return 8
        case .float32: return 9
        case .float64: return 10
        case .int64: return 11
        case .uint64: return 12
        }
    }

    /// The dtype's safetensors name, such as `F32` or `BF16`.
    public var description: String { rawValue }
}

/// One named tensor of a safetensors file: dtype, shape and raw little-endian bytes.
public struct SafeTensorEntry: Sendable, Equatable {
    /// The tensor's name (its key in the header).
    public let name: String
    /// The element type.
    public let dtype: SafeTensorDType
    /// Dimension sizes, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// The elements' bytes. For an entry read from a file this is a slice of the file's one
    /// byte buffer, shared by every entry (no copy per tensor), so loading a file costs its
    /// size once, not twice.
    let raw: ArraySlice<UInt8>
    /// The elements as little-endian bytes, row-major; `count == elementCount * dtype.byteSize`.
    public var data: [UInt8] { Array(raw) }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var elementCount: Int { raw.count / dtype.byteSize }

    /// Creates an entry from raw little-endian bytes.
    /// - Throws: `SafeTensorsError` if a dimension is negative or `data.count` does not match
    ///   the shape and dtype.
    public init(name: String, dtype: SafeTensorDType, shape: [Int], data: [UInt8]) throws {
        let n = try Self.count(shape, name: name)
        let (bytes, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == data.count else {
            throw SafeTensorsError(source: "<memory>", tensor: name, message: "\(data.count) bytes of data do not match shape \(shape) of \(dtype) (\(overflow ? "overflow" : "\(bytes) bytes"))")
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.raw = data[...]
    }

    private init(unchecked name: String, dtype: SafeTensorDType, shape: [Int], data: ArraySlice<UInt8>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.raw = data
    }

    private static func count(_ shape: [Int], name: String) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else {
                throw SafeTensorsError(source: "<memory>", tensor: name, message: "shape \(shape) has a negative dimension")
            }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else {
                throw SafeTensorsError(source: "<memory>", tensor: name, message: "shape \(shape) is too large")
            }
            n = p
        }
        return n
    }

    private static func checkCount(_ shape: [Int], _ values: Int, name: String) throws {
        let n = try count(shape, name: name)
        guard n == values else {
            throw SafeTensorsError(source: "<memory>", tensor: name, message: "shape \(shape) holds \(n) elements but \(values) values were given")
        }
    }

    /// Creates a floating-point entry from `Float` values, stored as `dtype` (`.float32` by default).
    ///
    /// `.float16` and `.bfloat16` round to nearest, ties to even; `.float64` widens.
    /// - Throws: `SafeTensorsError` for a non-floating-point dtype or a shape/count mismatch.
    public init(name: String, shape: [Int], floats: [Float], dtype: SafeTensorDType = .float32) throws {
        try Self.checkCount(shape, floats.count, name: name)
        var out = [UInt8]()
        out.reserveCapacity(floats.count * dtype.byteSize)
        switch dtype {
        case .float32: for v in floats { appendLE(&out, UInt64(v.bitPattern), 4) }
        case .float64: for v in floats { appendLE(&out, Double(v).bitPattern, 8) }
        case .float16: for v in floats { appendLE(&out, UInt64(halfBits(from: v)), 2) }
        case .bfloat16: for v in floats { appendLE(&out, UInt64(bfloat16Bits(from: v)), 2) }
        default:
            throw SafeTensorsError(source: "<memory>", tensor: name, message: "cannot store Float values as \(dtype); use F32, F64, F16 or BF16")
        }
        self.init(unchecked: name, dtype: dtype, shape: shape, data: out[...])
    }

    /// Creates an F64 entry from `Double` values.
    public init(name: String, shape: [Int], doubles: [Double]) throws {
        try Self.checkCount(shape, doubles.count, name: name)
        var out = [UInt8]()
        out.reserveCapacity(doubles.count * 8)
        for v in doubles { appendLE(&out, v.bitPattern, 8) }
        self.init(unchecked: name, dtype: .float64, shape: shape, data: out[...])
    }

    /// Creates an I64 entry.
    public init(name: String, shape: [Int], int64s: [Int64]) throws {
        try Self.checkCount(shape, int64s.count, name: name)
        var out = [UInt8]()
        out.reserveCapacity(int64s.count * 8)
        for v in int64s { appendLE(&out, UInt64(bitPattern: v), 8) }
        self.init(unchecked: name, dtype: .int64, shape: shape, data: out[...])
    }

    /// Creates an I32 entry.
    public init(name: String, shape: [Int], int32s: [Int32]) throws {
        try Self.checkCount(shape, int32s.count, name: name)
        var out = [UInt8]()
        out.reserveCapacity(int32s.count * 4)
        for v in int32s { appendLE(&out, UInt64(UInt32(bitPattern: v)), 4) }
        self.init(unchecked: name, dtype: .int32, shape: shape, data: out[...])
    }

    /// Creates a U8 entry.
    public init(name: String, shape: [Int], uint8s: [UInt8]) throws {
        try Self.checkCount(shape, uint8s.count, name: name)
        self.init(unchecked: name, dtype: .uint8, shape: shape, data: uint8s[...])
    }

    /// Creates a BOOL entry (one byte per element, 0 or 1).
    public init(name: String, shape: [Int], bools: [Bool]) throws {
        try Self.checkCount(shape, bools.count, name: name)
        self.init(unchecked: name, dtype: .bool, shape: shape, data: bools.map { $0 ? 1 : 0 }[...])
    }

    /// The elements converted to `Float` (F16/BF16 exactly, F64 and wide integers rounded, BOOL as 0/1).
    public func floats() -> [Float] {
        let n = elementCount
        var out = [Float](repeating: 0, count: n)
        switch dtype {
        case .float32: for i in 0..<n { out[i] = Float(bitPattern: UInt32(truncatingIfNeeded: loadLE(i, 4))) }
        case .float16: for i in 0..<n { out[i] = floatFromHalfBits(UInt16(truncatingIfNeeded: loadLE(i, 2))) }
        case .bfloat16: for i in 0..<n { out[i] = floatFromBFloat16Bits(UInt16(truncatingIfNeeded: loadLE(i, 2))) }
        case .float64: for i in 0..<n { out[i] = Float(Double(bitPattern: loadLE(i, 8))) }
        case .uint64: for i in 0..<n { out[i] = Float(loadLE(i, 8)) }
        default:
            let ints = integerValues()
            for i in 0..<n { out[i] = Float(ints[i]) }
        }
        return out
    }

    /// The elements converted to `Double` (exact for every type except I64/U64 beyond 2^53).
    public func doubles() -> [Double] {
        switch dtype {
        case .float32, .float16, .bfloat16: return floats().map(Double.init)
        case .float64: return (0..<elementCount).map { Double(bitPattern: loadLE($0, 8)) }
        case .uint64: return (0..<elementCount).map { Double(loadLE($0, 8)) }
        default: return integerValues().map(Double.init)
        }
    }

    /// The elements as `Int64`, for integer and BOOL tensors.
    /// - Throws: `SafeTensorsError` for floating-point tensors, or a U64 value above `Int64.max`.
    public func int64s() throws -> [Int64] {
        guard !dtype.isFloatingPoint else {
            throw SafeTensorsError(source: "<memory>", tensor: name, message: "is \(dtype), not an integer type; read it with floats() or doubles()")
        }
        if dtype == .uint64 {
            var out = [Int64]()
            out.reserveCapacity(elementCount)
            for i in 0..<elementCount {
                let v = loadLE(i, 8)
                guard v <= UInt64(Int64.max) else {
                    throw SafeTensorsError(source: "<memory>", tensor: name, message: "U64 value \(v) at index \(i) does not fit Int64")
                }
                out.append(Int64(v))
            }
            return out
        }
        return integerValues()
    }

    /// Integer and BOOL types except U64, as Int64.
    private func integerValues() -> [Int64] {
        let n = elementCount
        var out = [Int64](repeating: 0, count: n)
        switch dtype {
        case .bool, .uint8: for i in 0..<n { out[i] = Int64(raw[raw.startIndex + i]) }
        case .int8: for i in 0..<n { out[i] = Int64(Int8(bitPattern: raw[raw.startIndex + i])) }
        case .int16: for i in 0..<n { out[i] = Int64(Int16(bitPattern: UInt16(truncatingIfNeeded: loadLE(i, 2)))) }
        case .uint16: for i in 0..<n { out[i] = Int64(loadLE(i, 2)) }
        case .int32: for i in 0..<n { out[i] = Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: loadLE(i, 4)))) }
        case .uint32: for i in 0..<n { out[i] = Int64(loadLE(i, 4)) }
        case .int64: for i in 0..<n { out[i] = Int64(bitPattern: loadLE(i, 8)) }
        case .uint64: for i in 0..<n { out[i] = Int64(truncatingIfNeeded: loadLE(i, 8)) }
        case .float16, .bfloat16, .float32, .float64: break
        }
        return out
    }

    /// Little-endian unsigned value of `size` bytes at element `index`.
    @inline(__always)
    private func loadLE(_ index: Int, _ size: Int) -> UInt64 {
        let base = raw.startIndex + index * size
        var v: UInt64 = 0
        for k in stride(from: size - 1, through: 0, by: -1) { v = v << 8 | UInt64(raw[base + k]) }
        return v
    }
}

@inline(__always)
private func appendLE(_ out: inout [UInt8], _ value: UInt64, _ size: Int) {
    for k in 0..<size { out.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * k))) }
}

/// The IEEE half-precision bits for `value`, rounding to nearest, ties to even.
///
/// Overflow gives infinity; NaN stays a quiet NaN with the sign and top payload bits kept.
public func halfBits(from value: Float) -> UInt16 {
    let x = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
    let exponent = Int((x >> 23) & 0xff)
    var mantissa = x & 0x7f_ffff
    if exponent == 0xff {
        return mantissa == 0 ? sign | 0x7c00 : sign | 0x7e00 | UInt16(truncatingIfNeeded: mantissa >> 13)
    }
    let e = exponent - 127 + 15
    if e >= 31 { return sign | 0x7c00 }
    if e <= 0 {
        if e < -10 { return sign }
        mantissa |= 0x80_0000
        let shift = UInt32(14 - e)
        var h = mantissa >> shift
        let rest = mantissa & ((1 << shift) - 1)
        let half = UInt32(1) << (shift - 1)
        if rest > half || (rest == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }
    var h = UInt32(e) << 10 | (mantissa >> 13)
    let rest = mantissa & 0x1fff
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h += 1 }
    return sign | UInt16(truncatingIfNeeded: h)
}

/// The `Float` value of IEEE half-precision bits (exact, including subnormals, infinities and NaN).
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        let v = Float(mantissa) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// bfloat16 bits for `value`, rounding to nearest, ties to even (NaN stays a quiet NaN).
public func bfloat16Bits(from value: Float) -> UInt16 {
    let x = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: x >> 16) | 0x0040 }
    let rounded = x &+ 0x7fff &+ ((x >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// The `Float` value of bfloat16 bits (exact).
public func floatFromBFloat16Bits(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// A safetensors file: named tensors in order, plus string metadata.
///
/// Decoding keeps the tensors in the order of their data in the file. Encoding lays the data
/// out like Python's `safetensors` (by dtype — U64, I64, F64, F32, U32, I32, BF16, F16, U16,
/// I16, I8, U8, BOOL — then by name, byte-wise), writes the header entries in that order with
/// metadata keys sorted, and pads the header with spaces to a multiple of 8 bytes. For the same
/// tensors and at most one metadata key the bytes equal `safetensors.numpy.save`'s (Python
/// orders several metadata keys by hash, so those differ only in the header's key order).
public struct SafeTensorsFile: Sendable, Equatable {
    /// The tensors, in order.
    public var entries: [SafeTensorEntry]
    /// The `__metadata__` strings (empty if the file has none; omitted from the file when empty).
    public var metadata: [String: String]

    /// Creates a file from entries and metadata.
    public init(entries: [SafeTensorEntry], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// The entry called `name`, if any.
    public subscript(name: String) -> SafeTensorEntry? {
        entries.first { $0.name == name }
    }

    /// Names of the entries, in order.
    public var names: [String] { entries.map(\.name) }

    /// The largest JSON header accepted: 16 MiB.
    public static let maxHeaderSize = 16 << 20

    /// Reads and validates a safetensors file.
    /// - Throws: `SafeTensorsError` naming the path (and tensor) for an unreadable or malformed file.
    public static func read(contentsOf path: String) throws -> SafeTensorsFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SafeTensorsError(source: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw SafeTensorsError(source: path, message: "is a directory, not a safetensors file")
        }
        // Read straight into one byte array (no Data copy beside it).
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SafeTensorsError(source: path, message: "cannot open file")
        }
        defer { try? handle.close() }
        let size: Int
        do { size = Int(try handle.seekToEnd()); try handle.seek(toOffset: 0) } catch {
            throw SafeTensorsError(source: path, message: "cannot read file (\(error.localizedDescription))")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let got = bytes.withUnsafeMutableBytes { buf -> Int in
            var done = 0
            while done < size {
                let r = Foundation.read(handle.fileDescriptor, buf.baseAddress! + done, size - done)
                if r <= 0 { break }
                done += r
            }
            return done
        }
        guard got == size else { throw SafeTensorsError(source: path, message: "cannot read file (read \(got) of \(size) bytes)") }
        return try decode(bytes, source: path)
    }

    /// Writes the file to `path` atomically (temporary file + rename).
    public func write(to path: String) throws {
        try atomicWrite(Data(encoded(source: path)), to: path)
    }

    /// Decodes and validates safetensors bytes; `source` names the data in error messages.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>") throws -> SafeTensorsFile {
        func fail(_ message: String, _ tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(source: source, tensor: tensor, message: message)
        }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes long, shorter than the 8-byte header length")
        }
        var n64: UInt64 = 0
        for k in stride(from: 7, through: 0, by: -1) { n64 = n64 << 8 | UInt64(bytes[k]) }
        guard n64 <= UInt64(bytes.count - 8) else {
            throw fail("header length \(n64) (bytes 0–7) exceeds the \(bytes.count - 8) bytes that follow; the file is truncated or not a safetensors file")
        }
        // Parsed JSON costs several times its text, so the header size is capped: real
        // headers are kilobytes (a few hundred bytes per tensor), and the cap bounds what a
        // malicious header can make the parser allocate (the reference reader caps at 100 MB).
        guard n64 <= UInt64(SafeTensorsFile.maxHeaderSize) else {
            throw fail("header length \(n64) (bytes 0–7) is above the \(SafeTensorsFile.maxHeaderSize)-byte limit for a safetensors header")
        }
        let n = Int(n64)
        guard n >= 2 else { throw fail("header length \(n) is too small for a JSON object") }
        let root: MiniJSON.Value
        do {
            var parser = MiniJSON.Parser(bytes: bytes, range: 8..<(8 + n))
            root = try parser.parseDocument()
        } catch let e as MiniJSON.ParseError {
            throw fail("header is not valid JSON: \(e.message) at byte offset \(e.offset)")
        }
        guard case .object(let members) = root else {
            throw fail("header JSON is not an object")
        }
        let bufferStart = 8 + n
        let bufferSize = bytes.count - bufferStart
        var metadata: [String: String] = [:]
        var seen = Set<String>()
        struct Pending { var name: String; var dtype: SafeTensorDType; var shape: [Int]; var begin: Int; var end: Int; var order: Int }
        var pending: [Pending] = []
        for (key, value) in members {
            guard seen.insert(key).inserted else {
                throw fail(key == "__metadata__" ? "header has two __metadata__ entries" : "header lists the tensor twice", key == "__metadata__" ? nil : key)
            }
            if key == "__metadata__" {
                guard case .object(let pairs) = value else { throw fail("__metadata__ is not a JSON object") }
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw fail("__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("header entry is not a JSON object", key) }
            func field(_ f: String) throws -> MiniJSON.Value {
                guard let v = fields.last(where: { $0.0 == f })?.1 else { throw fail("header entry has no \"\(f)\"", key) }
                return v
            }
            guard case .string(let dtypeName) = try field("dtype") else { throw fail("\"dtype\" is not a string", key) }
            guard let dtype = SafeTensorDType(rawValue: dtypeName) else {
                throw fail("unknown dtype \"\(dtypeName)\" (supported: \(SafeTensorDType.allCases.map(\.rawValue).joined(separator: ", ")))", key)
            }
            guard case .array(let dims) = try field("shape") else { throw fail("\"shape\" is not an array", key) }
            var shape: [Int] = []
            for d in dims {
                guard case .number(let text) = d else { throw fail("shape entry is not a number", key) }
                guard let v = MiniJSON.nonNegativeInt(text) else {
                    throw fail("shape entry \(text) is not a non-negative integer", key)
                }
                shape.append(v)
            }
            guard case .array(let offs) = try field("data_offsets"), offs.count == 2,
                  case .number(let bText) = offs[0], case .number(let eText) = offs[1] else {
                throw fail("\"data_offsets\" is not an array of two numbers", key)
            }
            guard let begin = MiniJSON.nonNegativeInt(bText), let end = MiniJSON.nonNegativeInt(eText) else {
                throw fail("data_offsets [\(bText), \(eText)] are not non-negative integers", key)
            }
            guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin", key) }
            guard end <= bufferSize else {
                throw fail("data_offsets [\(begin), \(end)] lie outside the \(bufferSize)-byte data buffer (file truncated?)", key)
            }
            guard let count = checkedCount(shape), case (let expected, false) = count.multipliedReportingOverflow(by: dtype.byteSize) else {
                throw fail("shape \(shape) is too large", key)
            }
            guard end - begin == expected else {
                throw fail("data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtype) needs \(expected)", key)
            }
            pending.append(Pending(name: key, dtype: dtype, shape: shape, begin: begin, end: end, order: pending.count))
        }
        pending.sort { ($0.begin, $0.end, $0.order) < ($1.begin, $1.end, $1.order) }
        var position = 0
        var previous: String?
        for p in pending {
            if p.begin < position {
                throw fail("data_offsets [\(p.begin), \(p.end)] overlap the previous tensor '\(previous ?? "")', which ends at \(position)", p.name)
            }
            if p.begin > position {
                throw fail("data_offsets [\(p.begin), \(p.end)] leave a gap: bytes \(position)..<\(p.begin) of the data buffer belong to no tensor", p.name)
            }
            position = p.end
            previous = p.name
        }
        if position != bufferSize {
            throw fail("the tensors cover \(position) bytes but the data buffer after the header has \(bufferSize) (bytes \(bufferStart + position)…\(bytes.count - 1) belong to no tensor)")
        }
        let entries = pending.map {
            SafeTensorEntry(validated: $0.name, $0.dtype, $0.shape, bytes[(bufferStart + $0.begin)..<(bufferStart + $0.end)])
        }
        return SafeTensorsFile(entries: entries, metadata: metadata)
    }

    /// Encodes the file as safetensors bytes.
    /// - Throws: `SafeTensorsError` for duplicate names or a tensor named `__metadata__`.
    public func encoded() throws -> [UInt8] {
        try encoded(source: "<memory>")
    }

    private func encoded(source: String) throws -> [UInt8] {
        var names = Set<String>()
        for e in entries {
            guard e.name != "__metadata__" else {
                throw SafeTensorsError(source: source, tensor: e.name, message: "the name __metadata__ is reserved")
            }
            guard names.insert(e.name).inserted else {
                throw SafeTensorsError(source: source, tensor: e.name, message: "two tensors have this name")
            }
        }
        let ordered = entries.sorted { a, b in
            if a.dtype.layoutRank != b.dtype.layoutRank { return a.dtype.layoutRank > b.dtype.layoutRank }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            json += Array("\"__metadata__\":{".utf8)
            let keys = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for (i, k) in keys.enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                MiniJSON.appendString(k, to: &json)
                json.append(UInt8(ascii: ":"))
                MiniJSON.appendString(metadata[k] ?? "", to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for e in ordered {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            MiniJSON.appendString(e.name, to: &json)
            json += Array(":{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[".utf8)
            json += Array(e.shape.map(String.init).joined(separator: ",").utf8)
            json += Array("],\"data_offsets\":[\(offset),\(offset + e.raw.count)]}".utf8)
            offset += e.raw.count
        }
        json.append(UInt8(ascii: "}"))
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        appendLE(&out, UInt64(json.count), 8)
        out += json
        for e in ordered { out += e.raw }
        return out
    }
}

extension SafeTensorEntry {
    /// For the decoder, which has already checked sizes.
    fileprivate init(validated name: String, _ dtype: SafeTensorDType, _ shape: [Int], _ data: ArraySlice<UInt8>) {
        self.init(unchecked: name, dtype: dtype, shape: shape, data: data)
    }
}

private func checkedCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o || d < 0 { return nil }
        n = p
    }
    return n
}

/// A small JSON reader and string writer, enough for safetensors headers.
enum MiniJSON {
    /// The longest array a safetensors header can need: a shape (rank ≤ 64 in every
    /// framework) or a pair of data offsets. A longer array can only be an attempt to make
    /// the parser allocate (each element costs far more than its two bytes of text).
    static let maxArrayLength = 1024

    /// A JSON value. Not `indirect`: arrays and objects already hold their elements on the
    /// heap, and boxing every number and string too made a header cost 25× its size.
    enum Value {
        case object([(String, Value)])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null
    }

    struct ParseError: Error {
        var message: String
        var offset: Int
    }

    /// Parses a JSON integer literal that is ≥ 0 and fits `Int`.
    static func nonNegativeInt(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 0x08: out += [92, UInt8(ascii: "b")]
            case 0x0c: out += [92, UInt8(ascii: "f")]
            case 0x0a: out += [92, UInt8(ascii: "n")]
            case 0x0d: out += [92, UInt8(ascii: "r")]
            case 0x09: out += [92, UInt8(ascii: "t")]
            case 0..<0x20: out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    struct Parser {
        let bytes: [UInt8]
        /// Parsing runs over `bytes[i..<end]` in place (the header inside the whole file).
        let end: Int
        var i = 0
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes; end = bytes.count }
        /// A parser of `bytes[range]`; offsets in errors count from the start of `bytes`.
        init(bytes: [UInt8], range: Range<Int>) { self.bytes = bytes; i = range.lowerBound; end = range.upperBound }

        mutating func parseDocument() throws -> Value {
            skipSpace()
            let v = try parseValue()
            skipSpace()
            guard i == end else { throw ParseError(message: "unexpected text after the JSON value", offset: i) }
            return v
        }

        private mutating func skipSpace() {
            while i < end, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
        }

        private mutating func expect(_ c: UInt8) throws {
            guard i < end, bytes[i] == c else {
                throw ParseError(message: i < end ? "expected '\(Character(Unicode.Scalar(c)))'" : "unexpected end of header", offset: i)
            }
            i += 1
        }

        private mutating func parseValue() throws -> Value {
            guard i < end else { throw ParseError(message: "unexpected end of header", offset: i) }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                depth += 1
                defer { depth -= 1 }
                guard depth <= 32 else { throw ParseError(message: "nesting too deep", offset: i) }
                i += 1
                var members: [(String, Value)] = []
                skipSpace()
                if i < end, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < end, bytes[i] == UInt8(ascii: "\"") else {
                        throw ParseError(message: i < end ? "expected a string key" : "unexpected end of header", offset: i)
                    }
                    let key = try parseString()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    members.append((key, try parseValue()))
                    skipSpace()
                    if i < end, bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    return .object(members)
                }
            case UInt8(ascii: "["):
                depth += 1
                defer { depth -= 1 }
                guard depth <= 32 else { throw ParseError(message: "nesting too deep", offset: i) }
                i += 1
                var items: [Value] = []
                skipSpace()
                if i < end, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    guard items.count < MiniJSON.maxArrayLength else {
                        throw ParseError(message: "array has more than \(MiniJSON.maxArrayLength) elements (a shape or data offsets never need as many)", offset: i)
                    }
                    items.append(try parseValue())
                    skipSpace()
                    if i < end, bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try literal("true"); return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false"); return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = i
                i += 1
                while i < end, (48...57).contains(bytes[i]) || bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e")
                        || bytes[i] == UInt8(ascii: "E") || bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                guard text != "-" else { throw ParseError(message: "invalid number", offset: start) }
                return .number(text)
            default:
                throw ParseError(message: "unexpected character '\(String(decoding: [bytes[i]], as: UTF8.self))'", offset: i)
            }
        }

        private mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= end, Array(bytes[i..<(i + w.count)]) == w else {
                throw ParseError(message: "invalid literal", offset: i)
            }
            i += w.count
        }

        private mutating func hex4() throws -> UInt32 {
            guard i + 4 <= end else { throw ParseError(message: "unexpected end of header in \\u escape", offset: i) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 97...102: d = UInt32(c - 87)
                case 65...70: d = UInt32(c - 55)
                default: throw ParseError(message: "invalid \\u escape", offset: i)
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        private mutating func parseString() throws -> String {
            let start = i
            i += 1 // opening quote
            var out: [UInt8] = []
            while i < end {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    // Strings are the only place non-ASCII bytes may appear: validating them
                    // here validates the header's UTF-8 without a copy of the whole header.
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw ParseError(message: "string is not valid UTF-8", offset: start)
                    }
                    return s
                }
                if c < 0x20 { throw ParseError(message: "control character in string", offset: i) }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < end else { break }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(34)
                    case UInt8(ascii: "\\"): out.append(92)
                    case UInt8(ascii: "/"): out.append(47)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800...0xDBFF).contains(code) {
                            guard i + 6 <= end, bytes[i] == 92, bytes[i + 1] == UInt8(ascii: "u") else {
                                throw ParseError(message: "unpaired surrogate in \\u escape", offset: i)
                            }
                            i += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else {
                                throw ParseError(message: "unpaired surrogate in \\u escape", offset: i)
                            }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(code) {
                            throw ParseError(message: "unpaired surrogate in \\u escape", offset: i)
                        }
                        guard let scalar = Unicode.Scalar(code) else {
                            throw ParseError(message: "invalid \\u escape", offset: i)
                        }
                        out += Array(String(Character(scalar)).utf8)
                    default:
                        throw ParseError(message: "invalid escape", offset: i - 1)
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
            throw ParseError(message: "unterminated string starting", offset: start)
        }
    }
}
