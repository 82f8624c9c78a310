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
        let n = numbers(lastLine(try run("DeepVsWide")))
        XCTAssertEqual(n.count, 2)
        XCTAssertTrue(n.allSatisfy { $0.isFinite && $0 >= 0 })
    }
}
