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

/// `nabla plot`: several runs' histories overlaid.
extension CLITests {
    func testPlotOverlaysRuns() throws {
        // Two hand-written histories: run a has 3 epochs, run b has 2 with validation.
        try write("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_mae,lr,seconds,samples_per_second\n1,1.0,0.5,,,,0.1,0.5,100\n2,0.5,0.7,,,,0.1,0.5,100\n3,0.25,0.9,,,,0.1,0.5,100\n", to: "a.csv")
        try write("[{\"epoch\":1,\"train_loss\":2,\"val_loss\":2.5,\"lr\":0.01,\"seconds\":1,\"samples_per_second\":1},{\"epoch\":2,\"train_loss\":1,\"val_loss\":1.5,\"lr\":0.01,\"seconds\":1,\"samples_per_second\":1}]", to: "b.json")
        let r = try nabla(["plot", "a.csv", "b.json", "--out", "c.svg"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let svg = try String(contentsOfFile: directory + "/c.svg", encoding: .utf8)
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse())
        for name in ["a training", "b training", "b validation"] { XCTAssertTrue(svg.contains(">\(name)<"), name) }
        XCTAssertFalse(svg.contains(">a validation<"))
        XCTAssertEqual(svg.components(separatedBy: "class=\"series\"").count - 1, 3)
        // Run a's three points: 3 polyline vertices; b's training and validation: 2 each.
        let polylines = svg.components(separatedBy: "<polyline").dropFirst().map { $0.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0] }
        XCTAssertEqual(polylines.map { $0.split(separator: " ").count }, [3, 2, 2])

        try assertCleanError(["plot", "a.csv", "--metric", "foo", "--out", "x.svg"], mentions: ["--metric"], leftover: "x.svg")
        try assertCleanError(["plot", "missing.csv", "--out", "x.svg"], mentions: ["missing.csv"], leftover: "x.svg")
        try write("epoch,train_loss\n1,abc\n", to: "bad.csv")
        try assertCleanError(["plot", "bad.csv", "--out", "x.svg"], mentions: ["bad.csv", "line 2", "abc"], leftover: "x.svg")
        try assertCleanError(["plot", "a.csv", "--out", "a.csv"], mentions: ["svg"])
        try assertCleanError(["plot", "a.csv", "b.json", "--names", "one", "--out", "x.svg"], mentions: ["--names"], leftover: "x.svg")
    }
}
