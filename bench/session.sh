# shellcheck shell=bash
# What the measurement scripts (profile.sh, scale.sh, gso.sh) share, sourced after they set ROOT:
# the benchmark's namespace topology (topology.sh) built for the run and torn down at exit with
# every process in PIDS, and a process's CPU time.

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
