# Shared by bench/load.sh and bench/ab.sh (sourced, not run): 127.0.0.1 only.
# Uses the caller's THREADS and CONNECTIONS, and WRK_CPU when set (wrk then
# runs on that CPU only, with taskset).

# Whether something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sends the precomputed requests of file $1 to the eAgenda path on port $3 for
# $2 (a wrk duration), each at most once; wrk's report goes to standard output.
# Further arguments go to wrk (such as --latency).
send_requests() {
  local file=$1 duration=$2 port=$3
  shift 3
  local pin=()
  if [ -n "${WRK_CPU:-}" ]; then pin=(taskset -c "$WRK_CPU"); fi
  BOOKHOOK_REQUESTS="$file" BOOKHOOK_WRK_THREADS="$THREADS" \
    timeout 120 "${pin[@]}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$duration" "$@" \
    -s bench/requests.lua "http://127.0.0.1:$port/webhook/eagenda"
}

# The median of the numbers on standard input, to two decimals (n/a when
# there are none).
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { printf "n/a"; exit }
    if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
