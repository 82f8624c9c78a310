#!/usr/bin/env python3
"""Prints the PyTorch reference values used by Tests/NablaNNTests (activations and losses)
as Swift literals, ready to paste into ActivationTests.swift and LossTests.swift.

Needs torch and numpy:
    python3 -m venv ~/.nabla-peers && ~/.nabla-peers/bin/pip install torch numpy
    ~/.nabla-peers/bin/python Scripts/reference_nn.py

Everything is computed in float64. For activations: the forward values at a fixed input
vector X and the gradient of sum(W * f(X)) with respect to X (W a fixed weight vector).
For losses: the value for each reduction and the gradient of the (summed) value with
respect to the prediction.
"""
import math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

X = [-2.5, -1.3, -0.7, -0.3, 0.2, 0.45, 0.9, 1.6, 3.2]
W = [0.1 * (i + 1) for i in range(len(X))]


def fmt(values):
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def activation(name, f):
    x = torch.tensor(X, requires_grad=True)
    y = f(x)
    (y * torch.tensor(W)).sum().backward()
    print(f'        "{name}": ({fmt(y.detach().tolist())},\n                  {fmt(x.grad.tolist())}),')


print("// Activations: (forward, gradient of sum(W * f(x)))")
print("    static let reference: [String: (y: [Double], dx: [Double])] = [")
activation("identity", lambda x: x * 1)
activation("sigmoid", torch.sigmoid)
activation("tanh", torch.tanh)
activation("hardTanh", F.hardtanh)
activation("hardSigmoid", F.hardsigmoid)
activation("relu", F.relu)
activation("relu6", F.relu6)
activation("leakyReLU", lambda x: F.leaky_relu(x, 0.01))
activation("leakyReLU0.2", lambda x: F.leaky_relu(x, 0.2))
activation("elu", F.elu)
activation("elu0.5", lambda x: F.elu(x, 0.5))
activation("selu", F.selu)
activation("gelu", F.gelu)
activation("geluTanh", lambda x: F.gelu(x, approximate="tanh"))
activation("softplus", F.softplus)
activation("softplusBeta2", lambda x: F.softplus(x, beta=2.0))
activation("silu", F.silu)
activation("mish", F.mish)
activation("softmax", lambda x: F.softmax(x, dim=0))
activation("logSoftmax", lambda x: F.log_softmax(x, dim=0))
# The piecewise-linear unit has no PyTorch function; it equals clamp(x + 1/2, 0, 1).
activation("piecewiseLinear", lambda x: torch.clamp(x + 0.5, 0, 1))
print("    ]")

print()
print("// softmax over axis 1 of a 2x3 matrix, and softmax([1000, 1001])")
m = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])
print("softmax2d =", fmt(F.softmax(m, dim=1).flatten().tolist()))
print("softmax0 (axis 0) =", fmt(F.softmax(m, dim=0).flatten().tolist()))
print("softmaxLarge =", fmt(F.softmax(torch.tensor([1000.0, 1001.0]), dim=0).tolist()))
print("logSoftmaxLarge =", fmt(F.log_softmax(torch.tensor([1000.0, 1001.0]), dim=0).tolist()))
print("softplus(-100, 100, 30) =", fmt(F.softplus(torch.tensor([-100.0, 100.0, 30.0])).tolist()))

# ---------------------------------------------------------------------------------------
# Losses
P = [[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]]        # predictions / logits, shape [2, 3]
T = [[0.5, -0.2, 0.4], [3.0, 0.0, -0.1]]        # regression targets
PROB = [[0.2, 0.7, 0.9], [0.6, 0.05, 0.4]]      # probabilities for BCE
Y01 = [[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]]        # BCE targets (soft 0.3 included)
CLS = [2, 0]                                     # class indices for [2, 3] logits
TPROB = [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]    # probability targets
VAR = [[0.5, 1.5, 0.2], [2.0, 0.8, 1.1]]        # predicted variances
PM = [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]      # ±1 hinge targets


def loss(name, f, inputs, reductions=("mean", "sum", "none")):
    for r in reductions:
        xs = [torch.tensor(v, requires_grad=True) for v in inputs]
        out = f(*xs, r)
        out.sum().backward()
        grads = "; ".join(fmt(x.grad.flatten().tolist()) for x in xs)
        print(f'        ("{name}", "{r}", {fmt(out.detach().flatten().tolist())}, {grads}),')


print()
print("// Losses: (name, reduction, value (flattened), gradient of value.sum() w.r.t. each input)")
loss("mse", lambda p, r: F.mse_loss(p, torch.tensor(T), reduction=r), [P])
loss("l1", lambda p, r: F.l1_loss(p, torch.tensor(T), reduction=r), [P])
loss("huber1", lambda p, r: F.huber_loss(p, torch.tensor(T), reduction=r, delta=1.0), [P])
loss("huber0.5", lambda p, r: F.huber_loss(p, torch.tensor(T), reduction=r, delta=0.5), [P])
loss("bce", lambda p, r: F.binary_cross_entropy(p, torch.tensor(Y01), reduction=r), [PROB])
loss("bceLogits", lambda p, r: F.binary_cross_entropy_with_logits(p, torch.tensor(Y01), reduction=r), [P])
loss("ceIndices", lambda p, r: F.cross_entropy(p, torch.tensor(CLS), reduction=r), [P])
loss("ceIndicesSmooth", lambda p, r: F.cross_entropy(p, torch.tensor(CLS), reduction=r, label_smoothing=0.1), [P])
loss("ceProbs", lambda p, r: F.cross_entropy(p, torch.tensor(TPROB), reduction=r), [P])
loss("nll", lambda p, r: F.nll_loss(F.log_softmax(p, dim=1), torch.tensor(CLS), reduction=r), [P])
loss("gaussianNLL", lambda mu, var, r: F.gaussian_nll_loss(mu, torch.tensor(T), var, reduction=r), [P, VAR])
loss("hinge", lambda p, r: torch.clamp(1 - torch.tensor(PM) * p, min=0).sum() if r == "sum"
     else (torch.clamp(1 - torch.tensor(PM) * p, min=0).mean() if r == "mean"
           else torch.clamp(1 - torch.tensor(PM) * p, min=0)), [P])

print()
print("// Worked numbers: -ln 0.98, ln 3")
print(-math.log(0.98), math.log(3))
