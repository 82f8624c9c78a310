import NablaCore

/// Inverted dropout, which zeroes elements at random in training mode.
///
/// In training mode each element is zeroed with probability `p` and the survivors are
/// scaled by 1/(1 − p); in evaluation mode the input passes unchanged.
///
/// Each call draws one seed from `generator` (the global generator when nil) and the mask
/// is a hash of that seed and each element's position (``NablaCore/Tensor/dropout(_:seed:)``):
/// nothing is stored for the backward pass, and a seeded generator gives reproducible
/// masks. With p = 1 the output is all zeros, as in PyTorch.
public final class Dropout: Module, @unchecked Sendable {
    /// The probability of zeroing an element.
    public let probability: Double
    /// The generator masks are drawn from (nil: ``NablaCore/RandomGenerator/global``).
    public let generator: RandomGenerator?

    /// A dropout layer with drop probability `p` (default 0.5, as PyTorch).
    public init(_ p: Double = 0.5, generator: RandomGenerator? = nil) {
        nablaCheck(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got \(p)")
        probability = p
        self.generator = generator
        super.init()
    }

    /// The layer's configuration for descriptions: the dropout probability.
    public override var configDescription: String { "p: \(probability)" }

    /// Applies the random mask in training mode; the identity in evaluation mode.
    public override func forward(_ input: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return input }
        if probability == 1 { return input * 0.0 }
        return input.dropout(probability, seed: (generator ?? RandomGenerator.global).next())
    }
}
