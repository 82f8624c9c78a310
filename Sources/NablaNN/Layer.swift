import NablaCore

/// A module with a typed input and output: what a layer takes and what it returns.
///
/// ``Module`` is the base class of every layer (parameters, modes, state dicts); `Layer`
/// says what calling it means. Most layers map one tensor to one tensor
/// (``UnaryLayer``): they override ``Module/forward(_:)``, and ``Sequential`` chains them.
/// A layer with several inputs or outputs names them as tuples and implements
/// `callAsFunction(_:)` with those types:
///
/// ```swift
/// /// A VAE encoder: x ↦ (μ, log σ²).
/// final class GaussianEncoder: Module, Layer {
///     typealias Input = Tensor
///     typealias Output = (mean: Tensor, logVariance: Tensor)
///     let hidden = Linear(4, 16), mean = Linear(16, 2), logVariance = Linear(16, 2)
///     func callAsFunction(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) {
///         let h = hidden(x).relu()
///         return (mean(h), logVariance(h))
///     }
/// }
/// let (mu, logVar) = encoder(x)
/// ```
///
/// The two type aliases are needed: the unary call every module inherits would otherwise
/// make the inference of `Output` ambiguous.
///
/// A recurrent cell is a `Layer` from `(x, (h, c))` to `(h, c)`; attention one from
/// `(query, key, value, mask)` to a tensor. Parameters are found wherever the module stores
/// them (properties, arrays, dictionaries, tuples), whatever the layer's types. Generic code
/// takes `some Layer<In, Out>`. The unary call a `Module` inherits is a disfavoured overload,
/// so the layer's own call is the one chosen; a layer that is not unary refuses to be put in
/// a ``Sequential``.
public protocol Layer<Input, Output>: Module {
    /// What the layer takes: a tensor, or a tuple of them.
    associatedtype Input
    /// What the layer returns: a tensor, or a tuple of them.
    associatedtype Output
    /// Applies the layer.
    func callAsFunction(_ input: Input) -> Output
}

/// A layer from one tensor to one tensor: what ``Sequential`` chains.
///
/// Every built-in layer of ``Sequential``'s kind is one; a module subclass that overrides
/// ``Module/forward(_:)`` can declare the conformance with no code.
public protocol UnaryLayer: Layer where Input == Tensor, Output == Tensor {}

extension Layer {
    /// Whether the layer maps one tensor to one tensor.
    public static var isUnary: Bool { Input.self == Tensor.self && Output.self == Tensor.self }
    /// The layer's signature, for messages: `Tensor -> (mean: Tensor, logVariance: Tensor)`.
    public static var signature: String { "\(Input.self) -> \(Output.self)" }
}

extension Module {
    /// Nil for a unary module; for a ``Layer`` with other types, its signature.
    var nonUnarySignature: String? {
        guard let layer = self as? any Layer else { return nil }
        func open<L: Layer>(_ l: L) -> String? { L.isUnary ? nil : L.signature }
        return open(layer)
    }
}

// The built-in layers that map one tensor to one tensor.
extension Sequential: UnaryLayer {}
extension LinearRegression: UnaryLayer {}
extension LogisticRegression: UnaryLayer {}
extension Identity: UnaryLayer {}
extension BinaryStep: UnaryLayer {}
extension Heaviside: UnaryLayer {}
extension Sign: UnaryLayer {}
extension Sigmoid: UnaryLayer {}
extension Tanh: UnaryLayer {}
extension HardTanh: UnaryLayer {}
extension HardSigmoid: UnaryLayer {}
extension PiecewiseLinear: UnaryLayer {}
extension ReLU: UnaryLayer {}
extension ReLU6: UnaryLayer {}
extension LeakyReLU: UnaryLayer {}
extension ELU: UnaryLayer {}
extension SELU: UnaryLayer {}
extension GELU: UnaryLayer {}
extension Softplus: UnaryLayer {}
extension SiLU: UnaryLayer {}
extension Mish: UnaryLayer {}
extension Softmax: UnaryLayer {}
extension LogSoftmax: UnaryLayer {}
extension Dropout: UnaryLayer {}
extension Embedding: UnaryLayer {}
extension Linear: UnaryLayer {}
extension Maxout: UnaryLayer {}
extension Flatten: UnaryLayer {}
extension Reshape: UnaryLayer {}
extension Conv1d: UnaryLayer {}
extension Conv2d: UnaryLayer {}
extension ConvTranspose2d: UnaryLayer {}
extension MaxPool1d: UnaryLayer {}
extension MaxPool2d: UnaryLayer {}
extension AvgPool1d: UnaryLayer {}
extension AvgPool2d: UnaryLayer {}
extension AdaptiveAvgPool2d: UnaryLayer {}
extension Upsample: UnaryLayer {}
extension Dropout2d: UnaryLayer {}
extension Residual: UnaryLayer {}
extension BatchNorm1d: UnaryLayer {}
extension BatchNorm2d: UnaryLayer {}
extension LayerNorm: UnaryLayer {}
extension GroupNorm: UnaryLayer {}
extension LSTM: UnaryLayer {}
extension GRU: UnaryLayer {}
extension RNN: UnaryLayer {}
