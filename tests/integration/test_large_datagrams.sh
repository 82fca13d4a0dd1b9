#!/usr/bin/env bash
# Datagrams far beyond a page are relayed whole in userspace, as XDP relays up to the MTU: a
# client sends 9 000- and 60 000-byte payloads in ChannelData and in Send indications to a peer,
# which echoes them, back as ChannelData and Data indications; over IPv4 and over IPv6 (IP
# fragments them over the veths). tests/integration/large_datagrams.py does both ends.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

CHANNEL_PORT=3480 INDICATION_PORT=3481
SIZES=(9000 60000)

topo_up
for port in "$CHANNEL_PORT" "$INDICATION_PORT"; do
    ip netns exec "$XT_NS_PEER" python3 "$XT_DIR/large_datagrams.py" echo "$port" "$XT_PEER4" \
        "$XT_PEER6" >"$XT_TMP/echo.$port.log" 2>&1 </dev/null &
    XT_PIDS+=("$!")
done
for i in $(seq 1 50); do
    [ "$(cat "$XT_TMP"/echo.*.log | grep -c '^ready')" -eq 2 ] && break
    [ "$i" -lt 50 ] || fail "echo servers not ready after 5 s: $(cat "$XT_TMP"/echo.*.log)"
    sleep 0.1
done
start_xturn

for fam in 4 6; do
    if [ "$fam" = 4 ]; then
        server="$XT_RELAY4:$XT_PORT" peer=$XT_PEER4
    else
        server="[$XT_RELAY6]:$XT_PORT" peer="[$XT_PEER6]"
    fi
    out="$XT_TMP/client.$fam.out"
    XT_UCLIENT_OUT=$out # shown by fail()
    rc=0
    ns_run "$XT_NS_CLIENT" 60 "$out" python3 "$XT_DIR/large_datagrams.py" client "$server" \
        "$XT_SECRET" "$peer:$CHANNEL_PORT" "$peer:$INDICATION_PORT" "${SIZES[@]}" || rc=$?
    cat "$out" >&2
    [ "$rc" -eq 0 ] || fail "large datagrams over IPv$fam: $(grep -c '^FAIL' "$out") check(s) failed (status $rc)"
done

daemon_alive || fail "daemon died"
stop_xturn
stats=$(grep '"message":"stats"' "$XT_LOG" | tail -n 1)
python3 - "$stats" <<'EOF' || fail "daemon stats: $stats"
import json, sys
s = json.loads(sys.argv[1])
# Two sizes, two ways, two families: every datagram relayed once each way, none oversized.
assert s["oversized_datagrams"] == 0, "oversized datagrams"
assert s["to_peer_packets"] >= 8 and s["to_client_packets"] >= 8, "relayed too few"
EOF
pass
