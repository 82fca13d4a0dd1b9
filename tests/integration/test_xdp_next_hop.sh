#!/usr/bin/env bash
# The XDP fast path follows a next hop that changes under established channels: while
# xturn-bench relays through XDP, the router's MAC address on the relay's link changes and the
# relay host learns the new one. The program's cached next hops are dropped at the neighbour
# change (rtnetlink), so only the packets sent in between are lost. (Kept until the
# once-a-second refresh, they would lose up to a second of traffic: up to 20% of this run.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NEW_MAC=02:00:00:00:5e:01
ROUTER_DEV="xt${XT_ID}r1"
OUT="$XT_TMP/bench.json"
ERR="$XT_TMP/bench.err"

topo_up
xdp_prepare
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
start_bench_sink

# 5 s measured at 2000 datagrams/s, each echoed: 10000 round trips through XDP twice each.
log "xturn-bench client for 5 s; the router's MAC changes 2 s in"
ip netns exec "$XT_NS_CLIENT" timeout -k 3 30 "$BENCH" client --json --secret "$XT_SECRET" \
    --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" --allocations 4 --rate 2000 \
    --duration 5 --warmup 0.5 --echo >"$OUT" 2>"$ERR" </dev/null &
BENCH_PID=$!
XT_PIDS+=("$BENCH_PID")
sleep 2.5
before=$(xdp_count c2p_44)
ns_exec "$XT_NS_ROUTER" ip link set dev "$ROUTER_DEV" address "$NEW_MAC" ||
    fail "cannot change the router's MAC"
ns_exec "$XT_NS_RELAY" ip neigh replace 198.18.3.1 lladdr "$NEW_MAC" dev "$XT_RELAY_DEV" \
    nud reachable || fail "cannot update the relay's neighbour entry"
rc=0
wait "$BENCH_PID" || rc=$?
xt_forget "$BENCH_PID"
[ "$rc" -eq 0 ] || fail "xturn-bench client exited with status $rc: $(cat "$ERR")"
after=$(xdp_count c2p_44)
[ "$before" -gt 1000 ] || fail "only $before packets relayed in XDP before the change"
[ $((after - before)) -gt 1000 ] || fail "only $((after - before)) packets relayed in XDP after it"
log "c2p_44: $before before the change, $after at the end"

python3 - "$OUT" <<'PY' || fail "too much lost across the next-hop change: $(cat "$OUT")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
print(f"sent {d['sent']}, received {d['received']}, loss {d['loss_pct']:.2f} %", file=sys.stderr)
assert d["setup_failures"] == 0 and d["sent"] >= 5000
assert d["loss_pct"] <= 2.0
PY
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
