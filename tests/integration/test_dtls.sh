#!/usr/bin/env bash
# TURN over DTLS (RFC 7350) on the --tls-listen port's UDP side: IPv4 and IPv6 clients, channels
# and Send indications, a dual allocation, zero loss; the allocation lines say transport dtls.
# Unknown sources get no state: a ClientHello without cookie is answered with a
# HelloVerifyRequest and nothing else, other records and plain STUN are dropped and counted.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
XT_MPORT=9641
topo_up
start_peer
make_cert
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY" --metrics "$XT_RELAY4:$XT_MPORT"
# Unknown sources: what each datagram gets back (a HelloVerifyRequest is handshake type 3).
ns_exec "$XT_NS_CLIENT" timeout 20 python3 - "$XT_RELAY4" "$TLS_PORT" >"$XT_TMP/unknown.out" <<'PY' ||
import os, socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
def hello(cookie=b""):
    body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + bytes([len(cookie)]) + cookie +
            b"\x00\x02\xc0\x2b" + b"\x01\x00")
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + b"\x00\x00" + b"\x00\x00\x00" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\xfe\xff" + b"\x00" * 8 + struct.pack("!H", len(hs)) + hs
def ask(dg):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(dg, (host, port))
    try:
        return s.recv(4096)
    except socket.timeout:
        return b""
r = ask(hello())
print("hello", len(r) > 25 and r[0] == 22 and r[13] == 3)
print("bad_cookie", ask(hello(b"x" * 20)) [13:14] == b"\x03")
print("app_data", ask(b"\x17\xfe\xfd" + b"\x00" * 8 + b"\x00\x04abcd") == b"")
print("stun", ask(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12)) == b"")
PY
    fail "probing the DTLS port failed"
log "$(tr '\n' ' ' <"$XT_TMP/unknown.out")"
grep -qx "hello True" "$XT_TMP/unknown.out" || fail "a ClientHello got no HelloVerifyRequest"
grep -qx "bad_cookie True" "$XT_TMP/unknown.out" || fail "a wrong cookie was not asked again"
grep -qx "app_data True" "$XT_TMP/unknown.out" || fail "application data from nowhere was answered"
grep -qx "stun True" "$XT_TMP/unknown.out" || fail "plain STUN on the DTLS port was answered"
sleep 1.5
[ "$(metric xturn_client_connections 'transport="dtls"')" -eq 0 ] ||
    fail "unknown sources made DTLS connections"
[ "$(metric xturn_client_connections_refused_total 'reason="unknown_source"')" -ge 2 ] ||
    fail "dropped datagrams not counted"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 100 -l 101 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -s -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -Z -n 100 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY4"
grep -q '"transport":"dtls"' "$XT_LOG" || fail "no allocation logged with transport dtls"

# A client that dies (no close_notify) and starts over from the same address and port: its new
# handshake replaces the old association at once, after the cookie exchange (before, the old
# one took its ClientHello and it got no answer until the old one timed out).
python3 -c 'import os, struct, sys; sys.stdout.buffer.write(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12))' \
    >"$XT_TMP/binding.bin"
dtls_binding() { # dtls_binding OUT HOLD_S: a Binding request over DTLS from port 40123
    (
        cat "$XT_TMP/binding.bin"
        sleep "$2"
    ) | ns_exec "$XT_NS_CLIENT" timeout -s KILL "$(($2 + 5))" socat -T "$(($2 + 3))" - \
        "OPENSSL-DTLS-CLIENT:$XT_RELAY4:$TLS_PORT,bind=$XT_CLIENT4:40123,verify=0" >"$1" 2>/dev/null
}
is_binding_success() { [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' ')" = 0101 ]; }
dtls_binding "$XT_TMP/dtls1.out" 30 &
FIRST=$!
for _ in $(seq 50); do [ -s "$XT_TMP/dtls1.out" ] && break; sleep 0.1; done
is_binding_success "$XT_TMP/dtls1.out" || fail "the first DTLS client got no Binding success"
pkill -KILL -f "socat -T 33 - OPENSSL-DTLS-CLIENT" || true
wait "$FIRST" 2>/dev/null || true
dtls_binding "$XT_TMP/dtls2.out" 1
is_binding_success "$XT_TMP/dtls2.out" ||
    fail "a DTLS client starting over from the same port got no answer"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
