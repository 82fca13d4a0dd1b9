#!/usr/bin/env bash
# The XDP fast path follows a next hop that changes under established channels, with forwarding
# on in the relay host (next hops from bpf_fib_lookup) and then off (from xturn's rtnetlink
# lookups, xdp_prepare off; run as a service would, privileges dropped to nobody, so that xturn
# cannot solicit neighbours itself). While xturn-bench relays through XDP, the router's MAC
# address on the relay's link changes and the relay host learns the new one; a second later the
# relay host forgets that neighbour altogether and resolves it again. The program's cached next
# hops are dropped at each neighbour change (rtnetlink), so only the packets sent between the
# router's change and the relay's update are lost; while a next hop is resolved the packets go
# up and userspace relays them. (Kept until the once-a-second refresh, they would lose up to a
# second of traffic: up to 20% of this run.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NEW_MAC=02:00:00:00:5e:01
ROUTER_DEV="xt${XT_ID}r1"
ROUTER4=198.18.3.1

# next_hop_changes on|off [XTURN_ARGS...]: the whole run with forwarding on or off in the relay
# host.
next_hop_changes() {
    local fwd=$1 out="$XT_TMP/bench.$1.json" err="$XT_TMP/bench.$1.err" rc=0
    local before middle after
    shift
    log "---- forwarding $fwd ----"
    topo_up
    xdp_prepare "$fwd"
    start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native "$@"
    start_bench_sink "$XT_TMP/sink.$fwd.json"

    # 6 s measured at 2000 datagrams/s, each echoed: 12000 round trips through XDP twice each.
    log "xturn-bench client for 6 s; the router's MAC changes 2 s in, the neighbour is flushed 3.5 s in"
    ip netns exec "$XT_NS_CLIENT" timeout -k 3 30 "$BENCH" client --json --secret "$XT_SECRET" \
        --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" --allocations 4 --rate 2000 \
        --duration 6 --warmup 0.5 --echo >"$out" 2>"$err" </dev/null &
    BENCH_PID=$!
    XT_PIDS+=("$BENCH_PID")
    sleep 2.5
    before=$(xdp_count c2p_44)
    ns_exec "$XT_NS_ROUTER" ip link set dev "$ROUTER_DEV" address "$NEW_MAC" ||
        fail "cannot change the router's MAC"
    ns_exec "$XT_NS_RELAY" ip neigh replace "$ROUTER4" lladdr "$NEW_MAC" dev "$XT_RELAY_DEV" \
        nud reachable || fail "cannot update the relay's neighbour entry"
    sleep 1.5
    middle=$(xdp_count c2p_44)
    ns_exec "$XT_NS_RELAY" ip neigh flush dev "$XT_RELAY_DEV" to "$ROUTER4" ||
        fail "cannot flush the relay's neighbour entry"
    wait "$BENCH_PID" || rc=$?
    xt_forget "$BENCH_PID"
    [ "$rc" -eq 0 ] || fail "xturn-bench client exited with status $rc: $(cat "$err")"
    after=$(xdp_count c2p_44)
    [ "$before" -gt 1000 ] || fail "only $before packets relayed in XDP before the change"
    [ $((middle - before)) -gt 1000 ] ||
        fail "only $((middle - before)) packets relayed in XDP after the MAC change"
    [ $((after - middle)) -gt 1000 ] ||
        fail "only $((after - middle)) packets relayed in XDP after the neighbour was flushed"
    log "c2p_44: $before before the change, $middle before the flush, $after at the end"
    if [ "$fwd" = off ]; then
        [ "$(xdp_count pass_resolving)" -gt 0 ] || fail "no next hop was resolved by userspace"
        [ "$(forwarding_all "$XT_NS_RELAY")" = 0 ] || fail "forwarding was turned on"
    fi

    python3 - "$out" <<'PY' || fail "forwarding $fwd: too much lost across the next-hop changes: $(cat "$out")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
print(f"sent {d['sent']}, received {d['received']}, loss {d['loss_pct']:.2f} %", file=sys.stderr)
assert d["setup_failures"] == 0 and d["sent"] >= 5000
assert d["loss_pct"] <= 2.0
PY
    daemon_alive || fail "daemon died during the run"
    stop_xturn
    xt_kill "$SINK_PID"
    topo_down
}

next_hop_changes on
next_hop_changes off --run-as-user nobody
grep -q '"message":"privileges dropped"' "$XT_LOG" || fail "privileges not dropped"
pass
