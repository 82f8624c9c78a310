import NablaCore

extension Module {
    /// A table of the model's layers, their output shapes and their parameter counts.
    ///
    /// The output shapes are for an input of `inputShape`; the table ends with the total, like
    /// Keras's `summary()` or torchinfo.
    ///
    /// A forward pass is run on zeros under ``NablaCore/withoutGrad(_:)``. For a
    /// ``Sequential`` every layer gets its output shape; for other models the leaf
    /// modules are listed with their parameter counts and only the model's output shape
    /// is known. Training mode is left unchanged (dropout may be active, which does not
    /// affect shapes).
    ///
    /// ```
    /// Layer                 Output shape    Param #
    /// ==============================================
    /// layers.0 (Linear)     [1, 10]              60
    /// ...
    /// Total parameters: 343 (trainable: 343, frozen: 0)
    /// ```
    public func summary(inputShape: [Int], dtype: DType = .float32) -> String {
        var rows: [(String, String, String)] = []
        let modules = namedModules()
        var output: [Int] = []
        withoutGrad {
            var x = Tensor.zeros(inputShape, dtype: dtype)
            if let seq = self as? Sequential {
                for (i, layer) in seq.layers.enumerated() {
                    x = layer(x)
                    let name = layer.path.isEmpty ? "layers.\(i)" : layer.path
                    rows.append(("\(name) (\(layer.typeName))", "\(x.shape)", "\(layer.parameterCount)"))
                }
                output = x.shape
            } else {
                output = forward(x).shape
                for (name, m) in modules where m.namedChildren().isEmpty && !name.isEmpty {
                    rows.append(("\(name) (\(m.typeName))", "—", "\(m.parameterCount)"))
                }
                rows.append(("(output)", "\(output)", ""))
            }
        }
        let params = namedParameters()
        let total = params.reduce(0) { $0 + $1.tensor.count }
        let frozen = params.filter { $0.tensor.isFrozen }.reduce(0) { $0 + $1.tensor.count }
        return summaryTable(title: "\(typeName) summary for input shape \(inputShape)", rows: rows, total: total, frozen: frozen)
    }
}

/// Renders a layer table: a title, one row per layer (name, output shape, parameter count)
/// and the totals. Shared by ``Module/summary(inputShape:dtype:)`` and the summary that
/// NablaIO computes from an architecture alone, so the two print the same table.
public func summaryTable(title: String, rows: [(String, String, String)], total: Int, frozen: Int) -> String {
    let header = ("Layer", "Output shape", "Param #")
    let w0 = max(header.0.count, rows.map { $0.0.count }.max() ?? 0) + 2
    let w1 = max(header.1.count, rows.map { $0.1.count }.max() ?? 0) + 2
    let w2 = max(header.2.count, rows.map { $0.2.count }.max() ?? 0)
    func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
    func lpad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    let rule = String(repeating: "=", count: w0 + w1 + w2) + "\n"
    var out = title + "\n" + pad(header.0, w0) + pad(header.1, w1) + lpad(header.2, w2) + "\n" + rule
    for r in rows { out += pad(r.0, w0) + pad(r.1, w1) + lpad(r.2, w2) + "\n" }
    return out + rule + "Total parameters: \(total) (trainable: \(total - frozen), frozen: \(frozen))\n"
}
