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
    let masks = AttentionMask(mask, batch: batch, L: L, S: S, dtype: dtype, what: what)
    let seed = dropout > 0 ? (generator ?? RandomGenerator.global).next() : 0
    var g = nabla_attn_geom()
    g.B = bh[0]; g.H = bh[1]; g.L = L; g.S = S; g.E = E; g.Ev = Ev
    g.scale = s; g.causal = causal ? 1 : 0; g.dropout = dropout; g.seed = seed
    let call = AttentionCall(geometry: g, mask: masks)
    let out = Tensor(uninitializedShape: batch + [L, Ev], dtype: dtype)
    let lse = Tensor(uninitializedShape: batch + [L], dtype: dtype)
    let contiguousOut = AttentionLayout(contiguous: [bh[0], bh[1], L, Ev])
    call.forward(q: .init(q4), k: .init(k4), v: .init(v4), out: out, outLayout: contiguousOut, lse: lse)
    guard nabla_grad_enabled() != 0, query.liveNode != nil || key.liveNode != nil || value.liveNode != nil else { return out }
    let qShape = query.shape, kShape = key.shape, vShape = value.shape
    return Tensor.record(out, op: "ScaledDotProductAttention", inputs: [query, key, value]) { gy in
        let dout = gy.to(dtype).contiguous()
        let dq = Tensor(uninitializedShape: qShape, dtype: dtype)
        let dk = Tensor(uninitializedShape: kShape, dtype: dtype)
        let dv = Tensor(uninitializedShape: vShape, dtype: dtype)
        call.backward(q: .init(q4), k: .init(k4), v: .init(v4), out: out, dout: dout, outLayout: contiguousOut, lse: lse,
                      dq: dq, dqLayout: .init(contiguous: [bh[0], bh[1], L, E]), dk: dk, dkLayout: .init(contiguous: [bh[0], bh[1], S, E]),
                      dv: dv, dvLayout: .init(contiguous: [bh[0], bh[1], S, Ev]))
        return [dq, dk, dv]
    }.saving(q4, k4, v4).saving(out)
}

extension Tensor {
    /// Multi-head self-attention straight from a packed projection `[B, L, 3E]` (query, key
    /// and value features side by side, each split into `heads` heads): the kernel reads the
    /// three parts in place and writes the output `[B, L, E]` with the heads side by side, and
    /// the backward pass writes one packed gradient `[B, L, 3E]`. No head is ever copied out.
    package static func packedSelfAttention(_ qkv: Tensor, heads: Int, mask: Tensor?, causal: Bool, dropout: Double,
                                            generator: RandomGenerator?) -> Tensor {
        let what = "packedSelfAttention"
        qkv.requireFloatingPoint(what)
        nablaCheck(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                   "\(what): expected [B, L, 3·E] with E divisible by \(heads) heads, got \(qkv.shape)")
        let B = qkv.shape[0], L = qkv.shape[1], E = qkv.shape[2] / 3, D = E / heads
        let x = qkv.contiguous().detached(), dtype = qkv.dtype
        let masks = AttentionMask(mask, batch: [B, heads], L: L, S: L, dtype: dtype, what: what)
        var g = nabla_attn_geom()
        g.B = B; g.H = heads; g.L = L; g.S = L; g.E = D; g.Ev = D
        g.scale = 1 / Double(D).squareRoot(); g.causal = causal ? 1 : 0; g.dropout = dropout
        g.seed = dropout > 0 ? (generator ?? RandomGenerator.global).next() : 0
        let call = AttentionCall(geometry: g, mask: masks)
        func part(_ t: Tensor, _ i: Int) -> AttentionOperand {
            AttentionOperand(t, AttentionLayout(offset: i * E, sb: L * 3 * E, sh: D, sr: 3 * E))
        }
        let outLayout = AttentionLayout(offset: 0, sb: L * E, sh: D, sr: E)
        let out = Tensor(uninitializedShape: [B, L, E], dtype: dtype)
        let lse = Tensor(uninitializedShape: [B, heads, L], dtype: dtype)
        call.forward(q: part(x, 0), k: part(x, 1), v: part(x, 2), out: out, outLayout: outLayout, lse: lse)
        guard Tensor.recording(qkv) else { return out }
        return Tensor.record(out, op: "SelfAttention", qkv) { gy in
            let dout = gy.to(dtype).contiguous()
            let d = Tensor(uninitializedShape: [B, L, 3 * E], dtype: dtype)
            let q = part(d, 0).layout, k = part(d, 1).layout, v = part(d, 2).layout
            call.backward(q: part(x, 0), k: part(x, 1), v: part(x, 2), out: out, dout: dout, outLayout: outLayout, lse: lse,
                          dq: d, dqLayout: q, dk: d, dkLayout: k, dv: d, dvLayout: v)
            return [d]
        }.saving(x).saving(out)
    }
}

/// Where a [B, H, rows, features] operand lies in its storage (in elements).
struct AttentionLayout {
    var offset: Int, sb: Int, sh: Int, sr: Int
    init(offset: Int, sb: Int, sh: Int, sr: Int) { self.offset = offset; self.sb = sb; self.sh = sh; self.sr = sr }
    /// A dense row-major [B, H, rows, features] tensor.
    init(contiguous shape: [Int]) { self.init(offset: 0, sb: shape[1] * shape[2] * shape[3], sh: shape[2] * shape[3], sr: shape[3]) }
}

/// A tensor read through an ``AttentionLayout`` of its root storage.
struct AttentionOperand {
    let tensor: Tensor
    let layout: AttentionLayout
    init(_ tensor: Tensor, _ layout: AttentionLayout) { self.tensor = tensor; self.layout = layout }
    /// A rank-4 tensor (a view or not) through its own strides.
    init(_ t: Tensor) {
        let st = t.strides
        self.init(t, AttentionLayout(offset: t.storageOffset, sb: st[0], sh: st[1], sr: st[2]))
    }
    func pointer<T: TensorElement>(_: T.Type) -> UnsafeMutablePointer<T> { tensor.rootStorage.pointer(T.self) + layout.offset }
}

/// An attention mask in the kernel's form: additive, `[mask's batch axes…, 1 or L, S]`, with
/// the offset of each (batch, head) pair's block.
struct AttentionMask {
    var tensor: Tensor? = nil
    var offsets: [Int64] = []
    var rowStride = 0

    init(_ mask: Tensor?, batch: [Int], L: Int, S: Int, dtype: DType, what: String) {
        guard let mask else { return }
        nablaCheck(mask.liveNode == nil, "\(what): the mask requires gradients; attention masks are constants here (detach it)")
        let full = batch + [L, S]
        nablaCheck(mask.rank <= full.count && Shape.broadcast(mask.shape, full) == full,
                   "\(what): a mask of shape \(mask.shape) does not broadcast to the scores' shape \(full) ([..., L, S])")
        let padded = [Int](repeating: 1, count: full.count - mask.rank) + mask.shape
        var target = padded
        target[target.count - 1] = S
        let m = mask.detached().reshaped(padded).broadcast(to: target).contiguous()
        if m.dtype == .bool {
            let additive = Tensor(uninitializedShape: target, dtype: dtype)
            let src = m.pointer(Bool.self)
            if dtype == .float32 {
                let dst = additive.pointer(Float.self)
                for i in 0..<m.count { dst[i] = src[i] ? 0 : -.infinity }
            } else {
                let dst = additive.pointer(Double.self)
                for i in 0..<m.count { dst[i] = src[i] ? 0 : -.infinity }
            }
            tensor = additive
        } else {
            m.requireFloatingPoint("\(what) (mask)")
            tensor = m.to(dtype)
        }
        rowStride = target[target.count - 2] == 1 ? 0 : S
        // The offset of each flattened batch index's [Lm, S] block.
        let batchShape = Array(target.dropLast(2)), st = Shape.strides(target)
        let bst = Shape.strides(batch)
        for i in 0..<Shape.count(batch) {
            var off = 0, rem = i
            for d in 0..<batch.count {
                let c = rem / bst[d]; rem %= bst[d]
                if batchShape[d] != 1 { off += c * st[d] }
            }
            offsets.append(Int64(off))
        }
    }
}

/// One attention computation's geometry and mask, run forward and backward by the kernels.
struct AttentionCall {
    let geometry: nabla_attn_geom
    let mask: AttentionMask

    private func with(_ q: AttentionOperand, _ k: AttentionOperand, _ v: AttentionOperand, _ outLayout: AttentionLayout,
                      _ body: (inout nabla_attn_geom) -> Void) {
        var g = geometry
        g.q_sb = q.layout.sb; g.q_sh = q.layout.sh; g.q_sr = q.layout.sr
        g.k_sb = k.layout.sb; g.k_sh = k.layout.sh; g.k_sr = k.layout.sr
        g.v_sb = v.layout.sb; g.v_sh = v.layout.sh; g.v_sr = v.layout.sr
        g.o_sb = outLayout.sb; g.o_sh = outLayout.sh; g.o_sr = outLayout.sr
        g.mask_row_stride = mask.rowStride
        mask.offsets.withUnsafeBufferPointer { offsets in
            if let m = mask.tensor {
                g.mask = UnsafeRawPointer(m.rootStorage.raw)
                g.mask_offsets = offsets.baseAddress
            }
            body(&g)
        }
    }

    func forward(q: AttentionOperand, k: AttentionOperand, v: AttentionOperand, out: Tensor, outLayout: AttentionLayout, lse: Tensor) {
        with(q, k, v, outLayout) { g in
            if out.dtype == .float32 {
                nabla_s_attention_forward(&g, q.pointer(Float.self), k.pointer(Float.self), v.pointer(Float.self),
                                          out.pointer(Float.self) + outLayout.offset, lse.pointer(Float.self))
            } else {
                nabla_d_attention_forward(&g, q.pointer(Double.self), k.pointer(Double.self), v.pointer(Double.self),
                                          out.pointer(Double.self) + outLayout.offset, lse.pointer(Double.self))
            }
        }
    }

    func backward(q: AttentionOperand, k: AttentionOperand, v: AttentionOperand, out: Tensor, dout: Tensor, outLayout: AttentionLayout,
                  lse: Tensor, dq: Tensor, dqLayout: AttentionLayout, dk: Tensor, dkLayout: AttentionLayout,
                  dv: Tensor, dvLayout: AttentionLayout) {
        with(q, k, v, outLayout) { g in
            g.dq_sb = dqLayout.sb; g.dq_sh = dqLayout.sh; g.dq_sr = dqLayout.sr
            g.dk_sb = dkLayout.sb; g.dk_sh = dkLayout.sh; g.dk_sr = dkLayout.sr
            g.dv_sb = dvLayout.sb; g.dv_sh = dvLayout.sh; g.dv_sr = dvLayout.sr
            if out.dtype == .float32 {
                nabla_s_attention_backward(&g, q.pointer(Float.self), k.pointer(Float.self), v.pointer(Float.self),
                                           out.pointer(Float.self) + outLayout.offset, lse.pointer(Float.self),
                                           dout.pointer(Float.self) + outLayout.offset,
                                           dq.pointer(Float.self) + dqLayout.offset, dk.pointer(Float.self) + dkLayout.offset,
                                           dv.pointer(Float.self) + dvLayout.offset)
            } else {
                nabla_d_attention_backward(&g, q.pointer(Double.self), k.pointer(Double.self), v.pointer(Double.self),
                                           out.pointer(Double.self) + outLayout.offset, lse.pointer(Double.self),
                                           dout.pointer(Double.self) + outLayout.offset,
                                           dq.pointer(Double.self) + dqLayout.offset, dk.pointer(Double.self) + dkLayout.offset,
                                           dv.pointer(Double.self) + dvLayout.offset)
            }
        }
    }
}
