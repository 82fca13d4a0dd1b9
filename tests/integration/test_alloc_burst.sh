#!/usr/bin/env bash
# Many allocations from one client address (a gateway reconnecting its clients, a NAT, a load
# tester): 2000 allocations from 198.18.1.2, 128 in flight, each from a source port of its own
# with its own 401 round trip, then Allocate, CreatePermission and ChannelBind (`xturn-bench
# client --burst`), under the default limit of unauthenticated answers (20/s, burst 100 per
# source IP): every one is set up, because the address proves it is real with its first
# authenticated request (src/turn/ratelimit.h); then 500 the same way from one IPv6 address.
# Asserts behaviour only: no failure, every allocation created and deleted, within a generous
# bound (the client gives up on a request after 50 tries, 10 s).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

WINDOW=128
BOUND_S=60

# burst NAME SERVER PEER COUNT: xturn-bench client --burst from the client's one address; its JSON
# must show every allocation set up and deleted, and the relay's memory read.
burst() {
    local name=$1 server=$2 peer=$3 count=$4 out="$XT_TMP/burst.$1.json" rc=0
    SK_BENCH_TIMEOUT=$BOUND_S sk_bench "$out" --server "$server" --peer "$peer" \
        --secret "$XT_SECRET" --allocations "$count" --burst "$WINDOW" \
        --relay-pid "$XT_DAEMON_PID" || rc=$?
    [ "$rc" -ne 124 ] || fail "$name: $count allocations not done within $BOUND_S s"
    [ "$rc" -eq 0 ] || fail "$name: xturn-bench exited with status $rc: $(head -c 500 "$out.err")"
    "$SK_PY" - "$out" "$name" "$count" "$XT_DAEMON_PID" <<'EOF' || fail "$name: $(cat "$out")"
import json, sys
d = json.load(open(sys.argv[1]))
name, count, pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def need(cond, what):
    if not cond:
        sys.exit(f"{name}: {what}")
need(d["mode"] == "burst" and d["allocations"] == count, "not the burst asked for")
need(d["setup_failures"] == 0 and d["setup_errors"] == {}, "setup failures")
need(d["ready"] == count, "not every allocation set up")
need(d["deleted"] == count, "not every allocation deleted")
need(d["relay_pid"] == pid and d["rss_before_kb"] > 0 and d["rss_after_kb"] > 0,
     "the relay's memory not read")
EOF
    log "$name: $(sk_json "$out" '"%d allocations from one address, %d in flight: all set up in %.1f s (%d retransmissions), all deleted" % (d["ready"], d["window"], d["setup_s"], d["retransmissions"])')"
}

sk_need_bench
topo_up
start_xturn --workers 2
burst ipv4 "$XT_RELAY4" "$XT_PEER4:$SINK_PORT" 2000
burst ipv6 "[$XT_RELAY6]" "[$XT_PEER6]:$SINK_PORT" 500

daemon_alive || fail "daemon died during the bursts"
created=$(grep -c '"message":"allocation created"' "$XT_LOG" || true)
[ "$created" -eq 2500 ] || fail "$created allocations created, want 2500"
if grep '"message":"allocation created"' "$XT_LOG" |
    grep -v -e "\"client\":\"$XT_CLIENT4:" -e "\"client\":\"\\[$XT_CLIENT6\\]:" >&2; then
    fail "an allocation from another address than the client's two"
fi
left=$(sk_relay_sockets)
[ -z "$left" ] || fail "relay sockets left after the deletions: $(head -n 3 <<<"$left")"
stop_xturn
pass
