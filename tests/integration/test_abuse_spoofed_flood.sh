#!/usr/bin/env bash
# Spoofed-source floods of unauthenticated requests create no state, are rate-limited per
# source, and do not keep legitimate clients from being served.
#
# tests/soak/spoof_flood.py writes raw frames from the client namespace: unauthenticated
# Allocate requests from random addresses of 198.19.0.0/16 and 2001:db8:ff00::/40 and random
# ports (the router routes both back into the client namespace, where the answers die: it
# does not forward, so nothing leaves the topology). Counted in the relay namespace's UDP
# counters, which see nothing else during the floods:
#   - random sources, 100k IPv4 + 100k IPv6 at once: at most one answer per request that
#     reached the daemon (each source is new, so each may get its 401: the limit is per source
#     IP), a 401 of at most ANSWER_MAX bytes (measured on a real one); the daemon's RSS within
#     RSS_FLAT_KB of what it was after a 20k warm-up flood (the rate limiter's fixed table and
#     the crypto contexts are touched by then) and within RSS_COLD_KB of the fresh daemon's; no
#     allocation is created and no relay socket bound by any of it;
#   - one spoofed "victim" source per family (random ports, which SO_REUSEPORT spreads over
#     the WORKERS workers), 30k requests each as fast as possible: the victim gets at most
#     burst 100 + 20/s x (T + 1 s) answers in a flood of T seconds, however many workers there
#     are (they share one table of token buckets);
#   - a legitimate client (xturn-bench, 4 allocations, channels, 1000 datagrams/s echoed by the
#     sink) during a flood of up to 150k requests (about 4 s): served, that is every allocation
#     set up and at least DURING_MIN_PCT of its datagrams echoed (what a flood beyond the
#     daemon's capacity costs everybody is the kernel's drops at the full listen socket: the
#     loss is logged, not bounded tighter); and after the floods: zero loss.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

SPOOF4=198.19.0.0/16 SPOOF6=2001:db8:ff00::/40
VICTIM4=198.19.77.77 VICTIM6=2001:db8:ff00::77
WORKERS=2
ANSWER_MAX=100       # bytes of STUN in a 401 (20 header + ERROR-CODE + REALM + NONCE + FINGERPRINT)
RSS_FLAT_KB=512
RSS_COLD_KB=4096
DURING_MIN_PCT=50

sk_need_bench
topo_up
ns_exec "$XT_NS_ROUTER" ip route add "$SPOOF4" via "$XT_CLIENT4"
ns_exec "$XT_NS_ROUTER" ip -6 route add "$SPOOF6" via "$XT_CLIENT6"
ROUTER_MAC=$(ns_exec "$XT_NS_ROUTER" cat "/sys/class/net/xt${XT_ID}c1/address")
CLIENT_DEV="xt${XT_ID}c0"
sk_start_sink "$XT_TMP/sink.json"
start_xturn --workers "$WORKERS"

# relay_udp: "in out errors" UDP datagram totals (IPv4 + IPv6) of the relay namespace.
relay_udp() {
    ns_exec "$XT_NS_RELAY" cat /proc/net/snmp /proc/net/snmp6 | awk '
        $1 == "Udp:" && $2 ~ /^[0-9]+$/ { i += $2; o += $5; e += $4 }
        $1 == "Udp6InDatagrams" { i += $2 } $1 == "Udp6OutDatagrams" { o += $2 }
        $1 == "Udp6InErrors" { e += $2 }
        END { print i + 0, o + 0, e + 0 }'
}

# flood NAME DST COUNT (--src-net NET | --src ADDR): spoof_flood.py in the client ns, in the
# background; its JSON in $XT_TMP/flood.NAME.json. Sets FLOOD_PID.
flood() {
    local name=$1 dst=$2 count=$3
    shift 3
    timeout -k 3 60 ip netns exec "$XT_NS_CLIENT" "$SK_PY" "$SK_DIR/spoof_flood.py" \
        --iface "$CLIENT_DEV" --dst-mac "$ROUTER_MAC" --dst "$dst" --count "$count" "$@" \
        >"$XT_TMP/flood.$name.json" 2>"$XT_TMP/flood.$name.err" </dev/null &
    FLOOD_PID=$!
    XT_PIDS+=("$FLOOD_PID")
}

flood_wait() { # flood_wait NAME: wait for it; it must have sent everything
    local rc=0
    wait "$FLOOD_PID" || rc=$?
    xt_forget "$FLOOD_PID"
    [ "$rc" -eq 0 ] || fail "flood $1 exited with status $rc: $(cat "$XT_TMP/flood.$1.err")"
    log "flood $1: $(cat "$XT_TMP/flood.$1.json")"
}

# legit NAME SECONDS: xturn-bench through the relay (4 allocations, channels, echoed); prints
# "sent lost".
legit() {
    local out="$XT_TMP/bench.$1.json"
    sk_bench "$out" --server "$XT_RELAY4" --peer "$XT_PEER4:$SK_SINK_PORT" --secret "$XT_SECRET" \
        --allocations 4 --rate 1000 --duration "$2" --warmup 0 --drain 1 --echo ||
        fail "legitimate client ($1): xturn-bench failed: $(head -c 500 "$out.err")"
    [ "$(sk_json "$out" 'd["setup_failures"]')" -eq 0 ] ||
        fail "legitimate client ($1): setup failures: $(cat "$out")"
    sk_json "$out" '"%d %d" % (d["sent"], d["lost"])'
}

read -r sent lost <<<"$(legit before 1)"
[ "$lost" -eq 0 ] || fail "legitimate client before the floods lost $lost of $sent"
log "legitimate client before the floods: $sent datagrams echoed, no loss"
# The size of a 401 as the daemon sends it (to a real client).
answer=$(ns_exec "$XT_NS_CLIENT" "$SK_PY" - "$XT_RELAY4" <<'EOF'
import os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 3478))
s.send(struct.pack("!HHI", 3, 8, 0x2112A442) + os.urandom(12) + struct.pack("!HHI", 0x19, 4, 17 << 24))
r = s.recv(2048)
code = r[20 + 4 + 2] * 100 + r[20 + 4 + 3] if struct.unpack("!H", r[20:22])[0] == 9 else 0
print(len(r), code)
EOF
) || fail "no answer to an unauthenticated Allocate"
read -r answer_len answer_code <<<"$answer"
if [ "$answer_code" -ne 401 ] || [ "$answer_len" -gt "$ANSWER_MAX" ]; then
    fail "unauthenticated Allocate: answer of $answer_len bytes, code $answer_code (want 401, <= $ANSWER_MAX)"
fi

RSS_COLD=$(sk_rss "$XT_DAEMON_PID")
FD0=$(sk_fds "$XT_DAEMON_PID")

# Warm-up: touches the rate limiter's table and the crypto state.
flood warm "$XT_RELAY4" 20000 --src-net "$SPOOF4"
flood_wait warm
sleep 0.5
RSS_WARM=$(sk_rss "$XT_DAEMON_PID")

# Random sources, both families at once.
read -r in0 out0 err0 <<<"$(relay_udp)"
flood rand4 "$XT_RELAY4" 100000 --src-net "$SPOOF4" --max-seconds 40
pid4=$FLOOD_PID
flood rand6 "$XT_RELAY6" 100000 --src-net "$SPOOF6" --max-seconds 40
FLOOD_PID=$pid4 flood_wait rand4
flood_wait rand6
sleep 1
read -r in1 out1 err1 <<<"$(relay_udp)"
sent_rand=$(($(sk_json "$XT_TMP/flood.rand4.json" 'd["sent"]') + $(sk_json "$XT_TMP/flood.rand6.json" 'd["sent"]')))
reached=$((in1 - in0)) answers=$((out1 - out0)) rxerr=$((err1 - err0))
RSS_FLOOD=$(sk_rss "$XT_DAEMON_PID")
log "random sources: $sent_rand requests sent, $reached reached the daemon ($rxerr dropped by the socket buffers), $answers answers of $answer_len bytes (requests: 28 bytes; $((answer_len * 100 / 28))% by bytes)"
[ "$answers" -le "$reached" ] || fail "$answers answers to $reached requests: more than one per request"
# The flood did arrive: what the daemon read plus what its full socket buffers dropped.
[ $((reached + rxerr)) -ge $((sent_rand * 9 / 10)) ] ||
    fail "only $((reached + rxerr)) of $sent_rand spoofed requests reached the relay's sockets"
log "RSS: fresh $RSS_COLD kB, after the warm-up $RSS_WARM kB, after 200k spoofed requests $RSS_FLOOD kB"
if grep -q __asan_init "$XTURN"; then
    log "AddressSanitizer daemon: RSS not bounded (its quarantine keeps freed memory)"
else
    [ "$RSS_FLOOD" -le $((RSS_WARM + RSS_FLAT_KB)) ] ||
        fail "RSS grew from $RSS_WARM kB to $RSS_FLOOD kB during the flood (> $RSS_FLAT_KB kB)"
    [ "$RSS_FLOOD" -le $((RSS_COLD + RSS_COLD_KB)) ] ||
        fail "RSS $RSS_FLOOD kB > fresh $RSS_COLD kB + $RSS_COLD_KB kB"
fi

# One victim per family: the per-source limit holds across the workers.
for fam in 4 6; do
    if [ "$fam" = 4 ]; then dst=$XT_RELAY4 victim=$VICTIM4; else dst=$XT_RELAY6 victim=$VICTIM6; fi
    read -r in0 out0 err0 <<<"$(relay_udp)"
    flood "victim$fam" "$dst" 30000 --src "$victim" --max-seconds 20
    flood_wait "victim$fam"
    sleep 1
    read -r in1 out1 err1 <<<"$(relay_udp)"
    secs=$(sk_json "$XT_TMP/flood.victim$fam.json" 'int(d["seconds"]) + 1')
    bound=$((100 + 20 * (secs + 1)))
    log "victim $victim: $((in1 - in0)) requests read by the daemon ($((err1 - err0)) dropped by full socket buffers) in about $secs s, $((out1 - out0)) answered (bound $bound)"
    [ $((out1 - out0)) -le "$bound" ] ||
        fail "victim $victim got $((out1 - out0)) answers in a ${secs} s flood (bound $bound)"
    [ $((in1 - in0 + err1 - err0)) -ge 27000 ] ||
        fail "only $((in1 - in0 + err1 - err0)) of 30000 victim requests reached the relay's sockets"
done

# A legitimate client during a flood, and after.
read -r in0 out0 err0 <<<"$(relay_udp)"
flood during "$XT_RELAY4" 150000 --src-net "$SPOOF4" --max-seconds 4
sleep 0.3
read -r sent lost <<<"$(legit during 2)"
flood_wait during
read -r in1 out1 err1 <<<"$(relay_udp)"
log "legitimate client during a flood: $lost of $sent lost (the relay's socket buffers dropped $((err1 - err0)) of the $((in1 - in0 + err1 - err0)) datagrams that reached them)"
[ $(((sent - lost) * 100)) -ge $((sent * DURING_MIN_PCT)) ] ||
    fail "legitimate client got only $((sent - lost)) of $sent datagrams through during the flood (< $DURING_MIN_PCT%)"
read -r sent lost <<<"$(legit after 2)"
[ "$lost" -eq 0 ] || fail "legitimate client after the floods lost $lost of $sent"
log "legitimate client after the floods: $sent datagrams echoed, no loss"

# No state: every allocation ever created was the legitimate client's, and is gone.
daemon_alive || fail "daemon died during the floods"
if grep '"message":"allocation created"' "$XT_LOG" | grep -v "\"client\":\"$XT_CLIENT4:" >&2; then
    fail "an allocation was created for a spoofed source"
fi
created=$(grep -c '"message":"allocation created"' "$XT_LOG" || true)
legit_runs=$(find "$XT_TMP" -maxdepth 1 -name 'bench.*.json' | wc -l)
[ "$created" -eq $((4 * legit_runs)) ] || fail "$created allocations created, want the legitimate client's $((4 * legit_runs))"
left=$(sk_relay_sockets)
[ -z "$left" ] || fail "relay sockets left: $left"
[ "$(sk_fds "$XT_DAEMON_PID")" -eq "$FD0" ] || fail "daemon fds $(sk_fds "$XT_DAEMON_PID"), were $FD0 before the floods"
stop_xturn
sk_stop_sink
stats=$(sk_stats_line)
[ "$(sk_json <(echo "$stats") 'd["allocations"]')" -eq 0 ] || fail "allocations left: $stats"
log "no allocation from a spoofed source; $created legitimate ones, all deleted"
pass
