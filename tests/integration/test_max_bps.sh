#!/usr/bin/env bash
# --max-bps: one allocation offered ~10x its byte rate gets about its rate through, the excess
# dropped and counted, both in userspace and in XDP. The assertion is on the limit's effect
# (well below what was offered, well above zero), with wide margins, not on timing.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BENCH="$XT_ROOT/build/xturn-bench"
[ -x "$BENCH" ] || fail "$BENCH missing (make)"
MAX_BPS=100000 # bytes/s per allocation, both directions together
SIZE=1000
SECONDS_RUN=3

topo_up
xdp_prepare
ip netns exec "$XT_NS_PEER" env --default-signal "$BENCH" sink --echo --json \
    --listen "$XT_PEER4:3490" >"$XT_TMP/sink.json" 2>&1 </dev/null &
XT_PIDS+=("$!")
sleep 0.5

# limited RUN_NAME: one allocation at 1000 datagrams/s of $SIZE bytes (10x the limit), echoed.
limited() {
    local out="$XT_TMP/$1.json" rx
    ns_run "$XT_NS_CLIENT" 30 "$out" "$BENCH" client --server "$XT_RELAY4:$XT_PORT" \
        --peer "$XT_PEER4:3490" --secret "$XT_SECRET" --allocations 1 --rate 1000 --size "$SIZE" \
        --duration "$SECONDS_RUN" --warmup 0 --echo --json || fail "$1: xturn-bench failed: $(tail -n 2 "$out")"
    rx=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["received"])' "$out")
    # Each echoed datagram crosses the allocation twice (2 x SIZE bytes); allow the one-second
    # burst plus 50%.
    local max=$(((MAX_BPS * (SECONDS_RUN + 1) * 3 / 2) / (2 * SIZE)))
    [ "$rx" -gt 0 ] || fail "$1: nothing came through"
    [ "$rx" -le "$max" ] || fail "$1: $rx echoes came through, the limit allows about $((MAX_BPS * SECONDS_RUN / 2 / SIZE))"
    log "$1: $rx echoes of $((1000 * SECONDS_RUN)) offered (limit ~$((MAX_BPS * SECONDS_RUN / 2 / SIZE)))"
}

start_xturn --max-bps "$MAX_BPS"
limited userspace
stop_xturn
grep '"message":"stats"' "$XT_LOG" | tail -n 1 | grep -E '"dropped_packets":[1-9]' >/dev/null ||
    fail "userspace: no dropped packets counted"

start_xturn --max-bps "$MAX_BPS" --xdp "$XT_RELAY_DEV"
limited xdp
xdp_assert_at_least drop_rate 100
xdp_assert_at_least c2p_44 1
stop_xturn
pass
