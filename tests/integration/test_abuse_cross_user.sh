#!/usr/bin/env bash
# Integrity cannot be borrowed: attributes after MESSAGE-INTEGRITY are ignored (a valid Refresh
# with a LIFETIME 0 after the integrity does not delete; a peer address after it gets no
# permission), and a request with a valid integrity from another user (a static user, a REST
# API user, even the REST twin "<expiry>:alice" of the static user alice) cannot touch the
# allocation: 441 for Refresh, Refresh LIFETIME 0, CreatePermission and ChannelBind, signed with
# his own key, 437 for Allocate; nothing he asked for takes effect and data keeps flowing. A
# request naming the owner but signed with another key or realm gets 401. Over IPv4 and IPv6.
# (tests/soak/cross_user.py does the TURN part.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

# The peer Bob tries to open a permission to: another IP (permissions are per IP address).
PEER2_4=198.18.2.3 PEER2_6=2001:db8:2::3 PEER2_PORT=3481
XT_AUTH_ARGS=(--auth-secret "$XT_SECRET" --user "alice:alice-pw-$RANDOM" --user "bob:bob-pw-$RANDOM")

topo_up
start_peer
ns_exec "$XT_NS_PEER" ip addr add "$PEER2_4/24" dev "xt${XT_ID}p0"
ns_exec "$XT_NS_PEER" ip -6 addr add "$PEER2_6/64" dev "xt${XT_ID}p0" nodad
ip netns exec "$XT_NS_PEER" turnutils_peer -L "$PEER2_4" -L "$PEER2_6" -p "$PEER2_PORT" \
    >"$XT_TMP/peer2.log" 2>&1 </dev/null &
XT_PIDS+=("$!")
for i in $(seq 1 50); do
    udp_listening "$XT_NS_PEER" "$PEER2_4:$PEER2_PORT" "[$PEER2_6]:$PEER2_PORT" && break
    [ "$i" -lt 50 ] || fail "second turnutils_peer not listening after 5 s"
    sleep 0.1
done
start_xturn

checks=0
for fam in 4 6; do
    if [ "$fam" = 4 ]; then
        server=$XT_RELAY4 peer="$XT_PEER4:$XT_PEER_PORT" peer2="$PEER2_4:$PEER2_PORT"
    else
        server=$XT_RELAY6 peer="[$XT_PEER6]:$XT_PEER_PORT" peer2="[$PEER2_6]:$PEER2_PORT"
    fi
    out="$XT_TMP/cross_user.$fam.out"
    XT_UCLIENT_OUT=$out # shown by fail()
    rc=0
    ns_run "$XT_NS_CLIENT" 60 "$out" "$SK_PY" "$SK_DIR/cross_user.py" --server "$server" \
        --secret "$XT_SECRET" --alice "${XT_AUTH_ARGS[3]}" --bob "${XT_AUTH_ARGS[5]}" \
        --peer "$peer" --peer2 "$peer2" || rc=$?
    grep -v '^ok' "$out" >&2 || true
    [ "$rc" -eq 0 ] || fail "cross_user.py over IPv$fam: $(grep -c '^FAIL' "$out") check(s) failed (status $rc)"
    checks=$((checks + $(grep -c '^ok' "$out")))
done

daemon_alive || fail "daemon died"
# Every allocation was Alice's and ended by her Refresh LIFETIME 0, none by anybody else.
created=$(grep -c '"message":"allocation created"' "$XT_LOG" || true)
deleted=$(grep '"message":"allocation deleted"' "$XT_LOG" | grep -c '"reason":"refresh with lifetime 0"' || true)
if [ "$created" -ne 2 ] || [ "$deleted" -ne 2 ]; then
    fail "allocations created $created, deleted by refresh $deleted (want 2 and 2)"
fi
if grep '"message":"allocation' "$XT_LOG" | grep -v '"user":"alice"' >&2; then
    fail "an allocation event for a user other than alice"
fi
stop_xturn
log "$checks checks passed over IPv4 and IPv6"
pass
