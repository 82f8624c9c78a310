import XCTest
import CNablaKernels
import NablaCore
import NablaNN
import _NablaTestSupport

/// The float32 Adam update runs in a vectorised C kernel; these tests compare it with the
/// float64 reference loop (which matches PyTorch, see OptimizerTests) on every ISA path.
final class OptimizerKernelTests: XCTestCase {
    func runAdam(_ dtype: DType, steps: Int, weightDecay: Double, decoupled: Bool) -> [Double] {
        let g = RandomGenerator(seed: 42)
        // 100,037 elements: an odd length exercises the vector tails and the two-thread split.
        let n = 100_037
        let target = Tensor.randomNormal([n], dtype: dtype, generator: g)
        let p = Tensor.randomNormal([n], dtype: dtype, generator: g).requiringGrad()
        let opt: Optimizer = decoupled ? AdamW([p], lr: 0.01, weightDecay: weightDecay) : Adam([p], lr: 0.01, weightDecay: weightDecay)
        for _ in 0..<steps {
            opt.zeroGrad()
            ((p - target) * (p - target)).sum().backward()
            opt.step()
        }
        return p.doubles
    }

    func checkAgreement(weightDecay: Double, decoupled: Bool) {
        let reference = runAdam(.float64, steps: 5, weightDecay: weightDecay, decoupled: decoupled)
        for isa in [NABLA_ISA_SCALAR, NABLA_ISA_AVX2, NABLA_ISA_AVX512] {
            let forced = nabla_force_isa(Int32(isa.rawValue))
            defer { _ = nabla_force_isa(-1) }
            if forced != isa { continue }   // not available on this CPU
            // The kernel must run the forced level (it dispatched on the detected one, so
            // the scalar and AVX2 paths were never tested on an AVX-512 machine).
            XCTAssertEqual(nabla_optim_isa(), isa, "Adam dispatches on the forced ISA")
            let f32 = runAdam(.float32, steps: 5, weightDecay: weightDecay, decoupled: decoupled)
            var worst = 0.0
            for (a, b) in zip(f32, reference) { worst = max(worst, abs(a - b)) }
            // Five steps of lr 0.01 move a parameter by at most ~0.05; float32 rounding of
            // the inputs and the update stays far below 1e-5.
            XCTAssertLessThan(worst, 1e-5, "ISA \(isa.rawValue): float32 Adam differs from float64 by \(worst)")
        }
    }

    func testAdamFloat32KernelMatchesFloat64() { checkAgreement(weightDecay: 0, decoupled: false) }
    func testAdamWithWeightDecayKernel() { checkAgreement(weightDecay: 0.1, decoupled: false) }
    func testAdamWKernel() { checkAgreement(weightDecay: 0.05, decoupled: true) }
}
