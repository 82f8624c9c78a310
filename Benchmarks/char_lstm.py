#!/usr/bin/env python3
"""PyTorch's side of the character-LSTM race (BENCHMARKS.md): the same data, model and
protocol as `swift run -c release NablaBenchmarks charlm`.

Data: the Jargon File 4.4.7 (Sources/NablaData/Resources/jargon.txt.gz), read as Unicode
code points; the first 90 % is the training text, the next 5 % the validation text
(Nabla's TextCorpus split); the vocabulary is the training text's characters sorted by code
point, and validation characters outside it are dropped. Examples are non-overlapping
windows of 100 characters, targets the same windows one character later.

Model: Embedding(V, 64) -> LSTM(64 -> 512, batch_first) -> Linear(512, V), PyTorch's
default initialisation. Adam lr 2e-3, gradient norm clipped to 5, batch 64, a fresh
shuffle per epoch (numpy seed 0), 2 threads.

Every 50 training batches the mean validation loss (nats per character, over the whole
validation text, evaluation excluded from the clock) is printed as a JSON line with the
training seconds so far. Runs for --seconds of training time (default 600).

Usage: $HOME/.nabla-peers/bin/python Benchmarks/char_lstm.py [--seconds 600] [--every 50]
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=600)
ap.add_argument("--every", type=int, default=50)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

here = os.path.dirname(os.path.abspath(__file__))
with gzip.open(os.path.join(here, "..", "Sources", "NablaData", "Resources", "jargon.txt.gz"), "rb") as f:
    text = f.read().decode("utf-8")
n_train, n_val = len(text) * 9 // 10, len(text) // 20
train_text, val_text = text[:n_train], text[n_train:n_train + n_val]
vocab = sorted(set(train_text), key=ord)
index = {c: i for i, c in enumerate(vocab)}
V, L, B = len(vocab), 100, 64


def windows(s):
    ids = np.array([index[c] for c in s if c in index], dtype=np.int64)
    n = (len(ids) - 1) // L
    x = ids[:n * L].reshape(n, L)
    y = ids[1:n * L + 1].reshape(n, L)
    return torch.from_numpy(x), torch.from_numpy(y)


xtr, ytr = windows(train_text)
xva, yva = windows(val_text)


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, 64)
        self.lstm = nn.LSTM(64, 512, batch_first=True)
        self.out = nn.Linear(512, V)

    def forward(self, x):
        return self.out(self.lstm(self.embed(x))[0])


model = CharLSTM()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
lossf = nn.CrossEntropyLoss()


def validation_loss():
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(xva), 256):
            logits = model(xva[i:i + 256])
            total += nn.functional.cross_entropy(logits.reshape(-1, V), yva[i:i + 256].reshape(-1), reduction="sum").item()
            count += yva[i:i + 256].numel()
    model.train()
    return total / count


print(json.dumps({"bench": "char_lstm", "fw": "torch", "version": torch.__version__, "vocabulary": V,
                  "train_sequences": len(xtr), "validation_sequences": len(xva), "threads": args.threads}), flush=True)
rng = np.random.default_rng(0)
trained, batches, epoch = 0.0, 0, 0
while trained < args.seconds:
    epoch += 1
    perm = rng.permutation(len(xtr))
    for b in range(len(perm) // B):
        idx = perm[b * B:(b + 1) * B]
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(xtr[idx]).reshape(-1, V), ytr[idx].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        trained += time.perf_counter() - t0
        batches += 1
        if batches % args.every == 0:
            print(json.dumps({"seconds": round(trained, 2), "batches": batches, "epoch": epoch,
                              "train_loss": round(loss.item(), 4), "val_loss": round(validation_loss(), 4)}), flush=True)
        if trained >= args.seconds:
            break
print(json.dumps({"seconds": round(trained, 2), "batches": batches, "epoch": epoch, "val_loss": round(validation_loss(), 4),
                  "final": True}), flush=True)
