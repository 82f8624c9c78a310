#!/usr/bin/env bash
# Fuzzes Nabla's file parsers with libFuzzer (see docs/fuzzing.md).
#
# Usage: Scripts/fuzz.sh [seconds-per-parser] [runs-per-parser] [parser ...]
#   seconds-per-parser  wall-clock budget of each fuzzer (default 60; 0 = no limit)
#   runs-per-parser     inputs each fuzzer runs (default: no limit; the time budget applies)
#   parser              any of: safetensors idx gzip csv modelspec npy (default: all, in that order)
# Environment:
#   FUZZ_MERGE=1        add the inputs that reach new coverage to the committed corpus
#                       Fuzz/corpus/<parser> (libFuzzer -merge=1); otherwise it is left unchanged.
#   FUZZ_NO_BUILD=1     skip building the Fuzz package (use the binaries already built).
#
# Builds Fuzz/ in release mode with -sanitize=fuzzer,address, then runs the fuzzers one after
# the other, each on a temporary copy of its corpus. Exits 1 if any fuzzer crashes, traps,
# leaks, times out (-timeout=10) or exceeds memory (-rss_limit_mb=2048), after printing the
# path of the input that did it (copied to Fuzz/.build/fuzz-artifacts/<parser>/).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
runs="${2:-}"
shift $(( $# < 2 ? $# : 2 ))
parsers=("$@")
[ ${#parsers[@]} -eq 0 ] && parsers=(safetensors idx gzip csv modelspec npy)

binary_for() {
    case "$1" in
        safetensors) echo FuzzSafeTensors ;;
        idx) echo FuzzIDX ;;
        gzip) echo FuzzGzip ;;
        csv) echo FuzzCSV ;;
        modelspec) echo FuzzModelSpec ;;
        npy) echo FuzzNPY ;;
        *) echo "fuzz.sh: unknown parser '$1' (expected safetensors, idx, gzip, csv, modelspec or npy)" >&2; exit 2 ;;
    esac
}
max_len_for() {
    case "$1" in
        safetensors|idx|gzip|npy) echo 16384 ;;
        *) echo 8192 ;;
    esac
}
for p in "${parsers[@]}"; do binary_for "$p" >/dev/null; done

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    echo "== building the fuzzers (release, -sanitize=fuzzer,address)"
    build_start=$(date +%s)
    swift build -c release --package-path "$root/Fuzz" -Xswiftc -sanitize=fuzzer,address 2>&1 \
        | grep -v "Cannot export local symbol '__asan_extra_spill_area'" || true
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz.sh: building the Fuzz package failed" >&2; exit 1; }
    echo "== built in $(( $(date +%s) - build_start )) s"
fi
bin_dir="$(swift build -c release --package-path "$root/Fuzz" --show-bin-path)"

work="$(mktemp -d "${TMPDIR:-/tmp}/nabla-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
status=0
summary=()
for p in "${parsers[@]}"; do
    bin="$bin_dir/$(binary_for "$p")"
    [ -x "$bin" ] || { echo "fuzz.sh: $bin is missing (build the Fuzz package first)" >&2; exit 1; }
    seeds="$root/Fuzz/corpus/$p"
    [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || { echo "fuzz.sh: no seed corpus in $seeds" >&2; exit 1; }
    corpus="$work/$p/corpus"
    artifacts="$work/$p/artifacts"
    mkdir -p "$corpus" "$artifacts"
    cp -R "$seeds/." "$corpus/"
    # The crashes found so far run first: a regression fails at once.
    crashes="$root/Fuzz/crashes/$p"
    base=(-max_len="$(max_len_for "$p")" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10
          -artifact_prefix="$artifacts/")
    args=("${base[@]}" -max_total_time="$seconds" -runs="${runs:--1}" -print_final_stats=1)
    echo "== fuzzing $p: ${seconds}s, ${runs:-unlimited} runs"
    log="$work/$p/log"
    start=$(date +%s)
    set +e
    if [ -n "$(ls -A "$crashes" 2>/dev/null)" ]; then
        # Each saved input once (with -runs, libFuzzer would repeat every file that many times).
        "$bin" "${base[@]}" "$crashes"/* >"$log.crashes" 2>&1
        rc=$?
        [ $rc -ne 0 ] && cp "$log.crashes" "$log"
    else
        rc=0
    fi
    [ $rc -eq 0 ] && "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    if [ $rc -ne 0 ]; then
        status=1
        keep="$root/Fuzz/.build/fuzz-artifacts/$p"
        mkdir -p "$keep"
        grep -E 'ERROR|Fatal error|SUMMARY|==[0-9]+==|deadly signal|out-of-memory|timeout|leak' "$log" | head -20 || true
        for f in "$artifacts"/*; do
            [ -e "$f" ] || continue
            cp "$f" "$keep/"
            echo "fuzz.sh: $p: failing input: $keep/$(basename "$f")"
        done
        cp "$log" "$keep/log.txt"
        summary+=("$p: FAILED (exit $rc) after ${execs:-?} inputs in ${elapsed}s; log: $keep/log.txt")
    else
        summary+=("$p: ok, ${execs:-?} inputs in ${elapsed}s")
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ $rc -eq 0 ]; then
        # Keeps the committed seeds and adds only the inputs that reach new coverage.
        "$bin" -merge=1 -max_len="$(max_len_for "$p")" -rss_limit_mb=2048 -timeout=10 "$seeds" "$corpus" >"$log.merge" 2>&1
        echo "== $p: corpus now has $(ls "$seeds" | wc -l) files"
    fi
done

echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
exit $status
