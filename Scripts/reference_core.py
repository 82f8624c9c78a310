#!/usr/bin/env python3
"""Reference values for Tests/NablaCoreTests/ReferenceTests.swift, computed with PyTorch.

For each composite expression it draws float64 inputs (NumPy, fixed seed), evaluates
the expression with PyTorch, and back-propagates the loss sum(y * w) with
w = 1 + 0.1 * arange(y.numel()) reshaped like y. It prints Swift literals (inputs,
forward value, gradients) to paste into ReferenceTests.swift, so the Swift tests never
need Python.

Run:  $HOME/.nabla-peers/bin/python Scripts/reference_core.py > /tmp/ref.swift
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def draw(rng, shape, lo=-1.5, hi=1.5, min_abs=0.1):
    """Uniform values in [lo, hi] with |v| >= min_abs (away from kinks at 0)."""
    n = int(np.prod(shape)) if shape else 1
    out = []
    while len(out) < n:
        v = float(rng.uniform(lo, hi))
        if abs(v) >= min_abs:
            out.append(v)
    return out


def lit(values):
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def case(name, shapes, fn, seed, ranges=None):
    rng = np.random.RandomState(seed)
    ranges = ranges or [(-1.5, 1.5)] * len(shapes)
    raw = [draw(rng, s, lo, hi) for s, (lo, hi) in zip(shapes, ranges)]
    xs = [torch.tensor(v, dtype=torch.float64).reshape(s).requires_grad_(True) for v, s in zip(raw, shapes)]
    y = fn(*xs)
    w = (1 + 0.1 * torch.arange(y.numel(), dtype=torch.float64)).reshape(y.shape)
    (y * w).sum().backward()
    grads = [x.grad.reshape(-1).tolist() if x.grad is not None else [0.0] * x.numel() for x in xs]
    print(f"    static let {name} = ReferenceCase(")
    print(f"        shapes: {[list(s) for s in shapes]},")
    print("        inputs: [" + ",\n                 ".join(lit(v) for v in raw) + "],")
    print(f"        valueShape: {list(y.shape)},")
    print(f"        value: {lit(y.detach().reshape(-1).tolist())},")
    print("        grads: [" + ",\n                "
          .join(lit(g) for g in grads) + "])")
    print()


def main():
    case("mlpLogSumExp", [[4, 3], [3, 5], [5]],
         lambda x, W, b: torch.logsumexp(torch.tanh(x @ W + b), dim=1), seed=1)
    case("logSoftmax", [[4, 5]],
         lambda z: z - torch.logsumexp(z, dim=1, keepdim=True), seed=2)
    case("rowNormalize", [[3, 4]],
         lambda x: x / torch.sqrt((x * x).sum(1, keepdim=True) + 1e-6), seed=3)
    case("broadcastChain", [[2, 3, 1], [4], [3, 4]],
         lambda a, b, c: ((a * b + c) / (1 + c * c)).exp() - b.sin(), seed=4)
    case("batchedMatmulMax", [[2, 3, 4], [4, 5]],
         lambda A, B: torch.amax(A @ B, dim=2).mean(0), seed=5)
    case("batchBroadcastMatmul", [[3, 4], [2, 4, 5], [5]],
         lambda A, B, v: torch.sigmoid(torch.matmul(A @ B, v)), seed=6)
    case("varianceStd", [[4, 5]],
         lambda x: torch.cat([x.var(dim=1), x.std(dim=0, correction=0)]), seed=7)
    case("whereClamp", [[3, 4], [3, 4]],
         lambda x, y: torch.where(x > 0, x.clamp(max=0.8), 0.1 * x) * y.sigmoid()
         + torch.where(y < 0.3, y * y, x).clamp(min=-0.5), seed=8)
    case("layerNorm", [[3, 4], [4], [4]],
         lambda x, g, b: (x - x.mean(-1, keepdim=True))
         / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5) * g + b, seed=9)
    case("gelu", [[2, 3]],
         lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))), seed=10)
    case("powLog", [[2, 3], [3]],
         lambda a, b: (a.abs() + 0.5).pow(b) * (a * a + 1).log() + a.pow(3) / (b.abs() + 1), seed=11)
    case("gatherCat", [[3, 4]],
         lambda x: torch.cat([x[:, ::2], x.gather(1, torch.tensor([[0, 3], [1, 1], [2, 0]]))], dim=1).tanh()
         * x.index_select(0, torch.tensor([2, 0, 0])), seed=12)
    case("maxMinTrig", [[2, 3], [3]],
         lambda a, b: torch.maximum(a.sin(), b.cos()) - torch.minimum(a, b) * a.exp(), seed=13)
    case("binaryCrossEntropy", [[6], [6]],
         lambda z, y: -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))).mean(),
         seed=14, ranges=[(-3, 3), (0.05, 0.95)])
    case("permuteReshapeSoftplus", [[2, 3, 4], [6]],
         lambda x, w: torch.log(1 + torch.exp(x.permute(2, 0, 1).reshape(4, 6) @ w)), seed=15)
    case("padSplitStack", [[2, 3]],
         lambda x: (lambda p: torch.stack([p[:1].sum(0), (p[1:] ** 2).mean(0)], dim=1))(
             F.pad(x, (1, 0, 0, 2))), seed=16)


if __name__ == "__main__":
    main()
