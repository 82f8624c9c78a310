import Foundation
import NablaCore

/// Multi-head attention with PyTorch's semantics, defaults and parameter names
/// (`nn.MultiheadAttention`).
///
/// The query, key and value are projected by the rows of one weight `in_proj_weight`
/// `[3E, E]` (query rows first) and bias `in_proj_bias` `[3E]`, split into `numHeads` heads
/// of `E / numHeads` features, attended with ``NablaCore/scaledDotProductAttention(_:_:_:mask:causal:dropout:scale:generator:)``,
/// and projected back by `out_proj` (a ``Linear`` `E → E`). Inputs are `[L, B, E]` (or
/// `[B, L, E]` with `batchFirst`, or unbatched `[L, E]`); the key and value may have another
/// length S.
///
/// ```swift
/// let attention = MultiheadAttention(embedDim: 64, numHeads: 4, batchFirst: true)
/// let (y, weights) = attention(x, x, x, needWeights: true)   // weights: [B, L, L]
/// ```
///
/// Masks follow PyTorch: in a bool `attnMask` (`[L, S]` or `[B·heads, L, S]`) or
/// `keyPaddingMask` (`[B, S]`) **true means "may not attend"**; a float mask is added to the
/// scores. `isCausal` without a mask applies the causal mask itself.
///
/// With `needWeights` (PyTorch's default) the weights are computed explicitly and returned,
/// averaged over heads (`[B, L, S]`) or per head (`[B, heads, L, S]`); without it the fused
/// kernel runs and never stores them. (PyTorch's `kdim`/`vdim` ≠ `embedDim` and
/// `add_bias_kv`/`add_zero_attn` are not supported.)
public final class MultiheadAttention: Module, Layer, @unchecked Sendable {
    /// `(query, key, value)`.
    public typealias Input = (query: Tensor, key: Tensor, value: Tensor)
    /// The attention output and, when asked for, the weights.
    public typealias Output = (output: Tensor, weights: Tensor?)

    /// Features of the query, key, value and output: E.
    public let embedDim: Int
    /// Heads; each attends over `embedDim / numHeads` features.
    public let numHeads: Int
    /// Probability of dropping an attention weight in training mode.
    public let dropout: Double
    /// Whether inputs and outputs are `[B, L, E]` rather than `[L, B, E]`.
    public let batchFirst: Bool
    /// The output projection `E → E` (`out_proj.weight`, `out_proj.bias`).
    public let outProj: Linear
    /// The generator attention dropout draws from (nil: the global one).
    public let generator: RandomGenerator?
    let table = RecurrentParameterTable()

    /// The input projection `[3E, E]`: rows 0..<E project the query, then the key, then the value.
    public var inProjWeight: Tensor { table["in_proj_weight"]! }
    /// The input projection's bias `[3E]` (nil without bias).
    public var inProjBias: Tensor? { table["in_proj_bias"] }
    /// Features per head.
    public var headDim: Int { embedDim / numHeads }

    /// PyTorch's `nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first)`,
    /// initialised as PyTorch: `in_proj_weight` Xavier-uniform, biases 0, `out_proj.weight`
    /// U(±1/√E).
    public init(embedDim: Int, numHeads: Int, dropout: Double = 0, bias: Bool = true, batchFirst: Bool = false,
                dtype: DType = .float32, generator: RandomGenerator? = nil) {
        nablaCheck(embedDim > 0 && numHeads > 0, "MultiheadAttention: embedDim and numHeads must be positive, got \(embedDim) and \(numHeads)")
        nablaCheck(embedDim % numHeads == 0,
                   "MultiheadAttention: embedDim \(embedDim) is not divisible by numHeads \(numHeads)")
        nablaCheck(dropout >= 0 && dropout < 1, "MultiheadAttention: dropout must be in [0, 1), got \(dropout)")
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.dropout = dropout
        self.batchFirst = batchFirst
        self.generator = generator
        let g = generator ?? RandomGenerator.global
        let bound = (6.0 / Double(embedDim + 3 * embedDim)).squareRoot()
        table.entries.append(("in_proj_weight", Tensor.randomUniform([3 * embedDim, embedDim], low: -bound, high: bound,
                                                                     dtype: dtype, generator: g).requiringGrad()))
        if bias { table.entries.append(("in_proj_bias", Tensor.zeros([3 * embedDim], dtype: dtype).requiringGrad())) }
        outProj = Linear(embedDim, embedDim, bias: bias, dtype: dtype, generator: g)
        if let b = outProj.bias { b.assignInPlace(Tensor.zeros([embedDim], dtype: dtype)) }
        super.init()
    }

    /// `in_proj_weight` and `in_proj_bias`, under PyTorch's names.
    public override var computedTensors: [(name: String, tensor: Tensor)] { table.entries }
    /// `out_proj`, under PyTorch's name.
    public override func namedChildren() -> [(name: String, module: Module)] { [("out_proj", outProj)] }
    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(embedDim), heads: \(numHeads)" }

    /// Attention of `input.query` over `input.key` and `input.value`, returning the weights
    /// averaged over heads (PyTorch's defaults).
    public func callAsFunction(_ input: (query: Tensor, key: Tensor, value: Tensor)) -> (output: Tensor, weights: Tensor?) {
        callAsFunction(input.query, input.key, input.value)
    }

    /// PyTorch's `forward(query, key, value, key_padding_mask, need_weights, attn_mask,
    /// average_attn_weights, is_causal)`.
    public func callAsFunction(_ query: Tensor, _ key: Tensor, _ value: Tensor, keyPaddingMask: Tensor? = nil,
                               needWeights: Bool = true, attnMask: Tensor? = nil, averageAttnWeights: Bool = true,
                               isCausal: Bool = false) -> (output: Tensor, weights: Tensor?) {
        if let message = validate(query, key, value, keyPaddingMask: keyPaddingMask, attnMask: attnMask) { nablaFail(message) }
        let unbatched = query.rank == 2
        let q = batchMajor(query), k = batchMajor(key), v = batchMajor(value)
        let B = q.shape[0], L = q.shape[1], S = k.shape[1], E = embedDim, D = headDim
        let sameInput = Self.same(query, key) && Self.same(key, value)
        let mask = additiveMask(attnMask, keyPaddingMask, B: B, L: L, S: S, dtype: q.dtype)
        let causal = isCausal && attnMask == nil
        let p = isTraining ? dropout : 0
        if sameInput && !needWeights {
            // Self-attention without weights: the kernel reads the heads from the packed
            // projection and writes them side by side, ready for out_proj.
            let qkv = q.linear(weight: inProjWeight, bias: inProjBias)
            let y = outProj(Tensor.packedSelfAttention(qkv, heads: numHeads, mask: mask, causal: causal, dropout: p, generator: generator))
            return (callerLayout(y, unbatched: unbatched), nil)
        }
        let (qh, kh, vh) = project(q, k, v, sameInput: sameInput)
        var attended: Tensor
        var weights: Tensor? = nil
        if needWeights {
            // The weights explicitly, as PyTorch: softmax(q·kᵀ/√D + mask), dropout, then ·v.
            var scores = qh.matmul(kh.transposed()) * (1 / Double(D).squareRoot())
            if let mask { scores = scores + mask }
            if causal { scores = scores + Self.causalMask(L, S, dtype: q.dtype) }
            var w = scores.softmax(axis: -1)
            if p > 0 {
                w = w * (Tensor.randomBernoulli(w.shape, p: 1 - p, dtype: w.dtype, generator: generator ?? .global) / (1 - p))
            }
            attended = w.matmul(vh)
            weights = averageAttnWeights ? w.mean(axis: 1) : w
            if unbatched, let ww = weights { weights = ww.squeezed(axis: 0) }
        } else {
            attended = scaledDotProductAttention(qh, kh, vh, mask: mask, causal: causal, dropout: p, generator: generator)
        }
        attended = attended.permuted(0, 2, 1, 3).reshaped([B, L, E])
        return (callerLayout(outProj(attended), unbatched: unbatched), weights)
    }

    /// An input as `[B, L, E]`, whatever the layer's layout.
    func batchMajor(_ t: Tensor) -> Tensor { t.rank == 2 ? t.unsqueezed(axis: 0) : batchFirst ? t : t.transposed(0, 1) }

    /// A `[B, L, E]` result in the layout the caller gave.
    func callerLayout(_ y: Tensor, unbatched: Bool) -> Tensor {
        unbatched ? y.squeezed(axis: 0) : batchFirst ? y : y.transposed(0, 1)
    }

    /// Whether two arguments are one tensor (the same storage, layout and graph node), so
    /// self-attention projects it once.
    static func same(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && a.sharesStorage(with: b) && a.storageOffset == b.storageOffset && a.strides == b.strides
            && a.parameterID == b.parameterID
    }

    /// The projected heads `[B, heads, rows, D]` of batch-major inputs. Self-attention is one
    /// matrix product `[B, L, 3E]` whose thirds the attention kernel reads in place.
    func project(_ q: Tensor, _ k: Tensor, _ v: Tensor, sameInput: Bool) -> (Tensor, Tensor, Tensor) {
        let B = q.shape[0], L = q.shape[1], S = k.shape[1], E = embedDim, H = numHeads, D = headDim
        let w = inProjWeight, b = inProjBias
        if sameInput {
            let qkv = q.linear(weight: w, bias: b).reshaped([B, L, 3, H, D])
            return (qkv.select(axis: 2, 0).permuted(0, 2, 1, 3), qkv.select(axis: 2, 1).permuted(0, 2, 1, 3),
                    qkv.select(axis: 2, 2).permuted(0, 2, 1, 3))
        }
        func part(_ x: Tensor, _ i: Int, _ rows: Int) -> Tensor {
            x.linear(weight: w.narrow(axis: 0, start: i * E, length: E), bias: b?.narrow(axis: 0, start: i * E, length: E))
                .reshaped([B, rows, H, D]).permuted(0, 2, 1, 3)
        }
        return (part(q, 0, L), part(k, 1, S), part(v, 2, S))
    }

    /// The additive float mask `[B or 1, heads or 1, L or 1, S]` combining PyTorch's two
    /// masks (bool true → −∞), or nil.
    func additiveMask(_ attnMask: Tensor?, _ keyPaddingMask: Tensor?, B: Int, L: Int, S: Int, dtype: DType) -> Tensor? {
        func additive(_ m: Tensor) -> Tensor {
            guard m.dtype == .bool else { return m.detached().to(dtype) }
            return Tensor(m.bools.map { $0 ? -Double.infinity : 0 }, shape: m.shape).to(dtype)
        }
        var mask: Tensor? = nil
        if let a = attnMask {
            let m = additive(a)
            mask = m.rank == 2 ? m.reshaped([1, 1, L, S]) : m.reshaped([B, numHeads, L, S])
        }
        if let k = keyPaddingMask {
            let m = additive(k).reshaped([B, 1, 1, S])
            mask = mask.map { $0 + m } ?? m
        }
        return mask
    }

    /// The additive causal mask `[L, S]`: −∞ where key j > query i.
    static func causalMask(_ L: Int, _ S: Int, dtype: DType) -> Tensor {
        var values = [Double](repeating: 0, count: L * S)
        for i in 0..<L { for j in 0..<S where j > i { values[i * S + j] = -.infinity } }
        return Tensor(values, shape: [L, S]).to(dtype)
    }

    /// Nil, or a message naming the layer and the first argument whose shape is wrong.
    public func validate(_ query: Tensor, _ key: Tensor, _ value: Tensor, keyPaddingMask: Tensor? = nil,
                         attnMask: Tensor? = nil) -> String? {
        let E = embedDim
        guard query.rank == 2 || query.rank == 3 else {
            return "\(displayName): query must be [L, B, E], [B, L, E] with batchFirst, or unbatched [L, E]; got shape \(query.shape)"
        }
        for (name, t) in [("query", query), ("key", key), ("value", value)] {
            if t.rank != query.rank || t.shape.last != E {
                return "\(displayName): \(name) of shape \(t.shape) does not match embedDim \(E) and the query's shape \(query.shape)"
            }
            if !t.dtype.isFloatingPoint { return "\(displayName): \(name) is \(t.dtype); attention takes float32 or float64" }
        }
        let batchAxis = query.rank == 2 ? nil : batchFirst ? 0 : 1
        let lengthAxis = query.rank == 2 ? 0 : batchFirst ? 1 : 0
        let B = batchAxis.map { query.shape[$0] } ?? 1
        let L = query.shape[lengthAxis], S = key.shape[lengthAxis]
        if key.shape != value.shape { return "\(displayName): key \(key.shape) and value \(value.shape) must have the same shape" }
        if let b = batchAxis, key.shape[b] != B {
            return "\(displayName): key \(key.shape) has a batch of \(key.shape[b]) but query \(query.shape) has \(B)"
        }
        if let m = keyPaddingMask {
            let expected = query.rank == 2 ? [S] : [B, S]
            if m.shape != expected {
                return "\(displayName): keyPaddingMask of shape \(m.shape) does not match [B, S] = \(expected)"
            }
        }
        if let m = attnMask, m.shape != [L, S] && m.shape != [B * numHeads, L, S] {
            return "\(displayName): attnMask of shape \(m.shape) does not match [L, S] = \([L, S]) or [B·heads, L, S] = \([B * numHeads, L, S])"
        }
        return nil
    }
}

/// The feed-forward activation of a transformer layer.
public enum TransformerActivation: String, Sendable, CaseIterable {
    /// max(0, x) (PyTorch's default).
    case relu
    /// The exact (erf) GELU.
    case gelu

    /// The activation of `x`.
    func callAsFunction(_ x: Tensor) -> Tensor { self == .relu ? x.relu() : x.gelu() }
}

/// A transformer layer's feed-forward block `linear2(dropout(activation(linear1(x))))`
/// (the caller applies the block's output dropout).
private func feedForward(_ x: Tensor, _ linear1: Linear, _ activation: TransformerActivation, _ dropout: Dropout,
                         _ linear2: Linear) -> Tensor {
    linear2(dropout(activation(linear1(x))))
}

/// One transformer encoder layer: self-attention and a feed-forward block, each with a
/// residual connection and layer normalisation (PyTorch's `nn.TransformerEncoderLayer`).
///
/// Post-norm (default): `x = norm1(x + sa(x)); x = norm2(x + ff(x))`. Pre-norm
/// (`normFirst`): `x = x + sa(norm1(x)); x = x + ff(norm2(x))`. Here `sa` is
/// ``MultiheadAttention`` followed by dropout, and `ff` is
/// `linear2(dropout(activation(linear1(x))))` followed by dropout.
///
/// Parameter names are PyTorch's: `self_attn.in_proj_weight`, `self_attn.out_proj.weight`,
/// `linear1.weight`, `linear2.weight`, `norm1.weight`, `norm2.bias`, … As a unary layer it
/// applies a causal mask when `causal` is set.
public final class TransformerEncoderLayer: Module, UnaryLayer, @unchecked Sendable, InputValidating {
    /// The self-attention block (`self_attn`).
    public let selfAttn: MultiheadAttention
    /// The feed-forward block's first linear map `dModel → dimFeedforward`.
    public let linear1: Linear
    /// The feed-forward block's second linear map `dimFeedforward → dModel`.
    public let linear2: Linear
    /// The normalisation of the attention block.
    public let norm1: LayerNorm
    /// The normalisation of the feed-forward block.
    public let norm2: LayerNorm
    /// Dropout inside the feed-forward block.
    public let dropoutFF: Dropout
    /// Dropout on the attention block's output.
    public let dropout1: Dropout
    /// Dropout on the feed-forward block's output.
    public let dropout2: Dropout
    /// The feed-forward activation.
    public let activation: TransformerActivation
    /// Whether each block normalises its input (pre-norm) rather than its output.
    public let normFirst: Bool
    /// Whether inputs are `[B, L, dModel]` rather than `[L, B, dModel]`.
    public let batchFirst: Bool
    /// Whether the unary call (``Module/forward(_:)``) masks future positions.
    public var causal: Bool

    /// PyTorch's `nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048,
    /// dropout=0.1, activation, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
    /// bias=True)`, with PyTorch's initialisation of each part.
    public init(dModel: Int, nHead: Int, dimFeedforward: Int = 2048, dropout: Double = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Double = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true, causal: Bool = false, dtype: DType = .float32,
                generator: RandomGenerator? = nil) {
        nablaCheck(dModel > 0 && nHead > 0 && dModel % nHead == 0,
                   "TransformerEncoderLayer: dModel \(dModel) is not divisible by nHead \(nHead)")
        nablaCheck(dimFeedforward > 0, "TransformerEncoderLayer: dimFeedforward must be positive, got \(dimFeedforward)")
        let g = generator ?? RandomGenerator.global
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: nHead, dropout: dropout, bias: bias, batchFirst: batchFirst,
                                      dtype: dtype, generator: generator)
        linear1 = Linear(dModel, dimFeedforward, bias: bias, dtype: dtype, generator: g)
        linear2 = Linear(dimFeedforward, dModel, bias: bias, dtype: dtype, generator: g)
        norm1 = LayerNorm([dModel], eps: layerNormEps, bias: bias, dtype: dtype)
        norm2 = LayerNorm([dModel], eps: layerNormEps, bias: bias, dtype: dtype)
        dropoutFF = Dropout(dropout, generator: generator)
        dropout1 = Dropout(dropout, generator: generator)
        dropout2 = Dropout(dropout, generator: generator)
        self.activation = activation
        self.normFirst = normFirst
        self.batchFirst = batchFirst
        self.causal = causal
        super.init()
    }

    /// The model width.
    public var dModel: Int { selfAttn.embedDim }

    /// PyTorch's child names (`self_attn`, `linear1`, `dropout`, …).
    public override func namedChildren() -> [(name: String, module: Module)] {
        [("self_attn", selfAttn), ("linear1", linear1), ("dropout", dropoutFF), ("linear2", linear2),
         ("norm1", norm1), ("norm2", norm2), ("dropout1", dropout1), ("dropout2", dropout2)]
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        "\(dModel), heads: \(selfAttn.numHeads), ff: \(linear1.outputFeatures)" + (normFirst ? ", pre-norm" : "") + (causal ? ", causal" : "")
    }

    /// Nil, or a message when the input is not a batch of sequences of `dModel` features.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 3 || input.rank == 2, input.shape.last == dModel else {
            return "\(displayName): expected \(batchFirst ? "[B, L, \(dModel)]" : "[L, B, \(dModel)]") or [L, \(dModel)], got shape \(input.shape)"
        }
        return nil
    }

    /// The layer with no masks (causal when ``causal`` is set).
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return callAsFunction(input, srcMask: nil, srcKeyPaddingMask: nil, isCausal: causal)
    }

    /// PyTorch's `forward(src, src_mask, src_key_padding_mask, is_causal)`; `isCausal` nil
    /// means ``causal``.
    public func callAsFunction(_ src: Tensor, srcMask: Tensor? = nil, srcKeyPaddingMask: Tensor? = nil, isCausal: Bool? = nil) -> Tensor {
        let isCausal = isCausal ?? causal
        return blocks(src) { x in
            selfAttn(x, x, x, keyPaddingMask: srcKeyPaddingMask, needWeights: false, attnMask: srcMask, isCausal: isCausal).output
        }
    }

    /// The attention block (`attend`, then dropout) and the feed-forward block, each with
    /// its residual connection and normalisation, pre- or post-norm.
    func blocks(_ src: Tensor, attend: (Tensor) -> Tensor) -> Tensor {
        func sa(_ x: Tensor) -> Tensor { dropout1(attend(x)) }
        func ff(_ x: Tensor) -> Tensor { dropout2(feedForward(x, linear1, activation, dropoutFF, linear2)) }
        if normFirst {
            let x = src + sa(norm1(src))
            return x + ff(norm2(x))
        }
        let x = norm1(src + sa(src))
        return norm2(x + ff(x))
    }
}

/// One transformer decoder layer: causal self-attention over the target, cross-attention
/// from the target to an encoder's output (the memory) and a feed-forward block, each with
/// a residual connection and layer normalisation (PyTorch's `nn.TransformerDecoderLayer`).
///
/// Post-norm (default): `x = norm1(x + sa(x)); x = norm2(x + mha(x, memory)); x = norm3(x + ff(x))`.
/// Pre-norm (`normFirst`): `x = x + sa(norm1(x)); x = x + mha(norm2(x), memory); x = x + ff(norm3(x))`.
/// Parameter names are PyTorch's: `self_attn.*`, `multihead_attn.*`, `linear1.*`,
/// `linear2.*`, `norm1.*` … `norm3.*`.
public final class TransformerDecoderLayer: Module, Layer, @unchecked Sendable {
    /// `(target, memory)`.
    public typealias Input = (target: Tensor, memory: Tensor)
    /// The new target sequence.
    public typealias Output = Tensor

    /// Self-attention over the target (`self_attn`).
    public let selfAttn: MultiheadAttention
    /// Attention from the target to the memory (`multihead_attn`).
    public let multiheadAttn: MultiheadAttention
    /// The feed-forward block's first linear map.
    public let linear1: Linear
    /// The feed-forward block's second linear map.
    public let linear2: Linear
    /// The normalisations of the three blocks.
    public let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    /// Dropout inside the feed-forward block.
    public let dropoutFF: Dropout
    /// Dropout on each block's output.
    public let dropout1: Dropout, dropout2: Dropout, dropout3: Dropout
    /// The feed-forward activation.
    public let activation: TransformerActivation
    /// Whether each block normalises its input rather than its output.
    public let normFirst: Bool

    /// PyTorch's `nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048,
    /// dropout=0.1, activation, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)`.
    public init(dModel: Int, nHead: Int, dimFeedforward: Int = 2048, dropout: Double = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Double = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true, dtype: DType = .float32, generator: RandomGenerator? = nil) {
        nablaCheck(dModel > 0 && nHead > 0 && dModel % nHead == 0,
                   "TransformerDecoderLayer: dModel \(dModel) is not divisible by nHead \(nHead)")
        nablaCheck(dimFeedforward > 0, "TransformerDecoderLayer: dimFeedforward must be positive, got \(dimFeedforward)")
        let g = generator ?? RandomGenerator.global
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: nHead, dropout: dropout, bias: bias, batchFirst: batchFirst,
                                      dtype: dtype, generator: generator)
        multiheadAttn = MultiheadAttention(embedDim: dModel, numHeads: nHead, dropout: dropout, bias: bias, batchFirst: batchFirst,
                                           dtype: dtype, generator: generator)
        linear1 = Linear(dModel, dimFeedforward, bias: bias, dtype: dtype, generator: g)
        linear2 = Linear(dimFeedforward, dModel, bias: bias, dtype: dtype, generator: g)
        norm1 = LayerNorm([dModel], eps: layerNormEps, bias: bias, dtype: dtype)
        norm2 = LayerNorm([dModel], eps: layerNormEps, bias: bias, dtype: dtype)
        norm3 = LayerNorm([dModel], eps: layerNormEps, bias: bias, dtype: dtype)
        dropoutFF = Dropout(dropout, generator: generator)
        dropout1 = Dropout(dropout, generator: generator)
        dropout2 = Dropout(dropout, generator: generator)
        dropout3 = Dropout(dropout, generator: generator)
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// PyTorch's child names.
    public override func namedChildren() -> [(name: String, module: Module)] {
        [("self_attn", selfAttn), ("multihead_attn", multiheadAttn), ("linear1", linear1), ("dropout", dropoutFF),
         ("linear2", linear2), ("norm1", norm1), ("norm2", norm2), ("norm3", norm3),
         ("dropout1", dropout1), ("dropout2", dropout2), ("dropout3", dropout3)]
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String {
        "\(selfAttn.embedDim), heads: \(selfAttn.numHeads), ff: \(linear1.outputFeatures)" + (normFirst ? ", pre-norm" : "")
    }

    /// The layer with no masks.
    public func callAsFunction(_ input: (target: Tensor, memory: Tensor)) -> Tensor { callAsFunction(input.target, input.memory) }

    /// PyTorch's `forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask, tgt_is_causal, memory_is_causal)`.
    public func callAsFunction(_ tgt: Tensor, _ memory: Tensor, tgtMask: Tensor? = nil, memoryMask: Tensor? = nil,
                               tgtKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
                               tgtIsCausal: Bool = false, memoryIsCausal: Bool = false) -> Tensor {
        func sa(_ x: Tensor) -> Tensor {
            dropout1(selfAttn(x, x, x, keyPaddingMask: tgtKeyPaddingMask, needWeights: false, attnMask: tgtMask, isCausal: tgtIsCausal).output)
        }
        func mha(_ x: Tensor) -> Tensor {
            dropout2(multiheadAttn(x, memory, memory, keyPaddingMask: memoryKeyPaddingMask, needWeights: false, attnMask: memoryMask,
                                   isCausal: memoryIsCausal).output)
        }
        func ff(_ x: Tensor) -> Tensor { dropout3(feedForward(x, linear1, activation, dropoutFF, linear2)) }
        if normFirst {
            var x = tgt + sa(norm1(tgt))
            x = x + mha(norm2(x))
            return x + ff(norm3(x))
        }
        var x = norm1(tgt + sa(tgt))
        x = norm2(x + mha(x))
        return norm3(x + ff(x))
    }
}

/// A stack of ``TransformerEncoderLayer``s and an optional final normalisation (PyTorch's
/// `nn.TransformerEncoder`). Parameters are `layers.0.self_attn.in_proj_weight`, …,
/// `norm.weight`.
public final class TransformerEncoder: Module, UnaryLayer, @unchecked Sendable, InputValidating {
    /// The layers, applied in order.
    public let layers: [TransformerEncoderLayer]
    /// The final normalisation, if any.
    public let norm: LayerNorm?
    /// Whether the unary call (``Module/forward(_:)``) masks future positions.
    public var causal: Bool

    /// `numLayers` copies of `layer` (each starting from the same values, as PyTorch's deep
    /// copies do) and an optional final `norm`.
    public init(_ layer: TransformerEncoderLayer, numLayers: Int, norm: LayerNorm? = nil, causal: Bool? = nil) {
        nablaCheck(numLayers > 0, "TransformerEncoder: numLayers must be positive, got \(numLayers)")
        var all = [layer]
        let state = layer.stateDict()
        for _ in 1..<numLayers {
            let copy = TransformerEncoderLayer(dModel: layer.dModel, nHead: layer.selfAttn.numHeads,
                                               dimFeedforward: layer.linear1.outputFeatures, dropout: layer.dropout1.probability,
                                               activation: layer.activation, layerNormEps: layer.norm1.eps, batchFirst: layer.batchFirst,
                                               normFirst: layer.normFirst, bias: layer.linear1.bias != nil, causal: layer.causal,
                                               dtype: layer.linear1.weight.dtype, generator: layer.selfAttn.generator)
            do { try copy.loadStateDict(state) } catch { nablaFail("TransformerEncoder: copying the layer failed: \(error)") }
            all.append(copy)
        }
        layers = all
        self.norm = norm
        self.causal = causal ?? layer.causal
        super.init()
    }

    /// An encoder of the given layers (each initialised on its own), with an optional final `norm`.
    public init(layers: [TransformerEncoderLayer], norm: LayerNorm? = nil, causal: Bool = false) {
        nablaCheck(!layers.isEmpty, "TransformerEncoder: no layers")
        self.layers = layers
        self.norm = norm
        self.causal = causal
        super.init()
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(layers.count) layers" + (causal ? ", causal" : "") }

    /// Nil, or the first layer's message about the input.
    public func validateInput(_ input: Tensor) -> String? { layers[0].validateInput(input) }

    /// The stack with no masks (causal when ``causal`` is set).
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        return callAsFunction(input, mask: nil, srcKeyPaddingMask: nil, isCausal: causal)
    }

    /// PyTorch's `forward(src, mask, src_key_padding_mask, is_causal)`; `isCausal` nil means
    /// ``causal``.
    public func callAsFunction(_ src: Tensor, mask: Tensor? = nil, srcKeyPaddingMask: Tensor? = nil, isCausal: Bool? = nil) -> Tensor {
        let isCausal = isCausal ?? causal
        var x = src
        for layer in layers { x = layer(x, srcMask: mask, srcKeyPaddingMask: srcKeyPaddingMask, isCausal: isCausal) }
        return norm.map { $0(x) } ?? x
    }
}

/// How a ``PositionalEncoding`` makes its table.
public enum PositionalEncodingKind: String, Sendable, CaseIterable {
    /// The fixed sines and cosines of "Attention is all you need": no parameters.
    case sinusoidal
    /// A learned table `weight [maxLength, dim]`, initialised N(0, 1) as an embedding.
    case learned
}

/// Adds a position's vector to each step of a sequence `[B, T, dim]` (or `[T, dim]`),
/// then applies dropout.
///
/// Sinusoidal: `pe[pos, 2i] = sin(pos·10000^(−2i/dim))`, `pe[pos, 2i+1] = cos(…)`, computed
/// for any length. Learned: `weight[pos]`, a parameter of `maxLength` rows; a longer
/// sequence is an error that says so.
public final class PositionalEncoding: Module, UnaryLayer, @unchecked Sendable, InputValidating {
    /// Sinusoidal or learned.
    public let kind: PositionalEncodingKind
    /// Rows of the table: the longest sequence a learned table accepts.
    public let maxLength: Int
    /// Features per step.
    public let dimension: Int
    /// The learned table `[maxLength, dimension]` (nil when sinusoidal).
    public let weight: Tensor?
    /// Dropout after the addition.
    public let dropout: Dropout
    let sinusoidalTable: SinusoidalTable?

    /// Holds the sinusoidal table (float64) out of reflection's sight (it is no state-dict
    /// entry); a lock guards its growth.
    final class SinusoidalTable: @unchecked Sendable {
        private var table: Tensor
        private let lock = NSLock()
        init(_ t: Tensor) { table = t }
        /// Rows `start..<start + length`, growing the table first when it is too short.
        func rows(_ start: Int, _ length: Int, dimension: Int) -> Tensor {
            lock.lock()
            defer { lock.unlock() }
            if table.shape[0] < start + length { table = PositionalEncoding.sinusoids(Swift.max(start + length, 2 * table.shape[0]), dimension) }
            return table.narrow(axis: 0, start: start, length: length)
        }
    }

    /// An encoding of `kind` for sequences of up to `maxLength` steps of `dimension` features.
    public init(_ kind: PositionalEncodingKind, maxLength: Int, dimension: Int, dropout: Double = 0, dtype: DType = .float32,
                generator: RandomGenerator = .global) {
        nablaCheck(maxLength > 0 && dimension > 0, "PositionalEncoding: maxLength and dimension must be positive, got \(maxLength) and \(dimension)")
        self.kind = kind
        self.maxLength = maxLength
        self.dimension = dimension
        self.dropout = Dropout(dropout, generator: generator)
        switch kind {
        case .learned:
            weight = Tensor.randomNormal([maxLength, dimension], dtype: dtype, generator: generator).requiringGrad()
            sinusoidalTable = nil
        case .sinusoidal:
            weight = nil
            sinusoidalTable = SinusoidalTable(Self.sinusoids(maxLength, dimension))
        }
        super.init()
    }

    /// The sinusoidal table `[length, dim]` (computed in float64).
    public static func sinusoids(_ length: Int, _ dim: Int) -> Tensor {
        var v = [Double](repeating: 0, count: length * dim)
        for pos in 0..<length {
            for i in stride(from: 0, to: dim, by: 2) {
                let angle = Double(pos) * exp(-log(10000.0) * Double(i) / Double(dim))
                v[pos * dim + i] = sin(angle)
                if i + 1 < dim { v[pos * dim + i + 1] = cos(angle) }
            }
        }
        return Tensor(v, shape: [length, dim])
    }

    /// The layer's configuration for descriptions.
    public override var configDescription: String { "\(kind.rawValue), max_len: \(maxLength)" }

    /// Nil, or a message when the input is not `[B, T, dim]` / `[T, dim]` or is longer than a learned table.
    public func validateInput(_ input: Tensor) -> String? {
        guard input.rank == 2 || input.rank == 3, input.shape.last == dimension else {
            return "\(displayName): expected sequences [B, T, \(dimension)] or [T, \(dimension)], got shape \(input.shape)"
        }
        let T = input.shape[input.rank - 2]
        if kind == .learned && T > maxLength {
            return "\(displayName): the sequence has \(T) steps but the learned positional table has max_len \(maxLength)"
        }
        return nil
    }

    /// The rows of the table for steps `start..<start + length` (a sinusoidal table grows on demand).
    public func table(start: Int = 0, length: Int, dtype: DType) -> Tensor {
        if let weight { return weight.narrow(axis: 0, start: start, length: length) }
        return sinusoidalTable!.rows(start, length, dimension: dimension).to(dtype)
    }

    /// `x + pe[0..<T]`, then dropout.
    public override func forward(_ input: Tensor) -> Tensor {
        checkInput(input)
        let T = input.shape[input.rank - 2]
        return dropout(input + table(length: T, dtype: input.dtype))
    }
}

/// The mean over one axis (of the whole batched tensor): the pooling of a sequence
/// classifier, `[B, T, dim] → [B, dim]` for axis 1.
public final class Mean: Module, UnaryLayer, @unchecked Sendable {
    /// The axis averaged (negative counts from the end).
    public let axis: Int
    /// The mean over `axis`.
    public init(axis: Int) { self.axis = axis; super.init() }
    /// The layer's configuration for descriptions.
    public override var configDescription: String { "axis: \(axis)" }
    /// The mean over ``axis``.
    public override func forward(_ input: Tensor) -> Tensor { input.mean(axis: axis) }
}

/// The keys and values of the positions a causal self-attention layer has seen, so that
/// generating one more position costs one step rather than a pass over the whole prefix.
public final class AttentionCache: @unchecked Sendable {
    /// Keys `[B, heads, S, headDim]` of the S positions seen (nil before the first).
    public internal(set) var keys: Tensor?
    /// Values `[B, heads, S, headDim]`.
    public internal(set) var values: Tensor?
    /// Positions held.
    public var count: Int { keys?.shape[2] ?? 0 }
    /// An empty cache.
    public init() {}
    /// Forgets every position.
    public func reset() { keys = nil; values = nil }
}

extension MultiheadAttention {
    /// Causal self-attention of new positions `x` that follow the `cache.count` positions
    /// already in `cache`, in evaluation mode; their keys and values are appended to it.
    /// The result equals the rows for those positions of a causal pass over the whole sequence.
    public func attendIncrementally(_ x: Tensor, cache: AttentionCache) -> Tensor {
        if let message = validate(x, x, x) { nablaFail(message) }
        let q = batchMajor(x)
        let B = q.shape[0], T = q.shape[1]
        let (qh, kh, vh) = project(q, q, q, sameInput: true)
        let past = cache.count
        if let k = cache.keys, let v = cache.values {
            nablaCheck(k.shape[0] == B, "\(displayName): the cache holds a batch of \(k.shape[0]) but the input has \(B)")
            cache.keys = Tensor.concatenate([k, kh.contiguous()], axis: 2)
            cache.values = Tensor.concatenate([v, vh.contiguous()], axis: 2)
        } else {
            cache.keys = kh.contiguous()
            cache.values = vh.contiguous()
        }
        // New query i sits at position past + i and sees keys 0…past + i.
        var mask: Tensor? = nil
        if T > 1 && past > 0 {
            var values = [Double](repeating: 0, count: T * (past + T))
            for i in 0..<T { for j in (past + i + 1)..<(past + T) { values[i * (past + T) + j] = -.infinity } }
            mask = Tensor(values, shape: [T, past + T]).to(q.dtype)
        }
        let attended = scaledDotProductAttention(qh, cache.keys!, cache.values!, mask: mask, causal: past == 0 && T > 1)
        return callerLayout(outProj(attended.permuted(0, 2, 1, 3).reshaped([B, T, embedDim])), unbatched: x.rank == 2)
    }
}

extension TransformerEncoderLayer {
    /// The layer on new positions that follow those in `cache` (causal, evaluation mode);
    /// see ``MultiheadAttention/attendIncrementally(_:cache:)``.
    public func forwardIncrementally(_ src: Tensor, cache: AttentionCache) -> Tensor {
        checkInput(src)
        return blocks(src) { selfAttn.attendIncrementally($0, cache: cache) }
    }
}

extension TransformerEncoder {
    /// The stack on new positions that follow those in `caches` (one per layer; causal,
    /// evaluation mode).
    public func forwardIncrementally(_ src: Tensor, caches: [AttentionCache]) -> Tensor {
        nablaCheck(caches.count == layers.count, "\(displayName): \(caches.count) caches for \(layers.count) layers")
        var x = src
        for (layer, cache) in zip(layers, caches) { x = layer.forwardIncrementally(x, cache: cache) }
        return norm.map { $0(x) } ?? x
    }
}

extension PositionalEncoding {
    /// `x + pe[start..<start + T]` (evaluation mode): the encoding of steps that follow `start` earlier ones.
    public func forward(_ input: Tensor, start: Int) -> Tensor {
        let T = input.shape[input.rank - 2]
        if kind == .learned && start + T > maxLength {
            nablaFail("\(displayName): position \(start + T - 1) is past the learned positional table's max_len \(maxLength)")
        }
        return input + table(start: start, length: T, dtype: input.dtype)
    }
}
