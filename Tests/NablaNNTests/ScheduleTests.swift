import XCTest
import NablaCore
@testable import NablaNN

/// Learning-rate schedules against PyTorch's `lr_scheduler`.
final class ScheduleTests: XCTestCase {
    /// The learning rate at epochs 0…11 with base rate 0.1, printed by
    /// Scripts/reference_optim.py (PyTorch 2.x).
    static let reference: [String: [Double]] = [
        "step": [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125],
        "multiStep": [0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.00010000000000000003, 0.00010000000000000003, 0.00010000000000000003, 0.00010000000000000003, 0.00010000000000000003, 0.00010000000000000003],
        "exponential": [0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002, 0.05904900000000002, 0.05314410000000002, 0.04782969000000002, 0.043046721000000024, 0.03874204890000002, 0.03486784401000002, 0.03138105960900001],
        "cosine": [0.1, 0.09397114317029975, 0.07750000000000001, 0.055000000000000014, 0.032500000000000015, 0.01602885682970026, 0.01, 0.01602885682970026, 0.03250000000000001, 0.05500000000000004, 0.07750000000000007, 0.09397114317029981],
        "linear": [0.025, 0.043750000000000004, 0.06250000000000001, 0.08125000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002],
        "warmupCosine": [0.010000000000000002, 0.04, 0.07, 0.1, 0.09045084971874738, 0.06545084971874737, 0.03454915028125263, 0.009549150281252633, 0.0, 0.009549150281252628, 0.03454915028125265, 0.06545084971874741],
        "warmupStep": [0.05, 0.07500000000000001, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625],
        "plateau": [0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025],
        "plateauMaxAbs": [0.1, 0.1, 0.1, 0.03, 0.03, 0.009, 0.009, 0.005, 0.005, 0.005, 0.005, 0.005],
    ]
    /// The metrics fed to the plateau schedulers at epochs 1…11.
    static let plateauMetrics = [1.0, 0.9, 0.95, 0.92, 0.91, 0.905, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89]

    func optimizer() -> Optimizer { SGD([Tensor([0.0]).requiringGrad()], lr: 0.1) }

    func check(_ name: String, _ schedule: any LearningRateSchedule, file: StaticString = #filePath, line: UInt = #line) {
        let opt = optimizer()
        let scheduler = LRScheduler(opt, schedule)
        var got = [opt.learningRate]
        for _ in 1..<12 { scheduler.step(); got.append(opt.learningRate) }
        let expected = Self.reference[name]!
        for (e, (g, r)) in zip(got, expected).enumerated() {
            XCTAssertEqual(g, r, accuracy: 1e-12, "\(name) epoch \(e): got \(got), PyTorch \(expected)", file: file, line: line)
        }
    }

    func testStepLR() { check("step", StepLR(stepSize: 3, gamma: 0.5)) }
    func testMultiStepLR() { check("multiStep", MultiStepLR(milestones: [2, 5, 6], gamma: 0.1)) }
    func testExponentialLR() { check("exponential", ExponentialLR(gamma: 0.9)) }
    func testCosineAnnealingLR() { check("cosine", CosineAnnealingLR(tMax: 6, etaMin: 0.01)) }
    func testLinearLR() { check("linear", LinearLR(startFactor: 0.25, endFactor: 1, totalIters: 4)) }

    func testLinearWarmupThenCosine() {
        check("warmupCosine", LinearWarmup(epochs: 3, startFactor: 0.1, then: CosineAnnealingLR(tMax: 5)))
        check("warmupCosine", SequentialLR([LinearLR(startFactor: 0.1, totalIters: 3), CosineAnnealingLR(tMax: 5)], milestones: [3]))
    }

    func testLinearWarmupThenStep() {
        check("warmupStep", LinearWarmup(epochs: 2, startFactor: 0.5, then: StepLR(stepSize: 2, gamma: 0.5)))
    }

    func testReduceLROnPlateau() {
        let opt = optimizer()
        let plateau = ReduceLROnPlateau(opt, factor: 0.5, patience: 2, cooldown: 1)
        var got = [opt.learningRate]
        for e in 1..<12 { plateau.step(Self.plateauMetrics[e - 1]); got.append(opt.learningRate) }
        XCTAssertEqual(got, Self.reference["plateau"]!)
    }

    func testReduceLROnPlateauMaxAbsolute() {
        let opt = optimizer()
        let plateau = ReduceLROnPlateau(opt, mode: .max, factor: 0.3, patience: 1, threshold: 0.05,
                                        thresholdMode: .absolute, minLR: 0.005)
        var got = [opt.learningRate]
        for e in 1..<12 { plateau.step(Self.plateauMetrics[e - 1]); got.append(opt.learningRate) }
        for (g, r) in zip(got, Self.reference["plateauMaxAbs"]!) { XCTAssertEqual(g, r, accuracy: 1e-12, "\(got)") }
    }

    func testPlateauStateRoundTrip() throws {
        let opt = optimizer()
        let a = ReduceLROnPlateau(opt, patience: 1)
        for m in [1.0, 2.0, 3.0] { a.step(m) }
        let b = ReduceLROnPlateau(optimizer(), patience: 1)
        try b.load(a.stateDict())
        XCTAssertEqual(b.best, 1.0)
        XCTAssertEqual(b.epoch, 3)
        XCTAssertThrowsError(try b.load([:]))
    }

    func testSchedulerResume() {
        let opt = optimizer()
        let s = LRScheduler(opt, StepLR(stepSize: 3, gamma: 0.5))
        s.setEpoch(7)
        XCTAssertEqual(opt.learningRate, 0.025, accuracy: 1e-15)
        s.step()
        XCTAssertEqual(s.epoch, 8)
    }
}
