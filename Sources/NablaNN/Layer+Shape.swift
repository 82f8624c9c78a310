import NablaCore

/// Collapses axes `startAxis...endAxis` into one (defaults 1 and −1, as PyTorch's `nn.Flatten`).
///
/// With the defaults, `[N, C, H, W]` becomes `[N, C·H·W]`.
public final class Flatten: Module, @unchecked Sendable, InputValidating {
    /// The first axis collapsed.
    public let startAxis: Int
    /// The last axis collapsed.
    public let endAxis: Int

    /// A flatten layer over `startAxis...endAxis`.
    public init(startAxis: Int = 1, endAxis: Int = -1) {
        self.startAxis = startAxis
        self.endAxis = endAxis
        super.init()
    }

    /// The layer's configuration for descriptions: the first and last axis collapsed.
    public override var configDescription: String { "startAxis: \(startAxis), endAxis: \(endAxis)" }

    /// Nil, or a message when the input has too few axes for `startAxis...endAxis`.
    public func validateInput(_ input: Tensor) -> String? {
        let r = input.rank
        let s = startAxis < 0 ? startAxis + r : startAxis
        let e = endAxis < 0 ? endAxis + r : endAxis
        if s >= 0 && s < r && e >= 0 && e < r && s <= e { return nil }
        return "\(displayName): cannot flatten axes \(startAxis)...\(endAxis) of an input of shape \(input.shape)"
    }

    /// The input with the axes collapsed.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.flattened(startAxis: startAxis, endAxis: endAxis)
    }
}

/// Reshapes each sample, keeping the batch axis: an input `[N, ...]` becomes `[N] + shape`.
///
/// This is Keras's `Reshape`; PyTorch's nearest is `nn.Unflatten`. One entry of `shape`
/// may be −1 (inferred).
public final class Reshape: Module, @unchecked Sendable, InputValidating {
    /// The per-sample target shape.
    public let shape: [Int]

    /// A layer reshaping each sample to `shape`.
    public init(_ shape: [Int]) {
        nablaCheck(shape.filter { $0 == -1 }.count <= 1 && shape.allSatisfy { $0 >= -1 },
                   "Reshape: invalid target shape \(shape)")
        self.shape = shape
        super.init()
    }

    /// The layer's configuration for descriptions: the per-sample target shape.
    public override var configDescription: String { "\(shape)" }

    /// Nil, or a message when a sample's element count does not fit `shape`.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank >= 1 else {
            return "\(displayName): expected a batch [N, ...] to reshape to [N] + \(shape), got a scalar"
        }
        let per = input.shape.dropFirst().reduce(1, *)
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        let fits = shape.contains(-1) ? (known > 0 && per % known == 0) : per == known
        if fits { return nil }
        return "\(displayName): cannot reshape samples of shape \(Array(input.shape.dropFirst())) (\(per) elements) to \(shape); input shape \(input.shape)"
    }

    /// The input reshaped to `[N] + shape`.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return input.reshaped([input.shape[0]] + shape)
    }
}
