import NablaCore

/// The registry entries of the architecture chart's extra cells: radial basis units and
/// Gaussian input noise.
extension LayerRegistry {
    static let chartTypes: [LayerType] = [
        LayerType("rbf", typeName: "RBF", options: [.required("units", .positiveInteger)],
                  outputShape: { shape, l in
                      guard shape.count == 1 else {
                          throw ModelSpecError(message: "expects flat features per example, got shape \(shape); a flatten before it makes them")
                      }
                      return [l.int("units")!]
                  },
                  parameterCount: { shape, l in CheckedSize.product(l.int("units")!, shape.last! + 1) },
                  build: { shape, l, g in RBF(shape.last!, l.int("units")!, generator: g) }),
        LayerType("gaussian_noise", typeName: "GaussianNoise", options: [.required("std", .number)],
                  outputShape: { shape, l in
                      guard l.double("std")! >= 0 else { throw ModelSpecError(message: "std must be ≥ 0, got \(l.double("std")!)") }
                      return shape
                  },
                  build: { _, l, g in GaussianNoise(std: l.double("std")!, generator: g) }),
    ]
}
