#!/usr/bin/env bash
# Runs Nabla's benchmark suite and the peers' scripts in one session, interleaved, and
# writes every JSON line to the file given (default: benchmarks-<date>.jsonl).
# Needs the peers' venv (bash ../shared/bench/setup-peers.sh) and, for the MLP workload,
# Fashion-MNIST (apt-get install dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks-$(date +%Y%m%d-%H%M).jsonl}
PY=${PY:-$HOME/.nabla-peers/bin/python}
SHARED=${SHARED:-../shared/bench}
FM=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
swift build -c release --product NablaBenchmarks >/dev/null
B=.build/release/NablaBenchmarks
: > "$out"
log() { tee -a "$out"; }
# Peers use their own NumPy/PyTorch BLAS; the machine's OPENBLAS_* overrides would slow
# them, so they run without them. Nabla's OpenBLAS path runs as the machine is set up.
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$@"; }

$B gemm | log
peer Benchmarks/peers.py gemm | log
$B elementwise | log
peer Benchmarks/peers.py elementwise | log
$B tiny | log
peer "$SHARED/bench_tiny.py" --fw torch | log
peer "$SHARED/bench_tiny.py" --fw jax | log
peer "$SHARED/bench_tiny.py" --fw numpy | log
$B tiny | log
$B mlp | log
peer "$SHARED/bench_mlp.py" --fw torch --epochs 5 --data "$FM" | log
peer "$SHARED/bench_mlp.py" --fw jax --epochs 5 --data "$FM" | log
NABLA_BLAS=openblas $B mlp | sed 's/"bench":"fashion_mlp"/"bench":"fashion_mlp","gemm_path":"openblas"/' | log
$B mlp | log
# The CNN of ../shared/bench/bench_cnn.py, interleaved: Nabla, PyTorch, Nabla, PyTorch.
$B cnn | log
peer "$SHARED/bench_cnn.py" --fw torch --epochs 2 --data "$FM" | log
peer Benchmarks/peers.py cnn_infer | log
$B cnn | log
peer "$SHARED/bench_cnn.py" --fw torch --epochs 2 --data "$FM" | log
peer Benchmarks/peers.py cnn_infer | log
$B checkpoint | log
echo "wrote $out" >&2
