#!/usr/bin/env bash
# Send/Data indications (-s) instead of channels, over IPv4 and over IPv6.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -s -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -s -x -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
