import CNablaKernels

/// Scaled dot-product attention, `softmax(q·kᵀ·scale + mask)·v`, as one fused graph node
/// (PyTorch's `F.scaled_dot_product_attention`).
///
/// - Parameters:
///   - query: `[..., L, E]`: L query rows (any leading batch axes; usually `[B, heads, L, E]`).
///   - key: `[..., S, E]`, with the same leading axes.
///   - value: `[..., S, Ev]`, with the same leading axes.
///   - mask: a bool tensor (true: the key takes part, as PyTorch's SDPA) or a float tensor
///     added to the scores, broadcastable to `[..., L, S]`. It is a constant: a mask that
///     requires gradients is refused.
///   - causal: query i sees keys 0…i only (top-left aligned when L ≠ S, as PyTorch).
///   - dropout: the probability of zeroing each attention weight (the survivors are scaled
///     by 1/(1 − p)); the caller passes 0 in evaluation.
///   - scale: multiplies q·kᵀ (default 1/√E).
///   - generator: where dropout draws its seed (default the global generator).
/// - Returns: `[..., L, Ev]`. A query row with no visible key gives 0 (PyTorch gives NaN).
///
/// The kernel is tiled with an online softmax (FlashAttention's scheme): the L×S weights are
/// never stored. Beyond the inputs and outputs the forward pass keeps one 64×64 tile of
/// scores per thread and one log-sum-exp per query row, so memory grows linearly in L; the
/// backward pass recomputes each tile's weights from those. Dropout's mask is a hash of the
/// position and a seed, so it too is recomputed rather than stored.
public func scaledDotProductAttention(_ query: Tensor, _ key: Tensor, _ value: Tensor, mask: Tensor? = nil,
                                      causal: Bool = false, dropout: Double = 0, scale: Double? = nil,
                                      generator: RandomGenerator? = nil) -> Tensor {
    let what = "scaledDotProductAttention"
    query.requireFloatingPoint(what)
    nablaCheck(query.rank >= 2 && key.rank == query.rank && value.rank == query.rank,
               "\(what): query \(query.shape), key \(key.shape) and value \(value.shape) must have the same rank, at least 2 ([..., rows, features])")
    nablaCheck(key.dtype == query.dtype && value.dtype == query.dtype,
               "\(what): query, key and value must share a dtype, got \(query.dtype), \(key.dtype) and \(value.dtype)")
    let r = query.rank
    let batch = Array(query.shape[..<(r - 2)])
    nablaCheck(Array(key.shape[..<(r - 2)]) == batch && Array(value.shape[..<(r - 2)]) == batch,
               "\(what): the leading axes of query \(query.shape), key \(key.shape) and value \(value.shape) must be equal")
    let L = query.shape[r - 2], E = query.shape[r - 1], S = key.shape[r - 2], Ev = value.shape[r - 1]
    nablaCheck(key.shape[r - 1] == E, "\(what): query \(query.shape) and key \(key.shape) have different feature sizes (\(E) and \(key.shape[r - 1]))")
    nablaCheck(value.shape[r - 2] == S, "\(what): key \(key.shape) and value \(value.shape) have different numbers of rows (\(S) and \(value.shape[r - 2]))")
    nablaCheck(dropout >= 0 && dropout < 1, "\(what): dropout must be in [0, 1), got \(dropout)")
    let s = scale ?? (E > 0 ? 1 / Double(E).squareRoot() : 1)
    nablaCheck(s.isFinite, "\(what): scale must be finite, got \(s)")
    // Batch axes as (B, H): a rank-4 tensor keeps its strides; other ranks are viewed so.
    let bh: [Int]
    switch r {
    case 2: bh = [1, 1]
    case 3: bh = [batch[0], 1]
    default: bh = [Shape.count(Array(batch.dropLast())), batch.last!]
    }
    func as4(_ t: Tensor) -> Tensor {
        var x = r == 4 ? t : t.reshaped(bh + Array(t.shape.suffix(2)))
        if x.strides.last != 1 && x.shape.last! > 1 { x = x.contiguous() }
        return x
    }
    let q4 = as4(query.detached()), k4 = as4(key.detached()), v4 = as4(value.detached())
    let dtype = query.dtype

    // The additive mask, materialised as [mask's batch axes (1 or full)…, 1 or L, S].
    var maskTensor: Tensor? = nil
    var maskOffsets: [Int64] = []
    var maskRowStride = 0
    if let mask {
        nablaCheck(mask.liveNode == nil,
                   "\(what): the mask requires gradients; attention masks are constants here (detach it)")
        let full = batch + [L, S]
        nablaCheck(mask.rank <= full.count && Shape.broadcast(mask.shape, full) == full,
                   "\(what): a mask of shape \(mask.shape) does not broadcast to the scores' shape \(full) ([..., L, S])")
        let padded = [Int](repeating: 1, count: full.count - mask.rank) + mask.shape
        var target = padded
        target[target.count - 1] = S
        let m = mask.detached().reshaped(padded).broadcast(to: target).contiguous()
        let additive: Tensor
        if m.dtype == .bool {
            additive = Tensor(uninitializedShape: target, dtype: dtype)
            let src = m.pointer(Bool.self)
            if dtype == .float32 {
                let dst = additive.pointer(Float.self)
                for i in 0..<m.count { dst[i] = src[i] ? 0 : -.infinity }
            } else {
                let dst = additive.pointer(Double.self)
                for i in 0..<m.count { dst[i] = src[i] ? 0 : -.infinity }
            }
        } else {
            m.requireFloatingPoint("\(what) (mask)")
            additive = m.to(dtype)
        }
        maskTensor = additive
        maskRowStride = target[target.count - 2] == 1 ? 0 : S
        // The offset of each flattened batch index's [Lm, S] block.
        let batchShape = Array(target.dropLast(2)), st = Shape.strides(target)
        let n = Shape.count(batch), bst = Shape.strides(batch)
        maskOffsets.reserveCapacity(n)
        for i in 0..<n {
            var off = 0, rem = i
            for d in 0..<batch.count {
                let c = rem / bst[d]; rem %= bst[d]
                if batchShape[d] != 1 { off += c * st[d] }
            }
            maskOffsets.append(Int64(off))
        }
    }
    let seed = dropout > 0 ? (generator ?? RandomGenerator.global).next() : 0

    var g = nabla_attn_geom()
    g.B = bh[0]; g.H = bh[1]; g.L = L; g.S = S; g.E = E; g.Ev = Ev
    let qs = q4.strides, ks = k4.strides, vs = v4.strides
    g.q_sb = qs[0]; g.q_sh = qs[1]; g.q_sr = qs[2]
    g.k_sb = ks[0]; g.k_sh = ks[1]; g.k_sr = ks[2]
    g.v_sb = vs[0]; g.v_sh = vs[1]; g.v_sr = vs[2]
    g.scale = s; g.causal = causal ? 1 : 0; g.dropout = dropout; g.seed = seed
    g.mask_row_stride = maskRowStride

    let out = Tensor(uninitializedShape: batch + [L, Ev], dtype: dtype)
    let lse = Tensor(uninitializedShape: batch + [L], dtype: dtype)
    func withGeometry(_ body: (inout nabla_attn_geom) -> Void) {
        var g = g
        maskOffsets.withUnsafeBufferPointer { offsets in
            if let maskTensor {
                g.mask = UnsafeRawPointer(maskTensor.rootStorage.raw)
                g.mask_offsets = offsets.baseAddress
            }
            body(&g)
        }
    }
    func base<T: TensorElement>(_ t: Tensor, _: T.Type) -> UnsafePointer<T> {
        UnsafePointer(t.rootStorage.pointer(T.self) + t.storageOffset)
    }
    withGeometry { g in
        if dtype == .float32 {
            nabla_s_attention_forward(&g, base(q4, Float.self), base(k4, Float.self), base(v4, Float.self),
                                      out.pointer(Float.self), lse.pointer(Float.self))
        } else {
            nabla_d_attention_forward(&g, base(q4, Double.self), base(k4, Double.self), base(v4, Double.self),
                                      out.pointer(Double.self), lse.pointer(Double.self))
        }
    }
    guard nabla_grad_enabled() != 0, query.liveNode != nil || key.liveNode != nil || value.liveNode != nil else { return out }
    let qShape = query.shape, kShape = key.shape, vShape = value.shape
    return Tensor.record(out, op: "ScaledDotProductAttention", inputs: [query, key, value]) { gy in
        let dout = gy.to(dtype).contiguous()
        let dq = Tensor(uninitializedShape: qShape, dtype: dtype)
        let dk = Tensor(uninitializedShape: kShape, dtype: dtype)
        let dv = Tensor(uninitializedShape: vShape, dtype: dtype)
        withGeometry { g in
            if dtype == .float32 {
                nabla_s_attention_backward(&g, base(q4, Float.self), base(k4, Float.self), base(v4, Float.self),
                                           out.pointer(Float.self), lse.pointer(Float.self), dout.pointer(Float.self),
                                           dq.pointer(Float.self), dk.pointer(Float.self), dv.pointer(Float.self))
            } else {
                nabla_d_attention_backward(&g, base(q4, Double.self), base(k4, Double.self), base(v4, Double.self),
                                           out.pointer(Double.self), lse.pointer(Double.self), dout.pointer(Double.self),
                                           dq.pointer(Double.self), dk.pointer(Double.self), dv.pointer(Double.self))
            }
        }
        return [dq, dk, dv]
    }.saving(q4, k4, v4)
}
