#!/usr/bin/env bash
# Clean shutdown: SIGINT (idle, allocations alive) and SIGTERM (while relaying)
# each make the daemon exit 0 within 5 s with "xturn stopped" as its last log
# line, leaving no UDP socket in the relay namespace.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

no_udp_left() {
    local left
    left=$(ns_exec "$XT_NS_RELAY" ss -Huna)
    [ -z "$left" ] || fail "UDP sockets left after SIG$1: $left"
    log "no UDP sockets left after SIG$1"
}

topo_up
start_peer

# SIGINT with allocations that outlive their client (uclient does not delete them).
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -n 20 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
[ "$(relay_socket_count 4)" -gt 0 ] || fail "no relay socket to shut down"
stop_xturn INT
no_udp_left INT

# SIGTERM in the middle of a session: uclient runs in the background.
start_xturn
timeout -k 3 40 ip netns exec "$XT_NS_CLIENT" turnutils_uclient "${XT_REST_ARGS[@]}" \
    -n 3000 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4" >"$XT_TMP/uclient.bg.out" 2>&1 </dev/null &
bg=$!
XT_PIDS+=("$bg")
XT_UCLIENT_OUT="$XT_TMP/uclient.bg.out"
for _ in $(seq 1 100); do # up to 10 s for the relaying to start
    grep -qE 'tot_recv_msgs=[1-9]' "$XT_UCLIENT_OUT" && break
    sleep 0.1
done
grep -qE 'tot_recv_msgs=[1-9]' "$XT_UCLIENT_OUT" || fail "background session did not start relaying"
stop_xturn TERM
no_udp_left TERM
xt_kill "$bg"
pass
