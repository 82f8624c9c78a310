import RealModule

/// The element type of a ``Tensor``: floating point, integer or boolean.
///
/// Nabla keeps the dtype at run time (as PyTorch does) rather than in a generic
/// parameter, so layers, optimizers and files need not be generic and a model loaded
/// from disk can carry either precision. float32 is the training type; float64 is for
/// gradient checks and the closed-form solvers. The integer and boolean dtypes hold class
/// labels, indices, masks and counters: they take part in arithmetic, comparison, `sum`
/// and conversion, but never in gradients.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE floating point (`Float`).
    case float32
    /// 64-bit IEEE floating point (`Double`).
    case float64
    /// 32-bit signed integer (`Int32`).
    case int32
    /// 64-bit signed integer (`Int64`, also Swift's `Int`): labels, indices, counters.
    case int64
    /// 8-bit unsigned integer (`UInt8`), as raw image bytes.
    case uint8
    /// Boolean, one byte per element: the result of comparisons.
    case bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8, .bool: return 1
        }
    }

    /// Whether this is float32 or float64, the dtypes that can carry gradients.
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// The dtype's name, as PyTorch spells it (`float32`, `int64`, `bool`, …).
    public var description: String { rawValue }

    /// The dtype that results from combining two dtypes, as PyTorch's type promotion:
    /// bool < uint8 < int32 < int64 < float32 < float64. (Binary ops still refuse to mix
    /// float32 with float64 implicitly; see ``Tensor/+(_:_:)``.)
    public static func promote(_ a: DType, _ b: DType) -> DType {
        a.rank >= b.rank ? a : b
    }

    /// Position in the promotion order.
    var rank: Int {
        switch self {
        case .bool: return 0
        case .uint8: return 1
        case .int32: return 2
        case .int64: return 3
        case .float32: return 4
        case .float64: return 5
        }
    }
}

/// A Swift type that can be a tensor element: `Float`, `Double`, `Int32`, `Int64`, `Int`
/// (stored as int64), `UInt8` or `Bool`.
public protocol TensorElement: Sendable {
    /// The matching runtime dtype.
    static var dtype: DType { get }
}

/// A Swift floating-point type that can be a tensor element (`Float` or `Double`).
public protocol TensorScalar: TensorElement, BinaryFloatingPoint, Real where Self.RawSignificand: FixedWidthInteger {}

/// A Swift integer type stored in a tensor of its own width (`Int32`, `Int64`, `UInt8`).
public protocol TensorInteger: TensorElement, FixedWidthInteger {}

extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
extension Int32: TensorInteger { public static var dtype: DType { .int32 } }
extension Int64: TensorInteger { public static var dtype: DType { .int64 } }
extension UInt8: TensorInteger { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
extension Int: TensorElement { public static var dtype: DType { .int64 } }
