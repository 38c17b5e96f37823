#!/usr/bin/env bash
# Copies a target's seeds into its corpus and fuzzes it, one process on one
# core. Usage, from the repository root or fuzz/:
#   fuzz/run.sh <target> [seconds] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: run.sh <target> [seconds] [libFuzzer flags...]}
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
mkdir -p "corpus/$target" "artifacts/$target" logs
cp -n "seeds/$target"/* "corpus/$target/"
log="logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "fuzzing $target for ${seconds}s, log in fuzz/$log"
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
    -jobs=1 -workers=1 -max_total_time="$seconds" -timeout=20 -max_len=8192 \
    -print_final_stats=1 -close_fd_mask=0 "$@" >"$log" 2>&1 || status=$?
# With -jobs, libFuzzer writes the worker's output to fuzz-0.log.
if [ -f fuzz-0.log ]; then cat fuzz-0.log >>"$log" && rm fuzz-0.log; fi
grep -E '^#[0-9]+|stat::|ERROR|panicked|Test unit written' "$log" | tail -n 12
exit "${status:-0}"
