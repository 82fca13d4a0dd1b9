#!/usr/bin/env bash
# --public-ipv4/--public-ipv6 stun:HOST:PORT behind 1:1 NAT: the router maps the relay's
# addresses to .77 / ::77 toward the peer network, where a second xturn answers STUN. The relay
# asks it at start and advertises what it saw: clients get .77 / ::77 as relayed addresses, and
# relaying through the NAT loses nothing. A server that never answers stops the start (exit 2).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PUB4=198.18.3.77 PUB6=2001:db8:3::77 STUN_PORT=3479

topo_up
if ! command -v iptables >/dev/null || ! command -v ip6tables >/dev/null; then
    fail "iptables and ip6tables needed for the NAT (scripts/install-deps.sh)"
fi
nat_1to1() { # nat_1to1 IPTABLES INNER OUTER: INNER is OUTER on the peer side of the router
    ns_exec "$XT_NS_ROUTER" "$1" -t nat -A POSTROUTING -o "xt${XT_ID}p1" -s "$2" \
        -j SNAT --to-source "$3" || fail "$1: SNAT"
    ns_exec "$XT_NS_ROUTER" "$1" -t nat -A PREROUTING -d "$3" -j DNAT --to-destination "$2" ||
        fail "$1: DNAT"
}
nat_1to1 iptables "$XT_RELAY4" "$PUB4"
nat_1to1 ip6tables "$XT_RELAY6" "$PUB6"

# The STUN server: another xturn (Binding needs no credentials) in the peer network.
ip netns exec "$XT_NS_PEER" env --default-signal "$XTURN" --listen "$XT_PEER4:$STUN_PORT" \
    --listen "[$XT_PEER6]:$STUN_PORT" --auth-secret unused --no-tcp \
    >"$XT_TMP/stun-server.log" 2>&1 </dev/null &
XT_PIDS+=("$!")
for i in $(seq 1 50); do
    udp_listening "$XT_NS_PEER" "$XT_PEER4:$STUN_PORT" "[$XT_PEER6]:$STUN_PORT" && break
    [ "$i" -lt 50 ] || fail "STUN server not listening: $(cat "$XT_TMP/stun-server.log")"
    sleep 0.1
done
start_peer

# Nothing answers on this port: a clear start-up error within the bounded retry.
t0=$SECONDS rc=0
ip netns exec "$XT_NS_RELAY" "$XTURN" --listen "$XT_RELAY4:$XT_PORT" --auth-secret s \
    --public-ipv4 "stun:$XT_PEER4:3999" >"$XT_TMP/nostun.log" 2>"$XT_TMP/nostun.err" || rc=$?
[ "$rc" -eq 2 ] || fail "with a silent STUN server: exit $rc, want 2"
grep -qF "xturn: --public-ipv4: \"stun:$XT_PEER4:3999\": $XT_PEER4:3999: no answer to 3 Binding requests in 3000 ms" \
    "$XT_TMP/nostun.err" || fail "unexpected error: $(cat "$XT_TMP/nostun.err")"
[ $((SECONDS - t0)) -le 5 ] || fail "the failed discovery took $((SECONDS - t0)) s"
log "silent server: exit 2 after $((SECONDS - t0)) s: $(cat "$XT_TMP/nostun.err")"

start_xturn --public-ipv4 "stun:$XT_PEER4:$STUN_PORT" --public-ipv6 "stun:[$XT_PEER6]:$STUN_PORT"
for p in "$PUB4" "$PUB6"; do
    grep '"public address from STUN"' "$XT_LOG" | grep -qF "\"public\":\"$p\"" ||
        fail "no 'public address from STUN' log line with $p"
done
relayed=$(ns_exec "$XT_NS_CLIENT" timeout 10 python3 "$XT_DIR/turn_session.py" \
    "$XT_RELAY4:$XT_PORT" "$XT_SECRET" relayed | awk '{ print $1 }' | sort | tr '\n' ' ')
[ "$relayed" = "$PUB4 $PUB6 " ] || fail "relayed addresses '$relayed', want '$PUB4 $PUB6 '"
log "relayed addresses: $relayed"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
stop_xturn
pass
