import XCTest
import NablaCore
import _NablaTestSupport

/// Gradient checks (central differences in float64, and float32 against float64) for
/// convolution, pooling, normalisation and upsampling: odd sizes, stride > 1, padding,
/// dilation, groups, depthwise, batch 1.
extension GradCheckTests {
    func testConv2dGradients() {
        // [N, C, H, W], weight [O, C/g, kH, kW], bias [O]
        check([[2, 3, 7, 6], [4, 3, 3, 2], [4]]) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: [2, 1], padding: .perAxis([1, 0])) }
        check([[1, 4, 9, 8], [6, 2, 3, 3], [6]]) { $0[0].conv2d(weight: $0[1], bias: $0[2], padding: 2, dilation: [2, 2], groups: 2) }
        check([[2, 3, 5, 5], [3, 1, 3, 3]]) { $0[0].conv2d(weight: $0[1], padding: 1, groups: 3) }            // depthwise, no bias
        check([[1, 2, 6, 7], [3, 2, 4, 2], [3]]) { $0[0].conv2d(weight: $0[1], bias: $0[2], padding: .same) }   // even kernel, asymmetric
        check([[1, 2, 8, 9], [2, 2, 3, 3], [2]]) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: [3, 3], padding: 1) }
        check([[3, 4, 5, 5], [5, 4, 1, 1], [5]]) { $0[0].conv2d(weight: $0[1], bias: $0[2]) }                  // 1×1 (no im2col)
        check([[5, 2, 4, 3], [3, 2, 2, 2]]) { $0[0].conv2d(weight: $0[1]) }                                    // odd batch over 2 threads
        check([[3, 1, 6, 5], [12, 1, 3, 3], [12]]) { $0[0].conv2d(weight: $0[1], bias: $0[2]) }                // few taps: transposed weight gradient
    }

    func testConv1dGradients() {
        check([[2, 3, 10], [5, 3, 3], [5]]) { $0[0].conv1d(weight: $0[1], bias: $0[2], stride: 2, padding: 1) }
        check([[1, 4, 12], [2, 2, 2], [2]]) { $0[0].conv1d(weight: $0[1], bias: $0[2], padding: 1, dilation: 3, groups: 2) }
    }

    func testConvTranspose2dGradients() {
        check([[2, 4, 3, 3], [4, 3, 3, 3], [3]]) { $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: [2, 2], padding: [1, 1], outputPadding: [1, 1]) }
        check([[1, 4, 3, 4], [4, 3, 2, 3], [6]]) { $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: [1, 2], groups: 2) }
    }

    func testPoolingGradients() {
        check([[2, 3, 7, 7]]) { $0[0].maxPool2d(kernel: [3, 3], stride: [2, 2], padding: [1, 1]) }
        check([[1, 2, 5, 6]]) { $0[0].maxPool2d(kernel: [2, 2]) }
        // 2×2 stride 2 on rows of ≥ 16: the vectorised float32 path and its scalar tail.
        check([[2, 2, 4, 22]]) { $0[0].maxPool2d(kernel: [2, 2]) }   // 11 outputs: 8 + an overlapping 8
        check([[2, 2, 4, 11]]) { $0[0].maxPool2d(kernel: [2, 2]) }   // 5 outputs: 4 + an overlapping 4
        check([[2, 3, 9]]) { $0[0].maxPool1d(kernel: 3, stride: 2, padding: 1) }
        check([[2, 3, 7, 7]]) { $0[0].avgPool2d(kernel: [3, 3], stride: [2, 2], padding: [1, 1]) }
        check([[2, 3, 7, 7]]) { $0[0].avgPool2d(kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false) }
        check([[2, 2, 9]]) { $0[0].avgPool1d(kernel: 2) }
        check([[2, 3, 5, 4]]) { $0[0].adaptiveAvgPool2d([1, 1]) }
        check([[1, 2, 7, 5]]) { $0[0].adaptiveAvgPool2d([3, 2]) }
    }

    func testUpsampleGradients() {
        check([[2, 2, 3, 4]]) { $0[0].upsample2d(scale: 2, mode: .nearest) }
        check([[2, 2, 3, 4]]) { $0[0].upsample2d(scale: 2, mode: .bilinear) }
        check([[1, 1, 2, 3]]) { $0[0].upsample2d(scale: 3, mode: .bilinear) }
    }

    func testNormalizationGradients() {
        check([[4, 3, 3, 2], [3], [3]]) { $0[0].batchNormTraining(weight: $0[1], bias: $0[2]).output }
        check([[5, 4], [4], [4]]) { $0[0].batchNormTraining(weight: $0[1], bias: $0[2]).output }
        check([[3, 2, 5]]) { $0[0].batchNormTraining(weight: nil, bias: nil).output }
        check([[3, 2, 2, 2], [2], [2]]) {
            $0[0].batchNormInference(runningMean: Tensor([0.2, -0.1]).to($0[0].dtype), runningVar: Tensor([0.5, 1.5]).to($0[0].dtype),
                                     weight: $0[1], bias: $0[2])
        }
        check([[2, 3, 5], [5], [5]]) { $0[0].layerNorm(dims: 1, weight: $0[1], bias: $0[2]) }
        check([[2, 3, 4], [3, 4], [3, 4]]) { $0[0].layerNorm(dims: 2, weight: $0[1], bias: $0[2]) }
        check([[2, 6, 3, 3], [6], [6]]) { $0[0].groupNorm(groups: 3, weight: $0[1], bias: $0[2]) }
        check([[1, 4, 5]]) { $0[0].groupNorm(groups: 1, weight: nil, bias: nil) }
    }
}
