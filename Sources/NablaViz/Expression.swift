import Foundation
import NablaCore

/// A bad expression: what is wrong and at which column (1-based).
public struct ExpressionError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The 1-based column of the offending character in the expression.
    public let column: Int
    /// What is wrong.
    public let message: String
    /// An error at `column`.
    public init(column: Int, message: String) { self.column = column; self.message = message }
    /// `expression, column 7: unknown function 'foo'`.
    public var description: String { "expression, column \(column): \(message)" }
    /// The same as ``description``.
    public var errorDescription: String? { description }
}

/// A small expression language for scalar computation graphs, enough for the lecture
/// notes' examples: `+ − × ÷` (also `-`, `*`, `/`), powers (`^` or `**`), unary minus,
/// parentheses, `exp`, `log`, `sigmoid`, `tanh`, `relu`, `sqrt`, numbers and named
/// scalars; statements `q = x + y; f = q * z` name intermediate nodes.
///
/// ```swift
/// let e = try ScalarExpression("(x + y) * z")
/// let (f, graph) = try e.graph(["x": -2, "y": 5, "z": -4])   // f = -12, ∂f/∂x = -4
/// ```
public struct ScalarExpression: Sendable {
    indirect enum Node: Sendable {
        case number(Double)
        case variable(String, column: Int)
        case unary(String, Node)
        case binary(String, Node, Node, column: Int)
        case call(String, Node, column: Int)
    }

    /// The functions the language knows.
    public static let functions = ["exp", "log", "sigmoid", "tanh", "relu", "sqrt"]

    let statements: [(name: String?, node: Node, column: Int)]
    /// The text parsed.
    public let source: String

    /// The longest expression accepted, in characters.
    public static let maxLength = 10_000
    /// The deepest nesting of parentheses, calls, powers and signs accepted.
    public static let maxDepth = 200

    /// Parses `source`; throws ``ExpressionError`` naming the column of the first problem.
    public init(_ source: String) throws {
        self.source = source
        guard source.count <= ScalarExpression.maxLength else {
            throw ExpressionError(column: ScalarExpression.maxLength + 1, message: "the expression is longer than \(ScalarExpression.maxLength) characters")
        }
        var p = Parser(Array(source))
        statements = try p.program()
        // Evaluation recurses over the tree: bound its height (found without recursion), which
        // also counts long chains such as x + x + … + x.
        for st in statements {
            var stack: [(Node, Int)] = [(st.node, 1)]
            while let (n, h) = stack.popLast() {
                guard h <= ScalarExpression.maxDepth else {
                    throw ExpressionError(column: st.column, message: "more than \(ScalarExpression.maxDepth) operations deep (too large to draw); split it into statements")
                }
                switch n {
                case .number, .variable: break
                case let .unary(_, a), let .call(_, a, _): stack.append((a, h + 1))
                case let .binary(_, a, b, _): stack.append((a, h + 1)); stack.append((b, h + 1))
                }
            }
        }
    }

    /// The variables the expression reads (not those it assigns), in order of first use.
    public var variables: [String] {
        var out: [String] = [], assigned = Set<String>()
        func walk(_ n: Node) {
            switch n {
            case .number: break
            case let .variable(v, _): if !assigned.contains(v), !out.contains(v) { out.append(v) }
            case let .unary(_, a): walk(a)
            case let .binary(_, a, b, _): walk(a); walk(b)
            case let .call(_, a, _): walk(a)
            }
        }
        for s in statements { walk(s.node); if let n = s.name { assigned.insert(n) } }
        return out
    }

    /// Evaluates the expression in float64 with each variable a named leaf, runs backward
    /// from the last statement and returns its value with the captured graph (values and
    /// gradients on every node).
    public func graph(_ values: [String: Double]) throws -> (result: Tensor, graph: ComputationGraph) {
        for v in variables where values[v] == nil {
            throw ExpressionError(column: firstColumn(of: v), message: "no value for '\(v)' (give it with --set \(v)=…)")
        }
        var env: [String: Tensor] = [:]
        for v in variables { env[v] = Tensor(scalar: values[v]!, dtype: .float64).requiringGrad(name: v) }
        var last: Tensor?
        try withGraphCapture {
            for (i, s) in statements.enumerated() {
                let t = try evaluate(s.node, env)
                guard t.requiresGrad else {
                    throw ExpressionError(column: s.column, message: "this expression depends on no variable, so it has no graph")
                }
                let name = s.name ?? (i == statements.count - 1 ? "f" : nil)
                if let name {
                    // A statement that only copies a variable gets a node of its own.
                    let node = t.isLeaf ? (t * 1.0) : t
                    node.namedInGraph(name)
                    env[name] = node
                    last = node
                } else { last = t }
            }
        }
        guard let result = last else { throw ExpressionError(column: 1, message: "empty expression") }
        result.backward(retainGraph: true)
        return (result, result.graph())
    }

    func firstColumn(of variable: String) -> Int {
        var found: Int?
        func walk(_ n: Node) {
            guard found == nil else { return }
            switch n {
            case .number: break
            case let .variable(v, c): if v == variable { found = c }
            case let .unary(_, a): walk(a)
            case let .binary(_, a, b, _): walk(a); walk(b)
            case let .call(_, a, _): walk(a)
            }
        }
        for s in statements { walk(s.node) }
        return found ?? 1
    }

    /// A value while evaluating: a tensor (depends on variables) or a plain number.
    enum Value { case number(Double), tensor(Tensor) }

    func evaluate(_ n: Node, _ env: [String: Tensor]) throws -> Tensor {
        switch try value(n, env) {
        case let .tensor(t): return t
        case let .number(x): return Tensor(scalar: x, dtype: .float64)
        }
    }

    func value(_ n: Node, _ env: [String: Tensor]) throws -> Value {
        switch n {
        case let .number(x): return .number(x)
        case let .variable(v, column):
            guard let t = env[v] else { throw ExpressionError(column: column, message: "unknown variable '\(v)'") }
            return .tensor(t)
        case let .unary(_, a):
            switch try value(a, env) {
            case let .number(x): return .number(-x)
            case let .tensor(t): return .tensor(-t)
            }
        case let .call(f, a, column):
            switch try value(a, env) {
            case let .number(x):
                switch f {
                case "exp": return .number(Foundation.exp(x))
                case "log": return .number(Foundation.log(x))
                case "sigmoid": return .number(1 / (1 + Foundation.exp(-x)))
                case "tanh": return .number(Foundation.tanh(x))
                case "relu": return .number(Swift.max(0, x))
                case "sqrt": return .number(x.squareRoot())
                default: throw ExpressionError(column: column, message: "unknown function '\(f)'")
                }
            case let .tensor(t):
                switch f {
                case "exp": return .tensor(t.exp())
                case "log": return .tensor(t.log())
                case "sigmoid": return .tensor(t.sigmoid())
                case "tanh": return .tensor(t.tanh())
                case "relu": return .tensor(t.relu())
                case "sqrt": return .tensor(t.sqrt())
                default: throw ExpressionError(column: column, message: "unknown function '\(f)'")
                }
            }
        case let .binary(op, a, b, _):
            let va = try value(a, env), vb = try value(b, env)
            switch (va, vb) {
            case let (.number(x), .number(y)):
                switch op {
                case "+": return .number(x + y)
                case "-": return .number(x - y)
                case "*": return .number(x * y)
                case "/": return .number(x / y)
                default: return .number(Foundation.pow(x, y))
                }
            case let (.tensor(t), .number(y)):
                switch op {
                case "+": return .tensor(t + y)
                case "-": return .tensor(t - y)
                case "*": return .tensor(t * y)
                case "/": return .tensor(t / y)
                default: return .tensor(t.pow(y))
                }
            case let (.number(x), .tensor(t)):
                switch op {
                case "+": return .tensor(x + t)
                case "-": return .tensor(x - t)
                case "*": return .tensor(x * t)
                case "/": return .tensor(x / t)
                default: return .tensor(Tensor(scalar: x, dtype: .float64).pow(t))
                }
            case let (.tensor(s), .tensor(t)):
                switch op {
                case "+": return .tensor(s + t)
                case "-": return .tensor(s - t)
                case "*": return .tensor(s * t)
                case "/": return .tensor(s / t)
                default: return .tensor(s.pow(t))
                }
            }
        }
    }

    /// A recursive-descent parser over characters; columns are 1-based.
    struct Parser {
        let c: [Character]
        var i = 0
        var depth = 0
        /// Counts one level of nesting (recursion is bounded, so no input can overflow the stack).
        mutating func enter() throws {
            depth += 1
            if depth > ScalarExpression.maxDepth { throw error("nested more than \(ScalarExpression.maxDepth) levels deep") }
        }
        init(_ c: [Character]) { self.c = c }

        mutating func skip() { while i < c.count, c[i].isWhitespace { i += 1 } }
        func error(_ message: String, at index: Int? = nil) -> ExpressionError {
            ExpressionError(column: (index ?? i) + 1, message: message)
        }
        mutating func peekOp() -> String? {
            skip()
            guard i < c.count else { return nil }
            if c[i] == "*", i + 1 < c.count, c[i + 1] == "*" { return "**" }
            switch c[i] {
            case "+": return "+"
            case "-", "−": return "-"
            case "*", "×", "·": return "*"
            case "/", "÷": return "/"
            case "^": return "^"
            case "(": return "("
            case ")": return ")"
            case ";": return ";"
            case "=": return "="
            default: return nil
            }
        }
        mutating func take(_ op: String) { i += op == "**" ? 2 : 1 }

        mutating func program() throws -> [(name: String?, node: Node, column: Int)] {
            var out: [(String?, Node, Int)] = []
            repeat {
                skip()
                if i < c.count, c[i] == ";" { i += 1; continue }
                guard i < c.count else { break }
                let start = i
                var name: String?
                // `name = expr`: look ahead for an identifier followed by '='.
                if c[i].isLetter || c[i] == "_" {
                    var j = i
                    while j < c.count, c[j].isLetter || c[j].isNumber || c[j] == "_" { j += 1 }
                    var k = j
                    while k < c.count, c[k].isWhitespace { k += 1 }
                    if k < c.count, c[k] == "=" {
                        name = String(c[i..<j]); i = k + 1
                        if ScalarExpression.functions.contains(name!) { throw error("cannot assign to the function name '\(name!)'", at: start) }
                    }
                }
                skip()
                guard i < c.count, c[i] != ";" else { throw error("expected an expression") }
                let node = try expression()
                out.append((name, node, start + 1))
                skip()
                if i < c.count {
                    guard c[i] == ";" else {
                        throw error(c[i] == ")" ? "unmatched ')'" : "unexpected '\(c[i])'")
                    }
                    i += 1
                }
            } while i < c.count
            guard !out.isEmpty else { throw error("empty expression", at: 0) }
            return out
        }

        mutating func expression() throws -> Node {
            var left = try term()
            while let op = peekOp(), op == "+" || op == "-" {
                let at = i
                take(op)
                left = .binary(op, left, try term(), column: at + 1)
            }
            return left
        }

        mutating func term() throws -> Node {
            var left = try unary()
            while let op = peekOp(), op == "*" || op == "/" {
                let at = i
                take(op)
                left = .binary(op, left, try unary(), column: at + 1)
            }
            return left
        }

        mutating func unary() throws -> Node {
            try enter()
            defer { depth -= 1 }
            if let op = peekOp(), op == "-" || op == "+" {
                take(op)
                let a = try unary()
                return op == "-" ? .unary("-", a) : a
            }
            return try power()
        }

        mutating func power() throws -> Node {
            let base = try atom()
            if let op = peekOp(), op == "^" || op == "**" {
                let at = i
                take(op)
                return .binary("^", base, try unary(), column: at + 1)   // right-associative
            }
            return base
        }

        mutating func atom() throws -> Node {
            skip()
            guard i < c.count else { throw error("the expression ends where a value was expected") }
            let start = i
            if c[i] == "(" {
                i += 1
                let e = try expression()
                skip()
                guard i < c.count, c[i] == ")" else { throw error("missing ')' for the '(' at column \(start + 1)") }
                i += 1
                return e
            }
            if c[i].isNumber || c[i] == "." {
                var j = i
                while j < c.count, c[j].isNumber || c[j] == "." { j += 1 }
                if j < c.count, c[j] == "e" || c[j] == "E" {
                    var k = j + 1
                    if k < c.count, c[k] == "+" || c[k] == "-" { k += 1 }
                    if k < c.count, c[k].isNumber {
                        while k < c.count, c[k].isNumber { k += 1 }
                        j = k
                    }
                }
                let text = String(c[i..<j])
                guard let x = Double(text), x.isFinite else { throw error("'\(text)' is not a number", at: start) }
                i = j
                return .number(x)
            }
            if c[i].isLetter || c[i] == "_" {
                var j = i
                while j < c.count, c[j].isLetter || c[j].isNumber || c[j] == "_" { j += 1 }
                let name = String(c[i..<j])
                i = j
                skip()
                if i < c.count, c[i] == "(" {
                    guard ScalarExpression.functions.contains(name) else {
                        throw error("unknown function '\(name)' (known: \(ScalarExpression.functions.joined(separator: ", ")))", at: start)
                    }
                    let open = i
                    i += 1
                    let arg = try expression()
                    skip()
                    guard i < c.count, c[i] == ")" else { throw error("missing ')' for the '(' at column \(open + 1)") }
                    i += 1
                    return .call(name, arg, column: start + 1)
                }
                if ScalarExpression.functions.contains(name) {
                    throw error("'\(name)' is a function: write \(name)(…)", at: start)
                }
                return .variable(name, column: start + 1)
            }
            if c[i] == ")" { throw error("unexpected ')'") }
            throw error("unexpected '\(c[i])'")
        }
    }
}
