#!/usr/bin/env bash
# A/B of two builds of an eAgenda receiver (for example two commits of the
# `eagenda_axum` example): each is started fresh on 127.0.0.1, loaded with wrk
# for a bounded time, and killed, alternating, ROUNDS times. Alternating pairs
# show a change even on a noisy machine, where two separate runs would not.
# Prints each run, then B's requests/s over A's for each round and their median.
#
#   bash bench/ab.sh NAME_A BINARY_A NAME_B BINARY_B
#   ROUNDS=3 DURATION=5s CONNECTIONS=32 THREADS=2 COUNT=600000 (defaults)
#
# Every request is a unique signed delivery (from `make_requests`, as in
# load.sh); COUNT must exceed what the faster build answers in DURATION. As
# in load.sh, each server is first warmed up for WARMUP (8s; 0 for none) with
# other new deliveries, so that its idempotency store is full when measured.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 4 ] || { echo "usage: bash bench/ab.sh NAME_A BINARY_A NAME_B BINARY_B" >&2; exit 2; }
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
COUNT="${COUNT:-600000}"
WARMUP="${WARMUP:-8s}"
WARMUP_COUNT="${WARMUP_COUNT:-1000000}"
TOKEN="load-eagenda-token"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/bookhook-ab.XXXXXX")"

pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null 2>&1 || { echo "ab.sh: wrk is needed (bench/load.sh installs it)" >&2; exit 1; }
cargo build --release --manifest-path bench/peers/Cargo.toml --bin make_requests >&2
if [ "$WARMUP" = 0 ]; then WARMUP_COUNT=0; fi
bench/peers/target/release/make_requests "$OUT" "$COUNT" "$TOKEN" unused-hub-secret "$WARMUP_COUNT" >&2

# shellcheck source=bench/common.sh
source bench/common.sh

run() {
  local name=$1 binary=$2 port=$3
  BOOKHOOK_QUIET=1 BOOKHOOK_ADDR="127.0.0.1:$port" EAGENDA_TOKEN="$TOKEN" "$binary" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do listening "$port" && break; sleep 0.05; done
  if [ "$WARMUP" != 0 ]; then
    send_requests "$OUT/warmup.bin" "$WARMUP" "$port" >/dev/null
  fi
  local load
  load="$(uptime | sed 's/.*load average: //')"
  send_requests "$OUT/requests.bin" "$DURATION" "$port" --latency >"$OUT/wrk.txt"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.txt")"
  echo "| $name | $round | $rps | $(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt") | $(awk -F'repeats: ' '/repeats:/ {print $2}' "$OUT/wrk.txt") | $load |"
  sleep 1
}

echo "wrk -t $THREADS -c $CONNECTIONS -d $DURATION --latency -s bench/requests.lua, after a warm-up of $WARMUP; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| build | round | requests/s | p99 | repeats | load before |"
echo "|---|---:|---:|---:|---:|---|"
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  run "$1" "$2" 18101
  first="$rps"
  run "$3" "$4" 18102
  ratios+=("$(awk -v x="$rps" -v y="$first" 'BEGIN { if (x > 0 && y > 0) printf "%.2f", x / y; else printf "n/a" }')")
done
echo
median="$(printf '%s\n' "${ratios[@]}" | { grep -v n/a || true; } | median)"
echo "$3/$1 requests/s per round: ${ratios[*]}; median $median"
