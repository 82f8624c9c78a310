import RealModule

/// The element type of a ``Tensor``: 32-bit or 64-bit IEEE floating point.
///
/// Nabla keeps the dtype at run time (as PyTorch does) rather than in a generic
/// parameter, so layers, optimizers and files need not be generic and a model loaded
/// from disk can carry either precision. float32 is the training type; float64 is for
/// gradient checks and the closed-form solvers.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case float64

    /// Bytes per element.
    public var byteSize: Int { self == .float32 ? 4 : 8 }

    /// The dtype's name, `float32` or `float64`.
    public var description: String { rawValue }

    /// The dtype that results from combining two dtypes (float64 wins, as in PyTorch).
    public static func promote(_ a: DType, _ b: DType) -> DType {
        a == .float64 || b == .float64 ? .float64 : .float32
    }
}

/// A Swift floating-point type that can be a tensor element (`Float` or `Double`).
public protocol TensorScalar: BinaryFloatingPoint, Real, Sendable where Self.RawSignificand: FixedWidthInteger {
    /// The matching runtime dtype.
    static var dtype: DType { get }
}

extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
