#!/usr/bin/env bash
# Client to client (-y): two uclient sessions allocate on the same relay and send
# to each other's relayed address (relay -> relay), with channels and with
# Send/Data indications. No external peer.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -y -n 100 -l 100 -z 5 "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -y -s -x -n 100 -l 100 -z 5 "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
