import NablaCore
import NablaNN

extension Zoo {
    /// How the image entries (ae, dae, vae, gan) build their encoders and decoders.
    public enum ImageArchitecture: String, Sendable, CaseIterable {
        /// Fully connected layers on the flattened pixels.
        case dense
        /// Strided convolutions down and transposed convolutions up (DCGAN's shape).
        case conv
    }

    /// The entries that take `--arch`.
    static let architectureEntries = ["ae", "dae", "vae", "gan"]

    /// A convolutional encoder from pixel rows `[N, side²]` to `[N, features]`:
    /// `Conv2d(1, 32, 4, stride 2, pad 1) → act → Conv2d(32, 64, 4, stride 2, pad 1) → act →
    /// Flatten → Linear(64·(side/4)², features)`, act a ReLU or a LeakyReLU(0.2).
    ///
    /// `side` must be a multiple of 4 (28 for Fashion-MNIST, 8 for the digits).
    public static func convolutionalEncoder(side: Int, features: Int, leaky: Bool = false,
                                            generator: RandomGenerator = .global) -> Sequential {
        nablaCheck(side > 0 && side % 4 == 0, "convolutionalEncoder: the side \(side) is not a positive multiple of 4")
        let q = side / 4
        func act() -> Module { leaky ? LeakyReLU(0.2) : ReLU() }
        return Sequential {
            Reshape([1, side, side])
            Conv2d(1, 32, kernelSize: [4], stride: [2], padding: .uniform(1), generator: generator); act()
            Conv2d(32, 64, kernelSize: [4], stride: [2], padding: .uniform(1), generator: generator); act()
            Flatten()
            Linear(64 * q * q, features, generator: generator)
        }
    }

    /// A convolutional decoder from `[N, inputs]` to pixel rows `[N, side²]`, the mirror of
    /// ``convolutionalEncoder(side:features:leaky:generator:)``: `Linear(inputs, 64·(side/4)²) →
    /// ReLU → ConvTranspose2d(64, 32, 4, stride 2, pad 1) → ReLU → ConvTranspose2d(32, 1, 4,
    /// stride 2, pad 1)`, then `output` (a sigmoid, a tanh, or nothing for logits).
    public static func convolutionalDecoder(side: Int, inputs: Int, output: Module?,
                                            generator: RandomGenerator = .global) -> Sequential {
        nablaCheck(side > 0 && side % 4 == 0, "convolutionalDecoder: the side \(side) is not a positive multiple of 4")
        let q = side / 4
        var layers: [Module] = [
            Linear(inputs, 64 * q * q, generator: generator), ReLU(), Reshape([64, q, q]),
            ConvTranspose2d(64, 32, kernelSize: [4], stride: [2], padding: [1], generator: generator), ReLU(),
            ConvTranspose2d(32, 1, kernelSize: [4], stride: [2], padding: [1], generator: generator),
        ]
        if let output { layers.append(output) }
        layers.append(Flatten())
        return Sequential(layers)
    }
}
