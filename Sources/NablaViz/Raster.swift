import CZlib
import Foundation
import NablaIO

/// An RGB colour of 8 bits per channel.
public struct RGB: Sendable, Equatable, Hashable {
    /// Red, green and blue, 0…255.
    public var r: UInt8, g: UInt8, b: UInt8

    /// A colour from its three channels.
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// A colour from a hex string such as `"#0072B2"`; black when it does not parse.
    public init(hex: String) {
        let v = UInt32(hex.drop { $0 == "#" }, radix: 16) ?? 0
        self.init(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }

    /// White.
    public static let white = RGB(255, 255, 255)
    /// Black.
    public static let black = RGB(0, 0, 0)
    /// A light grey for backgrounds and frames.
    public static let lightGray = RGB(225, 225, 225)
    /// The plots' colour-blind-safe palette (Okabe–Ito), as colours.
    public static let palette: [RGB] = LinePlot.palette.map { RGB(hex: $0) }
    /// Ten distinguishable colours for classes 0…9 (tab10).
    public static let classes: [RGB] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"].map { RGB(hex: $0) }

    /// The colour a fraction `t` of the way from `self` to `other` (t clamped to [0, 1]).
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        let u = min(max(t.isFinite ? t : 0, 0), 1)
        func m(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * u).rounded()) }
        return RGB(m(r, other.r), m(g, other.g), m(b, other.b))
    }

    /// A grey level for `v` in [0, 1] (0 black, 1 white; clamped).
    public static func gray(_ v: Double) -> RGB {
        let u = UInt8((min(max(v.isFinite ? v : 0, 0), 1) * 255).rounded())
        return RGB(u, u, u)
    }
}

/// A picture in memory: `width × height` RGB pixels, row by row from the top left, that can
/// be drawn on and saved as PNG.
///
/// It is what `nabla zoo` draws with: filled rectangles, discs, lines, and grey-scale images
/// blown up by an integer factor. ``png()`` encodes it with the system zlib;
/// ``writePNG(to:)`` writes the file atomically (a temporary file, then a rename).
public struct Raster: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// The pixels, three bytes (R, G, B) each, row-major from the top left.
    public private(set) var pixels: [UInt8]

    /// A picture filled with `background`.
    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width > 0 && height > 0 && width <= 1 << 14 && height <= 1 << 14,
                     "Raster: size \(width)×\(height) is outside 1…16384")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.r; pixels[3 * i + 1] = background.g; pixels[3 * i + 2] = background.b
        }
    }

    /// The colour at (x, y); writing outside the picture does nothing.
    public subscript(x: Int, y: Int) -> RGB {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "Raster: pixel (\(x), \(y)) is outside \(width)×\(height)")
            let i = 3 * (y * width + x)
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// Fills the rectangle with top-left corner (x, y), clipped to the picture.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: RGB) {
        for yy in max(y, 0)..<max(min(y + h, height), max(y, 0)) {
            for xx in max(x, 0)..<max(min(x + w, width), max(x, 0)) { self[xx, yy] = color }
        }
    }

    /// The outline of a rectangle, one pixel thick.
    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, _ color: RGB) {
        fill(x: x, y: y, width: w, height: 1, color)
        fill(x: x, y: y + h - 1, width: w, height: 1, color)
        fill(x: x, y: y, width: 1, height: h, color)
        fill(x: x + w - 1, y: y, width: 1, height: h, color)
    }

    /// A filled disc centred at (cx, cy), optionally ringed in `outline`; nothing when a
    /// coordinate is not finite.
    public mutating func disc(cx: Double, cy: Double, radius: Double, _ color: RGB, outline: RGB? = nil) {
        guard cx.isFinite, cy.isFinite, radius.isFinite else { return }
        let r = max(radius, 0.5)
        // Only the part inside the picture is visited.
        func clamp(_ v: Double, _ hi: Int) -> Int { Int(min(max(v, 0), Double(hi))) }
        let y0 = clamp((cy - r - 1).rounded(.down), height - 1), y1 = clamp((cy + r + 1).rounded(.up), height - 1)
        let x0 = clamp((cx - r - 1).rounded(.down), width - 1), x1 = clamp((cx + r + 1).rounded(.up), width - 1)
        guard y0 <= y1, x0 <= x1 else { return }
        for yy in y0...y1 {
            for xx in x0...x1 {
                let dx = Double(xx) + 0.5 - cx, dy = Double(yy) + 0.5 - cy
                let d = (dx * dx + dy * dy).squareRoot()
                if d <= r { self[xx, yy] = (outline != nil && d > r - 1) ? outline! : color }
            }
        }
    }

    /// A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide; nothing when a
    /// coordinate is not finite.
    public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ color: RGB, thickness: Double = 1) {
        guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { return }
        let steps = max(Int(min(max(abs(x1 - x0), abs(y1 - y0)), Double(4 * (width + height))).rounded(.up)), 1)
        for s in 0...steps {
            let t = Double(s) / Double(steps)
            let x = x0 + (x1 - x0) * t, y = y0 + (y1 - y0) * t
            if thickness <= 1 {
                if x >= 0, y >= 0, x < Double(width), y < Double(height) { self[Int(x), Int(y)] = color }
            }
            else { disc(cx: x, cy: y, radius: thickness / 2, color) }
        }
    }

    /// A grey-scale image (`values` row-major, `columns` wide, 0 black … 1 white unless
    /// `inverted`) drawn with its top left at (x, y), each value a `scale × scale` block.
    public mutating func image(_ values: [Double], columns: Int, x: Int, y: Int, scale: Int = 1, inverted: Bool = false) {
        precondition(columns > 0 && values.count % columns == 0, "Raster.image: \(values.count) values are not rows of \(columns)")
        let rows = values.count / columns
        for r in 0..<rows {
            for c in 0..<columns {
                let v = values[r * columns + c]
                fill(x: x + c * scale, y: y + r * scale, width: scale, height: scale, .gray(inverted ? 1 - v : v))
            }
        }
    }

    /// Copies `other` with its top left at (x, y), clipped.
    public mutating func draw(_ other: Raster, x: Int, y: Int) {
        for yy in 0..<other.height { for xx in 0..<other.width { self[x + xx, y + yy] = other[xx, yy] } }
    }

    // MARK: PNG

    /// Whether every pixel is a shade of grey (R = G = B).
    public var isGray: Bool {
        var i = 0
        while i < pixels.count {
            if pixels[i] != pixels[i + 1] || pixels[i] != pixels[i + 2] { return false }
            i += 3
        }
        return true
    }

    /// The picture as a PNG file (8-bit RGB, or 8-bit grey when every pixel is grey, which is
    /// a third of the size; no interlacing), its pixels deflated by zlib.
    ///
    /// Each row is filtered with PNG's "Up" filter (the byte difference from the row above),
    /// which makes the flat areas of plots and image grids compress to almost nothing.
    public func png() -> [UInt8] {
        let gray = isGray, channels = gray ? 1 : 3
        var samples = pixels
        if gray { samples = (0..<(width * height)).map { pixels[3 * $0] } }
        let stride = width * channels
        var filtered = [UInt8](repeating: 0, count: height * (stride + 1))
        for y in 0..<height {
            let o = y * (stride + 1)
            filtered[o] = y == 0 ? 0 : 2
            for i in 0..<stride {
                let v = samples[y * stride + i]
                filtered[o + 1 + i] = y == 0 ? v : v &- samples[(y - 1) * stride + i]
            }
        }
        var bound = compressBound(uLong(filtered.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compressed.withUnsafeMutableBufferPointer { out in
            filtered.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &bound, input.baseAddress, uLong(input.count), 9)
            }
        }
        precondition(status == Z_OK, "Raster.png: zlib compress2 failed with status \(status)")
        compressed.removeSubrange(Int(bound)...)

        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            bytes += be32(UInt32(data.count)) + body
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            bytes += be32(UInt32(truncatingIfNeeded: crc))
        }
        // IHDR: width, height, bit depth 8, colour type 2 (RGB) or 0 (grey), deflate, adaptive
        // filtering, no interlace.
        chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, gray ? 0 : 2, 0, 0, 0])
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return bytes
    }

    /// Writes the picture as PNG to `path`, atomically: nothing is half-written.
    public func writePNG(to path: String) throws {
        try atomicWrite(Data(png()), to: path)
    }
}
