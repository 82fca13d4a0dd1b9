# shellcheck shell=bash
# What the measurement scripts (profile.sh, scale.sh, gso.sh) share, sourced after they set ROOT:
# the benchmark's namespace topology (topology.sh) built for the run and torn down at exit with
# every process in PIDS, a process's CPU time, and the machine's.

# shellcheck source-path=SCRIPTDIR source=topology.sh
. "$ROOT/bench/topology.sh"
PIDS=()
# shellcheck disable=SC2034 # used by the scripts that source this
{
    XTURN=$ROOT/build/xturn
    BENCH=$ROOT/build/xturn-bench
    PASS_OBJ=$ROOT/build/bpf/xdp_pass.bpf.o
    PORT=3478
    SINK_PORT=5000
}

session_die() {
    echo "$0: $*" >&2
    exit 2
}

# session_check: root, and the build's pieces a run needs; exits 2 saying what is missing.
session_check() {
    local f
    [ "$(id -u)" = 0 ] || session_die "needs root (network namespaces)"
    for f in "$XTURN" "$BENCH" "$PASS_OBJ"; do [ -e "$f" ] || session_die "$f missing (make)"; done
}

# session_sink: `xturn-bench sink --echo` on the peer's IPv4 address, port SINK_PORT.
session_sink() {
    bt_exec "$BT_NS_PEER" "$BENCH" sink --listen "$BT_PEER4:$SINK_PORT" --echo >/dev/null 2>&1 &
    PIDS+=("$!")
}
session_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bt_down
}

# session_up PASS_OBJ: the topology, torn down at exit. Non-zero when it cannot be built.
session_up() {
    trap session_cleanup EXIT
    bt_up "$1"
}

# run_ns PID: the run time of all of PID's threads so far, in ns (/proc/PID/task/*/schedstat,
# first field; summed in the shell: awk's %d stops at 2^31).
run_ns() {
    local t a rest sum=0
    for t in /proc/"$1"/task/*/schedstat; do
        read -r a rest <"$t" || continue
        sum=$((sum + a))
    done
    echo "$sum"
}

# ---- CPU: whole machine, from /proc/stat ----
# cpu_sample: "busy total" jiffies of all CPUs. busy = user nice system irq softirq; total
# also has idle, iowait and steal (time the hypervisor gave to others is not ours).
cpu_sample() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# background_cpu SECONDS: whole-machine busy CPUs (0..NCPU) with none of our load running.
background_cpu() {
    local s0 s1
    s0=$(cpu_sample)
    sleep "$1"
    s1=$(cpu_sample)
    awk -v a="$s0" -v b="$s1" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.3f", n * (y[1] - x[1]) / (y[2] - x[2]) }'
}
