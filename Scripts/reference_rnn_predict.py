#!/usr/bin/env python3
"""Whole-model reference fixtures for
`nabla predict --model ARCH.yaml --weights W.safetensors --input x.npy` on recurrent nets.

Writes two directories under Tests/NablaCLITests/Fixtures/:
  pytorch-rnn/     a stacked recurrent classifier on inputs [7, 5] (time, features):
                   a 2-layer bidirectional LSTM, a GRU, a ReLU Elman RNN keeping only the
                   last step (return: last), and a linear layer -> 3 logits
                   files: rnn.yaml, weights.safetensors, x.npy [4, 7, 5], logits.npy [4, 3]
  pytorch-charlm/  a character language model on inputs [10] of token ids (vocabulary 11):
                   embedding, LSTM, per-step linear -> 11 logits per step
                   files: charlm.yaml, weights.safetensors, x.npy [3, 10], logits.npy [3, 10, 11]
where
  *.yaml               the architecture in Nabla's YAML, written by this script from the Python
                       data RNN / CHARLM below, from which the PyTorch model is built
  weights.safetensors  the float32 state_dict() with torch.nn.Sequential's names
                       (0.weight_ih_l0, 0.weight_hh_l0_reverse, 0.bias_ih_l1, ..., 3.weight),
                       saved with safetensors.torch.save_file (contiguous tensors)
  x.npy                the batch of inputs, float32 (for the char LM: exact integer token ids
                       stored as float32)
  logits.npy           the eval-mode outputs of the float32 model on x, float32

Nabla's recurrent layers take [batch, T, F] and behave as PyTorch's with batch_first=True;
here they are subclasses of nn.LSTM / nn.GRU / nn.RNN whose forward returns only the output
sequence (`return: sequence`) or its last time step output[:, -1, :] (`return: last`), so the
parameter names stay PyTorch's own under the Sequential index.

Each model is first trained for 20 seeded Adam steps on random data (cross-entropy against
random labels; for the char LM, per-step cross-entropy against random next tokens) so the
weights are not at their initial values, and is then put in eval mode. The values come from
PyTorch, independently of Nabla. The script checks that the float32 logits agree with a
float64 copy of the model (to 1e-5 relative to the largest logit) and that the saved weights
reload exactly.

Needs torch, numpy and safetensors:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy safetensors
    ~/.nabla-peers/bin/python Scripts/reference_rnn_predict.py
"""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaCLITests", "Fixtures")
HEADER = ("# Written by Scripts/reference_rnn_predict.py (do not edit by hand): Nabla's architecture for\n"
          "# the PyTorch nn.Sequential whose state_dict is weights.safetensors. `input` is one\n"
          "# example's shape (no batch axis); recurrent layers see [batch, T, F] (batch_first).\n")

# The architectures as Python data; both the YAML file and the PyTorch model come from these.
RNN = {"input": [7, 5], "layers": [
    {"type": "lstm", "hidden": 8, "layers": 2, "bidirectional": True},
    {"type": "gru", "hidden": 6},
    {"type": "rnn", "hidden": 5, "nonlinearity": "relu", "return": "last"},
    {"type": "linear", "out": 3}]}

CHARLM = {"input": [10], "layers": [
    {"type": "embedding", "vocab": 11, "dim": 6},
    {"type": "lstm", "hidden": 8},
    {"type": "linear", "out": 11}]}


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


def recurrent(base):
    """A subclass of nn.LSTM / nn.GRU / nn.RNN (batch_first) returning only the outputs."""
    class Recurrent(base):
        def __init__(self, *args, ret="sequence", **kw):
            super().__init__(*args, batch_first=True, **kw)
            assert ret in ("sequence", "last")
            self.ret = ret

        def forward(self, x):
            y = super().forward(x)[0]                     # [B, T, D*H]
            return y if self.ret == "sequence" else y[:, -1, :]

        def extra_repr(self):
            return super().extra_repr() + ", return=" + self.ret
    Recurrent.__name__ = base.__name__
    return Recurrent


LSTM, GRU, RNNLayer = recurrent(nn.LSTM), recurrent(nn.GRU), recurrent(nn.RNN)


class Embedding(nn.Embedding):
    """Token ids arrive as floats (x.npy is float32); cast them to integer indices."""
    def forward(self, x):
        return super().forward(x.long())


def build_layer(spec, shape):
    """One PyTorch module for a YAML layer, given the (unbatched) input shape."""
    t = spec["type"]
    if t in ("lstm", "gru", "rnn"):
        assert len(shape) == 2, "recurrent layers take [T, F], got %s" % shape
        kw = dict(num_layers=spec.get("layers", 1), bidirectional=spec.get("bidirectional", False),
                  dropout=spec.get("dropout", 0.0), bias=spec.get("bias", True),
                  ret=spec.get("return", "sequence"))
        if t == "rnn":
            kw["nonlinearity"] = spec.get("nonlinearity", "tanh")
        cls = {"lstm": LSTM, "gru": GRU, "rnn": RNNLayer}[t]
        return cls(shape[-1], spec["hidden"], **kw)
    if t == "embedding":
        return Embedding(spec["vocab"], spec["dim"])
    if t == "linear":
        return nn.Linear(shape[-1], spec["out"])
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
        print("%2d %-10s %-10s -> %s" % (i, spec["type"], shape, new))
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
        logits = model(x).numpy()                                # float32
        logits64 = copy.deepcopy(model).double()(x.double()).numpy()
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
        print("  %-22s %s" % (k, list(v.shape)))
    print("x %s %s, logits %s %s" % (list(x.shape), x.dtype, list(logits.shape), logits.dtype))
    print("float32 vs float64: max |diff| %.3e, relative to max |logit| %.3e" % (abs_diff.max(), rel_to_max))
    assert rel_to_max <= 1e-5, "float32 and float64 disagree"
    print("logits[0] =", logits[0])
    return model, x, logits


def normal(n, shape):
    return torch.randn(n, *shape)


def tokens(vocab):
    return lambda n, shape: torch.randint(0, vocab, (n, *shape)).float()


if __name__ == "__main__":
    make_fixture("pytorch-rnn", RNN, "rnn.yaml", seed=21, sample=normal, n_inputs=4,
                 loss_fn=lambda y: nn.functional.cross_entropy(y, torch.randint(0, 3, (y.shape[0],))))
    V = CHARLM["layers"][0]["vocab"]
    model, x, logits = make_fixture(
        "pytorch-charlm", CHARLM, "charlm.yaml", seed=22, sample=tokens(V), n_inputs=3,
        loss_fn=lambda y: nn.functional.cross_entropy(y.reshape(-1, V),
                                                      torch.randint(0, V, (y.shape[0] * y.shape[1],))))
    assert torch.equal(x, x.round()) and x.min() >= 0 and x.max() < V
    print("torch", torch.__version__)
