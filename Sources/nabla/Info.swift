import ArgumentParser
import Foundation
import Nabla

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the version, build mode and compute back end.",
        discussion: """
        Examples:
          nabla info
          NABLA_BLAS=builtin nabla info     # force the built-in GEMM kernel
        """)

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        let facts: [(String, String)] = [
            ("version", NablaVersion.string),
            ("build", mode),
            ("gemm", Backend.gemmDescription),
            ("gemm_path", Backend.gemmPath.rawValue),
            ("simd", Backend.instructionSet),
            ("threads", String(Backend.threadCount)),
            ("fashion_mnist", FileManager.default.fileExists(atPath: Datasets.defaultFashionMNISTDirectory) ? Datasets.defaultFashionMNISTDirectory : "not installed (apt-get install dataset-fashion-mnist)"),
        ]
        if json {
            try printJSON(Dictionary(uniqueKeysWithValues: facts))
        } else {
            for (k, v) in facts { print(k.padding(toLength: 14, withPad: " ", startingAt: 0) + v) }
        }
    }
}
