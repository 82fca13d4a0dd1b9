#!/usr/bin/env bash
# Live upgrade with TLS and DTLS clients and a TCP allocation (issue 13): their state cannot move
# (OpenSSL's, the RFC 6062 connections'), so the old process keeps serving exactly those,
# draining, while the new one serves everything else. While a TLS, two DTLS, a UDP session and a
# TCP allocation's data connection relay, the binary is replaced and the daemon gets SIGUSR2: the
# old process says what stayed and runs on; the new one serves new TLS, DTLS and UDP clients at
# once; every session ends without loss (the DTLS client's datagrams reach the old process
# through the new one); the old process exits 0 once its clients are gone or --drain-timeout
# has passed, and the new one serves on. An upgrade of the new process while the old one still
# serves DTLS clients through it is refused.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-90}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SRC_BIN=$XTURN
upgrade_bin_init
TLS_PORT=5349
DRAIN=30

topo_up
start_peer
start_echo
make_cert
start_xturn --workers 2 --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY" --drain-timeout "$DRAIN" \
    --metrics "$XT_RELAY4:9641"
old_pid=$XT_DAEMON_PID

# 6 s of traffic each, the switch after 2.
bg_uclient "$XT_TMP/tls.out" "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -n 1200 -l 100 -z 5 \
    -e "$XT_PEER4" "$XT_RELAY4"
tls_pid=$BG_PID
bg_uclient "$XT_TMP/dtls.out" "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 1200 -l 100 -z 5 \
    -e "$XT_PEER4" "$XT_RELAY4"
dtls_pid=$BG_PID
bg_uclient "$XT_TMP/dtls6.out" "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 1200 -l 100 -z 5 \
    -e "$XT_PEER6" "$XT_RELAY6"
dtls6_pid=$BG_PID
bg_uclient "$XT_TMP/udp.out" "${XT_REST_ARGS[@]}" -n 1200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
udp_pid=$BG_PID
ip netns exec "$XT_NS_CLIENT" timeout -k 3 40 python3 "$XT_DIR/tcp_allocation.py" \
    "$XT_RELAY4:$XT_PORT" "$XT_SECRET" "$XT_PEER4:$ECHO_PORT" "$ECHO_LOG" hold 8 \
    >"$XT_TMP/hold.out" 2>&1 </dev/null &
hold_pid=$!
XT_PIDS+=("$hold_pid")
sleep 2

replace_binary "$SRC_BIN"
log "binary replaced; SIGUSR2 to $old_pid"
kill -USR2 "$old_pid"
line=
for _ in $(seq 1 100); do
    line=$(grep -F '"message":"live upgrade: handed over' "$XT_LOG" | tail -n 1 || true)
    [ -n "$line" ] && break
    sleep 0.1
done
[ -n "$line" ] || fail "no hand-over logged 10 s after SIGUSR2: $(tail -n 3 "$XT_LOG")"
grep -qF 'serving what stayed until it ends' <<<"$line" ||
    fail "the old process did not keep its TLS and DTLS clients: $line"
stayed=$(sed -nE 's/.*"allocations_stayed":([0-9]+).*/\1/p' <<<"$line")
[ "${stayed:-0}" -ge 4 ] ||
    fail "allocations stayed: ${stayed:-none} (want the TLS, 2 DTLS and the TCP allocation)"
new_pid=$(sed -nE 's/.*"new_pid":([0-9]+).*/\1/p' <<<"$line")
kill -0 "$new_pid" 2>/dev/null || fail "the new process ($new_pid) does not run"
XT_PIDS+=("$new_pid")
kill -0 "$old_pid" 2>/dev/null || fail "the old process left at once; its clients with it"
log "handed over to $new_pid; $stayed allocations stayed with $old_pid"
# Another upgrade now would cut the old process's DTLS clients off (they reach it through the new
# one): refused.
kill -USR2 "$new_pid"
wait_log 'still serves DTLS clients through this one' \
    "an upgrade while the old process serves DTLS clients was not refused"

# The new process serves every transport at once, the old one still running.
uclient_ok "${XT_REST_ARGS[@]}" -n 50 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -n 50 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 50 -l 100 -z 5 -e "$XT_PEER6" "$XT_RELAY6"
log "new TLS, DTLS and UDP clients served by the new process beside the old one"

bg_wait "$tls_pid" "the TLS session"
assert_no_loss "$XT_TMP/tls.out"
bg_wait "$dtls_pid" "the DTLS session (IPv4)"
assert_no_loss "$XT_TMP/dtls.out"
bg_wait "$dtls6_pid" "the DTLS session (IPv6)"
assert_no_loss "$XT_TMP/dtls6.out"
bg_wait "$udp_pid" "the UDP session"
assert_no_loss "$XT_TMP/udp.out"
bg_wait "$hold_pid" "the TCP allocation (RFC 6062): $(grep -E '^FAIL' "$XT_TMP/hold.out")"
log "TCP allocation: $(grep -E '^ok' "$XT_TMP/hold.out" | tr '\n' ' ')"
log "every session across the switch without loss"
kill -0 "$old_pid" 2>/dev/null || fail "the old process did not serve on to its clients' end"

# The old process goes once what stayed has ended (the TLS connection closed) or the drain time
# has passed (turnutils_uclient leaves its DTLS allocations behind).
rc=0
wait_gone "$old_pid" $((DRAIN + 5)) || fail "the old process still runs $((DRAIN + 5)) s after the switch"
wait "$old_pid" || rc=$?
xt_forget "$old_pid"
[ "$rc" -eq 0 ] || fail "the old process exited with status $rc (want 0)"
grep -qE '"message":"(drained: no allocation left|drain timeout: stopping with allocations left)"' \
    "$XT_LOG" || fail "the old process's end is not logged"
kill -0 "$new_pid" 2>/dev/null || fail "the new process died with the old one"
wait_log 'the previous process has gone' \
    "the new process did not see the old one go (its DTLS forwarding)"
# Its DTLS clients' datagrams have nowhere to go now: a client starting over is served here.
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 50 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
stun_ok "$XT_RELAY4"

# Not TERM: with --drain-timeout that would drain.
kill -INT "$new_pid"
wait_gone "$new_pid" 5 || fail "the new process still runs 5 s after SIGINT"
xt_forget "$new_pid"
assert_json_log
grep -qE 'Sanitizer|runtime error:' "$XT_ERR" && fail "sanitizer report on daemon stderr"
pass
