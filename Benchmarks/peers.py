#!/usr/bin/env python3
"""The peers' side of Nabla's benchmark suite: the same GEMM and element-wise workloads
as `swift run -c release NablaBenchmarks gemm elementwise`, in NumPy and PyTorch.

Usage: $HOME/.nabla-peers/bin/python Benchmarks/peers.py [gemm] [elementwise] [slices] [cnn_infer] [--quick]
Prints one JSON object per line, like NablaBenchmarks. Timing: each measurement runs the
operation back to back for >= 0.2 s, repeated (7 times, 3 with --quick); the median is
reported. The tiny-MLP and Fashion-MNIST workloads use ../shared/bench/bench_tiny.py and
bench_mlp.py (see BENCHMARKS.md for the commands).
"""
import json, statistics, sys, time

import numpy as np

args = [a for a in sys.argv[1:] if not a.startswith("--")]
quick = "--quick" in sys.argv
reps = 3 if quick else 7


def wants(name):
    return not args or name in args


def measure(fn, min_time=0.2):
    fn()
    t0 = time.perf_counter(); fn(); once = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(min_time / once))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


try:
    import torch
except ImportError:
    torch = None

if wants("gemm"):
    from threadpoolctl import threadpool_limits
    for threads in (2, 1):
        for n in ([128, 512] if quick else [128, 256, 512, 1024, 2048]):
            rng = np.random.default_rng(0)
            a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
            b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
            c = np.empty((n, n), np.float32)
            with threadpool_limits(limits=threads):
                t_np = measure(lambda: np.matmul(a, b, out=c))
            o = {"bench": "gemm_f32", "n": n, "threads": threads, "numpy_gflops": round(2 * n**3 / t_np / 1e9, 3)}
            if torch is not None:
                torch.set_num_threads(threads)
                ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.empty(n, n)
                t_t = measure(lambda: torch.matmul(ta, tb, out=tc))
                o["torch_gflops"] = round(2 * n**3 / t_t / 1e9, 3)
            print(json.dumps(o), flush=True)

if wants("elementwise"):
    n = 10_000_000
    rng = np.random.default_rng(0)
    x = rng.uniform(-4, 4, n).astype(np.float32)
    y = rng.uniform(-4, 4, n).astype(np.float32)
    np_cases = {
        "relu": lambda: np.maximum(x, 0), "add": lambda: x + y, "mul": lambda: x * y,
        "exp": lambda: np.exp(x), "tanh": lambda: np.tanh(x),
        "sigmoid": lambda: 1 / (1 + np.exp(-x)), "sum": lambda: x.sum(), "max": lambda: x.max(),
    }
    if torch is not None:
        torch.set_num_threads(2)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        t_cases = {
            "relu": lambda: torch.relu(tx), "add": lambda: tx + ty, "mul": lambda: tx * ty,
            "exp": lambda: torch.exp(tx), "tanh": lambda: torch.tanh(tx),
            "sigmoid": lambda: torch.sigmoid(tx), "sum": lambda: tx.sum(), "max": lambda: tx.max(),
        }
    for name, fn in np_cases.items():
        o = {"bench": "elementwise_f32", "op": name, "n": n, "numpy_ms": round(measure(fn) * 1e3, 3)}
        if torch is not None:
            o["torch_ms"] = round(measure(t_cases[name]) * 1e3, 3)
        print(json.dumps(o), flush=True)

if wants("slices") and torch is not None:
    # Same workload as NablaBenchmarks' `slices`: take each of the T steps of x [B, T, F],
    # use it, back-propagate (what an unrolled recurrent layer does with its input).
    torch.set_num_threads(2)
    b, f = 8, 32
    for t in (10, 100, 1000):
        x = torch.randn(b, t, f, requires_grad=True)
        w = torch.randn(f)

        def step():
            acc = torch.zeros(())
            for i in range(t):
                acc = acc + (x[:, i] * w).sum()
            acc.backward()
            x.grad = None

        s = measure(step)
        print(json.dumps({"bench": "sequence_slices", "steps": t, "batch": b, "features": f,
                          "torch_ms": round(s * 1e3, 3), "torch_ns_per_element": round(s / (b * t * f) * 1e9, 3)}), flush=True)

if wants("cnn_infer") and torch is not None:
    # Inference throughput of ../shared/bench/bench_cnn.py's CNN (conv32-pool-conv64-pool-
    # fc128-fc10), eval mode, no_grad, batch 256 over the 10,000 test images (39 full
    # batches), two threads; the same as `NablaBenchmarks cnn`'s infer_images_per_sec.
    # Weights are PyTorch's initial ones: inference cost does not depend on them.
    import gzip, os, struct
    torch.set_num_threads(2)
    d = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        buf = f.read()
    x = np.frombuffer(buf, np.uint8, offset=16).reshape(10000, 1, 28, 28).astype(np.float32) / 255
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)).eval()
    batches = [torch.from_numpy(x[i:i + 256]) for i in range(0, 10000 - 255, 256)]

    def run():
        with torch.no_grad():
            for b in batches:
                model(b)
    run()
    times = []
    for _ in range(3):
        t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"bench": "fashion_cnn_infer", "fw": "torch", "version": torch.__version__,
                      "images_per_sec": round(len(batches) * 256 / times[1])}), flush=True)
