#!/usr/bin/env python3
"""PyTorch's side of the character-transformer benchmarks (BENCHMARKS.md): the model of
Nabla's Examples/models/char-gpt.yaml on the data of the character-LSTM race.

Data: the Jargon File 4.4.7 (Sources/NablaData/Resources/jargon.txt.gz), read as Unicode
code points; the first 90 % is the training text, the next 5 % the validation text
(Nabla's TextCorpus split); the vocabulary is the training text's characters sorted by code
point (V = 154), and validation characters outside it are dropped. Examples are
non-overlapping windows of T = 128 characters, targets the same windows one character
later; a trailing piece shorter than a window is not used.

Model (d = 128, 4 heads, feed-forward 512, 4 layers, pre-norm), PyTorch's default
initialisation throughout:
    Embedding(V, 128) on token ids [B, T]
    + positional table P[:T], P = Parameter(randn(128, 128))   (learned, max_len 128)
    TransformerEncoder(TransformerEncoderLayer(128, 4, 512, dropout=0.1, activation="gelu",
        batch_first=True, norm_first=True), 4, enable_nested_tensor=False),
        called with mask = Transformer.generate_square_subsequent_mask(T) and is_causal=True
    LayerNorm(128) -> Linear(128, V)
Dropout 0.1 acts in each layer on the attention weights, after the attention output
projection, after the GELU and after the second feed-forward linear. GELU is the exact (erf)
form. nn.TransformerEncoder deep-copies the layer it is given, so its four layers start
from identical parameters (they diverge with training). With is_causal=True the mask is
passed to scaled_dot_product_attention as is_causal; because of the attention dropout,
training steps take its unfused path (aten::_scaled_dot_product_attention_math, a
materialised T x T matrix), and evaluation (eval mode, no grad) takes PyTorch's inference
fast path (aten::_transformer_encoder_layer_fwd), the same function without dropout.
Loss: mean cross-entropy over all B*T next-character targets. Adam (lr 1e-3, --lr), gradient
norm clipped to 5, batch B = 32, a fresh shuffle of the training windows per epoch (numpy
seed 0), torch seed 0, 2 threads (--threads).

A training step is: zero_grad, forward, loss, backward, clip, Adam step, all timed.

--mode step (default): --warmup W untimed steps (default 5), then --steps N timed steps
(default 30), batches taken in order from the shuffled epoch. One JSON line per timed step
    {"framework":"torch","compiled":bool,"step":i,"seconds":t}   (i = 1..N)
then a summary line with median/min/mean seconds, threads, torch version and V. With
--compile the model (not the loss, clipping or optimizer) is wrapped in torch.compile
(default inductor backend); the first warm-up step compiles, its wall time is reported as
compile_seconds (compilation plus one step), and W must be >= 2 so that the warm-up covers
compilation and the first compiled run.

--mode race: trains for --seconds of training wall time (default 600), eager only. Every
--every batches (default 50) the mean validation loss in nats per character over the whole
validation text (windows of 128, evaluation mode so no dropout, no gradients, excluded from
the clock) is printed as
    {"framework":"torch","model":"char-gpt","batches":n,"train_seconds":s,"val_loss":x,...}
preceded by a header line and followed by a line with "final": true, as char_lstm.py does.

Usage:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $HOME/.nabla-peers/bin/python \\
        Benchmarks/char_gpt.py [--mode step] [--steps 30] [--warmup 5] [--compile]
    ... Benchmarks/char_gpt.py --mode race [--seconds 600] [--every 50]
"""
import argparse, gzip, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--mode", choices=["step", "race"], default="step")
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--compile", action="store_true")
ap.add_argument("--seconds", type=float, default=600)
ap.add_argument("--every", type=int, default=50)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
if args.compile and args.mode != "step":
    ap.error("--compile applies to --mode step only")
if args.compile and args.warmup < 2:
    ap.error("--compile needs --warmup >= 2 (compilation, then a first compiled step)")
torch.set_num_threads(args.threads)
torch.manual_seed(0)

here = os.path.dirname(os.path.abspath(__file__))
with gzip.open(os.path.join(here, "..", "Sources", "NablaData", "Resources", "jargon.txt.gz"), "rb") as f:
    text = f.read().decode("utf-8")
n_train, n_val = len(text) * 9 // 10, len(text) // 20
train_text, val_text = text[:n_train], text[n_train:n_train + n_val]
vocab = sorted(set(train_text), key=ord)
index = {c: i for i, c in enumerate(vocab)}
V, T, B, D = len(vocab), 128, 32, 128


def windows(s):
    ids = np.array([index[c] for c in s if c in index], dtype=np.int64)
    n = (len(ids) - 1) // T
    x = ids[:n * T].reshape(n, T)
    y = ids[1:n * T + 1].reshape(n, T)
    return torch.from_numpy(x), torch.from_numpy(y)


xtr, ytr = windows(train_text)
xva, yva = windows(val_text)


class CharGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D)
        self.position = nn.Parameter(torch.randn(T, D))
        layer = nn.TransformerEncoderLayer(D, 4, 512, dropout=0.1, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.out = nn.Linear(D, V)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(T), persistent=False)

    def forward(self, x):
        t = x.shape[1]
        h = self.embed(x) + self.position[:t]
        h = self.encoder(h, mask=self.mask[:t, :t], is_causal=True)
        return self.out(self.norm(h))


model = CharGPT()
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
net = model
compiled = False
if args.compile:
    net = torch.compile(model)
    compiled = True


def batch_stream():
    """Training batches in the order of the protocol: per epoch a fresh permutation."""
    rng = np.random.default_rng(0)
    epoch = 0
    while True:
        epoch += 1
        perm = rng.permutation(len(xtr))
        for b in range(len(perm) // B):
            idx = perm[b * B:(b + 1) * B]
            yield epoch, xtr[idx], ytr[idx]


def train_step(x, y):
    opt.zero_grad()
    loss = F.cross_entropy(net(x).reshape(-1, V), y.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss


def validation_loss():
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(xva), 128):
            logits = model(xva[i:i + 128])
            total += F.cross_entropy(logits.reshape(-1, V), yva[i:i + 128].reshape(-1), reduction="sum").item()
            count += yva[i:i + 128].numel()
    model.train()
    return total / count


model.train()
batches = batch_stream()

if args.mode == "step":
    first = None
    for w in range(args.warmup):
        _, x, y = next(batches)
        t0 = time.perf_counter()
        train_step(x, y)
        if w == 0:
            first = time.perf_counter() - t0
    times = []
    for i in range(1, args.steps + 1):
        _, x, y = next(batches)
        t0 = time.perf_counter()
        train_step(x, y)
        t = time.perf_counter() - t0
        times.append(t)
        print(json.dumps({"framework": "torch", "compiled": compiled, "step": i, "seconds": round(t, 6)}), flush=True)
    summary = {"framework": "torch", "model": "char-gpt", "compiled": compiled, "summary": True,
               "steps": args.steps, "warmup": args.warmup, "batch": B, "context": T,
               "median_seconds": round(statistics.median(times), 6) if times else None,
               "min_seconds": round(min(times), 6) if times else None,
               "mean_seconds": round(statistics.fmean(times), 6) if times else None,
               "threads": args.threads, "version": torch.__version__, "vocabulary": V,
               "parameters": sum(p.numel() for p in model.parameters())}
    if compiled:
        summary["compile_seconds"] = round(first, 3) if first is not None else None
    else:
        summary["first_step_seconds"] = round(first, 6) if first is not None else None
    print(json.dumps(summary), flush=True)
else:
    print(json.dumps({"framework": "torch", "model": "char-gpt", "version": torch.__version__, "vocabulary": V,
                      "train_sequences": len(xtr), "validation_sequences": len(xva), "batch": B, "context": T,
                      "lr": args.lr, "threads": args.threads,
                      "parameters": sum(p.numel() for p in model.parameters())}), flush=True)
    trained, n, epoch, loss = 0.0, 0, 0, None
    while trained < args.seconds:
        epoch, x, y = next(batches)
        t0 = time.perf_counter()
        loss = train_step(x, y)
        trained += time.perf_counter() - t0
        n += 1
        if n % args.every == 0:
            print(json.dumps({"framework": "torch", "model": "char-gpt", "batches": n, "train_seconds": round(trained, 2),
                              "val_loss": round(validation_loss(), 4), "epoch": epoch,
                              "train_loss": round(loss.item(), 4)}), flush=True)
    print(json.dumps({"framework": "torch", "model": "char-gpt", "batches": n, "train_seconds": round(trained, 2),
                      "val_loss": round(validation_loss(), 4), "epoch": epoch, "final": True}), flush=True)
