#!/usr/bin/env python3
"""Whole-model reference fixtures for
`nabla predict --model ARCH.yaml --weights W.safetensors --input x.npy` on transformer nets.

Writes two directories under Tests/NablaCLITests/Fixtures/:
  pytorch-gpt/      a small causal (decoder-only, GPT-style) language model on inputs [12] of
                    token ids (vocabulary 13): embedding, learned positional encoding, a 2-layer
                    pre-norm gelu transformer encoder with causal self-attention, layernorm,
                    per-position linear -> 13 logits per position
                    files: gpt.yaml, weights.safetensors, x.npy [3, 12], logits.npy [3, 12, 13]
  pytorch-encoder/  a sequence classifier on inputs [9, 5] (time, features): linear 5 -> 16,
                    sinusoidal positional encoding, a 2-layer post-norm relu transformer
                    encoder with a final LayerNorm, mean over time, linear -> 4 logits
                    files: encoder.yaml, weights.safetensors, x.npy [4, 9, 5], logits.npy [4, 4]
where
  *.yaml               the architecture in Nabla's YAML, written by this script from the Python
                       data GPT / ENCODER below, from which the PyTorch model is built
  weights.safetensors  the float32 state_dict() with torch.nn.Sequential's names, saved with
                       safetensors.torch.save_file (contiguous tensors); for pytorch-gpt:
                         0.weight [13, 16]                      embedding
                         1.weight [32, 16]                      learned positional encoding
                         2.layers.<k>.self_attn.in_proj_weight [48, 16], .in_proj_bias [48],
                         2.layers.<k>.self_attn.out_proj.weight [16, 16], .out_proj.bias [16],
                         2.layers.<k>.linear1.weight [32, 16], .linear1.bias [32],
                         2.layers.<k>.linear2.weight [16, 32], .linear2.bias [16],
                         2.layers.<k>.norm1.weight, .norm1.bias, .norm2.weight, .norm2.bias [16]
                                                                for k = 0, 1
                         3.weight, 3.bias [16]                  layernorm
                         4.weight [13, 16], 4.bias [13]         linear
                       for pytorch-encoder: 0.weight [16, 5], 0.bias [16]; (the sinusoidal
                       encoding has nothing in the state_dict); 2.layers.<k>.* as above with
                       in_proj [48, 16], linear1 [24, 16], linear2 [16, 24]; 2.norm.weight,
                       2.norm.bias [16] (the encoder's final LayerNorm); 4.weight [4, 16], 4.bias
  x.npy                the batch of inputs, float32 (for the GPT: exact integer token ids
                       stored as float32)
  logits.npy           the eval-mode outputs of the float32 model on x, float32

The YAML layer types and their PyTorch meaning (x is [batch, T, D] between layers):
  {type: embedding, vocab: N, dim: D}
      nn.Embedding(N, D) on x.long() (token ids arrive as floats)
  {type: positional_encoding, kind: learned, max_len: M}
      y = x + weight[:T], one parameter `weight` [M, D] (a module holding
      nn.Parameter(torch.randn(M, D))); T <= M
  {type: positional_encoding, kind: sinusoidal, max_len: M}
      y = x + pe[:T] with no parameters and nothing in the state_dict (pe is a non-persistent
      buffer), where for pos in [0, M) and 2i < D (the PyTorch tutorial's formula)
          pe[pos, 2i]   = sin(pos * exp(-ln(10000) * 2i / D))
          pe[pos, 2i+1] = cos(pos * exp(-ln(10000) * 2i / D))
      computed in float64 and rounded to float32 (D is even here)
  {type: transformer_encoder, d_model: D, heads: h, ff: F, layers: n, dropout: p,
   activation: relu|gelu, norm_first: bool, causal: bool, norm: bool}
      nn.TransformerEncoder(nn.TransformerEncoderLayer(D, h, F, p, activation, batch_first=True,
      norm_first=norm_first), n, norm=nn.LayerNorm(D) if norm else None,
      enable_nested_tensor=False), called with mask=generate_square_subsequent_mask(T) and
      is_causal=True when causal (position t attends to positions 0...t only), with no mask
      otherwise. Every layer: post-norm z = norm1(x + sa(x)), y = norm2(z + ff(z)); pre-norm
      z = x + sa(norm1(x)), y = z + ff(norm2(z)); ff(z) = linear2(act(linear1(z))), gelu being
      the exact erf gelu; LayerNorm eps 1e-5 everywhere. sa is nn.MultiheadAttention
      self-attention (see Scripts/reference_attention.py for its equations).
  {type: layernorm}
      nn.LayerNorm(last dim), eps 1e-5
  {type: linear, out: N}
      nn.Linear(last dim, N) on the last axis
  {type: mean, axis: a}
      the mean over axis a of each example, the axis counted without the batch axis
      (x.mean(dim=a + 1)); no parameters
All the keys of every layer are written out in the YAML files (this script has no defaults).

Each model is first trained for 20 seeded Adam steps on random data (for the GPT, per-position
cross-entropy against random next tokens; for the encoder, cross-entropy against random
labels) so the weights are not at their initial values, and is then put in eval mode (dropout
is 0 anyway; in eval mode under no_grad PyTorch may take its fused transformer fast path).
The values come from PyTorch, independently of Nabla. The script checks that the float32
logits agree with a float64 copy of the model run in training mode, i.e. off the fast path (to
1e-5 relative to the largest logit), that the saved weights reload exactly, and, for the GPT,
that the logits at position t do not change when the tokens after t change.

Needs torch, numpy and safetensors:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy safetensors
    ~/.nabla-peers/bin/python Scripts/reference_transformer_predict.py
"""
import copy
import math
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaCLITests", "Fixtures")
HEADER = ("# Written by Scripts/reference_transformer_predict.py (do not edit by hand): Nabla's\n"
          "# architecture for the PyTorch nn.Sequential whose state_dict is weights.safetensors.\n"
          "# `input` is one example's shape (no batch axis); sequence layers see [batch, T, D].\n")

# The architectures as Python data; both the YAML file and the PyTorch model come from these.
GPT = {"input": [12], "layers": [
    {"type": "embedding", "vocab": 13, "dim": 16},
    {"type": "positional_encoding", "kind": "learned", "max_len": 32},
    {"type": "transformer_encoder", "d_model": 16, "heads": 4, "ff": 32, "layers": 2, "dropout": 0.0,
     "activation": "gelu", "norm_first": True, "causal": True, "norm": False},
    {"type": "layernorm"},
    {"type": "linear", "out": 13}]}

ENCODER = {"input": [9, 5], "layers": [
    {"type": "linear", "out": 16},
    {"type": "positional_encoding", "kind": "sinusoidal", "max_len": 64},
    {"type": "transformer_encoder", "d_model": 16, "heads": 2, "ff": 24, "layers": 2, "dropout": 0.0,
     "activation": "relu", "norm_first": False, "causal": False, "norm": True},
    {"type": "mean", "axis": 0},
    {"type": "linear", "out": 4}]}


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(yaml_value(e) for e in v) + "]"
    return str(v)


def to_yaml(arch):
    lines = ["input: %s" % yaml_value(arch["input"]), "layers:"]
    for spec in arch["layers"]:
        lines.append("  - {" + ", ".join("%s: %s" % (k, yaml_value(v)) for k, v in spec.items()) + "}")
    return "\n".join(lines) + "\n"


class Embedding(nn.Embedding):
    """Token ids arrive as floats (x.npy is float32); cast them to integer indices."""
    def forward(self, x):
        return super().forward(x.long())


class PositionalEncoding(nn.Module):
    """x [B, T, D] + weight[:T] (learned) or + pe[:T] (sinusoidal, not in the state_dict)."""
    def __init__(self, kind, max_len, dim):
        super().__init__()
        assert kind in ("learned", "sinusoidal")
        self.kind, self.max_len = kind, max_len
        if kind == "learned":
            self.weight = nn.Parameter(torch.randn(max_len, dim))
        else:
            assert dim % 2 == 0
            pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
            div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
            pe = torch.zeros(max_len, dim, dtype=torch.float64)
            pe[:, 0::2] = torch.sin(pos * div)
            pe[:, 1::2] = torch.cos(pos * div)
            self.register_buffer("pe", pe.to(torch.get_default_dtype()), persistent=False)

    def forward(self, x):
        T = x.shape[1]
        assert T <= self.max_len
        return x + (self.weight[:T] if self.kind == "learned" else self.pe[:T])

    def extra_repr(self):
        return "kind=%s, max_len=%d" % (self.kind, self.max_len)


class TransformerEncoder(nn.TransformerEncoder):
    """nn.TransformerEncoder (batch_first) that builds its own causal mask when causal."""
    def __init__(self, d_model, heads, ff, layers, dropout, activation, norm_first, causal, norm):
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation,
                                           batch_first=True, norm_first=norm_first)
        super().__init__(layer, layers, norm=nn.LayerNorm(d_model) if norm else None,
                         enable_nested_tensor=False)
        self.causal = causal

    def forward(self, x):
        if not self.causal:
            return super().forward(x)
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device, dtype=x.dtype)
        return super().forward(x, mask=mask, is_causal=True)

    def extra_repr(self):
        return "causal=%s" % self.causal


class Mean(nn.Module):
    """The mean over `axis` of each example (axis counted without the batch axis)."""
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return x.mean(dim=self.axis + 1)

    def extra_repr(self):
        return "axis=%d" % self.axis


def build_layer(spec, shape):
    """One PyTorch module for a YAML layer, given the (unbatched) input shape."""
    t = spec["type"]
    if t == "embedding":
        return Embedding(spec["vocab"], spec["dim"])
    if t == "positional_encoding":
        assert len(shape) == 2, "positional_encoding takes [T, D], got %s" % shape
        return PositionalEncoding(spec["kind"], spec["max_len"], shape[-1])
    if t == "transformer_encoder":
        assert len(shape) == 2 and shape[-1] == spec["d_model"], "transformer_encoder takes [T, d_model]"
        return TransformerEncoder(spec["d_model"], spec["heads"], spec["ff"], spec["layers"],
                                  spec["dropout"], spec["activation"], spec["norm_first"],
                                  spec["causal"], spec["norm"])
    if t == "layernorm":
        return nn.LayerNorm(shape[-1])
    if t == "linear":
        return nn.Linear(shape[-1], spec["out"])
    if t == "mean":
        return Mean(spec["axis"])
    raise ValueError("unknown layer type %r" % t)


def out_shape(module, shape, sample):
    was = module.training
    module.eval()
    with torch.no_grad():
        y = module(sample(2, shape))
    module.train(was)
    return list(y.shape[1:])


def make_fixture(name, arch, yaml_name, seed, sample, loss_fn, n_inputs, n_train_steps=20,
                 train_batch=16):
    """sample(n, shape) draws a float32 input batch; loss_fn(logits) is the training loss."""
    print("==", name)
    torch.manual_seed(seed)
    shape = list(arch["input"])
    layers = []
    for i, spec in enumerate(arch["layers"]):
        m = build_layer(spec, shape)
        new = out_shape(m, shape, lambda n, s: sample(n, s) if i == 0 else torch.randn(n, *s))
        print("%2d %-20s %-10s -> %s" % (i, spec["type"], shape, new))
        layers.append(m)
        shape = new
    model = nn.Sequential(*layers)
    print(model)

    # A few Adam steps on random data, so the weights move away from their initialisation.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(n_train_steps):
        loss = loss_fn(model(sample(train_batch, arch["input"])))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("final training loss %.4f" % loss.item())
    model.eval()

    x = sample(n_inputs, arch["input"])                          # float32
    with torch.no_grad():
        logits = model(x).numpy()                                # float32, eval mode
        logits64 = copy.deepcopy(model).double().train()(x.double()).numpy()   # off the fast path
    assert logits.dtype == np.float32 and x.dtype == torch.float32

    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "weights.safetensors"))
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "logits.npy"), logits)
    with open(os.path.join(out, yaml_name), "w") as f:
        f.write(HEADER + to_yaml(arch))

    # Checks: the weights reload exactly and float32 agrees with float64.
    reloaded = load_file(os.path.join(out, "weights.safetensors"))
    assert set(reloaded) == set(state)
    for k in state:
        assert reloaded[k].dtype == state[k].dtype and torch.equal(reloaded[k], state[k]), k
    abs_diff = np.abs(logits.astype(np.float64) - logits64)
    rel_to_max = abs_diff.max() / np.abs(logits64).max()
    print("state_dict: %d tensors, %d float32 numbers" % (len(state), sum(v.numel() for v in state.values())))
    for k, v in state.items():
        print("  %-36s %s" % (k, list(v.shape)))
    print("x %s %s, logits %s %s" % (list(x.shape), x.dtype, list(logits.shape), logits.dtype))
    print("float32 (eval) vs float64 (train mode): max |diff| %.3e, relative to max |logit| %.3e"
          % (abs_diff.max(), rel_to_max))
    assert rel_to_max <= 1e-5, "float32 and float64 disagree"
    print("logits[0] =", logits[0])
    return model, x, logits


def normal(n, shape):
    return torch.randn(n, *shape)


def tokens(vocab):
    return lambda n, shape: torch.randint(0, vocab, (n, *shape)).float()


def check_causal(model, x, logits, vocab):
    """Logits at positions <= t must not change when the tokens after t change (and those
    at t + 1 should)."""
    T = x.shape[1]
    worst = 0.0
    g = torch.Generator().manual_seed(0)
    for t in range(T - 1):
        x2 = x.clone()
        x2[:, t + 1:] = (x2[:, t + 1:] + torch.randint(1, vocab, x2[:, t + 1:].shape, generator=g)) % vocab
        with torch.no_grad():
            l2 = model(x2).numpy()
        worst = max(worst, float(np.abs(l2[:, :t + 1] - logits[:, :t + 1]).max()))
        assert np.abs(l2[:, t + 1] - logits[:, t + 1]).max() > 1e-3, "position %d ignores its token" % (t + 1)
    print("causality: max |change| of the logits at positions <= t when the tokens after t "
          "change: %.3e" % worst)
    assert worst <= 1e-6, "the causal model looks ahead"


if __name__ == "__main__":
    V = GPT["layers"][0]["vocab"]
    model, x, logits = make_fixture(
        "pytorch-gpt", GPT, "gpt.yaml", seed=31, sample=tokens(V), n_inputs=3,
        loss_fn=lambda y: nn.functional.cross_entropy(y.reshape(-1, V),
                                                      torch.randint(0, V, (y.shape[0] * y.shape[1],))))
    assert torch.equal(x, x.round()) and x.min() >= 0 and x.max() < V
    check_causal(model, x, logits, V)
    C = ENCODER["layers"][-1]["out"]
    make_fixture("pytorch-encoder", ENCODER, "encoder.yaml", seed=32, sample=normal, n_inputs=4,
                 loss_fn=lambda y: nn.functional.cross_entropy(y, torch.randint(0, C, (y.shape[0],))))
    print("torch", torch.__version__)
