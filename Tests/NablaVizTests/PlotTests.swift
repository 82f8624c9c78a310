import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NablaTraining
import NablaViz
import XCTest

final class PlotTests: XCTestCase {
    /// Ticks by hand: 0…1 in about 5 steps is 0.2 apart; 3…47 in about 5 is 10 apart from 10;
    /// −0.013…0.021 in about 4: raw step 0.0085, next round step 0.01 → −0.01, 0, 0.01, 0.02.
    func testTicksAreRound() {
        XCTAssertEqual(LinePlot.ticks(0, 1, count: 5).map { ($0 * 10).rounded() / 10 }, [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(LinePlot.ticks(3, 47, count: 5), [10, 20, 30, 40])
        XCTAssertEqual(LinePlot.ticks(-0.013, 0.021, count: 4).map { ($0 * 100).rounded() / 100 }, [-0.01, 0, 0.01, 0.02])
        XCTAssertEqual(LinePlot.ticks(2, 2), [2])
        XCTAssertEqual(LinePlot.ticks(.nan, 1), [])
    }

    /// A point at the plot's corners lands on the plot frame: x from 64 to 544 (560 − 16),
    /// y from 30 to 276 (320 − 44), with 5 % padding of the y range inside.
    func testLinePlotPlacesPoints() throws {
        var p = LinePlot(title: "t & <x>", xLabel: "epoch", yLabel: "loss")
        p.add("train", points: [(x: 1, y: 0), (x: 3, y: 10)])
        p.add("nan", points: [(x: 1, y: .nan)])
        let svg = p.svg()
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse(), svg)
        XCTAssertTrue(svg.contains("t &amp; &lt;x&gt;"))
        // y range 0…10 padded by 0.5 each side: y = 0 → 30 + (1 − 0.5/11)·246 = 264.8; y = 10 → 30 + (0.5/11)·246 = 41.2.
        XCTAssertTrue(svg.contains("points=\"64.0,264.8 544.0,41.2\""), svg)
    }

    func testConfusionMatrixCounts() {
        let svg = HeatMap.confusionMatrix([[5, 1], [0, 7]])
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse())
        for n in [">5<", ">1<", ">7<"] { XCTAssertTrue(svg.contains(n), n) }
        XCTAssertFalse(svg.contains(">0</text>") && svg.contains("fill=\"#222\">0<"), "empty cells carry no number")
    }

    func testReportPicturesFollowTheHistory() {
        var h = History()
        for e in 1...3 {
            h.epochs.append(EpochRecord(epoch: e, trainLoss: 1 / Double(e), trainAccuracy: 0.5 + 0.1 * Double(e),
                                        learningRate: 0.1, seconds: 0.5, samplesPerSecond: 100))
        }
        var r = TrainingReport(title: "run", commandLine: "nabla train", history: h)
        XCTAssertEqual(r.pictures().map(\.file), ["loss.svg", "accuracy.svg", "loss-time.svg", "accuracy-time.svg", "learning-rate.svg"])
        r.confusion = [[1]]
        XCTAssertEqual(r.pictures().last?.file, "confusion.svg")
        let html = r.html()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<?xml"), "inline SVGs carry no XML declaration")
        // Seconds accumulate: epochs end at 0.5, 1.0 and 1.5 s, so the x positions are the
        // plot's left edge (64), middle (304) and right edge (544).
        let time = r.pictures().first { $0.file == "loss-time.svg" }!.svg
        XCTAssertTrue(time.contains("points=\"64.0,") && time.contains(" 304.0,") && time.contains(" 544.0,"), time)
    }
}
