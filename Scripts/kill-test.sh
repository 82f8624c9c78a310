#!/usr/bin/env bash
# kill -9 during training and checkpointing, N times (default 20), at random moments.
#
# Each time, the checkpoint must be absent (killed before the first save) or complete:
# `nabla evaluate --load` reads it. The next round resumes from it, and a final resume
# must run to completion with the epoch count continuing. The model is large enough
# (about 4.3 M parameters, a ~50 MB checkpoint with Adam's moments) that many kills land
# inside a save.
#
# Usage: Scripts/kill-test.sh [rounds] [path-to-nabla]   (default: .build/release/nabla)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
nabla=${2:-.build/release/nabla}
[ -x "$nabla" ] || { echo "error: $nabla not built (swift build -c release)" >&2; exit 1; }
nabla=$(cd "$(dirname "$nabla")" && pwd)/$(basename "$nabla")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
ck=ck.safetensors
args=(--hidden 2048,2048 --epochs 100000 --validation 0 --quiet)
RANDOM=${KILL_TEST_SEED:-$$}
present=0 absent=0 in_save=0 epochs_seen=()
for i in $(seq 1 "$rounds"); do
    if [ -f "$ck" ]; then "$nabla" train --resume "$ck" "${args[@]}" >/dev/null 2>&1 &
    else "$nabla" train --save "$ck" "${args[@]}" >/dev/null 2>&1 & fi
    pid=$!
    # 0.3 to 3.0 seconds: start-up, training steps and saves all get hit.
    delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + 2.7 * r / 32767 }')
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A temporary file now means the kill landed inside a save (the next run removes it).
    if ls -a | grep -q '\.tmp-'; then in_save=$((in_save + 1)); note=" during a save"; else note=""; fi
    if [ -f "$ck" ]; then
        if ! out=$("$nabla" evaluate --load "$ck" --json 2>&1); then
            echo "FAIL round $i (killed after ${delay}s): checkpoint is not loadable: $out" >&2
            exit 1
        fi
        epoch=$(python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["__metadata__"]["nabla.epoch"])' "$ck" 2>/dev/null || echo "?")
        present=$((present + 1)); epochs_seen+=("$epoch")
        echo "round $i: killed after ${delay}s$note; checkpoint complete at epoch $epoch"
    else
        absent=$((absent + 1))
        echo "round $i: killed after ${delay}s$note; no checkpoint yet"
    fi
done
if [ -f "$ck" ]; then
    before=${epochs_seen[${#epochs_seen[@]}-1]}
    target=$((before + 1))
    "$nabla" train --resume "$ck" --hidden 2048,2048 --epochs "$target" --validation 0 --quiet --json > final.txt 2>&1 || {
        echo "FAIL: the final resume did not complete:" >&2; cat final.txt >&2; exit 1; }
    grep -q "\"epochs\":$target" final.txt || { echo "FAIL: the final resume did not reach epoch $target:" >&2; cat final.txt >&2; exit 1; }
    echo "final resume: epoch $before -> $target completed"
fi
temps=$(ls -a | grep -c '\.tmp-' || true)
[ "$temps" = 0 ] || { echo "FAIL: $temps stale temporary files left after the final run" >&2; ls -a >&2; exit 1; }
echo "kill test: $rounds kills ($in_save inside a save), $present checkpoints complete and loadable, $absent absent, 0 corrupt; no temporary file left after the final run"
