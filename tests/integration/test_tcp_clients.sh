#!/usr/bin/env bash
# TURN over TCP, many at once: client to client (-y: both ends are TCP clients of this relay,
# relay -> relay) with channels and with Send/Data indications, then 20 clients relaying to a
# peer at the same time. Odd payload sizes make the relay pad ChannelData on the streams.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -t -y -n 100 -l 101 -z 5 "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -y -s -x -n 100 -l 99 -z 5 "$XT_RELAY6"
uclient_ok "${XT_REST_ARGS[@]}" -t -m 20 -n 50 -l 103 -z 10 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
