#!/usr/bin/env bash
# IPv6 client -> [2001:db8:3::2], IPv6 relay (-x), IPv6 peer, over channels.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -n 200 -l 100 -z 5 -x -e "$XT_PEER6" "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
