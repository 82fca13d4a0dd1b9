#!/usr/bin/env bash
# A peer flooding one allocation's relayed address cannot starve the other allocations.
#
# Allocation A (tests/soak/alloc_hold.py, client 198.18.1.50) has a permission and a channel for
# the flooding peer 198.18.2.2:4000. That peer (xturn-bench --direct, one socket, --rate 0: as
# fast as it can) floods A's relayed address for FLOOD_SECONDS. Meanwhile client B (xturn-bench,
# 4 allocations, channels, B_RATE datagrams/s, echoed by the sink on the same peer host) must
# lose at most MAX_LOSS_PCT of its datagrams. Three cases, each with a fresh daemon:
#   userspace, permitted flood  every flood datagram is relayed to A by the daemon
#   userspace, unpermitted      from 198.18.2.3 (no permission): the daemon drops it all
#   XDP, permitted              the flood is relayed to A in the kernel (p2c_44)
# Why the bound holds: the daemon reads each socket in bounded batches (4 recvmmsg of up to a
# batch each per readiness event) before it looks at the others, each relay socket has its own
# receive buffer (the flood overflows A's, not the listen socket's), and XDP work is per packet;
# B's 8000 datagrams each way travel beside the flood on a 2-core machine that also runs the
# flooder, so the 1% left is for the kernel's shared queues (veth backlog), not the relay.
# Also asserted: the flood was large (at least 20x B's rate) and reached the relay (A received
# relayed data, or the daemon counted the drops).
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

FLOOD_SECONDS=10
B_RATE=2000
B_SECONDS=4
MAX_LOSS_PCT=1
HOLDER=198.18.1.50
FLOODER_OK="$XT_PEER4:4000"
FLOODER_DENIED=198.18.2.3:4000

sk_need_bench
topo_up
xdp_prepare
ns_exec "$XT_NS_CLIENT" ip addr add "$HOLDER/24" dev "xt${XT_ID}c0"
ns_exec "$XT_NS_PEER" ip addr add "${FLOODER_DENIED%:*}/24" dev "xt${XT_ID}p0"
sk_start_sink "$XT_TMP/sink.json"

# flood_case NAME XDP(0|1) FLOOD_SOURCE
flood_case() {
    local name=$1 xdp=$2 src=$3 args=() holder_pid relayed="" i rc=0 fl_pid out="$XT_TMP/$1"
    local hsent hrecv sent lost counters
    mkdir -p "$out"
    [ "$xdp" = 1 ] && args=(--xdp "$XT_RELAY_DEV")
    start_xturn --workers 2 "${args[@]}"

    # A: holds its allocation, counts what is relayed to it.
    timeout -k 3 60 ip netns exec "$XT_NS_CLIENT" "$SK_PY" "$SK_DIR/alloc_hold.py" \
        --server "$XT_RELAY4" --secret "$XT_SECRET" --local "$HOLDER" --peer "$FLOODER_OK" \
        --channel >"$out/holder.out" 2>"$out/holder.err" </dev/null &
    holder_pid=$!
    XT_PIDS+=("$holder_pid")
    for i in $(seq 1 100); do
        relayed=$(sed -nE 's/^relayed ([0-9.]+) ([0-9]+)$/\1:\2/p' "$out/holder.out")
        [ -n "$relayed" ] && break
        kill -0 "$holder_pid" 2>/dev/null || fail "$name: alloc_hold.py exited: $(cat "$out/holder.err")"
        [ "$i" -lt 100 ] || fail "$name: no allocation for A after 10 s"
        sleep 0.1
    done

    # The flood, from the peer namespace.
    timeout -k 3 $((FLOOD_SECONDS + 20)) ip netns exec "$XT_NS_PEER" "$SK_BENCH" client --direct \
        --peer "$relayed" --local "$src" --allocations 1 --rate 0 --size 200 \
        --duration "$FLOOD_SECONDS" --warmup 0 --drain 0 --json \
        >"$out/flood.json" 2>"$out/flood.err" </dev/null &
    fl_pid=$!
    XT_PIDS+=("$fl_pid")
    sleep 1

    # B, during the flood.
    sk_bench "$out/b.json" --server "$XT_RELAY4" --peer "$XT_PEER4:$SK_SINK_PORT" --secret "$XT_SECRET" \
        --allocations 4 --rate "$B_RATE" --duration "$B_SECONDS" --warmup 0 --drain 1 --echo ||
        fail "$name: client B (xturn-bench) failed: $(head -c 500 "$out/b.json.err")"
    kill -0 "$fl_pid" 2>/dev/null || fail "$name: the flood ended before client B did"
    wait "$fl_pid" || rc=$?
    xt_forget "$fl_pid"
    [ "$rc" -eq 0 ] || fail "$name: flood (xturn-bench --direct) exited with status $rc: $(cat "$out/flood.err")"
    if [ "$xdp" = 1 ]; then
        counters=$(sk_xdp_counters | awk '$2 > 0' | tr '\n' ' ')
    fi
    kill -TERM "$holder_pid"
    wait "$holder_pid" || fail "$name: alloc_hold.py failed: $(cat "$out/holder.err")"
    xt_forget "$holder_pid"
    daemon_alive || fail "$name: daemon died under the flood"
    stop_xturn
    cp "$XT_LOG" "$out/xturn.log"

    hsent=$(sk_json "$out/flood.json" 'd["sent"]')
    hrecv=$(sk_json <(tail -n 1 "$out/holder.out") 'd["received"]')
    read -r sent lost <<<"$(sk_json "$out/b.json" '"%d %d" % (d["sent"], d["lost"])')"
    [ "$(sk_json "$out/b.json" 'd["setup_failures"]')" -eq 0 ] || fail "$name: client B setup failures: $(cat "$out/b.json")"
    log "$name: flood sent $hsent datagrams in $FLOOD_SECONDS s ($(sk_json "$out/flood.json" 'round(d["offered_pps"])')/s); A received $hrecv; daemon: $(sk_stats_line | sed -E 's/.*"to_peer_packets"/to_peer_packets/; s/[{}"]//g')${counters:+; XDP: $counters}"
    log "$name: client B lost $lost of $sent datagrams ($(sk_json "$out/b.json" 'd["loss_pct"]')%), rtt p99 $(sk_json "$out/b.json" 'd["rtt_us"]["p99"]') us"
    [ "$hsent" -ge $((20 * B_RATE * FLOOD_SECONDS)) ] ||
        fail "$name: the flood was only $hsent datagrams (want at least $((20 * B_RATE * FLOOD_SECONDS)))"
    [ $((lost * 100)) -le $((sent * MAX_LOSS_PCT)) ] ||
        fail "$name: client B lost $lost of $sent datagrams during the flood (> $MAX_LOSS_PCT%)"
    if [ "$src" = "$FLOODER_OK" ]; then
        [ "$hrecv" -gt 0 ] || fail "$name: A received none of the flood"
    else
        [ "$hrecv" -eq 0 ] || fail "$name: A received $hrecv datagrams from a peer without permission"
    fi
}

flood_case "userspace-permitted" 0 "$FLOODER_OK"
flood_case "userspace-unpermitted" 0 "$FLOODER_DENIED"
flood_case "xdp-permitted" 1 "$FLOODER_OK"
sk_stop_sink
pass
