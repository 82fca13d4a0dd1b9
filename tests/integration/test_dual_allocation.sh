#!/usr/bin/env bash
# Dual allocation (-Z: REQUESTED-ADDRESS-FAMILY + ADDITIONAL-ADDRESS-FAMILY): one
# Allocate gets an IPv4 and an IPv6 relayed address. uclient only uses one of
# them, so the test also checks that relay sockets of both families exist.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
# Baseline: whatever else the daemon binds (nothing, for xturn) before allocations.
b4=$(relay_socket_count 4) b6=$(relay_socket_count 6)

# IPv4 client and peer: an IPv6 relay socket can only come from the dual allocation.
uclient_ok "${XT_REST_ARGS[@]}" -Z -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
n4=$(relay_socket_count 4) n6=$(relay_socket_count 6)
log "relay sockets: IPv4 $b4 -> $n4, IPv6 $b6 -> $n6"
[ "$n4" -gt "$b4" ] || fail "no IPv4 relay socket after a dual allocation"
[ "$n6" -gt "$b6" ] || fail "no IPv6 relay socket after a dual allocation (ADDITIONAL-ADDRESS-FAMILY ignored?)"

# IPv6 client, IPv6 peer: the data goes over the IPv6 half.
uclient_ok "${XT_REST_ARGS[@]}" -Z -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
