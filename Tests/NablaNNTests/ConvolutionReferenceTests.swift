import Foundation
import XCTest
@testable import NablaNN
import NablaCore
import _NablaTestSupport

/// Every convolution, pooling, normalisation and upsampling layer against PyTorch: forward
/// values and the gradients of sum(gy · y) with respect to the input and the parameters, in
/// float64. The numbers come from `Scripts/reference_cnn.py` (PyTorch, float64), stored in
/// `Fixtures/cnn_reference.json`; nothing here is computed by Nabla's own formulas.
final class ConvolutionReferenceTests: XCTestCase {
    struct Stored: Decodable { let shape: [Int]; let data: [Double] }
    struct Case: Decodable { let tensors: [String: Stored] }
    struct File: Decodable { let cases: [String: Case] }

    static let cases: [String: Case] = {
        guard let url = Bundle.module.url(forResource: "cnn_reference", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [:] }
        return file.cases
    }()

    func tensor(_ c: Case, _ name: String) -> Tensor {
        let s = c.tensors[name]!
        return Tensor(s.data, shape: s.shape)
    }

    /// Runs `layer` (converted to float64, parameters loaded from the case) on the case's
    /// input and compares output and gradients with PyTorch's.
    func check(_ name: String, _ layer: Module, tolerance: Double = 1e-9, file: StaticString = #filePath, line: UInt = #line) {
        guard let c = Self.cases[name] else { return XCTFail("no reference case \(name)", file: file, line: line) }
        var state: [String: Tensor] = [:]
        for (key, _) in layer.stateDict() where c.tensors[key] != nil {
            // Running statistics are compared after the step, so load their initial values.
            if key.hasPrefix("running") || key == "num_batches_tracked" { continue }
            state[key] = tensor(c, key)
        }
        XCTAssertNoThrow(try layer.loadStateDict(state, strict: false), file: file, line: line)
        let x = tensor(c, "x").requiringGrad()
        let y = layer(x)
        let ref = tensor(c, "y")
        XCTAssertEqual(y.shape, ref.shape, "\(name): output shape", file: file, line: line)
        guard y.shape == ref.shape else { return }
        XCTAssertTrue(allClose(y, ref, rtol: tolerance, atol: tolerance), "\(name): output differs from PyTorch by \((y - ref).abs().max().item())", file: file, line: line)
        (y * tensor(c, "gy")).sum().backward()
        let dx = x.grad!
        XCTAssertTrue(allClose(dx, tensor(c, "dx"), rtol: tolerance, atol: tolerance), "\(name): input gradient differs by \((dx - tensor(c, "dx")).abs().max().item())", file: file, line: line)
        for (key, p) in layer.namedParameters() {
            guard c.tensors["d" + key] != nil else { continue }
            let g = p.grad!
            XCTAssertTrue(allClose(g, tensor(c, "d" + key), rtol: tolerance, atol: tolerance), "\(name): gradient of \(key) differs by \((g - tensor(c, "d" + key)).abs().max().item())", file: file, line: line)
        }
    }

    func testFixtureLoads() { XCTAssertGreaterThanOrEqual(Self.cases.count, 26) }

    func testConv2d() {
        check("conv2d_basic", Conv2d(3, 4, kernelSize: [3, 2], stride: [2, 1], padding: .perAxis([1, 0]), dtype: .float64))
        check("conv2d_dilation_groups", Conv2d(4, 6, kernelSize: [3], padding: 2, dilation: [2], groups: 2, dtype: .float64))
        check("conv2d_depthwise", Conv2d(3, 3, kernelSize: [3], padding: 1, groups: 3, bias: false, dtype: .float64))
        check("conv2d_same_even", Conv2d(2, 3, kernelSize: [4, 2], padding: .same, dtype: .float64))
        check("conv2d_stride3_batch1", Conv2d(2, 2, kernelSize: [3], stride: [3], padding: 1, dtype: .float64))
    }

    func testConv1d() {
        check("conv1d", Conv1d(3, 5, kernelSize: 3, stride: 2, padding: 1, dtype: .float64))
        check("conv1d_dilation_groups", Conv1d(4, 2, kernelSize: 2, padding: 1, dilation: 3, groups: 2, dtype: .float64))
    }

    func testConvTranspose2d() {
        check("conv_transpose2d", ConvTranspose2d(4, 3, kernelSize: [3], stride: [2], padding: [1], outputPadding: [1], dtype: .float64))
        check("conv_transpose2d_groups", ConvTranspose2d(4, 6, kernelSize: [2, 3], stride: [1, 2], groups: 2, dtype: .float64))
    }

    func testPooling() {
        check("maxpool2d", MaxPool2d(kernelSize: [3], stride: [2], padding: [1]))
        check("maxpool2d_default_stride", MaxPool2d(kernelSize: [2]))
        check("maxpool1d", MaxPool1d(kernelSize: 3, stride: 2, padding: 1))
        check("avgpool2d", AvgPool2d(kernelSize: [3], stride: [2], padding: [1]))
        check("avgpool1d", AvgPool1d(kernelSize: 2))
        check("adaptive_avgpool2d_global", AdaptiveAvgPool2d([1, 1]))
        check("adaptive_avgpool2d_uneven", AdaptiveAvgPool2d([3, 2]))
    }

    /// PyTorch's `return_indices`: int64 positions in each plane.
    func testMaxPoolIndices() throws {
        for (name, one) in [("maxpool2d", false), ("maxpool1d", true)] {
            let c = try XCTUnwrap(Self.cases[name])
            let x = tensor(c, "x")
            let idx = one ? x.maxPool1dWithIndices(kernel: 3, stride: 2, padding: 1).indices
                          : x.maxPool2dWithIndices(kernel: [3, 3], stride: [2, 2], padding: [1, 1]).indices
            XCTAssertEqual(idx.dtype, .int64)
            XCTAssertEqual(idx.int64s.map(Double.init), c.tensors["indices"]!.data, name)
        }
    }

    func testUpsample() {
        check("upsample_nearest", Upsample(scale: 2, mode: .nearest))
        check("upsample_bilinear", Upsample(scale: 2, mode: .bilinear))
        check("upsample_bilinear_1x1", Upsample(scale: 2, mode: .bilinear))
    }

    func testLayerAndGroupNorm() {
        check("layernorm_last", LayerNorm([5], dtype: .float64))
        check("layernorm_trailing3", LayerNorm([3, 4, 5], dtype: .float64))
        check("groupnorm", GroupNorm(3, 6, dtype: .float64))
    }

    /// Training mode: batch statistics, and the running statistics after one step (momentum
    /// 0.1, unbiased variance) and the int64 batch counter.
    func testBatchNormTraining() throws {
        for (name, layer) in [("batchnorm2d_train", BatchNorm2d(3, dtype: .float64) as BatchNormBase),
                              ("batchnorm1d_train_2d", BatchNorm1d(4, dtype: .float64)),
                              ("batchnorm1d_train_3d", BatchNorm1d(4, dtype: .float64))] {
            check(name, layer)
            let c = try XCTUnwrap(Self.cases[name])
            XCTAssertTrue(allClose(layer.runningMean!, tensor(c, "running_mean"), rtol: 1e-9, atol: 1e-12), name)
            XCTAssertTrue(allClose(layer.runningVar!, tensor(c, "running_var"), rtol: 1e-9, atol: 1e-12), name)
            XCTAssertEqual(layer.numBatchesTracked!.dtype, .int64)
            XCTAssertEqual(layer.numBatchesTracked!.int64s, [1])
        }
    }

    /// Evaluation mode: the stored running statistics, gradients to input, weight and bias.
    func testBatchNormEval() throws {
        let layer = BatchNorm2d(3, dtype: .float64)
        let c = try XCTUnwrap(Self.cases["batchnorm2d_eval"])
        try layer.loadStateDict(["running_mean": tensor(c, "running_mean"), "running_var": tensor(c, "running_var")], strict: false)
        layer.eval()
        check("batchnorm2d_eval", layer)
        XCTAssertEqual(layer.numBatchesTracked!.int64s, [0], "evaluation does not count batches")
    }
}
