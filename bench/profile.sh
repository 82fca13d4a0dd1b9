#!/usr/bin/env bash
# A perf profile of xturn under load (`make profile`; README, "Profiling"): the benchmark's
# namespace topology (bench/topology.sh), xturn in userspace or with --xdp, `xturn-bench sink
# --echo` on the peer and `xturn-bench client` sending ChannelData at RATE datagrams/s; perf
# records call graphs (frame pointers: the default build keeps them) of the xturn process, or
# of the whole machine with --xdp (the program runs in softirq, in whatever task is current),
# then prints the hottest symbols; in userspace mode it then counts xturn's system calls for 2 s
# (`perf stat` on the syscall tracepoints). A measurement aid, not a test.
#
# Usage: bench/profile.sh [userspace|xdp] [RATE] [SECONDS] [SIZE] [udp|tcp|tls]
#        (defaults: userspace 40000 5 100 udp: the clients' transport). Writes
#        build/profile/MODE.data and MODE.txt; also prints the relay process's CPU time per
#        relayed packet over the recorded seconds (as `make bench` counts "relay CPU").
set -euo pipefail

MODE=${1:-userspace}
RATE=${2:-40000}
SECS=${3:-5}
SIZE=${4:-100}
TRANSPORT=${5:-udp}
NAME=$MODE
[ "$TRANSPORT" = udp ] || NAME=$MODE-$TRANSPORT
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/profile
SECRET=profile-secret

case "$MODE/$TRANSPORT" in userspace/udp | userspace/tcp | userspace/tls | xdp/udp) ;; *)
    echo "usage: $0 [userspace|xdp] [RATE] [SECONDS] [SIZE] [udp|tcp|tls] (xdp: udp)" >&2
    exit 2
    ;;
esac
# shellcheck source-path=SCRIPTDIR source=session.sh
. "$ROOT/bench/session.sh"
session_check
command -v perf >/dev/null || session_die "perf missing (apt-get install linux-perf)"
mkdir -p "$OUT"
rm -f "$OUT/$NAME.syscalls.txt"

session_up "$PASS_OBJ" || {
    echo "$0: cannot build the topology" >&2
    exit 1
}

args=(--listen "$BT_RELAY4:$PORT" --realm xturn --auth-secret "$SECRET" --log-level warn
    --workers "$(nproc)")
server=$BT_RELAY4:$PORT
if [ "$TRANSPORT" = tls ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=xturn-profile -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
    args+=(--tls-listen "$BT_RELAY4:5349" --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem")
    server=$BT_RELAY4:5349
fi
[ "$MODE" = xdp ] && args+=(--xdp "$BT_RELAY_DEV" --xdp-mode native)
ip netns exec "$BT_NS_RELAY" "$XTURN" "${args[@]}" >"$OUT/$NAME.xturn.log" 2>&1 &
XPID=$!
PIDS+=("$XPID")
session_sink
sleep 1
kill -0 "$XPID" || {
    cat "$OUT/$NAME.xturn.log" >&2
    exit 1
}

bt_exec "$BT_NS_CLIENT" "$BENCH" client --server "$server" --transport "$TRANSPORT" --secret "$SECRET" \
    --realm xturn --peer "$BT_PEER4:$SINK_PORT" --allocations 8 --rate "$RATE" --size "$SIZE" \
    --duration $((SECS + 5)) --warmup 1 --echo --json >"$OUT/$NAME.bench.json" &
CPID=$!
PIDS+=("$CPID")
sleep 1.5
NS0=$(run_ns "$XPID")
if [ "$MODE" = xdp ]; then
    perf record -q -e cpu-clock -g -F 4999 -a -o "$OUT/$NAME.data" -- sleep "$SECS" 2>/dev/null
else
    perf record -q -e cpu-clock -g -F 4999 -p "$XPID" -o "$OUT/$NAME.data" -- sleep "$SECS" 2>/dev/null
fi
NS1=$(run_ns "$XPID")
if [ "$MODE" = userspace ]; then
    # 2 s of the rate, every datagram relayed twice (to the peer, and its echo back)
    perf stat -x, -e syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg \
        -e syscalls:sys_enter_epoll_wait,syscalls:sys_enter_read,syscalls:sys_enter_write \
        -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto -p "$XPID" -o "$OUT/$NAME.syscalls.txt" -- sleep 2 ||
        true
    echo "system calls in 2 s at $RATE datagrams/s ($((RATE * 4)) relayed)" \
        >>"$OUT/$NAME.syscalls.txt"
fi
wait "$CPID"
perf report -i "$OUT/$NAME.data" --no-children --sort sym --stdio -g none 2>/dev/null |
    grep -v -e "^#" -e "^$" -e safe_halt | head -40 >"$OUT/$NAME.txt" || true
echo "== $MODE, $TRANSPORT clients, $RATE datagrams/s of $SIZE bytes, $SECS s: $(cat "$OUT/$NAME.bench.json")"
echo "relay CPU: $(((NS1 - NS0) / 1000000)) ms in $SECS s, $(((NS1 - NS0) / (SECS * RATE * 2))) ns per relayed packet at the offered rate"
cat "$OUT/$NAME.txt"
[ ! -f "$OUT/$NAME.syscalls.txt" ] || cat "$OUT/$NAME.syscalls.txt"
