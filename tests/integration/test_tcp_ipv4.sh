#!/usr/bin/env bash
# TURN over TCP (RFC 8656 §12.5): IPv4 client over TCP, IPv4 relay, IPv4 peer, over channels
# and over Send/Data indications; the relayed address stays UDP.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
start_peer
start_xturn
uclient_ok "${XT_REST_ARGS[@]}" -t -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -s -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
grep -q '"transport":"tcp"' "$XT_LOG" || fail "no allocation logged with transport tcp"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
