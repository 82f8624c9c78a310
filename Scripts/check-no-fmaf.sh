#!/usr/bin/env bash
# Fails if the release-built C kernels call the scalar fmaf/fma library routines (which
# would mean a fused multiply-add was not compiled to an instruction).
# Usage: Scripts/check-no-fmaf.sh [build-dir]   (run after `swift build -c release`)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-.build}"
OBJDUMP="${OBJDUMP:-objdump}"
command -v "$OBJDUMP" >/dev/null 2>&1 || OBJDUMP=llvm-objdump
command -v "$OBJDUMP" >/dev/null 2>&1 || { echo "check-no-fmaf: objdump not found" >&2; exit 2; }

# .build/release is a symlink to .build/<triple>/release: follow it, then de-duplicate.
objs=()
while IFS= read -r f; do [ -n "$f" ] && objs+=("$f"); done < <(
    find -L "$BUILD_DIR" -path '*release*' -path '*CNablaKernels.build*' -name '*.o' 2>/dev/null |
        while IFS= read -r p; do realpath "$p"; done | sort -u)
if [ "${#objs[@]}" -eq 0 ]; then
    echo "check-no-fmaf: no release objects of CNablaKernels under $BUILD_DIR (run swift build -c release)" >&2
    exit 2
fi

status=0
for o in "${objs[@]}"; do
    # Direct calls/jumps to fmaf/fma (also through the PLT); relocations against the symbols.
    hits=$("$OBJDUMP" -dr "$o" | grep -E '(call|jmp|bl|b)[[:space:]].*<_?fmaf?(@plt)?>|R_[A-Z0-9_]+[[:space:]]+_?fmaf?(@plt|-0x[0-9a-f]+)?$|R_[A-Z0-9_]+[[:space:]]+_?fmaf?[[:space:]-]' || true)
    if [ -n "$hits" ]; then
        echo "check-no-fmaf: $o calls fmaf/fma:" >&2
        echo "$hits" >&2
        status=1
    fi
done
if [ $status -eq 0 ]; then echo "check-no-fmaf: OK (${#objs[@]} objects, no fmaf/fma calls)"; fi
exit $status
