#!/usr/bin/env bash
# Starts a private Redis for the tests and prints the line that points them at it:
#
#   eval "$(bash .ci/redis.sh)"
#
# Installs redis-server if it is missing, starts it daemonized on a free loopback
# port without persistence, waits until it answers PING, then prints
#   export BOOKHOOK_REDIS_URL=redis://127.0.0.1:PORT
#   export BOOKHOOK_REDIS_PID=PID
# on stdout. Everything else goes to stderr. Stop it with `kill "$BOOKHOOK_REDIS_PID"`.
set -euo pipefail

log() { echo "redis.sh: $*" >&2; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  log "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y redis-server >&2
fi

# Whether something accepts connections on 127.0.0.1:$1.
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

workdir="$(mktemp -d "${TMPDIR:-/tmp}/bookhook-redis.XXXXXX")"

for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  if listening "$port"; then
    continue
  fi
  pidfile="$workdir/redis-$port.pid"
  if ! redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize yes --pidfile "$pidfile" --dir "$workdir" \
      --logfile "$workdir/redis-$port.log" >&2; then
    continue
  fi
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" = "PONG" ] \
        && [ -s "$pidfile" ]; then
      log "redis-server answers on 127.0.0.1:$port"
      echo "export BOOKHOOK_REDIS_URL=redis://127.0.0.1:$port"
      echo "export BOOKHOOK_REDIS_PID=$(cat "$pidfile")"
      exit 0
    fi
    sleep 0.05
  done
  log "redis-server on port $port did not answer PING; trying another port"
  if [ -s "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
done

log "could not start redis-server (log: $workdir)"
exit 1
