import XCTest
import Foundation
import NablaCore
import _NablaTestSupport

/// Programmer errors trap with a message that names the op and the shapes.
///
/// A trap ends the process, so each case runs in a child process: the test binary
/// itself, filtered to ``testTrapChild`` and told which case to trigger through the
/// `NABLA_TRAP_CASE` environment variable. The parent reads the child's stderr.
final class ErrorMessageTests: XCTestCase {

    static let f23 = Tensor.ones([2, 3]), f45 = Tensor.ones([4, 5])

    /// Each case: the code that must trap, and the fragments its message must contain.
    nonisolated(unsafe) static let cases: [String: (trigger: () -> Void, expected: [String])] = [
        "matmulShapes": ({ _ = f23.matmul(f45) }, ["matmul", "[2, 3]", "[4, 5]", "inner dimensions 3 and 4"]),
        "batchedMatmulShapes": ({ _ = Tensor.ones([2, 3, 4]).matmul(Tensor.ones([3, 4, 5])) },
                                ["matmul", "[2]", "[3]"]),
        "addBroadcast": ({ _ = f23 + Tensor.ones([4]) }, ["add", "[2, 3]", "[4]", "broadcast"]),
        "mulBroadcast": ({ _ = Tensor.ones([2, 3, 4]) * Tensor.ones([3, 2, 4]) }, ["mul", "[2, 3, 4]", "[3, 2, 4]"]),
        "whereBroadcast": ({ _ = Tensor.where(Tensor.ones([3]), f23, Tensor.ones([2])) }, ["where", "[2, 3]", "[2]"]),
        "dtypeMismatch": ({ _ = f23 + Tensor.ones([2, 3], dtype: .float64) }, ["add", "float32", "float64", "[2, 3]"]),
        "matmulDType": ({ _ = f23.matmul(Tensor.ones([3, 2], dtype: .float64)) }, ["matmul", "float32", "float64"]),
        "concatDType": ({ _ = Tensor.concatenate([f23, Tensor.ones([2, 3], dtype: .float64)]) }, ["concatenate", "float64"]),
        "sumAxis": ({ _ = f23.sum(axis: 2) }, ["sum", "axis 2", "rank 2"]),
        "meanAxis": ({ _ = f23.mean(axis: -3) }, ["mean", "axis -3", "rank 2"]),
        "softAxis": ({ _ = f23.logSumExp(axis: 5) }, ["logSumExp", "axis 5"]),
        "permuteAxes": ({ _ = f23.permuted(0, 0) }, ["permute", "[0, 0]", "[2, 3]"]),
        "sliceIndex": ({ let _: Tensor = f23[5] }, ["slice", "index 5", "size 2", "[2, 3]"]),
        "subscriptIndex": ({ _ = f23[1, 3] as Double }, ["subscript", "index 3", "[2, 3]"]),
        "indexSelectIndex": ({ _ = f23.indexSelect(axis: 1, [0, 7]) }, ["indexSelect", "index 7", "[2, 3]"]),
        "gatherIndex": ({ _ = f23.gather(axis: 0, Tensor([0, 2, 0] as [Float], shape: [1, 3])) }, ["gather", "index 2", "[2, 3]"]),
        "gatherNonInteger": ({ _ = f23.gather(axis: 0, Tensor([0.5, 0, 0] as [Float], shape: [1, 3])) }, ["gather", "0.5", "not an integer"]),
        "reshape": ({ _ = f23.reshaped(4, 2) }, ["reshape", "[2, 3]", "[4, 2]"]),
        "broadcastTo": ({ _ = f23.broadcast(to: [3, 3]) }, ["[2, 3]", "[3, 3]", "broadcast"]),
        "concatShapes": ({ _ = Tensor.concatenate([f23, Tensor.ones([2, 4])], axis: 0) }, ["concatenate", "[2, 4]", "[2, 3]"]),
        "stackShapes": ({ _ = Tensor.stack([f23, f45]) }, ["stack", "[4, 5]", "[2, 3]"]),
        "splitSizes": ({ _ = f23.split(sizes: [1, 1], axis: 1) }, ["split", "[1, 1]", "[2, 3]"]),
        "item": ({ _ = f23.item() }, ["item", "[2, 3]"]),
        // Sizes that overflow 64 bits must trap, not wrap to a small count and read out of bounds.
        "reshapeOverflow": ({ _ = f23.reshaped([3, 6148914691236517206]) }, ["[3, 6148914691236517206]", "64 bits"]),
        "zerosOverflow": ({ _ = Tensor.zeros([1 << 40, 1 << 40]) }, ["[1099511627776, 1099511627776]", "64 bits"]),
        "negativeSize": ({ _ = Tensor.zeros([2, -3]) }, ["[2, -3]", "negative"]),
        // A float32 index at or above 2²⁴ may be a neighbour rounded: it traps instead of selecting.
        "float32IndexBeyondExact": ({ _ = Tensor.zeros([3, 2]).indexSelect(axis: 0, Tensor([16_777_217] as [Float])) },
                                    ["indexSelect", "16777216", "float32", "int64 index tensor"]),
        "valuesShape": ({ _ = Tensor([1, 2, 3] as [Float], shape: [2, 2]) }, ["3 values", "[2, 2]"]),
        "backwardNoGrad": ({ f23.sum().backward() }, ["backward", "does not require gradients"]),
        "backwardNonScalar": ({ (f23.requiringGrad() * 2).backward() }, ["backward", "[2, 3]", "explicit upstream gradient"]),
        "backwardUpstreamShape": ({ (f23.requiringGrad() * 2).backward(Tensor.ones([3, 2])) }, ["backward", "[3, 2]", "[2, 3]"]),
        "backwardTwice": ({ let y = (f23.requiringGrad() * 2).sum(); y.backward(); y.backward() }, ["backward", "already released"]),
        "outerShapes": ({ _ = f23.outer(Tensor.ones([3])) }, ["outer", "[2, 3]", "[3]"]),
        "dotShapes": ({ _ = Tensor.ones([3]).dot(Tensor.ones([4])) }, ["dot", "[3]", "[4]"]),
        "choleskyShape": ({ _ = try? LinearAlgebra.cholesky(f23) }, ["cholesky", "[2, 3]"]),
        "assignShape": ({ f23.requiringGrad().assignInPlace(Tensor.ones([3, 2])) }, ["assignInPlace", "[3, 2]", "[2, 3]"]),
        "clampBounds": ({ _ = f23.clamped(min: 1, max: 0) }, ["clamp", "greater than"]),
        "backwardReleasedSubgraph": ({
            let x = f23.requiringGrad(); let h = x.tanh()
            h.sum().backward(); (h * 2).sum().backward()
        }, ["backward", "Tanh", "already released"]),
        "whereDType": ({ _ = Tensor.where(f23, f23, Tensor.ones([2, 3], dtype: .float64)) }, ["where", "float32", "float64"]),
        "scalarAtRange": ({ _ = f23.scalar(at: 6) }, ["scalar(at:)", "6", "[2, 3]"]),
        "scalarAxis": ({ _ = Tensor(3.0).sum(axis: 0) }, ["sum", "axis 0", "rank 0"]),
        // A tensor saved for backward and then written in place: the gradient would be
        // computed from the new values, so backward traps naming the op and both versions.
        // x's gradient g·wᵀ reads w: changing w before backward traps. (w's own gradient
        // xᵀ·g does not read w, so with x constant there would be nothing to refuse.)
        "inPlaceAfterForward": ({
            let w = Tensor.ones([2, 2]).requiringGrad()
            let x = Tensor.ones([2, 2]).requiringGrad()
            let y = x.matmul(w).sum()
            w.assignInPlace(Tensor.zeros([2, 2]))
            y.backward()
        }, ["backward", "MatMul", "4 elements", "modified by an in-place operation", "version 1", "saved version 0"]),
        "whereMaskChanged": ({
            let x = Tensor([1, 2] as [Float]).requiringGrad()
            let m = Tensor([true, false])
            let y = Tensor.where(m, x, Tensor.zeros([2])).sum()
            m.assignInPlace(Tensor([false, true]))
            y.backward()
        }, ["backward", "Where", "version"]),
        "gradShape": ({ let w = Tensor.zeros([64]).requiringGrad(); w.grad = Tensor.zeros([1]) }, ["grad", "[1]", "[64]"]),
        "boolNegation": ({ _ = -Tensor([true, false]) }, ["bool", "negated", ".!"]),
        "intMatmul": ({ _ = Tensor([1, 2]).matmul(Tensor([3, 4])) }, ["matmul", "floating-point", "int64"]),
        "intRequiresGrad": ({ _ = Tensor([1, 2, 3]).requiringGrad() }, ["requiresGrad", "floating-point", "int64"]),
        "intExp": ({ _ = Tensor([1, 2, 3]).exp() }, ["exp", "floating-point", "int64", ".to(.float32)"]),
        "boolIndex": ({ _ = f23.indexSelect(axis: 0, Tensor([true, false])) }, ["indexSelect", "bool", "index tensor"]),
        "intIndexRange": ({ _ = f23.gather(axis: 1, Tensor([0, 3, 1], shape: [1, 3])) }, ["gather", "index 3", "size 3"]),
        "floatMix": ({ _ = Tensor.where(Tensor([true]), f23, Tensor.ones([1], dtype: .float64)) }, ["where", "float32", "float64"]),
        "assignToView": ({ Tensor.ones([2, 3]).T.assignInPlace(Tensor.zeros([3, 2])) }, ["assignInPlace", "view"]),
        "narrowRange": ({ _ = f23.narrow(axis: 1, start: 2, length: 2) }, ["narrow", "start 2", "length 2", "size 3"]),
        "inPlaceSavedOutput": ({
            let x = Tensor.ones([3]).requiringGrad()
            let e = x.exp()
            let y = e.sum()
            e.withUnsafeMutableFloats { $0[0] = 0 }
            y.backward()
        }, ["backward", "Exp", "3 elements", "version 1"]),
    ]

    /// Run only in a child process: triggers the case named by `NABLA_TRAP_CASE`.
    func testTrapChild() throws {
        guard let name = ProcessInfo.processInfo.environment["NABLA_TRAP_CASE"] else {
            throw XCTSkip("only runs as a child of the error-message tests")
        }
        guard let c = Self.cases[name] else { return XCTFail("unknown trap case \(name)") }
        c.trigger()
        print("NABLA_TRAP_CASE \(name) did not trap")
    }

    /// Runs case `name` in a child process; returns (trapped, stderr).
    func runChild(_ name: String) throws -> (Bool, String) {
        try TrapHarness.run(childTest: "NablaCoreTests.ErrorMessageTests/testTrapChild", caseName: name)
    }

    func testTrapMessagesNameTheOpAndShapes() throws {
        #if !os(Linux)
        throw XCTSkip("child-process trap tests run on Linux only")
        #else
        if ProcessInfo.processInfo.environment["NABLA_TRAP_CASE"] != nil { throw XCTSkip("inside a child") }
        for name in Self.cases.keys.sorted() {
            let (trapped, stderr) = try runChild(name)
            XCTAssertTrue(trapped, "\(name): child did not trap; stderr: \(stderr)")
            XCTAssertTrue(stderr.contains("Nabla: "), "\(name): no Nabla message in stderr: \(stderr)")
            for fragment in Self.cases[name]!.expected {
                XCTAssertTrue(stderr.contains(fragment), "\(name): message lacks \"\(fragment)\": \(stderr)")
            }
        }
        #endif
    }
}
