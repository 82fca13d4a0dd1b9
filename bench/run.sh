#!/usr/bin/env bash
# `make bench`: the benchmarks, and docs/BENCHMARKS.md written from what they measured.
#   1. build/xdp_microbench: the XDP program per path against a bare swap-and-XDP_TX program.
#   2. Load: coturn, xturn (userspace) and xturn --xdp relaying echo traffic between
#      build/xturn-bench client and sink in network namespaces (bench/topology.sh), offered
#      load swept; delivered rate, loss, round-trip times and the relay's CPU per packet.
#      coturn and xturn also with the clients on TCP and on TLS (BENCH_TRANSPORTS; the peer
#      side stays UDP): an xturn that does not serve a transport yet has that round skipped.
#   3. Allocation burst: coturn and xturn, each started afresh, set up BENCH_BURST_ALLOCATIONS
#      allocations from the client's one address with BENCH_BURST_WINDOW in flight (each 401,
#      Allocate, CreatePermission, ChannelBind: xturn-bench client --burst): allocations per
#      second, failures, and the relay's RSS per live allocation.
#   4. bench/report.py: docs/BENCHMARKS.md and docs/bench-delivered.png. With BENCH_ONLY=burst
#      (the burst alone, a minute) only the burst's section and target rows of BENCHMARKS.md
#      are written again, the rest stays.
# Benchmarks are not tests: nothing here judges a number; the report states which targets the
# numbers meet. Needs root (namespaces, XDP).
#
# Environment (defaults in brackets):
#   BENCH_DURATION [3]  measured seconds per point     BENCH_WARMUP [1]  seconds before it
#   BENCH_RATES ["5000 10000 20000 30000 40000 60000 80000 120000 160000 0"]  offered
#                       packets/s, 0 = as fast as the generator can (steps of 1.5x and 1.33x
#                       above 20000: a rate ratio between two relays is read to that precision)
#   BENCH_SIZES ["100 1200"]  payload bytes            BENCH_ALLOCATIONS [8]  per client run
#   BENCH_ONLY ["micro coturn xturn xdp burst"]  parts to run
#   BENCH_BURST_ALLOCATIONS [4096]  BENCH_BURST_WINDOW [256]  the allocation burst
#   BENCH_TRANSPORTS ["udp tcp tls"]  client transports of the coturn and xturn parts (xdp: udp)
#   BENCH_XDP_FAMILIES ["44 46 64 66"]  client family, relay family
#   BENCH_OUT [docs/BENCHMARKS.md]  BENCH_PNG [docs/bench-delivered.png]
#   BENCH_TIMEOUT [3600]  overall limit in seconds     BENCH_KEEP_TMP=1  keep the raw results
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Overall guard: this very script again under `timeout`; its TERM runs the cleanup trap.
if [ "${XB_GUARDED:-}" != 1 ]; then
    export XB_GUARDED=1
    exec timeout --foreground -k 15 "${BENCH_TIMEOUT:-3600}" bash "$0" "$@"
fi

DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
RATES=${BENCH_RATES:-"5000 10000 20000 30000 40000 60000 80000 120000 160000 0"}
SIZES=${BENCH_SIZES:-"100 1200"}
ALLOCS=${BENCH_ALLOCATIONS:-8}
ONLY=${BENCH_ONLY:-"micro coturn xturn xdp burst"}
BURST_N=${BENCH_BURST_ALLOCATIONS:-4096}
BURST_W=${BENCH_BURST_WINDOW:-256}
TRANSPORTS=${BENCH_TRANSPORTS:-"udp tcp tls"}
XDP_FAMILIES=${BENCH_XDP_FAMILIES:-"44 46 64 66"}
OUT=${BENCH_OUT:-docs/BENCHMARKS.md}
PNG=${BENCH_PNG:-docs/bench-delivered.png}

XTURN=$ROOT/build/xturn
GEN=$ROOT/build/xturn-bench
MICRO=$ROOT/build/xdp_microbench
PASS_OBJ=$ROOT/build/bpf/xdp_pass.bpf.o
BPF_OBJS="xdp_pass.bpf.o xdp_swap.bpf.o xdp_restore.bpf.o"
PORT=3478     # UDP and TCP
TLS_PORT=5349
SINK_PORT=5000
REALM=xturn
SECRET="bench-$$-$RANDOM$RANDOM"
NCPU=$(nproc)
# Debian's interpreter (scripts/install-deps.sh installs it): a version manager's shim in
# front of it can take seconds per start on a loaded machine, and this starts one per point.
PY=python3
[ ! -x /usr/bin/python3 ] || PY=/usr/bin/python3

TMP=$(mktemp -d /tmp/xturn-bench.XXXXXX)
RESULTS=$TMP/results.jsonl
PIDS=()
START=$SECONDS

# shellcheck source-path=SCRIPTDIR source=session.sh
. "$ROOT/bench/session.sh"

log() { printf '[bench +%ss] %s\n' $((SECONDS - START)) "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

has() { [[ " $ONLY " == *" $1 "* ]]; }
# The whole report is written again only when a part of it other than the burst ran.
full_report() { has micro || has coturn || has xturn || has xdp; }
has_transport() { [[ " $TRANSPORTS " == *" $1 "* ]]; }

# stop PID: TERM, up to 5 s, KILL; reaped and forgotten.
stop() {
    local pid=$1 i keep=() p
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS[@]}"; do
        stop "$pid"
    done
    bt_down
    if [ -n "$CG" ]; then
        for pid in 1 2 3 4 5; do
            rmdir "$CG" 2>/dev/null && break
            sleep 0.2
        done
    fi
    if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP_TMP:-0}" != 1 ]; then
        rm -rf "$TMP"
    else
        log "raw results kept in $TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (over BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600} s, or stopped)"; exit 143' TERM

# ---- checks ----
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, XDP)"
for f in "$XTURN" "$MICRO" $(for o in $BPF_OBJS; do echo "$ROOT/build/bpf/$o"; done); do
    [ -e "$f" ] || die "$f missing: run make all (make bench does)"
done
if has coturn || has xturn || has xdp || has burst; then
    [ -x "$GEN" ] || die "$GEN missing: the load generator (tools/bench/) is not built"
fi
# Run copies: a rebuild of build/ while this runs (the tree is shared) must not change or
# break what is measured.
mkdir -p "$TMP/bin/bpf"
cp "$XTURN" "$MICRO" "$TMP/bin/"
[ ! -x "$GEN" ] || cp "$GEN" "$TMP/bin/"
for o in $BPF_OBJS; do cp "$ROOT/build/bpf/$o" "$TMP/bin/bpf/"; done
XTURN=$TMP/bin/xturn GEN=$TMP/bin/xturn-bench MICRO=$TMP/bin/xdp_microbench
PASS_OBJ=$TMP/bin/bpf/xdp_pass.bpf.o
for t in $TRANSPORTS; do
    case $t in udp | tcp | tls) ;; *) die "BENCH_TRANSPORTS: '$t' is not udp, tcp or tls" ;; esac
done
if has coturn || has burst; then
    command -v turnserver >/dev/null || die "turnserver missing (Debian package coturn: make deps)"
fi
if has_transport tls; then
    command -v openssl >/dev/null || die "openssl missing (Debian package openssl: make deps)"
fi
! full_report || command -v gnuplot >/dev/null ||
    die "gnuplot missing (Debian package gnuplot-nox: make deps)"

# Our own processes' CPU, as a second, less noisy measure on a shared machine: the generator,
# the sink and the relay run in a cpuacct cgroup of their own (its usage counts exited
# processes too), to which the ksoftirqd threads' run time is added. This kernel does not
# separate interrupt time from the running task's (no CONFIG_IRQ_TIME_ACCOUNTING), so softirq
# work done in our processes' context (veth delivery, routing, the XDP program) is theirs. A
# process joins before `ip netns exec`, which mounts a /sys of its own without the cgroups.
CG=/sys/fs/cgroup/cpuacct/xturn-bench.$$
if ! mkdir "$CG" 2>/dev/null; then
    CG=""
fi
CGJOIN=()
# shellcheck disable=SC2016 # expanded by that sh, not here
[ -z "$CG" ] || CGJOIN=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")

# own_sample: "ns-of-CPU ns-of-clock" (0 CPU without the cgroup).
own_sample() {
    local cg=0 k=0 p a rest
    [ -z "$CG" ] || cg=$(cat "$CG/cpuacct.usage")
    for p in $(pgrep '^ksoftirqd/' || true); do
        read -r a rest <"/proc/$p/schedstat" 2>/dev/null || continue
        k=$((k + a))
    done
    echo "$((cg + k)) $(date +%s%N)"
}

# relay_sample: "ns-of-CPU" of the relay process, all its threads (0 with none running): its
# own work only, whatever the client's transport costs the generator.
relay_sample() {
    local t a rest sum=0
    if [ -n "$RELAY_PID" ]; then
        for t in /proc/"$RELAY_PID"/task/*/schedstat; do
            read -r a rest <"$t" 2>/dev/null || continue
            sum=$((sum + a))
        done
    fi
    echo "$sum"
}

# Sleep a fractional number of seconds given as an awk expression.
nap() { sleep "$(awk "BEGIN { printf \"%.3f\", $1 }")"; }

# ---- machine ----
meta() {
    local model mem
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    "$PY" - "$model" "$NCPU" "$mem" "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        "$DURATION" "$WARMUP" "$ALLOCS" "$RATES" "$SIZES" "$(turnserver --version 2>/dev/null | head -n 1 || true)" \
        "$("$XTURN" --version 2>/dev/null | head -n 1 || true)" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || true)" \
        "$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo dirty || echo clean)" <<'EOF'
import json, sys
a = sys.argv[1:]
print(json.dumps({"cpu_model": a[0], "cpus": int(a[1]), "memory": a[2], "kernel": a[3],
                  "date": a[4], "duration_s": float(a[5]), "warmup_s": float(a[6]),
                  "allocations": int(a[7]), "rates": a[8].split(), "sizes": a[9].split(),
                  "coturn_version": a[10], "xturn_version": a[11], "commit": a[12],
                  "tree": a[13]}))
EOF
}


# shown TEXT: a command line as the report shows it (the run copies as build/, the temporary
# folder as $TMP).
shown() {
    local t=${1//$TMP\/bin\//build/}
    t=${t//$TMP/\$TMP}
    echo "${t//$ROOT\//}"
}

# ---- relays ----
RELAY_PID=""
RELAY_ARGS=""
RELAY_LOG=""

# relay_addrs TRANSPORT: the relay's listening addresses a client of TRANSPORT needs.
relay_addrs() {
    case $1 in
    tls) echo "$BT_RELAY4:$TLS_PORT" ;;
    *) echo "$BT_RELAY4:$PORT [$BT_RELAY6]:$PORT" ;;
    esac
}

# wait_listening TRANSPORT: the relay binds its listen sockets for TRANSPORT within 5 s (1:
# it did not; 2: it exited).
wait_listening() {
    local i check=udp_listening
    [ "$1" = udp ] || check=tcp_listening
    # shellcheck disable=SC2046 # one word per address
    for i in $(seq 1 50); do
        kill -0 "$RELAY_PID" 2>/dev/null || return 2
        $check "$BT_NS_RELAY" $(relay_addrs "$1") && return 0
        sleep 0.1
    done
    return 1
}

# try_relay NAME TRANSPORT CMD...: starts the relay in the relay namespace (the command line is
# recorded for the report) and waits until it serves TRANSPORT. Non-zero, with the relay
# stopped and the reason logged and in RELAY_FAILED, when it does not: 2 when it exited
# (rejected its flags, say).
RELAY_FAILED=""
try_relay() {
    local name=$1 transport=$2 rc=0 st=0
    shift 2
    RELAY_LOG=$TMP/$name.log
    RELAY_ARGS="$*"
    log "starting $name: $*"
    "${CGJOIN[@]}" ip netns exec "$BT_NS_RELAY" env --default-signal "$@" >"$RELAY_LOG" 2>&1 </dev/null &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    wait_listening "$transport" || rc=$?
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" = 2 ]; then
            wait "$RELAY_PID" 2>/dev/null || st=$?
            RELAY_FAILED="it exited at start (status $st): $(tail -n 1 "$RELAY_LOG" | cut -c1-200)"
        else
            RELAY_FAILED="nothing listens on ${transport^^} $(relay_addrs "$transport")"
        fi
        log "$name: $RELAY_FAILED"
        tail -n 5 "$RELAY_LOG" | sed 's/^/    /' >&2 || true
        stop_relay
        return "$rc"
    fi
    sleep 0.5
}

# start_relay NAME TRANSPORT CMD...: try_relay, and the end of the run when it fails.
start_relay() {
    try_relay "$@" || die "$1 does not serve ${2^^} clients: $RELAY_FAILED"
}

stop_relay() {
    [ -n "$RELAY_PID" ] || return 0
    stop "$RELAY_PID"
    RELAY_PID=""
}

xturn_workers_args() {
    if "$XTURN" --help 2>&1 | grep -q -- '--workers'; then
        echo "--workers $NCPU"
    fi
}

# xdp_relayed: packets the relay's own XDP program relayed so far (both directions).
xdp_relayed() {
    local id
    id=$(bt_xdp_prog_id)
    [ -n "$id" ] || {
        echo 0
        return
    }
    "$XTURN" stats 2>/dev/null | "$PY" -c '
import json, sys
want = int(sys.argv[1])
for line in sys.stdin:
    if not line.strip():
        continue
    p = json.loads(line)
    if p["program_id"] == want:
        c = p["counters"]
        print(sum(v["packets"] for k, v in c.items() if k[:4] in ("c2p_", "p2c_")))
        break
else:
    print(0)
' "$id"
}

# ---- one point ----
# run_point SWEEP RELAY TRANSPORT CFAM RFAM SIZE RATE: one client run; appends one JSON line to
# $RESULTS. RELAY "direct" is the CPU baseline: the generator straight to the sink, no relay.
# RELAY names the transport unless it is UDP (coturn-tcp, xturn-tls).
N_POINT=0
run_point() {
    local sweep=$1 relay=$2 transport=$3 cf=$4 rf=$5 size=$6 rate=$7
    local server peer out err pid rc=0 s0 s1 x0=0 x1=0 limit args port=$PORT
    N_POINT=$((N_POINT + 1))
    out=$TMP/point.$N_POINT.json
    err=$TMP/point.$N_POINT.err
    [ "$transport" != tls ] || port=$TLS_PORT
    if [ "$cf" = 4 ]; then server=$BT_RELAY4:$port; else server="[$BT_RELAY6]:$port"; fi
    if [ "$rf" = 4 ]; then peer=$BT_PEER4:$SINK_PORT; else peer="[$BT_PEER6]:$SINK_PORT"; fi
    args=(client --peer "$peer" --rate "$rate" --size "$size" --duration "$DURATION"
        --warmup "$WARMUP" --allocations "$ALLOCS" --echo --json)
    if [ "$relay" = direct ]; then
        args+=(--direct)
    else
        args+=(--server "$server" --secret "$SECRET" --realm "$REALM" --relay-family "$rf")
        [ "$transport" = udp ] || args+=(--transport "$transport")
    fi
    [ "$relay" != xdp ] || x0=$(xdp_relayed || echo 0)
    limit=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 30 }')
    timeout -k 5 "$limit" "${CGJOIN[@]}" ip netns exec "$BT_NS_CLIENT" "$GEN" "${args[@]}" \
        >"$out" 2>"$err" </dev/null &
    pid=$!
    PIDS+=("$pid")
    # The CPU window: inside the measured seconds, 0.4 s in from each end.
    nap "$WARMUP + 0.4"
    s0="$(cpu_sample) $(own_sample) $(relay_sample)"
    nap "$DURATION - 0.8"
    s1="$(cpu_sample) $(own_sample) $(relay_sample)"
    wait "$pid" || rc=$?
    stop "$pid"
    [ "$relay" != xdp ] || x1=$(xdp_relayed || echo 0)
    "$PY" - "$out" "$err" "$rc" "$relay" "$cf" "$rf" "$size" "$rate" "$s0" "$s1" "$NCPU" \
        "$((x1 - x0))" "xturn-bench ${args[*]}" "$sweep" "$transport" >>"$RESULTS" <<'EOF'
import json, sys
(out, err, rc, relay, cf, rf, size, rate, s0, s1, ncpu, xdp, cmd, sweep, transport) = sys.argv[1:]
b0, t0, o0, n0, p0 = map(float, s0.split())
b1, t1, o1, n1, p1 = map(float, s1.split())
r = {"relay": relay, "transport": transport, "cfam": int(cf), "rfam": int(rf), "size": int(size),
     "rate": int(rate), "busy_cpus": int(ncpu) * (b1 - b0) / (t1 - t0) if t1 > t0 else None,
     "own_cpus": (o1 - o0) / (n1 - n0) if n1 > n0 and o1 > 0 else None,
     "relay_cpus": (p1 - p0) / (n1 - n0) if n1 > n0 and relay != "direct" and p1 > 0 else None,
     "xdp_relayed": int(xdp), "rc": int(rc), "command": cmd, "sweep": int(sweep)}
try:
    text = open(out).read()
    i = text.rfind('{"mode"')  # the last object (progress output, if any, comes before)
    r["client"] = json.loads(text[i:].strip()) if i >= 0 else None
except (ValueError, IndexError) as e:
    r["client"] = None
if not r["client"]:
    r["error"] = (open(err).read().strip().splitlines() or ["no output, exit status " + rc])[-1][:300]
print(json.dumps(r))
c = r.get("client") or {}
head = "  %-10s %s->%s %5dB rate %-6s" % (relay, cf, rf, int(size), rate)
if r.get("error"):
    print(head, "ERROR", r["error"], file=sys.stderr)
else:
    print(head + " offered %8.0f delivered %8.0f loss %6.2f%% p50 %6.0fus cpu %.2f own %.2f relay %.2f" % (
        c.get("offered_pps") or 0, c.get("delivered_pps") or 0, c.get("loss_pct") or 0,
        (c.get("rtt_us") or {}).get("p50") or 0, r["busy_cpus"] or 0, r["own_cpus"] or 0,
        r["relay_cpus"] or 0), file=sys.stderr)
EOF
}


# sweep RELAY TRANSPORT CFAM RFAM SIZE: every rate, each right after its baseline point (the
# generator straight to the sink at the same rate, same size, the relay-side family; always
# UDP): the machine's background load drifts, so the baseline is measured next to what it is
# subtracted from.
N_SWEEP=0
sweep() {
    local relay=$1 transport=$2 cf=$3 rf=$4 size=$5 rate
    N_SWEEP=$((N_SWEEP + 1))
    for rate in $RATES; do
        run_point "$N_SWEEP" direct udp "$rf" "$rf" "$size" "$rate"
        run_point "$N_SWEEP" "$relay" "$transport" "$cf" "$rf" "$size" "$rate"
    done
}

# ---- 1. micro-benchmark ----
meta >"$TMP/meta.json"
: >"$RESULTS"
: >"$TMP/micro.jsonl"
: >"$TMP/relays.jsonl"
: >"$TMP/burst.jsonl"
MICRO_CMD="build/xdp_microbench --sizes ${SIZES// /,} --cpu $((NCPU - 1))"
if has micro; then
    log "micro-benchmark: $MICRO_CMD"
    timeout -k 5 600 "$MICRO" --sizes "${SIZES// /,}" --cpu $((NCPU - 1)) >"$TMP/micro.jsonl" \
        2>"$TMP/micro.err" || die "xdp_microbench failed: $(tail -n 3 "$TMP/micro.err")"
    cat "$TMP/micro.err" >&2
fi

# ---- 2. load ----
# TLS rounds: a self-signed certificate of this run (the client verifies none).
CERT=$TMP/cert.pem
KEY=$TMP/key.pem
if has_transport tls && { has coturn || has xturn; }; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=xturn-bench -keyout "$KEY" -out "$CERT" 2>"$TMP/openssl.err" ||
        die "cannot make a certificate: $(tail -n 3 "$TMP/openssl.err")"
fi
BG_BEFORE=$(background_cpu 3)
log "background load before: $BG_BEFORE busy CPUs of $NCPU"
if has coturn || has xturn || has xdp || has burst; then
    bt_up "$PASS_OBJ" || die "cannot build the namespace topology"
    log "topology up (namespaces $BT_NS_CLIENT $BT_NS_PEER $BT_NS_RELAY $BT_NS_ROUTER)"
    "${CGJOIN[@]}" ip netns exec "$BT_NS_PEER" env --default-signal "$GEN" sink \
        --listen "$BT_PEER4:$SINK_PORT" --listen "[$BT_PEER6]:$SINK_PORT" --echo --json \
        >"$TMP/sink.json" 2>"$TMP/sink.err" </dev/null &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    for i in $(seq 1 50); do
        udp_listening "$BT_NS_PEER" "$BT_PEER4:$SINK_PORT" "[$BT_PEER6]:$SINK_PORT" && break
        kill -0 "$SINK_PID" 2>/dev/null || die "sink exited: $(tail -n 3 "$TMP/sink.err")"
        [ "$i" -lt 50 ] || die "sink not listening after 5 s"
        sleep 0.1
    done
    SINK_CMD="xturn-bench sink --listen $BT_PEER4:$SINK_PORT --listen [$BT_PEER6]:$SINK_PORT --echo --json"

    record_relay() { # NAME: the command line of the relay just started, for the report
        "$PY" -c 'import json,sys; print(json.dumps({"relay": sys.argv[1], "command": sys.argv[2]}))' \
            "$1" "$(shown "$RELAY_ARGS")" >>"$TMP/relays.jsonl"
    }

    # The relay's name in the results: with the clients' transport unless that is UDP.
    round_name() { if [ "$2" = udp ]; then echo "$1"; else echo "$1-$2"; fi; }
    record_skip() { # NAME REASON: a round not run, for the report
        log "SKIPPED the $1 round: $2"
        "$PY" -c 'import json,sys; print(json.dumps({"relay": sys.argv[1], "skipped": sys.argv[2]}))' \
            "$1" "$2" >>"$TMP/relays.jsonl"
    }

    # coturn_cmd NAME TRANSPORT: coturn's command line for a round, in CMD. TCP is served on the
    # listening port whatever the flags; TLS on its own port.
    coturn_cmd() {
        local tls_args=(--no-tls)
        [ "$2" != tls ] || tls_args=(--tls-listening-port "$TLS_PORT" --cert "$CERT" --pkey "$KEY")
        CMD=(turnserver -n --no-cli "${tls_args[@]}" --no-dtls --no-tcp-relay
            --listening-ip "$BT_RELAY4" --listening-ip "$BT_RELAY6" --listening-port "$PORT"
            --relay-ip "$BT_RELAY4" --relay-ip "$BT_RELAY6" --min-port 49152 --max-port 65535
            --realm "$REALM" --use-auth-secret --static-auth-secret "$SECRET"
            --relay-threads "$NCPU" --allowed-peer-ip=198.18.0.0-198.19.255.255
            --no-multicast-peers --pidfile "$TMP/turnserver.pid" --log-file "$TMP/$1-file.log"
            --simple-log --no-stdout-log)
    }

    # xturn_cmd TRANSPORT: xturn's, in CMD. TCP on the --listen addresses (as UDP); TLS on
    # --tls-listen.
    xturn_cmd() {
        local tls_args=()
        [ "$1" != tls ] ||
            tls_args=(--tls-listen "$BT_RELAY4:$TLS_PORT" --tls-cert "$CERT" --tls-key "$KEY")
        # shellcheck disable=SC2207 # the flag and its value are two words
        CMD=("$XTURN" --listen "$BT_RELAY4:$PORT" --listen "[$BT_RELAY6]:$PORT" "${tls_args[@]}"
            --realm "$REALM" --auth-secret "$SECRET" --log-level info $(xturn_workers_args))
    }

    if has coturn; then
        for transport in $TRANSPORTS; do
            name=$(round_name coturn "$transport")
            coturn_cmd "$name" "$transport"
            start_relay "$name" "$transport" "${CMD[@]}"
            record_relay "$name"
            for size in $SIZES; do
                sweep "$name" "$transport" 4 4 "$size"
            done
            stop_relay
        done
    fi

    if has xturn; then
        for transport in $TRANSPORTS; do
            name=$(round_name xturn "$transport")
            xturn_cmd "$transport"
            if [ "$transport" = udp ]; then
                start_relay "$name" udp "${CMD[@]}"
            elif ! try_relay "$name" "$transport" "${CMD[@]}"; then
                # A daemon without stream transports yet: the rest of the run goes on.
                record_skip "$name" "this xturn does not serve ${transport^^} clients: $RELAY_FAILED"
                continue
            fi
            record_relay "$name"
            for size in $SIZES; do
                sweep "$name" "$transport" 4 4 "$size"
            done
            stop_relay
        done
    fi

    if has xdp; then
        xturn_cmd udp
        start_relay xdp udp "${CMD[@]}" --xdp "$BT_RELAY_DEV" --xdp-mode native
        record_relay xdp
        for size in $SIZES; do
            for fams in $XDP_FAMILIES; do
                sweep xdp udp "${fams:0:1}" "${fams:1:1}" "$size"
            done
        done
        stop_relay
        # What userspace relayed itself in all those runs: its stats line at shutdown.
        grep '"message":"stats"' "$RELAY_LOG" | tail -n 1 >"$TMP/xdp_userspace_stats.json" || true
    fi

    # ---- 3. allocation burst ----
    # burst NAME: BURST_N allocations from the client's one address, BURST_W in flight, against
    # the relay just started (its RSS read through its pid); one line in $TMP/burst.jsonl.
    burst() {
        local name=$1 out=$TMP/burst.$1.json rc=0 args
        args=(client --server "$BT_RELAY4:$PORT" --secret "$SECRET" --realm "$REALM"
            --peer "$BT_PEER4:$SINK_PORT" --allocations "$BURST_N" --burst "$BURST_W"
            --relay-pid "$RELAY_PID" --json)
        log "$name: xturn-bench ${args[*]}"
        timeout -k 5 300 ip netns exec "$BT_NS_CLIENT" "$GEN" "${args[@]}" >"$out" \
            2>"$out.err" </dev/null || rc=$?
        "$PY" - "$out" "$out.err" "$rc" "$name" "$(shown "$RELAY_ARGS")" \
            "xturn-bench ${args[*]}" >>"$TMP/burst.jsonl" <<'EOF'
import json, sys
out, err, rc, name, relay_cmd, cmd = sys.argv[1:]
r = {"relay": name, "relay_command": relay_cmd, "command": cmd, "rc": int(rc)}
try:
    r["client"] = json.loads(open(out).read())
except ValueError:
    r["client"] = None
    r["error"] = (open(err).read().strip().splitlines() or ["no output, exit status " + rc])[-1][:300]
print(json.dumps(r))
c = r["client"] or {}
print("  %-7s burst: %s" % (name, r.get("error") or "%d of %d set up in %.3f s: %.0f/s, %d failures, "
      "%d retransmissions, RSS %s -> %s kB" % (c["ready"], c["allocations"], c["setup_s"],
      c["allocations_per_s"], c["setup_failures"], c["retransmissions"], c["rss_before_kb"],
      c["rss_after_kb"])), file=sys.stderr)
EOF
    }

    if has burst; then
        for relay in coturn xturn; do
            if [ "$relay" = coturn ]; then coturn_cmd coturn-burst udp; else xturn_cmd udp; fi
            start_relay "$relay-burst" udp "${CMD[@]}"
            burst "$relay"
            stop_relay
        done
    fi
    stop "$SINK_PID"
    bt_down
fi
BG_AFTER=$(background_cpu 3)
log "background load after: $BG_AFTER busy CPUs of $NCPU"

# ---- 4. report ----
# The raw results stay in build/bench/ (not in git): bench/report.py can be run again on them.
"$PY" - "$TMP/meta.json" "$BG_BEFORE" "$BG_AFTER" "$MICRO_CMD" "${SINK_CMD:-}" \
    "$((SECONDS - START))" <<'EOF' >"$TMP/meta2.json"
import json, sys
m = json.load(open(sys.argv[1]))
m.update({"background_cpus_before": float(sys.argv[2]), "background_cpus_after": float(sys.argv[3]),
          "micro_command": sys.argv[4], "sink_command": sys.argv[5], "elapsed_s": int(sys.argv[6])})
print(json.dumps(m))
EOF
RAW=$ROOT/build/bench
mkdir -p "$RAW"
if full_report; then
    touch "$TMP/xdp_userspace_stats.json"
    cp "$TMP/meta2.json" "$TMP/micro.jsonl" "$RESULTS" "$TMP/relays.jsonl" "$TMP/burst.jsonl" \
        "$TMP/xdp_userspace_stats.json" "$RAW/"
    "$PY" "$ROOT/bench/report.py" --meta "$RAW/meta2.json" --micro "$RAW/micro.jsonl" \
        --results "$RAW/results.jsonl" --relays "$RAW/relays.jsonl" --burst "$RAW/burst.jsonl" \
        --out "$OUT" --png "$PNG" --xdp-userspace "$RAW/xdp_userspace_stats.json" \
        --plot "$ROOT/bench/delivered.gp" --work "$RAW" --profiles "$ROOT/bench/scale.md" \
        --profiles "$ROOT/bench/gso.md" \
        --profiles "$ROOT/bench/profiles.md"
    log "wrote $OUT and $PNG ($((SECONDS - START)) s)"
else
    # The burst alone: its section and target rows of $OUT are written again; the rest of $OUT
    # and the last full run's raw results stay.
    cp "$TMP/meta2.json" "$RAW/burst-meta.json"
    cp "$TMP/burst.jsonl" "$RAW/"
    "$PY" "$ROOT/bench/report.py" --update-burst --meta "$RAW/burst-meta.json" \
        --burst "$RAW/burst.jsonl" --out "$OUT"
    log "wrote the allocation burst into $OUT ($((SECONDS - START)) s)"
fi
