#!/usr/bin/env bash
# TURN over TLS (RFC 7065 turns:, --tls-listen with a self-signed certificate): IPv4 and IPv6
# clients with dual allocations (an IPv4 and an IPv6 relayed address each), channels and Send
# indications; plain TCP on the same TLS port (the first byte tells them apart); the allocation
# lines say transport tls.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
topo_up
start_peer
make_cert
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -Z -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -Z -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -s -n 100 -l 101 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
grep -q '"transport":"tls"' "$XT_LOG" || fail "no allocation logged with transport tls"
# Plain TCP on the TLS port.
uclient_ok "${XT_REST_ARGS[@]}" -t -p "$TLS_PORT" -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
