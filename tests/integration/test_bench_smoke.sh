#!/usr/bin/env bash
# xturn-bench smoke test: the load generator against build/xturn at a low rate, echoed by
# `xturn-bench sink` in the peer namespace. Channel mode (IPv4), Send indications, an IPv6
# relayed address for an IPv4 client (to the IPv6 peer), an IPv6 client, and the --direct
# baseline (no relay). Asserts behaviour only: every allocation set up, every datagram echoed
# (zero loss at this rate), the JSON parses; errors exit 2 with one line; never a timing.
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

daemon_alive || fail "daemon died during the runs"
stop_xturn

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
