import CNablaKernels

/// The cell a recurrent scan runs: an LSTM, a GRU or an Elman RNN with tanh or ReLU.
public enum RecurrentCell: Sendable, Equatable {
    /// Long short-term memory: gates i, f, g, o (PyTorch's order); state (h, c).
    case lstm
    /// Gated recurrent unit: gates r, z, n (PyTorch's formula, r multiplying W_hn·h + b_hn).
    case gru
    /// h' = tanh(W_ih·x + b_ih + W_hh·h + b_hh).
    case rnnTanh
    /// h' = relu(W_ih·x + b_ih + W_hh·h + b_hh).
    case rnnReLU

    /// How many blocks of H rows the weights have: 4, 3 or 1.
    public var gateCount: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnReLU: return 1
        }
    }

    var kernelKind: Int32 {
        switch self {
        case .lstm: return Int32(NABLA_RNN_LSTM.rawValue)
        case .gru: return Int32(NABLA_RNN_GRU.rawValue)
        case .rnnTanh: return Int32(NABLA_RNN_TANH.rawValue)
        case .rnnReLU: return Int32(NABLA_RNN_RELU.rawValue)
        }
    }
}

extension Tensor {
    /// One direction of one recurrent layer over a whole time-major sequence, as one graph
    /// node: the scan PyTorch's `nn.LSTM`, `nn.GRU` and `nn.RNN` run per layer and direction.
    ///
    /// - Parameters:
    ///   - gates: `[T, B, G·H]`, the input projections of every step, computed beforehand as
    ///     one matrix product `x·W_ihᵀ`.
    ///   - gateBias: `[G·H]`, added to the gates at every step inside the scan (nil: none):
    ///     `b_ih + b_hh` for an LSTM or RNN, `b_ih` for a GRU. Its gradient is summed while
    ///     the scan runs backwards, not in a separate pass over the sequence.
    ///   - hiddenWeight: `W_hh`, `[G·H, H]`.
    ///   - hiddenBias: the GRU's `b_hh`, `[3H]` (nil: none), kept apart because r multiplies it.
    ///   - h0, c0: the initial state, `[B, H]` each (nil: zeros). `c0` is for an LSTM only.
    ///   - lengths: each row's number of real steps, in 1…T (nil: all T). A row is padding
    ///     after its length: its state stops there, its outputs are 0 and padding changes no
    ///     result or gradient (as `pack_padded_sequence`).
    ///   - reverse: runs from the last real step of each row down to step 0 (the backward
    ///     direction of a bidirectional layer).
    /// - Returns: the outputs `[T, B, H]` (the hidden state after each step), the final
    ///   hidden state `[B, H]` and, for an LSTM, the final cell state.
    ///
    /// Each thread runs the whole sequence for its share of the batch, one GEMM per step for
    /// `W_hh·h` and one fused kernel for the cell; the backward pass runs the steps in
    /// reverse the same way and computes `dW_hh` as one GEMM over all steps.
    public static func recurrentScan(_ cell: RecurrentCell, gates: Tensor, gateBias: Tensor? = nil, hiddenWeight: Tensor,
                                     hiddenBias: Tensor? = nil, h0: Tensor? = nil, c0: Tensor? = nil, lengths: [Int]? = nil,
                                     reverse: Bool = false) -> (output: Tensor, h: Tensor, c: Tensor?) {
        recurrentScan(cell, gates: gates, gateBias: gateBias, hiddenWeight: hiddenWeight, hiddenBias: hiddenBias, h0: h0, c0: c0,
                      lengths: lengths, reverse: reverse, gatesAreScratch: false)
    }

    /// ``recurrentScan(_:gates:gateBias:hiddenWeight:hiddenBias:h0:c0:lengths:reverse:)``; with
    /// `gatesAreScratch` an LSTM overwrites `gates` with its activations instead of copying
    /// them (for a caller that made `gates` itself and reads it no more).
    package static func recurrentScan(_ cell: RecurrentCell, gates: Tensor, gateBias: Tensor?, hiddenWeight: Tensor, hiddenBias: Tensor?,
                                      h0: Tensor?, c0: Tensor?, lengths: [Int]?, reverse: Bool,
                                      gatesAreScratch: Bool) -> (output: Tensor, h: Tensor, c: Tensor?) {
        gates.requireFloatingPoint("recurrentScan")
        nablaCheck(gates.rank == 3, "recurrentScan: gates must be [T, B, G·H], got shape \(gates.shape)")
        let T = gates.shape[0], B = gates.shape[1], G = cell.gateCount
        nablaCheck(hiddenWeight.rank == 2 && hiddenWeight.shape[0] == G * hiddenWeight.shape[1],
                   "recurrentScan: the hidden weight must be [\(G)·H, H], got shape \(hiddenWeight.shape)")
        let H = hiddenWeight.shape[1]
        nablaCheck(T >= 1 && B >= 1, "recurrentScan: the sequence is empty (gates of shape \(gates.shape))")
        nablaCheck(gates.shape[2] == G * H,
                   "recurrentScan: gates \(gates.shape) do not match the hidden weight \(hiddenWeight.shape) (\(G)·\(H) = \(G * H) per step)")
        let dtype = gates.dtype
        for (name, t) in [("hidden weight", hiddenWeight), ("gate bias", gateBias), ("hidden bias", hiddenBias), ("h0", h0), ("c0", c0)] {
            guard let t else { continue }
            nablaCheck(t.dtype == dtype, "recurrentScan: \(name) is \(t.dtype) but the gates are \(dtype)")
        }
        if let b = gateBias { nablaCheck(b.shape == [G * H], "recurrentScan: the gate bias must be [\(G * H)], got \(b.shape)") }
        if let b = hiddenBias {
            nablaCheck(cell == .gru, "recurrentScan: a separate hidden bias is for a GRU; add it to the gate bias")
            nablaCheck(b.shape == [G * H], "recurrentScan: the hidden bias must be [\(G * H)], got \(b.shape)")
        }
        if let h0 { nablaCheck(h0.shape == [B, H], "recurrentScan: h0 must be [\(B), \(H)], got \(h0.shape)") }
        if let c0 {
            nablaCheck(cell == .lstm, "recurrentScan: c0 is for an LSTM only")
            nablaCheck(c0.shape == [B, H], "recurrentScan: c0 must be [\(B), \(H)], got \(c0.shape)")
        }
        var lengths64: [Int64]? = nil
        if let lengths {
            nablaCheck(lengths.count == B, "recurrentScan: \(lengths.count) lengths for a batch of \(B)")
            for (b, l) in lengths.enumerated() {
                nablaCheck(l >= 1 && l <= T, "recurrentScan: length \(l) of row \(b) is not in 1…\(T)")
            }
            if lengths.contains(where: { $0 != T }) { lengths64 = lengths.map { Int64($0) } }
        }
        let lstm = cell == .lstm
        let ySlot = T + 1 + (lstm ? 1 : 0)
        let slots = ySlot + (lengths64 == nil ? 0 : T)
        let gx = gates.contiguous().detached(), whh = hiddenWeight.contiguous().detached()
        let bhh = hiddenBias?.contiguous().detached(), gb = gateBias?.contiguous().detached()
        let h0d = h0?.contiguous().detached(), c0d = c0?.contiguous().detached()
        let P = Tensor(uninitializedShape: [slots, B, H], dtype: dtype)
        let cs = lstm ? Tensor(uninitializedShape: [T + 1, B, H], dtype: dtype) : nil
        // gx is `gates` itself when that is contiguous (not a view of another tensor's storage).
        let reuse = gatesAreScratch && cell == .lstm && gates.isContiguous
        let acts = reuse ? gx : cell == .lstm || cell == .gru ? Tensor(uninitializedShape: [T, B, 4 * H], dtype: dtype) : nil
        var g = nabla_rnn_geom()
        g.T = T; g.B = B; g.H = H; g.reverse = reverse ? 1 : 0; g.kind = cell.kernelKind; g.y_slot = ySlot
        func run(_ body: (UnsafePointer<Int64>?) -> Void) {
            if let l = lengths64 { l.withUnsafeBufferPointer { body($0.baseAddress) } } else { body(nil) }
        }
        run { lp in
            g.lengths = lp
            if dtype == .float32 {
                nabla_s_rnn_forward(&g, gx.pointer(Float.self), gb?.pointer(Float.self), whh.pointer(Float.self), bhh?.pointer(Float.self),
                                    h0d?.pointer(Float.self), c0d?.pointer(Float.self), P.pointer(Float.self),
                                    cs?.pointer(Float.self), acts?.pointer(Float.self))
            } else {
                nabla_d_rnn_forward(&g, gx.pointer(Double.self), gb?.pointer(Double.self), whh.pointer(Double.self), bhh?.pointer(Double.self),
                                    h0d?.pointer(Double.self), c0d?.pointer(Double.self), P.pointer(Double.self),
                                    cs?.pointer(Double.self), acts?.pointer(Double.self))
            }
        }
        var inputs = [gates, hiddenWeight]
        var slot: [Int] = [0, 1]   // position in `inputs` of: gates, whh, bhh, h0, c0, gate bias (-1: absent)
        for t in [hiddenBias, h0, c0, gateBias] {
            if let t { slot.append(inputs.count); inputs.append(t) } else { slot.append(-1) }
        }
        let needW = hiddenWeight.liveNode != nil, needB = hiddenBias?.liveNode != nil
        let needH0 = h0?.liveNode != nil, needC0 = c0?.liveNode != nil, needGB = gateBias?.liveNode != nil
        let recorded = record(P, op: lstm ? "LSTM" : cell == .gru ? "GRU" : "RNN", inputs: inputs) { dP in
            let dP = dP.to(dtype).contiguous()
            let dgx = Tensor(uninitializedShape: [T, B, G * H], dtype: dtype)
            let dgh = cell == .gru ? Tensor(uninitializedShape: [T, B, G * H], dtype: dtype) : nil
            let dwhh = needW ? Tensor(uninitializedShape: [G * H, H], dtype: dtype) : nil
            let dbhh = needB ? Tensor(uninitializedShape: [G * H], dtype: dtype) : nil
            let dh0 = needH0 ? Tensor(uninitializedShape: [B, H], dtype: dtype) : nil
            let dc0 = needC0 ? Tensor(uninitializedShape: [B, H], dtype: dtype) : nil
            let dgb = needGB ? Tensor(uninitializedShape: [G * H], dtype: dtype) : nil
            var g = g
            run { lp in
                g.lengths = lp
                if dtype == .float32 {
                    nabla_s_rnn_backward(&g, whh.pointer(Float.self), P.pointer(Float.self), cs?.pointer(Float.self),
                                         acts?.pointer(Float.self), dP.pointer(Float.self), dgx.pointer(Float.self),
                                         dgh?.pointer(Float.self), dh0?.pointer(Float.self), dc0?.pointer(Float.self),
                                         dwhh?.pointer(Float.self), dbhh?.pointer(Float.self), dgb?.pointer(Float.self))
                } else {
                    nabla_d_rnn_backward(&g, whh.pointer(Double.self), P.pointer(Double.self), cs?.pointer(Double.self),
                                         acts?.pointer(Double.self), dP.pointer(Double.self), dgx.pointer(Double.self),
                                         dgh?.pointer(Double.self), dh0?.pointer(Double.self), dc0?.pointer(Double.self),
                                         dwhh?.pointer(Double.self), dbhh?.pointer(Double.self), dgb?.pointer(Double.self))
                }
            }
            var grads = [Tensor?](repeating: nil, count: inputs.count)
            grads[0] = dgx
            grads[1] = dwhh
            if slot[2] >= 0 { grads[slot[2]] = dbhh }
            if slot[3] >= 0 { grads[slot[3]] = dh0 }
            if slot[4] >= 0 { grads[slot[4]] = dc0 }
            if slot[5] >= 0 { grads[slot[5]] = dgb }
            return grads
        }.saving(whh)
        let output = lengths64 != nil ? recorded.narrow(axis: 0, start: ySlot, length: T)
                                      : recorded.narrow(axis: 0, start: reverse ? 0 : 1, length: T)
        let h = recorded.narrow(axis: 0, start: reverse ? 0 : T, length: 1).reshaped([B, H])
        let c = lstm ? recorded.narrow(axis: 0, start: T + 1, length: 1).reshaped([B, H]) : nil
        return (output, h, c)
    }
}
