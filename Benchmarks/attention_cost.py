#!/usr/bin/env python3
"""PyTorch's side of the attention-cost table (BENCHMARKS.md): what causal self-attention
costs in time and memory as the context length T grows, for PyTorch's fused
F.scaled_dot_product_attention and for a naive path that materialises the T x T matrix.

Inputs: q, k, v of shape [batch, heads, T, head_dim] = [1, 4, T, 32] (--batch), float32,
standard normal (torch seed 0), requires_grad=True; causal attention, scale 1/sqrt(32).
Paths:
    sdpa   F.scaled_dot_product_attention(q, k, v, is_causal=True)
    naive  softmax(q @ k^T * scale + M) @ v, M the additive causal mask (0 on and below the
           diagonal, -inf above, as nn.Transformer.generate_square_subsequent_mask), built
           once per length outside the timed and measured region.

Protocol, for each T in --lengths (default 128,512,2048) and each path, 2 threads:
  - forward: --warmup calls (default 3), then the median (and min) of --repeats (default 10)
    timed calls. Gradients are enabled, so this is the forward half of a training step (the
    autograd graph is recorded, then dropped).
  - forward+backward: the same, each call being the forward and out.backward(ones) with the
    upstream gradient allocated beforehand; q/k/v gradients are reset to None between calls.
  - peak resident memory growth of one forward+backward, in MiB: the median over
    --memory-runs (default 3) fresh subprocesses per (path, T). Each runs a warm-up
    forward+backward at T = 16 (thread pool, kernel set-up), allocates q, k, v, the upstream
    gradient and M, resets the peak-RSS counter (writes 5 to /proc/self/clear_refs), runs one
    forward+backward and takes VmHWM after it minus VmRSS before it. The growth covers the
    autograd saved tensors, the backward's temporaries and the three input gradients
    (3 x T x 128 floats). If clear_refs is not writable it falls back to ru_maxrss after
    minus before ("memory_method" says which), which understates growth that fits under an
    earlier peak. Runs of one case differ by up to a few MiB (allocator and thread arenas),
    so growths of a few MiB are at the noise level.

Which kernel SDPA runs is read, not guessed: the aten operators it dispatches to are
recorded with torch.profiler for one forward+backward per T and reported as "kernels". With
torch 2.15 on this machine (CPU capability AVX2, float32, no dropout) they are
aten::_scaled_dot_product_flash_attention_for_cpu and its _backward, PyTorch's CPU
flash-attention kernel; its measured memory growth stays far below one T x T matrix. With
attention dropout in training (as inside nn.TransformerEncoderLayer) SDPA instead takes the
unfused aten::_scaled_dot_product_attention_math.

Output: a header JSON line, then one JSON line per (path, T):
    {"framework":"torch","bench":"attention_cost","path":"sdpa"|"naive","length":T,
     "forward_seconds":median,"forward_backward_seconds":median,"forward_min_seconds":...,
     "forward_backward_min_seconds":...,"peak_rss_growth_mib":x,"score_matrix_mib":y,...}
score_matrix_mib is the size of one float32 [batch, heads, T, T] matrix, for reference.

Usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $HOME/.nabla-peers/bin/python \\
           Benchmarks/attention_cost.py [--lengths 128,512,2048] [--repeats 10] [--batch 1]
"""
import argparse, gc, json, math, os, resource, statistics, subprocess, sys, time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--lengths", default="128,512,2048")
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--head-dim", type=int, default=32)
ap.add_argument("--repeats", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--paths", default="sdpa,naive")
ap.add_argument("--memory-runs", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--memory-child", nargs=2, metavar=("PATH", "T"), help=argparse.SUPPRESS)
args = ap.parse_args()
torch.set_num_threads(args.threads)
Bt, H, Dh = args.batch, args.heads, args.head_dim
SCALE = 1.0 / math.sqrt(Dh)


def causal_mask(t):
    return torch.full((t, t), float("-inf")).triu(1)


def sdpa(q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def naive(q, k, v, mask):
    return torch.softmax(q @ k.transpose(-2, -1) * SCALE + mask, dim=-1) @ v


PATHS = {"sdpa": sdpa, "naive": naive}


def inputs(t):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(Bt, H, t, Dh, generator=g).requires_grad_() for _ in range(3))
    return q, k, v, torch.ones(Bt, H, t, Dh), causal_mask(t)


def forward_backward(f, q, k, v, up, mask):
    f(q, k, v, mask).backward(up)


def status_kib(field):
    with open("/proc/self/status") as s:
        for line in s:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field + " not in /proc/self/status")


def memory_child(path, t):
    f = PATHS[path]
    forward_backward(f, *inputs(16))                       # thread pool and kernel set-up
    q, k, v, up, mask = inputs(t)
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as c:
            c.write("5")                                   # resets VmHWM to the current RSS
        method, before = "VmHWM-VmRSS", status_kib("VmRSS")
    except OSError:
        method, before = "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    forward_backward(f, q, k, v, up, mask)
    after = status_kib("VmHWM") if method != "ru_maxrss" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_mib": round(max(0, after - before) / 1024, 3), "method": method}), flush=True)


if args.memory_child:
    memory_child(args.memory_child[0], int(args.memory_child[1]))
    sys.exit(0)


def memory_growth(path, t):
    """One fresh subprocess per measurement."""
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", path, str(t), "--threads", str(args.threads),
           "--batch", str(Bt), "--heads", str(H), "--head-dim", str(Dh)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(call, reset):
    for _ in range(args.warmup):
        call(); reset()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        reset()
    return statistics.median(times), min(times)


def kernels(f, t):
    """The aten operators SDPA dispatches to, for one forward+backward (profiler)."""
    q, k, v, up, mask = inputs(t)
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward_backward(f, q, k, v, up, mask)
    names = {e.key for e in prof.key_averages()}
    return sorted(n for n in names if "scaled_dot_product" in n or "flash" in n or "efficient_attention" in n)


lengths = [int(s) for s in args.lengths.split(",") if s]
paths = [p for p in args.paths.split(",") if p]
print(json.dumps({"framework": "torch", "bench": "attention_cost", "version": torch.__version__,
                  "threads": args.threads, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                  "batch": Bt, "heads": H, "head_dim": Dh, "dtype": "float32", "causal": True,
                  "repeats": args.repeats, "warmup": args.warmup}), flush=True)
for t in lengths:
    for path in paths:
        f = PATHS[path]
        mems = [memory_growth(path, t) for _ in range(args.memory_runs)]
        q, k, v, up, mask = inputs(t)

        def clear():
            q.grad = k.grad = v.grad = None

        fwd, fwd_min = timed(lambda: f(q, k, v, mask), lambda: None)
        fb, fb_min = timed(lambda: forward_backward(f, q, k, v, up, mask), clear)
        line = {"framework": "torch", "bench": "attention_cost", "path": path, "length": t,
                "batch": Bt, "heads": H, "head_dim": Dh,
                "forward_seconds": round(fwd, 7), "forward_backward_seconds": round(fb, 7),
                "forward_min_seconds": round(fwd_min, 7), "forward_backward_min_seconds": round(fb_min, 7),
                "peak_rss_growth_mib": round(statistics.median(m["growth_mib"] for m in mems), 3),
                "peak_rss_growth_mib_runs": [m["growth_mib"] for m in mems], "memory_method": mems[0]["method"],
                "score_matrix_mib": round(Bt * H * t * t * 4 / 2**20, 3), "repeats": args.repeats,
                "threads": args.threads}
        if path == "sdpa":
            line["kernels"] = kernels(f, t)
        print(json.dumps(line), flush=True)
        del q, k, v, up, mask
        gc.collect()
