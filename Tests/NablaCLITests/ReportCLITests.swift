import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import _NablaTestSupport

/// `nabla train --report DIR`: a self-contained HTML page and its SVGs.
extension CLITests {
    func testTrainReportIsSelfContained() throws {
        let r = try nabla(["train", "--data", "moons", "--epochs", "4", "--hidden", "8", "--quiet", "--report", "rep"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let dir = directory + "/rep"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        for f in ["index.html", "loss.svg", "accuracy.svg", "loss-time.svg", "learning-rate.svg", "confusion.svg", "decision-boundary.svg"] {
            XCTAssertTrue(files.contains(f), "\(f) missing from \(files)")
        }
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        // Nothing is fetched: no scripts, no external files, fonts or style sheets.
        for bad in ["<script", "src=", "@font-face", "<link", "url(http", "@import"] {
            XCTAssertFalse(html.contains(bad), "the report contains \(bad)")
        }
        XCTAssertTrue(html.contains("nabla train --data moons --epochs 4 --hidden 8 --quiet --report rep"), "command line missing")
        XCTAssertTrue(html.contains("Linear"), "model summary missing")
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7)
        for f in files where f.hasSuffix(".svg") {
            let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)))
            XCTAssertTrue(parser.parse(), "\(f) is not well-formed XML")
        }
        // The confusion matrix counts every test example once, and its diagonal gives the
        // accuracy that the run printed (computed separately by the trainer's evaluation).
        let svg = try String(contentsOfFile: dir + "/confusion.svg", encoding: .utf8)
        let cells = try NSRegularExpression(pattern: "fill=\"(?:white|#222)\">([0-9]+)</text>")
        let matches = cells.matches(in: svg, range: NSRange(svg.startIndex..., in: svg))
        let values = matches.map { Int((svg as NSString).substring(with: $0.range(at: 1)))! }
        let line = try XCTUnwrap(r.stdoutLines.first { $0.hasPrefix("test accuracy") })
        let words = line.split(separator: " ")
        let accuracy = try XCTUnwrap(Double(words[2])), examples = try XCTUnwrap(Int(words[words.firstIndex(of: "on")! + 1]))
        XCTAssertEqual(values.reduce(0, +), examples)
        let rows = svg.components(separatedBy: "<rect x=").count   // n² cells + frame
        XCTAssertGreaterThan(rows, 4)
        // The diagonal cells are drawn in blue (rgba(0,114,178,…)) and hold the correct predictions.
        let diag = try NSRegularExpression(pattern: "fill=\"rgba\\(0,114,178,[0-9.]+\\)\" stroke=\"#ddd\"/>\n<text[^>]*>([0-9]+)</text>")
        let correct = diag.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { Int((svg as NSString).substring(with: $0.range(at: 1)))! }.reduce(0, +)
        XCTAssertEqual(Double(correct) / Double(examples), accuracy, accuracy: 0.00051)

        if HeadlessChromium.executable != nil {
            let png = try HeadlessChromium.screenshot(page: dir + "/index.html", png: directory + "/report.png", width: 1280, height: 1400)
            let blank = try HeadlessChromium.blankScreenshot(in: directory, width: 1280, height: 1400)
            XCTAssertGreaterThan(png.count, 5 * blank.count, "the report renders blank")
        }
    }

    func testTrainReportFolderIsCheckedFirst() throws {
        try write("x", to: "afile")
        try assertCleanError(["train", "--epochs", "1", "--quiet", "--report", "afile"], mentions: ["--report", "not a folder"])
        try assertCleanError(["train", "--epochs", "1", "--quiet", "--report", "no/such/dir"], mentions: ["--report", "does not exist"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/no"))
    }
}
