#!/usr/bin/env python3
"""Whole-model reference fixtures for
`nabla predict --model ARCH.yaml --weights W.safetensors --input x.npy` on convolutional nets.

Writes two directories under Tests/NablaCLITests/Fixtures/:
  pytorch-cnn/     a 2-D image net (conv, batch/group/layer norm, pooling, residual,
                   upsampling, transposed conv, linear) on inputs [3, 16, 16]
  pytorch-cnn1d/   a 1-D sequence net (conv1d, batchnorm1d, pooling, layernorm, linear)
                   on inputs [4, 20]
each holding
  cnn.yaml             the architecture, in Nabla's YAML (the same as the Python data
                       CNN / CNN1D below, from which the PyTorch model is built)
  weights.safetensors  the float32 state_dict() with torch.nn.Sequential's names
                       (0.weight, 1.running_mean, 1.num_batches_tracked, 5.layers.0.weight, ...),
                       saved with safetensors.torch.save_file; num_batches_tracked is int64
  x.npy                5 inputs, float32 [5, ...input]
  logits.npy           the eval-mode outputs, float64: a float64 copy of the float32 model
                       (copy.deepcopy(model).double()) applied to x converted to float64

Each model is first trained for 20 seeded Adam steps on random data (cross-entropy against
random labels, dropout active) so that the BatchNorm running statistics and the weights are
not at their initial values, and is then put in eval mode. The values come from PyTorch,
independently of Nabla. The script checks that the float32 model agrees with the float64
one (to 1e-5 relative to the largest logit) and that the saved weights reload exactly.

Needs torch, numpy and safetensors (pyyaml, if installed, is used to check that the YAML
text written matches the Python architecture the model is built from):
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy safetensors
    ~/.nabla-peers/bin/python Scripts/reference_cnn_predict.py
"""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaCLITests", "Fixtures")
HEADER = ("# Written by Scripts/reference_cnn_predict.py (do not edit by hand): Nabla's architecture for\n"
          "# the PyTorch nn.Sequential whose state_dict is weights.safetensors. `input` is one\n"
          "# example's shape (no batch axis).\n")

CNN_YAML = """\
input: [3, 16, 16]
layers:
  - {type: conv2d, out: 8, kernel: 3, padding: 1}
  - {type: batchnorm2d}
  - {type: relu}
  - {type: maxpool2d, kernel: 2}
  - {type: dropout2d, p: 0.1}
  - type: residual
    layers:
      - {type: conv2d, out: 8, kernel: 3, padding: same, groups: 2, bias: false}
      - {type: groupnorm, groups: 4}
      - {type: relu}
      - {type: conv2d, out: 8, kernel: 3, padding: 2, dilation: 2}
  - {type: conv2d, out: 8, kernel: 3, padding: 1, groups: 8}
  - {type: avgpool2d, kernel: 2}
  - {type: upsample, scale: 2, mode: bilinear}
  - {type: conv_transpose2d, out: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - {type: upsample, scale: 2, mode: nearest}
  - {type: conv2d, out: 12, kernel: [3, 2], stride: [2, 1], padding: [1, 0], dilation: 1}
  - {type: layernorm, dims: 3}
  - {type: maxpool2d, kernel: 3, stride: 2, padding: 1}
  - {type: avgpool2d, kernel: 3, stride: 2, padding: 1}
  - {type: adaptive_avgpool2d, out: [1, 1]}
  - {type: flatten}
  - {type: batchnorm1d}
  - {type: linear, out: 5}
"""

CNN1D_YAML = """\
input: [4, 20]
layers:
  - {type: conv1d, out: 6, kernel: 3, padding: 1}
  - {type: batchnorm1d}
  - {type: relu}
  - {type: maxpool1d, kernel: 2}
  - {type: conv1d, out: 6, kernel: 3, stride: 2, groups: 2}
  - {type: layernorm}
  - {type: avgpool1d, kernel: 2}
  - {type: flatten}
  - {type: linear, out: 3}
"""

# The same architectures as Python data; the PyTorch model is built from these.
CNN = {"input": [3, 16, 16], "layers": [
    {"type": "conv2d", "out": 8, "kernel": 3, "padding": 1},
    {"type": "batchnorm2d"},
    {"type": "relu"},
    {"type": "maxpool2d", "kernel": 2},
    {"type": "dropout2d", "p": 0.1},
    {"type": "residual", "layers": [
        {"type": "conv2d", "out": 8, "kernel": 3, "padding": "same", "groups": 2, "bias": False},
        {"type": "groupnorm", "groups": 4},
        {"type": "relu"},
        {"type": "conv2d", "out": 8, "kernel": 3, "padding": 2, "dilation": 2}]},
    {"type": "conv2d", "out": 8, "kernel": 3, "padding": 1, "groups": 8},
    {"type": "avgpool2d", "kernel": 2},
    {"type": "upsample", "scale": 2, "mode": "bilinear"},
    {"type": "conv_transpose2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
    {"type": "upsample", "scale": 2, "mode": "nearest"},
    {"type": "conv2d", "out": 12, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "dilation": 1},
    {"type": "layernorm", "dims": 3},
    {"type": "maxpool2d", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "avgpool2d", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "adaptive_avgpool2d", "out": [1, 1]},
    {"type": "flatten"},
    {"type": "batchnorm1d"},
    {"type": "linear", "out": 5}]}

CNN1D = {"input": [4, 20], "layers": [
    {"type": "conv1d", "out": 6, "kernel": 3, "padding": 1},
    {"type": "batchnorm1d"},
    {"type": "relu"},
    {"type": "maxpool1d", "kernel": 2},
    {"type": "conv1d", "out": 6, "kernel": 3, "stride": 2, "groups": 2},
    {"type": "layernorm"},
    {"type": "avgpool1d", "kernel": 2},
    {"type": "flatten"},
    {"type": "linear", "out": 3}]}


class Residual(nn.Module):
    """x + layers(x)"""
    def __init__(self, *layers):
        super().__init__(); self.layers = nn.Sequential(*layers)
    def forward(self, x): return x + self.layers(x)


def tup(v):
    return tuple(v) if isinstance(v, list) else v


def build_layer(spec, shape, depth):
    """One PyTorch module for a YAML layer, given the (unbatched) input shape."""
    t = spec["type"]
    c = shape[0]
    if t in ("conv1d", "conv2d", "conv_transpose2d"):
        cls = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "conv_transpose2d": nn.ConvTranspose2d}[t]
        kw = dict(kernel_size=tup(spec["kernel"]), stride=tup(spec.get("stride", 1)),
                  padding=tup(spec.get("padding", 0)), dilation=tup(spec.get("dilation", 1)),
                  groups=spec.get("groups", 1), bias=spec.get("bias", True))
        if t == "conv_transpose2d":
            kw["output_padding"] = tup(spec.get("output_padding", 0))
        return cls(c, spec["out"], **kw)
    if t == "batchnorm1d":
        return nn.BatchNorm1d(c)
    if t == "batchnorm2d":
        return nn.BatchNorm2d(c)
    if t == "groupnorm":
        return nn.GroupNorm(spec["groups"], c)
    if t == "layernorm":
        return nn.LayerNorm(list(shape[-spec.get("dims", 1):]))
    if t == "relu":
        return nn.ReLU()
    if t == "dropout2d":
        return nn.Dropout2d(spec["p"])
    if t in ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"):
        cls = {"maxpool1d": nn.MaxPool1d, "maxpool2d": nn.MaxPool2d,
               "avgpool1d": nn.AvgPool1d, "avgpool2d": nn.AvgPool2d}[t]
        return cls(tup(spec["kernel"]), stride=tup(spec.get("stride", spec["kernel"])),
                   padding=tup(spec.get("padding", 0)))
    if t == "adaptive_avgpool2d":
        return nn.AdaptiveAvgPool2d(tup(spec["out"]))
    if t == "upsample":
        mode = spec["mode"]
        return nn.Upsample(scale_factor=spec["scale"], mode=mode,
                           align_corners=False if mode in ("linear", "bilinear") else None)
    if t == "flatten":
        return nn.Flatten()
    if t == "linear":
        return nn.Linear(c, spec["out"])
    if t == "residual":
        inner, inner_shape = build_layers(spec["layers"], shape, depth + 1)
        assert inner_shape == shape, "residual branch changes the shape %s -> %s" % (shape, inner_shape)
        return Residual(*inner)
    raise ValueError("unknown layer type %r" % t)


def out_shape(module, shape):
    was = module.training
    module.eval()
    with torch.no_grad():
        y = module(torch.zeros(2, *shape))
    module.train(was)
    return list(y.shape[1:])


def build_layers(specs, shape, depth=0):
    modules = []
    for i, spec in enumerate(specs):
        m = build_layer(spec, shape, depth)
        new = out_shape(m, shape)
        print("%s%2d %-18s %-14s -> %s" % ("    " * depth, i, spec["type"], shape, new))
        modules.append(m)
        shape = new
    return modules, shape


def make_fixture(name, arch, yaml_text, seed, n_train_steps=20, train_batch=16, n_inputs=5):
    print("==", name)
    torch.manual_seed(seed)
    layers, final = build_layers(arch["layers"], list(arch["input"]))
    model = nn.Sequential(*layers)
    n_classes = final[0]

    # A few Adam steps on random data, so the weights and BatchNorm statistics move.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(n_train_steps):
        xb = torch.randn(train_batch, *arch["input"])
        yb = torch.randint(0, n_classes, (train_batch,))
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("final training loss %.4f" % loss.item())
    model.eval()

    x = torch.randn(n_inputs, *arch["input"])                     # float32
    with torch.no_grad():
        y32 = model(x).numpy().astype(np.float64)
        model64 = copy.deepcopy(model).double()
        logits = model64(x.double()).numpy()

    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    state = model.state_dict()
    save_file(state, os.path.join(out, "weights.safetensors"))
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "logits.npy"), logits)
    with open(os.path.join(out, "cnn.yaml"), "w") as f:
        f.write(HEADER + yaml_text)

    # Checks: the YAML we wrote parses back to the architecture, the weights reload
    # exactly, and float32 agrees with float64.
    try:
        import yaml
        with open(os.path.join(out, "cnn.yaml")) as f:
            assert yaml.safe_load(f) == arch, "cnn.yaml does not match the Python architecture"
        print("cnn.yaml parses back to the architecture")
    except ImportError:
        print("(pyyaml not installed: cnn.yaml not cross-checked)")
    reloaded = load_file(os.path.join(out, "weights.safetensors"))
    assert set(reloaded) == set(state)
    for k in state:
        assert reloaded[k].dtype == state[k].dtype and torch.equal(reloaded[k], state[k]), k
    abs_diff = np.abs(y32 - logits)
    rel_to_max = abs_diff.max() / np.abs(logits).max()
    rel_elementwise = (abs_diff / np.abs(logits)).max()
    print("state_dict: %d tensors, %d float32 numbers; keys: %s" % (
        len(state), sum(v.numel() for v in state.values() if v.is_floating_point()), ", ".join(state)))
    print("num_batches_tracked:", {k: int(v) for k, v in state.items() if k.endswith("num_batches_tracked")})
    print("float32 vs float64: max |diff| %.3e, relative to max |logit| %.3e, max elementwise relative %.3e"
          % (abs_diff.max(), rel_to_max, rel_elementwise))
    assert rel_to_max <= 1e-5, "float32 and float64 disagree"
    print("logits[0] =", logits[0])
    return rel_to_max, rel_elementwise


if __name__ == "__main__":
    make_fixture("pytorch-cnn", CNN, CNN_YAML, seed=11)
    make_fixture("pytorch-cnn1d", CNN1D, CNN1D_YAML, seed=12)
    print("torch", torch.__version__)
