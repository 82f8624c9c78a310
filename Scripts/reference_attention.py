#!/usr/bin/env python3
"""Per-operation PyTorch references for Nabla's attention layers: scaled dot-product attention,
multi-head attention, the transformer encoder layer and a stack of them, and the transformer
decoder layer.

Writes Tests/NablaNNTests/Fixtures/attention_reference.json, read by the NablaNN tests so they
never need Python. Every value comes from PyTorch, independently of Nabla.

Needs torch:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy
    ~/.nabla-peers/bin/python Scripts/reference_attention.py

Layout (the same as rnn_reference.json and cnn_reference.json):
    {"generator": "Scripts/reference_attention.py, torch X.Y",
     "cases": {"<case>": {"config": {...}, "tensors": {"<name>": {"shape": [...], "data": [...]}}}}}

`data` is the flat row-major (C-order) list of the tensor; everything is float64
(torch.set_default_dtype(torch.float64)). Dropout is always 0 and every module is in training
mode (.train()), so PyTorch's inference fast paths (fused kernels, nested tensors) are never
taken. Inputs and upstream gradients are standard normal. Parameters are set explicitly, not
by PyTorch's init: standard normal * 0.5, except LayerNorm weights 1 + 0.1 * N(0, 1) and
LayerNorm biases 0.1 * N(0, 1).

Masks. Every mask is stored as float64. A boolean mask is stored as 0.0 / 1.0 with 1.0 meaning
True, and its config says "bool"; what True means depends on the module:
    sdpa                         True = the key TAKES PART in attention (False -> score -inf)
    MultiheadAttention, Transformer* (attn_mask, key_padding_mask, src_mask, mask, tgt_mask,
    memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
                                 True = the key is NOT allowed (True -> score -inf)
A float mask (config "float") is added to the scores q.k * scale before the softmax; all float
masks here are standard normal (finite; no -inf is stored anywhere, JSON has no infinity).
No query row ever has all of its keys masked (the script asserts it), so no reference holds
NaN or a fully masked row (see the end of this docstring for what PyTorch does then).

The config key `module` says the kind of case; the other config keys depend on it.

module "sdpa": torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask,
    is_causal=causal, scale=scale), i.e.
        y = softmax(q @ k^T * scale + bias) @ v         (softmax over the last, key, axis)
    where bias is 0, or the float mask, or 0 / -inf from the bool mask (-inf where False), or,
    when causal, 0 / -inf from the top-left-aligned lower triangle: query i may see key j iff
    j <= i (torch.ones(L, S).tril(), also when L != S). PyTorch refuses a mask with causal.
    config: B, H, L, S, E, Ev
            mask_kind   null, "bool" or "float"
            mask_shape  the mask's shape (broadcast against [B, H, L, S]), or null
            causal      bool
            scale       a number, or null for the default 1 / sqrt(E)
    tensors: q [B, H, L, E], k [B, H, S, E], v [B, H, S, Ev], mask (only when mask_kind is not
             null), y [B, H, L, Ev], gy (like y), and dq, dk, dv, the gradients of sum(gy * y).

module "MultiheadAttention": torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0,
    bias=bias, batch_first=batch_first) (kdim = vdim = embed_dim, no bias_kv, no zero_attn),
    called as y, w = mha(query, key, value, key_padding_mask=..., need_weights=need_weights,
    attn_mask=..., average_attn_weights=average_attn_weights, is_causal=is_causal). With
    E = embed_dim, h = num_heads, d = E / h and batch-first [B, L, E] inputs:
        q = query @ W_q^T + b_q, k = key @ W_k^T + b_k, v = value @ W_v^T + b_v
            where W_q, W_k, W_v are rows [0, E), [E, 2E), [2E, 3E) of in_proj_weight and
            b_q, b_k, b_v the same slices of in_proj_bias
        head i uses features [i*d, (i+1)*d) of q, k, v:
            P_i = softmax(q_i @ k_i^T / sqrt(d) + bias)   [B, L, S]
            o_i = P_i @ v_i                              [B, L, d]
        y = concat_i(o_i) @ out_proj.weight^T + out_proj.bias   (head i at columns i*d..)
        w = mean_i(P_i) [B, L, S] if average_attn_weights, else stack_i(P_i) [B, h, L, S]
            (w is batch-first whatever batch_first says)
    bias is the sum of the attn_mask part and the key_padding_mask part (0 where absent):
        attn_mask [L, S] (broadcast over batch and heads) or [B*h, L, S] with index b*h + i;
            bool: -inf where True; float: added as is
        key_padding_mask [B, S] (broadcast over heads and queries);
            bool: -inf where True; float: added as is
    config: embed_dim, num_heads, bias, batch_first, B, L, S (S = L for self-attention)
            self_attention          true: one input x is passed as query, key and value
            key_padding_mask_kind   null, "bool" or "float"
            attn_mask_kind          null, "bool" or "float"
            attn_mask_shape         [L, S] or [B*num_heads, L, S], or null
            need_weights, average_attn_weights, is_causal
    tensors: self-attention: x, [L, B, E] or [B, L, E] if batch_first, and dx;
             otherwise query [L, B, E], key and value [S, B, E] (or [B, L, E], [B, S, E] if
             batch_first) and dquery, dkey, dvalue;
             key_padding_mask [B, S] and attn_mask (when present);
             the parameters under their state_dict names: in_proj_weight [3E, E],
             in_proj_bias [3E], out_proj.weight [E, E], out_proj.bias [E] (the two biases only
             when bias is true);
             y (shaped like query), w (only when need_weights), gy, gw (only when need_weights);
             the gradients of L = sum(gy * y) [+ sum(gw * w)] with respect to the inputs and to
             every parameter, named d<name>: din_proj_weight, din_proj_bias,
             dout_proj.weight, dout_proj.bias.
    In the is_causal cases attn_mask is the bool causal mask (True strictly above the
    diagonal, torch.ones(L, L).triu(1)), so the result is the same whichever of the two
    PyTorch uses (see the notes below).

module "TransformerEncoderLayer": torch.nn.TransformerEncoderLayer(d_model, nhead,
    dim_feedforward, dropout=0, activation, layer_norm_eps, batch_first=True, norm_first),
    called as y = layer(x, src_mask=..., src_key_padding_mask=..., is_causal=is_causal):
        sa(z) = MultiheadAttention self-attention of z (as above, with src_mask as attn_mask
                and src_key_padding_mask as key_padding_mask)
        ff(z) = linear2(act(linear1(z))), act = relu, or the exact (erf) gelu
                0.5 * z * (1 + erf(z / sqrt(2)))
        LayerNorm(z) = (z - mean) / sqrt(var + layer_norm_eps) * weight + bias over the last
                axis, var the biased (divide by d_model) variance
        post-norm (norm_first false): z = norm1(x + sa(x));  y = norm2(z + ff(z))
        pre-norm  (norm_first true):  z = x + sa(norm1(x));  y = z + ff(norm2(z))
    config: d_model, nhead, dim_feedforward, activation ("relu" or "gelu"), norm_first,
            layer_norm_eps, B, L, src_mask_kind (null, "bool" or "float"), is_causal,
            key_padding_mask_kind (null or "bool")
    tensors: x [B, L, d_model]; src_mask [L, L] and src_key_padding_mask [B, L] (when present;
             bool True = not allowed); the parameters under their state_dict names
             self_attn.in_proj_weight [3d, d], self_attn.in_proj_bias [3d],
             self_attn.out_proj.weight [d, d], self_attn.out_proj.bias [d],
             linear1.weight [F, d], linear1.bias [F], linear2.weight [d, F], linear2.bias [d],
             norm1.weight, norm1.bias, norm2.weight, norm2.bias [d] (F = dim_feedforward);
             y [B, L, d_model], gy, dx, and d<name> for every parameter
             (dself_attn.in_proj_weight, ..., dnorm2.bias), gradients of sum(gy * y).
    The is_causal cases pass the bool causal mask torch.ones(L, L).triu(1) as src_mask.

module "TransformerEncoder": torch.nn.TransformerEncoder(layer, num_layers,
    norm=nn.LayerNorm(d_model) if final_norm else None, enable_nested_tensor=False), with
    layer a TransformerEncoderLayer as above (dropout 0, batch_first, layer_norm_eps), called as
    y = encoder(x, mask=mask, is_causal=causal): the layers in order, each with src_mask=mask,
    then the final LayerNorm (eps 1e-5) if final_norm. Each layer's parameters are drawn
    independently (they differ between layers).
    config: d_model, nhead, dim_feedforward, activation, norm_first, layer_norm_eps,
            num_layers, final_norm, B, L, causal
    tensors: x [B, L, d_model]; mask [L, L] only when causal (the bool causal mask
             torch.ones(L, L).triu(1), True = not allowed); the parameters under their
             state_dict names layers.<k>.self_attn.in_proj_weight, ..., layers.<k>.norm2.bias
             for k = 0 ..< num_layers, then norm.weight, norm.bias if final_norm;
             y, gy, dx and d<name> for every parameter (gradients of sum(gy * y)).

module "TransformerDecoderLayer": torch.nn.TransformerDecoderLayer(d_model, nhead,
    dim_feedforward, dropout=0, activation, layer_norm_eps, batch_first=True, norm_first),
    called as y = layer(tgt, memory, tgt_mask=..., memory_mask=..., tgt_key_padding_mask=...,
    memory_key_padding_mask=..., tgt_is_causal=tgt_is_causal, memory_is_causal=False).
    As PyTorch computes it (torch/nn/modules/transformer.py, TransformerDecoderLayer.forward):
        sa(z)     = self_attn(z, z, z, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask,
                    is_causal=tgt_is_causal, need_weights=False): MultiheadAttention
                    self-attention of z [B, L, d] (as above) with the self_attn.* parameters;
                    score bias [B, h, L, L] from tgt_mask [L, L] plus tgt_key_padding_mask [B, L]
        mha(z, m) = multihead_attn(z, m, m, attn_mask=memory_mask,
                    key_padding_mask=memory_key_padding_mask, need_weights=False):
                    MultiheadAttention with query z [B, L, d] and key = value = m [B, S, d], with
                    the multihead_attn.* parameters: q = z @ W_q^T + b_q, k = m @ W_k^T + b_k,
                    v = m @ W_v^T + b_v (W_q, W_k, W_v rows [0, d), [d, 2d), [2d, 3d) of
                    multihead_attn.in_proj_weight; the b's the same slices of its in_proj_bias);
                    score bias [B, h, L, S] from memory_mask [L, S] plus
                    memory_key_padding_mask [B, S]
        ff(z)     = linear2(act(linear1(z))), act = relu or the exact (erf) gelu
        norm1, norm2, norm3: LayerNorm over the last axis with eps layer_norm_eps (as above)
        Both attentions have h = nhead heads of d / h features (d = d_model), scores scaled by
        1 / sqrt(d / h), head i at features [i*d/h, (i+1)*d/h), exactly as MultiheadAttention.
        post-norm (norm_first false):
            x = norm1(tgt + sa(tgt))
            x = norm2(x + mha(x, memory))
            y = norm3(x + ff(x))
        pre-norm (norm_first true):
            x = tgt + sa(norm1(tgt))
            x = x + mha(norm2(x), memory)
            y = x + ff(norm3(x))
    memory enters both forms as is: no norm is applied to it (norm2 normalises only the query
    side). y, like tgt, is [B, L, d].
    config: d_model, nhead, dim_feedforward, activation ("relu" or "gelu"), norm_first,
            layer_norm_eps, B, L (target length), S (memory length),
            tgt_mask_kind (null, "bool" or "float"), tgt_is_causal,
            memory_mask_kind (null or "bool"), tgt_key_padding_mask_kind (null or "bool"),
            memory_key_padding_mask_kind (null or "bool"); memory_is_causal is always false
    tensors: tgt [B, L, d_model], memory [B, S, d_model]; when present (bool True = not
             allowed), tgt_mask [L, L], memory_mask [L, S], tgt_key_padding_mask [B, L],
             memory_key_padding_mask [B, S]; the parameters under their state_dict names
             self_attn.in_proj_weight [3d, d], self_attn.in_proj_bias [3d],
             self_attn.out_proj.weight [d, d], self_attn.out_proj.bias [d],
             multihead_attn.in_proj_weight [3d, d], multihead_attn.in_proj_bias [3d],
             multihead_attn.out_proj.weight [d, d], multihead_attn.out_proj.bias [d],
             linear1.weight [F, d], linear1.bias [F], linear2.weight [d, F], linear2.bias [d],
             norm1.weight, norm1.bias, norm2.weight, norm2.bias, norm3.weight, norm3.bias [d]
             (F = dim_feedforward; in this order in the file);
             y [B, L, d_model], gy, and the gradients of sum(gy * y): dtgt, dmemory, and
             d<name> for every parameter (dself_attn.in_proj_weight, ...,
             dmultihead_attn.in_proj_weight, ..., dnorm3.bias).
    The tgt_is_causal cases pass the bool causal mask torch.ones(L, L).triu(1) as tgt_mask.

Each case is seeded with torch.manual_seed(crc32(case name)), so adding or reordering cases
does not change the others. Floats are written with repr precision (shortest round trip).
The script checks every case, forward and gradients, against a plain implementation of the
equations above written with matmul, exp and sums (see softmax_attention, mha_reference,
encoder_layer_reference, decoder_layer_reference), not with PyTorch's attention code.

Notes on PyTorch's behaviour (torch 2.x, CPU), for matching it:
  - sdpa and MultiheadAttention have opposite bool conventions (see Masks above).
  - In MultiheadAttention, is_causal=True needs an attn_mask and is only a hint: when there
    is no key_padding_mask and need_weights is false, PyTorch ignores the attn_mask's content
    and uses causal attention; otherwise it uses the attn_mask (merged with the key padding
    mask) and ignores is_causal.
  - A fully masked query row: sdpa gives y = 0 for that row and zero gradients through it;
    MultiheadAttention with need_weights=false (which runs sdpa) gives attention output 0,
    so y = out_proj.bias for that row; with need_weights=true (explicit softmax) it gives NaN
    in y and w. None of the cases here has such a row.
  - Mixing a bool key_padding_mask with a float attn_mask (or the reverse) is deprecated
    (a warning); the bool one is converted to 0 / -inf and the two are added. Only
    dec_layer_postnorm_gelu_masks_eps mixes them (float tgt_mask, bool tgt_key_padding_mask):
    its self-attention bias is tgt_mask + (-inf where tgt_key_padding_mask is True).
  - TransformerDecoderLayer calls both of its attentions with need_weights=False (the sdpa
    route), passes tgt_is_causal / memory_is_causal through unchanged as MultiheadAttention's
    is_causal hint (it does not inspect the masks; TransformerDecoder and TransformerEncoder
    guess is_causal from the mask only when their is_causal argument is None), and has no
    inference fast path of its own. So with tgt_is_causal=True and no tgt_key_padding_mask,
    tgt_mask's content is ignored and causal attention is used (see the is_causal note above).
"""
import json
import math
import os
import warnings
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaNNTests",
                   "Fixtures", "attention_reference.json")
NEG_INF = float("-inf")


def tensor_json(t):
    t = t.detach().to(torch.float64).contiguous()
    assert torch.isfinite(t).all(), "a reference holds NaN or infinity"
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


cases = {}


def randomize(module):
    """Standard normal * 0.5, except LayerNorm: weight 1 + 0.1 N(0, 1), bias 0.1 N(0, 1)."""
    with torch.no_grad():
        for _, m in module.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                if isinstance(m, nn.LayerNorm):
                    p.copy_(1 + 0.1 * torch.randn_like(p) if pname == "weight" else 0.1 * torch.randn_like(p))
                else:
                    p.copy_(torch.randn_like(p) * 0.5)


def bool_mask(shape, p_true):
    """A random bool mask, True with probability p_true."""
    return torch.rand(*shape) < p_true


def causal_mask(L, S=None):
    """The bool mask True strictly above the diagonal (True = not allowed, MHA convention)."""
    return torch.ones(L, L if S is None else S, dtype=torch.bool).triu(1)


def check_rows(bias, what):
    """bias: an additive score bias (0 / -inf / finite) broadcast to [..., L, S]."""
    assert torch.isfinite(bias).any(-1).all(), what + ": a query row has every key masked"


def close(name, what, got, want, tol=1e-12):
    err = (got - want).abs().max().item()
    scale = max(1.0, want.abs().max().item())
    assert err <= tol * scale, "%s: %s differs from the plain equations by %.3e" % (name, what, err)
    return err


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# ---------------------------------------------------------------- plain equations
def softmax_attention(q, k, v, bias, scale):
    """softmax(q @ k^T * scale + bias) @ v with a hand-written softmax; returns (y, P)."""
    s = q @ k.transpose(-2, -1) * scale + bias
    s = s - s.amax(dim=-1, keepdim=True)
    e = torch.exp(s)
    p = e / e.sum(dim=-1, keepdim=True)
    return p @ v, p


def additive(mask, kind, true_means_masked):
    """The additive score bias of a stored mask (float64 0/1 for bool)."""
    if kind == "float":
        return mask
    masked = (mask == 1) if true_means_masked else (mask == 0)
    return torch.where(masked, torch.tensor(NEG_INF), torch.tensor(0.0))


def mha_bias(B, h, L, S, attn_mask, am_kind, kpm, kpm_kind):
    """The MHA score bias broadcast to [B, h, L, S]."""
    bias = torch.zeros(B, h, L, S)
    if attn_mask is not None:
        a = additive(attn_mask, am_kind, True)
        bias = bias + (a.reshape(B, h, L, S) if a.dim() == 3 else a)
    if kpm is not None:
        bias = bias + additive(kpm, kpm_kind, True).reshape(B, 1, 1, S)
    return bias


def mha_reference(query, key, value, h, w_in, b_in, w_out, b_out, bias):
    """Batch-first query [B, L, E], key/value [B, S, E]; bias [B, h, L, S]. Returns (y, P)."""
    B, L, E = query.shape
    S = key.shape[1]
    d = E // h
    wq, wk, wv = w_in[:E], w_in[E:2 * E], w_in[2 * E:]
    bq, bk, bv = (b_in[:E], b_in[E:2 * E], b_in[2 * E:]) if b_in is not None else (0, 0, 0)
    q = (query @ wq.t() + bq).reshape(B, L, h, d).transpose(1, 2)      # [B, h, L, d]
    k = (key @ wk.t() + bk).reshape(B, S, h, d).transpose(1, 2)
    v = (value @ wv.t() + bv).reshape(B, S, h, d).transpose(1, 2)
    o, p = softmax_attention(q, k, v, bias, 1 / math.sqrt(d))
    o = o.transpose(1, 2).reshape(B, L, E)
    y = o @ w_out.t() + (b_out if b_out is not None else 0)
    return y, p


def layer_norm(z, w, b, eps):
    mu = z.mean(dim=-1, keepdim=True)
    var = ((z - mu) ** 2).mean(dim=-1, keepdim=True)
    return (z - mu) / torch.sqrt(var + eps) * w + b


def feed_forward(z, g, activation):
    """linear2(act(linear1(z))); g maps a parameter name to its tensor; act relu or erf gelu."""
    a = z @ g("linear1.weight").t() + g("linear1.bias")
    if activation == "relu":
        a = torch.clamp(a, min=0)
    else:
        a = 0.5 * a * (1 + torch.erf(a / math.sqrt(2)))
    return a @ g("linear2.weight").t() + g("linear2.bias")


def encoder_layer_reference(x, P, prefix, cfg, bias):
    """One TransformerEncoderLayer on x [B, L, d]; P maps state_dict names to tensors."""
    g = lambda n: P[prefix + n]
    eps = cfg["layer_norm_eps"]

    def sa(z):
        return mha_reference(z, z, z, cfg["nhead"], g("self_attn.in_proj_weight"),
                             g("self_attn.in_proj_bias"), g("self_attn.out_proj.weight"),
                             g("self_attn.out_proj.bias"), bias)[0]

    ff = lambda z: feed_forward(z, g, cfg["activation"])
    n1 = lambda z: layer_norm(z, g("norm1.weight"), g("norm1.bias"), eps)
    n2 = lambda z: layer_norm(z, g("norm2.weight"), g("norm2.bias"), eps)
    if cfg["norm_first"]:
        z = x + sa(n1(x))
        return z + ff(n2(z))
    z = n1(x + sa(x))
    return n2(z + ff(z))


def decoder_layer_reference(tgt, memory, P, cfg, self_bias, cross_bias):
    """One TransformerDecoderLayer on tgt [B, L, d] and memory [B, S, d]; P maps state_dict
    names to tensors; self_bias [B, h, L, L] and cross_bias [B, h, L, S] are the score biases."""
    g = lambda n: P[n]
    eps = cfg["layer_norm_eps"]
    h = cfg["nhead"]

    def sa(z):
        return mha_reference(z, z, z, h, g("self_attn.in_proj_weight"), g("self_attn.in_proj_bias"),
                             g("self_attn.out_proj.weight"), g("self_attn.out_proj.bias"),
                             self_bias)[0]

    def ca(z, m):                        # cross-attention: queries z, keys and values m
        return mha_reference(z, m, m, h, g("multihead_attn.in_proj_weight"),
                             g("multihead_attn.in_proj_bias"), g("multihead_attn.out_proj.weight"),
                             g("multihead_attn.out_proj.bias"), cross_bias)[0]

    ff = lambda z: feed_forward(z, g, cfg["activation"])
    n1 = lambda z: layer_norm(z, g("norm1.weight"), g("norm1.bias"), eps)
    n2 = lambda z: layer_norm(z, g("norm2.weight"), g("norm2.bias"), eps)
    n3 = lambda z: layer_norm(z, g("norm3.weight"), g("norm3.bias"), eps)
    x = tgt
    if cfg["norm_first"]:
        x = x + sa(n1(x))
        x = x + ca(n2(x), memory)
        return x + ff(n3(x))
    x = n1(x + sa(x))
    x = n2(x + ca(x, memory))
    return n3(x + ff(x))


def check_grads(name, loss_fn, leaves, want):
    """Gradients of loss_fn(*copies) at fresh copies of `leaves` against `want` (same order)."""
    copies = [leaf(t) for t in leaves]
    loss_fn(*copies).backward()
    for (label, w), c in zip(want, copies):
        close(name, "d" + label, c.grad, w)


# ---------------------------------------------------------------- sdpa
def sdpa(name, B=2, H=3, L=5, S=7, E=4, Ev=6, mask_kind=None, mask_shape=None, causal=False,
         scale=None, mask=None):
    torch.manual_seed(zlib.crc32(name.encode()))
    cfg = {"module": "sdpa", "B": B, "H": H, "L": L, "S": S, "E": E, "Ev": Ev,
           "mask_kind": mask_kind, "mask_shape": mask_shape, "causal": causal, "scale": scale}
    q = torch.randn(B, H, L, E, requires_grad=True)
    k = torch.randn(B, H, S, E, requires_grad=True)
    v = torch.randn(B, H, S, Ev, requires_grad=True)
    if mask_kind == "bool":
        mask = mask if mask is not None else ~bool_mask(mask_shape, 0.35)     # True = attend
        assert list(mask.shape) == mask_shape and mask.dtype == torch.bool
    elif mask_kind == "float":
        mask = torch.randn(*mask_shape)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale)
    gy = torch.randn_like(y)
    (gy * y).sum().backward()

    stored_mask = None if mask is None else mask.to(torch.float64)
    if causal:
        bias = additive(causal_mask(L, S).to(torch.float64), "bool", True)
    elif mask is not None:
        bias = additive(stored_mask, mask_kind, False)
    else:
        bias = torch.zeros(L, S)
    check_rows(bias.expand(B, H, L, S), name)
    sc = scale if scale is not None else 1 / math.sqrt(E)
    with torch.no_grad():
        close(name, "y", softmax_attention(q, k, v, bias, sc)[0], y)
    check_grads(name, lambda q_, k_, v_: (gy * softmax_attention(q_, k_, v_, bias, sc)[0]).sum(),
                [q, k, v], [("q", q.grad), ("k", k.grad), ("v", v.grad)])

    tensors = {"q": tensor_json(q), "k": tensor_json(k), "v": tensor_json(v)}
    if mask is not None:
        tensors["mask"] = tensor_json(stored_mask)
    tensors.update(y=tensor_json(y), gy=tensor_json(gy), dq=tensor_json(q.grad),
                   dk=tensor_json(k.grad), dv=tensor_json(v.grad))
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-36s q %-14s k %-14s -> y %s" % (name, list(q.shape), list(k.shape), list(y.shape)))


# ---------------------------------------------------------------- MultiheadAttention
def mha(name, E=8, heads=2, B=2, L=5, S=None, bias=True, batch_first=False, self_attention=True,
        kpm_kind=None, am_kind=None, am_shape=None, need_weights=True, average=True,
        is_causal=False, kpm=None, attn_mask=None):
    """kpm / attn_mask: optional explicit bool masks (True = not allowed)."""
    torch.manual_seed(zlib.crc32(name.encode()))
    S = L if self_attention else S
    module = nn.MultiheadAttention(E, heads, dropout=0.0, bias=bias, batch_first=batch_first)
    randomize(module)
    module.train()
    cfg = {"module": "MultiheadAttention", "embed_dim": E, "num_heads": heads, "bias": bias,
           "batch_first": batch_first, "B": B, "L": L, "S": S, "self_attention": self_attention,
           "key_padding_mask_kind": kpm_kind, "attn_mask_kind": am_kind,
           "attn_mask_shape": am_shape, "need_weights": need_weights,
           "average_attn_weights": average, "is_causal": is_causal}
    shape = lambda n: [B, n, E] if batch_first else [n, B, E]
    if self_attention:
        x = torch.randn(*shape(L), requires_grad=True)
        inputs = {"x": x}
        query = key = value = x
    else:
        query = torch.randn(*shape(L), requires_grad=True)
        key = torch.randn(*shape(S), requires_grad=True)
        value = torch.randn(*shape(S), requires_grad=True)
        inputs = {"query": query, "key": key, "value": value}
    if kpm_kind == "bool":
        kpm = kpm if kpm is not None else bool_mask([B, S], 0.3)
    elif kpm_kind == "float":
        kpm = torch.randn(B, S)
    if am_kind == "bool":
        attn_mask = attn_mask if attn_mask is not None else bool_mask(am_shape, 0.3)
    elif am_kind == "float":
        attn_mask = torch.randn(*am_shape)
    assert (kpm is None) == (kpm_kind is None) and (attn_mask is None) == (am_kind is None)
    if attn_mask is not None:
        assert list(attn_mask.shape) == am_shape
    if is_causal:
        assert am_kind == "bool" and torch.equal(attn_mask, causal_mask(L))

    y, w = module(query, key, value, key_padding_mask=kpm, need_weights=need_weights,
                  attn_mask=attn_mask, average_attn_weights=average, is_causal=is_causal)
    assert (w is None) == (not need_weights)
    gy = torch.randn_like(y)
    loss = (gy * y).sum()
    gw = None
    if need_weights:
        gw = torch.randn_like(w)
        loss = loss + (gw * w).sum()
    loss.backward()

    # Independent check against the plain equations (batch-first inside).
    kpm64 = None if kpm is None else kpm.to(torch.float64)
    am64 = None if attn_mask is None else attn_mask.to(torch.float64)
    sbias = mha_bias(B, heads, L, S, am64, am_kind, kpm64, kpm_kind)
    check_rows(sbias, name)
    params = dict(module.named_parameters())
    assert list(params) == list(module.state_dict())
    pnames = list(params)
    in_names = list(inputs)

    def ref_loss(*ts):
        ins = dict(zip(in_names, ts[:len(in_names)]))
        P = dict(zip(pnames, ts[len(in_names):]))
        bf = (lambda t: t) if batch_first else (lambda t: t.transpose(0, 1))
        if self_attention:
            qq = kk = vv = bf(ins["x"])
        else:
            qq, kk, vv = bf(ins["query"]), bf(ins["key"]), bf(ins["value"])
        ry, p = mha_reference(qq, kk, vv, heads, P["in_proj_weight"], P.get("in_proj_bias"),
                              P["out_proj.weight"], P.get("out_proj.bias"), sbias)
        ry = bf(ry)
        out = (gy * ry).sum()
        if need_weights:
            rw = p.mean(dim=1) if average else p
            out = out + (gw * rw).sum()
        return out, ry, (p.mean(dim=1) if average else p)

    with torch.no_grad():
        _, ry, rw = ref_loss(*inputs.values(), *params.values())
        close(name, "y", ry, y)
        if need_weights:
            close(name, "w", rw, w)
    check_grads(name, lambda *ts: ref_loss(*ts)[0], [*inputs.values(), *params.values()],
                [(n, t.grad) for n, t in inputs.items()] + [(n, p.grad) for n, p in params.items()])

    tensors = {n: tensor_json(t) for n, t in inputs.items()}
    if kpm is not None:
        tensors["key_padding_mask"] = tensor_json(kpm64)
    if attn_mask is not None:
        tensors["attn_mask"] = tensor_json(am64)
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    tensors["y"] = tensor_json(y)
    if need_weights:
        tensors["w"] = tensor_json(w)
    tensors["gy"] = tensor_json(gy)
    if need_weights:
        tensors["gw"] = tensor_json(gw)
    for n, t in inputs.items():
        tensors["d" + n] = tensor_json(t.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-36s %-6s %-12s -> y %-12s w %s" % (name, "self" if self_attention else "cross",
          list(query.shape), list(y.shape), None if w is None else list(w.shape)))


# ---------------------------------------------------------------- encoder layer and encoder
def encoder_case(name, module, cfg, call, mask_tensors, layer_prefixes, final_norm, sbias):
    """Shared tail of the encoder-layer and encoder cases: forward, gradients, checks, JSON."""
    B, L, d = cfg["B"], cfg["L"], cfg["d_model"]
    x = torch.randn(B, L, d, requires_grad=True)
    y = call(x)
    gy = torch.randn_like(y)
    (gy * y).sum().backward()

    check_rows(sbias, name)
    params = dict(module.named_parameters())
    assert list(params) == list(module.state_dict())
    pnames = list(params)

    def ref(x_, *ps):
        P = dict(zip(pnames, ps))
        z = x_
        for prefix in layer_prefixes:
            z = encoder_layer_reference(z, P, prefix, cfg, sbias)
        if final_norm:
            z = layer_norm(z, P["norm.weight"], P["norm.bias"], 1e-5)
        return z

    with torch.no_grad():
        close(name, "y", ref(x, *params.values()), y)
    check_grads(name, lambda *ts: (gy * ref(*ts)).sum(), [x, *params.values()],
                [("x", x.grad)] + [(n, p.grad) for n, p in params.items()])

    tensors = {"x": tensor_json(x)}
    for n, t in mask_tensors.items():
        tensors[n] = tensor_json(t.to(torch.float64))
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    tensors["y"] = tensor_json(y)
    tensors["gy"] = tensor_json(gy)
    tensors["dx"] = tensor_json(x.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-36s x %-12s -> y %-12s %d parameters" % (name, list(x.shape), list(y.shape), len(params)))


def encoder_layer(name, d_model=8, nhead=2, dim_feedforward=12, activation="relu",
                  norm_first=False, layer_norm_eps=1e-5, B=2, L=5, src_mask_kind=None,
                  is_causal=False, kpm_kind=None, kpm=None):
    torch.manual_seed(zlib.crc32(name.encode()))
    module = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                        activation=activation, layer_norm_eps=layer_norm_eps,
                                        batch_first=True, norm_first=norm_first)
    randomize(module)
    module.train()
    cfg = {"module": "TransformerEncoderLayer", "d_model": d_model, "nhead": nhead,
           "dim_feedforward": dim_feedforward, "activation": activation, "norm_first": norm_first,
           "layer_norm_eps": layer_norm_eps, "B": B, "L": L, "src_mask_kind": src_mask_kind,
           "is_causal": is_causal, "key_padding_mask_kind": kpm_kind}
    src_mask = None
    if is_causal:
        assert src_mask_kind == "bool"
        src_mask = causal_mask(L)
    elif src_mask_kind == "bool":
        src_mask = bool_mask([L, L], 0.3)
    elif src_mask_kind == "float":
        src_mask = torch.randn(L, L)
    assert kpm_kind in (None, "bool")
    if kpm_kind == "bool":
        kpm = kpm if kpm is not None else bool_mask([B, L], 0.3)
    masks = {}
    if src_mask is not None:
        masks["src_mask"] = src_mask
    if kpm is not None:
        masks["src_key_padding_mask"] = kpm
    sbias = mha_bias(B, nhead, L, L, None if src_mask is None else src_mask.to(torch.float64),
                     src_mask_kind, None if kpm is None else kpm.to(torch.float64), kpm_kind)
    encoder_case(name, module, cfg,
                 lambda x: module(x, src_mask=src_mask, src_key_padding_mask=kpm, is_causal=is_causal),
                 masks, [""], False, sbias)


def encoder(name, d_model=8, nhead=2, dim_feedforward=12, activation="relu", norm_first=False,
            layer_norm_eps=1e-5, num_layers=2, final_norm=False, B=2, L=5, causal=False):
    torch.manual_seed(zlib.crc32(name.encode()))
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                       activation=activation, layer_norm_eps=layer_norm_eps,
                                       batch_first=True, norm_first=norm_first)
    module = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model) if final_norm else None,
                                   enable_nested_tensor=False)
    randomize(module)                                       # every layer drawn independently
    module.train()
    w0 = [module.layers[i].self_attn.in_proj_weight for i in range(num_layers)]
    assert all(not torch.equal(w0[0], w) for w in w0[1:])
    cfg = {"module": "TransformerEncoder", "d_model": d_model, "nhead": nhead,
           "dim_feedforward": dim_feedforward, "activation": activation, "norm_first": norm_first,
           "layer_norm_eps": layer_norm_eps, "num_layers": num_layers, "final_norm": final_norm,
           "B": B, "L": L, "causal": causal}
    mask = causal_mask(L) if causal else None
    sbias = mha_bias(B, nhead, L, L, None if mask is None else mask.to(torch.float64), "bool", None, None)
    encoder_case(name, module, cfg, lambda x: module(x, mask=mask, is_causal=causal),
                 {} if mask is None else {"mask": mask},
                 ["layers.%d." % i for i in range(num_layers)], final_norm, sbias)


# ---------------------------------------------------------------- decoder layer
def decoder_layer(name, d_model=8, nhead=2, dim_feedforward=12, activation="relu",
                  norm_first=False, layer_norm_eps=1e-5, B=2, L=5, S=6, tgt_mask_kind=None,
                  tgt_is_causal=False, memory_mask_kind=None, tgt_kpm_kind=None,
                  memory_kpm_kind=None, tgt_kpm=None, memory_kpm=None):
    """tgt_kpm / memory_kpm: optional explicit bool key padding masks (True = not allowed)."""
    torch.manual_seed(zlib.crc32(name.encode()))
    module = nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                        activation=activation, layer_norm_eps=layer_norm_eps,
                                        batch_first=True, norm_first=norm_first)
    randomize(module)
    module.train()
    cfg = {"module": "TransformerDecoderLayer", "d_model": d_model, "nhead": nhead,
           "dim_feedforward": dim_feedforward, "activation": activation, "norm_first": norm_first,
           "layer_norm_eps": layer_norm_eps, "B": B, "L": L, "S": S,
           "tgt_mask_kind": tgt_mask_kind, "tgt_is_causal": tgt_is_causal,
           "memory_mask_kind": memory_mask_kind, "tgt_key_padding_mask_kind": tgt_kpm_kind,
           "memory_key_padding_mask_kind": memory_kpm_kind}
    tgt_mask = None
    if tgt_is_causal:
        assert tgt_mask_kind == "bool"
        tgt_mask = causal_mask(L)
    elif tgt_mask_kind == "bool":
        tgt_mask = bool_mask([L, L], 0.3)
    elif tgt_mask_kind == "float":
        tgt_mask = torch.randn(L, L)
    assert memory_mask_kind in (None, "bool")
    memory_mask = bool_mask([L, S], 0.3) if memory_mask_kind == "bool" else None
    assert tgt_kpm_kind in (None, "bool") and memory_kpm_kind in (None, "bool")
    if tgt_kpm_kind == "bool":
        tgt_kpm = tgt_kpm if tgt_kpm is not None else bool_mask([B, L], 0.3)
    if memory_kpm_kind == "bool":
        memory_kpm = memory_kpm if memory_kpm is not None else bool_mask([B, S], 0.3)
    assert (tgt_kpm is None) == (tgt_kpm_kind is None)
    assert (memory_kpm is None) == (memory_kpm_kind is None)
    masks = {}                                              # stored in this order, as float64
    for n, t in (("tgt_mask", tgt_mask), ("memory_mask", memory_mask),
                 ("tgt_key_padding_mask", tgt_kpm), ("memory_key_padding_mask", memory_kpm)):
        if t is not None:
            masks[n] = t.to(torch.float64)
    f64 = lambda n: masks.get(n)
    self_bias = mha_bias(B, nhead, L, L, f64("tgt_mask"), tgt_mask_kind,
                         f64("tgt_key_padding_mask"), tgt_kpm_kind)
    cross_bias = mha_bias(B, nhead, L, S, f64("memory_mask"), memory_mask_kind,
                          f64("memory_key_padding_mask"), memory_kpm_kind)
    check_rows(self_bias, name + " (self-attention)")
    check_rows(cross_bias, name + " (cross-attention)")

    tgt = torch.randn(B, L, d_model, requires_grad=True)
    memory = torch.randn(B, S, d_model, requires_grad=True)
    # A float tgt_mask with a bool tgt_key_padding_mask makes PyTorch warn that mismatched mask
    # types are deprecated (it then adds the bool one as 0 / -inf); that warning is expected.
    mixed = tgt_mask_kind == "float" and tgt_kpm_kind == "bool"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = module(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                   tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=memory_kpm,
                   tgt_is_causal=tgt_is_causal, memory_is_causal=False)
    mismatch = [w for w in caught if "mismatched key_padding_mask and attn_mask" in str(w.message)]
    assert bool(mismatch) == mixed, "%s: mask-type warnings %s" % (name, [str(w.message) for w in caught])
    for w in caught:
        if w not in mismatch:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    gy = torch.randn_like(y)
    (gy * y).sum().backward()

    params = dict(module.named_parameters())
    assert list(params) == list(module.state_dict())
    pnames = list(params)

    def ref(tgt_, memory_, *ps):
        P = dict(zip(pnames, ps))
        return decoder_layer_reference(tgt_, memory_, P, cfg, self_bias, cross_bias)

    with torch.no_grad():
        close(name, "y", ref(tgt, memory, *params.values()), y)
    check_grads(name, lambda *ts: (gy * ref(*ts)).sum(), [tgt, memory, *params.values()],
                [("tgt", tgt.grad), ("memory", memory.grad)]
                + [(n, p.grad) for n, p in params.items()])

    tensors = {"tgt": tensor_json(tgt), "memory": tensor_json(memory)}
    for n, t in masks.items():
        tensors[n] = tensor_json(t)
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    tensors["y"] = tensor_json(y)
    tensors["gy"] = tensor_json(gy)
    tensors["dtgt"] = tensor_json(tgt.grad)
    tensors["dmemory"] = tensor_json(memory.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-36s tgt %-11s memory %-11s -> y %-11s %d parameters" % (
        name, list(tgt.shape), list(memory.shape), list(y.shape), len(params)))


# ---------------------------------------------------------------- sdpa cases
sdpa("sdpa_basic")
sdpa("sdpa_bool_mask", H=2, mask_kind="bool", mask_shape=[5, 7])
sdpa("sdpa_float_mask", H=2, mask_kind="float", mask_shape=[2, 1, 5, 7])
sdpa("sdpa_causal_square", B=1, H=2, L=6, S=6, causal=True)
sdpa("sdpa_causal_rect", B=1, H=2, L=3, S=6, causal=True)
sdpa("sdpa_scale", B=1, H=2, scale=0.5)
sdpa("sdpa_bool_full_mask_scale", H=2, mask_kind="bool", mask_shape=[2, 2, 5, 7], scale=0.3)
sdpa("sdpa_long_key_padding", B=1, H=2, L=70, S=70, E=8, Ev=4, mask_kind="bool",
     mask_shape=[1, 1, 1, 70], mask=(torch.arange(70) < 61).reshape(1, 1, 1, 70))
sdpa("sdpa_long_causal", B=1, H=1, L=67, S=67, E=4, Ev=2, causal=True)

# ---------------------------------------------------------------- MultiheadAttention cases
mha("mha_self_basic", E=8, heads=2, B=2, L=5, batch_first=False, need_weights=True, average=True)
mha("mha_cross_bool_kpm_per_head", E=8, heads=2, B=3, L=4, S=6, self_attention=False,
    batch_first=True, kpm_kind="bool", need_weights=True, average=False,
    kpm=torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False, True, False, True, True, True]]))
mha("mha_self_causal", E=8, heads=2, B=2, L=5, batch_first=True, am_kind="bool", am_shape=[5, 5],
    attn_mask=causal_mask(5), is_causal=True, need_weights=False)
mha("mha_cross_float_masks", E=8, heads=2, B=2, L=4, S=6, self_attention=False, batch_first=False,
    kpm_kind="float", am_kind="float", am_shape=[4, 4, 6], need_weights=True, average=True)
mha("mha_cross_bool_masks_no_weights", E=8, heads=4, B=2, L=4, S=6, self_attention=False,
    batch_first=False, kpm_kind="bool", am_kind="bool", am_shape=[4, 6], need_weights=False,
    kpm=torch.tensor([[False] * 5 + [True], [False] * 3 + [True] * 3]))
mha("mha_self_nobias", E=8, heads=2, B=2, L=5, bias=False, batch_first=True, need_weights=True,
    average=False)
mha("mha_self_one_head", E=6, heads=1, B=2, L=5, batch_first=False, am_kind="bool", am_shape=[5, 5],
    need_weights=True, average=True)
mha("mha_self_causal_kpm_weights", E=8, heads=2, B=2, L=5, batch_first=True, am_kind="bool",
    am_shape=[5, 5], attn_mask=causal_mask(5), is_causal=True, kpm_kind="bool",
    kpm=torch.tensor([[False] * 5, [False] * 3 + [True] * 2]), need_weights=True, average=False)

# ---------------------------------------------------------------- TransformerEncoderLayer cases
encoder_layer("enc_layer_postnorm_relu", activation="relu", norm_first=False)
encoder_layer("enc_layer_prenorm_gelu_causal", activation="gelu", norm_first=True,
              src_mask_kind="bool", is_causal=True)
encoder_layer("enc_layer_postnorm_gelu_kpm_eps", activation="gelu", norm_first=False,
              layer_norm_eps=1e-3, kpm_kind="bool",
              kpm=torch.tensor([[False] * 5, [False] * 3 + [True] * 2]))
encoder_layer("enc_layer_prenorm_relu_float_mask", activation="relu", norm_first=True,
              src_mask_kind="float")
encoder_layer("enc_layer_prenorm_gelu_causal_kpm", activation="gelu", norm_first=True,
              src_mask_kind="bool", is_causal=True, kpm_kind="bool",
              kpm=torch.tensor([[False] * 4 + [True], [False] * 5]))

# ---------------------------------------------------------------- TransformerEncoder cases
encoder("encoder_prenorm_gelu_causal_norm", activation="gelu", norm_first=True, final_norm=True,
        causal=True)
encoder("encoder_postnorm_relu", activation="relu", norm_first=False, final_norm=False)

# ---------------------------------------------------------------- TransformerDecoderLayer cases
decoder_layer("dec_layer_postnorm_relu", activation="relu", norm_first=False)
decoder_layer("dec_layer_prenorm_gelu_causal_memory_kpm", activation="gelu", norm_first=True,
              tgt_mask_kind="bool", tgt_is_causal=True, memory_kpm_kind="bool",
              memory_kpm=torch.tensor([[False] * 6, [False] * 4 + [True] * 2]))
decoder_layer("dec_layer_postnorm_gelu_masks_eps", activation="gelu", norm_first=False,
              layer_norm_eps=1e-3, tgt_mask_kind="float", memory_mask_kind="bool",
              tgt_kpm_kind="bool",
              tgt_kpm=torch.tensor([[False] * 4 + [True], [False] * 3 + [True] * 2]))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
doc = {"generator": "Scripts/reference_attention.py, torch %s" % torch.__version__, "cases": cases}
# One line per tensor and per config, so the file stays readable and diffs stay small.
lines = ["{", '"generator": %s,' % json.dumps(doc["generator"]), '"cases": {']
for ci, (cname, case) in enumerate(cases.items()):
    lines.append(' %s: {' % json.dumps(cname))
    lines.append('  "config": %s,' % json.dumps(case["config"]))
    lines.append('  "tensors": {')
    items = list(case["tensors"].items())
    for ti, (tname, t) in enumerate(items):
        lines.append('   %s: %s%s' % (json.dumps(tname), json.dumps(t), "," if ti < len(items) - 1 else ""))
    lines.append('  }')
    lines.append(' }' + ("," if ci < len(cases) - 1 else ""))
lines.append("}")
lines.append("}")
text = "\n".join(lines) + "\n"
assert json.loads(text) == json.loads(json.dumps(doc))
assert "NaN" not in text and "Infinity" not in text
with open(OUT, "w") as f:
    f.write(text)
print("wrote %s (%d cases, %d bytes)" % (os.path.normpath(OUT), len(cases), os.path.getsize(OUT)))
