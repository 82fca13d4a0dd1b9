#!/usr/bin/env bash
# The peer deny list cannot be bypassed through the daemon. A client with a dual allocation asks
# for permissions and channels to IPv4-mapped (::ffff:127.0.0.1, ::ffff:10.0.0.1), IPv4-compatible
# (::127.0.0.1), 6to4 (2002:7f00:1::1, 2002:c0a8:101::1) and Teredo forms of denied addresses,
# to 0.0.0.0 and ::, and to the relay's own listen addresses (port 3478, and port 3479 outside the
# relay range) in every encoding: each CreatePermission and each ChannelBind is answered 403, and
# the Send indications and ChannelData it sends there anyway reach nothing: listeners on
# 127.0.0.1, ::1 and the relay's addresses (port 3479) in the relay namespace, which do receive a
# control datagram sent there from the relay's own address, count nothing else. The listen port
# stays out of reach per Send indication even with a permission for the relay's IP. The relay
# host's other addresses (a second IPv4 and IPv6 address on its interface, and one added while
# xturn runs) are refused on every port, and so is a port inside the relay range that no
# allocation holds, where a service listens on the relay's addresses (issue 10, findings 1 and
# 2). The relay's own addresses at another client's relayed addresses and an allowed peer work.
# (tests/soak/deny_bypass.py does the TURN part.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

PROBE_PORT=3479
RANGE_PORT=55555 # inside the default relay range 49152-65535
HOST4=198.18.3.77 HOST6=2001:db8:3::77 LATE4=198.18.3.78
LISTENER_OUT="$XT_TMP/listener.json"

topo_up
ns_exec "$XT_NS_RELAY" ip addr add "$HOST4/24" dev "$XT_RELAY_DEV" || fail "cannot add $HOST4"
ns_exec "$XT_NS_RELAY" ip -6 addr add "$HOST6/64" dev "$XT_RELAY_DEV" nodad ||
    fail "cannot add $HOST6"
start_peer

# Listeners where a bypass would deliver: loopback and the relay's addresses, non-relay port; the
# host's other addresses; a service on the relay's addresses inside the relay range (bound before
# xturn starts, so no relay socket takes that port).
ip netns exec "$XT_NS_RELAY" env --default-signal "$SK_PY" "$SK_DIR/udp_count.py" \
    "127.0.0.1:$PROBE_PORT" "[::1]:$PROBE_PORT" "$XT_RELAY4:$PROBE_PORT" "[$XT_RELAY6]:$PROBE_PORT" \
    "$HOST4:$PROBE_PORT" "[$HOST6]:$PROBE_PORT" "$XT_RELAY4:$RANGE_PORT" "[$XT_RELAY6]:$RANGE_PORT" \
    >"$LISTENER_OUT" 2>"$XT_TMP/listener.err" </dev/null &
LISTENER_PID=$!
XT_PIDS+=("$LISTENER_PID")
for i in $(seq 1 50); do
    grep -q ready "$XT_TMP/listener.err" 2>/dev/null && break
    kill -0 "$LISTENER_PID" 2>/dev/null || fail "listener exited: $(cat "$XT_TMP/listener.err")"
    [ "$i" -lt 50 ] || fail "listener not ready after 5 s"
    sleep 0.1
done
start_xturn
# An address that comes while xturn runs (the rtnetlink watcher), with a listener of its own.
ns_exec "$XT_NS_RELAY" ip addr add "$LATE4/24" dev "$XT_RELAY_DEV" || fail "cannot add $LATE4"
ip netns exec "$XT_NS_RELAY" env --default-signal "$SK_PY" "$SK_DIR/udp_count.py" \
    "$LATE4:$PROBE_PORT" >"$XT_TMP/late.json" 2>"$XT_TMP/late.err" </dev/null &
LATE_PID=$!
XT_PIDS+=("$LATE_PID")
sleep 0.5
# Control: from the relay's own addresses (as relayed data would leave), each listener is reachable.
ns_exec "$XT_NS_RELAY" "$SK_PY" - "$XT_RELAY4" "$XT_RELAY6" "$PROBE_PORT" <<'PYEOF' ||
import socket, sys
r4, r6, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
for fam, src, dst in ((socket.AF_INET, r4, "127.0.0.1"), (socket.AF_INET6, r6, "::1"),
                      (socket.AF_INET, r4, r4), (socket.AF_INET6, r6, r6)):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(b"control", (dst, port))
    s.close()
PYEOF
    fail "cannot send the control datagrams"

out="$XT_TMP/deny_bypass.out"
XT_UCLIENT_OUT=$out # shown by fail()
rc=0
ns_run "$XT_NS_CLIENT" 60 "$out" "$SK_PY" "$SK_DIR/deny_bypass.py" --relay4 "$XT_RELAY4" \
    --relay6 "$XT_RELAY6" --secret "$XT_SECRET" --probe-port "$PROBE_PORT" \
    --peer4 "$XT_PEER4:$XT_PEER_PORT" --host-addr "$HOST4" --host-addr "$HOST6" \
    --host-addr "$LATE4" --range-port "$RANGE_PORT" || rc=$?
grep -v '^ok' "$out" >&2 || true
[ "$rc" -eq 0 ] || fail "deny_bypass.py: $(grep -c '^FAIL' "$out") check(s) failed (status $rc)"
checks=$(grep -c '^ok' "$out")
denied403=$(sed -nE 's/^403 answers: ([0-9]+)$/\1/p' "$out")

sleep 0.5 # anything relayed is long there by now
kill -TERM "$LISTENER_PID"
wait "$LISTENER_PID" || fail "listener exited with an error: $(cat "$XT_TMP/listener.err")"
xt_forget "$LISTENER_PID"
log "listeners: $(cat "$LISTENER_OUT")"
total=$(sk_json "$LISTENER_OUT" 'd["total"]')
[ "$total" -eq 4 ] || fail "listeners on loopback, the host's addresses and a relay-range port received $total datagrams, want the 4 control ones: $(cat "$LISTENER_OUT")"
kill -TERM "$LATE_PID"
wait "$LATE_PID" || fail "listener on $LATE4 exited with an error: $(cat "$XT_TMP/late.err")"
xt_forget "$LATE_PID"
late=$(sk_json "$XT_TMP/late.json" 'd["total"]')
[ "$late" -eq 0 ] || fail "the listener on $LATE4, added while xturn ran, received $late datagrams"

daemon_alive || fail "daemon died"
logged=$(grep -c '"message":"peer address denied"' "$XT_LOG" || true)
[ "$logged" -ge "$denied403" ] || fail "$denied403 answers 403 but $logged 'peer address denied' log lines"
stop_xturn
log "$checks checks passed; $denied403 requests refused with 403 ($logged logged); nothing reached the listeners"
pass
