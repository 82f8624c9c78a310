#!/usr/bin/env python3
"""Reference values for Nabla's optimizer and LR-schedule tests, from PyTorch.

Prints Swift literals that are pasted into Tests/NablaNNTests/OptimizerTests.swift and
Tests/NablaNNTests/ScheduleTests.swift, so the tests never need Python.

    python3 Scripts/reference_optim.py

The optimizer problem is a small least-squares fit in float64:
    loss(w, b) = mean((X·w + b − y)²)
from w₀ = [0.5, −0.3, 0.8], b₀ = [0.1]; each configuration prints w and b after each of
five steps. The schedule section prints the learning rate at epochs 0…11 (base 0.1).
"""
import torch

torch.set_default_dtype(torch.float64)

X = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.5, 2.0], [0.3, -1.2, 1.0], [2.0, 1.0, -1.0]])
Y = torch.tensor([1.0, -2.0, 0.5, 3.0])
W0 = [0.5, -0.3, 0.8]
B0 = [0.1]

OPTIMIZERS = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgdMomentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgdNesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgdMaximize", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.5, maximize=True)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.1)),
    ("adamAmsgrad", lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("adamW", lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1)),
    ("adamWAmsgrad", lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.85, 0.95), eps=1e-6, weight_decay=0.2, amsgrad=True)),
    ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmspropCenteredMomentum", lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.9, centered=True)),
    ("rmspropMomentum", lambda p: torch.optim.RMSprop(p, lr=0.02, momentum=0.5)),
    ("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("adagradDecay", lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
]


def fmt(values):
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


print("// Optimizers: [w0, w1, w2, b] after steps 1…5")
for name, make in OPTIMIZERS:
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    opt = make([w, b])
    rows = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((X @ w + b - Y) ** 2).mean()
        loss.backward()
        opt.step()
        rows.append(w.tolist() + b.tolist())
    print(f'"{name}": [')
    for r in rows:
        print(f"    {fmt(r)},")
    print("],")


def lrs(make, epochs=12, metrics=None):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for e in range(1, epochs):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e - 1])
        out.append(opt.param_groups[0]["lr"])
    return out


S = torch.optim.lr_scheduler
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.92, 0.91, 0.905, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89]
SCHEDULES = [
    ("step", lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    ("multiStep", lambda o: S.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.1)),
    ("exponential", lambda o: S.ExponentialLR(o, gamma=0.9)),
    ("cosine", lambda o: S.CosineAnnealingLR(o, T_max=6, eta_min=0.01)),
    ("linear", lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4)),
    ("warmupCosine", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                                  S.CosineAnnealingLR(o, T_max=5)], milestones=[3])),
    ("warmupStep", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=2),
                                                S.StepLR(o, step_size=2, gamma=0.5)], milestones=[2])),
]
print()
print("// Schedules: learning rate at epochs 0…11, base 0.1")
for name, make in SCHEDULES:
    print(f'"{name}": {fmt(lrs(make))},')
print(f'"plateau": {fmt(lrs(lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1), metrics=PLATEAU_METRICS))},')
print(f'"plateauMaxAbs": {fmt(lrs(lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=0.05, threshold_mode="abs", min_lr=0.005), metrics=PLATEAU_METRICS))},')
print("// plateau metrics:", fmt(PLATEAU_METRICS))
