# shellcheck shell=bash
# Helpers of the soak and abuse tests, on top of tests/integration/lib.sh (source that first):
# daemon resource readings (fds, RSS), the XDP binding maps, relay sockets left bound, counter
# snapshots of every namespace, extra client addresses, and xturn-bench runs (sink, client).

# shellcheck disable=SC2034 # used by the scripts that source this file
SK_DIR="$XT_ROOT/tests/soak"
# The interpreter itself when it is there: a version-manager shim can take a second to start.
SK_PY=python3
if [ -x /usr/bin/python3 ]; then SK_PY=/usr/bin/python3; fi
SK_BENCH=$BENCH # lib.sh's
SK_SINK_PORT=$SINK_PORT
SK_SINK_PID=""
SK_SINK_OUT=""

# sk_need_bench: fail unless xturn-bench is built.
sk_need_bench() {
    [ -x "$SK_BENCH" ] || fail "$SK_BENCH missing (make; or set XTURN_BENCH_BIN)"
}

# sk_fds PID: open file descriptors of a process.
sk_fds() {
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# sk_rss PID: resident set size in kB.
sk_rss() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# sk_add_client_addrs FIRST LAST: 198.18.1.FIRST-LAST and 2001:db8:1::FIRST-LAST (decimal
# digits as written) on the client's interface, in one batch per family.
sk_add_client_addrs() {
    local i dev="xt${XT_ID}c0" b4="$XT_TMP/addrs4.batch" b6="$XT_TMP/addrs6.batch"
    : >"$b4"
    : >"$b6"
    for i in $(seq "$1" "$2"); do
        echo "addr add 198.18.1.$i/24 dev $dev" >>"$b4"
        echo "addr add 2001:db8:1::$i/64 dev $dev nodad" >>"$b6"
    done
    ns_exec "$XT_NS_CLIENT" ip -batch "$b4" || fail "cannot add client IPv4 addresses"
    ns_exec "$XT_NS_CLIENT" ip -6 -batch "$b6" || fail "cannot add client IPv6 addresses"
}

# sk_local_args FAMILY FIRST LAST: "--local ADDR" words for xturn-bench / churn.py.
sk_local_args() {
    local i
    for i in $(seq "$2" "$3"); do
        if [ "$1" = 4 ]; then echo "--local 198.18.1.$i"; else echo "--local 2001:db8:1::$i"; fi
    done
}

# sk_start_sink OUTFILE: lib.sh's start_bench_sink; its JSON goes to OUTFILE when sk_stop_sink
# ends it.
sk_start_sink() {
    start_bench_sink "$1"
    SK_SINK_OUT=$SINK_OUT
    SK_SINK_PID=$SINK_PID
}

# sk_stop_sink: SIGTERM; the sink prints its JSON and must exit 0.
sk_stop_sink() {
    local rc=0
    [ -n "$SK_SINK_PID" ] || return 0
    kill -TERM "$SK_SINK_PID" 2>/dev/null || true
    wait "$SK_SINK_PID" || rc=$?
    xt_forget "$SK_SINK_PID"
    SK_SINK_PID=""
    [ "$rc" -eq 0 ] || fail "sink exited with status $rc: $(cat "$SK_SINK_OUT.err")"
}

# sk_bench OUT ARGS...: `xturn-bench client --json ARGS` in the client ns, bounded; JSON in
# OUT, stderr in OUT.err. Returns the client's status.
sk_bench() {
    local out=$1 rc=0
    shift
    # shellcheck disable=SC2016 # expanded by the inner bash
    ns_run "$XT_NS_CLIENT" "${SK_BENCH_TIMEOUT:-30}" "$out" bash -c 'exec "$@" 2>"$0"' "$out.err" \
        "$SK_BENCH" client --json "$@" || rc=$?
    return "$rc"
}

# sk_json FILE EXPR: evaluate a Python expression over the JSON object `d` in FILE.
sk_json() {
    "$SK_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# sk_relay_sockets: UDP sockets bound in the relay ns other than the listen sockets, one per line.
sk_relay_sockets() {
    ns_exec "$XT_NS_RELAY" ss -Hunap |
        awk -v l4="$XT_RELAY4:$XT_PORT" -v l6="[$XT_RELAY6]:$XT_PORT" '$4 != l4 && $4 != l6'
}

# sk_listen_sockets: how many listen sockets are bound (one per worker and listen address).
sk_listen_sockets() {
    ns_exec "$XT_NS_RELAY" ss -Huna |
        awk -v l4="$XT_RELAY4:$XT_PORT" -v l6="[$XT_RELAY6]:$XT_PORT" '$4 == l4 || $4 == l6' | wc -l
}

# sk_xdp_prog_id: id of the XDP program attached to the relay's interface (empty if none).
sk_xdp_prog_id() {
    ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" |
        sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p' | head -n 1
}

# sk_xdp_maps: "NAME ENTRIES" for the eight binding maps (c2p_44 ... p2c_66) of the program
# on the relay's interface: bpftool gives the program's map ids and their names; each binding
# map is dumped and its entries counted.
sk_xdp_maps() {
    local prog
    prog=$(sk_xdp_prog_id)
    [ -n "$prog" ] || fail "no XDP program attached to $XT_RELAY_DEV"
    "$SK_PY" - "$prog" <<'EOF' || fail "cannot read the binding maps of XDP program $prog"
import json, subprocess, sys
def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)
ids = set(bpftool("prog", "show", "id", sys.argv[1]).get("map_ids", []))
names = {f"{d}_{f}" for d in ("c2p", "p2c") for f in ("44", "46", "64", "66")}
found = {m["name"]: m["id"] for m in bpftool("map", "show") if m["id"] in ids and m.get("name") in names}
if set(found) != names:
    sys.exit(f"binding maps found: {sorted(found)}")
for name in sorted(found):
    print(name, len(bpftool("map", "dump", "id", str(found[name]))))
EOF
}

# sk_xdp_counters: xdp_counters (lib.sh) with the faster interpreter: "name packets" lines.
sk_xdp_counters() {
    ns_exec "$XT_NS_RELAY" "$XTURN" stats --interface "$XT_RELAY_DEV" | "$SK_PY" -c '
import json, sys
progs = [json.loads(l) for l in sys.stdin if l.strip()]
newest = max(progs, key=lambda p: p["program_id"])
for name, c in newest["counters"].items():
    print(name, c["packets"])
'
}

# sk_snapshot DIR: counters of every namespace (/proc/net/snmp, snmp6, interface statistics)
# and the host's softnet_stat, for soak_check.py.
sk_snapshot() {
    local d=$1 tag ns
    mkdir -p "$d"
    for tag in c p r g; do
        case $tag in
        c) ns=$XT_NS_CLIENT ;;
        p) ns=$XT_NS_PEER ;;
        r) ns=$XT_NS_RELAY ;;
        g) ns=$XT_NS_ROUTER ;;
        esac
        ns_exec "$ns" cat /proc/net/snmp >"$d/$tag.snmp"
        ns_exec "$ns" cat /proc/net/snmp6 >"$d/$tag.snmp6"
        ns_exec "$ns" ip -s -j link show >"$d/$tag.link.json"
        # veth's own drop counters (XDP_TX / redirect / ring overflows), not all in `ip -s link`.
        # shellcheck disable=SC2016 # expanded by the inner sh
        ns_exec "$ns" sh -c 'for dev in /sys/class/net/xt*; do
            [ -e "$dev" ] || continue
            ethtool -S "${dev##*/}" | sed -n "s/^ *\([a-z0-9_]*\(drops\|errors\)\): /${dev##*/}.\1 /p"
        done' >"$d/$tag.ethtool"
    done
    cat /proc/net/softnet_stat >"$d/softnet_stat"
}

# sk_stats_line: the daemon's last "stats" log line (JSON).
sk_stats_line() {
    grep '"message":"stats"' "$XT_LOG" | tail -n 1
}
