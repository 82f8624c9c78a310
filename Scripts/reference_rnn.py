#!/usr/bin/env python3
"""Per-operation PyTorch references for Nabla's recurrent layers (LSTM, GRU, Elman RNN and
their single-step cells), including bidirectional, stacked and packed (variable-length)
sequences.

Writes Tests/NablaNNTests/Fixtures/rnn_reference.json, read by the NablaNN tests so they
never need Python. Every value comes from PyTorch, independently of Nabla.

Needs torch:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy
    ~/.nabla-peers/bin/python Scripts/reference_rnn.py

Layout (the same as cnn_reference.json):
    {"generator": "Scripts/reference_rnn.py, torch X.Y",
     "cases": {"<case>": {"config": {...}, "tensors": {"<name>": {"shape": [...], "data": [...]}}}}}

`data` is the flat row-major (C-order) list of the tensor; everything is float64
(torch.set_default_dtype(torch.float64)). Every case has the same config keys:
    module          "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell" or "RNNCell"
    input_size, hidden_size, bias
    num_layers      1 for the cells
    bidirectional   false for the cells (D = 2 if true, else 1)
    batch_first     false for the cells
    nonlinearity    "tanh" or "relu" for RNN / RNNCell, null otherwise
    T               sequence length (null for the cells)
    B               batch size
    lengths         per-example lengths of a packed case (pack_padded_sequence with
                    enforce_sorted=False, i.e. in the original, unsorted batch order), or null
    has_state       whether an initial state (h0, and c0 for LSTM) was passed; if not, PyTorch
                    starts from zeros
dropout is always 0.

Tensors of the sequence modules (LSTM / GRU / RNN):
    x               the input, [T, B, I] or [B, T, I] if batch_first (standard normal)
    h0, c0          the initial state, [num_layers * D, B, H], only when has_state
    <parameter>     every parameter under PyTorch's state_dict name: weight_ih_l{k}
                    [G*H, I or D*H], weight_hh_l{k} [G*H, H], bias_ih_l{k}, bias_hh_l{k} [G*H]
                    (G = 4 for LSTM, 3 for GRU, 1 for RNN), with the suffix _reverse for the
                    reverse direction. Values are standard normal * 0.5, not PyTorch's init.
    y               the output sequence, shaped like x with the feature size D*H (forward
                    direction in [..., :H], reverse in [..., H:]). For packed cases it is
                    pad_packed_sequence(..., total_length=T), so zero at padded steps.
    hn, cn          the final states, [num_layers * D, B, H]
    gy, ghn, gcn    standard-normal upstream gradients shaped like y, hn, cn (gy is nonzero
                    at padded steps too, on purpose: y is constant there, so it adds nothing)
    dx, dh0, dc0    the gradients of L = sum(gy*y) + sum(ghn*hn) [+ sum(gcn*cn)]
                    (dh0 / dc0 only when has_state; dx is zero at padded steps)
    d<parameter>    the gradient of L with respect to each parameter, e.g. dweight_ih_l0_reverse
Tensors of the cells (LSTMCell / GRUCell / RNNCell):
    x [B, I]; h0, c0 [B, H] when has_state; weight_ih, weight_hh, bias_ih, bias_hh;
    h (and c) the new state; gh (and gc) upstream gradients;
    dx, dh0, dc0 (when has_state) and d<parameter>, the gradients of sum(gh*h) [+ sum(gc*c)].

Each case is seeded with torch.manual_seed(crc32(case name)), so adding or reordering cases
does not change the others. Floats are written with repr precision (shortest round trip).
The script also checks every sequence case against a plain step-by-step implementation of
PyTorch's documented equations (see reference_forward below) and the relations between y
and hn (see check_final_states).
"""
import json
import os
import zlib

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaNNTests",
                   "Fixtures", "rnn_reference.json")

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def tensor_json(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


cases = {}


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


# ---------------------------------------------------------------- independent check
def cell_step(kind, nonlinearity, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's documented equations; x [B, I], h/c [B, H]."""
    gi = x @ w_ih.t() + (b_ih if b_ih is not None else 0)
    gh = h @ w_hh.t() + (b_hh if b_hh is not None else 0)
    if kind == "LSTM":                                    # rows: i, f, g, o
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    if kind == "GRU":                                     # rows: r, z, n
        ir, iz, inn = gi.chunk(3, dim=1)
        hr, hz, hn = gh.chunk(3, dim=1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(inn + r * hn)                      # r multiplies (W_hn h + b_hn)
        return (1 - z) * n + z * h, None
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    return act(gi + gh), None


def reference_forward(kind, cfg, module, x, h0, c0):
    """Time-major, per-example lengths honoured explicitly; returns y [T, B, D*H], hn, cn."""
    L, D, H = cfg["num_layers"], 2 if cfg["bidirectional"] else 1, cfg["hidden_size"]
    T, B = cfg["T"], cfg["B"]
    lengths = cfg["lengths"] or [T] * B
    if cfg["batch_first"]:
        x = x.transpose(0, 1)
    zeros = torch.zeros(L * D, B, H)
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0
    hn, cn = torch.zeros(L * D, B, H), torch.zeros(L * D, B, H)
    inp = x
    for layer in range(L):
        out = torch.zeros(T, B, D * H)
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d else "")
            p = lambda n: getattr(module, n + sfx) if cfg["bias"] or n.startswith("weight") else None
            k = layer * D + d
            for b in range(B):
                h, c = h0[k, b:b + 1], c0[k, b:b + 1]
                steps = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in steps:
                    h, c2 = cell_step(kind, cfg["nonlinearity"], inp[t, b:b + 1], h, c,
                                      p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"))
                    c = c2 if c2 is not None else c
                    out[t, b, d * H:(d + 1) * H] = h[0]
                hn[k, b], cn[k, b] = h[0], c[0]
        inp = out
    return inp, hn, cn


def check_final_states(cfg, y, hn):
    """hn of the last layer: forward = y at step length-1, reverse = y at step 0;
    y is zero at padded steps."""
    L, D, H = cfg["num_layers"], 2 if cfg["bidirectional"] else 1, cfg["hidden_size"]
    yt = y.transpose(0, 1) if cfg["batch_first"] else y            # [T, B, D*H]
    lengths = cfg["lengths"] or [cfg["T"]] * cfg["B"]
    for b, n in enumerate(lengths):
        assert torch.equal(hn[(L - 1) * D, b], yt[n - 1, b, :H])
        if D == 2:
            assert torch.equal(hn[(L - 1) * D + 1, b], yt[0, b, H:])
        assert torch.all(yt[n:, b] == 0)


# ---------------------------------------------------------------- sequence modules
def sequence(name, kind, I, H, T, B, num_layers=1, bidirectional=False, batch_first=False,
             bias=True, nonlinearity=None, lengths=None, has_state=True):
    torch.manual_seed(zlib.crc32(name.encode()))
    kw = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, dropout=0.0,
              bidirectional=bidirectional)
    if kind == "RNN":
        kw["nonlinearity"] = nonlinearity
    module = getattr(nn, kind)(I, H, **kw)
    randomize(module)
    cfg = {"module": kind, "input_size": I, "hidden_size": H, "num_layers": num_layers,
           "bidirectional": bidirectional, "batch_first": batch_first, "bias": bias,
           "nonlinearity": nonlinearity, "T": T, "B": B, "lengths": lengths, "has_state": has_state}
    D = 2 if bidirectional else 1
    x = torch.randn(*([B, T, I] if batch_first else [T, B, I]), requires_grad=True)
    h0 = c0 = None
    state = None
    if has_state:
        h0 = torch.randn(num_layers * D, B, H, requires_grad=True)
        state = h0
        if kind == "LSTM":
            c0 = torch.randn(num_layers * D, B, H, requires_grad=True)
            state = (h0, c0)

    if lengths is None:
        y, final = module(x, state)
    else:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
        out, final = module(packed, state)
        y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    hn, cn = final if kind == "LSTM" else (final, None)

    gy, ghn = torch.randn_like(y), torch.randn_like(hn)
    loss = (gy * y).sum() + (ghn * hn).sum()
    gcn = None
    if cn is not None:
        gcn = torch.randn_like(cn)
        loss = loss + (gcn * cn).sum()
    loss.backward()

    # Independent checks: the documented equations, and the y / hn relations.
    with torch.no_grad():
        ry, rhn, rcn = reference_forward(kind, cfg, module, x, h0, c0)
        ry = ry.transpose(0, 1) if batch_first else ry
        assert torch.allclose(ry, y, rtol=0, atol=1e-12), name + ": y differs from the equations"
        assert torch.allclose(rhn, hn, rtol=0, atol=1e-12), name + ": hn differs from the equations"
        if cn is not None:
            assert torch.allclose(rcn, cn, rtol=0, atol=1e-12), name + ": cn differs"
        check_final_states(cfg, y, hn)
        if lengths is not None:
            xt = x.grad.transpose(0, 1) if batch_first else x.grad
            for b, n in enumerate(lengths):
                assert torch.all(xt[n:, b] == 0), name + ": dx nonzero at padding"

    tensors = {"x": tensor_json(x)}
    if h0 is not None:
        tensors["h0"] = tensor_json(h0)
    if c0 is not None:
        tensors["c0"] = tensor_json(c0)
    params = dict(module.named_parameters())
    assert list(params) == list(module.state_dict())
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    tensors["y"] = tensor_json(y)
    tensors["hn"] = tensor_json(hn)
    if cn is not None:
        tensors["cn"] = tensor_json(cn)
    tensors["gy"] = tensor_json(gy)
    tensors["ghn"] = tensor_json(ghn)
    if gcn is not None:
        tensors["gcn"] = tensor_json(gcn)
    tensors["dx"] = tensor_json(x.grad)
    if h0 is not None:
        tensors["dh0"] = tensor_json(h0.grad)
    if c0 is not None:
        tensors["dc0"] = tensor_json(c0.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-24s x %-12s -> y %-12s hn %s" % (name, list(x.shape), list(y.shape), list(hn.shape)))


# ---------------------------------------------------------------- cells
def cell(name, kind, I, H, B, bias=True, nonlinearity=None, has_state=True):
    torch.manual_seed(zlib.crc32(name.encode()))
    kw = {"bias": bias}
    if kind == "RNN":
        kw["nonlinearity"] = nonlinearity
    module = getattr(nn, kind + "Cell")(I, H, **kw)
    randomize(module)
    cfg = {"module": kind + "Cell", "input_size": I, "hidden_size": H, "num_layers": 1,
           "bidirectional": False, "batch_first": False, "bias": bias,
           "nonlinearity": nonlinearity, "T": None, "B": B, "lengths": None, "has_state": has_state}
    x = torch.randn(B, I, requires_grad=True)
    h0 = c0 = None
    state = None
    if has_state:
        h0 = torch.randn(B, H, requires_grad=True)
        state = h0
        if kind == "LSTM":
            c0 = torch.randn(B, H, requires_grad=True)
            state = (h0, c0)
    out = module(x, state)
    h, c = out if kind == "LSTM" else (out, None)
    gh = torch.randn_like(h)
    loss = (gh * h).sum()
    gc = None
    if c is not None:
        gc = torch.randn_like(c)
        loss = loss + (gc * c).sum()
    loss.backward()

    with torch.no_grad():
        zeros = torch.zeros(B, H)
        rh, rc = cell_step(kind, nonlinearity, x, zeros if h0 is None else h0,
                           zeros if c0 is None else c0, module.weight_ih, module.weight_hh,
                           module.bias_ih if bias else None, module.bias_hh if bias else None)
        assert torch.allclose(rh, h, rtol=0, atol=1e-12), name + ": h differs from the equations"
        if c is not None:
            assert torch.allclose(rc, c, rtol=0, atol=1e-12), name + ": c differs"

    tensors = {"x": tensor_json(x)}
    if h0 is not None:
        tensors["h0"] = tensor_json(h0)
    if c0 is not None:
        tensors["c0"] = tensor_json(c0)
    params = dict(module.named_parameters())
    for pname, p in params.items():
        tensors[pname] = tensor_json(p)
    tensors["h"] = tensor_json(h)
    if c is not None:
        tensors["c"] = tensor_json(c)
    tensors["gh"] = tensor_json(gh)
    if gc is not None:
        tensors["gc"] = tensor_json(gc)
    tensors["dx"] = tensor_json(x.grad)
    if h0 is not None:
        tensors["dh0"] = tensor_json(h0.grad)
    if c0 is not None:
        tensors["dc0"] = tensor_json(c0.grad)
    for pname, p in params.items():
        tensors["d" + pname] = tensor_json(p.grad)
    cases[name] = {"config": cfg, "tensors": tensors}
    print("%-24s x %-12s -> h %s" % (name, list(x.shape), list(h.shape)))


# ---------------------------------------------------------------- LSTM
sequence("lstm_basic", "LSTM", I=3, H=4, T=5, B=2)
sequence("lstm_nobias_batchfirst", "LSTM", I=2, H=3, T=4, B=3, batch_first=True, bias=False,
         has_state=False)
sequence("lstm_2layer_bidir", "LSTM", I=3, H=4, T=6, B=3, num_layers=2, bidirectional=True,
         batch_first=True)
sequence("lstm_packed", "LSTM", I=3, H=4, T=6, B=4, num_layers=2, bidirectional=True,
         batch_first=True, lengths=[4, 6, 1, 3])
sequence("lstm_packed_1layer", "LSTM", I=2, H=3, T=5, B=3, lengths=[5, 2, 3], has_state=False)

# ---------------------------------------------------------------- GRU
sequence("gru_basic", "GRU", I=3, H=4, T=5, B=2)
sequence("gru_nobias_batchfirst", "GRU", I=2, H=3, T=4, B=3, batch_first=True, bias=False,
         has_state=False)
sequence("gru_2layer_bidir", "GRU", I=3, H=4, T=6, B=3, num_layers=2, bidirectional=True,
         batch_first=True)
sequence("gru_packed", "GRU", I=3, H=4, T=6, B=4, num_layers=2, bidirectional=True,
         batch_first=True, lengths=[4, 6, 1, 3])

# ---------------------------------------------------------------- Elman RNN
sequence("rnn_tanh_basic", "RNN", I=3, H=4, T=5, B=2, nonlinearity="tanh")
sequence("rnn_relu_2layer_bidir", "RNN", I=3, H=4, T=6, B=3, num_layers=2, bidirectional=True,
         batch_first=True, nonlinearity="relu")
sequence("rnn_tanh_packed", "RNN", I=3, H=4, T=5, B=3, bidirectional=True, nonlinearity="tanh",
         lengths=[2, 5, 3])
sequence("rnn_relu_nobias_packed_nostate", "RNN", I=2, H=3, T=4, B=3, batch_first=True, bias=False,
         nonlinearity="relu", lengths=[3, 1, 4], has_state=False)

# ---------------------------------------------------------------- cells
cell("lstmcell_state", "LSTM", I=3, H=5, B=4)
cell("lstmcell_nostate", "LSTM", I=3, H=5, B=4, has_state=False)
cell("lstmcell_nobias", "LSTM", I=3, H=5, B=4, bias=False)
cell("grucell_state", "GRU", I=3, H=5, B=4)
cell("grucell_nostate", "GRU", I=3, H=5, B=4, has_state=False)
cell("rnncell_tanh_state", "RNN", I=3, H=5, B=4, nonlinearity="tanh")
cell("rnncell_relu_nostate", "RNN", I=3, H=5, B=4, nonlinearity="relu", has_state=False)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
doc = {"generator": "Scripts/reference_rnn.py, torch %s" % torch.__version__, "cases": cases}
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
