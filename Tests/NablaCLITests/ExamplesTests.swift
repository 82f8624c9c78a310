import Foundation
import XCTest

/// Runs each example executable of `Examples/` and checks the conclusion it prints.
final class ExamplesTests: XCTestCase {
    /// The example executable `name` next to the `nabla` executable in the build folder.
    func run(_ name: String) throws -> String {
        guard let nabla = CLITests.executable else {
            throw XCTSkip("executables not built (run `swift build` first)")
        }
        let path = URL(fileURLWithPath: nabla).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("example \(name) is not built at \(path); run `swift build`")
            return ""
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-example-\(name)-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let h = try FileHandle(forWritingTo: out)
        p.standardOutput = h
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try h.close()
        defer { try? FileManager.default.removeItem(at: out) }
        XCTAssertEqual(p.terminationStatus, 0, "\(name) exited with \(p.terminationStatus)")
        return try String(contentsOf: out, encoding: .utf8)
    }

    func lastLine(_ s: String) -> String { s.split(separator: "\n").last.map(String.init) ?? "" }

    /// Numbers in a line, in order.
    func numbers(_ s: String) -> [Double] {
        s.split(whereSeparator: { !"0123456789.-".contains($0) }).compactMap { Double($0) }
    }

    /// y = 0.5x + 4 fitted by gradient descent from w = 2, b = 2 ends at the true line.
    func testLineFit() throws {
        let n = numbers(lastLine(try run("LineFit")))
        XCTAssertEqual(n.count, 2)
        XCTAssertEqual(n[0], 0.5, accuracy: 0.01)
        XCTAssertEqual(n[1], 4.0, accuracy: 0.01)
    }

    /// The hard cases: a linear classifier fails, one hidden layer succeeds.
    func testHardClassifiers() throws {
        let n = numbers(lastLine(try run("HardClassifiers")))
        XCTAssertEqual(n.count, 3)  // "mean over 4 tasks: linear accuracy a, network accuracy b"
        XCTAssertLessThan(n[1], 0.8)
        XCTAssertGreaterThan(n[2], 0.95)
    }

    /// Sums of sigmoids and of ReLUs approximate a piecewise-linear curve.
    func testCurveFitting() throws {
        let n = numbers(lastLine(try run("CurveFitting")))
        XCTAssertEqual(n.count, 2)
        XCTAssertLessThan(n[0], 0.2)
        XCTAssertLessThan(n[1], 0.2)
    }

    /// Deep versus wide at equal parameter count: both run and report a finite error.
    func testDeepVsWide() throws {
        let out = try run("DeepVsWide")
        // Both networks have 169 parameters: 1·8+8 + 8·8+8 + 8·8+8 + 8·1+1 and 1·56+56 + 56·1+1.
        XCTAssertEqual(out.components(separatedBy: "(169 parameters)").count - 1, 2, out)
        let n = numbers(lastLine(out))
        XCTAssertEqual(n.count, 2)
        // The baseline: predicting the mean of the sawtooth t∘t∘t on the 129 grid points
        // gives an RMS error equal to its standard deviation (computed here, independently).
        func tent(_ x: Double) -> Double { 1 - Swift.abs(2 * x - 1) }
        let y = (0..<129).map { tent(tent(tent(Double($0) / 128))) }
        let mean = y.reduce(0, +) / Double(y.count)
        let baseline = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(y.count)).squareRoot()
        XCTAssertEqual(baseline, 0.29, accuracy: 0.01)
        // Both learn something; the wide network fits the eight pieces to well under half the baseline.
        XCTAssertLessThan(n[0], baseline, "deep")
        XCTAssertLessThan(n[1], baseline / 2, "wide")
    }

    /// The README's Swift samples, extracted from README.md: each must equal the source of
    /// the example that compiles it (so the README cannot drift), and must print what the
    /// README says it prints.
    func testReadmeSamplesAreTheCompiledExamples() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" { current = []; continue }
            if current != nil, line == "```" { blocks.append(current!.joined(separator: "\n") + "\n"); current = nil; continue }
            current?.append(line)
        }
        let examples = ["ReadmeTinyGraph", "ReadmeGraphPicture", "ReadmeMLP", "ReadmeLSTM", "ReadmeAttention", "ReadmeZoo"]
        XCTAssertEqual(blocks.count, examples.count, "one example per Swift block of the README")
        for (block, name) in zip(blocks, examples) {
            let source = try String(contentsOf: root.appendingPathComponent("Examples/\(name)/main.swift"), encoding: .utf8)
            XCTAssertEqual(block, source, "README block differs from Examples/\(name)/main.swift")
        }
        // The tiny graph prints the gradients of the notes' example: −4, −4, 3.
        XCTAssertEqual(lastLine(try run("ReadmeTinyGraph")), "-4.0 -4.0 3.0")
        // The picture's table: q = x + y = 3 and f = q·z = −12, with ∂f/∂q = z = −4 and ∂f/∂z = q = 3.
        let table = try run("ReadmeGraphPicture").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertTrue(table.contains(["q", "x", "+", "y", "3", "-4"]), "\(table)")
        XCTAssertTrue(table.contains(["z", "input", "-4", "3"]), "\(table)")
        XCTAssertTrue(table.contains(["f", "q", "×", "z", "-12", "1"]), "\(table)")
        // The MLP separates the ring (not linearly separable) well.
        let n = numbers(lastLine(try run("ReadmeMLP")))
        XCTAssertEqual(n.count, 1)
        XCTAssertGreaterThan(n.first ?? 0, 0.9)
        // The LSTM sample: the shapes its comments give, and zero outputs in the padding.
        XCTAssertEqual(lastLine(try run("ReadmeLSTM")), "[3, 28, 128] [1, 3, 128] [3, 64] 0.0")
        // The attention sample: the shapes its comments give, and weights that sum to 1.
        XCTAssertEqual(lastLine(try run("ReadmeAttention")), "[2, 10, 64] [2, 10, 10] [2, 10, 64] [2, 4, 10, 16] true")
        // The VAE sample: the negative ELBO fell over 10 epochs and the KL term is positive.
        XCTAssertEqual(lastLine(try run("ReadmeZoo")), "true true")
    }
}
