#!/usr/bin/env bash
# TLS certificate reload on SIGHUP without dropping a connection: a connection made before the
# reload keeps working; new connections get the new certificate; a bad file on reload keeps the
# certificate in use and logs why. ALPN: "stun.turn" (RFC 7443) is selected when offered, and
# clients offering none or another protocol are served too.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
tls() { ns_exec "$XT_NS_CLIENT" timeout 10 python3 "$XT_DIR/tls_check.py" "$XT_RELAY4" "$TLS_PORT" "$@"; }

topo_up
make_cert first
cp "$XT_CERT" "$XT_TMP/live.pem"
cp "$XT_KEY" "$XT_TMP/live.key"
first=$XT_CERT
make_cert second
second=$XT_CERT second_key=$XT_KEY
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-cert "$XT_TMP/live.pem" \
    --tls-key "$XT_TMP/live.key"

[ "$(tls alpn stun.turn)" = "stun.turn" ] || fail "ALPN stun.turn not selected"
[ "$(tls alpn -)" = "none" ] || fail "a client without ALPN was not served"
[ "$(tls alpn h2)" = "none" ] || fail "a client offering only h2 was not served"

# A connection held across the reloads.
mkfifo "$XT_TMP/in" "$XT_TMP/out"
ns_exec "$XT_NS_CLIENT" timeout 60 python3 "$XT_DIR/tls_check.py" "$XT_RELAY4" "$TLS_PORT" \
    hold "$XT_TMP/in" "$XT_TMP/out" &
XT_PIDS+=($!)
exec 7>"$XT_TMP/in" 8<"$XT_TMP/out"
ask() { echo binding >&7 && read -r -t 10 answer <&8 && [ "$answer" = ok ]; }
ask || fail "held connection: no Binding response before the reload"
[ "$(tls cert)" = "$(cat "$first")" ] || fail "not the first certificate at start"

cp "$second" "$XT_TMP/live.pem"
cp "$second_key" "$XT_TMP/live.key"
kill -HUP "$XT_DAEMON_PID"
for _ in $(seq 1 50); do
    grep -q 'reloaded: TLS certificate and key' "$XT_LOG" && break
    sleep 0.1
done
grep -q 'reloaded: TLS certificate and key' "$XT_LOG" || fail "no reload logged"
[ "$(tls cert)" = "$(cat "$second")" ] || fail "new connections do not get the second certificate"
ask || fail "held connection dropped by the reload"

echo "not a certificate" >"$XT_TMP/live.pem"
kill -HUP "$XT_DAEMON_PID"
for _ in $(seq 1 50); do
    grep -q 'TLS reload failed' "$XT_LOG" && break
    sleep 0.1
done
grep -q 'TLS reload failed' "$XT_LOG" || fail "a bad certificate file was not reported"
[ "$(tls cert)" = "$(cat "$second")" ] || fail "a bad file replaced the certificate in use"
ask || fail "held connection dropped by the failed reload"
echo quit >&7
exec 7>&- 8<&-
daemon_alive || fail "daemon died"
stop_xturn
pass
