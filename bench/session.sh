# shellcheck shell=bash
# What the measurement scripts (profile.sh, scale.sh, gso.sh) share, sourced after they set ROOT:
# the benchmark's namespace topology (topology.sh) built for the run and torn down at exit with
# every process in PIDS, a process's CPU time, and the machine's.

# shellcheck source-path=SCRIPTDIR source=topology.sh
. "$ROOT/bench/topology.sh"
PIDS=()
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
