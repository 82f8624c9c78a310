import Nabla

let x = Tensor.randomNormal([2, 10, 64])                     // 2 sequences of 10 steps of 64 features
let attention = MultiheadAttention(embedDim: 64, numHeads: 4, batchFirst: true)
let (y, weights) = attention(x, x, x, needWeights: true)   // y [2, 10, 64]; weights [2, 10, 10], rows sum to 1
let layer = TransformerEncoderLayer(dModel: 64, nHead: 4, dimFeedforward: 256, batchFirst: true, normFirst: true)
let encoder = TransformerEncoder(layer, numLayers: 2)       // layers.0.self_attn.in_proj_weight, …
let z = encoder(x, isCausal: true)                          // step t sees steps 0…t only
let q = Tensor.randomNormal([2, 4, 10, 16])                 // [batch, heads, steps, features]
let o = scaledDotProductAttention(q, q, q, causal: true)    // fused: the 10×10 weights are never stored
print(y.shape, weights!.shape, z.shape, o.shape, (weights!.sum(axis: -1) - 1).abs().max().item() < 1e-5)
