import Foundation
import NablaCore
import NablaViz

/// The zoo's pictures, drawn on a ``Raster``: decision boundaries, scatters, image grids,
/// fitted curves with bands, and confusion matrices.
public enum ZooPictures {
    /// A rectangle of the plane and its mapping to a square picture of `size` pixels.
    struct Frame {
        let x0: Double, x1: Double, y0: Double, y1: Double, size: Int
        init(_ xs: [Double], _ ys: [Double], size: Int, margin: Double = 0.08) {
            let lx = xs.min() ?? -1, hx = xs.max() ?? 1, ly = ys.min() ?? -1, hy = ys.max() ?? 1
            let mx = max(hx - lx, 1e-9) * margin, my = max(hy - ly, 1e-9) * margin
            x0 = lx - mx; x1 = hx + mx; y0 = ly - my; y1 = hy + my
            self.size = size
        }
        func px(_ x: Double) -> Double { (x - x0) / (x1 - x0) * Double(size) }
        func py(_ y: Double) -> Double { (1 - (y - y0) / (y1 - y0)) * Double(size) }
        func x(_ px: Int) -> Double { x0 + (Double(px) + 0.5) / Double(size) * (x1 - x0) }
        func y(_ py: Int) -> Double { y1 - (Double(py) + 0.5) / Double(size) * (y1 - y0) }
    }

    /// A two-class decision boundary: the background shaded by the predicted probability of
    /// class 1 (`probability` maps points to it, one call for the whole grid), the boundary
    /// p = ½ drawn dark, and the points coloured by their class.
    ///
    /// `centres`, when given, are drawn as black rings (an RBF network's centres).
    public static func decisionBoundary(points: [(x: Double, y: Double, label: Int)], size: Int = 240,
                                        centres: [(x: Double, y: Double)] = [],
                                        probability: ([(Double, Double)]) -> [Double]) -> Raster {
        let frame = Frame(points.map(\.x), points.map(\.y), size: size)
        let cell = 2
        let n = size / cell
        var grid: [(Double, Double)] = []
        for r in 0..<n { for c in 0..<n { grid.append((frame.x(c * cell + cell / 2), frame.y(r * cell + cell / 2))) } }
        let p = probability(grid)
        var picture = Raster(width: size, height: size)
        let zero = RGB.classes[0].mixed(with: .white, 0.72), one = RGB.classes[1].mixed(with: .white, 0.72)
        for r in 0..<n {
            for c in 0..<n {
                let v = p[r * n + c]
                var color = v >= 0.5 ? one : zero
                // The boundary: where the decision flips between neighbouring cells.
                let right = c + 1 < n ? p[r * n + c + 1] : v, below = r + 1 < n ? p[(r + 1) * n + c] : v
                if (right >= 0.5) != (v >= 0.5) || (below >= 0.5) != (v >= 0.5) { color = RGB(60, 60, 60) }
                picture.fill(x: c * cell, y: r * cell, width: cell, height: cell, color)
            }
        }
        for q in points {
            picture.disc(cx: frame.px(q.x), cy: frame.py(q.y), radius: 3, RGB.classes[q.label % 10], outline: .white)
        }
        for c in centres {
            picture.disc(cx: frame.px(c.x), cy: frame.py(c.y), radius: 4, .black, outline: .black)
            picture.disc(cx: frame.px(c.x), cy: frame.py(c.y), radius: 2, .white)
        }
        picture.frame(x: 0, y: 0, width: size, height: size, .black)
        return picture
    }

    /// Points coloured by class (a code space, a latent space).
    public static func scatter(_ points: [(x: Double, y: Double, label: Int)], size: Int = 320) -> Raster {
        let frame = Frame(points.map(\.x), points.map(\.y), size: size, margin: 0.04)
        var picture = Raster(width: size, height: size)
        for q in points { picture.disc(cx: frame.px(q.x), cy: frame.py(q.y), radius: 1.6, RGB.classes[q.label % 10]) }
        picture.frame(x: 0, y: 0, width: size, height: size, .black)
        return picture
    }

    /// Data points, a fitted curve and, when `spread` is given, the band curve ± spread.
    ///
    /// `curve` holds (x, y) in increasing x; the band is shaded light blue.
    public static func curve(data: [(x: Double, y: Double)], curve: [(x: Double, y: Double)],
                             spread: [Double]? = nil, truth: [(x: Double, y: Double)] = [],
                             width: Int = 420, height: Int = 280) -> Raster {
        // Points with a non-finite coordinate are left out (a diverged fit still draws).
        let data = data.filter { $0.x.isFinite && $0.y.isFinite }, truth = truth.filter { $0.x.isFinite && $0.y.isFinite }
        let keep = curve.indices.filter { curve[$0].x.isFinite && curve[$0].y.isFinite && (spread?[$0].isFinite ?? true) }
        let curve = keep.map { curve[$0] }, spread = spread.map { s in keep.map { s[$0] } }
        var ys = data.map(\.y) + curve.map(\.y)
        if let s = spread { ys += zip(curve, s).flatMap { [$0.y - $1, $0.y + $1] } }
        let xs = data.map(\.x) + curve.map(\.x)
        let lx = xs.min() ?? 0, hx = xs.max() ?? 1, ly = ys.min() ?? 0, hy = ys.max() ?? 1
        let mx = max(hx - lx, 1e-9) * 0.04, my = max(hy - ly, 1e-9) * 0.06
        func px(_ x: Double) -> Double { (x - lx + mx) / (hx - lx + 2 * mx) * Double(width) }
        func py(_ y: Double) -> Double { (1 - (y - ly + my) / (hy - ly + 2 * my)) * Double(height) }
        var picture = Raster(width: width, height: height)
        if let s = spread {
            let band = RGB.palette[0].mixed(with: .white, 0.75)
            for (i, point) in curve.enumerated() {
                let top = Int(py(point.y + s[i]).rounded()), bottom = Int(py(point.y - s[i]).rounded())
                let x = Int(px(point.x)), next = i + 1 < curve.count ? Int(px(curve[i + 1].x)) : x + 1
                picture.fill(x: x, y: top, width: max(next - x, 1), height: max(bottom - top, 1), band)
            }
        }
        for q in data { picture.disc(cx: px(q.x), cy: py(q.y), radius: 1.5, RGB(110, 110, 110)) }
        for (a, b) in zip(truth, truth.dropFirst()) { picture.line(px(a.x), py(a.y), px(b.x), py(b.y), RGB.palette[2], thickness: 2) }
        for (a, b) in zip(curve, curve.dropFirst()) { picture.line(px(a.x), py(a.y), px(b.x), py(b.y), RGB.palette[1], thickness: 2.5) }
        picture.frame(x: 0, y: 0, width: width, height: height, .black)
        return picture
    }

    /// Images in a grid, `columns` wide, each `side × side` values in [0, 1] drawn at `scale`
    /// pixels per value with a `gap` between them.
    public static func grid(_ images: [[Double]], side: Int, columns: Int, scale: Int = 2, gap: Int = 2) -> Raster {
        let rows = max((images.count + columns - 1) / columns, 1)
        let cellSize = side * scale + gap
        var picture = Raster(width: columns * cellSize + gap, height: rows * cellSize + gap, background: .lightGray)
        for (i, image) in images.enumerated() {
            picture.image(image, columns: side, x: gap + (i % columns) * cellSize, y: gap + (i / columns) * cellSize, scale: scale)
        }
        return picture
    }

    /// Pictures placed left to right (or top to bottom) with a gap.
    public static func stack(_ pictures: [Raster], vertical: Bool = false, gap: Int = 6) -> Raster {
        let w = vertical ? pictures.map(\.width).max() ?? 1 : pictures.reduce(0) { $0 + $1.width } + gap * (pictures.count - 1)
        let h = vertical ? pictures.reduce(0) { $0 + $1.height } + gap * (pictures.count - 1) : pictures.map(\.height).max() ?? 1
        var picture = Raster(width: max(w, 1), height: max(h, 1))
        var offset = 0
        for p in pictures {
            picture.draw(p, x: vertical ? 0 : offset, y: vertical ? offset : 0)
            offset += (vertical ? p.height : p.width) + gap
        }
        return picture
    }

    /// A confusion matrix: cell (true class i, predicted class j) shaded by the fraction of
    /// class i predicted as j, the diagonal in blue and errors in red.
    public static func confusionMatrix(_ counts: [[Int]], cell: Int = 24) -> Raster {
        let k = counts.count
        var picture = Raster(width: k * cell + 1, height: k * cell + 1)
        for i in 0..<k {
            let total = max(counts[i].reduce(0, +), 1)
            for j in 0..<k {
                let f = Double(counts[i][j]) / Double(total)
                let base = i == j ? RGB.palette[0] : RGB.palette[1]
                picture.fill(x: j * cell, y: i * cell, width: cell, height: cell,
                             RGB.white.mixed(with: base, i == j ? f : min(1, 4 * f)))
                picture.frame(x: j * cell, y: i * cell, width: cell + 1, height: cell + 1, .lightGray)
            }
        }
        return picture
    }
}
