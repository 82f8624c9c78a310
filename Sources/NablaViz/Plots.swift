import Foundation

/// A line plot drawn as a self-contained SVG: several named series against one x axis,
/// with "nice" ticks, a legend and optional log-scale y.
///
/// ```swift
/// var p = LinePlot(title: "loss", xLabel: "epoch", yLabel: "loss")
/// p.add("train", points: [(1, 2.3), (2, 1.1), (3, 0.7)])
/// let svg = p.svg()
/// ```
public struct LinePlot: Sendable {
    /// One named line.
    public struct Series: Sendable {
        /// The legend's name.
        public var name: String
        /// The points, in x order; non-finite values are skipped.
        public var points: [(x: Double, y: Double)]
        /// Dashed (for validation curves, say).
        public var dashed: Bool
        /// The colour (CSS); nil picks the next of the palette.
        public var color: String?
    }

    /// The title above the plot.
    public var title: String
    /// The x axis's label.
    public var xLabel: String
    /// The y axis's label.
    public var yLabel: String
    /// Use a log scale for y (only positive values are drawn).
    public var logY = false
    /// The lines.
    public internal(set) var series: [Series] = []
    /// Put the legend in the lower right corner (for rising curves) instead of the upper right.
    public var legendBottom = false
    /// The picture's size in pixels.
    public var width = 560.0, height = 320.0

    /// An empty plot.
    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY
    }

    /// Adds a line.
    public mutating func add(_ name: String, points: [(x: Double, y: Double)], dashed: Bool = false, color: String? = nil) {
        series.append(Series(name: name, points: points, dashed: dashed, color: color))
    }

    /// A colour-blind-friendly palette (Okabe–Ito).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

    /// Round tick values covering `lo...hi` (about `count` of them).
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if hi <= lo { return [lo] }
        let raw = (hi - lo) / Double(Swift.max(1, count))
        let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = Foundation.ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(Swift.abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// The plot as an SVG document (or fragment to inline in HTML when `standalone` is false).
    public func svg(standalone: Bool = true) -> String {
        let left = 64.0, right = 16.0, top = 30.0, bottom = 44.0
        let pw = width - left - right, ph = height - top - bottom
        let ty: (Double) -> Double = logY ? { Foundation.log10($0) } : { $0 }
        let usable = series.map { s in s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) } }
        let xs = usable.flatMap { $0.map(\.x) }, ys = usable.flatMap { $0.map { ty($0.y) } }
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1, y0 = ys.min() ?? 0, y1 = ys.max() ?? 1
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { let pad = Swift.max(Swift.abs(y0) * 0.1, 1e-3); y0 -= pad; y1 += pad }
        let ypad = (y1 - y0) * 0.05
        y0 -= ypad; y1 += ypad
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (ty(y) - y0) / (y1 - y0)) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(f(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
        // Grid and ticks.
        for t in LinePlot.ticks(x0, x1, count: 6) {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + ph))\" stroke=\"#e6e6e6\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(top + ph + 15))\" text-anchor=\"middle\" fill=\"#444\">\(GraphPicture.format(t))</text>\n"
        }
        // Log scale: ticks at 1, 2 and 5 times powers of ten (only powers when many decades).
        var yTicks = LinePlot.ticks(y0, y1, count: 5)
        if logY, y0.isFinite, y1.isFinite {
            let decades = Int(Foundation.floor(y0))...Int(Foundation.ceil(y1))
            let steps: [Double] = decades.count > 4 ? [1] : [1, 2, 5]
            yTicks = decades.flatMap { d in steps.map { Foundation.log10($0) + Double(d) } }.filter { $0 >= y0 && $0 <= y1 }
        }
        for t in yTicks {
            let y = top + (1 - (t - y0) / (y1 - y0)) * ph
            let label = logY ? GraphPicture.format(Foundation.pow(10, t)) : GraphPicture.format(t)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#e6e6e6\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" fill=\"#444\">\(label)</text>\n"
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#888\"/>\n"
        out += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
        out += "<text transform=\"translate(14 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(xmlEscape(yLabel + (logY ? " (log)" : "")))</text>\n"
        // Lines and the legend.
        for (k, s) in series.enumerated() {
            let color = s.color ?? LinePlot.palette[k % LinePlot.palette.count]
            let pts = usable[k]
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if pts.count > 1 {
                let d = pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                out += "<polyline class=\"series\" points=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            } else if let p = pts.first {
                out += "<circle class=\"series\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(color)\"/>\n"
            }
            let ly = legendBottom ? top + ph - 8 - Double(series.count - 1 - k) * 16 : top + 14 + Double(k) * 16
            out += "<line x1=\"\(f(left + pw - 130))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + pw - 110))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            out += "<text x=\"\(f(left + pw - 104))\" y=\"\(f(ly))\">\(xmlEscape(s.name))</text>\n"
        }
        return out + "</svg>\n"
    }
}

/// Heat-map pictures: a confusion matrix and a 2-D decision boundary with the data points.
public enum HeatMap {
    /// A confusion matrix (`counts[true][predicted]`) as an SVG, cells shaded by their share
    /// of the true class's row, with the count written in each cell.
    public static func confusionMatrix(_ counts: [[Int]], labels: [String]? = nil, standalone: Bool = true) -> String {
        let n = counts.count
        let cell = n <= 10 ? 36.0 : Swift.max(12, 360 / Double(n))
        let left = 70.0, top = 56.0
        let width = left + Double(n) * cell + 20, height = top + Double(n) * cell + 20
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(f(left + Double(n) * cell / 2))\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">predicted class</text>\n"
        out += "<text transform=\"translate(14 \(f(top + Double(n) * cell / 2))) rotate(-90)\" text-anchor=\"middle\" font-weight=\"bold\">true class</text>\n"
        for i in 0..<n {
            let name = labels.map { i < $0.count ? $0[i] : String(i) } ?? String(i)
            out += "<text x=\"\(f(left + (Double(i) + 0.5) * cell))\" y=\"\(f(top - 8))\" text-anchor=\"middle\">\(xmlEscape(name))</text>\n"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(top + (Double(i) + 0.5) * cell + 4))\" text-anchor=\"end\">\(xmlEscape(name))</text>\n"
            let total = Swift.max(1, counts[i].reduce(0, +))
            for j in 0..<Swift.min(n, counts[i].count) {
                let share = Double(counts[i][j]) / Double(total)
                let color = i == j ? "rgba(0,114,178,\(String(format: "%.3f", 0.08 + 0.92 * share)))" : "rgba(213,94,0,\(String(format: "%.3f", share == 0 ? 0 : 0.15 + 0.85 * share)))"
                out += "<rect x=\"\(f(left + Double(j) * cell))\" y=\"\(f(top + Double(i) * cell))\" width=\"\(f(cell))\" height=\"\(f(cell))\" fill=\"\(color)\" stroke=\"#ddd\"/>\n"
                if cell >= 24, counts[i][j] > 0 {
                    out += "<text x=\"\(f(left + (Double(j) + 0.5) * cell))\" y=\"\(f(top + (Double(i) + 0.5) * cell + 4))\" text-anchor=\"middle\" fill=\"\(share > 0.6 ? "white" : "#222")\">\(counts[i][j])</text>\n"
                }
            }
        }
        return out + "</svg>\n"
    }

    /// A decision boundary in TF Playground's style: `classOf(x, y)` (the predicted class
    /// and its probability) shaded over a `resolution`² grid covering the points, and the
    /// points coloured by their true class.
    public static func decisionBoundary(points: [(x: Double, y: Double, label: Int)], resolution: Int = 60,
                                        standalone: Bool = true,
                                        classOf: ([(Double, Double)]) -> [(label: Int, confidence: Double)]) -> String {
        let size = 360.0, margin = 10.0
        let xs = points.map(\.x), ys = points.map(\.y)
        var x0 = xs.min() ?? -1, x1 = xs.max() ?? 1, y0 = ys.min() ?? -1, y1 = ys.max() ?? 1
        let padX = Swift.max((x1 - x0) * 0.08, 1e-3), padY = Swift.max((y1 - y0) * 0.08, 1e-3)
        x0 -= padX; x1 += padX; y0 -= padY; y1 += padY
        let r = Swift.max(2, resolution)
        var grid: [(Double, Double)] = []
        for i in 0..<r { for j in 0..<r {
            grid.append((x0 + (Double(j) + 0.5) / Double(r) * (x1 - x0), y1 - (Double(i) + 0.5) / Double(r) * (y1 - y0)))
        } }
        let predicted = classOf(grid)
        let colors = ["0,114,178", "213,94,0", "0,158,115", "204,121,167", "230,159,0", "86,180,233", "240,228,66", "0,0,0"]
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        let cell = (size - 2 * margin) / Double(r)
        var out = standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size))\" height=\"\(Int(size))\" viewBox=\"0 0 \(Int(size)) \(Int(size))\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<g class=\"heat\" shape-rendering=\"crispEdges\">\n"
        for (k, p) in predicted.enumerated() where k < grid.count {
            let i = k / r, j = k % r
            // Opaque colours blended with white, so overlapping cell edges leave no seams.
            let alpha = 0.12 + 0.5 * Swift.min(1, Swift.max(0, p.confidence))
            let rgb = colors[p.label % colors.count].split(separator: ",").map { Double($0) ?? 0 }
            let mixed = rgb.map { String(Int(($0 * alpha + 255 * (1 - alpha)).rounded())) }.joined(separator: ",")
            out += "<rect x=\"\(f(margin + Double(j) * cell))\" y=\"\(f(margin + Double(i) * cell))\" width=\"\(f(cell + 0.5))\" height=\"\(f(cell + 0.5))\" fill=\"rgb(\(mixed))\"/>\n"
        }
        out += "</g>\n<g class=\"points\">\n"
        for p in points {
            let cx = margin + (p.x - x0) / (x1 - x0) * (size - 2 * margin), cy = margin + (y1 - p.y) / (y1 - y0) * (size - 2 * margin)
            out += "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"2.6\" fill=\"rgb(\(colors[p.label % colors.count]))\" stroke=\"white\" stroke-width=\"0.7\"/>\n"
        }
        out += "</g>\n<rect x=\"\(f(margin))\" y=\"\(f(margin))\" width=\"\(f(size - 2 * margin))\" height=\"\(f(size - 2 * margin))\" fill=\"none\" stroke=\"#888\"/>\n"
        return out + "</svg>\n"
    }
}
