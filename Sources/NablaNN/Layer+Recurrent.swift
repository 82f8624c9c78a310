import NablaCore

/// What a recurrent layer returns when called as a unary layer (in a ``Sequential`` or an
/// architecture file).
public enum RecurrentOutput: String, Sendable, CaseIterable {
    /// The output at every step: `[B, T, D·H]` (batch first) or `[T, B, D·H]`.
    case sequence
    /// The output at the last step, `output[:, -1, :]`: `[B, D·H]`. For a bidirectional
    /// layer the second half is the reverse direction after its first step (as in PyTorch).
    case last
}

/// The state of a recurrent layer: the hidden state and, for an LSTM, the cell state,
/// each `[numLayers·D, B, H]` (D = 2 when bidirectional), ordered layer by layer with the
/// forward direction first (PyTorch's order).
public struct RecurrentState {
    /// The hidden state `h`.
    public var h: Tensor
    /// The LSTM's cell state `c` (nil for a GRU or RNN).
    public var c: Tensor?

    /// A state from its tensors.
    public init(h: Tensor, c: Tensor? = nil) { self.h = h; self.c = c }
}

/// Holds a recurrent layer's parameters out of reflection's sight: their names
/// (`weight_ih_l0`, …) are computed, and listed through ``Module/computedTensors``.
final class RecurrentParameterTable: @unchecked Sendable {
    var entries: [(name: String, tensor: Tensor)] = []
    subscript(name: String) -> Tensor? { entries.first { $0.name == name }?.tensor }
}

/// The common base of ``RNN``, ``LSTM`` and ``GRU``: a stack of recurrent layers, each
/// one direction or two, with PyTorch's semantics, parameter names and initialisation.
///
/// Parameters are `weight_ih_l{k}` `[G·H, in]`, `weight_hh_l{k}` `[G·H, H]`, `bias_ih_l{k}`
/// and `bias_hh_l{k}` `[G·H]`, with a `_reverse` suffix for the backward direction; G is 4
/// for an LSTM (gates i, f, g, o), 3 for a GRU (r, z, n) and 1 for an RNN. All are drawn
/// from U(−1/√H, 1/√H), as in PyTorch.
///
/// Inputs are `[T, B, in]`, or `[B, T, in]` with `batchFirst`, or one unbatched sequence
/// `[T, in]`. Each layer and direction is one ``NablaCore/Tensor/recurrentScan(_:gates:hiddenWeight:hiddenBias:h0:c0:lengths:reverse:)``
/// after one matrix product for the input projections of all steps.
open class RecurrentLayer: Module, @unchecked Sendable, InputValidating {
    /// The cell every layer runs.
    public let cell: RecurrentCell
    /// Features per step of the input.
    public let inputSize: Int
    /// Units in each direction's hidden state.
    public let hiddenSize: Int
    /// Stacked layers; layer k > 0 reads layer k − 1's output.
    public let numLayers: Int
    /// Whether each layer also runs backwards over the sequence (outputs concatenated).
    public let bidirectional: Bool
    /// Dropout probability on the outputs of every layer but the last, in training mode.
    public let dropout: Double
    /// Whether inputs and outputs are `[B, T, ...]` rather than `[T, B, ...]`.
    public let batchFirst: Bool
    /// Whether the layers have biases.
    public let hasBias: Bool
    /// What ``Module/forward(_:)`` returns: the whole output sequence or its last step.
    public var output: RecurrentOutput
    /// The generator of the dropout masks between layers.
    public let generator: RandomGenerator
    let table = RecurrentParameterTable()

    /// Directions per layer: 1, or 2 when bidirectional.
    public var directions: Int { bidirectional ? 2 : 1 }

    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int, bias: Bool, batchFirst: Bool,
         dropout: Double, bidirectional: Bool, output: RecurrentOutput, dtype: DType, generator: RandomGenerator) {
        let kind = Self.kindName(cell)
        nablaCheck(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                   "\(kind): input size \(inputSize), hidden size \(hiddenSize) and layers \(numLayers) must be positive")
        nablaCheck(dropout >= 0 && dropout < 1, "\(kind): dropout \(dropout) must be in [0, 1)")
        self.cell = cell; self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.numLayers = numLayers
        self.hasBias = bias; self.batchFirst = batchFirst; self.dropout = dropout
        self.bidirectional = bidirectional; self.output = output; self.generator = generator
        super.init()
        let G = cell.gateCount, H = hiddenSize, bound = 1 / Double(H).squareRoot()
        for layer in 0..<numLayers {
            let inputs = layer == 0 ? inputSize : H * directions
            for suffix in bidirectional ? ["", "_reverse"] : [""] {
                func add(_ name: String, _ shape: [Int]) {
                    let t = Tensor.randomUniform(shape, low: -bound, high: bound, dtype: dtype, generator: generator).requiringGrad()
                    table.entries.append(("\(name)_l\(layer)\(suffix)", t))
                }
                add("weight_ih", [G * H, inputs])
                add("weight_hh", [G * H, H])
                if bias {
                    add("bias_ih", [G * H])
                    add("bias_hh", [G * H])
                }
            }
        }
    }

    static func kindName(_ cell: RecurrentCell) -> String {
        switch cell {
        case .lstm: return "LSTM"
        case .gru: return "GRU"
        case .rnnTanh, .rnnReLU: return "RNN"
        }
    }

    /// The parameters under PyTorch's names.
    public override var computedTensors: [(name: String, tensor: Tensor)] { table.entries }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        var s = "\(inputSize) => \(hiddenSize)"
        if numLayers > 1 { s += ", layers: \(numLayers)" }
        if bidirectional { s += ", bidirectional" }
        if cell == .rnnReLU { s += ", relu" }
        if output == .last { s += ", last" }
        return s
    }

    /// The parameter called `name` (`weight_ih_l0_reverse`).
    public func parameter(_ name: String) -> Tensor {
        guard let t = table[name] else { nablaFail("\(displayName) has no parameter '\(name)'") }
        return t
    }

    /// Nil, or a message naming the layer and the shapes when the input is not a sequence of
    /// `inputSize` features.
    public func validateInput(_ input: Tensor) -> String? {
        let layout = batchFirst ? "[batch, steps, \(inputSize)]" : "[steps, batch, \(inputSize)]"
        guard input.rank == 2 || input.rank == 3 else {
            return "\(displayName): expected a sequence \(layout) or an unbatched [steps, \(inputSize)], got shape \(input.shape)"
        }
        guard input.shape.last == inputSize else {
            return "\(displayName): expected \(inputSize) features per step (input \(layout)), got shape \(input.shape)"
        }
        guard input.shape.allSatisfy({ $0 > 0 }) else { return "\(displayName): the sequence is empty (shape \(input.shape))" }
        guard input.dtype.isFloatingPoint else { return "\(displayName): the input is \(input.dtype); expected float32 or float64" }
        return nil
    }

    /// Runs the layers over `input` from `state` (nil: zeros).
    ///
    /// - Parameters:
    ///   - lengths: each sequence's number of real steps (nil: all of them), as
    ///     `pack_padded_sequence`: outputs are 0 after a sequence's end, its final state is
    ///     the state at its last real step, and the padding changes no result or gradient.
    /// - Returns: the outputs of the last layer (`[T, B, D·H]`, or `[B, T, D·H]` batch
    ///   first) and the final state of every layer and direction.
    public func run(_ input: Tensor, state: RecurrentState? = nil, lengths: [Int]? = nil) -> (output: Tensor, state: RecurrentState) {
        checkInput(input)
        let unbatched = input.rank == 2
        var x = unbatched ? input.reshaped([input.shape[0], 1, inputSize]) : (batchFirst ? input.transposed(0, 1) : input)
        let T = x.shape[0], B = x.shape[1], H = hiddenSize, D = directions
        if let lengths {
            nablaCheck(!lengths.isEmpty, "\(displayName): the lengths are empty; give one length per sequence (\(B))")
            nablaCheck(lengths.count == B, "\(displayName): \(lengths.count) lengths for a batch of \(B) sequences")
            for (b, l) in lengths.enumerated() where l < 1 || l > T {
                nablaFail("\(displayName): length \(l) of sequence \(b) is not in 1…\(T) (the padded length)")
            }
        }
        func initial(_ t: Tensor?, _ what: String) -> Tensor? {
            guard var t else { return nil }
            if unbatched && t.rank == 2 { t = t.reshaped([t.shape[0], 1, t.shape[1]]) }
            nablaCheck(t.shape == [numLayers * D, B, H],
                       "\(displayName): \(what) must be [\(numLayers * D), \(B), \(H)] (layers × directions, batch, hidden), got \(t.shape)")
            return t
        }
        let h0 = initial(state?.h, "h0")
        let c0 = cell == .lstm ? initial(state?.c, "c0") : nil
        var hs: [Tensor] = [], cs: [Tensor] = []
        for layer in 0..<numLayers {
            var outs: [Tensor] = []
            for d in 0..<D {
                let suffix = "_l\(layer)" + (d == 1 ? "_reverse" : "")
                let wih = parameter("weight_ih" + suffix), whh = parameter("weight_hh" + suffix)
                let bih = hasBias ? parameter("bias_ih" + suffix) : nil, bhh = hasBias ? parameter("bias_hh" + suffix) : nil
                // One product for every step's input projection; the biases are added inside the scan.
                let gates = x.linear(weight: wih)
                let gateBias: Tensor?
                if cell == .gru { gateBias = bih } else if let bih, let bhh { gateBias = bih + bhh } else { gateBias = nil }
                let k = layer * D + d
                let r = Tensor.recurrentScan(cell, gates: gates, gateBias: gateBias, hiddenWeight: whh, hiddenBias: cell == .gru ? bhh : nil,
                                             h0: h0?.narrow(axis: 0, start: k, length: 1).reshaped([B, H]),
                                             c0: c0?.narrow(axis: 0, start: k, length: 1).reshaped([B, H]),
                                             lengths: lengths, reverse: d == 1, gatesAreScratch: true)
                outs.append(r.output)
                hs.append(r.h)
                if let c = r.c { cs.append(c) }
            }
            x = D == 1 ? outs[0] : Tensor.concatenate(outs, axis: 2)
            if layer < numLayers - 1 && isTraining && dropout > 0 {
                let keep = 1 - dropout
                x = x * (Tensor.randomBernoulli(x.shape, p: keep, dtype: x.dtype, generator: generator) / keep)
            }
        }
        var h = Tensor.stack(hs, axis: 0)
        var c = cell == .lstm ? Tensor.stack(cs, axis: 0) : nil
        if unbatched {
            h = h.reshaped([numLayers * D, H])
            c = c?.reshaped([numLayers * D, H])
            return (x.reshaped([T, D * H]), RecurrentState(h: h, c: c))
        }
        return (batchFirst ? x.transposed(0, 1) : x, RecurrentState(h: h, c: c))
    }

    /// The output sequence, or its last step (``output``).
    open override func forward(_ input: Tensor) -> Tensor {
        let r = run(input)
        let y = r.output
        guard output == .last else { return y }
        if directions == 1 {
            // One direction: the last output is the top layer's final state (the same values,
            // without gathering a step out of the whole output sequence).
            let h = r.state.h.narrow(axis: 0, start: numLayers - 1, length: 1)
            return input.rank == 2 ? h.reshaped([hiddenSize]) : h.reshaped([h.shape[1], hiddenSize])
        }
        let timeAxis = input.rank == 2 ? 0 : (batchFirst ? 1 : 0)
        let T = y.shape[timeAxis]
        let last = y.narrow(axis: timeAxis, start: T - 1, length: 1)
        var shape = y.shape
        shape.remove(at: timeAxis)
        return last.reshaped(shape)
    }

    /// The lengths of sequences from a mask `[B, T]` whose nonzero entries mark real steps;
    /// each row must be real steps followed by padding.
    public static func lengths(validMask mask: Tensor) -> [Int] {
        nablaCheck(mask.rank == 2, "lengths(validMask:): the mask must be [batch, steps], got shape \(mask.shape)")
        let B = mask.shape[0], T = mask.shape[1]
        let v = mask.to(.float64).doubles
        var out: [Int] = []
        for b in 0..<B {
            var n = 0
            while n < T && v[b * T + n] != 0 { n += 1 }
            for t in n..<T where v[b * T + t] != 0 {
                nablaFail("lengths(validMask:): row \(b) has a real step at \(t) after padding at \(n); padding must come last")
            }
            nablaCheck(n > 0, "lengths(validMask:): row \(b) has no real step")
            out.append(n)
        }
        return out
    }
}

/// Long short-term memory layers (PyTorch's `nn.LSTM`): gates i, f, g, o;
/// c' = f⊙c + i⊙g, h' = o⊙tanh(c').
///
/// ```swift
/// let lstm = LSTM(28, 128, batchFirst: true)
/// let (y, state) = lstm(x)            // y [B, T, 128]; state.h, state.c [1, B, 128]
/// let (y2, _) = lstm(x, state: state, lengths: [28, 20, 13])
/// ```
public final class LSTM: RecurrentLayer, @unchecked Sendable {
    /// `numLayers` LSTM layers from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, output: RecurrentOutput = .sequence,
                dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, output: output,
                   dtype: dtype, generator: generator)
    }

    /// The outputs and the final (h, c) of every layer and direction.
    public func callAsFunction(_ input: Tensor, state: (h: Tensor, c: Tensor)? = nil,
                               lengths: [Int]? = nil) -> (output: Tensor, state: (h: Tensor, c: Tensor)) {
        let r = run(input, state: state.map { RecurrentState(h: $0.h, c: $0.c) }, lengths: lengths)
        return (r.output, (r.state.h, r.state.c!))
    }
}

/// Gated recurrent unit layers (PyTorch's `nn.GRU`): r = σ(W_ir x + b_ir + W_hr h + b_hr),
/// z likewise, n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h.
public final class GRU: RecurrentLayer, @unchecked Sendable {
    /// `numLayers` GRU layers from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, output: RecurrentOutput = .sequence,
                dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, output: output,
                   dtype: dtype, generator: generator)
    }

    /// The outputs and the final h of every layer and direction.
    public func callAsFunction(_ input: Tensor, state h0: Tensor? = nil, lengths: [Int]? = nil) -> (output: Tensor, state: Tensor) {
        let r = run(input, state: h0.map { RecurrentState(h: $0) }, lengths: lengths)
        return (r.output, r.state.h)
    }
}

/// The non-linearity of an Elman ``RNN``.
public enum RNNNonlinearity: String, Sendable, CaseIterable {
    /// tanh (PyTorch's default).
    case tanh
    /// max(0, x).
    case relu
}

/// Elman recurrent layers (PyTorch's `nn.RNN`): h' = act(W_ih x + b_ih + W_hh h + b_hh).
public final class RNN: RecurrentLayer, @unchecked Sendable {
    /// `numLayers` layers from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, numLayers: Int = 1, nonlinearity: RNNNonlinearity = .tanh,
                bias: Bool = true, batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false,
                output: RecurrentOutput = .sequence, dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize, hiddenSize: hiddenSize,
                   numLayers: numLayers, bias: bias, batchFirst: batchFirst, dropout: dropout,
                   bidirectional: bidirectional, output: output, dtype: dtype, generator: generator)
    }

    /// The non-linearity.
    public var nonlinearity: RNNNonlinearity { cell == .rnnTanh ? .tanh : .relu }

    /// The outputs and the final h of every layer and direction.
    public func callAsFunction(_ input: Tensor, state h0: Tensor? = nil, lengths: [Int]? = nil) -> (output: Tensor, state: Tensor) {
        let r = run(input, state: h0.map { RecurrentState(h: $0) }, lengths: lengths)
        return (r.output, r.state.h)
    }
}

// MARK: - Cells

/// The common base of the single-step cells: `weight_ih` `[G·H, in]`, `weight_hh`
/// `[G·H, H]`, `bias_ih`, `bias_hh` `[G·H]`, from U(−1/√H, 1/√H) (PyTorch's names and
/// initialisation).
open class RecurrentCellLayer: Module, @unchecked Sendable {
    /// The cell.
    public let cell: RecurrentCell
    /// Input features.
    public let inputSize: Int
    /// Hidden units.
    public let hiddenSize: Int
    /// `[G·H, in]`.
    public let weight_ih: Tensor
    /// `[G·H, H]`.
    public let weight_hh: Tensor
    /// `[G·H]`, or nil without bias.
    public let bias_ih: Tensor?
    /// `[G·H]`, or nil without bias.
    public let bias_hh: Tensor?

    init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, bias: Bool, dtype: DType, generator: RandomGenerator) {
        nablaCheck(inputSize > 0 && hiddenSize > 0, "\(cell)Cell: input size \(inputSize) and hidden size \(hiddenSize) must be positive")
        self.cell = cell; self.inputSize = inputSize; self.hiddenSize = hiddenSize
        let G = cell.gateCount, H = hiddenSize, bound = 1 / Double(H).squareRoot()
        func u(_ shape: [Int]) -> Tensor { Tensor.randomUniform(shape, low: -bound, high: bound, dtype: dtype, generator: generator).requiringGrad() }
        weight_ih = u([G * H, inputSize])
        weight_hh = u([G * H, H])
        bias_ih = bias ? u([G * H]) : nil
        bias_hh = bias ? u([G * H]) : nil
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(inputSize) => \(hiddenSize)" }

    /// One step from `[B, in]` (or unbatched `[in]`) and the state `[B, H]`.
    func step(_ x: Tensor, h: Tensor?, c: Tensor?) -> (h: Tensor, c: Tensor?) {
        let unbatched = x.rank == 1
        nablaCheck((x.rank == 1 || x.rank == 2) && x.shape.last == inputSize,
                   "\(displayName): expected input [batch, \(inputSize)] or [\(inputSize)], got shape \(x.shape)")
        let xb = unbatched ? x.reshaped([1, inputSize]) : x
        let B = xb.shape[0], H = hiddenSize
        func state(_ t: Tensor?, _ what: String) -> Tensor? {
            guard let t else { return nil }
            let s = unbatched && t.rank == 1 ? t.reshaped([1, H]) : t
            nablaCheck(s.shape == [B, H], "\(displayName): \(what) must be [\(B), \(H)], got \(t.shape)")
            return s
        }
        let gates = xb.linear(weight: weight_ih)
        let gateBias: Tensor?
        if cell == .gru { gateBias = bias_ih } else if let bi = bias_ih, let bh = bias_hh { gateBias = bi + bh } else { gateBias = nil }
        let r = Tensor.recurrentScan(cell, gates: gates.reshaped([1, B, cell.gateCount * H]), gateBias: gateBias, hiddenWeight: weight_hh,
                                     hiddenBias: cell == .gru ? bias_hh : nil, h0: state(h, "h"), c0: state(c, "c"))
        if unbatched { return (r.h.reshaped([H]), r.c?.reshaped([H])) }
        return (r.h, r.c)
    }
}

/// One LSTM step (PyTorch's `nn.LSTMCell`): `(x, (h, c)) ↦ (h', c')`.
public final class LSTMCell: RecurrentCellLayer, Layer, @unchecked Sendable {
    /// The input and the state (nil: zeros).
    public typealias Input = (x: Tensor, state: (h: Tensor, c: Tensor)?)
    /// The next state.
    public typealias Output = (h: Tensor, c: Tensor)
    /// A cell from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, bias: Bool = true, dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, dtype: dtype, generator: generator)
    }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ input: (x: Tensor, state: (h: Tensor, c: Tensor)?)) -> (h: Tensor, c: Tensor) {
        let r = step(input.x, h: input.state?.h, c: input.state?.c)
        return (r.h, r.c!)
    }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ x: Tensor, _ state: (h: Tensor, c: Tensor)? = nil) -> (h: Tensor, c: Tensor) {
        callAsFunction((x: x, state: state))
    }
}

/// One GRU step (PyTorch's `nn.GRUCell`): `(x, h) ↦ h'`.
public final class GRUCell: RecurrentCellLayer, Layer, @unchecked Sendable {
    /// The input and the state (nil: zeros).
    public typealias Input = (x: Tensor, h: Tensor?)
    /// The next state.
    public typealias Output = Tensor
    /// A cell from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, bias: Bool = true, dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, dtype: dtype, generator: generator)
    }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ input: (x: Tensor, h: Tensor?)) -> Tensor { step(input.x, h: input.h, c: nil).h }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ x: Tensor, _ h: Tensor? = nil) -> Tensor { step(x, h: h, c: nil).h }
}

/// One Elman RNN step (PyTorch's `nn.RNNCell`): `(x, h) ↦ act(W_ih x + b_ih + W_hh h + b_hh)`.
public final class RNNCell: RecurrentCellLayer, Layer, @unchecked Sendable {
    /// The input and the state (nil: zeros).
    public typealias Input = (x: Tensor, h: Tensor?)
    /// The next state.
    public typealias Output = Tensor
    /// A cell from `inputSize` features to `hiddenSize` units.
    public init(_ inputSize: Int, _ hiddenSize: Int, bias: Bool = true, nonlinearity: RNNNonlinearity = .tanh,
                dtype: DType = .float32, generator: RandomGenerator = .global) {
        super.init(cell: nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize, hiddenSize: hiddenSize,
                   bias: bias, dtype: dtype, generator: generator)
    }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ input: (x: Tensor, h: Tensor?)) -> Tensor { step(input.x, h: input.h, c: nil).h }
    /// One step; a nil state is zeros.
    public func callAsFunction(_ x: Tensor, _ h: Tensor? = nil) -> Tensor { step(x, h: h, c: nil).h }
}
