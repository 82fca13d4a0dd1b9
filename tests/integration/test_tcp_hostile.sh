#!/usr/bin/env bash
# Hostile stream connections cannot take memory or descriptors from others: 3000 connections
# held open (idle, slowloris, incomplete 65532-byte messages, garbage, half TLS handshakes;
# stream_flood.py reopens what the relay closes) while a TCP client and a TLS client relay with
# zero loss. The relay's RSS grows by less than 64 MB and its file descriptors come back to
# where they were. Then the limits: --max-tcp-per-ip and --max-tcp-connections refuse (close at
# once) and count what is beyond them.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
XT_MPORT=9641
FLOOD=3000

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$XT_DAEMON_PID/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$XT_DAEMON_PID/status"; }
fds() { find "/proc/$XT_DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

ulimit -n "$(ulimit -Hn)"
topo_up
start_peer
make_cert
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-cert "$XT_CERT" --tls-key "$XT_KEY" \
    --max-tcp-per-ip 10000 --metrics "$XT_RELAY4:$XT_MPORT"
# A first TCP and TLS session: what a relay in use holds is the baseline, not start-up.
uclient_ok "${XT_REST_ARGS[@]}" -t -n 20 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -n 20 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
sleep 1
rss0=$(rss_kb) fds0=$(fds)
log "baseline: RSS ${rss0} kB, ${fds0} descriptors"

status="$XT_TMP/flood.status"
ns_exec "$XT_NS_CLIENT" bash -c "ulimit -n \$(ulimit -Hn); exec timeout 90 python3 '$XT_DIR/stream_flood.py' \
    '$XT_RELAY4' '$XT_PORT' '$TLS_PORT' '$FLOOD' 25 '$status'" >"$XT_TMP/flood.out" 2>&1 &
flood=$!
XT_PIDS+=("$flood")
for _ in $(seq 1 100); do
    [ -s "$status" ] && [ "$(awk '{ print $2 }' "$status")" -ge "$FLOOD" ] && break
    sleep 0.2
done
# The relay's counters are published once a second, behind its accept queue: wait for them.
for _ in $(seq 1 40); do
    open=$(metric xturn_client_connections)
    [ "$open" -ge $((FLOOD * 9 / 10)) ] && break
    sleep 0.25
done
log "flood: $(cat "$status"); the relay holds $open connections"
[ "$open" -ge $((FLOOD * 9 / 10)) ] || fail "only $open hostile connections open at the relay"

uclient_ok "${XT_REST_ARGS[@]}" -t -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died under the flood"
log "under the flood: $(cat "$status"); RSS $(rss_kb) kB, peak $(hwm_kb) kB, $(fds) descriptors"
# The flood ends by itself (25 s), closing what it holds.
wait "$flood" || fail "the flood failed: $(tail -n 3 "$XT_TMP/flood.out")"
xt_forget "$flood"
log "flood over: $(tail -n 1 "$XT_TMP/flood.out")"
log "closed by the relay, by reason: $(for r in first_message_timeout not_turn tls_error buffer_budget; do
    printf '%s=%s ' "$r" "$(metric xturn_client_connections_closed_total "reason=\"$r\"")"; done)"
grow=$(($(hwm_kb) - rss0))
log "RSS: baseline ${rss0} kB, peak $(hwm_kb) kB (+$((grow / 1024)) MB)"
[ "$grow" -lt $((64 * 1024)) ] || fail "RSS grew by $((grow / 1024)) MB under the flood (limit 64)"
for _ in $(seq 1 50); do
    [ "$(fds)" -le "$fds0" ] && break
    sleep 0.2
done
[ "$(fds)" -le "$fds0" ] || fail "descriptors: $(fds) after the flood, $fds0 before"
log "descriptors back to $(fds)"
stop_xturn

# The limits, counted: 5 per IP, 8 in all.
start_xturn --max-tcp-per-ip 5 --max-tcp-connections 8 --metrics "$XT_RELAY4:$XT_MPORT"
hold() { # NS N: open N connections from NS, hold them 3 s; print how many the relay closed at once
    ns_exec "$1" timeout 20 python3 - "$XT_RELAY4" "$XT_PORT" "$2" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
time.sleep(1)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(closed)
time.sleep(2)
PY
}
hold "$XT_NS_CLIENT" 10 >"$XT_TMP/hold.client" &
sleep 0.5
# A second source (the peer's namespace) while the client holds 5: 3 fit under 8 in all.
[ "$(hold "$XT_NS_PEER" 5)" -eq 2 ] || fail "--max-tcp-connections 8 did not refuse 2 of 5"
wait $! || true
[ "$(cat "$XT_TMP/hold.client")" -eq 5 ] || fail "--max-tcp-per-ip 5 did not refuse 5 of 10"
sleep 1.5
[ "$(metric xturn_client_connections_refused_total 'reason="max_per_ip"')" -eq 5 ] ||
    fail "refusals per IP not counted"
[ "$(metric xturn_client_connections_refused_total 'reason="max_connections"')" -eq 2 ] ||
    fail "refusals in total not counted"
grep -q 'stream connection refused' "$XT_LOG" || fail "refusals not logged"
stop_xturn
pass
