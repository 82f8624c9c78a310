import Foundation

extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    /// A PyTorch-style printout of the values, shape, dtype and origin of the tensor.
    ///
    /// It shows the values (summarised beyond 1,000 elements), then the shape, the dtype when
    /// it is not float32, and how a tensor in a graph was made.
    ///
    /// ```
    /// tensor([[ 1.0000, -2.5000],
    ///         [ 3.0000,  4.0000]], shape: [2, 2], grad_fn=<MulBackward>)
    /// ```
    public var description: String {
        var extras = ["shape: \(shape)"]
        if dtype != .float32 { extras.append("dtype: \(dtype)") }
        if let f = gradFunctionName { extras.append("grad_fn=<\(f)>") } else if requiresGrad { extras.append("requiresGrad: true") }
        return "tensor(" + formatValues(indent: 7) + ", " + extras.joined(separator: ", ") + ")"
    }

    /// The same text as ``description``.
    public var debugDescription: String { description }

    /// The values laid out as nested brackets.
    func formatValues(indent: Int) -> String {
        let summarise = count > 1000
        let values = (0..<count).map { scalar(at: $0) }
        let finite = values.filter { $0.isFinite }
        let allIntegral = finite.allSatisfy { $0 == $0.rounded() } && finite.allSatisfy { Swift.abs($0) < 1e8 }
        let maxAbs = finite.map { Swift.abs($0) }.max() ?? 0
        let minAbs = finite.filter { $0 != 0 }.map { Swift.abs($0) }.min() ?? 1
        let scientific = !allIntegral && (maxAbs >= 1e8 || minAbs < 1e-4 || maxAbs / minAbs > 1e6)
        func fmt(_ v: Double) -> String {
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            if allIntegral { return String(format: "%.0f.", v) }
            return scientific ? String(format: "%.4e", v) : String(format: "%.4f", v)
        }
        let strs = values.map(fmt)
        let width = strs.map { $0.count }.max() ?? 0
        func pad(_ s: String) -> String { String(repeating: " ", count: width - s.count) + s }
        if rank == 0 { return strs.first ?? "" }
        func render(_ dim: Int, _ offset: Int, _ ind: Int) -> String {
            let n = shape[dim]
            let stride = shape[(dim + 1)...].reduce(1, *)
            var idx: [Int?] = Array(0..<n)
            if summarise && n > 6 { idx = [0, 1, 2, nil, n - 3, n - 2, n - 1] }
            if dim == rank - 1 {
                return "[" + idx.map { $0.map { pad(strs[offset + $0]) } ?? "..." }.joined(separator: ", ") + "]"
            }
            let sep = "," + String(repeating: "\n", count: rank - dim - 1) + String(repeating: " ", count: ind + 1)
            return "[" + idx.map { $0.map { render(dim + 1, offset + $0 * stride, ind + 1) } ?? "..." }.joined(separator: sep) + "]"
        }
        if count == 0 { return "[]" }
        return render(0, 0, indent)
    }
}
