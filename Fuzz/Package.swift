// swift-tools-version:6.1
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, so refer to the parent by that name
// (the checkout may be called anything).
let parent = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

// libFuzzer harnesses for Nabla's file parsers. Separate from the main package so that its
// build never needs sanitizer flags; Scripts/fuzz.sh builds it with -sanitize=fuzzer,address.
let package = Package(
    name: "NablaFuzz",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "FuzzSafeTensors", dependencies: [
            "CFuzzerDriver", .product(name: "NablaIO", package: parent), .product(name: "NablaCore", package: parent),
            .product(name: "NablaNN", package: parent),
        ]),
        .executableTarget(name: "FuzzIDX", dependencies: ["CFuzzerDriver", .product(name: "NablaData", package: parent)]),
        .executableTarget(name: "FuzzGzip", dependencies: ["CFuzzerDriver", .product(name: "NablaData", package: parent)]),
        .executableTarget(name: "FuzzCSV", dependencies: ["CFuzzerDriver", .product(name: "NablaData", package: parent)]),
        .executableTarget(name: "FuzzModelSpec", dependencies: [
            "CFuzzerDriver", .product(name: "NablaIO", package: parent), .product(name: "NablaNN", package: parent),
        ]),
        .executableTarget(name: "FuzzNPY", dependencies: ["CFuzzerDriver", .product(name: "NablaData", package: parent)]),
    ]
)
