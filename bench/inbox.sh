#!/usr/bin/env bash
# Inbox-mode load harness: requests/s and p50/p99 ack latency of
# receivers of the same Calendence deliveries, one after the other, on
# 127.0.0.1 only, each for a bounded time, in one run:
#
#   a  bookhook's inbox_axum example: InboxService + SqliteInbox (FULL, group
#      commit), with its worker handling the stored events in the background
#   b  bench/peers inbox_floor: bare axum route + raw HMAC-SHA256 verify +
#      serde parse + one INSERT … ON CONFLICT DO NOTHING through a group-commit
#      writer thread (WAL, synchronous=FULL), answering after commit
#   c  bookhook's inbox_axum example with BOOKHOOK_INBOX_MAX_BATCH=1:
#      the receiver of a, committing one row per transaction
#   d  bench/peers bare_axum: read the body, answer 200 (the framework floor)
#   e  bookhook's inbox_axum example on Redis (BOOKHOOK_INBOX=redis://…):
#      InboxService + RedisInbox, one EVALSHA of the ingest script per event,
#      with its worker handling the stored events in the background
#   f  bench/peers inbox_floor_redis: bare axum route + raw HMAC-SHA256 verify
#      + serde parse + bookhook-redis's own ingest script through `redis`
#   g  target e with BOOKHOOK_INBOX_WORKER=off: the acknowledgement path
#      alone, the same work as f (events stay pending for a worker elsewhere)
#   h  target a with BOOKHOOK_INBOX_WORKER=off: the acknowledgement path alone
#      on SQLite (events stay pending for a worker elsewhere)
#   i  inbox_floor with BOOKHOOK_FLOOR_ROW=inbox: b, storing by hand the row
#      that h stores (bookhook-sqlite's tables, indexes, columns and kept
#      header): the floor that does h's work
#   j  target h with BOOKHOOK_INBOX_MAX_BATCH=1: the acknowledgement path
#      committing one row per transaction
#   k  inbox_floor with BOOKHOOK_FLOOR_ROW=inbox and BOOKHOOK_FLOOR_WORKER=on:
#      i plus a hand-written worker in the same process that claims, parses
#      and completes the stored rows through the same writer: the floor that
#      does a's work
#   n  target k with BOOKHOOK_MAX_BATCH=1: that floor committing one job
#      per transaction, the floor of c
#   o  target b with BOOKHOOK_MAX_BATCH=1: the 5-column floor committing
#      one row per transaction
#   p  target i with BOOKHOOK_MAX_BATCH=1: the floor of j
#   l  `bookhook listen --provider calendence` (memory store, no --exec: every
#      new event handled), its JSON line per request written to a file
#   x  bookhook's calendence_axum example (WebhookService, memory store)
#   y  bench/peers dedup_floor: bare axum route + raw HMAC-SHA256 verify +
#      serde parse + claim and completion in a mutex-guarded LRU (the work of
#      l and x, by hand; the load-level twin of the core's `ref_lru_dedup`)
#   m  target l from another build of the CLI, $LISTEN_B: an A/B of a change
#      to listen, interleaved with l, whose build is $LISTEN_A (by default
#      target/release/bookhook): `TARGETS="l m" LISTEN_B=path ROUNDS=3`
#
# l and x are not inbox mode: they answer once the handler ran, and are
# measured here against the same bare route d with the same requests.
#
# Targets e and f use a redis-server that this script starts on
# 127.0.0.1:$REDIS_PORT with `appendonly yes` and `appendfsync everysec`
# (its files in $OUT), pinned to $REDIS_CPU (wrk's CPU by default), emptied
# before each target. Their notes give the scripts Redis ran per
# acknowledged event during the measured run (`EVALSHA` calls in
# `INFO commandstats`): the ingest script's one round trip per request, plus
# the worker's claim and finish scripts where a worker runs.
#
# Every request is a new delivery (its own booking id), signed before the
# run; a 200 is an ack of a committed row for a, b, c and h, and of an
# executed ingest script for e, f and g. The server runs on
# one core (taskset -c $SERVER_CPU) and wrk on the other (taskset -c
# $WRK_CPU). Each SQLite file is new, in $OUT (the disk of $TMPDIR), and
# removed after its target.
#
#   bash bench/inbox.sh                # DURATION=10s CONNECTIONS=32 THREADS=1 WARMUP=3s
#   ROUNDS=3 bash bench/inbox.sh       # all targets three times, interleaved, with medians
#   TARGETS="a b" bash bench/inbox.sh
#   TARGETS="e f g d" bash bench/inbox.sh   # the Redis inbox (needs redis-server)
#   TARGETS="h i j a b" bash bench/inbox.sh # the SQLite ack path against the floor of its own row
#   TARGETS="a k c n b o" bash bench/inbox.sh # the receiver with its worker against the floor with one
#
# Prints a Markdown table; raw wrk outputs stay in $BOOKHOOK_LOAD_DIR (a
# temporary directory by default).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
COUNT="${COUNT:-600000}"
WARMUP="${WARMUP:-3s}"
WARMUP_COUNT="${WARMUP_COUNT:-200000}"
ROUNDS="${ROUNDS:-1}"
TARGETS="${TARGETS:-a b c d}"
REDIS_PORT="${REDIS_PORT:-16391}"
SERVER_CPU="${SERVER_CPU:-0}"
WRK_CPU="${WRK_CPU:-1}"
REDIS_CPU="${REDIS_CPU:-$WRK_CPU}"
SECRET="load-calendence-secret"
OUT="${BOOKHOOK_LOAD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bookhook-inbox.XXXXXX")}"
mkdir -p "$OUT"
export WRK_CPU

# shellcheck source=bench/common.sh
source bench/common.sh

log() { echo "inbox.sh: $*" >&2; }

pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm
}
trap cleanup EXIT INT TERM

for tool in wrk taskset curl; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed (bench/load.sh installs wrk)"; exit 1; }
done

log "building release binaries"
cargo build --release -p bookhook-examples --example inbox_axum --example calendence_axum >&2
cargo build --release -p bookhook-cli --bin bookhook >&2
cargo build --release --manifest-path bench/peers/Cargo.toml \
  --bin bare_axum --bin inbox_floor --bin inbox_floor_redis --bin dedup_floor \
  --bin make_calendence_requests >&2

REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
if [[ " $TARGETS " == *" e "* || " $TARGETS " == *" f "* ]]; then
  for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed for targets e and f (apt-get install redis-server)"; exit 1; }
  done
  log "starting redis-server on 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync everysec) on CPU $REDIS_CPU"
  taskset -c "$REDIS_CPU" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$OUT" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no >"$OUT/redis.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null
fi

# The scripts Redis ran (EVALSHA and EVAL calls) since the last reset.
redis_calls() {
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ { sum += $3 } END { print sum + 0 }'
}
PEERS=bench/peers/target/release

if [ "$WARMUP" = 0 ]; then WARMUP_COUNT=0; fi
log "precomputing $COUNT unique signed requests (and $WARMUP_COUNT for the warm-up) in $OUT"
"$PEERS/make_calendence_requests" "$OUT" "$COUNT" "$SECRET" "$WARMUP_COUNT"

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
  curl -sS -o "$OUT/probe.out" -w '%{http_code}' -X POST "http://127.0.0.1:$1/webhook/calendence" \
    -H "@$OUT/$2" --data-binary "@$OUT/probe.json" | tr -d '\n'
  printf ' %s' "$(cat "$OUT/probe.out")"
}

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

declare -A RPS P50 P99 NOTE
round=1
run_target() {
  local key=$1 name=$2 port=$3 ok=$4 again=$5 bad=$6
  shift 6
  local id="$key:$round" file="$OUT/$key.$round"
  log "[$key, round $round] $name on 127.0.0.1:$port"
  if [ -n "${USES_REDIS:-}" ]; then redis-cli -p "$REDIS_PORT" flushall >/dev/null; fi
  BOOKHOOK_QUIET=1 BOOKHOOK_ADDR="127.0.0.1:$port" CALENDENCE_SECRET="$SECRET" \
    BOOKHOOK_INBOX_FILE="$OUT/$key.$round.db" \
    taskset -c "$SERVER_CPU" "$@" >"$file.server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_for "$port" "$pid"
  check "$name" "$port" "$ok" "$again" "$bad"
  local warm=""
  if [ "$WARMUP" != 0 ]; then
    send_requests "$OUT/warmup.bin" "$WARMUP" "$port" >"$file.warmup.txt"
    warm="warm-up $WARMUP at $(awk '/^Requests\/sec:/ {printf "%d", $2}' "$file.warmup.txt")/s; "
  fi
  local load
  load="$(uptime | sed 's/.*load average: //')"
  if [ -n "${USES_REDIS:-}" ]; then redis-cli -p "$REDIS_PORT" config resetstat >/dev/null; fi
  send_requests "$OUT/requests.bin" "$DURATION" "$port" --latency >"$file.wrk.txt"
  local calls=""
  if [ -n "${USES_REDIS:-}" ]; then
    # Counted before the server stops, so that its shutdown adds nothing.
    calls="$(redis_calls)"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$OUT/$key.$round.db" "$OUT/$key.$round.db-wal" "$OUT/$key.$round.db-shm"
  RPS[$id]="$(awk '/^Requests\/sec:/ {print $2}' "$file.wrk.txt")"
  P50[$id]="$(to_ms "$(awk '$1 == "50%" {print $2}' "$file.wrk.txt")")"
  P99[$id]="$(to_ms "$(awk '$1 == "99%" {print $2}' "$file.wrk.txt")")"
  local errors repeats
  errors="$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print}' "$file.wrk.txt" | tr '\n' ' ')"
  repeats="$(awk -F'repeats: ' '/repeats:/ {print $2}' "$file.wrk.txt")"
  local per_event=""
  if [ -n "$calls" ]; then
    local acks
    acks="$(awk '/requests in/ {print $1}' "$file.wrk.txt")"
    per_event="; scripts per event: $(awk -v c="$calls" -v n="$acks" 'BEGIN { if (n > 0) printf "%.2f", c / n; else print "n/a" }')"
  fi
  NOTE[$id]="${warm}load before: $load; repeats: ${repeats:-?}${errors:+; errors: $errors}${per_event}"
  log "[$key, round $round] ${RPS[$id]} requests/s, p50 ${P50[$id]} ms, p99 ${P99[$id]} ms (${NOTE[$id]})"
  sleep 1
}

QUEUED='200 {"status":"queued","id":*}'
for round in $(seq 1 "$ROUNDS"); do
  for key in $TARGETS; do
    case "$key" in
      a) run_target a "bookhook inbox_axum (group commit)" 18091 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      b) run_target b "inbox floor (hand-written, group commit)" 18092 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      c) BOOKHOOK_INBOX_MAX_BATCH=1 \
           run_target c "bookhook inbox, one row per transaction" 18093 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      e) USES_REDIS=1 BOOKHOOK_INBOX="$REDIS_URL" \
           run_target e "bookhook inbox_axum on Redis" 18095 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      f) USES_REDIS=1 BOOKHOOK_INBOX="$REDIS_URL" \
           run_target f "inbox floor on Redis (hand-written, same script)" 18096 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor_redis" ;;
      g) USES_REDIS=1 BOOKHOOK_INBOX="$REDIS_URL" BOOKHOOK_INBOX_WORKER=off \
           run_target g "bookhook inbox_axum on Redis, no worker" 18097 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      h) BOOKHOOK_INBOX_WORKER=off \
           run_target h "bookhook inbox_axum on SQLite, no worker" 18098 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      i) BOOKHOOK_FLOOR_ROW=inbox \
           run_target i "inbox floor storing the inbox's row (hand-written, group commit)" 18103 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      j) BOOKHOOK_INBOX_WORKER=off BOOKHOOK_INBOX_MAX_BATCH=1 \
           run_target j "bookhook inbox_axum on SQLite, no worker, one row per transaction" 18104 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/inbox_axum ;;
      k) BOOKHOOK_FLOOR_ROW=inbox BOOKHOOK_FLOOR_WORKER=on \
           run_target k "inbox floor storing the inbox's row, with a hand-written worker" 18105 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      n) BOOKHOOK_FLOOR_ROW=inbox BOOKHOOK_FLOOR_WORKER=on BOOKHOOK_MAX_BATCH=1 \
           run_target n "inbox floor with a worker, one job per transaction" 18106 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      o) BOOKHOOK_MAX_BATCH=1 \
           run_target o "inbox floor (5 columns), one row per transaction" 18107 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      p) BOOKHOOK_FLOOR_ROW=inbox BOOKHOOK_MAX_BATCH=1 \
           run_target p "inbox floor storing the inbox's row, one row per transaction" 18108 "$QUEUED" '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/inbox_floor" ;;
      l) run_target l "bookhook listen (memory store)" 18099 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           "${LISTEN_A:-target/release/bookhook}" listen --provider calendence --secret "$SECRET" \
           --addr 127.0.0.1:18099 --path /webhook/calendence ;;
      m) run_target m "bookhook listen (memory store), build B" 18101 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           "${LISTEN_B:?set LISTEN_B to the other build of bookhook}" listen --provider calendence --secret "$SECRET" \
           --addr 127.0.0.1:18101 --path /webhook/calendence ;;
      x) run_target x "bookhook calendence_axum example" 18100 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           target/release/examples/calendence_axum ;;
      y) run_target y "direct-mode floor (hand-written, LRU dedup)" 18102 '200 {"status":"ok"}' '200 {"status":"duplicate"}' '401 *' \
           "$PEERS/dedup_floor" ;;
      d) run_target d "bare axum POST -> 200" 18094 '200 {"status":"ok"}' '200 {"status":"ok"}' '200 {"status":"ok"}' \
           "$PEERS/bare_axum" ;;
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

RATIOS=("a b inbox / floor (target >= 0.8)" "a d inbox / bare route"
  "a c group commit / one row per transaction, FULL (target >= 8)" "b d floor / bare route"
  "e f Redis inbox / Redis floor (target >= 0.8)" "e d Redis inbox / bare route" "f d Redis floor / bare route"
  "g f Redis ack path / Redis floor" "h b SQLite ack path / SQLite floor"
  "h i SQLite ack path / floor storing the same row (target >= 0.8)" "a i inbox / floor storing the same row"
  "i b floor storing the same row / minimal floor"
  "a k inbox with its worker / floor doing the same work with a worker (target >= 0.8)"
  "k i floor with a worker / the same floor without"
  "c n one row per transaction: bookhook / floor with a worker"
  "k n floor with a worker, group commit / one job per transaction"
  "b o minimal floor, group commit / one row per transaction"
  "i p floor storing the same row, group commit / one row per transaction"
  "j p one row per transaction: SQLite ack path / floor storing the same row"
  "h j SQLite ack path, group commit / one row per transaction, FULL (target >= 8)"
  "m l listen B / listen A" "l d listen / bare route (target >= 0.85)"
  "l y listen / direct-mode floor" "x y calendence_axum / direct-mode floor" "y d direct-mode floor / bare route" "x d calendence_axum / bare route (target >= 0.85)")

echo
echo "server on CPU $SERVER_CPU, wrk -t $THREADS -c $CONNECTIONS -d $DURATION --latency -s bench/requests.lua on CPU $WRK_CPU, after a warm-up of ${WARMUP}; $ROUNDS round(s); $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
for round in $(seq 1 "$ROUNDS"); do
  echo
  if [ "$ROUNDS" -gt 1 ]; then echo "Round $round:"; echo; fi
  echo "| target | requests/s | p50 (ms) | p99 (ms) | notes |"
  echo "|---|---:|---:|---:|---|"
  for key in $TARGETS; do
    echo "| $key | ${RPS[$key:$round]:-} | ${P50[$key:$round]:-} | ${P99[$key:$round]:-} | ${NOTE[$key:$round]:-} |"
  done
  echo
  echo "| ratio | value |"
  echo "|---|---:|"
  for entry in "${RATIOS[@]}"; do
    read -r x y what <<<"$entry"
    # Only the ratios of targets that ran.
    [ "$(ratio "$x" "$y" "$round")" = n/a ] && continue
    echo "| $x/$y ($what) | $(ratio "$x" "$y" "$round") |"
  done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo
  echo "Over $ROUNDS rounds:"
  echo
  echo "| | each round | median |"
  echo "|---|---|---:|"
  for key in $TARGETS; do
    for metric in RPS P50 P99; do
      declare -n values_of="$metric"
      values=()
      for round in $(seq 1 "$ROUNDS"); do values+=("${values_of[$key:$round]:-n/a}"); done
      echo "| $key $metric | ${values[*]} | $(printf '%s\n' "${values[@]}" | { grep -v n/a || true; } | median) |"
      unset -n values_of
    done
  done
  for entry in "${RATIOS[@]}"; do
    read -r x y what <<<"$entry"
    values=()
    for round in $(seq 1 "$ROUNDS"); do values+=("$(ratio "$x" "$y" "$round")"); done
    [[ " ${values[*]} " =~ [0-9] ]] || continue
    echo "| $x/$y ($what) | ${values[*]} | $(printf '%s\n' "${values[@]}" | { grep -v n/a || true; } | median) |"
  done
fi
echo
log "raw outputs in $OUT"
rm -f "$OUT/requests.bin" "$OUT/warmup.bin"
