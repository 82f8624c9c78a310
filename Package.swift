// swift-tools-version:6.1
import PackageDescription

// Nabla: tensors, reverse-mode autodiff, neural networks, data and a CLI, in Swift.
// No unsafeFlags anywhere: the C kernels pick their instruction set at run time.
let package = Package(
    name: "Nabla",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Nabla", targets: ["Nabla"]),
        .library(name: "NablaCore", targets: ["NablaCore"]),
        .library(name: "NablaNN", targets: ["NablaNN"]),
        .library(name: "NablaData", targets: ["NablaData"]),
        .library(name: "NablaIO", targets: ["NablaIO"]),
        .library(name: "NablaTraining", targets: ["NablaTraining"]),
        .library(name: "NablaViz", targets: ["NablaViz"]),
        .library(name: "NablaZoo", targets: ["NablaZoo"]),
        .executable(name: "nabla", targets: ["nabla"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // Compute kernels in C: GEMM, vectorised element-wise ops, a persistent thread
        // pool, CPU feature detection and run-time BLAS discovery (dlopen).
        .target(name: "CNablaKernels", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux])), .linkedLibrary("pthread", .when(platforms: [.linux])), .linkedLibrary("m", .when(platforms: [.linux]))]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "NablaCore", dependencies: ["CNablaKernels", .product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "NablaNN", dependencies: ["NablaCore", "CNablaKernels"]),
        .target(name: "NablaData", dependencies: ["NablaCore", "CZlib"], resources: [.copy("Resources")]),
        .target(name: "NablaIO", dependencies: ["NablaCore", "NablaNN", .product(name: "Yams", package: "Yams")]),
        .target(name: "NablaTraining", dependencies: ["NablaCore", "NablaNN", "NablaData", "NablaIO"]),
        // Pictures: computation graphs (DOT, SVG, tables), training plots and reports.
        .target(name: "NablaViz", dependencies: ["NablaCore", "NablaNN", "NablaIO", "NablaTraining", "CZlib"]),
        // The architecture chart: one trainable entry per network of the notes (`nabla zoo`).
        .target(name: "NablaZoo", dependencies: ["NablaCore", "NablaNN", "NablaData", "NablaIO", "NablaTraining", "NablaViz"]),
        .target(name: "Nabla", dependencies: ["NablaCore", "NablaNN", "NablaData", "NablaIO", "NablaTraining", "NablaViz", "NablaZoo"]),
        .executableTarget(name: "nabla", dependencies: ["Nabla", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "_NablaTestSupport", dependencies: ["NablaCore"]),
        .executableTarget(name: "NablaBenchmarks", dependencies: ["Nabla"]),
        // Examples: small programs from the lecture notes (`swift run LineFit`, …).
        .executableTarget(name: "LineFit", dependencies: ["Nabla"], path: "Examples/LineFit"),
        .executableTarget(name: "HardClassifiers", dependencies: ["Nabla"], path: "Examples/HardClassifiers"),
        .executableTarget(name: "CurveFitting", dependencies: ["Nabla"], path: "Examples/CurveFitting"),
        .executableTarget(name: "DeepVsWide", dependencies: ["Nabla"], path: "Examples/DeepVsWide"),
        // The README's two Swift samples, verbatim (ExamplesTests checks they equal the README's
        // blocks and runs them), so the README cannot drift from code that compiles.
        .executableTarget(name: "ReadmeTinyGraph", dependencies: ["Nabla"], path: "Examples/ReadmeTinyGraph"),
        .executableTarget(name: "ReadmeGraphPicture", dependencies: ["Nabla"], path: "Examples/ReadmeGraphPicture"),
        .executableTarget(name: "ReadmeMLP", dependencies: ["Nabla"], path: "Examples/ReadmeMLP"),
        .executableTarget(name: "ReadmeLSTM", dependencies: ["Nabla"], path: "Examples/ReadmeLSTM"),
        .executableTarget(name: "ReadmeAttention", dependencies: ["Nabla"], path: "Examples/ReadmeAttention"),
        .executableTarget(name: "ReadmeZoo", dependencies: ["Nabla"], path: "Examples/ReadmeZoo"),
        .testTarget(name: "NablaCoreTests", dependencies: ["NablaCore", "_NablaTestSupport"]),
        .testTarget(name: "NablaNNTests", dependencies: ["NablaNN", "_NablaTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NablaDataTests", dependencies: ["NablaData", "_NablaTestSupport"]),
        .testTarget(name: "NablaIOTests", dependencies: ["NablaIO", "_NablaTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NablaTrainingTests", dependencies: ["NablaTraining", "_NablaTestSupport"]),
        .testTarget(name: "NablaVizTests", dependencies: ["NablaViz", "NablaNN", "CZlib", "_NablaTestSupport"]),
        .testTarget(name: "NablaZooTests", dependencies: ["NablaZoo", "_NablaTestSupport"]),
        .testTarget(name: "NablaCLITests", dependencies: ["_NablaTestSupport"], exclude: ["Fixtures"]),
    ]
)
