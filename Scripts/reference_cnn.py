#!/usr/bin/env python3
"""Per-operation PyTorch references for Nabla's convolution, pooling, normalisation and
upsampling layers.

Writes Tests/NablaNNTests/Fixtures/cnn_reference.json, read by the NablaNN tests so they
never need Python. Every value comes from PyTorch, independently of Nabla.

Needs torch:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy
    ~/.nabla-peers/bin/python Scripts/reference_cnn.py

Layout:
    {"generator": "Scripts/reference_cnn.py, torch X.Y",
     "cases": {"<case>": {"config": {"module": "Conv2d", ...PyTorch constructor args...},
                          "tensors": {"<name>": {"shape": [...], "data": [...]}}}}}

`data` is the flat row-major (C-order) list of the tensor. Everything is float64
(torch.set_default_dtype(torch.float64)); integer tensors (MaxPool `indices`,
BatchNorm `num_batches_tracked`) are stored as JSON integers. For each case the tensors are
    x                       the input (standard normal)
    weight, bias            the parameters under PyTorch's names (standard normal, not the
                            default initialisation, so values are not tiny), if any
    running_mean/var        for BatchNorm: after the forward in training mode, or the
                            (random) statistics used in eval mode
    num_batches_tracked     for BatchNorm in training mode, after the step
    indices                 for MaxPool: PyTorch's return_indices output, a flat offset into
                            each (n, c) plane of the input (h * W + w for 2-D)
    gy                      a standard-normal upstream gradient, shaped like y
    y                       the output
    dx, dweight, dbias      the gradients of sum(gy * y)
Each case is seeded with torch.manual_seed(crc32(case name)), so adding or reordering cases
does not change the others. Floats are written with repr precision (shortest round trip).
"""
import json
import os
import warnings
import zlib

import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)
# padding='same' with an even kernel makes PyTorch warn about a padded copy; that is expected.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaNNTests",
                   "Fixtures", "cnn_reference.json")


def tensor_json(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [float(v) for v in t.reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


def jsonable(v):
    if isinstance(v, tuple):
        return [jsonable(e) for e in v]
    return v


cases = {}


def run(name, make, x_shape, config, train=True, randomize_params=True, setup=None):
    """Build the module (seeded per case), run forward + backward of sum(gy * y), record."""
    torch.manual_seed(zlib.crc32(name.encode()))
    module = make()
    if randomize_params:
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn_like(p))
    if setup is not None:
        setup(module)
    module.train(train)
    x = torch.randn(*x_shape, requires_grad=True)
    out = module(x)
    indices = None
    if isinstance(out, tuple):
        out, indices = out
    gy = torch.randn_like(out)
    (gy * out).sum().backward()

    tensors = {"x": tensor_json(x)}
    params = dict(module.named_parameters())
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    for bname, b in module.named_buffers():
        if b is not None:
            tensors[bname] = tensor_json(b)
    if indices is not None:
        tensors["indices"] = tensor_json(indices)
    tensors["gy"] = tensor_json(gy)
    tensors["y"] = tensor_json(out)
    tensors["dx"] = tensor_json(x.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    config = {k: jsonable(v) for k, v in config.items()}
    config["training"] = train
    cases[name] = {"config": config, "tensors": tensors}
    print("%-28s x %-16s -> y %s" % (name, list(x.shape), list(out.shape)))
    return module, x, out


def conv(name, cls, x_shape, **kw):
    cfg = {"module": cls.__name__}
    cfg.update(kw)
    return run(name, lambda: cls(**kw), x_shape, cfg)


# ---------------------------------------------------------------- convolutions
conv("conv2d_basic", nn.Conv2d, [2, 3, 7, 6], in_channels=3, out_channels=4, kernel_size=(3, 2),
     stride=(2, 1), padding=(1, 0), bias=True)
conv("conv2d_dilation_groups", nn.Conv2d, [1, 4, 9, 8], in_channels=4, out_channels=6, kernel_size=3,
     stride=1, padding=2, dilation=2, groups=2)
conv("conv2d_depthwise", nn.Conv2d, [2, 3, 6, 5], in_channels=3, out_channels=3, kernel_size=3,
     padding=1, groups=3, bias=False)

# padding='same' with an even kernel: PyTorch pads dilation*(k-1) in total, total//2 before
# and the rest (the extra one) after, i.e. at the bottom / right.
module, x, y = conv("conv2d_same_even", nn.Conv2d, [1, 2, 6, 7], in_channels=2, out_channels=3,
                    kernel_size=(4, 2), padding="same")
cases["conv2d_same_even"]["config"].update(
    padding_explicit=[[1, 2], [0, 1]],
    note="padding_explicit is (before, after) for H then W. PyTorch's 'same' pads "
         "total = dilation*(k-1) per axis, total//2 before and the remainder after, so the "
         "extra row/column goes at the bottom/right")
with torch.no_grad():  # confirm the note above against an explicit asymmetric pad
    explicit = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 1, 1, 2)),
                                          module.weight, module.bias)
    assert torch.allclose(explicit, y, rtol=0, atol=1e-12), "same-padding split is not bottom/right"

conv("conv2d_stride3_batch1", nn.Conv2d, [1, 2, 8, 9], in_channels=2, out_channels=2, kernel_size=3,
     stride=3, padding=1)
conv("conv1d", nn.Conv1d, [2, 3, 10], in_channels=3, out_channels=5, kernel_size=3, stride=2, padding=1)
conv("conv1d_dilation_groups", nn.Conv1d, [1, 4, 12], in_channels=4, out_channels=2, kernel_size=2,
     dilation=3, groups=2, padding=1)
conv("conv_transpose2d", nn.ConvTranspose2d, [2, 4, 5, 5], in_channels=4, out_channels=3, kernel_size=3,
     stride=2, padding=1, output_padding=1)
conv("conv_transpose2d_groups", nn.ConvTranspose2d, [1, 4, 3, 4], in_channels=4, out_channels=6,
     kernel_size=(2, 3), stride=(1, 2), padding=0, groups=2, dilation=1)

# ---------------------------------------------------------------- pooling
conv("maxpool2d", nn.MaxPool2d, [2, 3, 7, 7], kernel_size=3, stride=2, padding=1, return_indices=True)
conv("maxpool2d_default_stride", nn.MaxPool2d, [1, 2, 6, 6], kernel_size=2)
cases["maxpool2d_default_stride"]["config"].update(
    stride=2, note="stride not passed: PyTorch defaults it to kernel_size")
conv("maxpool1d", nn.MaxPool1d, [2, 3, 9], kernel_size=3, stride=2, padding=1, return_indices=True)
conv("avgpool2d", nn.AvgPool2d, [2, 3, 7, 7], kernel_size=3, stride=2, padding=1, count_include_pad=True)
conv("avgpool1d", nn.AvgPool1d, [2, 2, 9], kernel_size=2)
cases["avgpool1d"]["config"].update(
    stride=2, note="stride not passed: PyTorch defaults it to kernel_size")
conv("adaptive_avgpool2d_global", nn.AdaptiveAvgPool2d, [2, 3, 5, 4], output_size=(1, 1))
conv("adaptive_avgpool2d_uneven", nn.AdaptiveAvgPool2d, [1, 2, 7, 5], output_size=(3, 2))

# ---------------------------------------------------------------- normalisation
BN_NOTE = ("training: y uses the biased batch variance; running_var is updated with the unbiased "
           "one: r = (1 - momentum) * r + momentum * stat, starting from running_mean = 0, "
           "running_var = 1; tensors hold the statistics after one step")


def batchnorm(name, cls, x_shape, num_features, train, setup=None):
    cfg = {"module": cls.__name__, "num_features": num_features, "eps": 1e-5, "momentum": 0.1,
           "affine": True, "track_running_stats": True}
    if train:
        cfg["note"] = BN_NOTE
    else:
        cfg["note"] = "eval: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias"
    run(name, lambda: cls(num_features), x_shape, cfg, train=train, setup=setup)


def random_stats(m):
    with torch.no_grad():
        m.running_mean.copy_(torch.randn_like(m.running_mean))
        m.running_var.copy_(torch.rand_like(m.running_var) * 1.5 + 0.25)   # in [0.25, 1.75)


batchnorm("batchnorm2d_train", nn.BatchNorm2d, [4, 3, 5, 5], 3, train=True)
batchnorm("batchnorm2d_eval", nn.BatchNorm2d, [4, 3, 5, 5], 3, train=False, setup=random_stats)
batchnorm("batchnorm1d_train_2d", nn.BatchNorm1d, [6, 4], 4, train=True)
batchnorm("batchnorm1d_train_3d", nn.BatchNorm1d, [3, 4, 5], 4, train=True)
# eval mode has no running-stat update, so num_batches_tracked stays 0 there
for k in ("batchnorm2d_train", "batchnorm1d_train_2d", "batchnorm1d_train_3d"):
    assert cases[k]["tensors"]["num_batches_tracked"]["data"] == [1]

run("layernorm_last", lambda: nn.LayerNorm(5), [2, 3, 5],
    {"module": "LayerNorm", "normalized_shape": [5], "eps": 1e-5, "elementwise_affine": True})
run("layernorm_trailing3", lambda: nn.LayerNorm([3, 4, 5]), [2, 3, 4, 5],
    {"module": "LayerNorm", "normalized_shape": [3, 4, 5], "eps": 1e-5, "elementwise_affine": True})
run("groupnorm", lambda: nn.GroupNorm(3, 6), [2, 6, 3, 3],
    {"module": "GroupNorm", "num_groups": 3, "num_channels": 6, "eps": 1e-5, "affine": True})

# ---------------------------------------------------------------- upsampling
run("upsample_nearest", lambda: nn.Upsample(scale_factor=2, mode="nearest"), [2, 2, 3, 4],
    {"module": "Upsample", "scale_factor": 2, "mode": "nearest"})
run("upsample_bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    [2, 2, 3, 4], {"module": "Upsample", "scale_factor": 2, "mode": "bilinear", "align_corners": False})
run("upsample_bilinear_1x1", lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    [1, 1, 1, 1], {"module": "Upsample", "scale_factor": 2, "mode": "bilinear", "align_corners": False})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
doc = {"generator": "Scripts/reference_cnn.py, torch %s" % torch.__version__, "cases": cases}
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
with open(OUT, "w") as f:
    f.write(text)
print("wrote %s (%d cases, %d bytes)" % (os.path.normpath(OUT), len(cases), os.path.getsize(OUT)))
