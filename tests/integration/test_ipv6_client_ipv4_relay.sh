#!/usr/bin/env bash
# IPv6 client, IPv4 relay address explicitly requested (-X), IPv4 peer.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -n 200 -l 100 -z 5 -X -e "$XT_PEER4" "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
