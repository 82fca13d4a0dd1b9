#!/usr/bin/env bash
# Ten concurrent clients (-m 10), each with its own allocations (RTP + RTCP),
# channels to the same peer.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -m 10 -n 50 -l 100 -z 10 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
