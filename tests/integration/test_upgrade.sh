#!/usr/bin/env bash
# Live upgrade (SIGUSR2, issue 13): xturn runs from a copy of the binary in a temporary
# directory, with TLS, DTLS and metrics on; while sessions run (UDP channels 4->4, Send
# indications, a plain TCP client, a client sending Refresh, CreatePermission and ChannelBind
# all along, and a TCP client with half a message sent), that file is replaced by another copy
# and the daemon gets SIGUSR2. Every session ends without loss, every request succeeds
# (retransmissions allowed), the half message completes; the old process exits 0; the new one
# runs from the new file, counts on from the old one's counts (the core's and the daemon's, in
# the metrics) and serves new clients (UDP, TCP, TLS, DTLS). Then failed upgrades: the file is
# a script that exits 1, or runs the binary with another worker count or listen address (the
# new process refuses the state); each time the daemon logs why and serves on. Last, 1000
# allocations (xturn-bench, 6->6) relay through a second upgrade without loss.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Under reaper.py: every generation's exit status is known (live_upgrade, stop_xturn).
XT_REAP=1
SRC_BIN=$XTURN
upgrade_bin_init

TLS_PORT=5349
topo_up
start_peer
make_cert
start_xturn --workers 2 --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-cert "$XT_CERT" \
    --tls-key "$XT_KEY" --metrics "$XT_RELAY4:9641"

# ---- sessions across the switch ----
bg_uclient "$XT_TMP/chan.out" "${XT_REST_ARGS[@]}" -n 1200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
chan_pid=$BG_PID
bg_uclient "$XT_TMP/send.out" "${XT_REST_ARGS[@]}" -s -n 1200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
send_pid=$BG_PID
bg_uclient "$XT_TMP/tcp.out" "${XT_REST_ARGS[@]}" -t -n 1200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
tcp_pid=$BG_PID
ip netns exec "$XT_NS_CLIENT" timeout -k 3 40 python3 "$XT_DIR/turn_session.py" \
    "$XT_RELAY4:$XT_PORT" "$XT_SECRET" requests "$XT_PEER4:$XT_PEER_PORT" 8 \
    >"$XT_TMP/requests.out" 2>&1 </dev/null &
req_pid=$!
XT_PIDS+=("$req_pid")

# A TCP client whose Binding request is cut in two by the switch: its first half goes to the old
# process, which hands it over with the connection; the rest completes it in the new one.
cat >"$XT_TMP/half_binding.py" <<'EOF'
import os, socket, struct, sys, time
tid = os.urandom(12)
req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(req[:10])
time.sleep(float(sys.argv[3]))
s.sendall(req[10:])
resp = s.recv(2048)
ok = len(resp) >= 20 and struct.unpack("!H", resp[:2])[0] == 0x0101 and resp[8:20] == tid
print("binding ok" if ok else "binding failed: %r" % resp[:20])
sys.exit(0 if ok else 1)
EOF
ip netns exec "$XT_NS_CLIENT" timeout -k 3 20 python3 "$XT_TMP/half_binding.py" "$XT_RELAY4" \
    "$XT_PORT" 4 >"$XT_TMP/half.out" 2>&1 </dev/null &
half_pid=$!
XT_PIDS+=("$half_pid")

sleep 2
# The sessions are under way (the workers publish their counters once a second).
for _ in $(seq 1 20); do
    allocates_before=$(metric xturn_responses_total 'method="allocate"')
    accepted_before=$(metric xturn_client_connections_accepted_total)
    [ "$allocates_before" -ge 4 ] && [ "$accepted_before" -ge 2 ] && break
    sleep 0.25
done
replace_binary "$SRC_BIN"
live_upgrade
log "$(grep -o '"message":"live upgrade: state taken over".*' "$XT_LOG")"
# No Allocate since the switch yet: the new process's count is the old one's.
allocates_after=$(metric xturn_responses_total 'method="allocate"')
if [ "$allocates_before" -lt 4 ] || [ "$allocates_after" -lt "$allocates_before" ]; then
    fail "Allocate responses counted: $allocates_before before the switch, $allocates_after after"
fi
accepted_after=$(metric xturn_client_connections_accepted_total)
if [ "$accepted_before" -lt 2 ] || [ "$accepted_after" -lt "$accepted_before" ]; then
    fail "connections accepted: $accepted_before before the switch, $accepted_after after"
fi
log "Allocate responses counted: $allocates_before, then $allocates_after; connections accepted: $accepted_before, then $accepted_after"

bg_wait "$chan_pid" "the channel session"
assert_no_loss "$XT_TMP/chan.out"
bg_wait "$send_pid" "the Send indication session"
assert_no_loss "$XT_TMP/send.out"
bg_wait "$tcp_pid" "the TCP session"
assert_no_loss "$XT_TMP/tcp.out"
bg_wait "$half_pid" "the TCP client with half a message across the switch ($(cat "$XT_TMP/half.out"))"
bg_wait "$req_pid" "the request session"
grep -qE '^requests [0-9]+ failed 0 ' "$XT_TMP/requests.out" ||
    fail "requests during the switch failed: $(cat "$XT_TMP/requests.out")"
log "$(cat "$XT_TMP/requests.out")"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -t -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
# The TLS and DTLS listen sockets moved too.
uclient_ok "${XT_REST_ARGS[@]}" -t -S -p "$TLS_PORT" -n 50 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok "${XT_REST_ARGS[@]}" -S -p "$TLS_PORT" -n 50 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
log "TLS and DTLS served"

# ---- failed upgrades: the old process logs why, serves on, and can still upgrade later ----
# failed_upgrade SCRIPT REASON: the binary becomes SCRIPT; after SIGUSR2 the failure is logged
# with REASON in it and the daemon still answers (the sessions at scale below relay through it).
failed_upgrade() {
    local before
    before=$(grep -c '"message":"live upgrade failed: keeping on serving"' "$XT_LOG" || true)
    printf '#!/bin/sh\n%s\n' "$1" >"$XT_TMP/broken"
    replace_binary "$XT_TMP/broken"
    kill -USR2 "$XT_DAEMON_PID"
    for _ in $(seq 1 150); do
        [ "$(grep -c '"message":"live upgrade failed: keeping on serving"' "$XT_LOG")" -gt "$before" ] &&
            break
        sleep 0.1
    done
    grep '"message":"live upgrade failed: keeping on serving"' "$XT_LOG" | tail -n 1 |
        grep -qF "$2" || fail "the failed upgrade ($1) is not logged with \"$2\""
    daemon_alive || fail "the daemon died in a failed upgrade ($1)"
    stun_ok "$XT_RELAY4"
    log "failed upgrade ($1): logged, still serving"
}
failed_upgrade "exit 1" "exited with status 1 before it said READY"
# The new process refuses the state: another worker count, another listen address.
failed_upgrade "exec $SRC_BIN \"\$@\" --workers 3" "the old process ran 2 workers, this one would run 3"
failed_upgrade "exec $SRC_BIN \"\$@\" --listen $XT_RELAY4:3479" "is not $XT_RELAY4:3479 over UDP"

# ---- at scale: 1000 allocations relaying ChannelData through a second upgrade ----
# Over IPv6: turnutils_uclient leaves an allocation of each session behind on IPv4, which a
# source port of xturn-bench's could meet (441).
start_bench_sink
replace_binary "$SRC_BIN"
# shellcheck disable=SC2016 # expanded by the inner bash
ns_run "$XT_NS_CLIENT" 40 "$XT_TMP/bench.json" bash -c 'exec "$@" 2>"$0"' "$XT_TMP/bench.err" \
    "$BENCH" client --json --server "[$XT_RELAY6]:$XT_PORT" --peer "[$XT_PEER6]:$SINK_PORT" \
    --secret "$XT_SECRET" --allocations 1000 --rate 2000 --warmup 3 --duration 6 --drain 2 \
    --echo &
bench_pid=$!
sleep 5 # the allocations set up, traffic running
live_upgrade
wait "$bench_pid" || fail "xturn-bench failed: $(head -c 500 "$XT_TMP/bench.err")"
python3 - "$XT_TMP/bench.json" <<'EOF' || fail "loss at scale: $(cat "$XT_TMP/bench.json")"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["setup_failures"] == 0 and d["sent"] > 0 and d["lost"] == 0 else 1)
EOF
log "1000 allocations across the upgrade, no loss: $(grep -o '"paused_ms":[0-9]*' "$XT_LOG" | tail -n 1)"

stop_xturn
pass
