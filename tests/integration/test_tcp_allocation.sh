#!/usr/bin/env bash
# TCP allocations (RFC 6062). With coturn's client (-T: two TCP allocations of the relay connect
# to each other through it, so Connect, ConnectionAttempt and ConnectionBind on both sides),
# over TCP and TLS, IPv4 and IPv6, several clients at once, without loss. (coturn's -P, a peer
# connecting in, is not used: its peer cannot read what it is sent, against coturn's own server
# too; tcp_allocation.py covers peers connecting in.) Then tcp_allocation.py, byte by byte: a
# peer without permission can neither be connected to nor connect in (the permission bypass
# found in Pion), Connect and ConnectionBind errors, 1 MB and half-closed connections through an
# echo peer, peers connecting in, Refresh 0 closing everything; data connections reaching the
# other worker handed over; a peer writing to a client that does not read stopped by the kernel's
# buffers while xturn's memory stays flat; the metrics; and --max-bps on the relayed bytes.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-115}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
CHECKS="$XT_DIR/tcp_allocation.py"

# py_checks NAME MODE [ARG]: tcp_allocation.py from the client namespace; all its checks hold.
py_checks() {
    local name=$1 out="$XT_TMP/$1.out"
    shift
    log "tcp_allocation.py $*"
    ns_run "$XT_NS_CLIENT" 60 "$out" python3 "$CHECKS" "$XT_RELAY4:$XT_PORT" "$XT_SECRET" \
        "$XT_PEER4:$ECHO_PORT" "$ECHO_LOG" "$@" || XT_UCLIENT_OUT=$out fail "$name: $(grep -E '^FAIL' "$out" | head -n 5)"
    log "$name: $(tail -n 1 "$out")"
}

# metric NAME LABELS: the value of one series of the relay's /metrics.
metric() {
    ns_exec "$XT_NS_RELAY" python3 - "$1" "$2" <<'PY'
import sys, urllib.request
page = urllib.request.urlopen("http://127.0.0.1:9641/metrics", timeout=5).read().decode()
want = f"{sys.argv[1]}{{{sys.argv[2]}}} "
print(sum(float(l[len(want):]) for l in page.splitlines() if l.startswith(want)))
PY
}

topo_up
make_cert
start_echo
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY" --metrics 127.0.0.1:9641 --log-level debug \
    --workers 2
uclient_ok "${XT_REST_ARGS[@]}" -T -m 4 -n 200 -l 100 -z 5 "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -T -x -n 200 -l 100 -z 5 "$XT_RELAY6"
uclient_ok "${XT_REST_ARGS[@]}" -T -S -p "$TLS_PORT" -m 2 -n 200 -l 100 -z 5 "$XT_RELAY4"
grep -q '"relayed_transport":"tcp"' "$XT_LOG" || fail "no allocation logged with relayed transport tcp"

py_checks checks checks
py_checks handoffs handoffs 12
grep -q 'data connection handed to the worker of its connection id' "$XT_LOG" ||
    fail "12 data connections and none reached the other worker: the hand-over went untested"
py_checks backpressure backpressure "$XT_DAEMON_PID"

refused=$(metric xturn_tcp_peer_connections_refused_total 'transport="tcp",reason="no_permission"')
relayed=$(metric xturn_tcp_relayed_bytes_total 'transport="tcp",direction="to_client"')
python3 -c "import sys; sys.exit(not ($refused >= 2 and $relayed >= 2e6))" ||
    fail "metrics: refused no_permission $refused (want >= 2), relayed to clients $relayed (want >= 2 MB)"
log "metrics: $refused peer connections refused without permission, $relayed bytes to clients"
daemon_alive || fail "daemon died during the run"
stop_xturn

start_xturn --max-bps 200000
py_checks rate rate 200000
stop_xturn
pass
