#!/usr/bin/env bash
# xturn-bench smoke test: the load generator against build/xturn at a low rate, echoed by
# `xturn-bench sink` in the peer namespace. Channel mode (IPv4), Send indications, an IPv6
# relayed address for an IPv4 client (to the IPv6 peer), an IPv6 client, and the --direct
# baseline (no relay); then clients on TCP and on TLS (--transport) against coturn. A brief
# allocation burst (--burst) against both. Asserts behaviour only: every allocation set up, every
# datagram echoed (zero loss at this rate), the JSON parses; errors exit 2 with one line; never
# a timing.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TOTAL_SENT=0

# bench NAME ARGS...: `xturn-bench client ARGS --json` in the client ns (stdout and stderr
# apart); then checks its JSON: setup_failures 0, sent > 0, received == sent, lost 0.
bench() {
    local name=$1 out err rc=0 sent
    shift
    out="$XT_TMP/bench.$name.json"
    err="$XT_TMP/bench.$name.err"
    log "xturn-bench client $*"
    XT_UCLIENT_OUT=$err # shown by fail()
    # shellcheck disable=SC2016 # $0 and $@ are the inner shell's: stderr to its own file
    ns_run "$XT_NS_CLIENT" 20 "$out" bash -c 'exec "$@" 2>"$0"' "$err" "$BENCH" client --json "$@" ||
        rc=$?
    [ "$rc" -eq 0 ] || fail "$name: xturn-bench client exited with status $rc: $(cat "$err")"
    [ ! -s "$err" ] || fail "$name: xturn-bench client wrote to stderr: $(head -c 500 "$err")"
    sent=$(python3 - "$out" "$name" 2>&1 <<'EOF'
import json, sys
path, name = sys.argv[1], sys.argv[2]
text = open(path).read()
lines = [l for l in text.splitlines() if l.strip()]
if len(lines) != 1:
    sys.exit(f"{name}: expected one JSON line on stdout, got {len(lines)}: {text[:300]!r}")
d = json.loads(lines[0])
def need(cond, what):
    if not cond:
        sys.exit(f"{name}: {what}: {lines[0]}")
need(isinstance(d, dict), "not a JSON object")
for k in ("mode", "allocations", "setup_failures", "size", "duration_s", "offered_pps", "sent",
          "received", "lost", "loss_pct", "reordered", "delivered_pps", "rtt_us"):
    need(k in d, f"no '{k}'")
need(d["setup_failures"] == 0, "setup failures")
need(d["sent"] > 0, "nothing sent")
need(d["received"] == d["sent"], "received != sent")
need(d["lost"] == 0 and d["loss_pct"] == 0, "loss")
need(d["invalid"] == 0, "invalid datagrams received")
rtt = d["rtt_us"]
need(isinstance(rtt, dict), "no rtt_us object")
need(0 < rtt["p50"] <= rtt["p99"] <= rtt["p999"] <= rtt["max"], "rtt percentiles out of order")
if d["mode"] != "direct":
    need(d["deleted"] == d["allocations"], "not every allocation deleted at the end")
print(d["sent"])
EOF
    ) || fail "$(tail -n 1 <<<"$sent")"
    TOTAL_SENT=$((TOTAL_SENT + sent))
    log "$name: sent=received=$sent"
}

COMMON=(--secret "$XT_SECRET" --allocations 4 --duration 1 --warmup 0.2 --rate 2000 --echo)

# burst NAME PID ARGS...: `xturn-bench client --burst ARGS --json` (64 allocations, 16 in flight)
# against the relay of pid PID: every allocation set up and deleted; the relay's memory read
# (without --relay-pid in ARGS it is looked up: that relay, or none when other tests' relays
# hold the same address in their namespaces, never another).
burst() {
    local name=$1 pid=$2 out err rc=0
    shift 2
    out="$XT_TMP/burst.$name.json"
    err="$XT_TMP/burst.$name.err"
    log "xturn-bench client --burst 16 $*"
    # shellcheck disable=SC2016 # $0 and $@ are the inner shell's: stderr to its own file
    ns_run "$XT_NS_CLIENT" 20 "$out" bash -c 'exec "$@" 2>"$0"' "$err" "$BENCH" client --json \
        --secret "$XT_SECRET" --peer "$XT_PEER4:$SINK_PORT" --allocations 64 --burst 16 "$@" ||
        rc=$?
    [ "$rc" -eq 0 ] || fail "$name: xturn-bench client exited with status $rc: $(cat "$err")"
    [ ! -s "$err" ] || fail "$name: xturn-bench client wrote to stderr: $(head -c 500 "$err")"
    python3 - "$out" "$name" "$pid" <<'EOF' || fail "$name: $(cat "$out")"
import json, sys
path, name, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.loads(open(path).read())
for k in ("allocations", "window", "ready", "setup_failures", "setup_errors", "setup_s",
          "allocations_per_s", "retransmissions", "deleted", "relay_pid", "rss_before_kb",
          "rss_after_kb", "rss_per_allocation_bytes"):
    assert k in d, f"{name}: no '{k}'"
assert d["mode"] == "burst" and d["allocations"] == 64 and d["window"] == 16, name
assert d["ready"] == 64 and d["setup_failures"] == 0 and d["deleted"] == 64, f"{name}: failures"
assert d["allocations_per_s"] > 0, name
assert d["relay_pid"] in (pid, None), f"{name}: the memory of another process"
if d["relay_pid"] is not None:
    assert d["rss_before_kb"] > 0 and d["rss_after_kb"] > 0, f"{name}: no RSS"
    assert d["rss_per_allocation_bytes"] is not None, name
EOF
    log "$name: $(cat "$out")"
}

topo_up
start_xturn
start_bench_sink

bench channel4 --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" --mode channel "${COMMON[@]}"
bench send4 --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" --mode send "${COMMON[@]}"
bench relay6 --server "$XT_RELAY4" --peer "[$XT_PEER6]:$SINK_PORT" --relay-family 6 "${COMMON[@]}"
bench client6 --server "[$XT_RELAY6]" --peer "$XT_PEER4:$SINK_PORT" --peer "[$XT_PEER6]:$SINK_PORT" \
    --mode send "${COMMON[@]}"
bench direct --direct --peer "$XT_PEER4:$SINK_PORT" --peer "[$XT_PEER6]:$SINK_PORT" \
    --allocations 4 --duration 1 --warmup 0.2 --rate 2000 --echo

# Errors: one line on stderr, exit status 2, nothing on stdout.
bench_error() {
    local name=$1 out err rc=0
    shift
    out="$XT_TMP/bench.$name.out"
    err="$XT_TMP/bench.$name.err"
    # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
    ns_run "$XT_NS_CLIENT" 20 "$out" bash -c 'exec "$@" 2>"$0"' "$err" "$BENCH" "$@" || rc=$?
    [ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2"
    [ ! -s "$out" ] || fail "$name: wrote to stdout: $(head -c 300 "$out")"
    [ "$(wc -l <"$err")" -eq 1 ] || fail "$name: want one line on stderr: $(cat "$err")"
    log "$name: $(cat "$err")"
}
bench_error bad_flag client --bogus
bench_error no_peer client --server "$XT_RELAY4" --secret "$XT_SECRET"
bench_error unreachable client --server "$XT_RELAY4:3999" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --json
bench_error bad_secret client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret wrong --json
bench_error burst_window client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --burst 0
bench_error burst_send client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --burst 8 --mode send
bench_error hold_alone client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --hold 1
bench_error relay_pid_alone client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --relay-pid "$XT_DAEMON_PID"
bench_error relay_pid_gone client --server "$XT_RELAY4" --peer "$XT_PEER4:$SINK_PORT" \
    --secret "$XT_SECRET" --burst 8 --relay-pid 2147483647 --json

burst xturn "$XT_DAEMON_PID" --server "$XT_RELAY4" --relay-pid "$XT_DAEMON_PID"
burst xturn_found "$XT_DAEMON_PID" --server "$XT_RELAY4"
# --hold: the allocations stay up until the time is over, which stderr says when they are.
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
ns_run "$XT_NS_CLIENT" 20 "$XT_TMP/hold.json" bash -c 'exec "$@" 2>"$0"' "$XT_TMP/hold.err" \
    "$BENCH" client --json --secret "$XT_SECRET" --peer "$XT_PEER4:$SINK_PORT" \
    --server "$XT_RELAY4" --allocations 8 --burst 4 --hold 1 &
HOLD_PID=$!
for _ in $(seq 50); do grep -q "allocations up" "$XT_TMP/hold.err" 2>/dev/null && break; sleep 0.1; done
grep -qx "burst: 8 allocations up, held 1.0 s" "$XT_TMP/hold.err" ||
    fail "hold: $(cat "$XT_TMP/hold.err")"
wait "$HOLD_PID" || fail "hold: xturn-bench client failed: $(cat "$XT_TMP/hold.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["held_s"] == 1.0 and d["ready"] == 8 and d["deleted"] == 8, d' \
    "$XT_TMP/hold.json" || fail "hold: $(cat "$XT_TMP/hold.json")"

daemon_alive || fail "daemon died during the runs"
stop_xturn

# Stream transports (RFC 8656 12.5), against coturn: one TCP or TLS connection per allocation,
# ChannelData framed on it; the relayed side is UDP to the same sink.
command -v turnserver >/dev/null || fail "turnserver missing (Debian package coturn: make deps)"
COTURN_PORT=3479
COTURN_TLS_PORT=5350
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=xturn-bench -keyout "$XT_TMP/key.pem" -out "$XT_TMP/cert.pem" 2>"$XT_TMP/openssl.err" ||
    fail "openssl: $(cat "$XT_TMP/openssl.err")"
ip netns exec "$XT_NS_RELAY" env --default-signal turnserver -n --no-cli --no-dtls --no-tcp-relay \
    --listening-ip "$XT_RELAY4" --listening-port "$COTURN_PORT" \
    --tls-listening-port "$COTURN_TLS_PORT" --cert "$XT_TMP/cert.pem" --pkey "$XT_TMP/key.pem" \
    --relay-ip "$XT_RELAY4" --realm "$XT_REALM" --use-auth-secret --static-auth-secret "$XT_SECRET" \
    --allowed-peer-ip=198.18.0.0-198.19.255.255 --pidfile "$XT_TMP/turnserver.pid" \
    --log-file "$XT_TMP/coturn.log" --simple-log --no-stdout-log >"$XT_TMP/coturn.out" 2>&1 </dev/null &
COTURN_PID=$!
XT_PIDS+=("$COTURN_PID")
for i in $(seq 1 50); do
    kill -0 "$COTURN_PID" 2>/dev/null || fail "turnserver exited: $(tail -n 5 "$XT_TMP/coturn.out")"
    tcp_listening "$XT_NS_RELAY" "$XT_RELAY4:$COTURN_PORT" "$XT_RELAY4:$COTURN_TLS_PORT" && break
    [ "$i" -lt 50 ] || fail "turnserver not listening on TCP after 5 s"
    sleep 0.1
done
bench coturn_tcp --server "$XT_RELAY4:$COTURN_PORT" --transport tcp --size 101 \
    --peer "$XT_PEER4:$SINK_PORT" "${COMMON[@]}"
bench coturn_tls --server "$XT_RELAY4:$COTURN_TLS_PORT" --transport tls --sni xturn-bench \
    --peer "$XT_PEER4:$SINK_PORT" "${COMMON[@]}"
burst coturn "$COTURN_PID" --server "$XT_RELAY4:$COTURN_PORT" --relay-pid "$COTURN_PID"
xt_kill "$COTURN_PID"

# The sink reports what it saw on SIGTERM: everything (warm-up included) arrived and was echoed.
kill -TERM "$SINK_PID"
rc=0
wait "$SINK_PID" || rc=$?
xt_forget "$SINK_PID"
[ "$rc" -eq 0 ] || fail "sink exited with status $rc: $(cat "$SINK_ERR")"
[ ! -s "$SINK_ERR" ] || fail "sink wrote to stderr: $(head -c 500 "$SINK_ERR")"
python3 - "$SINK_OUT" "$TOTAL_SENT" <<'EOF' || fail "sink JSON: $(cat "$SINK_OUT")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
total = int(sys.argv[2])
for k in ("received", "bytes", "echoed", "duration_s", "pps"):
    assert k in d, k
assert d["received"] >= total, f"sink received {d['received']} < {total} counted by the clients"
assert d["echoed"] == d["received"], "not everything echoed"
EOF
log "sink: $(cat "$SINK_OUT")"
pass
