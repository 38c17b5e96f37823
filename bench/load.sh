#!/usr/bin/env bash
# Load harness: requests/s and p99 latency of five receivers of the same
# eAgenda deliveries, one after the other, on 127.0.0.1 only, each for a
# bounded time, in one run:
#
#   a  bare axum route: read the body, answer 200 (the framework floor)
#   b  bookhook's eagenda_axum example (verify, parse, deduplicate, route)
#   c  bookhook's eagenda_actix example
#   d  eAgenda's Express sample (seed 000) on Node: no verification, no dedup
#   e  Express verifying with @octokit/webhooks (HMAC-SHA256), no dedup
#
# Every request is a new delivery (its own appointment key), precomputed and
# signed before the run; the wrk script reports whether any was sent twice.
#
# Each target is first warmed up for WARMUP (8s) with other new deliveries
# (warmup.bin, WARMUP_COUNT of them, none of which the measured run sends), so
# that what is measured is the steady state: Node's JIT has compiled the hot
# path, and the bookhook receivers' idempotency store (a million keys) is full
# and forgets a key for each new one, as in a server that has run for a while.
# WARMUP=0 measures cold servers instead.
#
#   bash bench/load.sh                 # DURATION=10s CONNECTIONS=32 THREADS=2
#   DURATION=5s TARGETS="a b" bash bench/load.sh
#   WARMUP=0 bash bench/load.sh        # cold: the store fills during the run
#   ROUNDS=3 bash bench/load.sh        # all targets three times over, interleaved,
#                                      # with each round's ratios and their medians
#
# The host's speed drifts by up to a quarter within minutes, for every server
# alike, so the ratios of a single round scatter; their median over rounds
# says more.
#
# Needs cargo, and installs wrk (Debian) and the Node packages when missing.
# Prints a Markdown table; raw wrk outputs stay in $BOOKHOOK_LOAD_DIR (a
# temporary directory by default).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
COUNT="${COUNT:-1500000}"
WARMUP="${WARMUP:-8s}"
ROUNDS="${ROUNDS:-1}"
WARMUP_COUNT="${WARMUP_COUNT:-1000000}"
TARGETS="${TARGETS:-a b c d e}"
TOKEN="load-eagenda-token"
HUB_SECRET="load-hub-secret"
OUT="${BOOKHOOK_LOAD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bookhook-load.XXXXXX")}"
mkdir -p "$OUT"

# shellcheck source=bench/common.sh
source bench/common.sh

log() { echo "load.sh: $*" >&2; }

pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y wrk >&2
fi
for tool in node npm curl; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed for the Node targets"; exit 1; }
done
if [ ! -d bench/express/node_modules/express ] || [ ! -d bench/express/node_modules/@octokit/webhooks ]; then
  log "installing the Node packages"
  (cd bench/express && npm install --no-audit --no-fund --loglevel=error >&2)
fi

log "building release binaries"
cargo build --release -p bookhook-examples --example eagenda_axum --example eagenda_actix >&2
cargo build --release --manifest-path bench/peers/Cargo.toml --bins >&2
PEERS=bench/peers/target/release

if [ "$WARMUP" = 0 ]; then WARMUP_COUNT=0; fi
log "precomputing $COUNT unique signed requests (and $WARMUP_COUNT for the warm-up) in $OUT"
"$PEERS/make_requests" "$OUT" "$COUNT" "$TOKEN" "$HUB_SECRET" "$WARMUP_COUNT"


wait_for() {
  local port=$1 pid=$2
  for _ in $(seq 1 200); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { log "server on port $port exited"; return 1; }
    sleep 0.05
  done
  log "nothing listens on port $port"
  return 1
}

# POSTs the probe with header file $2 to port $1, prints "status body".
probe() {
  curl -sS -o "$OUT/probe.out" -w '%{http_code}' -X POST "http://127.0.0.1:$1/webhook/eagenda" \
    -H "@$OUT/$2" --data-binary "@$OUT/probe.json" | tr -d '\n'
  printf ' %s' "$(cat "$OUT/probe.out")"
}

# Checks that the answers to the probes are the expected ones, then forgets
# nothing: the probe uses an appointment key that the load never sends.
check() {
  local name=$1 port=$2 expect_ok=$3 expect_again=$4 expect_bad=$5 got
  got="$(probe "$port" probe.headers)"
  [[ "$got" == $expect_ok ]] || { log "$name: probe answered '$got', expected '$expect_ok'"; return 1; }
  got="$(probe "$port" probe.headers)"
  [[ "$got" == $expect_again ]] || { log "$name: second probe answered '$got', expected '$expect_again'"; return 1; }
  got="$(probe "$port" probe-bad.headers)"
  [[ "$got" == $expect_bad ]] || { log "$name: forged probe answered '$got', expected '$expect_bad'"; return 1; }
}

# Converts a wrk latency (123.45us, 1.2ms, 2.00s) to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n = n * 60000; else if (v ~ /s$/) n = n * 1000
    printf "%.2f", n }'
}

declare -A RPS P99 NOTE
round=1
run_target() {
  local key=$1 name=$2 port=$3 ok=$4 again=$5 bad=$6
  shift 6
  local id="$key:$round" file="$OUT/$key.$round"
  log "[$key, round $round] $name on 127.0.0.1:$port"
  BOOKHOOK_QUIET=1 BOOKHOOK_ADDR="127.0.0.1:$port" PORT="$port" \
    EAGENDA_TOKEN="$TOKEN" HUB_SECRET="$HUB_SECRET" "$@" >"$file.server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_for "$port" "$pid"
  check "$name" "$port" "$ok" "$again" "$bad"
  local warm=""
  if [ "$WARMUP" != 0 ]; then
    send_requests "$OUT/warmup.bin" "$WARMUP" "$port" >"$file.warmup.txt"
    warm="warm-up $WARMUP at $(awk '/^Requests\/sec:/ {printf "%d", $2}' "$file.warmup.txt") requests/s; "
  fi
  local load
  load="$(uptime | sed 's/.*load average: //')"
  send_requests "$OUT/requests.bin" "$DURATION" "$port" --latency >"$file.wrk.txt"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  RPS[$id]="$(awk '/^Requests\/sec:/ {print $2}' "$file.wrk.txt")"
  P99[$id]="$(to_ms "$(awk '$1 == "99%" {print $2}' "$file.wrk.txt")")"
  local errors repeats
  errors="$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print}' "$file.wrk.txt" | tr '\n' ' ')"
  repeats="$(awk -F'repeats: ' '/repeats:/ {print $2}' "$file.wrk.txt")"
  NOTE[$id]="${warm}load before: $load; repeats: ${repeats:-?}${errors:+; errors: $errors}"
  log "[$key, round $round] ${RPS[$id]} requests/s, p99 ${P99[$id]} ms (${NOTE[$id]})"
  sleep 1
}

for round in $(seq 1 "$ROUNDS"); do
  for key in $TARGETS; do
    case "$key" in
      a) run_target a "bare axum POST -> 200" 18081 '200 {"status":"ok"}' '200 {"status":"ok"}' '200 {"status":"ok"}' \
           "$PEERS/bare_axum" ;;
      b) run_target b "bookhook eagenda_axum" 18082 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/eagenda_axum ;;
      c) run_target c "bookhook eagenda_actix" 18083 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/eagenda_actix ;;
      d) run_target d "Express sample (seed 000)" 18084 '200 {"status":"ok"}' '200 {"status":"ok"}' '200 {"status":"ok"}' \
           node bench/express/server.js ;;
      e) run_target e "Express + @octokit/webhooks verify" 18085 '200 {"status":"ok"}' '200 {"status":"ok"}' '401 *' \
           node bench/express/octokit.mjs ;;
      *) log "unknown target $key"; exit 2 ;;
    esac
  done
done

# The ratio of targets $1 and $2 in round $3.
ratio() {
  if [ -n "${RPS[$1:$3]:-}" ] && [ -n "${RPS[$2:$3]:-}" ]; then
    awk -v x="${RPS[$1:$3]}" -v y="${RPS[$2:$3]}" 'BEGIN { printf "%.2f", x / y }'
  else
    printf 'n/a'
  fi
}

RATIOS=("b a axum receiver / bare axum" "c a actix receiver / bare axum"
  "b d axum receiver / Express sample" "b e axum receiver / Express + octokit")

echo
echo "wrk -t $THREADS -c $CONNECTIONS -d $DURATION --latency -s bench/requests.lua, after a warm-up of ${WARMUP}; $ROUNDS round(s); $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
for round in $(seq 1 "$ROUNDS"); do
  echo
  if [ "$ROUNDS" -gt 1 ]; then echo "Round $round:"; echo; fi
  echo "| target | requests/s | p99 (ms) | notes |"
  echo "|---|---:|---:|---|"
  for key in $TARGETS; do
    echo "| $key | ${RPS[$key:$round]:-} | ${P99[$key:$round]:-} | ${NOTE[$key:$round]:-} |"
  done
  echo
  echo "| ratio | value |"
  echo "|---|---:|"
  for entry in "${RATIOS[@]}"; do
    read -r x y what <<<"$entry"
    echo "| $x/$y ($what) | $(ratio "$x" "$y" "$round") |"
  done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo
  echo "Over $ROUNDS rounds:"
  echo
  echo "| ratio | each round | median |"
  echo "|---|---|---:|"
  for entry in "${RATIOS[@]}"; do
    read -r x y what <<<"$entry"
    values=()
    for round in $(seq 1 "$ROUNDS"); do values+=("$(ratio "$x" "$y" "$round")"); done
    echo "| $x/$y ($what) | ${values[*]} | $(printf '%s\n' "${values[@]}" | { grep -v n/a || true; } | median) |"
  done
fi
echo
log "raw outputs in $OUT"
rm -f "$OUT/requests.bin" "$OUT/warmup.bin"
