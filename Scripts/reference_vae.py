#!/usr/bin/env python3
"""PyTorch reference for Nabla's Fashion-MNIST variational autoencoder: trains a VAE with a fixed
architecture and reports its test negative ELBO, which Nabla's run of the same model must match
to within 5 %.

Run (one seed at a time; roughly 10 s per epoch on two cores):
    ~/.nabla-peers/bin/python Scripts/reference_vae.py [--epochs 10] [--seed 0]

Data: the Fashion-MNIST image files train-images-idx3-ubyte and t10k-images-idx3-ubyte (IDX,
gzipped or not) from /usr/share/datasets/fashion-mnist, read with numpy (no torchvision; the
labels are not needed). Pixels / 255 as float32, flattened to 784. All 60,000 training
images are trained on (no validation split); the 10,000 test images give the test ELBO.

Model (float32, PyTorch's default nn.Linear initialisation):
    encoder  Linear(784, 512) -> ReLU -> Linear(512, 256) -> ReLU
    heads    Linear(256, 2) for mu and Linear(256, 2) for logvar = log sigma^2
    decoder  Linear(2, 256) -> ReLU -> Linear(256, 512) -> ReLU -> Linear(512, 784) -> logits
    z = mu + exp(logvar / 2) * eps, eps ~ N(0, I), one sample per example per step.
Loss per example, in nats:
    reconstruction = binary_cross_entropy_with_logits(logits, x, reduction='none').sum(over 784)
    kl             = KL(N(mu, sigma^2) || N(0, I)) = -1/2 sum (1 + logvar - mu^2 - exp(logvar))
    loss           = reconstruction + kl;  the batch loss is the mean over the batch.
Training: Adam, lr 1e-3 (default betas and eps), batch 128, reshuffled every epoch, the last
partial batch kept, --epochs epochs (default 10). torch.manual_seed(--seed) (default 0) before
building the model; the same generator draws the shuffles and every eps. 2 torch threads.

After training (eval mode, no grad), over the 10,000 test images, in nats per image:
    test_neg_elbo            mean of reconstruction + kl with one eps sample per image
    test_neg_elbo_mean_code  the same with eps = 0 (z = mu)
    test_reconstruction, test_kl   the two terms of test_neg_elbo separately
Prints one line per epoch (mean training loss, seconds) and a final line, and writes
Benchmarks/results/vae_pytorch_seed<seed>.json with keys torch_version, epochs, seed,
train_loss_per_epoch, seconds_per_epoch, test_neg_elbo, test_neg_elbo_mean_code,
test_reconstruction, test_kl.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read_images(name):
    """An IDX image file (gzipped or not) as a float32 [N, 784] tensor in [0, 1]."""
    path = os.path.join(DATA, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    else:
        with gzip.open(path + ".gz", "rb") as f:
            raw = f.read()
    assert int.from_bytes(raw[0:4], "big") == 2051, "%s is not an IDX image file" % name
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return torch.from_numpy(pixels.astype(np.float32) / 255)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU())
        self.mu, self.logvar = nn.Linear(256, 2), nn.Linear(256, 2)
        self.decoder = nn.Sequential(nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                                     nn.Linear(512, 784))

    def losses(self, x, sample=True):
        """Per-example reconstruction and KL, each [B]."""
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
        recon = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
        return recon, kl


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)

    train, test = read_images("train-images-idx3-ubyte"), read_images("t10k-images-idx3-ubyte")
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses, seconds = [], []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(train)).split(128):
            x = train[idx]
            recon, kl = model.losses(x)
            loss = (recon + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds.append(time.perf_counter() - start)
        losses.append(total / len(train))
        print("epoch %2d  train loss %.3f nats  %.1f s" % (epoch, losses[-1], seconds[-1]), flush=True)

    model.eval()
    with torch.no_grad():
        recon, kl = model.losses(test)
        recon0, kl0 = model.losses(test, sample=False)
    result = {"torch_version": torch.__version__, "epochs": args.epochs, "seed": args.seed,
              "train_loss_per_epoch": losses, "seconds_per_epoch": seconds,
              "test_neg_elbo": (recon + kl).mean().item(),
              "test_neg_elbo_mean_code": (recon0 + kl0).mean().item(),
              "test_reconstruction": recon.mean().item(), "test_kl": kl.mean().item()}
    print("test -ELBO %.3f nats (mean code %.3f; reconstruction %.3f + KL %.3f), %.1f s/epoch"
          % (result["test_neg_elbo"], result["test_neg_elbo_mean_code"],
             result["test_reconstruction"], result["test_kl"], sum(seconds) / len(seconds)))
    out = os.path.join(ROOT, "Benchmarks", "results", "vae_pytorch_seed%d.json" % args.seed)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("wrote %s" % os.path.normpath(out))


if __name__ == "__main__":
    main()
