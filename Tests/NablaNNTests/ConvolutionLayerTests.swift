import XCTest
import NablaCore
@testable import NablaNN
import _NablaTestSupport

/// Convolution, pooling and normalisation layers: PyTorch's names, shapes, defaults and
/// initialisation; bad input named by layer and shape; the YAML entries.
final class ConvolutionLayerTests: XCTestCase {
    func testStateDictNamesAndShapesArePyTorchs() {
        let model = Sequential {
            Conv2d(1, 8, kernelSize: [3], padding: 1); BatchNorm2d(8); ReLU()
            ConvTranspose2d(8, 4, kernelSize: [2], stride: [2]); GroupNorm(2, 4); LayerNorm([4])
        }
        let state = Dictionary(model.orderedStateDict().map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
        // torch.nn.Conv2d(1, 8, 3).weight is [8, 1, 3, 3]; ConvTranspose2d(8, 4, 2).weight is [8, 4, 2, 2].
        XCTAssertEqual(state["layers.0.weight"], [8, 1, 3, 3])
        XCTAssertEqual(state["layers.0.bias"], [8])
        XCTAssertEqual(state["layers.1.running_mean"], [8])
        XCTAssertEqual(state["layers.1.running_var"], [8])
        XCTAssertEqual(state["layers.1.num_batches_tracked"], [])
        XCTAssertEqual(state["layers.3.weight"], [8, 4, 2, 2])
        XCTAssertEqual(state["layers.4.weight"], [4])
        XCTAssertEqual(state["layers.5.bias"], [4])
        XCTAssertEqual(model.stateDict()["layers.1.num_batches_tracked"]?.dtype, .int64)
        // Buffers are not parameters: an optimizer never sees them.
        XCTAssertEqual(Set(model.namedBuffers().map(\.name)), ["layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked"])
    }

    func testDefaultInitialisationBoundIsOneOverRootFanIn() {
        // PyTorch: kaiming_uniform(a = √5) gives U(±1/√fan_in), fan_in = in/groups · kH · kW
        // (for a transposed convolution the weight's second axis: out/groups · kH · kW).
        let conv = Conv2d(6, 40, kernelSize: [3, 5], groups: 2, generator: RandomGenerator(seed: 4))
        let bound = 1 / (3.0 * 15).squareRoot()
        XCTAssertLessThanOrEqual(conv.weight.abs().max().item(), bound)
        XCTAssertGreaterThan(conv.weight.abs().max().item(), 0.9 * bound)
        let t = ConvTranspose2d(4, 6, kernelSize: [3], generator: RandomGenerator(seed: 4))
        let tb = 1 / (6.0 * 9).squareRoot()
        XCTAssertLessThanOrEqual(t.weight.abs().max().item(), tb)
        XCTAssertGreaterThan(t.weight.abs().max().item(), 0.9 * tb)
    }

    func testOutputShapes() {
        let x = Tensor.randomNormal([2, 3, 28, 28])
        XCTAssertEqual(Conv2d(3, 5, kernelSize: [3]).forward(x).shape, [2, 5, 26, 26])
        XCTAssertEqual(Conv2d(3, 5, kernelSize: [4], padding: .same).forward(x).shape, [2, 5, 28, 28])
        XCTAssertEqual(Conv2d(3, 5, kernelSize: [3], stride: [2], padding: 1).forward(x).shape, [2, 5, 14, 14])
        XCTAssertEqual(MaxPool2d(kernelSize: [2]).forward(x).shape, [2, 3, 14, 14])
        XCTAssertEqual(MaxPool2d(kernelSize: [3], stride: [2]).forward(x).shape, [2, 3, 13, 13])
        XCTAssertEqual(AdaptiveAvgPool2d([1]).forward(x).shape, [2, 3, 1, 1])
        XCTAssertEqual(ConvTranspose2d(3, 2, kernelSize: [3], stride: [2], padding: [1], outputPadding: [1]).forward(x).shape, [2, 2, 56, 56])
        XCTAssertEqual(Upsample(scale: 2).forward(x).shape, [2, 3, 56, 56])
    }

    /// Each message names the layer by its dotted path and says what was wrong with which shapes.
    func testBadInputNamesTheLayerAndTheShapes() {
        let model = Sequential { Conv2d(3, 4, kernelSize: [5]); MaxPool2d(kernelSize: [4]); GroupNorm(2, 4) }
        _ = model.namedModules()
        let conv = model[0] as! Conv2d, pool = model[1] as! MaxPool2d
        XCTAssertEqual(conv.validateInput(Tensor.zeros([2, 1, 8, 8])),
                       "'layers.0' (Conv2d): expected 3 input channels, got 1 (input shape [2, 1, 8, 8])")
        XCTAssertEqual(conv.validateInput(Tensor.zeros([2, 3, 4, 8])),
                       "'layers.0' (Conv2d): kernel [5, 5] (dilation [1, 1]) is larger than the padded input [4, 8] (padding valid)")
        XCTAssertEqual(conv.validateInput(Tensor.zeros([3, 8, 8])),
                       "'layers.0' (Conv2d): expected input [N, 3, H, W], got shape [3, 8, 8]")
        XCTAssertEqual(pool.validateInput(Tensor.zeros([1, 4, 3, 9])),
                       "'layers.1' (MaxPool2d): kernel [4, 4] does not fit the input [3, 9] (padding [0, 0]): the pooled size reaches zero")
        XCTAssertNil(pool.validateInput(Tensor.zeros([1, 4, 4, 9])))
        let bn = BatchNorm2d(4)
        XCTAssertEqual(bn.validateInput(Tensor.zeros([2, 3, 5, 5])), "BatchNorm2d: expected 4 channels, got 3 (input shape [2, 3, 5, 5])")
        XCTAssertEqual(BatchNorm1d(4).validateInput(Tensor.zeros([2, 4, 5, 5])),
                       "BatchNorm1d: expected input [N, 4] or [N, 4, L], got shape [2, 4, 5, 5]")
    }

    func testBadArchitecturesNameTheLayer() {
        func message(_ input: [Int], _ layers: [LayerSpec]) -> String {
            do { _ = try ModelSpec(input: input, layers: layers).validated(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("conv2d", ["out": 4, "kernel": 3, "groups": 2])]),
                       "architecture: layer 0 (conv2d): groups 2 must divide the input channels 3 and the output channels 4")
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("conv2d", ["out": 4, "kernel": 9])]),
                       "architecture: layer 0 (conv2d): kernel [9, 9] (dilation [1, 1]) is larger than the padded input [8, 8] (padding valid)")
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("conv2d", ["out": 4, "kernel": 3, "in": 2])]),
                       "architecture: layer 0 (conv2d): declares in = 2 but the previous layer produces 3 channels (shape [3, 8, 8])")
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("maxpool2d", ["kernel": 2]), LayerSpec("maxpool2d", ["kernel": 2]),
                                           LayerSpec("maxpool2d", ["kernel": 2]), LayerSpec("maxpool2d", ["kernel": 2])]),
                       "architecture: layer 3 (maxpool2d): kernel [2, 2] does not fit the input [1, 1] (padding [0, 0]): the pooled size reaches zero")
        XCTAssertTrue(message([3, 8, 8], [LayerSpec("maxpool2d", ["kernel": 2, "dilation": 2])])
            .hasPrefix("architecture: layer 0 (maxpool2d): unknown option 'dilation'; maxpool2d takes 'kernel', 'stride', 'padding'"))
        XCTAssertEqual(message([4, 8, 8], [LayerSpec("groupnorm", ["groups": 3])]),
                       "architecture: layer 0 (groupnorm): groups 3 do not divide the 4 channels (input shape [4, 8, 8])")
        XCTAssertEqual(message([8], [LayerSpec("conv2d", ["out": 4, "kernel": 3])]),
                       "architecture: layer 0 (conv2d): expects inputs [C, H, W] per example, got [8]")
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("residual", ["layers": .layers([LayerSpec("conv2d", ["out": 5, "kernel": 3, "padding": 1])])])]),
                       "architecture: layer 0 (residual): the body maps shape [3, 8, 8] to [5, 8, 8]; a residual block must keep the shape")
        XCTAssertEqual(message([3, 8, 8], [LayerSpec("residual", ["layers": .layers([LayerSpec("conv2d", ["out": 3, "kernel": 3, "padding": "full"])])])]),
                       "architecture: layer 0 (residual): layers 0 (conv2d): 'padding' must be a non-negative integer, a list of them, 'same' or 'valid', got 'full'")
    }

    /// Sizes from a file never trap on overflow: they are rejected with a message.
    func testHugeSizesAreRejectedNotOverflowed() {
        func message(_ input: [Int], _ layers: [LayerSpec]) -> String {
            do { _ = try ModelSpec(input: input, layers: layers).validated(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message([1, 8, 8], [LayerSpec("conv2d", ["out": 1, "kernel": .int(1 << 62), "dilation": 4])]),
                       "architecture: layer 0 (conv2d): kernel 4611686018427387904 is larger than 1048576")
        XCTAssertEqual(message([1, 8, 8], [LayerSpec("conv2d", ["out": 1, "kernel": 3, "padding": .int(Int.max)])]),
                       "architecture: layer 0 (conv2d): padding 9223372036854775807 is larger than 1048576")
        XCTAssertEqual(message([1, 8, 8], [LayerSpec("upsample", ["scale": .int(1 << 40)])]),
                       "architecture: layer 0 (upsample): scale 1099511627776 is larger than 1048576")
        XCTAssertEqual(message([1, 1 << 50, 1], [LayerSpec("conv_transpose2d", ["out": 1, "kernel": 1, "stride": .int(1 << 20)])]),
                       "architecture: layer 0 (conv_transpose2d): the output size overflows 64 bits")
        XCTAssertEqual(message([1, Int.max - 1, 1], [LayerSpec("maxpool2d", ["kernel": [2, 1], "padding": [1, 0]])]),
                       "architecture: layer 0 (maxpool2d): the output size overflows 64 bits")
    }

    func testMalformedOptionsAreErrorsNotTraps() {
        func message(_ input: [Int], _ layers: [LayerSpec]) -> String {
            do { _ = try ModelSpec(input: input, layers: layers).validated(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message([2, 8, 8], [LayerSpec("adaptive_avgpool2d", ["out": [1, 2, 3]])]),
                       "architecture: layer 0 (adaptive_avgpool2d): out [1, 2, 3] needs 1 or 2 values")
        XCTAssertEqual(message([2, 8, 8], [LayerSpec("batchnorm2d", ["eps": -1.0])]),
                       "architecture: layer 0 (batchnorm2d): eps must be non-negative, got -1.0")
        XCTAssertEqual(message([2, 8, 8], [LayerSpec("conv_transpose2d", ["out": 2, "kernel": 2, "output_padding": "same"])]),
                       "architecture: layer 0 (conv_transpose2d): output_padding 'same' is not available for a transposed convolution; give sizes")
        XCTAssertEqual(message([2, 8, 8], [LayerSpec("batchnorm2d", ["eps": 0])]), "no error")   // PyTorch accepts eps = 0
    }

    func testResidualAddsItsInput() {
        let conv = Conv2d(2, 2, kernelSize: [3], padding: 1, generator: RandomGenerator(seed: 1))
        let block = Residual([conv])
        let x = Tensor.randomNormal([1, 2, 4, 4], generator: RandomGenerator(seed: 2))
        XCTAssertTrue(allClose(block(x), x + conv(x)))
        XCTAssertEqual(block.namedParameters().map(\.name), ["layers.0.weight", "layers.0.bias"])
    }

    /// Training mode moves the running statistics with PyTorch's momentum (0.1 = weight of
    /// the new batch, unbiased variance); momentum nil is a cumulative average.
    func testBatchNormRunningStatistics() {
        // One channel, batch [1, 2, 3, 4]: mean 2.5, unbiased variance 5/3.
        let bn = BatchNorm1d(1, dtype: .float64)
        let x = Tensor([1, 2, 3, 4] as [Double], shape: [4, 1])
        _ = bn(x)
        XCTAssertEqual(bn.runningMean!.doubles[0], 0.25, accuracy: 1e-12)          // 0.9·0 + 0.1·2.5
        XCTAssertEqual(bn.runningVar!.doubles[0], 0.9 + 0.1 * 5 / 3, accuracy: 1e-12)
        let cumulative = BatchNorm1d(1, momentum: nil, dtype: .float64)
        _ = cumulative(x)
        _ = cumulative(x * 3.0)
        // Average of the batch means 2.5 and 7.5, and of the variances 5/3 and 15.
        XCTAssertEqual(cumulative.runningMean!.doubles[0], 5, accuracy: 1e-12)
        XCTAssertEqual(cumulative.runningVar!.doubles[0], (5.0 / 3 + 15) / 2, accuracy: 1e-12)
        XCTAssertEqual(cumulative.numBatchesTracked!.int64s, [2])
        // Evaluation mode uses them and leaves them alone.
        bn.eval()
        let y = bn(Tensor([2.5] as [Double], shape: [1, 1]))
        XCTAssertEqual(y.doubles[0], (2.5 - 0.25) / (0.9 + 0.1 * 5 / 3 + 1e-5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(bn.numBatchesTracked!.int64s, [1])
    }

    func testDropout2dZeroesWholeChannels() {
        let d = Dropout2d(0.5, generator: RandomGenerator(seed: 9))
        let y = d(Tensor.ones([4, 8, 3, 3]))
        let v = y.doubles
        var zeroed = 0
        for plane in 0..<32 {
            let p = Array(v[plane * 9..<(plane + 1) * 9])
            XCTAssertTrue(p.allSatisfy { $0 == 0 } || p.allSatisfy { $0 == 2 }, "plane \(plane) is mixed: \(p)")
            if p[0] == 0 { zeroed += 1 }
        }
        XCTAssertGreaterThan(zeroed, 4)
        XCTAssertLessThan(zeroed, 28)
        d.eval()
        XCTAssertEqual(d(Tensor.ones([1, 2, 2, 2])).doubles, Array(repeating: 1, count: 8))
    }

    /// The 2×2 max pool has a vectorised float32 path: it must pick the same element as the
    /// float64 path, ties to the first, NaN propagated.
    func testMaxPoolFloat32PathAgreesWithFloat64() {
        var values: [Double] = (0..<(2 * 4 * 34)).map { (i: Int) -> Double in Double((i * 7919) % 97) - 48 }
        values[5] = values[4]                         // a tie within one window
        values[70] = .nan; values[71] = .nan          // two NaNs in one window: the last one is taken (PyTorch)
        for width in [34, 11, 16, 7] {
            let x64 = Tensor(Array(values[0..<(8 * width)]), shape: [1, 2, 4, width])
            let (y64, i64) = x64.maxPool2dWithIndices(kernel: [2, 2])
            let (y32, i32) = x64.to(.float32).maxPool2dWithIndices(kernel: [2, 2])
            XCTAssertEqual(i32.int64s, i64.int64s, "width \(width)")
            for (a, b) in zip(y32.doubles, y64.doubles) {
                XCTAssertTrue(a == b || (a.isNaN && b.isNaN), "width \(width): \(a) vs \(b)")
            }
        }
        let y64 = Tensor(values, shape: [1, 2, 4, 34]).maxPool2d(kernel: [2, 2])
        XCTAssertTrue(y64.doubles.contains { $0.isNaN })
    }
}
