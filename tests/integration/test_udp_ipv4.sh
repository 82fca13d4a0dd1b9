#!/usr/bin/env bash
# IPv4 client -> IPv4 relay -> IPv4 peer over channels (uclient's default mode).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
