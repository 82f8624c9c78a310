"""Reference fixture for `nabla predict --model ARCH.yaml --weights W.safetensors`.

Writes Tests/NablaCLITests/Fixtures/pytorch-mlp/:
  mlp.yaml             the architecture, in Nabla's YAML
  weights.safetensors  a state_dict with torch.nn.Sequential's names (0.weight, 0.bias, 2.weight, ...)
  x.npy                7 inputs, float32 [7, 5]
  logits.npy           the outputs, computed here in float64 from the float32 weights

The network is torch.nn.Sequential(Linear(5, 16), Tanh(), Linear(16, 8), ReLU(),
Linear(8, 3)) with PyTorch's layout (weight [out, in], y = x W^T + b). If PyTorch is
installed the weights come from a seeded torch model and are saved with
safetensors.torch.save_file(model.state_dict()); otherwise the same layout is written
with safetensors.numpy. The expected outputs are always computed with NumPy, independently
of Nabla. Usage: python Scripts/reference_predict.py   (needs numpy and safetensors)
"""
import os
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "NablaCLITests", "Fixtures", "pytorch-mlp")
os.makedirs(out, exist_ok=True)
sizes = [(5, 16), (16, 8), (8, 3)]
rng = np.random.default_rng(7)
x = rng.normal(size=(7, 5)).astype(np.float32)

try:
    import torch
    from safetensors.torch import save_file
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    save_file(model.state_dict(), os.path.join(out, "weights.safetensors"))
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    source = "torch %s" % torch.__version__
except ImportError:
    from safetensors.numpy import save_file
    state = {}
    for i, (n_in, n_out) in zip([0, 2, 4], sizes):
        bound = 1 / np.sqrt(n_in)   # PyTorch's default Linear initialisation range
        state["%d.weight" % i] = rng.uniform(-bound, bound, size=(n_out, n_in)).astype(np.float32)
        state["%d.bias" % i] = rng.uniform(-bound, bound, size=(n_out,)).astype(np.float32)
    save_file(state, os.path.join(out, "weights.safetensors"))
    source = "numpy"

h = x.astype(np.float64)
h = np.tanh(h @ state["0.weight"].astype(np.float64).T + state["0.bias"])
h = np.maximum(h @ state["2.weight"].astype(np.float64).T + state["2.bias"], 0)
logits = h @ state["4.weight"].astype(np.float64).T + state["4.bias"]

np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "logits.npy"), logits)
with open(os.path.join(out, "mlp.yaml"), "w") as f:
    f.write("# torch.nn.Sequential(Linear(5, 16), Tanh(), Linear(16, 8), ReLU(), Linear(8, 3))\n")
    f.write("input: [5]\nlayers:\n  - {type: linear, out: 16}\n  - {type: tanh}\n  - {type: linear, out: 8}\n"
            "  - {type: relu}\n  - {type: linear, out: 3}\n")
print("wrote", out, "weights from", source)
print("logits[0] =", logits[0])
