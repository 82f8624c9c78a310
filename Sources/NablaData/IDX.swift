import Foundation
import NablaCore

/// The element type of an IDX file, as stored in the third byte of its magic number.
public enum IDXDataType: UInt8, Sendable, CaseIterable {
    /// Unsigned 8-bit integer (`0x08`), the type of MNIST images and labels.
    case uint8 = 0x08
    /// Signed 8-bit integer (`0x09`).
    case int8 = 0x09
    /// Big-endian signed 16-bit integer (`0x0B`).
    case int16 = 0x0B
    /// Big-endian signed 32-bit integer (`0x0C`).
    case int32 = 0x0C
    /// Big-endian IEEE 754 single precision (`0x0D`).
    case float32 = 0x0D
    /// Big-endian IEEE 754 double precision (`0x0E`).
    case float64 = 0x0E

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }
}

/// An n-dimensional array read from an IDX file (the MNIST format), with values converted to `Float`.
///
/// Layout: bytes `00 00 <dtype> <ndim>`, then `ndim` big-endian `UInt32` dimension sizes,
/// then the elements in row-major order, big-endian. Files starting with `1f 8b` are
/// gunzipped first.
public struct IDXArray: Sendable, Equatable {
    /// Dimension sizes, outermost first (e.g. `[60000, 28, 28]` for MNIST training images).
    public let shape: [Int]
    /// All elements in row-major order, converted to `Float`.
    public let values: [Float]
    /// The element type stored in the file.
    public let dataType: IDXDataType

    /// Creates an array; `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float], dataType: IDXDataType = .float32) throws {
        guard let n = checkedProduct(shape), n == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw DataFileError(source: "<memory>", message: "shape \(shape) does not match \(values.count) values")
        }
        self.shape = shape
        self.values = values
        self.dataType = dataType
    }

    private init(uncheckedShape shape: [Int], values: [Float], dataType: IDXDataType) {
        self.shape = shape
        self.values = values
        self.dataType = dataType
    }

    /// Reads an IDX file (plain or gzip-compressed) from `path`.
    /// - Throws: `DataFileError` naming the path for a missing, unreadable or malformed file.
    ///
    /// `limits` bounds the memory the values may take (4 bytes each, as `Float`), checked
    /// from the header before anything is inflated or converted.
    public static func read(contentsOf path: String, limits: ResourceLimits = .unlimited) throws -> IDXArray {
        try decode(try readFileBytes(path), source: path, limits: limits)
    }

    /// Decodes IDX bytes (plain or gzip-compressed); `source` names the data in error messages.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>", limits: ResourceLimits = .unlimited) throws -> IDXArray {
        func check(_ header: Header) throws {
            do { try limits.check(bytes: CheckedSize.product(header.count, 4), for: "the IDX data (shape \(header.shape))") } catch let e as ResourceLimitError {
                throw DataFileError(source: source, message: e.message)
            }
        }
        let raw: [UInt8]
        let what: String
        let header: Header
        if Gzip.isGzipped(bytes) {
            what = "decompressed data"
            // Read the header from the first inflated bytes, then inflate no more than the
            // header and the payload it declares, so a small "gzip bomb" cannot run away.
            let prefix = try Gzip.inflateStream(bytes, source: source, limit: maxHeaderSize).bytes
            header = try Header(prefix, what: what, source: source)
            try check(header)
            guard case (let total, false) = header.size.addingReportingOverflow(header.dataBytes) else {
                throw DataFileError(source: source, message: "shape \(header.shape) is too large (byte count overflows)")
            }
            let inflated = try Gzip.inflateStream(bytes, source: source, limit: total)
            if let offset = inflated.exceededAt {
                throw DataFileError(source: source, message: "gzip stream decompresses to more than the \(total) bytes its header declares (\(header.size)-byte header + \(header.dataBytes) bytes of data for shape \(header.shape) of \(header.dtype)); stopped near compressed byte offset \(offset)")
            }
            raw = inflated.bytes
        } else {
            what = "file"
            raw = bytes
            header = try Header(raw, what: what, source: source)
            try check(header)
        }
        let (dtype, shape, headerSize, dataBytes, count) = (header.dtype, header.shape, header.size, header.dataBytes, header.count)
        let available = raw.count - headerSize
        if available < dataBytes {
            throw DataFileError(source: source, message: "truncated IDX data: shape \(shape) of \(dtype) expected \(dataBytes) bytes of data after the header, found \(available)")
        }
        if available > dataBytes {
            throw DataFileError(source: source, message: "\(available - dataBytes) unexpected trailing bytes after the IDX data at byte offset \(headerSize + dataBytes)")
        }
        var values = [Float](repeating: 0, count: count)
        raw.withUnsafeBufferPointer { buf in
            let p = buf.baseAddress.map { $0 + headerSize }
            guard let p else { return }
            for i in 0..<count {
                switch dtype {
                case .uint8:
                    values[i] = Float(p[i])
                case .int8:
                    values[i] = Float(Int8(bitPattern: p[i]))
                case .int16:
                    let b = p + 2 * i
                    values[i] = Float(Int16(bitPattern: UInt16(b[0]) << 8 | UInt16(b[1])))
                case .int32:
                    let b = p + 4 * i
                    values[i] = Float(Int32(bitPattern: be32(b)))
                case .float32:
                    values[i] = Float(bitPattern: be32(p + 4 * i))
                case .float64:
                    let b = p + 8 * i
                    values[i] = Float(Double(bitPattern: UInt64(be32(b)) << 32 | UInt64(be32(b + 4))))
                }
            }
        }
        return IDXArray(uncheckedShape: shape, values: values, dataType: dtype)
    }

    /// The largest IDX header: the magic number and 255 dimension sizes.
    static let maxHeaderSize = 4 + 4 * 255

    /// The header of an IDX file: element type and shape, and the sizes they imply.
    private struct Header {
        var dtype: IDXDataType
        var shape: [Int]
        /// Bytes in the header (magic number and dimension sizes).
        var size: Int
        /// Elements the shape holds.
        var count: Int
        /// Bytes of data the shape and type need after the header.
        var dataBytes: Int

        /// Reads the header at the start of `raw`, which is `what` ("file", "decompressed data").
        init(_ raw: [UInt8], what: String, source: String) throws {
            guard raw.count >= 4 else {
                throw DataFileError(source: source, message: "\(what) is \(raw.count) bytes long, too short for the 4-byte IDX magic number")
            }
            guard raw[0] == 0, raw[1] == 0 else {
                let hex = raw[0..<4].map { String(format: "%02x", $0) }.joined(separator: " ")
                throw DataFileError(source: source, message: "bad IDX magic number \(hex) at byte offset 0 (expected 00 00 <type> <ndim>)")
            }
            guard let dtype = IDXDataType(rawValue: raw[2]) else {
                throw DataFileError(source: source, message: String(format: "unknown IDX data type 0x%02X at byte offset 2 (expected 08, 09, 0B, 0C, 0D or 0E)", raw[2]))
            }
            let ndim = Int(raw[3])
            let headerSize = 4 + 4 * ndim
            guard raw.count >= headerSize else {
                throw DataFileError(source: source, message: "\(what) ends at byte \(raw.count) inside the header: \(ndim) dimensions need a \(headerSize)-byte header")
            }
            var shape: [Int] = []
            shape.reserveCapacity(ndim)
            for d in 0..<ndim {
                let o = 4 + 4 * d
                let v = (UInt32(raw[o]) << 24) | (UInt32(raw[o + 1]) << 16) | (UInt32(raw[o + 2]) << 8) | UInt32(raw[o + 3])
                shape.append(Int(v))
            }
            guard let count = checkedProduct(shape), case (let dataBytes, false) = count.multipliedReportingOverflow(by: dtype.byteSize) else {
                throw DataFileError(source: source, message: "shape \(shape) is too large (element count overflows)")
            }
            self.dtype = dtype
            self.shape = shape
            self.size = headerSize
            self.count = count
            self.dataBytes = dataBytes
        }
    }

    /// Encodes this array as IDX bytes with element type `dataType`, optionally gzip-compressed.
    ///
    /// Values are rounded toward zero and must fit the integer types; useful for tests and tools.
    /// - Throws: `DataFileError` when the shape has more than 255 dimensions, a dimension exceeds
    ///   `UInt32.max`, or a value does not fit an integer element type.
    public func encoded(gzip: Bool = false) throws -> [UInt8] {
        guard shape.count <= 255 else {
            throw DataFileError(source: "<memory>", message: "IDX supports at most 255 dimensions, got \(shape.count)")
        }
        var out: [UInt8] = [0, 0, dataType.rawValue, UInt8(shape.count)]
        for d in shape {
            guard d >= 0, d <= Int(UInt32.max) else {
                throw DataFileError(source: "<memory>", message: "IDX dimension \(d) is out of range")
            }
            let v = UInt32(d)
            out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        }
        out.reserveCapacity(out.count + values.count * dataType.byteSize)
        for (i, x) in values.enumerated() {
            func int(_ lo: Float, _ hi: Float) throws -> Int64 {
                guard x.isFinite, x >= lo, x <= hi else {
                    throw DataFileError(source: "<memory>", message: "value \(x) at index \(i) does not fit IDX type \(dataType)")
                }
                return Int64(x)
            }
            switch dataType {
            case .uint8: out.append(UInt8(try int(0, 255)))
            case .int8: out.append(UInt8(bitPattern: Int8(try int(-128, 127))))
            case .int16:
                let v = UInt16(bitPattern: Int16(try int(-32768, 32767)))
                out += [UInt8(v >> 8), UInt8(v & 0xff)]
            case .int32:
                // Float(Int32.max) rounds up to 2^31, so cap just below it.
                let v = UInt32(bitPattern: Int32(try int(-2147483648, 2147483520)))
                out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
            case .float32:
                let v = x.bitPattern
                out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
            case .float64:
                let v = Double(x).bitPattern
                for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8((v >> UInt64(s)) & 0xff)) }
            }
        }
        return gzip ? try Gzip.compress(out) : out
    }
}

@inline(__always)
private func be32(_ b: UnsafePointer<UInt8>) -> UInt32 {
    UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
}

/// Product of `dims`, or nil on overflow or a negative entry.
func checkedProduct(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}
