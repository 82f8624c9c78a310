import ArgumentParser
import Foundation
import Nabla

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a computation graph with each node's value and gradient.",
        discussion: """
        The output format follows --out's extension: .svg (a picture laid out by Nabla, no
        Graphviz needed), .dot or .gv (Graphviz), .txt (the table: node, formula, value,
        gradient). Without --out the table is printed.

        Expressions: + - * / (or − × ÷), ^ or ** for powers, unary minus, parentheses,
        exp log sigmoid tanh relu sqrt, numbers and named scalars; `q = x + y; f = q * z`
        names intermediate nodes.

        Examples:
          nabla graph --expr "(x + y) * z" --set x=-2,y=5,z=-4 --out graph.svg
          nabla graph --expr "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))" --set w0=2,x0=-1,w1=-3,x1=-2,w2=-3
          nabla graph --model mlp.yaml --out model.svg            # forward graph on one example batch
        """)

    @Option(help: ArgumentHelp("A scalar expression to draw.", valueName: "expression"))
    var expr: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Values of the expression's variables: name=value,… (repeatable).", valueName: "values"))
    var values: [String] = []

    @Option(help: ArgumentHelp("Architecture file (YAML or JSON) whose forward graph to draw.", valueName: "file"))
    var model: String?

    @Option(help: "Examples in the batch given to --model.")
    var batch: Int = 2

    @Option(help: "Seed of the model's weights and the example batch.")
    var seed: UInt64 = 0

    @Flag(help: "Draw every op inside module calls instead of one box per layer.")
    var expand = false

    @Option(help: ArgumentHelp("Output file: .svg, .dot/.gv or .txt.", valueName: "path"))
    var out: String?

    func run() throws {
        // Check the output before any work.
        let format = try out.map(Graph.format(of:))
        let picture: GraphPicture
        switch (expr, model) {
        case (nil, nil): throw CLIError("graph: give --expr EXPRESSION or --model FILE")
        case (.some, .some): throw CLIError("graph: give either --expr or --model, not both")
        case let (.some(text), nil):
            let e = try ScalarExpression(text)
            let vals = try Graph.parseValues(values)
            for name in vals.keys where !e.variables.contains(name) {
                throw CLIError("--set: '\(name)' does not occur in the expression (its variables: \(e.variables.joined(separator: ", ")))")
            }
            picture = GraphPicture(try e.graph(vals).graph, collapseModules: !expand)
        case let (nil, .some(path)):
            guard values.isEmpty else { throw CLIError("--set applies to --expr only") }
            guard batch >= 1, batch <= 4096 else { throw CLIError("--batch must be between 1 and 4096 (got \(batch))") }
            let spec = try ModelSpec.read(contentsOf: path)
            // The example batch is held with every intermediate value: keep it small.
            let perExample = spec.input.reduce(1) { $0.multipliedReportingOverflow(by: Swift.max($1, 0)).overflow ? Int.max : $0 * Swift.max($1, 0) }
            guard perExample <= (1 << 24) / batch else {
                throw CLIError("\(path): an example batch of \(batch) × \(spec.input) is too large to draw (at most 16,777,216 values; lower --batch)")
            }
            let network = try spec.build(generator: RandomGenerator(seed: seed))
            let x = Tensor.randomNormal([batch] + spec.input, generator: RandomGenerator(seed: seed &+ 1))
            picture = GraphPicture(forwardGraph(of: network, input: x), collapseModules: !expand, rootName: "output")
        }
        guard let out, let format else { print(picture.table(), terminator: ""); return }
        let text: String
        switch format {
        case .svg: text = picture.svg()
        case .dot: text = picture.dot()
        case .table: text = picture.table()
        }
        try atomicWrite(Data(text.utf8), to: out)
        print("wrote \(out)")
    }

    enum Format { case svg, dot, table }

    static func format(of path: String) throws -> Format {
        switch (path as NSString).pathExtension.lowercased() {
        case "svg": return .svg
        case "dot", "gv": return .dot
        case "txt", "table": return .table
        case "": throw CLIError("--out \(path): no extension; use .svg, .dot or .txt")
        case let ext: throw CLIError("--out \(path): unknown format '.\(ext)'; use .svg, .dot or .txt")
        }
    }

    /// `x=-2,y=5` (possibly over several --set options) as a dictionary.
    static func parseValues(_ options: [String]) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for option in options {
            for part in option.split(separator: ",", omittingEmptySubsequences: false) {
                let item = part.trimmingCharacters(in: .whitespaces)
                let pieces = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pieces.count == 2, !pieces[0].isEmpty else { throw CLIError("--set: '\(item)' is not name=value") }
                let name = pieces[0].trimmingCharacters(in: .whitespaces), text = pieces[1].trimmingCharacters(in: .whitespaces)
                guard let v = Double(text), v.isFinite else { throw CLIError("--set \(name): '\(text)' is not a finite number") }
                guard out[name] == nil else { throw CLIError("--set: '\(name)' is given twice") }
                out[name] = v
            }
        }
        return out
    }
}
