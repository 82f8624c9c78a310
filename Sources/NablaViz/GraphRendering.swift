import Foundation
import NablaCore

extension GraphPicture {
    // MARK: Table

    /// The notes' table: one row per node with its formula, value and ∂root/∂node.
    ///
    /// ```
    /// node  formula  value  ∂f/∂node
    /// x     input    -2     -4
    /// ```
    public func table() -> String {
        let header = ("node", "formula", "value", "∂\(rootLabel)/∂node")
        let all = [header] + rows.map { ($0.node, $0.formula, $0.value, $0.gradient) }
        func w(_ k: KeyPath<(String, String, String, String), String>) -> Int { all.map { $0[keyPath: k].count }.max() ?? 0 }
        let w0 = w(\.0), w1 = w(\.1), w2 = w(\.2)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: Swift.max(0, n - s.count)) }
        var out = ""
        for (i, r) in all.enumerated() {
            out += pad(r.0, w0) + "  " + pad(r.1, w1) + "  " + pad(r.2, w2) + "  " + r.3 + "\n"
            if i == 0 { out += String(repeating: "-", count: w0 + w1 + w2 + 6 + r.3.count) + "\n" }
        }
        return out
    }

    // MARK: DOT

    /// The picture in Graphviz's DOT language (value boxes as records, left to right).
    public func dot() -> String {
        func q(_ s: String) -> String {
            var r = ""
            for ch in s {
                switch ch {
                case "\"", "\\", "{", "}", "|", "<", ">": r += "\\" + String(ch)
                case "\n": r += "\\n"
                default: r.append(ch)
                }
            }
            return r
        }
        var out = "digraph nabla {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=11];\n"
        for (i, item) in items.enumerated() {
            switch item {
            case let .value(label, value, gradient):
                let parts = (label.isEmpty ? [] : [q(label)]) + ["data \(q(value))", "grad \(q(gradient))"]
                out += "  n\(i) [shape=record, label=\"{ \(parts.joined(separator: " | ")) }\"];\n"
            case let .op(symbol, detail):
                out += "  n\(i) [shape=ellipse, label=\"\(q(symbol))\", tooltip=\"\(q(detail))\"];\n"
            case let .module(label, detail):
                out += "  n\(i) [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3ff\", label=\"\(q(label))\", tooltip=\"\(q(detail))\"];\n"
            }
        }
        for e in edges {
            let label = e.label.map { " [label=\"\(q($0))\"]" } ?? ""
            out += "  n\(e.from) -> n\(e.to)\(label);\n"
        }
        return out + "}\n"
    }

    // MARK: SVG

    /// Where each item is drawn (computed by a layered left-to-right layout).
    struct Layout {
        var x: [Double], y: [Double], w: [Double], h: [Double]
        var width: Double, height: Double
    }

    static let charWidth = 7.2       // monospace at 12 px
    static let boxHeight = 30.0

    /// The width of each of a value box's cells.
    func cells(_ item: Item) -> [(String, Double)] {
        switch item {
        case let .value(label, value, gradient):
            let parts = (label.isEmpty ? [] : [label]) + ["data \(value)", "grad \(gradient)"]
            return parts.map { ($0, Double($0.count) * GraphPicture.charWidth + 16) }
        case let .op(symbol, _):
            return [(symbol, Swift.max(34, Double(symbol.count) * GraphPicture.charWidth + 20))]
        case let .module(label, _):
            return [(label, Double(label.count) * GraphPicture.charWidth + 24)]
        }
    }

    /// A layered layout: each item one column right of its furthest input (sources pulled
    /// next to their first consumer), rows ordered by the mean row of their inputs.
    func layout() -> Layout {
        let n = items.count
        var preds = [[Int]](repeating: [], count: n), succs = [[Int]](repeating: [], count: n)
        for e in edges { preds[e.to].append(e.from); succs[e.from].append(e.to) }
        // Items are created inputs first, so one pass in index order finds longest paths.
        var layer = [Int](repeating: 0, count: n)
        for i in 0..<n { for p in preds[i] { layer[i] = Swift.max(layer[i], layer[p] + 1) } }
        for i in (0..<n).reversed() where preds[i].isEmpty && !succs[i].isEmpty {
            layer[i] = (succs[i].map { layer[$0] }.min() ?? 1) - 1
        }
        let layerCount = (layer.max() ?? 0) + 1
        var columns = [[Int]](repeating: [], count: layerCount)
        for i in 0..<n { columns[layer[i]].append(i) }
        var position = [Double](repeating: 0, count: n)
        for col in columns { for (k, i) in col.enumerated() { position[i] = Double(k) } }
        // Two sweeps of barycentre ordering (left to right, then right to left).
        for sweep in 0..<4 {
            let forward = sweep % 2 == 0
            for c in (forward ? Array(1..<Swift.max(1, layerCount)) : Array((0..<Swift.max(0, layerCount - 1)).reversed())) {
                let keyed = columns[c].map { i -> (Int, Double) in
                    let ns = forward ? preds[i] : succs[i]
                    return (i, ns.isEmpty ? position[i] : ns.map { position[$0] }.reduce(0, +) / Double(ns.count))
                }
                columns[c] = keyed.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
                for (k, i) in columns[c].enumerated() { position[i] = Double(k) }
            }
        }
        var w = [Double](repeating: 0, count: n), h = [Double](repeating: GraphPicture.boxHeight, count: n)
        for i in 0..<n {
            w[i] = cells(items[i]).map(\.1).reduce(0, +)
            if case .module = items[i] { h[i] = 40 }
        }
        let gapX = 70.0, gapY = 26.0, margin = 20.0
        var x = [Double](repeating: 0, count: n), y = [Double](repeating: 0, count: n)
        var colX = margin
        var colHeights: [Double] = []
        for col in columns {
            let cw = col.map { w[$0] }.max() ?? 0
            var cy = 0.0
            for i in col { x[i] = colX + (cw - w[i]) / 2; y[i] = cy; cy += h[i] + gapY }
            colHeights.append(Swift.max(0, cy - gapY))
            colX += cw + gapX
        }
        let height = (colHeights.max() ?? 0) + 2 * margin
        for (c, col) in columns.enumerated() {
            let offset = (height - colHeights[c]) / 2
            for i in col { y[i] += offset }
        }
        return Layout(x: x, y: y, w: w, h: h, width: Swift.max(colX - gapX + margin, 2 * margin), height: height)
    }

    /// The picture as a self-contained SVG document (laid out by Nabla; no Graphviz).
    public func svg() -> String {
        let L = layout()
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(L.width))" height="\(f(L.height))" viewBox="0 0 \(f(L.width)) \(f(L.height))" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">
        <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
        <rect width="100%" height="100%" fill="white"/>

        """
        for e in edges {
            let x1 = L.x[e.from] + L.w[e.from], y1 = L.y[e.from] + L.h[e.from] / 2
            let x2 = L.x[e.to], y2 = L.y[e.to] + L.h[e.to] / 2
            let mx = (x1 + x2) / 2
            out += "<path d=\"M \(f(x1)) \(f(y1)) C \(f(mx)) \(f(y1)), \(f(mx)) \(f(y2)), \(f(x2)) \(f(y2))\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"/>\n"
            if let label = e.label {
                out += "<text class=\"local\" x=\"\(f(mx))\" y=\"\(f((y1 + y2) / 2 - 4))\" text-anchor=\"middle\" fill=\"#b03030\" font-size=\"10\">\(xmlEscape(label))</text>\n"
            }
        }
        for (i, item) in items.enumerated() {
            let x = L.x[i], y = L.y[i], w = L.w[i], h = L.h[i]
            switch item {
            case .value:
                out += "<g class=\"value\">\n<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"#ffffff\" stroke=\"#333\"/>\n"
                var cx = x
                for (k, (text, cw)) in cells(item).enumerated() {
                    if k > 0 { out += "<line x1=\"\(f(cx))\" y1=\"\(f(y))\" x2=\"\(f(cx))\" y2=\"\(f(y + h))\" stroke=\"#333\"/>\n" }
                    let color = text.hasPrefix("grad ") ? "#1f5fbf" : "#111"
                    out += "<text x=\"\(f(cx + cw / 2))\" y=\"\(f(y + h / 2 + 4))\" text-anchor=\"middle\" fill=\"\(color)\">\(xmlEscape(text))</text>\n"
                    cx += cw
                }
                out += "</g>\n"
            case let .op(symbol, detail):
                out += "<g class=\"op\"><title>\(xmlEscape(detail))</title><ellipse cx=\"\(f(x + w / 2))\" cy=\"\(f(y + h / 2))\" rx=\"\(f(w / 2))\" ry=\"\(f(h / 2))\" fill=\"#fff4d6\" stroke=\"#a07000\"/>\n"
                out += "<text x=\"\(f(x + w / 2))\" y=\"\(f(y + h / 2 + 4))\" text-anchor=\"middle\">\(xmlEscape(symbol))</text></g>\n"
            case let .module(label, detail):
                out += "<g class=\"module\"><title>\(xmlEscape(detail))</title><rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" rx=\"8\" fill=\"#eef3ff\" stroke=\"#3050a0\"/>\n"
                out += "<text x=\"\(f(x + w / 2))\" y=\"\(f(y + h / 2 + 4))\" text-anchor=\"middle\">\(xmlEscape(label))</text></g>\n"
            }
        }
        return out + "</svg>\n"
    }
}

/// `s` with the five XML special characters escaped.
func xmlEscape(_ s: String) -> String {
    var r = ""
    r.reserveCapacity(s.count)
    for ch in s {
        switch ch {
        case "&": r += "&amp;"
        case "<": r += "&lt;"
        case ">": r += "&gt;"
        case "\"": r += "&quot;"
        case "'": r += "&apos;"
        default: r.append(ch)
        }
    }
    return r
}
