#!/usr/bin/env python3
"""PyTorch references for Nabla's probabilistic losses and heads: the Gaussian KL term of a
VAE, the sparse-autoencoder KL penalty, and a Gaussian output head with its negative
log-likelihood.

Writes Tests/NablaNNTests/Fixtures/zoo_reference.json, read by the NablaNN tests so they never
need Python. Every value comes from PyTorch (torch.distributions and torch.nn.functional),
independently of Nabla; gradients come from autograd (value.backward()).

Needs torch:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy
    ~/.nabla-peers/bin/python Scripts/reference_zoo.py

Layout (the same as attention_reference.json):
    {"generator": "Scripts/reference_zoo.py, torch X.Y",
     "cases": {"<case>": {"config": {...}, "tensors": {"<name>": {"shape": [...], "data": [...]}}}}}
`data` is the flat row-major list of the tensor; everything is float64. A scalar has shape [].
The whole file is drawn from one generator seeded with torch.manual_seed(0), in case order.

Cases (config "module" says the kind):
  gaussian_kl, gaussian_kl_sum (module "gaussian_kl", config reduction "mean" or "sum"):
      mu [4, 3] ~ N(0, 1), logvar [4, 3] ~ 0.5 N(0, 1);
      kl = kl_divergence(Normal(mu, exp(logvar / 2)), Normal(0, 1)).sum(-1)    [4]
         = -1/2 sum_j (1 + logvar - mu^2 - exp(logvar))
      value = kl.mean() ("mean", over the batch) or kl.sum() ("sum").
      tensors: mu, logvar, value [], grad_mu, grad_logvar.
  sparsity_kl (rho 0.05), sparsity_kl_rho02 (rho 0.2) (module "sparsity_kl", config rho):
      activations a [6, 5] = sigmoid(2 N(0, 1)); rho_hat = a.mean(0) [5];
      value = kl_divergence(Bernoulli(rho), Bernoulli(rho_hat)).sum()
            = sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)).
      tensors: activations, value [], grad_activations.
  gaussian_output (full false, reduction "mean"), gaussian_output_full (full true, "sum")
  (module "gaussian_output", config full, reduction, eps 1e-6):
      h [5, 3] ~ N(0, 1); parameters mean.weight [2, 3], mean.bias [2], variance.weight [2, 3],
      variance.bias [2], each 0.5 N(0, 1) (two nn.Linear(3, 2) heads);
      mean = h @ mean.weight^T + mean.bias; variance = softplus(h @ variance.weight^T + variance.bias);
      target [5, 2] ~ N(0, 1);
      value = gaussian_nll_loss(mean, target, variance, full, eps, reduction), i.e. per element
              1/2 (log max(variance, eps) + (mean - target)^2 / max(variance, eps)) [+ 1/2 log 2 pi]
      tensors: h, target, mean.weight, mean.bias, variance.weight, variance.bias, mean, variance,
               value [], grad_h, grad_mean.weight, grad_mean.bias, grad_variance.weight,
               grad_variance.bias.
Each value and its gradients are also checked against the closed form above (to 1e-12).
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

torch.set_default_dtype(torch.float64)
torch.set_num_threads(2)
torch.manual_seed(0)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NablaNNTests",
                   "Fixtures", "zoo_reference.json")
cases = {}


def tensor_json(t):
    t = t.detach().to(torch.float64).contiguous()
    assert torch.isfinite(t).all(), "a reference holds NaN or infinity"
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def close(name, got, want, leaves, tol=1e-12):
    """Checks a value and its gradients (already in .grad) against the closed form `want`."""
    wants = [want] + list(torch.autograd.grad(want, leaves))
    for g, w in zip([got] + [t.grad for t in leaves], wants):
        err = (g - w).abs().max().item()
        assert err <= tol, "%s: PyTorch and the closed form differ by %g" % (name, err)


def gaussian_kl(name, reduction, mu=None, logvar=None):
    if mu is None:
        mu, logvar = torch.randn(4, 3), 0.5 * torch.randn(4, 3)
    mu, logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), prior).sum(-1)
    value = kl.mean() if reduction == "mean" else kl.sum()
    value.backward()
    closed = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    close(name, value, closed.mean() if reduction == "mean" else closed.sum(), [mu, logvar])
    cases[name] = {"config": {"module": "gaussian_kl", "reduction": reduction},
                   "tensors": {"mu": tensor_json(mu), "logvar": tensor_json(logvar),
                               "value": tensor_json(value), "grad_mu": tensor_json(mu.grad),
                               "grad_logvar": tensor_json(logvar.grad)}}
    return mu.detach(), logvar.detach()


def sparsity_kl(name, rho):
    a = torch.sigmoid(2 * torch.randn(6, 5)).requires_grad_()
    rho_hat = a.mean(0)
    value = kl_divergence(Bernoulli(probs=torch.full_like(rho_hat, rho)),
                          Bernoulli(probs=rho_hat)).sum()
    value.backward()
    closed = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    close(name, value, closed, [a])
    cases[name] = {"config": {"module": "sparsity_kl", "rho": rho},
                   "tensors": {"activations": tensor_json(a), "value": tensor_json(value),
                               "grad_activations": tensor_json(a.grad)}}


def gaussian_output(name, full, reduction, eps=1e-6):
    h = torch.randn(5, 3).requires_grad_()
    params = {"mean.weight": 0.5 * torch.randn(2, 3), "mean.bias": 0.5 * torch.randn(2),
              "variance.weight": 0.5 * torch.randn(2, 3), "variance.bias": 0.5 * torch.randn(2)}
    for p in params.values():
        p.requires_grad_()
    target = torch.randn(5, 2)
    mean = F.linear(h, params["mean.weight"], params["mean.bias"])
    variance = F.softplus(F.linear(h, params["variance.weight"], params["variance.bias"]))
    value = F.gaussian_nll_loss(mean, target, variance, full=full, eps=eps, reduction=reduction)
    value.backward(retain_graph=True)     # the closed form below reuses mean and variance
    v = variance.clamp(min=eps)
    per = 0.5 * (v.log() + (mean - target) ** 2 / v) + (0.5 * math.log(2 * math.pi) if full else 0)
    close(name, value, per.mean() if reduction == "mean" else per.sum(), [h, *params.values()])
    tensors = {"h": tensor_json(h), "target": tensor_json(target)}
    tensors.update({n: tensor_json(p) for n, p in params.items()})
    tensors.update(mean=tensor_json(mean), variance=tensor_json(variance),
                   value=tensor_json(value), grad_h=tensor_json(h.grad))
    tensors.update({"grad_" + n: tensor_json(p.grad) for n, p in params.items()})
    cases[name] = {"config": {"module": "gaussian_output", "full": full, "reduction": reduction,
                              "eps": eps},
                   "tensors": tensors}


mu, logvar = gaussian_kl("gaussian_kl", "mean")
gaussian_kl("gaussian_kl_sum", "sum", mu, logvar)
sparsity_kl("sparsity_kl", 0.05)
sparsity_kl("sparsity_kl_rho02", 0.2)
gaussian_output("gaussian_output", full=False, reduction="mean")
gaussian_output("gaussian_output_full", full=True, reduction="sum")

os.makedirs(os.path.dirname(OUT), exist_ok=True)
generator = "Scripts/reference_zoo.py, torch %s" % torch.__version__
# One line per tensor and per config, so the file stays readable and diffs stay small.
lines = ["{", '"generator": %s,' % json.dumps(generator), '"cases": {']
for ci, (cname, case) in enumerate(cases.items()):
    items = list(case["tensors"].items())
    lines += [' %s: {' % json.dumps(cname), '  "config": %s,' % json.dumps(case["config"]),
              '  "tensors": {']
    lines += ['   %s: %s%s' % (json.dumps(n), json.dumps(t), "," if i < len(items) - 1 else "")
              for i, (n, t) in enumerate(items)]
    lines += ['  }', ' }' + ("," if ci < len(cases) - 1 else "")]
lines += ["}", "}"]
text = "\n".join(lines) + "\n"
assert json.loads(text) == {"generator": generator, "cases": cases}
with open(OUT, "w") as f:
    f.write(text)
print("wrote %s (%d cases, %d bytes)" % (os.path.normpath(OUT), len(cases), os.path.getsize(OUT)))
for cname, case in cases.items():
    print("  %-22s value %.12g" % (cname, case["tensors"]["value"]["data"][0]))
