import Foundation
import NablaNN

/// Cheap checks on architecture text (YAML or JSON) made before it reaches the YAML parser.
///
/// Yams builds its node tree recursively, so a file nested a hundred thousand levels deep
/// (`[[[[…`) overflows the stack and kills the process. These checks bound the text's size
/// and nesting first, so that such a file is an error instead. Real architectures are a
/// mapping holding a list of small mappings: three or four levels.
enum ArchitectureText {
    /// The largest architecture text accepted, in bytes.
    static let maxBytes = 1 << 20
    /// The deepest nesting accepted (flow brackets, indentation levels and `- `/`? `/`: `
    /// indicators that open a collection on the same line, counted together).
    static let maxDepth = 64

    /// Throws `ModelSpecError` when `text` is longer than ``maxBytes`` or nested deeper than
    /// ``maxDepth``, naming `source` and the line where the limit is passed.
    static func check(_ text: String, source: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.count <= maxBytes else {
            throw ModelSpecError(message: "\(source): the architecture is \(bytes.count) bytes long, more than the \(maxBytes)-byte limit")
        }
        if let line = firstLineTooDeep(bytes) {
            throw ModelSpecError(message: "\(source): line \(line): the architecture is nested more than \(maxDepth) levels deep")
        }
    }

    /// The 1-based line where the nesting first exceeds ``maxDepth``, or nil.
    ///
    /// The estimate errs on the deep side. Brackets are counted twice, once skipping quoted
    /// strings and comments and once ignoring quotes altogether (in case a stray quote
    /// character was mistaken for the start of a string), and the larger count is used.
    /// Block nesting is the number of indentation levels open plus the `- `, `? ` and `: `
    /// indicators that start the line's content.
    static func firstLineTooDeep(_ b: [UInt8]) -> Int? {
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        let dq = UInt8(ascii: "\""), sq = UInt8(ascii: "'"), hash = UInt8(ascii: "#"), backslash = UInt8(ascii: "\\")
        func isOpen(_ c: UInt8) -> Bool { c == UInt8(ascii: "[") || c == UInt8(ascii: "{") }
        func isClose(_ c: UInt8) -> Bool { c == UInt8(ascii: "]") || c == UInt8(ascii: "}") }
        func isBlank(_ c: UInt8) -> Bool { c == space || c == tab }
        // A quote starts a string only where a token may start.
        func startsToken(after c: UInt8?) -> Bool {
            guard let c else { return true }
            return isBlank(c) || isOpen(c) || c == UInt8(ascii: ",") || c == UInt8(ascii: ":")
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "?")
        }

        var flow = 0          // brackets open, outside strings and comments
        var rawFlow = 0       // brackets open, ignoring quotes and comments
        var quote: UInt8?     // the quote character of the string we are in
        var indents: [Int] = []
        var line = 1
        var i = 0
        let n = b.count
        while i < n {
            // Start of a line.
            var blockDepth = indents.count
            if quote == nil && flow == 0 {
                var j = i
                while j < n && isBlank(b[j]) { j += 1 }
                let atEnd = j >= n || b[j] == lf || b[j] == cr || b[j] == hash
                if !atEnd {
                    let indent = j - i
                    while let top = indents.last, top > indent { indents.removeLast() }
                    if indents.last.map({ $0 < indent }) ?? true { indents.append(indent) }
                    blockDepth = indents.count
                    // Compact nesting on one line: `- - x`, `? - x`, `- a: - b` …
                    var k = j
                    while k < n, b[k] == UInt8(ascii: "-") || b[k] == UInt8(ascii: "?") || b[k] == UInt8(ascii: ":"),
                          k + 1 >= n || isBlank(b[k + 1]) || b[k + 1] == lf || b[k + 1] == cr {
                        blockDepth += 1
                        k += 1
                        while k < n && isBlank(b[k]) { k += 1 }
                    }
                }
            }
            // The rest of the line.
            var previous: UInt8? = nil
            var lineDeepest = max(flow, rawFlow)
            while i < n && b[i] != lf {
                let c = b[i]
                if isOpen(c) { rawFlow += 1 } else if isClose(c) { rawFlow = max(0, rawFlow - 1) }
                if let q = quote {
                    if q == dq && c == backslash && i + 1 < n && b[i + 1] != lf {
                        i += 2
                        previous = nil
                        lineDeepest = max(lineDeepest, rawFlow)
                        continue
                    }
                    if c == q {
                        if q == sq && i + 1 < n && b[i + 1] == sq { i += 2; previous = sq; continue }
                        quote = nil
                    }
                } else if c == hash && (previous == nil || isBlank(previous!)) {
                    // A comment: skip to the end of the line.
                    while i < n && b[i] != lf { i += 1 }
                    break
                } else if (c == dq || c == sq) && startsToken(after: previous) {
                    quote = c
                } else if isOpen(c) {
                    flow += 1
                } else if isClose(c) {
                    flow = max(0, flow - 1)
                }
                lineDeepest = max(lineDeepest, flow, rawFlow)
                if blockDepth + lineDeepest > maxDepth { return line }
                previous = c
                i += 1
            }
            if blockDepth + lineDeepest > maxDepth { return line }
            i += 1 // the line feed
            line += 1
        }
        return nil
    }
}
