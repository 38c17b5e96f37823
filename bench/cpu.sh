#!/usr/bin/env bash
# CPU time per request of one server under load: the server's user and
# system time (from /proc/PID/stat) spent while wrk sends it unique signed
# Calendence deliveries, divided by the requests answered. Unlike requests/s,
# this figure hardly moves when other work shares the machine, so it can
# compare two builds of a server when the machine is not idle.
#
#   bash bench/cpu.sh PORT COMMAND...
#   ROUNDS=3 bash bench/cpu.sh 18201 target/release/examples/inbox_axum
#   BOOKHOOK_INBOX_WORKER=off bash bench/cpu.sh 18201 old/inbox_axum    # A/B: run both, alternate
#
# The server gets the environment of bench/inbox.sh's targets (BOOKHOOK_ADDR,
# CALENDENCE_SECRET, BOOKHOOK_QUIET, a new BOOKHOOK_INBOX_FILE per round) and
# runs on CPU $SERVER_CPU; wrk runs on CPU $WRK_CPU. 127.0.0.1 only; each
# round lasts $DURATION. The requests are made once, in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { echo "usage: bash bench/cpu.sh PORT COMMAND..." >&2; exit 2; }
PORT=$1
shift

DURATION="${DURATION:-6s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
COUNT="${COUNT:-300000}"
ROUNDS="${ROUNDS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
WRK_CPU="${WRK_CPU:-1}"
SECRET="load-calendence-secret"
OUT="${BOOKHOOK_LOAD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bookhook-cpu.XXXXXX")}"
mkdir -p "$OUT"
export WRK_CPU

# shellcheck source=bench/common.sh
source bench/common.sh

for tool in wrk taskset; do
  command -v "$tool" >/dev/null 2>&1 || { echo "cpu.sh: $tool is needed (bench/load.sh installs wrk)" >&2; exit 1; }
done

PEERS=bench/peers/target/release
if [ ! -s "$OUT/requests.bin" ]; then
  cargo build --release --manifest-path bench/peers/Cargo.toml --bin make_calendence_requests >&2
  "$PEERS/make_calendence_requests" "$OUT" "$COUNT" "$SECRET" 0 >&2
fi

pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -f "$OUT"/cpu.db "$OUT"/cpu.db-wal "$OUT"/cpu.db-shm
}
trap cleanup EXIT INT TERM

# The user and system clock ticks of process $1 so far.
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

TCK="$(getconf CLK_TCK)"
for round in $(seq 1 "$ROUNDS"); do
  rm -f "$OUT"/cpu.db "$OUT"/cpu.db-wal "$OUT"/cpu.db-shm
  BOOKHOOK_QUIET=1 BOOKHOOK_ADDR="127.0.0.1:$PORT" CALENDENCE_SECRET="$SECRET" \
    BOOKHOOK_INBOX_FILE="$OUT/cpu.db" taskset -c "$SERVER_CPU" "$@" >"$OUT/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    listening "$PORT" && break
    kill -0 "$pid" 2>/dev/null || { echo "cpu.sh: the server exited (see $OUT/server.log)" >&2; exit 1; }
    sleep 0.05
  done
  read -r user0 sys0 < <(ticks "$pid")
  send_requests "$OUT/requests.bin" "$DURATION" "$PORT" >"$OUT/wrk.txt"
  read -r user1 sys1 < <(ticks "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  requests="$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")"
  rps="$(awk '/^Requests\/sec:/ { print $2 }' "$OUT/wrk.txt")"
  awk -v n="$requests" -v rps="$rps" -v u=$((user1 - user0)) -v s=$((sys1 - sys0)) -v t="$TCK" \
    -v round="$round" -v cmd="$(basename "$1")" 'BEGIN {
      printf "%s round %d: %d requests (%.0f/s), user %.1f µs, system %.1f µs, total %.1f µs of CPU per request\n",
        cmd, round, n, rps, u * 1e6 / t / n, s * 1e6 / t / n, (u + s) * 1e6 / t / n }'
done
