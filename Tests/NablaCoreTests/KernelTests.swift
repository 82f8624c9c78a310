// KernelTests.swift — direct tests of the C kernels (CNablaKernels) at every instruction
// set level the machine supports, and for every available GEMM backend.
import CNablaKernels
import Foundation
import XCTest

final class KernelTests: XCTestCase {
    // MARK: helpers

    /// Runs `body` once per ISA level available on this CPU (scalar, avx2, avx512 / neon).
    private func forEachISA(_ body: (String) throws -> Void) rethrows {
        defer { _ = nabla_force_isa(-1) }
        var levels: [Int32] = [Int32(NABLA_ISA_SCALAR.rawValue)]
        let detected = Int32(nabla_cpu_isa().rawValue)
        if detected == Int32(NABLA_ISA_AVX512.rawValue) { levels.append(Int32(NABLA_ISA_AVX2.rawValue)) }
        if detected != Int32(NABLA_ISA_SCALAR.rawValue) { levels.append(detected) }
        for level in levels {
            let got = nabla_force_isa(level)
            XCTAssertEqual(Int32(got.rawValue), level)
            try body(String(cString: nabla_cpu_isa_name()))
        }
    }

    /// Runs `body` once per available GEMM backend.
    private func forEachBackend(_ body: (String) throws -> Void) rethrows {
        let original = nabla_blas_active()
        defer { _ = nabla_blas_select(original) }
        for backend in [NABLA_BLAS_BUILTIN, NABLA_BLAS_OPENBLAS, NABLA_BLAS_ACCELERATE] {
            if nabla_blas_select(backend) == 0 {
                try body(String(cString: nabla_blas_description()))
            }
        }
    }

    private struct LCG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    private func randomArray(_ n: Int, seed: UInt64) -> [Float] {
        var g = LCG(state: seed)
        return (0..<n).map { _ in g.next() }
    }

    /// Checks C = alpha op(A) op(B) + beta C0 for one shape with float32 GEMM `gemm`.
    private func checkSgemm(
        _ M: Int, _ N: Int, _ K: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
        pad: Int = 0, builtinOnly: Bool = false, label: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let lda = (transA ? M : K) + pad, ldb = (transB ? K : N) + pad, ldc = N + pad
        let A = randomArray((transA ? K : M) * lda, seed: UInt64(M * 31 + K))
        let B = randomArray((transB ? N : K) * ldb, seed: UInt64(N * 17 + K + 5))
        var C0 = randomArray(M * ldc, seed: 99)
        if beta == 0 { C0 = [Float](repeating: .nan, count: M * ldc) }
        var C = C0
        A.withUnsafeBufferPointer { a in
            B.withUnsafeBufferPointer { b in
                C.withUnsafeMutableBufferPointer { c in
                    if builtinOnly {
                        nabla_sgemm_builtin(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.baseAddress, lda,
                                            b.baseAddress, ldb, beta, c.baseAddress, ldc)
                    } else {
                        nabla_sgemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.baseAddress, lda,
                                    b.baseAddress, ldb, beta, c.baseAddress, ldc)
                    }
                }
            }
        }
        var maxErr = 0.0
        var bad = 0
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0, mag = 0.0
                for k in 0..<K {
                    let a = Double(transA ? A[k * lda + i] : A[i * lda + k])
                    let b = Double(transB ? B[j * ldb + k] : B[k * ldb + j])
                    s += a * b
                    mag += abs(a * b)
                }
                var ref = Double(alpha) * s
                if beta != 0 { ref += Double(beta) * Double(C0[i * ldc + j]) }
                let got = Double(C[i * ldc + j])
                let cTerm = beta == 0 ? 0 : abs(Double(beta) * Double(C0[i * ldc + j]))
                let tol = 2e-6 * (mag * Double(abs(alpha)) + cTerm) + 1e-6
                let err = abs(got - ref)
                if !(err <= tol) { bad += 1 }
                if err > maxErr || err.isNaN { maxErr = err }
            }
            // Padding columns must be untouched.
            for j in N..<ldc where C[i * ldc + j].bitPattern != C0[i * ldc + j].bitPattern {
                bad += 1
            }
        }
        XCTAssertEqual(bad, 0, "\(label) sgemm \(M)x\(N)x\(K) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta) maxErr=\(maxErr)",
                       file: file, line: line)
    }

    private func checkDgemm(_ M: Int, _ N: Int, _ K: Int, transA: Bool, transB: Bool, alpha: Double, beta: Double,
                            builtinOnly: Bool, label: String) {
        let lda = transA ? M : K, ldb = transB ? K : N, ldc = N
        let A = randomArray((transA ? K : M) * lda, seed: 7).map { Double($0) }
        let B = randomArray((transB ? N : K) * ldb, seed: 8).map { Double($0) }
        let C0: [Double] = beta == 0 ? [Double](repeating: .nan, count: M * N) : randomArray(M * N, seed: 9).map { Double($0) }
        var C = C0
        A.withUnsafeBufferPointer { a in
            B.withUnsafeBufferPointer { b in
                C.withUnsafeMutableBufferPointer { c in
                    if builtinOnly {
                        nabla_dgemm_builtin(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.baseAddress, lda,
                                            b.baseAddress, ldb, beta, c.baseAddress, ldc)
                    } else {
                        nabla_dgemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.baseAddress, lda,
                                    b.baseAddress, ldb, beta, c.baseAddress, ldc)
                    }
                }
            }
        }
        var bad = 0
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0, mag = 0.0
                for k in 0..<K {
                    let a = transA ? A[k * lda + i] : A[i * lda + k]
                    let b = transB ? B[j * ldb + k] : B[k * ldb + j]
                    s += a * b
                    mag += abs(a * b)
                }
                var ref = alpha * s
                if beta != 0 { ref += beta * C0[i * N + j] }
                if !(abs(C[i * N + j] - ref) <= 1e-12 * (mag + 1) + 1e-12) { bad += 1 }
            }
        }
        XCTAssertEqual(bad, 0, "\(label) dgemm \(M)x\(N)x\(K) tA=\(transA) tB=\(transB)")
    }

    // MARK: CPU, threads, grad mode

    /// exp of NaN and infinities on every ISA path: NaN stays NaN (the scalar path converted
    /// NaN to an integer, which is undefined in C), +inf gives inf, −inf gives 0.
    func testExpOfNaNAndInfinities() {
        forEachISA { isa in
            let x: [Float] = [.nan, .infinity, -.infinity, 0, 1, -.nan, 100, -200]
            var out = [Float](repeating: 7, count: x.count)
            nabla_s_unary(NABLA_UN_EXP, x, &out, x.count)
            XCTAssertTrue(out[0].isNaN && out[5].isNaN, "\(isa): \(out)")
            XCTAssertEqual(out[1], .infinity, isa)
            XCTAssertEqual(out[2], 0, isa)
            XCTAssertEqual(out[3], 1, isa)
            XCTAssertEqual(out[4], Float(M_E), accuracy: 1e-6, isa)
            XCTAssertEqual(out[6], .infinity, isa)
            XCTAssertEqual(out[7], 0, isa)
        }
    }

    /// GEMM with an inner dimension of 0 writes alpha·0 + beta·C: zeros for beta = 0 even
    /// when C held NaN (the output is not assumed to start zeroed), C itself for beta = 1.
    func testGEMMWithEmptyInnerDimensionOverwritesNaN() {
        forEachBackend { backend in
            forEachISA { isa in
                let a: [Float] = [], b: [Float] = []
                var c = [Float](repeating: .nan, count: 6)
                nabla_sgemm(0, 0, 2, 3, 0, 1, a, 1, b, 3, 0, &c, 3)
                XCTAssertEqual(c, [0, 0, 0, 0, 0, 0], "\(backend) \(isa) float32, beta 0")
                var c1: [Float] = [1, 2, 3, 4, 5, 6]
                nabla_sgemm(0, 0, 2, 3, 0, 1, a, 1, b, 3, 1, &c1, 3)
                XCTAssertEqual(c1, [1, 2, 3, 4, 5, 6], "\(backend) \(isa) float32, beta 1")
                var d = [Double](repeating: .nan, count: 6)
                nabla_dgemm(1, 1, 2, 3, 0, 1, [Double](), 2, [Double](), 1, 0, &d, 3)
                XCTAssertEqual(d, [0, 0, 0, 0, 0, 0], "\(backend) \(isa) float64, beta 0")
            }
        }
    }

    func testISADetectionAndForcing() {
        let detected = nabla_cpu_isa()
        XCTAssertFalse(String(cString: nabla_cpu_isa_name()).isEmpty)
        XCTAssertEqual(nabla_force_isa(Int32(NABLA_ISA_SCALAR.rawValue)), NABLA_ISA_SCALAR)
        XCTAssertEqual(String(cString: nabla_cpu_isa_name()), "scalar")
        XCTAssertEqual(nabla_force_isa(-1), detected)
        #if arch(x86_64)
        XCTAssertNotEqual(detected, NABLA_ISA_NEON)
        #endif
    }

    func testThreadCountAndParallelForCoversEveryIndexOnce() {
        XCTAssertGreaterThanOrEqual(nabla_get_num_threads(), 1)
        for n in [0, 1, 2, 3, 17, 1000, 100_000] {
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            counts.initialize(repeating: 0, count: max(n, 1))
            defer { counts.deallocate() }
            nabla_parallel_for(n, counts) { ctx, i in
                ctx!.assumingMemoryBound(to: Int32.self)[i] += 1
            }
            for i in 0..<n where counts[i] != 1 {
                XCTFail("index \(i) of \(n) ran \(counts[i]) times")
                break
            }
        }
    }

    func testParallelForFromManyThreadsAndNested() {
        let total = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        total.initialize(repeating: 0, count: 8)
        defer { total.deallocate() }
        nonisolated(unsafe) let totals = total
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            let n = 5000
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            counts.initialize(repeating: 0, count: n)
            for _ in 0..<20 {
                nabla_parallel_for(n, counts) { ctx, i in
                    ctx!.assumingMemoryBound(to: Int32.self)[i] += 1
                }
            }
            var s = 0
            for i in 0..<n { s += Int(counts[i]) }
            totals[t] = s
            counts.deallocate()
        }
        for t in 0..<8 { XCTAssertEqual(total[t], 5000 * 20) }
        // Nested use from inside a parallel body runs serially and stays correct.
        let outer = UnsafeMutablePointer<Int32>.allocate(capacity: 4 * 100)
        outer.initialize(repeating: 0, count: 400)
        defer { outer.deallocate() }
        nabla_parallel_for(4, outer) { ctx, i in
            let base = ctx!.assumingMemoryBound(to: Int32.self) + i * 100
            nabla_parallel_for(100, base) { c, j in c!.assumingMemoryBound(to: Int32.self)[j] += 1 }
        }
        for i in 0..<400 { XCTAssertEqual(outer[i], 1) }
    }

    func testSetNumThreads() {
        let original = nabla_get_num_threads()
        defer { nabla_set_num_threads(original) }
        nabla_set_num_threads(1)
        XCTAssertEqual(nabla_get_num_threads(), 1)
        checkSgemm(200, 190, 180, transA: false, transB: false, alpha: 1, beta: 0, builtinOnly: true, label: "1 thread")
        nabla_set_num_threads(3)
        XCTAssertEqual(nabla_get_num_threads(), 3)
        checkSgemm(200, 190, 180, transA: false, transB: true, alpha: 1, beta: 0, builtinOnly: true, label: "3 threads")
    }

    func testGradModeIsThreadLocal() {
        XCTAssertEqual(nabla_grad_enabled(), 1)
        nabla_set_grad_enabled(0)
        XCTAssertEqual(nabla_grad_enabled(), 0)
        let other = Thread { XCTAssertEqual(nabla_grad_enabled(), 1) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let o = other
        DispatchQueue.global().async {
            XCTAssertEqual(nabla_grad_enabled(), 1)
            _ = o
            done.signal()
        }
        done.wait()
        nabla_set_grad_enabled(1)
        XCTAssertEqual(nabla_grad_enabled(), 1)
    }

    // MARK: GEMM

    private static let smallShapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 16, 16), (2, 3, 4), (1, 300, 70), (5, 1, 9), (7, 13, 17), (12, 32, 5), (13, 33, 3),
        (16, 16, 16), (24, 24, 24), (33, 65, 129), (64, 64, 64), (31, 1, 40),
    ]

    func testSgemmAllISAsAndBackends() {
        forEachISA { isa in
            forEachBackend { backend in
                let label = "\(isa)/\(backend)"
                for (M, N, K) in Self.smallShapes {
                    for tA in [false, true] {
                        for tB in [false, true] {
                            checkSgemm(M, N, K, transA: tA, transB: tB, alpha: 1, beta: 0, label: label)
                        }
                    }
                }
                checkSgemm(33, 65, 129, transA: false, transB: false, alpha: 0.5, beta: -2, label: label)
                checkSgemm(33, 65, 129, transA: true, transB: true, alpha: -1.5, beta: 1, label: label)
                checkSgemm(7, 13, 17, transA: true, transB: false, alpha: 2, beta: 0.25, pad: 3, label: label)
                checkSgemm(40, 50, 60, transA: false, transB: true, alpha: 1, beta: 1, pad: 5, label: label)
                // K == 0 and alpha == 0 scale C by beta.
                checkSgemm(5, 6, 0, transA: false, transB: false, alpha: 1, beta: 0.5, label: label)
                checkSgemm(5, 6, 0, transA: false, transB: false, alpha: 1, beta: 0, label: label)
                checkSgemm(5, 6, 7, transA: false, transB: false, alpha: 0, beta: 0, label: label)
            }
        }
    }

    func testSgemmLargeShapesMultithreadedAndBlocked() {
        // Larger than one cache block in each dimension (K > KC, M > MC) and big enough to
        // run on several threads; skinny MLP shapes with transposed operands.
        forEachISA { isa in
            let label = "\(isa)/builtin"
            checkSgemm(203, 157, 611, transA: false, transB: false, alpha: 1, beta: 0.5, builtinOnly: true, label: label)
            checkSgemm(128, 256, 300, transA: true, transB: false, alpha: 1, beta: 0, builtinOnly: true, label: label)
            checkSgemm(150, 70, 300, transA: false, transB: true, alpha: 1, beta: 1, builtinOnly: true, label: label)
            checkSgemm(97, 300, 129, transA: true, transB: true, alpha: -1, beta: 0, pad: 2, builtinOnly: true, label: label)
        }
        forEachBackend { backend in
            checkSgemm(128, 256, 784, transA: false, transB: false, alpha: 1, beta: 0, label: backend)
            checkSgemm(784, 256, 128, transA: true, transB: false, alpha: 1, beta: 0, label: backend)
            checkSgemm(128, 784, 256, transA: false, transB: true, alpha: 1, beta: 0, label: backend)
        }
    }

    func testSgemmConcurrentCallers() {
        let M = 150, N = 140, K = 130
        let A = randomArray(M * K, seed: 1), B = randomArray(K * N, seed: 2)
        var refC = [Float](repeating: 0, count: M * N)
        nabla_sgemm_builtin(0, 0, M, N, K, 1, A, K, B, N, 0, &refC, N)
        let ref = refC
        let mismatches = UnsafeMutablePointer<Int>.allocate(capacity: 6)
        mismatches.initialize(repeating: 0, count: 6)
        defer { mismatches.deallocate() }
        nonisolated(unsafe) let mm = mismatches
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            var C = [Float](repeating: .nan, count: M * N)
            for _ in 0..<10 {
                nabla_sgemm_builtin(0, 0, M, N, K, 1, A, K, B, N, 0, &C, N)
                for i in 0..<(M * N) where C[i] != ref[i] { mm[t] += 1 }
            }
        }
        for t in 0..<6 { XCTAssertEqual(mismatches[t], 0) }
    }

    func testDgemmAllISAsAndBackends() {
        forEachISA { isa in
            for (M, N, K) in [(1, 1, 1), (7, 13, 17), (33, 65, 129), (70, 40, 300)] {
                for tA in [false, true] {
                    for tB in [false, true] {
                        checkDgemm(M, N, K, transA: tA, transB: tB, alpha: 1, beta: 0, builtinOnly: true, label: isa)
                    }
                }
            }
            checkDgemm(33, 65, 129, transA: false, transB: true, alpha: 0.5, beta: 2, builtinOnly: true, label: isa)
        }
        forEachBackend { backend in
            checkDgemm(33, 65, 129, transA: true, transB: false, alpha: 0.5, beta: 2, builtinOnly: false, label: backend)
            checkDgemm(7, 13, 17, transA: false, transB: false, alpha: 1, beta: 0, builtinOnly: false, label: backend)
        }
    }

    func testBlasDescription() {
        let d = String(cString: nabla_blas_description())
        XCTAssertFalse(d.isEmpty)
        let original = nabla_blas_active()
        defer { _ = nabla_blas_select(original) }
        XCTAssertEqual(nabla_blas_select(NABLA_BLAS_BUILTIN), 0)
        XCTAssertTrue(String(cString: nabla_blas_description()).hasPrefix("builtin ("))
        if nabla_blas_select(NABLA_BLAS_OPENBLAS) == 0 {
            XCTAssertTrue(String(cString: nabla_blas_description()).hasPrefix("openblas ("))
        }
    }

    // MARK: element-wise

    private func unary(_ op: nabla_unary_op, _ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        nabla_s_unary(op, x, &out, x.count)
        return out
    }

    private func assertClose(_ got: [Float], _ ref: [Double], rel: Double, abs absTol: Double = 0, _ msg: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, ref.count)
        var worst = 0.0, worstIdx = -1
        for i in 0..<got.count {
            let g = Double(got[i]), r = ref[i]
            if r.isNaN { if !g.isNaN { worst = .infinity; worstIdx = i }; continue }
            if r.isInfinite || abs(r) > Double(Float.greatestFiniteMagnitude) {
                if g != r && !(g.isInfinite && (g > 0) == (r > 0)) { worst = .infinity; worstIdx = i }
                continue
            }
            let err = abs(g - r)
            let tol = rel * abs(r) + absTol
            if !(err <= tol) {
                let e = err / max(abs(r), 1e-300)
                if e > worst || e.isNaN { worst = e.isNaN ? .infinity : e; worstIdx = i }
            }
        }
        XCTAssertEqual(worstIdx, -1, "\(msg): worst rel err \(worst) at index \(worstIdx)", file: file, line: line)
    }

    private func testInputs(count: Int, lo: Float, hi: Float) -> [Float] {
        var x = (0..<count).map { lo + (hi - lo) * Float($0) / Float(count - 1) }
        x += [0, -0.0, 1e-7, -1e-7, 1e-20, 1e-30, 0.5, -0.5, 0.6249, 0.6251, -0.6251]
        return x
    }

    func testUnaryOpsAgainstFoundation() {
        forEachISA { isa in
            let wide = testInputs(count: 20_011, lo: -100, hi: 100)
            let normalRange = wide.filter { abs($0) < 87 || $0 == 0 }
            // exp over its full range (subnormal results allowed a looser absolute error).
            assertClose(unary(NABLA_UN_EXP, wide), wide.map { Foundation.exp(Double($0)) }, rel: 3e-7, abs: 1e-44, "\(isa) exp")
            assertClose(unary(NABLA_UN_TANH, wide), wide.map { Foundation.tanh(Double($0)) }, rel: 3e-7, "\(isa) tanh")
            assertClose(unary(NABLA_UN_SIGMOID, normalRange), normalRange.map { 1 / (1 + Foundation.exp(-Double($0))) }, rel: 3e-7,
                        "\(isa) sigmoid")
            assertClose(unary(NABLA_UN_SIGMOID, [-200, -100, 100, 200]), [0, 3.7200759760208356e-44, 1, 1], rel: 1e-6, abs: 1e-44,
                        "\(isa) sigmoid extremes")
            let pos = (0..<20_000).map { Float(Foundation.exp(-80 + 160 * Double($0) / 20_000)) } + [1, 2, Float.leastNormalMagnitude / 8, 3e38]
            assertClose(unary(NABLA_UN_LOG, pos), pos.map { Foundation.log(Double($0)) }, rel: 3e-7, abs: 1e-7, "\(isa) log")
            let special: [Float] = [-1, 0, .infinity, .nan, -.infinity]
            let l = unary(NABLA_UN_LOG, special)
            XCTAssertTrue(l[0].isNaN); XCTAssertEqual(l[1], -.infinity); XCTAssertEqual(l[2], .infinity)
            XCTAssertTrue(l[3].isNaN); XCTAssertTrue(l[4].isNaN)
            let e = unary(NABLA_UN_EXP, [.nan, .infinity, -.infinity, 89, -110])
            XCTAssertTrue(e[0].isNaN); XCTAssertEqual(e[1], .infinity); XCTAssertEqual(e[2], 0)
            XCTAssertEqual(e[3], .infinity); XCTAssertEqual(e[4], 0)
            let t = unary(NABLA_UN_TANH, [.nan, .infinity, -.infinity, 1e-30])
            XCTAssertTrue(t[0].isNaN); XCTAssertEqual(t[1], 1); XCTAssertEqual(t[2], -1); XCTAssertEqual(t[3], 1e-30)

            let mid = testInputs(count: 5003, lo: -10, hi: 10)
            assertClose(unary(NABLA_UN_SIN, mid), mid.map { Foundation.sin(Double($0)) }, rel: 1e-6, abs: 1e-7, "\(isa) sin")
            assertClose(unary(NABLA_UN_COS, mid), mid.map { Foundation.cos(Double($0)) }, rel: 1e-6, abs: 1e-7, "\(isa) cos")
            assertClose(unary(NABLA_UN_ERF, mid), mid.map { Foundation.erf(Double($0)) }, rel: 1e-6, abs: 1e-7, "\(isa) erf")
            assertClose(unary(NABLA_UN_NEG, mid), mid.map { -Double($0) }, rel: 0, "\(isa) neg")
            assertClose(unary(NABLA_UN_ABS, mid), mid.map { Swift.abs(Double($0)) }, rel: 0, "\(isa) abs")
            assertClose(unary(NABLA_UN_SQUARE, mid), mid.map { Double($0 * $0) }, rel: 0, "\(isa) square")
            assertClose(unary(NABLA_UN_RECIPROCAL, mid), mid.map { Double(1 / $0) }, rel: 0, "\(isa) reciprocal")
            assertClose(unary(NABLA_UN_RELU, mid), mid.map { Double(Swift.max($0, 0)) }, rel: 0, "\(isa) relu")
            assertClose(unary(NABLA_UN_SIGN, mid), mid.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, rel: 0, "\(isa) sign")
            let sq = pos.map { Double($0.squareRoot()) }
            assertClose(unary(NABLA_UN_SQRT, pos), sq, rel: 0, "\(isa) sqrt")
            let nanRelu = unary(NABLA_UN_RELU, [.nan, -1, 2])
            XCTAssertTrue(nanRelu[0].isNaN)
            XCTAssertTrue(unary(NABLA_UN_SIGN, [.nan])[0].isNaN)
        }
    }

    func testBinaryOps() {
        forEachISA { isa in
            for n in [0, 1, 5, 16, 17, 100, 1001, 300_001] {
                let a = randomArray(n, seed: 3).map { $0 * 4 }
                let b = randomArray(n, seed: 4).map { $0 * 4 + 0.01 }
                let ops: [(nabla_binary_op, (Float, Float) -> Float)] = [
                    (NABLA_BIN_ADD, { $0 + $1 }), (NABLA_BIN_SUB, { $0 - $1 }), (NABLA_BIN_MUL, { $0 * $1 }),
                    (NABLA_BIN_DIV, { $0 / $1 }), (NABLA_BIN_MAX, { Swift.max($0, $1) }), (NABLA_BIN_MIN, { Swift.min($0, $1) }),
                    (NABLA_BIN_POW, { Foundation.pow(Swift.abs($0), $1) }),
                ]
                let absA = a.map { Swift.abs($0) }
                for (op, f) in ops {
                    let lhs = op == NABLA_BIN_POW ? absA : a
                    var out = [Float](repeating: 0, count: n)
                    nabla_s_binary(op, lhs, b, &out, n)
                    XCTAssertEqual(out, zip(lhs, b).map(f), "\(isa) binary \(op.rawValue) n=\(n)")
                    nabla_s_binary_scalar(op, lhs, 1.5, &out, n)
                    XCTAssertEqual(out, lhs.map { f($0, 1.5) }, "\(isa) binary_scalar \(op.rawValue) n=\(n)")
                    nabla_s_scalar_binary(op, 1.5, b, &out, n)
                    XCTAssertEqual(out, b.map { f(1.5, $0) }, "\(isa) scalar_binary \(op.rawValue) n=\(n)")
                }
                // In place (out aliases a).
                var inplace = a
                nabla_s_binary(NABLA_BIN_ADD, inplace, b, &inplace, n)
                XCTAssertEqual(inplace, zip(a, b).map { $0 + $1 })
                var sq = [Float](repeating: 0, count: n)
                nabla_s_binary_scalar(NABLA_BIN_POW, a, 2, &sq, n)
                XCTAssertEqual(sq, a.map { $0 * $0 })
            }
            // NaN propagation in max / min.
            var out = [Float](repeating: 0, count: 3)
            nabla_s_binary(NABLA_BIN_MAX, [.nan, 1, 2], [1, .nan, 3], &out, 3)
            XCTAssertTrue(out[0].isNaN && out[1].isNaN); XCTAssertEqual(out[2], 3)
            nabla_s_binary(NABLA_BIN_MIN, [.nan, 1, 2], [1, .nan, 3], &out, 3)
            XCTAssertTrue(out[0].isNaN && out[1].isNaN); XCTAssertEqual(out[2], 2)
            // Row broadcast.
            for (rows, cols) in [(1, 1), (3, 5), (7, 33), (600, 700)] {
                let a = randomArray(rows * cols, seed: 11), b = randomArray(cols, seed: 12)
                var o = [Float](repeating: 0, count: rows * cols)
                nabla_s_binary_rows(NABLA_BIN_SUB, a, b, &o, rows, cols)
                var ref = a
                for r in 0..<rows { for c in 0..<cols { ref[r * cols + c] -= b[c] } }
                XCTAssertEqual(o, ref, "\(isa) rows \(rows)x\(cols)")
            }
        }
    }

    func testBackwardHelpersAxpyClamp() {
        forEachISA { isa in
            for n in [1, 15, 16, 33, 250_000] {
                let y = randomArray(n, seed: 21), g = randomArray(n, seed: 22)
                var out = [Float](repeating: 0, count: n)
                nabla_s_tanh_backward(y, g, &out, n)
                assertClose(out, zip(y, g).map { Double($1) * (1 - Double($0) * Double($0)) }, rel: 1e-6, abs: 1e-7, "\(isa) tanh bw")
                nabla_s_sigmoid_backward(y, g, &out, n)
                assertClose(out, zip(y, g).map { Double($1) * Double($0) * (1 - Double($0)) }, rel: 1e-6, abs: 1e-7, "\(isa) sigmoid bw")
                var x = y
                x[0] = 0
                nabla_s_relu_backward(x, g, &out, n)
                XCTAssertEqual(out, zip(x, g).map { $0 > 0 ? $1 : 0 }, "\(isa) relu bw")
                var acc = g
                nabla_s_axpy(n, 0.5, y, &acc)
                assertClose(acc, zip(y, g).map { Double($1) + 0.5 * Double($0) }, rel: 1e-6, abs: 1e-7, "\(isa) axpy")
                nabla_s_clamp(y, -0.25, 0.5, &out, n)
                XCTAssertEqual(out, y.map { Swift.min(Swift.max($0, -0.25), 0.5) }, "\(isa) clamp")
            }
            var out = [Float](repeating: 0, count: 2)
            nabla_s_clamp([.nan, 3], 0, 1, &out, 2)
            XCTAssertTrue(out[0].isNaN); XCTAssertEqual(out[1], 1)
        }
    }

    // MARK: reductions

    func testReductions() {
        forEachISA { isa in
            let n = 10_000_000
            var ones = [Float](repeating: 1, count: n)
            XCTAssertEqual(nabla_s_sum(ones, n), 1e7, "\(isa) sum of 10M ones")
            XCTAssertEqual(nabla_s_sum(ones, 0), 0)
            XCTAssertEqual(nabla_s_max(ones, 0), -.infinity)
            XCTAssertEqual(nabla_s_min(ones, 0), .infinity)
            ones[n - 3] = 5
            ones[12345] = -2
            XCTAssertEqual(nabla_s_max(ones, n), 5)
            XCTAssertEqual(nabla_s_min(ones, n), -2)
            ones[4_000_000] = .nan
            XCTAssertTrue(nabla_s_max(ones, n).isNaN, "\(isa) max NaN")
            XCTAssertTrue(nabla_s_min(ones, n).isNaN, "\(isa) min NaN")
            for m in [1, 7, 31, 100, 1000] {
                let x = randomArray(m, seed: UInt64(m))
                XCTAssertEqual(nabla_s_max(x, m), x.max()!, "\(isa) max n=\(m)")
                XCTAssertEqual(nabla_s_min(x, m), x.min()!, "\(isa) min n=\(m)")
                XCTAssertEqual(nabla_s_sum(x, m), x.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-4)
                var withNaN = x
                withNaN[m - 1] = .nan
                XCTAssertTrue(nabla_s_max(withNaN, m).isNaN)
            }
            for (rows, cols) in [(1, 1), (5, 3), (300, 1), (130, 17), (1000, 512)] {
                let x = randomArray(rows * cols, seed: 5)
                var out = [Float](repeating: .nan, count: cols)
                nabla_s_sum_rows(x, &out, rows, cols)
                var ref = [Double](repeating: 0, count: cols)
                for r in 0..<rows { for c in 0..<cols { ref[c] += Double(x[r * cols + c]) } }
                assertClose(out, ref, rel: 1e-5, abs: 1e-5, "\(isa) sum_rows \(rows)x\(cols)")
            }
        }
    }
}
