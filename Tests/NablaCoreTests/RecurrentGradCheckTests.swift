import XCTest
import NablaCore
import _NablaTestSupport

/// Gradient checks (central differences in float64, and float32 against float64) of the
/// recurrent scan: every cell, both directions, an initial state, padded rows, and a batch
/// large enough to be split over the threads.
extension GradCheckTests {
    /// The scan's outputs, final state and (LSTM) final cell state in one vector.
    private func scan(_ cell: RecurrentCell, _ x: [Tensor], bias: Bool = false, state: Bool = false,
                      lengths: [Int]? = nil, reverse: Bool = false, gateBias: Bool = false) -> Tensor {
        var i = 2
        let gb = gateBias ? x.last! : nil
        let b = bias ? x[i] : nil
        if bias { i += 1 }
        let h0 = state ? x[i] : nil
        let c0 = state && cell == .lstm ? x[i + 1] : nil
        let r = Tensor.recurrentScan(cell, gates: x[0], gateBias: gb, hiddenWeight: x[1], hiddenBias: b, h0: h0, c0: c0,
                                     lengths: lengths, reverse: reverse)
        var parts = [r.output.reshaped([r.output.count]), r.h.reshaped([r.h.count])]
        if let c = r.c { parts.append(c.reshaped([c.count])) }
        return Tensor.concatenate(parts)
    }

    func testLSTMScanGradients() {
        // gates [T, B, 4H], W_hh [4H, H], h0, c0 [B, H]
        check([[4, 2, 12], [12, 3], [2, 3], [2, 3]]) { self.scan(.lstm, $0, state: true) }
        check([[4, 2, 12], [12, 3], [2, 3], [2, 3]]) { self.scan(.lstm, $0, state: true, reverse: true) }
        check([[5, 3, 8], [8, 2]]) { self.scan(.lstm, $0, lengths: [3, 5, 1]) }
        check([[5, 3, 8], [8, 2], [3, 2], [3, 2]]) { self.scan(.lstm, $0, state: true, lengths: [2, 5, 4], reverse: true) }
        // 17 rows: two threads, the second with one row fewer; H = 9 runs the vector tail.
        check([[3, 17, 36], [36, 9]]) { self.scan(.lstm, $0) }
        // A gate bias (its gradient summed inside the scan), padded rows, both directions.
        check([[4, 3, 8], [8, 2], [8]]) { self.scan(.lstm, $0, lengths: [4, 2, 3], gateBias: true) }
        check([[3, 17, 36], [36, 9], [36]]) { self.scan(.lstm, $0, reverse: true, gateBias: true) }
    }

    func testGRUScanGradients() {
        check([[4, 2, 9], [9, 3], [9], [2, 3]]) { self.scan(.gru, $0, bias: true, state: true) }
        check([[4, 2, 9], [9, 3]]) { self.scan(.gru, $0, reverse: true) }
        check([[5, 3, 6], [6, 2], [6]]) { self.scan(.gru, $0, bias: true, lengths: [4, 1, 5], reverse: true) }
        check([[3, 17, 27], [27, 9], [27], [17, 9]]) { self.scan(.gru, $0, bias: true, state: true, lengths: Array(repeating: 2, count: 8) + Array(repeating: 3, count: 9)) }
        check([[4, 3, 6], [6, 2], [6], [6]]) { self.scan(.gru, $0, bias: true, lengths: [4, 1, 3], gateBias: true) }
    }

    func testElmanScanGradients() {
        check([[4, 2, 3], [3, 3], [2, 3]]) { self.scan(.rnnTanh, $0, state: true) }
        check([[4, 3, 3], [3, 3]]) { self.scan(.rnnTanh, $0, lengths: [1, 4, 2], reverse: true) }
        check([[4, 2, 3], [3, 3], [2, 3]], positive: true) { self.scan(.rnnReLU, $0, state: true) }
        check([[3, 17, 9], [9, 9]]) { self.scan(.rnnTanh, $0) }
        check([[4, 3, 3], [3, 3], [3]]) { self.scan(.rnnTanh, $0, lengths: [4, 2, 3], reverse: true, gateBias: true) }
        check([[4, 2, 3], [3, 3], [3]], positive: true) { self.scan(.rnnReLU, $0, gateBias: true) }
    }
}
