import Foundation
import XCTest
@testable import NablaCore
import NablaNN
import NablaData
import NablaTraining
@testable import NablaZoo

/// Every entry of the chart trains on a small slice of its data (the image entries on the
/// built-in 8×8 digits) and shows the behaviour the notes describe; the runs write their
/// pictures, model and metrics.
final class ZooTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(UUID().uuidString)").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func run(_ name: String, data: String? = nil, epochs: Int? = nil, limit: Int? = nil, seed: UInt64 = 0) throws -> ZooReport {
        try Zoo.run(name, ZooOptions(data: data, epochs: epochs, out: folder + "/" + name, seed: seed, limit: limit, progress: .silent))
    }

    /// Each file written exists; each picture is a PNG; metrics.json parses.
    func assertFiles(_ report: ZooReport, pictures: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let names = report.files.map { ($0 as NSString).lastPathComponent }
        for p in pictures { XCTAssertTrue(names.contains(p), "\(p) not written: \(names)", file: file, line: line) }
        for path in report.files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            if path.hasSuffix(".png") { XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], path, file: file, line: line) }
            if path.hasSuffix("metrics.json") { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(bytes)), file: file, line: line) }
        }
        XCTAssertTrue(names.contains("metrics.json"), file: file, line: line)
    }

    // MARK: The list and bad input

    func testListNamesEveryEntryOnce() {
        let names = Zoo.entries.map(\.name)
        XCTAssertEqual(names, ["perceptron", "ff", "dff", "rbf", "gaussian", "rnn", "lstm", "gru", "ae", "dae", "sae", "vae", "gan"])
        XCTAssertEqual(Zoo.listing.split(separator: "\n").count, names.count)
    }

    func testUnknownNameListsTheValidOnes() {
        XCTAssertThrowsError(try run("hopfield")) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("unknown zoo entry 'hopfield'") && m.contains("perceptron") && m.contains("gan"), m)
        }
    }

    func testDataThatDoesNotFitSaysWhy() {
        XCTAssertThrowsError(try run("vae", data: "heteroscedastic")) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("vae cannot train on 'heteroscedastic'") && m.contains("image") && m.contains("fashion-mnist, digits"), m)
        }
        XCTAssertThrowsError(try run("perceptron", data: "fashion-mnist")) { error in
            XCTAssertTrue("\(error)".contains("2-D two-class"), "\(error)")
        }
    }

    func testOutThatIsAFileSaysSo() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/not-a-folder"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try Zoo.run("perceptron", ZooOptions(out: file, progress: .silent))) { error in
            XCTAssertTrue("\(error)".contains("is a file, not a folder"), "\(error)")
        }
    }

    // MARK: Entries

    func testPerceptronSucceedsOnBlobsAndFailsOnXOR() throws {
        let report = try run("perceptron")
        XCTAssertLessThan(report.metrics["epochs_blobs"]!, 100)
        XCTAssertEqual(report.metrics["accuracy_blobs"]!, 1)
        XCTAssertEqual(report.metrics["epochs_xor"]!, 100, "the perceptron never has an epoch without mistakes on XOR")
        XCTAssertLessThan(report.metrics["accuracy_xor"]!, 0.8)
        XCTAssertEqual(report.targets.map(\.met), [true, true])
        try assertFiles(report, pictures: ["perceptron-blobs.png", "perceptron-xor.png"])
    }

    func testFeedForwardNetworksLearnTheHardCases() throws {
        let dff = try run("dff", data: "ring", epochs: 60)
        XCTAssertGreaterThan(dff.metrics["test_accuracy_ring"]!, 0.95)
        try assertFiles(dff, pictures: ["dff-ring.png", "dff-ring.safetensors"])
        let ff = try run("ff", data: "three-modes", epochs: 20)
        XCTAssertGreaterThan(ff.metrics["test_accuracy_three-modes"]!, 0.95)
    }

    func testRadialBasisNetworkOnSpiralsAndSine() throws {
        let report = try run("rbf", epochs: 60)
        XCTAssertGreaterThan(report.metrics["test_accuracy_spirals"]!, 0.9)
        XCTAssertLessThan(report.metrics["test_mse_sine"]!, 0.05, "sin x has variance ½; the fit must explain most of it")
        try assertFiles(report, pictures: ["rbf-spirals.png", "rbf-sine.png"])
    }

    func testGaussianOutputApproachesTheTrueModel() throws {
        let report = try run("gaussian", epochs: 40, limit: 1000)
        let nll = report.metrics["test_nll"]!, truth = report.metrics["true_nll"]!
        XCTAssertLessThan((nll - truth) / abs(truth), 0.15, "NLL \(nll) against the true model's \(truth)")
        try assertFiles(report, pictures: ["gaussian.png"])
    }

    func testRecurrentEntriesReadDigitsRowByRow() throws {
        for (name, epochs) in [("rnn", 4), ("lstm", 10), ("gru", 4)] {
            let report = try run(name, data: "digits", epochs: epochs, limit: 800)
            // Chance is 0.1; the LSTM, trained longer, must have learned more.
            XCTAssertGreaterThan(report.metrics["test_accuracy"]!, name == "lstm" ? 0.4 : 0.15, name)
            try assertFiles(report, pictures: ["\(name)-confusion.png", "\(name).safetensors"])
        }
    }

    func testAutoEncoderWritesCodesAndReconstructions() throws {
        let report = try run("ae", data: "digits", epochs: 30, limit: 400)
        // Both reconstructions beat replacing every image by the mean training image.
        let baseline = report.metrics["mean_image_test_mse"]!
        XCTAssertLessThan(report.metrics["pca_test_mse"]!, baseline)
        XCTAssertLessThan(report.metrics["test_mse"]!, baseline)
        try assertFiles(report, pictures: ["ae-reconstructions.png", "ae-codes.png"])
    }

    func testDenoisingAutoEncoderOutputIsCloserToCleanThanItsInput() throws {
        let report = try run("dae", data: "digits", epochs: 8, limit: 600)
        XCTAssertLessThan(report.metrics["test_denoised_mse"]!, report.metrics["test_noisy_mse"]!)
        try assertFiles(report, pictures: ["dae-denoising.png"])
    }

    func testSparseAutoEncoderPullsMeanActivationTowardsRho() throws {
        let report = try run("sae", data: "digits", epochs: 30, limit: 600)
        // A sigmoid unit starts near 0.5; the KL penalty pulls the mean towards ρ = 0.05.
        XCTAssertLessThan(report.metrics["mean_activation"]!, 0.2)
        try assertFiles(report, pictures: ["sae-features.png"])
    }

    func testVAEReportsAPositiveKLAndWritesItsPictures() throws {
        let report = try run("vae", data: "digits", epochs: 2, limit: 256)
        XCTAssertGreaterThan(report.metrics["test_kl"]!, 0)
        // A decoder that says ½ for every pixel, whatever the code, costs 64·ln 2 nats per
        // image (the binary cross-entropy of ½ is ln 2 for any target) with a KL of 0.
        XCTAssertLessThan(report.metrics["test_neg_elbo"]!, 64 * Foundation.log(2.0))
        try assertFiles(report, pictures: ["vae-samples.png", "vae-latent-walk.png", "vae-reconstructions.png", "vae.safetensors"])
    }

    func testGANStaysFiniteOverThreeSeeds() throws {
        for seed: UInt64 in [0, 1, 2] {
            let report = try run("gan", data: "digits", epochs: 2, limit: 64, seed: seed)
            XCTAssertTrue(report.metrics["d_loss"]!.isFinite && report.metrics["g_loss"]!.isFinite, "seed \(seed)")
            XCTAssertEqual(report.targets.map(\.met), [true])
        }
    }

    /// Each optimizer holds exactly its own network's parameters, and a step of one leaves
    /// the other network unchanged even when both have gradients.
    func testGANOptimizersEachChangeOnlyTheirOwnNetwork() {
        let gan = Zoo.GAN.Network(inputs: 16, generator: RandomGenerator(seed: 1), noise: RandomGenerator(seed: 2))
        let optimizers = gan.optimizers()
        let ids = { (ts: [Tensor]) in Set(ts.map { ObjectIdentifier($0.storage) }) }
        XCTAssertEqual(ids(optimizers[0].parameters), ids(gan.discriminator.parameters()))
        XCTAssertEqual(ids(optimizers[1].parameters), ids(gan.generator.parameters()))
        func snapshot(_ m: Module) -> [[Double]] { m.parameters().map(\.doubles) }
        let real = Tensor.randomUniform([8, 16], generator: RandomGenerator(seed: 3))
        // Gradients in both networks: the generator's loss through the discriminator.
        func bothGradients() {
            gan.zeroGrad()
            let fake = gan.generator(Tensor.randomNormal([8, Zoo.GAN.noiseSize], generator: RandomGenerator(seed: 4)))
            (Loss.binaryCrossEntropy(logits: gan.discriminator(fake), Tensor.ones([8, 1]))
                + Loss.binaryCrossEntropy(logits: gan.discriminator(real), Tensor.zeros([8, 1]))).backward()
        }
        bothGradients()
        let (g0, d0) = (snapshot(gan.generator), snapshot(gan.discriminator))
        optimizers[0].step()
        XCTAssertEqual(snapshot(gan.generator), g0, "the discriminator's optimizer changed the generator")
        XCTAssertNotEqual(snapshot(gan.discriminator), d0)
        bothGradients()
        let d1 = snapshot(gan.discriminator)
        optimizers[1].step()
        XCTAssertEqual(snapshot(gan.discriminator), d1, "the generator's optimizer changed the discriminator")
        XCTAssertNotEqual(snapshot(gan.generator), g0)
    }

    func testConvolutionalArchitecturesRunOnDigits() throws {
        for name in ["ae", "dae", "vae", "gan"] {
            let report = try Zoo.run(name, ZooOptions(data: "digits", epochs: 1, out: folder + "/conv-" + name, limit: 128,
                                                      progress: .silent, architecture: .conv))
            XCTAssertTrue(report.metrics.values.allSatisfy(\.isFinite), "\(name): \(report.metrics)")
            XCTAssertTrue(report.files.contains { $0.hasSuffix(".safetensors") }, name)
        }
        // The convolutional VAE has Conv2d and ConvTranspose2d weights under its encoder and decoder.
        let names = Zoo.VAE.Network(inputs: 64, architecture: .conv).namedParameters().map(\.name)
        XCTAssertTrue(names.contains("encoder.layers.0.layers.1.weight") && names.contains { $0.hasPrefix("decoder.layers.2.layers.") }, "\(names)")
        XCTAssertThrowsError(try Zoo.run("rbf", ZooOptions(out: folder + "/x", progress: .silent, architecture: .conv))) { error in
            XCTAssertTrue("\(error)".contains("--arch applies to the image entries (ae, dae, vae, gan), not to rbf"), "\(error)")
        }
    }

    func testPCAFindsTheLeadingDirection() {
        // Points along (3, 4)/5 with small noise: the first component is ±(0.6, 0.8).
        let g = RandomGenerator(seed: 5)
        let x = Tensor((0..<500).flatMap { _ -> [Double] in let t = 3 * g.nextNormal(); return [0.6 * t + 0.05 * g.nextNormal(), 0.8 * t + 0.05 * g.nextNormal()] },
                       shape: [500, 2])
        let pca = Zoo.PCA(x, components: 1)
        let c = pca.components.doubles
        XCTAssertEqual(abs(c[0]), 0.6, accuracy: 0.01)
        XCTAssertEqual(abs(c[1]), 0.8, accuracy: 0.01)
        XCTAssertEqual(c[0].sign, c[1].sign)
        // Two components reconstruct 2-D points exactly.
        XCTAssertLessThan((Zoo.PCA(x, components: 2).reconstruct(x) - x).abs().max().item(), 1e-9)
    }
}
