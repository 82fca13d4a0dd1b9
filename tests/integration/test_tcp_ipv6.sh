#!/usr/bin/env bash
# TURN over TCP with IPv6: an IPv6 client to an IPv6 peer, and an IPv4 client (TCP) relayed to
# an IPv6 peer (4->6), channels and Send indications. The relayed addresses stay UDP.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -t -n 200 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
uclient_ok "${XT_REST_ARGS[@]}" -t -n 200 -l 100 -z 5 -x -e "$XT_PEER6" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -s -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
