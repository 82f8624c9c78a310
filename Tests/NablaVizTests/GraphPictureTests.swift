import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NablaCore
import NablaNN
import NablaViz
import XCTest
import _NablaTestSupport

/// The lecture notes' two worked examples, drawn: every number is checked against a hand
/// derivation (in the comments), in the table and in the SVG's text.
final class GraphPictureTests: XCTestCase {

    // MARK: Helpers

    /// The table's rows by node name: (formula, value, gradient).
    func rows(_ table: String) -> [String: (formula: String, value: Double?, grad: Double?)] {
        var out: [String: (String, Double?, Double?)] = [:]
        for line in table.split(separator: "\n").dropFirst(2) {
            // Columns are separated by two or more spaces.
            let cols = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard cols.count == 4 else { continue }
            out[cols[0]] = (cols[1], Double(cols[2]), Double(cols[3]))
        }
        return out
    }

    /// The SVG's value boxes as (label, data, grad) texts, read with XMLParser (which also
    /// proves the document well-formed).
    final class SVGReader: NSObject, XMLParserDelegate {
        var boxes: [[String]] = []
        var localLabels: [String] = []
        var texts: [String] = []
        private var inValue = false, inText = false, isLocal = false, current = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if name == "g", attributes["class"] == "value" { inValue = true; boxes.append([]) }
            if name == "text" { inText = true; current = ""; isLocal = attributes["class"] == "local" }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { current += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text" {
                inText = false
                texts.append(current)
                if isLocal { localLabels.append(current) } else if inValue { boxes[boxes.count - 1].append(current) }
            }
            if name == "g" { inValue = false }
        }
        /// The number after `prefix ` in the box labelled `label`.
        func number(_ label: String, _ prefix: String) -> Double? {
            guard let box = boxes.first(where: { $0.first == label }),
                  let cell = box.first(where: { $0.hasPrefix(prefix + " ") }) else { return nil }
            return Double(cell.dropFirst(prefix.count + 1))
        }
    }

    func parseSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> SVGReader {
        let reader = SVGReader()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reader
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
        return reader
    }

    // MARK: (x + y)·z

    /// The notes' first example at x = −2, y = 5, z = −4. By hand:
    /// q = x + y = 3, f = q·z = −12;
    /// ∂f/∂z = q = 3, ∂f/∂q = z = −4, and + passes the gradient through: ∂f/∂x = ∂f/∂y = −4.
    /// Local derivatives on the edges: ∂q/∂x = ∂q/∂y = 1, ∂f/∂q = z = −4, ∂f/∂z = q = 3.
    func testAddMultiplyExample() throws {
        let e = try ScalarExpression("q = x + y; f = q * z")
        let (f, graph) = try e.graph(["x": -2, "y": 5, "z": -4])
        XCTAssertEqual(f.item(), -12)
        let picture = GraphPicture(graph)
        let t = rows(picture.table())
        let expected: [String: (Double, Double)] = ["x": (-2, -4), "y": (5, -4), "z": (-4, 3), "q": (3, -4), "f": (-12, 1)]
        for (name, (value, grad)) in expected {
            XCTAssertEqual(t[name]?.value, value, "value of \(name) in\n\(picture.table())")
            XCTAssertEqual(t[name]?.grad, grad, "∂f/∂\(name) in\n\(picture.table())")
        }
        XCTAssertEqual(t["q"]?.formula, "x + y")
        XCTAssertEqual(t["f"]?.formula, "q × z")
        XCTAssertTrue(picture.table().contains("∂f/∂node"))

        let svg = parseSVG(picture.svg())
        for (name, (value, grad)) in expected {
            XCTAssertEqual(svg.number(name, "data"), value, "SVG data of \(name): \(svg.boxes)")
            XCTAssertEqual(svg.number(name, "grad"), grad, "SVG grad of \(name): \(svg.boxes)")
        }
        XCTAssertEqual(svg.localLabels.compactMap(Double.init).sorted(), [-4, 1, 1, 3])
        XCTAssertEqual(svg.boxes.count, 5)   // x, y, z, q, f
    }

    /// The same graph built with the library API directly, without the expression language.
    func testLibraryAPIKeepsValuesAndGradients() {
        let x = Tensor(scalar: -2, dtype: .float64).requiringGrad(name: "x")
        let y = Tensor(scalar: 5, dtype: .float64).requiringGrad(name: "y")
        let z = Tensor(scalar: -4, dtype: .float64).requiringGrad(name: "z")
        let f = withGraphCapture { (x + y) * z }
        f.backward(retainGraph: true)
        let g = f.graph()
        XCTAssertEqual(g.nodes.count, 5)
        let add = g.nodes.first { $0.op == "Add" }
        XCTAssertEqual(add?.value?.item(), 3)
        XCTAssertEqual(add?.gradient?.item(), -4)
        XCTAssertEqual(g.nodes[g.root].gradient?.item(), 1)
        XCTAssertEqual(x.grad?.item(), -4)
        // The graph was retained: a second pass accumulates into the leaves (−4 twice).
        f.backward(retainGraph: true)
        XCTAssertEqual(x.grad?.item(), -8)
        XCTAssertEqual(z.grad?.item(), 6)
        // Without a capture the structure is still there, values only where known.
        let plain = (x * y).graph()
        XCTAssertEqual(plain.nodes.map(\.op).sorted(), ["Leaf", "Leaf", "Mul"])
        XCTAssertEqual(plain.nodes.filter { $0.kind == .leaf }.compactMap(\.name).sorted(), ["x", "y"])
    }

    // MARK: The sigmoid neuron

    /// f = 1 / (1 + exp(−(w0·x0 + w1·x1 + w2))) at w0 = 2, x0 = −1, w1 = −3, x1 = −2, w2 = −3.
    /// By hand: s = 2·(−1) + (−3)·(−2) + (−3) = −2 + 6 − 3 = 1; f = σ(1) = 1/(1 + e⁻¹) = 0.7311.
    /// df/ds = f(1 − f) = 0.7311 · 0.2689 = 0.1966; then
    /// ∂f/∂w0 = x0 · 0.1966 = −0.20, ∂f/∂x0 = w0 · 0.1966 = 0.39, ∂f/∂w1 = x1 · 0.1966 = −0.39,
    /// ∂f/∂x1 = w1 · 0.1966 = −0.59, ∂f/∂w2 = 0.20 (the notes' numbers, two decimals).
    /// Backwards through the gates: 1/x at x = 1 + e⁻¹ = 1.3679 has local derivative
    /// −1/1.3679² = −0.53; exp at −1 has e⁻¹ = 0.37; the negation −1.
    func testSigmoidNeuronExample() throws {
        let e = try ScalarExpression("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))")
        let (f, graph) = try e.graph(["w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3])
        XCTAssertEqual(f.item(), 0.73, accuracy: 0.005)
        let picture = GraphPicture(graph)
        let t = rows(picture.table())
        let expected: [String: (Double, Double)] = ["w0": (2, -0.20), "x0": (-1, 0.39), "w1": (-3, -0.39),
                                                    "x1": (-2, -0.59), "w2": (-3, 0.20), "f": (0.73, 1)]
        for (name, (value, grad)) in expected {
            XCTAssertEqual(t[name]?.value ?? .nan, value, accuracy: 0.005, "value of \(name)")
            XCTAssertEqual(t[name]?.grad ?? .nan, grad, accuracy: 0.005, "∂f/∂\(name) in\n\(picture.table())")
        }
        let svg = parseSVG(picture.svg())
        for (name, (value, grad)) in expected {
            XCTAssertEqual(svg.number(name, "data") ?? .nan, value, accuracy: 0.005, "SVG data of \(name)")
            XCTAssertEqual(svg.number(name, "grad") ?? .nan, grad, accuracy: 0.005, "SVG grad of \(name)")
        }
        let locals = svg.localLabels.compactMap(Double.init)
        XCTAssertTrue(locals.contains { Swift.abs($0 - -0.53) < 0.005 }, "1/x local derivative in \(locals)")
        XCTAssertTrue(locals.contains { Swift.abs($0 - 0.37) < 0.005 }, "exp local derivative in \(locals)")
        // The notes' gates: ×, ×, +, +, negation, exp, +1, 1/x.
        let symbols = picture.items.compactMap { if case let .op(s, _) = $0 { return s } else { return nil } }
        XCTAssertEqual(symbols, ["×", "×", "+", "+", "−x", "exp", "+ 1", "1/x"])
        XCTAssertTrue(svg.texts.contains("1/x"))
    }

    // MARK: Renderings and modules

    func testDOTNamesEveryBox() throws {
        let (_, graph) = try ScalarExpression("(x + y) * z").graph(["x": -2, "y": 5, "z": -4])
        let dot = GraphPicture(graph).dot()
        XCTAssertTrue(dot.hasPrefix("digraph"))
        XCTAssertTrue(dot.contains("rankdir=LR"))
        XCTAssertTrue(dot.contains("{ x | data -2 | grad -4 }"), dot)
        XCTAssertTrue(dot.contains("label=\"×\""), dot)
        XCTAssertEqual(dot.components(separatedBy: "->").count - 1, 6)   // x,y→+→q; q,z→×→f
    }

    /// A 2-layer MLP: each layer is one box; parameters are named as in the state dict.
    func testModuleCallsCollapse() {
        let model = Sequential { Linear(2, 3); Tanh(); Linear(3, 1) }
        let x = Tensor([[1.0, 2.0], [3.0, 4.0]] as [[Double]]).to(.float32)
        let g = forwardGraph(of: model, input: x) { $0.mean() }
        let picture = GraphPicture(g)
        let modules = picture.items.compactMap { if case let .module(l, _) = $0 { return l } else { return nil } }
        XCTAssertEqual(modules.count, 3, "\(modules)")
        XCTAssertTrue(modules[0].hasPrefix("layers.0: Linear"), modules[0])
        XCTAssertTrue(modules[1].hasPrefix("layers.1: Tanh"), modules[1])
        let labels = picture.items.compactMap { if case let .value(l, _, _) = $0 { return l } else { return nil } }
        for p in ["input", "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"] {
            XCTAssertTrue(labels.contains(p), "\(p) missing from \(labels)")
        }
        // Collapsed: only the loss's mean is an op node; expanded: the layers' ops too.
        let ops = picture.items.filter { if case .op = $0 { return true } else { return false } }
        XCTAssertEqual(ops.count, 1)
        let expanded = GraphPicture(g, collapseModules: false)
        XCTAssertGreaterThan(expanded.items.filter { if case .op = $0 { return true } else { return false } }.count, 3)
        // Tensors are abbreviated: shape and min/mean/max; gradients present after the loss.
        let w = g.nodes.first { $0.name == "layers.0.weight" }
        XCTAssertEqual(w?.shape, [3, 2])
        XCTAssertNotNil(w?.gradient)
        XCTAssertTrue(GraphPicture.describe(w?.value).hasPrefix("[3, 2] min "))
        _ = parseSVG(picture.svg())
        _ = parseSVG(expanded.svg())
    }

    // MARK: Expression errors

    func testBadExpressionsNameTheColumn() {
        let cases: [(String, Int, String)] = [
            ("(x + y", 7, "missing ')'"),
            ("x + * y", 5, "unexpected '*'"),
            ("foo(x)", 1, "unknown function 'foo'"),
            ("x + 2)", 6, "unmatched ')'"),
            ("x + ", 5, "ends where a value was expected"),
            ("exp + 1", 1, "is a function"),
            ("2 * 3", 1, "depends on no variable"),
            ("x $ y", 3, "unexpected '$'"),
            ("", 1, "empty expression"),
        ]
        for (text, column, message) in cases {
            do {
                _ = try ScalarExpression(text).graph(["x": 1, "y": 2])
                XCTFail("'\(text)' was accepted")
            } catch let e as ExpressionError {
                XCTAssertEqual(e.column, column, "'\(text)': \(e)")
                XCTAssertTrue(e.message.contains(message), "'\(text)': \(e)")
            } catch { XCTFail("'\(text)': \(error)") }
        }
        XCTAssertThrowsError(try ScalarExpression("x * w").graph(["x": 1])) { e in
            XCTAssertEqual((e as? ExpressionError)?.column, 5)
        }
    }

    /// No input can overflow the stack: nesting, chains and length are bounded; a sum of
    /// 150 terms still evaluates: 150 · x at x = 1.
    func testDeepAndLongExpressionsAreBounded() throws {
        let deep = String(repeating: "(", count: 1000) + "x" + String(repeating: ")", count: 1000)
        XCTAssertThrowsError(try ScalarExpression(deep)) { e in
            XCTAssertTrue("\(e)".contains("nested more than"), "\(e)")
        }
        XCTAssertThrowsError(try ScalarExpression(String(repeating: "-", count: 1000) + "x"))
        XCTAssertThrowsError(try ScalarExpression(String(repeating: "x+", count: 6000) + "x")) { e in
            XCTAssertTrue("\(e)".contains("longer than"), "\(e)")
        }
        XCTAssertThrowsError(try ScalarExpression(String(repeating: "x+", count: 2000) + "x")) { e in
            XCTAssertTrue("\(e)".contains("operations deep"), "\(e)")
        }
        let (f, g) = try ScalarExpression(String(repeating: "x+", count: 149) + "x").graph(["x": 1])
        XCTAssertEqual(f.item(), 150)
        XCTAssertEqual(g.nodes.first { $0.name == "x" }?.gradient?.item(), 150)
    }

    /// Operator precedence and powers, against values worked by hand.
    func testPrecedenceAndPowers() throws {
        // -x^2 = -(x^2) = -9 at x = 3; d/dx = -2x = -6.
        var (f, g) = try ScalarExpression("-x^2").graph(["x": 3])
        XCTAssertEqual(f.item(), -9, accuracy: 1e-12)
        XCTAssertEqual(g.nodes.first { $0.name == "x" }?.gradient?.item() ?? .nan, -6, accuracy: 1e-12)
        // 2 ** 3 ** x at x = 2 is 2^(3^2) = 512 (right-associative).
        (f, _) = try ScalarExpression("2 ** 3 ** x").graph(["x": 2])
        XCTAssertEqual(f.item(), 512, accuracy: 1e-9)
        // x − y ÷ 2 × 4 = 10 − (5 / 2) · 4 = 0 (left to right within a level).
        (f, _) = try ScalarExpression("x − y ÷ 2 × 4").graph(["x": 10, "y": 5])
        XCTAssertEqual(f.item(), 0, accuracy: 1e-12)
        // relu(x) + tanh(0) + log(exp(x)) at x = 1.5: 1.5 + 0 + 1.5 = 3.
        (f, _) = try ScalarExpression("relu(x) + tanh(0) + log(exp(x))").graph(["x": 1.5])
        XCTAssertEqual(f.item(), 3, accuracy: 1e-12)
    }

    /// Renders the SVG with headless Chromium when it is installed (Debian's `chromium`):
    /// the PNG must be far from blank (a blank page of the same size compresses to a small
    /// fraction of a drawn one).
    func testChromiumRendersTheSVG() throws {
        guard HeadlessChromium.executable != nil else {
            throw XCTSkip("chromium is not installed; skipping the headless rendering check")
        }
        let (_, graph) = try ScalarExpression("(x + y) * z").graph(["x": -2, "y": 5, "z": -4])
        let dir = NSTemporaryDirectory() + "nabla-viz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let svg = GraphPicture(graph).svg()
        XCTAssertTrue(svg.contains("<text"))
        try svg.write(toFile: dir + "/g.svg", atomically: true, encoding: .utf8)
        let png = try HeadlessChromium.screenshot(page: dir + "/g.svg", png: dir + "/g.png", width: 800, height: 300)
        let blank = try HeadlessChromium.blankScreenshot(in: dir, width: 800, height: 300)
        XCTAssertGreaterThan(png.count, 3 * blank.count, "the rendering looks blank (\(png.count) bytes, blank page \(blank.count))")
    }
}
