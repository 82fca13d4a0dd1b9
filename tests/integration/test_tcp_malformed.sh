#!/usr/bin/env bash
# Bad input on TURN-over-TCP and -TLS connections (stream_junk.py), over IPv4 and IPv6: a STUN length
# that is not a multiple of 4, garbage before or after valid messages, a missing magic cookie, a
# TLS record on the plain port (no cookie where STUN has one) each close that connection at once; an incomplete 65532-byte
# message and a silent connection are closed by --tcp-first-message-timeout. Messages cut at
# every byte, several in one write, ChannelData with and without padding are framed right. The
# closes are counted by reason in the metrics, and a normal TCP session relays without loss. On
# the TLS port: a TLS record other than a ClientHello first, and an unfinished handshake (closed
# by the same timeout), while plain TURN there works.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

XT_MPORT=9641
TLS_PORT=5349
junk_at() {
    local out="$XT_TMP/stream_junk.$2.out"
    log "stream junk -> $1"
    ns_run "$XT_NS_CLIENT" 60 "$out" python3 "$XT_DIR/stream_junk.py" "$1" "$XT_PORT" 2 "$TLS_PORT" ||
        { cat "$out" >&2; fail "stream_junk.py to $1 failed"; }
    log "$(tail -n 1 "$out")"
    daemon_alive || fail "daemon died under stream junk sent to $1"
}


topo_up
start_peer
make_cert
start_xturn --tcp-first-message-timeout 2 --metrics "$XT_RELAY4:$XT_MPORT" \
    --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY"
junk_at "$XT_RELAY4" 4
junk_at "$XT_RELAY6" 6
# Counters are published once a second.
sleep 1.5
for r in stun_length:2 not_turn:6 bad_cookie:4 first_message_timeout:6 tls_error:4; do
    n=$(metric xturn_client_connections_closed_total "reason=\"${r%%:*}\"")
    [ "$n" -eq "${r##*:}" ] || fail "closed for ${r%%:*}: $n, expected ${r##*:}"
done
uclient_ok "${XT_REST_ARGS[@]}" -t -n 100 -l 101 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
