import Foundation
import XCTest

/// `nabla graph`: expressions and model files drawn as SVG, DOT or a table.
extension CLITests {
    /// The notes' (x + y)·z at x = −2, y = 5, z = −4: f = −12, ∂f/∂x = ∂f/∂y = z = −4,
    /// ∂f/∂z = x + y = 3 (worked by hand).
    func testGraphExpressionToEveryFormat() throws {
        let args = ["graph", "--expr", "(x + y) * z", "--set", "x=-2,y=5,z=-4"]
        let table = try nabla(args)
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = Dictionary(table.stdoutLines.dropFirst(2).map { line -> (String, [String]) in
            let cols = line.split(separator: " ").map(String.init)
            return (cols[0], cols)
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(rows["x"]?.suffix(2), ["-2", "-4"], table.stdout)
        XCTAssertEqual(rows["z"]?.suffix(2), ["-4", "3"], table.stdout)
        XCTAssertEqual(rows["f"]?.suffix(2), ["-12", "1"], table.stdout)

        for name in ["g.svg", "g.dot", "g.txt"] {
            let r = try nabla(args + ["--out", name])
            XCTAssertEqual(r.status, 0, r.stderr)
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            XCTAssertTrue(text.contains("-12"), "\(name): \(text)")
        }
        let svg = try String(contentsOfFile: directory + "/g.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<?xml"))
        XCTAssertTrue(svg.contains(">data -12<") && svg.contains(">grad 3<"), svg)
        XCTAssertTrue(try String(contentsOfFile: directory + "/g.dot", encoding: .utf8).hasPrefix("digraph"))
    }

    func testGraphOfAModelFile() throws {
        try write("input: [4]\nlayers:\n  - {type: linear, out: 8}\n  - {type: tanh}\n  - {type: linear, out: 3}\n", to: "arch.yaml")
        let r = try nabla(["graph", "--model", "arch.yaml", "--out", "model.svg"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let svg = try String(contentsOfFile: directory + "/model.svg", encoding: .utf8)
        for label in ["layers.0: Linear", "layers.1: Tanh", "layers.2: Linear", "layers.0.weight", "[2, 4] min"] {
            XCTAssertTrue(svg.contains(label), "\(label) missing")
        }
    }

    func testGraphErrorsAreOneLine() throws {
        try assertCleanError(["graph", "--expr", "(x + y", "--set", "x=1,y=2", "--out", "g.svg"], mentions: ["column 7", "missing ')'"], leftover: "g.svg")
        try assertCleanError(["graph", "--expr", "x * w", "--set", "x=1", "--out", "g.svg"], mentions: ["'w'", "column 5"], leftover: "g.svg")
        try assertCleanError(["graph", "--expr", "x * 2", "--set", "x=abc"], mentions: ["--set x", "abc"])
        try assertCleanError(["graph", "--expr", "x * 2", "--set", "x=1,q=2"], mentions: ["'q'"])
        try assertCleanError(["graph", "--expr", "x * 2", "--set", "x=1", "--out", "g.png"], mentions: ["'.png'"], leftover: "g.png")
        try assertCleanError(["graph", "--expr", "x * 2", "--set", "x=1", "--out", "missing-dir/g.svg"], mentions: ["missing-dir"])
        try assertCleanError(["graph"], mentions: ["--expr", "--model"])
        try assertCleanError(["graph", "--model", "nope.yaml"], mentions: ["nope.yaml"])
    }
}
