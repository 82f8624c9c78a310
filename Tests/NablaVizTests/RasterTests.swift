import CZlib
import Foundation
import XCTest
import NablaViz

/// The PNG encoder: the file's structure is read back by hand (chunk lengths, a bitwise
/// CRC-32 written here, IHDR's fields), the pixels are inflated with zlib and un-filtered, and
/// compared with what was drawn.
final class RasterTests: XCTestCase {
    /// CRC-32 (ISO 3309, polynomial 0xEDB88320), bit by bit: independent of zlib's tables.
    func crc32Bitwise(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    func be32(_ b: ArraySlice<UInt8>) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }

    /// The chunks of a PNG file: (type, data), checking each CRC.
    func chunks(_ png: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [(String, [UInt8])] {
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "signature", file: file, line: line)
        var out: [(String, [UInt8])] = [], i = 8
        while i + 12 <= png.count {
            let length = Int(be32(png[i..<(i + 4)]))
            let type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
            let data = Array(png[(i + 8)..<(i + 8 + length)])
            let crc = be32(png[(i + 8 + length)..<(i + 12 + length)])
            XCTAssertEqual(crc, crc32Bitwise(Array(png[(i + 4)..<(i + 8 + length)])), "CRC of \(type)", file: file, line: line)
            out.append((type, data))
            i += 12 + length
        }
        XCTAssertEqual(i, png.count, "trailing bytes", file: file, line: line)
        return out
    }

    func testCRCHelperMatchesTheKnownIENDValue() {
        // Every PNG ends in 00 00 00 00 'IEND' AE 42 60 82.
        XCTAssertEqual(crc32Bitwise(Array("IEND".utf8)), 0xAE42_6082)
    }

    func testPNGStructureAndPixelsRoundTrip() throws {
        var r = Raster(width: 5, height: 3, background: RGB(10, 20, 30))
        r[0, 0] = .white
        r[4, 2] = RGB(200, 100, 0)
        r.fill(x: 1, y: 1, width: 2, height: 1, RGB(1, 2, 3))
        let png = r.png()
        let parts = chunks(png)
        XCTAssertEqual(parts.map(\.0), ["IHDR", "IDAT", "IEND"])
        let ihdr = parts[0].1
        XCTAssertEqual(be32(ihdr[0..<4]), 5)
        XCTAssertEqual(be32(ihdr[4..<8]), 3)
        XCTAssertEqual(Array(ihdr[8...]), [8, 2, 0, 0, 0], "8-bit RGB, deflate, no interlace")
        // Inflate and undo each row's filter (0 = none, 2 = up).
        let idat = parts[1].1
        var raw = [UInt8](repeating: 0, count: 3 * (1 + 5 * 3))
        var size = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in idat.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) } }
        XCTAssertEqual(status, Z_OK)
        XCTAssertEqual(Int(size), raw.count)
        var pixels: [UInt8] = [], previous = [UInt8](repeating: 0, count: 15)
        for y in 0..<3 {
            let filter = raw[y * 16]
            XCTAssertTrue(filter == 0 || filter == 2, "filter \(filter)")
            let row = (0..<15).map { filter == 2 ? raw[y * 16 + 1 + $0] &+ previous[$0] : raw[y * 16 + 1 + $0] }
            pixels += row; previous = row
        }
        XCTAssertEqual(pixels, r.pixels)
        XCTAssertEqual(Array(pixels[0..<3]), [255, 255, 255])
        XCTAssertEqual(Array(pixels[(3 * 6)..<(3 * 6 + 3)]), [1, 2, 3])
        XCTAssertEqual(Array(pixels[(3 * 14)...]), [200, 100, 0])
    }

    func testGreyPicturesAreWrittenAsGreyPNG() throws {
        var r = Raster(width: 3, height: 2)
        r.image([0, 0.5, 1, 1, 0.5, 0], columns: 3, x: 0, y: 0)
        XCTAssertTrue(r.isGray)
        let parts = chunks(r.png())
        XCTAssertEqual(Array(parts[0].1[8...]), [8, 0, 0, 0, 0], "8-bit grey")
        var raw = [UInt8](repeating: 0, count: 2 * 4)
        var size = uLongf(raw.count)
        let idat = parts[1].1
        let status = raw.withUnsafeMutableBufferPointer { out in idat.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) } }
        XCTAssertEqual(status, Z_OK)
        // Row 0 unfiltered: 0, 128, 255; row 1 "up": 255 − 0, 128 − 128, 0 − 255 (mod 256).
        XCTAssertEqual(raw, [0, 0, 128, 255, 2, 255, 0, 1])
        r[0, 0] = RGB(1, 2, 3)
        XCTAssertFalse(r.isGray)
        XCTAssertEqual(Array(chunks(r.png())[0].1[8...]), [8, 2, 0, 0, 0])
    }

    func testWritePNGIsAtomicAndComplete() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("raster-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = Raster(width: 64, height: 40)
        r.disc(cx: 20, cy: 20, radius: 8, RGB.palette[0], outline: .black)
        r.line(0, 0, 63, 39, .black, thickness: 2)
        r.image((0..<16).map { Double($0) / 15 }, columns: 4, x: 40, y: 4, scale: 3)
        let path = dir + "/picture.png"
        try r.writePNG(to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["picture.png"], "no temporary file left")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes, r.png())
        XCTAssertEqual(chunks(bytes).count, 3)
        // A disc's centre has its colour; the image's darkest block is black, its brightest white.
        XCTAssertEqual(r[20, 20], RGB.palette[0])
        XCTAssertEqual(r[40, 4], .black)
        XCTAssertEqual(r[40 + 3 * 3 + 2, 4 + 3 * 3 + 2], .white)
    }

    func testDrawingClipsAtTheEdges() {
        var r = Raster(width: 4, height: 4)
        r.fill(x: -2, y: -2, width: 10, height: 3, .black)
        r.disc(cx: 3.5, cy: 3.5, radius: 5, RGB(9, 9, 9))
        r[10, 10] = .black                      // ignored
        XCTAssertEqual(r[3, 3], RGB(9, 9, 9))
        XCTAssertEqual(r.pixels.count, 48)
    }
}
