#!/usr/bin/env bash
# IPv4 client, IPv6 relay address (-x, REQUESTED-ADDRESS-FAMILY), IPv6 peer.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -n 200 -l 100 -z 5 -x -e "$XT_PEER6" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
