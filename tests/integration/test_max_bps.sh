#!/usr/bin/env bash
# --max-bps: one allocation offered ~10x its byte rate gets about its rate through, the excess
# dropped and counted, both in userspace and in XDP. The assertion is on the limit's effect
# (well below what was offered, well above zero), with wide margins, not on timing.
# Then: the limit is one per allocation, whichever path carries the bytes (issue 10, finding
# 12). A dual allocation pushing data through XDP on both its relayed addresses and through
# userspace at once gets about the limit through in total, not the limit once per path.
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

# ---- one limit per allocation, over all its paths (issue 10, finding 12) ----
# One dual allocation (IPv4 client) uses three paths at once, in equal parts: ChannelData to
# an IPv4 peer (XDP through the IPv4 relayed address: c2p_44 / p2c_44), ChannelData to an IPv6
# peer (XDP through the IPv6 relayed address: c2p_46 / p2c_64), and Send indications to another
# port of the IPv4 peer, without a channel (userspace both ways: the echoes come back as Data
# indications). Offered: 10x the limit in total, for DUAL_SECONDS.
#
# Bytes through are counted where they arrive: the payload bytes each echo server received
# (client to peer) plus those the client got back (peer to client). Not as 2 x the echoes: once
# a bucket is empty, the outgoing datagrams take what refills and most echoes are dropped on
# the way back, so the echoes alone show only a part of what the allocation was let through.
#
# Bound: DUAL_BPS x (DUAL_SECONDS + 1) x 1.5, the one-second burst plus 50%, as above. A bucket
# per relayed address plus one in userspace let about 3 x DUAL_BPS x (DUAL_SECONDS + 1) through,
# 2x the bound; one limit per allocation about DUAL_BPS x (DUAL_SECONDS + 1), 2/3 of it.
DUAL_BPS=50000
DUAL_SIZE=1000
DUAL_SECONDS=3
DUAL_PORT=3491
DUAL_SINKS=()
# sink_dual NAME ADDR:PORT: an echo server on one peer address (so its report is one path's).
sink_dual() {
    ip netns exec "$XT_NS_PEER" env --default-signal "$BENCH" sink --echo --json --listen "$2" \
        >"$XT_TMP/dual_$1.json" 2>"$XT_TMP/dual_$1.err" </dev/null &
    DUAL_SINKS+=("$!")
    XT_PIDS+=("$!")
}
sink_dual chan4 "$XT_PEER4:$DUAL_PORT"
sink_dual chan6 "[$XT_PEER6]:$DUAL_PORT"
sink_dual send "$XT_PEER4:$((DUAL_PORT + 1))"
for i in $(seq 1 50); do
    udp_listening "$XT_NS_PEER" "$XT_PEER4:$DUAL_PORT" "[$XT_PEER6]:$DUAL_PORT" \
        "$XT_PEER4:$((DUAL_PORT + 1))" && break
    [ "$i" -lt 50 ] || fail "dual: echo servers not listening after 5 s"
    sleep 0.1
done

start_xturn --max-bps "$DUAL_BPS" --xdp "$XT_RELAY_DEV" --xdp-mode native
out="$XT_TMP/dual.json"
ns_run "$XT_NS_CLIENT" 30 "$out" python3 "$XT_ROOT/tests/soak/bps_dual.py" \
    --server "$XT_RELAY4" --port "$XT_PORT" --secret "$XT_SECRET" \
    --peer4 "$XT_PEER4:$DUAL_PORT" --peer6 "[$XT_PEER6]:$DUAL_PORT" \
    --peer-send "$XT_PEER4:$((DUAL_PORT + 1))" --rate $((DUAL_BPS * 10)) --size "$DUAL_SIZE" \
    --seconds "$DUAL_SECONDS" || fail "dual: bps_dual.py failed: $(tail -n 3 "$out")"
for pid in "${DUAL_SINKS[@]}"; do
    xt_kill "$pid" # a sink prints its report on SIGTERM
done
# XDP carried the channels, both ways, through both relayed addresses.
xdp_assert_at_least c2p_44 1
xdp_assert_at_least p2c_44 1
xdp_assert_at_least c2p_46 1
xdp_assert_at_least p2c_64 1
xdp_drops=$(xdp_count drop_rate)
xdp_drops=${xdp_drops:-0} # a counter never hit may be absent
stop_xturn
us_drops=$(grep '"message":"stats"' "$XT_LOG" | tail -n 1 |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["dropped_packets"])')
log "dual: dropped: $xdp_drops in XDP (drop_rate), $us_drops in userspace (dropped_packets)"
# Where the drops are counted depends on where the limit is enforced; somewhere they must be.
[ $((xdp_drops + us_drops)) -gt 0 ] || fail "dual: no drops counted, at 10x the limit"

python3 - "$out" "$XT_TMP" "$DUAL_BPS" "$DUAL_SECONDS" <<'PY' || fail "dual: see the lines above"
import json, sys
out, tmp, bps, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
last = lambda f: json.loads(open(f).read().strip().splitlines()[-1])
client = last(out)
bound = bps * (secs + 1) * 3 // 2
total, ok = 0, True
for p in ("chan4", "chan6", "send"):
    c, peer = client["paths"][p], last(f"{tmp}/dual_{p}.json")
    # The sink's bytes include the probes (a few bytes per path, sent before the flood).
    to_peer = peer["bytes"] - c["probe_sent_bytes"]
    through = peer["bytes"] + c["probe_echoed_bytes"] + c["echoed_bytes"]
    total += through
    print(f"[dual] {p}: offered {c['sent_bytes']} B, to the peer {to_peer} B, back to the client "
          f"{c['echoed_bytes']} B (+ probes): {through} B through", file=sys.stderr)
    # Each path carried some of the flood both ways: one limit for the allocation must not
    # starve a path. Only "> 0" is asserted, the shares printed: how the one budget splits
    # between XDP and userspace depends on how it is shared (the order packets reach it,
    # batching), which this test should not pin down.
    if to_peer <= 0 or c["echoed_bytes"] <= 0:
        print(f"FAIL: path {p} carried none of the flood one way", file=sys.stderr)
        ok = False
print(f"[dual] total {total} B through in {secs} s; bound {bound} B ({bps} B/s x ({secs} + 1) s "
      f"x 1.5): {total / bound:.2f} x the bound", file=sys.stderr)
if total > bound:
    print(f"FAIL: {total} B through, over the bound of {bound} B: a limit per path, not one per "
          "allocation (issue 10, finding 12)", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY
pass
