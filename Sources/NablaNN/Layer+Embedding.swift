import NablaCore

/// A lookup table that maps integer indices to rows of a learned weight.
///
/// An int64 index tensor of any shape `S` becomes the rows `[S..., dimension]` of the
/// weight. (Other integer dtypes, and floats holding exact integers, are accepted.)
///
/// The weight `[count, dimension]` is initialised N(0, 1), as PyTorch's `nn.Embedding`.
/// Gradients scatter-add into the rows, so repeated indices accumulate. (PyTorch's
/// `padding_idx`, `max_norm` and sparse gradients are not supported.)
public final class Embedding: Module, @unchecked Sendable, InputValidating {
    /// The table, shape `[count, dimension]`.
    public let weight: Tensor
    /// Number of rows (valid indices are `0..<count`).
    public let count: Int
    /// Length of each embedding vector.
    public let dimension: Int

    /// A table of `count` vectors of length `dimension`.
    public init(_ count: Int, _ dimension: Int, dtype: DType = .float32, generator: RandomGenerator = .global) {
        nablaCheck(count > 0 && dimension > 0, "Embedding: count and dimension must be positive, got \(count) and \(dimension)")
        self.count = count
        self.dimension = dimension
        weight = Tensor.randomNormal([count, dimension], dtype: dtype, generator: generator).requiringGrad()
        super.init()
    }

    /// The layer's configuration for descriptions: the table size and dimension.
    public override var configDescription: String { "\(count) => \(dimension)" }

    /// Nil, or a message naming the first index that is not an integer in `0..<count`.
    public func validateInput(_ input: Tensor) -> String? {
        if !input.dtype.isFloatingPoint {
            if input.dtype == .bool { return "\(displayName): the input is a bool tensor; embedding indices are int64" }
            for (i, v) in input.int64s.enumerated() where v < 0 || v >= Int64(count) {
                return "\(displayName): index \(v) at \(location(i, input.shape)) is not in 0..<\(count)"
            }
            return nil
        }
        for i in 0..<input.count {
            let v = input.scalar(at: i)
            if v != v.rounded() || v < 0 || v >= Double(count) {
                return "\(displayName): index \(v) at \(location(i, input.shape)) is not an integer in 0..<\(count)"
            }
            if input.dtype == .float32 && v >= 16_777_216 {
                return "\(displayName): index \(Int(v)) at position \(i) is too large to be exact in a float32 index tensor (exact only below 16777216); use an int64 index tensor"
            }
        }
        return nil
    }

    /// Where flat position `i` of an index tensor of `shape` is: the example and the
    /// position in it for a batch of sequences, the flat position otherwise.
    private func location(_ i: Int, _ shape: [Int]) -> String {
        guard shape.count >= 2, shape[0] > 0 else { return "position \(i) of the input (shape \(shape))" }
        let per = shape.dropFirst().reduce(1, *)
        return "example \(i / per), position \(i % per) of the input (shape \(shape))"
    }

    /// The rows selected by the indices, shape `input.shape + [dimension]`.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return weight.indexSelect(axis: 0, input.detached())
    }
}
