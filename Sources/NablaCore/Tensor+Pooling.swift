import CNablaKernels

extension Tensor {
    // MARK: Pooling

    /// 2-D max pooling of `[N, C, H, W]` input (PyTorch's `max_pool2d`, dilation 1).
    ///
    /// The stride defaults to the kernel; padding is implicit −∞. Returns the pooled tensor and
    /// the int64 position of each maximum in its `H × W` plane (PyTorch's `return_indices`).
    /// The gradient goes to the first maximum of each window.
    public func maxPool2dWithIndices(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0]) -> (output: Tensor, indices: Tensor) {
        nablaCheck(rank == 4, "max_pool2d: input must be [N, C, H, W], got shape \(shape)")
        let g = Tensor.poolGeometry(op: "max_pool2d", input: shape, kernel: kernel, stride: stride ?? kernel, padding: padding)
        requireFloatingPoint("max_pool2d")
        let x = contiguous().detached()
        let outShape = [shape[0], shape[1], g.oh, g.ow]
        let y = Tensor(uninitializedShape: outShape, dtype: dtype)
        let idx = Tensor(uninitializedShape: outShape, dtype: .int64)
        var gg = g
        if dtype == .float32 {
            nabla_s_maxpool2d_forward(&gg, x.pointer(Float.self), y.pointer(Float.self), idx.pointer(Int64.self))
        } else {
            nabla_d_maxpool2d_forward(&gg, x.pointer(Double.self), y.pointer(Double.self), idx.pointer(Int64.self))
        }
        let inShape = shape
        let out = Tensor.record(y, op: "MaxPool2d", self) { gy in
            let gy = gy.to(x.dtype).contiguous()
            let gx = Tensor(uninitializedShape: inShape, dtype: x.dtype)
            var gg = g
            if x.dtype == .float32 {
                nabla_s_maxpool2d_backward(&gg, gy.pointer(Float.self), idx.pointer(Int64.self), gx.pointer(Float.self))
            } else {
                nabla_d_maxpool2d_backward(&gg, gy.pointer(Double.self), idx.pointer(Int64.self), gx.pointer(Double.self))
            }
            return [gx]
        }
        return (out, idx)
    }

    /// 2-D max pooling (see ``maxPool2dWithIndices(kernel:stride:padding:)``).
    public func maxPool2d(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0]) -> Tensor {
        maxPool2dWithIndices(kernel: kernel, stride: stride, padding: padding).output
    }

    /// 1-D max pooling of `[N, C, L]` input; indices are positions along L.
    public func maxPool1dWithIndices(kernel: Int, stride: Int? = nil, padding: Int = 0) -> (output: Tensor, indices: Tensor) {
        nablaCheck(rank == 3, "max_pool1d: input must be [N, C, L], got shape \(shape)")
        let r = reshaped([shape[0], shape[1], 1, shape[2]])
            .maxPool2dWithIndices(kernel: [1, kernel], stride: [1, stride ?? kernel], padding: [0, padding])
        let l = r.output.shape[3]
        return (r.output.reshaped([shape[0], shape[1], l]), r.indices.reshaped([shape[0], shape[1], l]))
    }

    /// 1-D max pooling of `[N, C, L]` input.
    public func maxPool1d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        maxPool1dWithIndices(kernel: kernel, stride: stride, padding: padding).output
    }

    /// 2-D average pooling of `[N, C, H, W]` input (PyTorch's `avg_pool2d`).
    ///
    /// With `countIncludePad` (PyTorch's default) each window's sum is divided by the
    /// window's size, padding included; otherwise by the number of input elements in it.
    public func avgPool2d(kernel: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0], countIncludePad: Bool = true) -> Tensor {
        nablaCheck(rank == 4, "avg_pool2d: input must be [N, C, H, W], got shape \(shape)")
        var g = Tensor.poolGeometry(op: "avg_pool2d", input: shape, kernel: kernel, stride: stride ?? kernel, padding: padding)
        g.count_include_pad = countIncludePad ? 1 : 0
        requireFloatingPoint("avg_pool2d")
        let x = contiguous().detached()
        let y = Tensor(uninitializedShape: [shape[0], shape[1], g.oh, g.ow], dtype: dtype)
        var gg = g
        if dtype == .float32 { nabla_s_avgpool2d_forward(&gg, x.pointer(Float.self), y.pointer(Float.self)) }
        else { nabla_d_avgpool2d_forward(&gg, x.pointer(Double.self), y.pointer(Double.self)) }
        let inShape = shape, dt = dtype
        return Tensor.record(y, op: "AvgPool2d", self) { gy in
            let gy = gy.to(dt).contiguous()
            let gx = Tensor(uninitializedShape: inShape, dtype: dt)
            var gg = g
            if dt == .float32 { nabla_s_avgpool2d_backward(&gg, gy.pointer(Float.self), gx.pointer(Float.self)) }
            else { nabla_d_avgpool2d_backward(&gg, gy.pointer(Double.self), gx.pointer(Double.self)) }
            return [gx]
        }
    }

    /// 1-D average pooling of `[N, C, L]` input.
    public func avgPool1d(kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
        nablaCheck(rank == 3, "avg_pool1d: input must be [N, C, L], got shape \(shape)")
        let y = reshaped([shape[0], shape[1], 1, shape[2]])
            .avgPool2d(kernel: [1, kernel], stride: [1, stride ?? kernel], padding: [0, padding], countIncludePad: countIncludePad)
        return y.reshaped([shape[0], shape[1], y.shape[3]])
    }

    /// Adaptive 2-D average pooling to an `outputSize` grid (PyTorch's `adaptive_avg_pool2d`):
    /// output cell i averages input rows ⌊i·H/h⌋ ..< ⌈(i+1)·H/h⌉ (likewise for columns).
    /// `[1, 1]` is global average pooling.
    public func adaptiveAvgPool2d(_ outputSize: [Int]) -> Tensor {
        nablaCheck(rank == 4, "adaptive_avg_pool2d: input must be [N, C, H, W], got shape \(shape)")
        nablaCheck(outputSize.count == 2 && outputSize.allSatisfy { $0 >= 1 },
                   "adaptive_avg_pool2d: output size must be two positive sizes, got \(outputSize)")
        requireFloatingPoint("adaptive_avg_pool2d")
        if outputSize == [1, 1] { return mean(axes: [2, 3], keepDims: true) }
        let (h, w) = (shape[2], shape[3]), (oh, ow) = (outputSize[0], outputSize[1])
        func bounds(_ i: Int, _ n: Int, _ o: Int) -> (Int, Int) { (i * n / o, ((i + 1) * n + o - 1) / o) }
        // The pooling as a fixed linear map on each plane: y = P_h · x · P_wᵀ.
        func matrix(_ n: Int, _ o: Int) -> Tensor {
            var m = [Double](repeating: 0, count: o * n)
            for i in 0..<o {
                let (s, e) = bounds(i, n, o)
                for j in s..<e { m[i * n + j] = 1 / Double(e - s) }
            }
            return Tensor(m, shape: [o, n]).to(dtype)
        }
        let ph = matrix(h, oh), pw = matrix(w, ow)
        return ph.matmul(self).matmul(pw.transposed(0, 1))
    }

    /// Checked pooling geometry over the planes of an `[N, C, H, W]` input.
    static func poolGeometry(op: String, input: [Int], kernel: [Int], stride: [Int], padding: [Int]) -> nabla_pool_geom {
        nablaCheck(kernel.count == 2 && stride.count == 2 && padding.count == 2,
                   "\(op): kernel, stride and padding need two values each, got \(kernel), \(stride), \(padding)")
        nablaCheck(kernel.allSatisfy { $0 >= 1 } && stride.allSatisfy { $0 >= 1 } && padding.allSatisfy { $0 >= 0 },
                   "\(op): kernel \(kernel) and stride \(stride) must be positive, padding \(padding) non-negative")
        nablaCheck(padding[0] * 2 <= kernel[0] && padding[1] * 2 <= kernel[1],
                   "\(op): padding \(padding) must be at most half the kernel \(kernel)")
        var g = nabla_pool_geom()
        g.planes = input[0] * input[1]; g.h = input[2]; g.w = input[3]
        g.kh = kernel[0]; g.kw = kernel[1]; g.sh = stride[0]; g.sw = stride[1]; g.ph = padding[0]; g.pw = padding[1]
        g.oh = convOutputSize(input: g.h, kernel: g.kh, stride: g.sh, padBefore: g.ph, padAfter: g.ph)
        g.ow = convOutputSize(input: g.w, kernel: g.kw, stride: g.sw, padBefore: g.pw, padAfter: g.pw)
        nablaCheck(g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw && g.oh > 0 && g.ow > 0,
                   "\(op): kernel \(kernel) does not fit the input \(Array(input[2...])) with padding \(padding): the pooled size reaches zero")
        g.count_include_pad = 1
        return g
    }

    // MARK: Upsampling

    /// Upsamples `[N, C, H, W]` by an integer `scale` (PyTorch's `Upsample`): `nearest` repeats
    /// each pixel; `bilinear` interpolates with `align_corners=False`.
    public func upsample2d(scale: Int, mode: UpsampleMode = .nearest) -> Tensor {
        nablaCheck(rank == 4, "upsample: input must be [N, C, H, W], got shape \(shape)")
        nablaCheck(scale >= 1, "upsample: scale must be a positive integer, got \(scale)")
        requireFloatingPoint("upsample")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        switch mode {
        case .nearest:
            // [N, C, H, 1, W, 1] expanded to [N, C, H, s, W, s]: a view, then made contiguous.
            return reshaped([n, c, h, 1, w, 1]).broadcast(to: [n, c, h, scale, w, scale]).contiguous()
                .reshaped([n, c, h * scale, w * scale])
        case .bilinear:
            // Separable: y = A_h · x · A_wᵀ with A the 1-D interpolation matrix.
            func matrix(_ size: Int) -> Tensor {
                let o = size * scale
                var m = [Double](repeating: 0, count: o * size)
                for i in 0..<o {
                    var src = (Double(i) + 0.5) / Double(scale) - 0.5
                    if src < 0 { src = 0 }
                    let i0 = Swift.min(Int(src), size - 1), i1 = Swift.min(i0 + 1, size - 1)
                    let l1 = src - Double(i0)
                    m[i * size + i0] += 1 - l1
                    m[i * size + i1] += l1
                }
                return Tensor(m, shape: [o, size]).to(dtype)
            }
            return matrix(h).matmul(self).matmul(matrix(w).transposed(0, 1))
        }
    }
}

/// How ``Tensor/upsample2d(scale:mode:)`` fills the new pixels.
public enum UpsampleMode: String, Sendable, CaseIterable {
    /// Each pixel repeated.
    case nearest
    /// Bilinear interpolation (`align_corners=False`).
    case bilinear
}
