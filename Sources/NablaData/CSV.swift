import Foundation

/// Which column of a CSV file holds the target (label) values.
public enum CSVTarget: Sendable, Equatable, CustomStringConvertible {
    /// The column whose header is exactly this name (after trimming spaces).
    case name(String)
    /// The column at this 0-based index; negative values count from the end (`-1` is the last column).
    case index(Int)

    /// The column as it appears in messages: a quoted name or `index N`.
    public var description: String {
        switch self {
        case .name(let n): return "'\(n)'"
        case .index(let i): return "index \(i)"
        }
    }
}

/// A numeric feature matrix read from a CSV file, without targets (for example `predict` inputs).
public struct CSVFeatures: Sendable, Equatable {
    /// Row-major feature values, `rows × featureNames.count`.
    public let features: [Float]
    /// Number of data rows (the header is not counted).
    public let rows: Int
    /// Column names from the header, in file order.
    public let featureNames: [String]
    /// The 1-based line number in the file where each data row starts (the header is line 1).
    public let lineNumbers: [Int]

    /// Number of feature columns.
    public var featureCount: Int { featureNames.count }
}

/// Features plus one target column read from a CSV file.
public struct CSVDataset: Sendable, Equatable {
    /// Row-major feature values, `rows × featureNames.count` (every column except the target).
    public let features: [Float]
    /// Number of data rows (the header is not counted).
    public let rows: Int
    /// Names of the feature columns, in file order.
    public let featureNames: [String]
    /// Name of the target column.
    public let targetName: String
    /// Target value of each row; the caller decides between regression and classification.
    public let targets: [Float]
    /// The 1-based line number in the file where each data row starts (the header is line 1).
    public let lineNumbers: [Int]
    /// The file path or label the data came from, used in error messages.
    public let source: String

    /// Number of feature columns.
    public var featureCount: Int { featureNames.count }

    /// Converts the targets to class indices for classification.
    /// - Throws: `DataFileError` naming the row and value of the first target that is not a
    ///   non-negative integer.
    public func classIndices() throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(targets.count)
        for (i, t) in targets.enumerated() {
            guard t.isFinite, t >= 0, t == t.rounded(), t < 16_777_216 else {
                let line = i < lineNumbers.count ? lineNumbers[i] : i + 2
                throw DataFileError(source: source, message: "row \(line), target column '\(targetName)': \(t) is not a class index (a non-negative integer)")
            }
            out.append(Int(t))
        }
        return out
    }
}

/// Reader for numeric CSV files with a header row.
///
/// Rules: comma separator; the first non-empty line is the header (required); fields may be
/// double-quoted (`""` inside quotes is a literal quote, quoted fields may span lines);
/// spaces and tabs around fields are trimmed; `\n` and `\r\n` line ends; blank lines are
/// skipped; a UTF-8 byte-order mark is ignored. Every data cell must parse as a finite number
/// within `Float` range (`nan`, `inf` and `1e39` are errors).
/// In errors, rows are the 1-based line numbers of the file (the header is usually row 1)
/// and columns are 1-based.
public enum CSV {
    /// Reads a CSV file and splits it into features and the `target` column.
    /// - Throws: `DataFileError` naming the file, row and column of the first problem.
    public static func readDataset(contentsOf path: String, target: CSVTarget) throws -> CSVDataset {
        try parseDataset(readFileBytes(path), target: target, source: path)
    }

    /// Parses CSV text and splits it into features and the `target` column.
    public static func parseDataset(_ text: String, target: CSVTarget, source: String = "<memory>") throws -> CSVDataset {
        try parseDataset(Array(text.utf8), target: target, source: source)
    }

    /// Parses CSV bytes (UTF-8) and splits it into features and the `target` column.
    public static func parseDataset(_ bytes: [UInt8], target: CSVTarget, source: String = "<memory>") throws -> CSVDataset {
        let table = try parseTable(bytes, source: source)
        let names = table.names
        let columns = names.count
        let targetIndex: Int
        switch target {
        case .name(let wanted):
            let w = wanted.trimmingCharacters(in: .whitespaces)
            let hits = names.indices.filter { names[$0] == w }
            guard let first = hits.first else {
                throw DataFileError(source: source, message: "no target column named '\(wanted)'; the columns are: \(list(names))")
            }
            guard hits.count == 1 else {
                throw DataFileError(source: source, message: "target column name '\(wanted)' is ambiguous: it appears in columns \(hits.map { String($0 + 1) }.joined(separator: ", "))")
            }
            targetIndex = first
        case .index(let i):
            let resolved = i < 0 ? columns + i : i
            guard resolved >= 0, resolved < columns else {
                throw DataFileError(source: source, message: "target column index \(i) is out of range: the file has \(columns) columns (\(list(names)))")
            }
            targetIndex = resolved
        }
        guard columns >= 2 else {
            throw DataFileError(source: source, message: "no feature columns: the only column is the target '\(names[targetIndex])'")
        }
        let f = columns - 1
        var features = [Float](repeating: 0, count: table.rows * f)
        var targets = [Float](repeating: 0, count: table.rows)
        for r in 0..<table.rows {
            var k = r * f
            for c in 0..<columns {
                let v = table.values[r * columns + c]
                if c == targetIndex {
                    targets[r] = v
                } else {
                    features[k] = v
                    k += 1
                }
            }
        }
        var featureNames = names
        featureNames.remove(at: targetIndex)
        return CSVDataset(features: features, rows: table.rows, featureNames: featureNames,
                          targetName: names[targetIndex], targets: targets,
                          lineNumbers: table.lines, source: source)
    }

    /// Reads a CSV file whose columns are all features (no target), e.g. inputs for prediction.
    ///
    /// The header row is required.
    public static func readFeatures(contentsOf path: String) throws -> CSVFeatures {
        try parseFeatures(readFileBytes(path), source: path)
    }

    /// Parses CSV text whose columns are all features (header row required).
    public static func parseFeatures(_ text: String, source: String = "<memory>") throws -> CSVFeatures {
        try parseFeatures(Array(text.utf8), source: source)
    }

    /// Parses CSV bytes (UTF-8) whose columns are all features (header row required).
    public static func parseFeatures(_ bytes: [UInt8], source: String = "<memory>") throws -> CSVFeatures {
        let t = try parseTable(bytes, source: source)
        return CSVFeatures(features: t.values, rows: t.rows, featureNames: t.names, lineNumbers: t.lines)
    }

    // MARK: - Internals

    struct Table {
        var names: [String]
        var values: [Float]
        var rows: Int
        var lines: [Int]
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(20).map { "'\(printable($0))'" }.joined(separator: ", ")
        return names.count > 20 ? shown + ", … (\(names.count) in all)" : shown
    }

    /// Header + numeric body.
    static func parseTable(_ bytes: [UInt8], source: String) throws -> Table {
        var records = try parseRecords(bytes, source: source)
        guard !records.isEmpty else {
            throw DataFileError(source: source, message: bytes.isEmpty ? "file is empty" : "file has no rows (only blank lines)")
        }
        let header = records.removeFirst()
        let names = header.fields
        for (i, n) in names.enumerated() where n.isEmpty {
            throw DataFileError(source: source, message: "row \(header.line), column \(i + 1): empty column name in the header")
        }
        guard !records.isEmpty else {
            throw DataFileError(source: source, message: "no data rows after the header (row \(header.line))")
        }
        let values = try numericBody(records, columns: names.count, names: names, source: source, headerText: "the header has")
        return Table(names: names, values: values, rows: records.count, lines: records.map(\.line))
    }

    /// Converts records to a row-major `Float` matrix, checking that every row has `columns` fields.
    static func numericBody(_ records: [Record], columns: Int, names: [String]?, source: String, headerText: String) throws -> [Float] {
        var values = [Float]()
        values.reserveCapacity(records.count * columns)
        for rec in records {
            guard rec.fields.count == columns else {
                throw DataFileError(source: source, message: "row \(rec.line) has \(rec.fields.count) field\(rec.fields.count == 1 ? "" : "s"), \(headerText) \(columns)")
            }
            for (c, cell) in rec.fields.enumerated() {
                guard let v = parseNumber(cell) else {
                    let col = names.map { "column '\(printable($0[c]))' (\(c + 1))" } ?? "column \(c + 1)"
                    let why = cell.isEmpty ? "empty cell (missing values are not supported)" : "'\(printable(cell))' is not a number"
                    throw DataFileError(source: source, message: "row \(rec.line), \(col): \(why)")
                }
                guard v.isFinite else {
                    let col = names.map { "column '\(printable($0[c]))' (\(c + 1))" } ?? "column \(c + 1)"
                    let spelledOut = cell.lowercased().contains(where: { $0 == "n" || $0 == "i" })
                    let why = spelledOut
                        ? "'\(printable(cell))' is not a finite number (NaN and infinities are not supported)"
                        : "'\(printable(cell))' is out of range for a 32-bit float (magnitude above about 3.4e38)"
                    throw DataFileError(source: source, message: "row \(rec.line), \(col): \(why)")
                }
                values.append(v)
            }
        }
        return values
    }

    /// A cell as shown in a one-line message: control characters escaped, long text shortened.
    static func printable(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 || ch.value == 0x7f {
                    out += "\\u{\(String(ch.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out.count > 60 ? String(out.prefix(57)) + "..." : out
    }

    private static func parseNumber(_ s: String) -> Float? {
        guard !s.isEmpty, s.utf8.count < 64 else { return nil }
        // Reject hexadecimal floats and other exotic spellings Float(_:) accepts.
        if s.utf8.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") || $0 == UInt8(ascii: "p") || $0 == UInt8(ascii: "P") }) {
            return nil
        }
        return Float(s)
    }

    struct Record {
        var line: Int
        var fields: [String]
    }

    /// Splits CSV bytes into records of trimmed fields, skipping blank lines.
    static func parseRecords(_ bytes: [UInt8], source: String) throws -> [Record] {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var i = 0
        let n = bytes.count
        if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
        var line = 1
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var recordLine = 1
        var recordHasContent = false

        func trimmed(_ b: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var s = b.startIndex, e = b.endIndex
            while s < e && (b[s] == space || b[s] == tab) { s += 1 }
            while e > s && (b[e - 1] == space || b[e - 1] == tab) { e -= 1 }
            return b[s..<e]
        }
        func endRecord() {
            let blank = fields.isEmpty && trimmed(field[...]).isEmpty && !recordHasContent
            if !blank {
                fields.append(String(decoding: trimmed(field[...]), as: UTF8.self))
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
            field = []
            recordHasContent = false
        }

        recordLine = line
        while i < n {
            let b = bytes[i]
            if b == quote && trimmed(field[...]).isEmpty {
                // Quoted field.
                let openLine = line
                i += 1
                var content: [UInt8] = []
                var closed = false
                while i < n {
                    let c = bytes[i]
                    if c == quote {
                        if i + 1 < n && bytes[i + 1] == quote {
                            content.append(quote)
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    if c == lf { line += 1 }
                    content.append(c)
                    i += 1
                }
                guard closed else {
                    throw DataFileError(source: source, message: "row \(openLine), column \(fields.count + 1): quoted field is never closed")
                }
                // Only spaces may follow the closing quote before the separator or line end.
                while i < n && (bytes[i] == space || bytes[i] == tab) { i += 1 }
                if i < n && bytes[i] != comma && bytes[i] != lf && bytes[i] != cr {
                    throw DataFileError(source: source, message: "row \(line), column \(fields.count + 1): unexpected character after closing quote")
                }
                // Keep the content verbatim (trimming applies to the unquoted surroundings only).
                field = content
                recordHasContent = true
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
                if i < n && bytes[i] == comma {
                    i += 1
                    if i >= n { fields.append(""); records.append(Record(line: recordLine, fields: fields)); fields = []; recordHasContent = false }
                    continue
                }
                // Line end or end of input: finish the record without adding another field.
                if i < n && bytes[i] == cr { i += 1 }
                if i < n && bytes[i] == lf { i += 1 }
                records.append(Record(line: recordLine, fields: fields))
                fields = []
                recordHasContent = false
                line += 1
                recordLine = line
                continue
            }
            if b == comma {
                fields.append(String(decoding: trimmed(field[...]), as: UTF8.self))
                field = []
                recordHasContent = true
                i += 1
                if i >= n { fields.append(""); records.append(Record(line: recordLine, fields: fields)); fields = []; recordHasContent = false }
                continue
            }
            if b == lf || b == cr {
                endRecord()
                i += 1
                if b == cr && i < n && bytes[i] == lf { i += 1 }
                line += 1
                recordLine = line
                continue
            }
            field.append(b)
            i += 1
        }
        if !field.isEmpty || !fields.isEmpty || recordHasContent { endRecord() }
        return records
    }
}
