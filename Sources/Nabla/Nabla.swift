// The umbrella module: `import Nabla` brings in the whole public API.
@_exported import NablaCore
@_exported import NablaNN
@_exported import NablaData
@_exported import NablaIO
@_exported import NablaTraining
@_exported import NablaViz
@_exported import NablaZoo
