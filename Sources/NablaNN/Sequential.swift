import NablaCore

/// Builds the list of layers of a ``Sequential`` from a block.
///
/// For example `Sequential { Linear(5, 10); ReLU(); Linear(10, 3) }`.
@resultBuilder
public enum ModuleBuilder {
    /// Collects the layers of a block.
    public static func buildBlock(_ parts: [Module]...) -> [Module] { parts.flatMap { $0 } }
    /// One layer.
    public static func buildExpression(_ module: Module) -> [Module] { [module] }
    /// Several layers at once.
    public static func buildExpression(_ modules: [Module]) -> [Module] { modules }
    /// An `if` without `else`.
    public static func buildOptional(_ part: [Module]?) -> [Module] { part ?? [] }
    /// The first branch of an `if`/`else`.
    public static func buildEither(first: [Module]) -> [Module] { first }
    /// The second branch of an `if`/`else`.
    public static func buildEither(second: [Module]) -> [Module] { second }
    /// A `for` loop.
    public static func buildArray(_ parts: [[Module]]) -> [Module] { parts.flatMap { $0 } }
}

/// A chain of modules applied in order, as PyTorch's `nn.Sequential`.
///
/// Parameters are named `layers.0.weight`, `layers.0.bias`, … (PyTorch writes
/// `0.weight`: the layer list is a property here).
///
/// ```swift
/// let model = Sequential {
///     Linear(5, 10); ReLU()
///     Linear(10, 3)
/// }
/// ```
public final class Sequential: Module, @unchecked Sendable {
    /// The layers, applied in order.
    public let layers: [Module]

    /// A chain of `layers`.
    ///
    /// Every layer must be unary (Tensor → Tensor); a ``Layer`` with other inputs or outputs
    /// is refused, naming it.
    public init(_ layers: [Module]) {
        for (i, layer) in layers.enumerated() {
            if let signature = layer.nonUnarySignature {
                nablaFail("Sequential: layer \(i) (\(layer.typeName)) is a layer \(signature); Sequential chains Tensor -> Tensor layers")
            }
        }
        self.layers = layers
        super.init()
        _ = namedModules()   // records the children's dotted paths for error messages
    }

    /// A chain built with ``ModuleBuilder``.
    public convenience init(@ModuleBuilder _ build: () -> [Module]) {
        self.init(build())
    }

    /// The number of layers.
    public var count: Int { layers.count }

    /// The layer at `index`.
    public subscript(index: Int) -> Module { layers[index] }

    /// Applies each layer in turn.
    public override func forward(_ input: Tensor) -> Tensor {
        var x = input
        for layer in layers { x = layer(x) }
        return x
    }
}
