# shellcheck shell=bash
# Shared helpers for the xturn integration tests. Source it first thing in a test:
#   . "$(dirname "$0")/lib.sh"
# It re-executes the test under an overall `timeout`, installs the cleanup trap,
# and offers: topo_up, ns_exec, start_xturn, stop_xturn, start_peer, run_uclient,
# assert_no_loss, fail, skip; live_upgrade and its helpers.
#
# Topology (all addresses in 198.18.0.0/15 and 2001:db8::/32 only):
#
#   client 198.18.1.2 2001:db8:1::2 ---+
#   peer   198.18.2.2 2001:db8:2::2 ---+--- router (.1 / ::1 on each subnet)
#   relay  198.18.3.2 2001:db8:3::2 ---+     forwards IPv4 and IPv6
#
# Environment: XTURN_BIN (daemon to test, default build/xturn), XT_TEST_TIMEOUT
# (overall guard in seconds, default 100), XT_KEEP_TMP=1 (keep the temp dir).
set -euo pipefail

# Overall guard: re-run this very test under `timeout`, once. The TERM it sends
# on expiry runs our trap, so namespaces and processes are still cleaned up.
# --foreground keeps the test in the caller's process group, so Ctrl-C reaches it.
if [ "${XT_GUARDED:-}" != "$0" ]; then
    export XT_GUARDED="$0"
    exec timeout --foreground -k 10 "${XT_TEST_TIMEOUT:-100}" bash "$0" "$@"
fi

# junk.py imports stun_binding.py: no __pycache__ in the work tree.
export PYTHONDONTWRITEBYTECODE=1

XT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
XT_DIR="$XT_ROOT/tests/integration"
XTURN=${XTURN_BIN:-$XT_ROOT/build/xturn}
case "$XTURN" in /*) ;; *) XTURN="$XT_ROOT/$XTURN" ;; esac
XT_NAME=$(basename "$0" .sh)

# shellcheck source=topology.sh
. "$XT_DIR/topology.sh"
# shellcheck disable=SC2034 # used by the tests
XT_CLIENT4=$TOPO_CLIENT4 XT_CLIENT6=$TOPO_CLIENT6
XT_PEER4=$TOPO_PEER4 XT_PEER6=$TOPO_PEER6
XT_RELAY4=$TOPO_RELAY4 XT_RELAY6=$TOPO_RELAY6
XT_PORT=3478
XT_PEER_PORT=3480
XT_REALM=xturn
XT_USER=xtuser
XT_SECRET="it-secret-$$-$RANDOM"
# xturn allows the test networks 198.18.0.0/15 and 2001:db8::/32 as peers by default (and its
# own relayed addresses, for client-to-client); a test may add --allow-peer flags here.
XT_ALLOW_ARGS=()
# Credentials flags of start_xturn; a test may empty it to use --user only.
XT_AUTH_ARGS=(--auth-secret "$XT_SECRET")

# Unique per run: the pid plus a random byte (a killed earlier run with the same
# pid must not collide). Names stay <= 15 chars: "xt" + 9 + role + side.
XT_ID="$$$(printf '%02x' $((RANDOM % 256)))"
XT_NS_CLIENT="xt${XT_ID}c"
XT_NS_PEER="xt${XT_ID}p"
XT_NS_RELAY="xt${XT_ID}r"
# shellcheck disable=SC2034 # used by the tests
XT_NS_ROUTER="xt${XT_ID}g"

XT_TMP=$(mktemp -d "/tmp/xturn-it.${XT_NAME}.XXXXXX")
XT_LOG="$XT_TMP/xturn.log"   # daemon stdout (JSON log lines)
XT_ERR="$XT_TMP/xturn.err"   # daemon stderr
XT_PEER_LOG="$XT_TMP/peer.log"
XT_UCLIENT_OUT=""            # output file of the latest run_uclient
XT_UCLIENT_N=0
XT_DAEMON_PID=""
# XT_REAP=1 (set by a test before start_xturn): the daemon runs under reaper.py, a child
# subreaper, which records every generation's exit status in XT_REAP_FILE (live upgrades).
XT_REAP=${XT_REAP:-0}
XT_REAP_FILE="$XT_TMP/reaped"
XT_STATUS=""                 # exit status found by the latest xt_reap
XT_PEER_PID=""
XT_PIDS=()                   # every background process this test started
XT_TOPO=0
XT_START=$SECONDS

log() { printf '[%s +%ss] %s\n' "$XT_NAME" $((SECONDS - XT_START)) "$*" >&2; }

# fail REASON: print the reason plus the tails of the daemon log and the latest
# uclient output, then exit non-zero (the EXIT trap cleans up).
fail() {
    local f
    {
        echo "FAIL [$XT_NAME]: $*"
        for f in "$XT_LOG" "$XT_ERR" "$XT_UCLIENT_OUT" "$XT_PEER_LOG"; do
            if [ -z "$f" ] || [ ! -s "$f" ]; then continue; fi
            echo "---- last lines of $f ----"
            tail -n 25 "$f"
        done
        echo "---- end ----"
    } >&2
    exit 1
}

# skip REASON: this test cannot run here; run.sh reports it as skipped (exit 77), not failed.
skip() {
    log "SKIP: $*"
    echo "SKIP: $*"
    exit 77
}

need_root() {
    [ "$(id -u)" -eq 0 ] || fail "must run as root (network namespaces)"
}

ns_exec() { # ns_exec NS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# xt_forget PID: drop a reaped process from XT_PIDS, so that cleanup never
# signals a pid the system may have handed to someone else since.
xt_forget() {
    local p keep=()
    for p in "${XT_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    XT_PIDS=("${keep[@]}")
}

# xt_kill PID: stop one of our processes: TERM, a bounded wait, then KILL; reap it.
xt_kill() {
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    xt_forget "$pid"
}

# xt_reap PID: the exit status of a daemon of ours that has ended, in XT_STATUS, and the pid
# forgotten. With XT_REAP=1 from the reaper's record (waited for at most 5 s): the first daemon
# and every successor of a live upgrade; else from `wait`, which knows only this shell's children
# (not a live upgrade's new process).
xt_reap() {
    local i st=""
    XT_STATUS=0
    if [ "$XT_REAP" = 1 ]; then
        for i in $(seq 1 50); do
            st=$(awk -v p="$1" '$1 == "exited" && $2 == p { s = $3 } END { print s }' "$XT_REAP_FILE")
            [ -n "$st" ] && break
            sleep 0.1
        done
        [ -n "$st" ] || fail "the reaper recorded no exit of pid $1"
        XT_STATUS=$st
    else
        wait "$1" || XT_STATUS=$?
        [ "$XT_STATUS" -ne 127 ] || log "pid $1: status 127, not a child of this shell? (XT_REAP=1)"
    fi
    xt_forget "$1"
}

# wait_gone PID SECONDS: until the process (ours or not) is gone, at most SECONDS; false if it
# still runs then.
wait_gone() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

xt_cleanup() {
    local rc=$? pid ns
    trap - EXIT INT TERM
    set +e
    for pid in "${XT_PIDS[@]}"; do
        xt_kill "$pid"
    done
    if [ "$XT_TOPO" = 1 ]; then
        topo_down
    fi
    if { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; } && [ "${XT_KEEP_TMP:-0}" != 1 ]; then
        rm -rf "$XT_TMP"
    else
        echo "[$XT_NAME] files kept in $XT_TMP" >&2
    fi
    exit "$rc"
}
trap xt_cleanup EXIT
trap 'fail "interrupted (SIGINT)"' INT
trap 'fail "terminated (SIGTERM): over the ${XT_TEST_TIMEOUT:-100} s limit, or stopped"' TERM

# The topology itself is tests/integration/topology.sh, with the prefix "xt".
topo_down() {
    topology_destroy "xt$XT_ID"
    XT_TOPO=0
}

topo_up() {
    local why
    need_root
    XT_TOPO=1 # set first: a half-built topology is still torn down
    topology_build "xt$XT_ID" || fail "topology: could not build the namespaces"
    why=$(topology_reachable "xt$XT_ID") || fail "topology: $why"
}

# relay_socket_count 4|6: UDP sockets bound in the relay ns on the relay address
# of that family, other than the listen port (that is: allocations' relays).
relay_socket_count() {
    local addr=$XT_RELAY4
    [ "$1" = 4 ] || addr="[$XT_RELAY6]"
    ns_exec "$XT_NS_RELAY" ss -Hunla |
        awk -v a="$addr:" -v l="$addr:$XT_PORT" 'index($4, a) == 1 && $4 != l { n++ } END { print n + 0 }'
}

daemon_alive() {
    [ -n "$XT_DAEMON_PID" ] && kill -0 "$XT_DAEMON_PID" 2>/dev/null
}

# start_xturn ARGS...: the daemon in the relay ns with the standard flags plus
# ARGS; returns once both listen sockets are bound (at most ~5 s).
start_xturn() {
    local i
    [ -x "$XTURN" ] || fail "daemon binary $XTURN missing or not executable (build it, or set XTURN_BIN)"
    log "starting $XTURN $*"
    # env --default-signal: a background job of a non-interactive shell starts
    # with SIGINT ignored; the daemon must see signals as under a service manager.
    # `ip netns exec` directly, not ns_exec: a backgrounded function would be a
    # subshell and $! its pid, not the daemon's.
    # With XT_REAP=1, reaper.py in between (it does the same `env --default-signal`).
    local run=(env --default-signal) started
    if [ "$XT_REAP" = 1 ]; then run=(python3 "$XT_DIR/reaper.py" "$XT_REAP_FILE"); fi
    started=$(grep -c '^started ' "$XT_REAP_FILE" 2>/dev/null || true)
    ip netns exec "$XT_NS_RELAY" "${run[@]}" "$XTURN" \
        --listen "$XT_RELAY4:$XT_PORT" --listen "[$XT_RELAY6]:$XT_PORT" \
        --realm "$XT_REALM" "${XT_AUTH_ARGS[@]}" --log-level info \
        "${XT_ALLOW_ARGS[@]}" "$@" >"$XT_LOG" 2>"$XT_ERR" </dev/null &
    XT_DAEMON_PID=$!
    XT_PIDS+=("$XT_DAEMON_PID")
    if [ "$XT_REAP" = 1 ]; then
        # Its "started PID" line: the first after those of earlier daemons of this test.
        for i in $(seq 1 50); do
            XT_DAEMON_PID=$(awk -v n="${started:-0}" '$1 == "started" && ++k > n { print $2; exit }' \
                "$XT_REAP_FILE" 2>/dev/null || true)
            [ -n "$XT_DAEMON_PID" ] && break
            sleep 0.1
        done
        [ -n "$XT_DAEMON_PID" ] || fail "reaper.py did not start the daemon"
        XT_PIDS+=("$XT_DAEMON_PID")
    fi
    for i in $(seq 1 50); do
        if ! daemon_alive; then
            xt_reap "$XT_DAEMON_PID"
            fail "daemon exited during startup (status $XT_STATUS)"
        fi
        if udp_listening "$XT_NS_RELAY" "$XT_RELAY4:$XT_PORT" "[$XT_RELAY6]:$XT_PORT"; then
            log "daemon ready (pid $XT_DAEMON_PID) after ${i} polls"
            return 0
        fi
        sleep 0.1
    done
    fail "daemon not listening on $XT_RELAY4:$XT_PORT and [$XT_RELAY6]:$XT_PORT after 5 s"
}

# stop_xturn [SIGNAL]: signal the daemon (TERM by default), wait at most 5 s,
# and require exit status 0, "xturn stopped" as the last log line, JSON log
# lines only, and no sanitizer report on stderr.
stop_xturn() {
    local sig=${1:-TERM}
    daemon_alive || fail "daemon is not running at stop time"
    log "stopping daemon with SIG$sig"
    kill -s "$sig" "$XT_DAEMON_PID"
    await_clean_exit "SIG$sig" 5
}

# await_clean_exit WHAT SECONDS: the daemon gone within SECONDS of WHAT (a signal), with what
# stop_xturn requires.
await_clean_exit() {
    local what=$1 secs=$2 i last
    for i in $(seq 1 $((secs * 10))); do
        daemon_alive || break
        sleep 0.1
    done
    daemon_alive && fail "daemon still running $secs s after $what"
    xt_reap "$XT_DAEMON_PID"
    XT_DAEMON_PID=""
    [ "$XT_STATUS" -eq 0 ] || fail "daemon exited with status $XT_STATUS after $what (want 0)"
    last=$(grep -v '^[[:space:]]*$' "$XT_LOG" | tail -n 1 || true)
    grep -qF 'xturn stopped' <<<"$last" || fail "last log line is not 'xturn stopped': $last"
    assert_json_log
    if grep -qE 'Sanitizer|runtime error:' "$XT_ERR"; then
        fail "sanitizer report on daemon stderr"
    fi
}

# assert_json_log: every non-empty line the daemon wrote on stdout is a JSON object.
assert_json_log() {
    python3 - "$XT_LOG" <<'EOF' || fail "daemon stdout has a line that is not a JSON object"
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    if not line.strip():
        continue
    try:
        ok = isinstance(json.loads(line), dict)
    except ValueError:
        ok = False
    if not ok:
        print(f"line {n} is not a JSON object: {line.rstrip()[:200]}", file=sys.stderr)
        sys.exit(1)
EOF
}

# start_peer: turnutils_peer (a UDP echo server) in the peer ns on both addresses.
start_peer() {
    local i
    ip netns exec "$XT_NS_PEER" turnutils_peer -L "$XT_PEER4" -L "$XT_PEER6" -p "$XT_PEER_PORT" \
        >"$XT_PEER_LOG" 2>&1 </dev/null &
    XT_PEER_PID=$!
    XT_PIDS+=("$XT_PEER_PID")
    for i in $(seq 1 50); do
        kill -0 "$XT_PEER_PID" 2>/dev/null || fail "turnutils_peer exited"
        if udp_listening "$XT_NS_PEER" "$XT_PEER4:$XT_PEER_PORT" "[$XT_PEER6]:$XT_PEER_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    fail "turnutils_peer not listening after 5 s"
}

# ns_run NS SECONDS OUT CMD...: CMD in NS, bounded by `timeout`, stdout and
# stderr to the file OUT. Run in the background and waited for, so a TERM from
# the guard is acted on at once. (The redirection is in here, not on the call:
# a trap running while a function's redirection is active would print into it.)
ns_run() {
    local ns=$1 secs=$2 out=$3 pid rc=0
    shift 3
    timeout -k 3 "$secs" ip netns exec "$ns" "$@" >"$out" 2>&1 </dev/null &
    pid=$!
    XT_PIDS+=("$pid")
    wait "$pid" || rc=$?
    xt_forget "$pid"
    [ "$rc" -ne 124 ] || log "timed out after ${secs}s: $*"
    return "$rc"
}

# run_uclient ARGS...: turnutils_uclient in the client ns, bounded; output in
# $XT_UCLIENT_OUT; returns uclient's exit status.
run_uclient() {
    local rc=0
    XT_UCLIENT_N=$((XT_UCLIENT_N + 1))
    XT_UCLIENT_OUT="$XT_TMP/uclient.$XT_UCLIENT_N.out"
    log "turnutils_uclient $*"
    ns_run "$XT_NS_CLIENT" "${XT_UCLIENT_TIMEOUT:-30}" "$XT_UCLIENT_OUT" turnutils_uclient "$@" || rc=$?
    return "$rc"
}

# stun_ok HOST: a STUN Binding request from the client ns to HOST:3478 must get
# a success response whose XOR-MAPPED-ADDRESS is the client's own address.
stun_ok() {
    local out="$XT_TMP/stun.out"
    ns_run "$XT_NS_CLIENT" 15 "$out" python3 "$XT_DIR/stun_binding.py" "$1" "$XT_PORT" 5 1 ||
        fail "STUN Binding to $1: $(tail -n 1 "$out")"
    log "$(tail -n 1 "$out")"
}

# REST API credentials for turnutils_uclient: -u USER -W SECRET.
# shellcheck disable=SC2034 # used by the tests
XT_REST_ARGS=(-u "$XT_USER" -W "$XT_SECRET")

# assert_no_loss FILE: from turnutils_uclient's closing statistics
#   start_mclient: tot_send_msgs=S, tot_recv_msgs=R
#   Total lost packets L (P%), total send dropped D (Q%)
# require S > 0, R == S, L == 0 and D == 0.
assert_no_loss() {
    local f=${1:-$XT_UCLIENT_OUT} counts sent recv lost dropped
    [ -s "$f" ] || fail "no uclient output in '$f'"
    counts=$(sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), tot_recv_msgs=([0-9]+)[[:space:]]*$/\1 \2/p' "$f" | tail -n 1)
    [ -n "$counts" ] || fail "uclient printed no final statistics (allocation or permission failed?)"
    read -r sent recv <<<"$counts"
    lost=$(sed -nE 's/.*Total lost packets ([0-9]+) .*/\1/p' "$f" | tail -n 1)
    dropped=$(sed -nE 's/.*total send dropped ([0-9]+) .*/\1/p' "$f" | tail -n 1)
    [ -n "$lost" ] || fail "no 'Total lost packets' line in uclient output"
    [ "$sent" -gt 0 ] || fail "uclient sent nothing (tot_send_msgs=0)"
    [ "$recv" -gt 0 ] || fail "uclient received nothing back (tot_recv_msgs=0 of $sent)"
    [ "$recv" -eq "$sent" ] || fail "uclient received $recv of $sent messages"
    [ "$lost" -eq 0 ] || fail "uclient lost $lost packets"
    [ "${dropped:-0}" -eq 0 ] || fail "uclient had $dropped send drops"
    log "no loss: sent=$sent received=$recv"
}

# uclient_ok ARGS...: run_uclient + assert_no_loss.
uclient_ok() {
    local rc=0
    run_uclient "$@" || rc=$?
    [ "$rc" -eq 0 ] || fail "turnutils_uclient exited with status $rc"
    assert_no_loss "$XT_UCLIENT_OUT"
}

ECHO_PORT=3490
ECHO_LOG="$XT_TMP/echo.log"
# start_echo: tcp_echo.py on both peer addresses, port ECHO_PORT; each connection it accepts is
# logged in ECHO_LOG (tcp_allocation.py reads it).
start_echo() {
    local pid
    ip netns exec "$XT_NS_PEER" python3 "$XT_DIR/tcp_echo.py" "$ECHO_LOG" "$XT_PEER4:$ECHO_PORT" \
        "[$XT_PEER6]:$ECHO_PORT" >"$XT_TMP/echo.out" 2>&1 </dev/null &
    pid=$!
    XT_PIDS+=("$pid")
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || fail "tcp_echo.py exited: $(cat "$XT_TMP/echo.out")"
        tcp_listening "$XT_NS_PEER" "$XT_PEER4:$ECHO_PORT" "[$XT_PEER6]:$ECHO_PORT" && return 0
        sleep 0.1
    done
    fail "tcp_echo.py not listening after 5 s"
}

# wait_log TEXT [WHY]: up to 5 s for a daemon log line containing TEXT; else fail with WHY.
wait_log() {
    local _i
    for _i in $(seq 1 50); do
        grep -qF -- "$1" "$XT_LOG" && return 0
        sleep 0.1
    done
    fail "${2:-no log line with \"$1\" after 5 s}"
}

# pass: the test's last word.
pass() {
    log "PASS ($((SECONDS - XT_START)) s)"
    exit 0
}

# ---- live upgrade ----

# The old process's log line once it has handed over (its text may grow: matched up to here).
XT_HANDED_OVER='"message":"live upgrade: handed over'

# upgrade_bin_init [FILE]: the daemon is to run from a copy of FILE (default: the binary under
# test) at $XT_TMP/bin/xturn, which replace_binary replaces; XTURN names the copy.
upgrade_bin_init() {
    mkdir -p "$XT_TMP/bin"
    cp "${1:-$XTURN}" "$XT_TMP/bin/xturn"
    chmod 0755 "$XT_TMP/bin/xturn"
    XTURN="$XT_TMP/bin/xturn"
}

# replace_binary FILE: FILE becomes the binary at $XTURN as a package upgrade does it (a new
# inode renamed over the old one).
replace_binary() {
    cp "$1" "$XTURN.new"
    chmod 0755 "$XTURN.new"
    mv -f "$XTURN.new" "$XTURN"
}

# live_upgrade: SIGUSR2 to the daemon (XT_DAEMON_PID), then a bounded wait (15 s) until it is
# gone: it must have logged its hand-over and exited 0 (xt_reap: start
# the daemon with XT_REAP=1 to upgrade a daemon that is not this shell's child, or to read the
# status of the one after). The new process, the new_pid of that log line, becomes
# XT_DAEMON_PID (and is added to XT_PIDS); it must run, from the file now at $XTURN.
live_upgrade() {
    local old=$XT_DAEMON_PID secs=15 n new exe
    daemon_alive || fail "no daemon running to upgrade"
    n=$(grep -c "$XT_HANDED_OVER" "$XT_LOG" || true)
    log "live upgrade: SIGUSR2 to $old"
    kill -USR2 "$old"
    wait_gone "$old" "$secs" || fail "the old process ($old) still runs $secs s after SIGUSR2"
    xt_reap "$old"
    XT_DAEMON_PID=""
    [ "$XT_STATUS" -eq 0 ] || fail "the old process exited with status $XT_STATUS after SIGUSR2 (want 0)"
    [ "$(grep -c "$XT_HANDED_OVER" "$XT_LOG" || true)" -gt "$n" ] ||
        fail "the old process exited without logging its hand-over"
    new=$(grep "$XT_HANDED_OVER" "$XT_LOG" | tail -n 1 | sed -nE 's/.*"new_pid":([0-9]+).*/\1/p')
    [ -n "$new" ] || fail "no new_pid in the hand-over log line"
    kill -0 "$new" 2>/dev/null || fail "the new process ($new) does not run"
    XT_DAEMON_PID=$new
    XT_PIDS+=("$new")
    exe=$(readlink "/proc/$new/exe" || true)
    [ "$exe" = "$(readlink -f "$XTURN")" ] || fail "the new process runs '$exe', not $XTURN"
    [ "$(stat -L -c %i "/proc/$new/exe")" = "$(stat -c %i "$XTURN")" ] ||
        fail "the new process does not run the file now at $XTURN (another inode)"
    log "handed over to pid $new: $(grep "$XT_HANDED_OVER" "$XT_LOG" | tail -n 1 | grep -oE '"(allocations|sockets|paused_ms)":[0-9]+' | tr '\n' ' ')"
}

# taken_over NAME: the number NAME (allocations, sockets, ...) of the latest "live upgrade:
# state taken over" log line (the new process's), empty without one.
taken_over() {
    { grep '"message":"live upgrade: state taken over' "$XT_LOG" || true; } | tail -n 1 |
        sed -nE "s/.*\"$1\":([0-9]+).*/\1/p"
}

# bg_uclient OUT ARGS...: turnutils_uclient in the client ns, in the background, bounded by
# XT_BG_TIMEOUT (40 s); output in OUT, pid in BG_PID.
bg_uclient() {
    local out=$1
    shift
    log "turnutils_uclient $* (in the background)"
    timeout -k 3 "${XT_BG_TIMEOUT:-40}" ip netns exec "$XT_NS_CLIENT" turnutils_uclient "$@" \
        >"$out" 2>&1 </dev/null &
    BG_PID=$!
    XT_PIDS+=("$BG_PID")
}

# bg_wait PID WHAT: a background process of ours; its exit status must be 0.
bg_wait() {
    local rc=0
    wait "$1" || rc=$?
    xt_forget "$1"
    [ "$rc" -eq 0 ] || fail "$2 exited with status $rc"
}

# await_sessions PIDS [XDP_COUNTER...]: at most 10 s until every session relays: to peers at
# least 200 packets over TCP and in userspace from IPv4 and from IPv6 clients (the workers
# publish their counts once a second; start_xturn with --metrics), and each XDP_COUNTER at least
# 200 (their values then in XDP_AT[counter]). Then every session of PIDS (the name of an
# associative array: session -> pid, output in $XT_TMP/session.out) must still run.
await_sessions() {
    local -n _pids=$1
    shift
    local R=xturn_relayed_packets_total deadline=$((SECONDS + 10)) counters="" ok n c s tcp udp4 udp6
    declare -gA XDP_AT=()
    while :; do
        ok=1
        metrics_fetch || true
        tcp=$(metric_of $R 'transport="tcp",direction="to_peer"')
        udp4=$(metric_of $R 'path="userspace",transport="udp",direction="to_peer",client_family="ipv4"')
        udp6=$(metric_of $R 'path="userspace",transport="udp",direction="to_peer",client_family="ipv6"')
        for n in "$tcp" "$udp4" "$udp6"; do
            [ "$n" -ge 200 ] || ok=0
        done
        [ "$#" -eq 0 ] || counters=$(xdp_counters)
        for c in "$@"; do
            XDP_AT[$c]=$(awk -v n="$c" '$1 == n { print $2 }' <<<"$counters")
            [ "${XDP_AT[$c]:-0}" -ge 200 ] || ok=0
        done
        if [ "$ok" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
        sleep 0.2
    done
    [ "$ok" = 1 ] || fail "not every session relaying after 10 s: to peers $tcp over TCP, $udp4 and $udp6 from IPv4 and IPv6 clients in userspace${counters:+, XDP $(awk '$2 > 0' <<<"$counters" | tr '\n' ' ')}"
    for s in "${!_pids[@]}"; do
        kill -0 "${_pids[$s]}" 2>/dev/null || fail "the $s session ended before the switch: $(tail -n 3 "$XT_TMP/$s.out")"
    done
    log "relaying: to peers $tcp over TCP, $udp4 and $udp6 from IPv4 and IPv6 clients in userspace$(for c in "$@"; do printf ', %s %s' "$c" "${XDP_AT[$c]}"; done)"
}

# bg_uclient_ok PID OUT WHAT: bg_wait, then assert_no_loss on OUT.
bg_uclient_ok() {
    XT_UCLIENT_OUT=$2
    bg_wait "$1" "$3"
    log "$3 ended:"
    assert_no_loss "$2"
}

# ---- xturn-bench ----

BENCH=${XTURN_BENCH_BIN:-$XT_ROOT/build/xturn-bench}
case "$BENCH" in /*) ;; *) BENCH="$XT_ROOT/$BENCH" ;; esac
SINK_PORT=3490
SINK_OUT=""
SINK_ERR=""
SINK_PID=""

# start_bench_sink [OUTFILE]: `xturn-bench sink --echo` on both peer addresses, port SINK_PORT;
# its JSON report (on SIGTERM) goes to OUTFILE (default $XT_TMP/sink.json), stderr to
# OUTFILE.err (SINK_OUT, SINK_ERR; its pid in SINK_PID).
start_bench_sink() {
    local i
    [ -x "$BENCH" ] || fail "$BENCH missing (make; or set XTURN_BENCH_BIN)"
    SINK_OUT=${1:-$XT_TMP/sink.json}
    SINK_ERR="$SINK_OUT.err"
    ip netns exec "$XT_NS_PEER" env --default-signal "$BENCH" sink --echo --json \
        --listen "$XT_PEER4:$SINK_PORT" --listen "[$XT_PEER6]:$SINK_PORT" \
        >"$SINK_OUT" 2>"$SINK_ERR" </dev/null &
    SINK_PID=$!
    XT_PIDS+=("$SINK_PID")
    for i in $(seq 1 50); do
        kill -0 "$SINK_PID" 2>/dev/null || fail "sink exited: $(cat "$SINK_ERR")"
        if udp_listening "$XT_NS_PEER" "$XT_PEER4:$SINK_PORT" "[$XT_PEER6]:$SINK_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    fail "sink not listening after 5 s"
}

# ---- XDP ----

# xdp_prepare [FORWARDING]: what a relay host needs for the XDP fast path (topology.sh,
# topology_prepare_xdp): forwarding on (the default: next hops from bpf_fib_lookup) or off (from
# xturn's rtnetlink lookups) on the relay host, and a pass-through program on the router's end of
# its veth, without which a veth drops the frames the relay sends back with XDP_TX.
# shellcheck disable=SC2034 # used by the XDP tests
XT_RELAY_DEV="xt${XT_ID}r0"
xdp_prepare() {
    local pass_obj="$XT_ROOT/build/bpf/xdp_pass.bpf.o" on
    [ -f "$pass_obj" ] || fail "$pass_obj missing (make all)"
    topology_prepare_xdp "xt$XT_ID" "$pass_obj" "${1:-on}" ||
        fail "cannot prepare the relay host for XDP (forwarding, pass-through program)"
    if [ "${1:-on}" = off ]; then
        on=$(forwarding_all "$XT_NS_RELAY")
        [ "$on" = 0 ] || fail "forwarding still on in the relay host: $on"
    fi
}

# xdp_counters: the XDP counters of the daemon on the relay's interface (`xturn stats
# --interface`) as "name packets" lines.
xdp_counters() {
    ns_exec "$XT_NS_RELAY" "$XTURN" stats --interface "$XT_RELAY_DEV" | python3 -c '
import json, sys
progs = [json.loads(l) for l in sys.stdin if l.strip()]
newest = max(progs, key=lambda p: p["program_id"])
for name, c in newest["counters"].items():
    print(name, c["packets"])
'
}

# xdp_count NAME: one counter from xdp_counters.
xdp_count() {
    xdp_counters | awk -v n="$1" '$1 == n { print $2 }'
}

# xdp_assert_at_least NAME MIN. Tests ask for 95% of what they sent: a packet whose next hop
# the kernel has not resolved yet (pass_no_neigh), or with forwarding off xturn is resolving
# (pass_resolving), is passed up and relayed by userspace.
xdp_assert_at_least() {
    local v
    v=$(xdp_count "$1")
    [ -n "$v" ] || fail "no XDP counter $1"
    [ "$v" -ge "$2" ] || fail "XDP counter $1 is $v, expected at least $2 ($(xdp_counters | awk '$2 > 0' | tr '\n' ' '))"
    log "xdp $1 = $v"
}

# xdp_prog_id: the id of the XDP program on the relay's interface; empty without one.
xdp_prog_id() {
    ns_exec "$XT_NS_RELAY" ip -d link show dev "$XT_RELAY_DEV" | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'
}

# xdp_links PID: "link_id prog_id" of every XDP link the process holds an fd of (the host may
# hold other tests' xturn links).
xdp_links() {
    local f
    for f in /proc/"$1"/fdinfo/*; do
        awk '$1 == "link_type:" { t = $2 } $1 == "link_id:" { l = $2 } $1 == "prog_id:" { p = $2 }
             END { if (t == "xdp" && l != "") print l, p }' "$f" 2>/dev/null
    done | sort -u
}

# xdp_prog_maps PROG_ID: the ids of the program's maps, one a line, sorted.
xdp_prog_maps() {
    bpftool prog show id "$1" | sed -nE 's/.*map_ids ([0-9,]+).*/\1/p' | tr ',' '\n' | sort
}

# xdp_live_upgrade: a live upgrade of the daemon (started with --xdp on $XT_RELAY_DEV) while a
# client relays ChannelData 4->4 through the kernel (8 s, 2 channels x 1600 messages, echoed by
# the peer): SIGUSR2 once the kernel relayed 200; the old process exits 0; the new one runs
# (XT_DAEMON_PID) and holds the old one's link (UP_LINK), running its own xturn_xdp program
# (UP_PROG; UP_OLD_PROG before), which ip link shows; the session ends without loss; the XDP
# counters went on counting across the switch, never back (UP_C2P: c2p_44 after the session).
xdp_live_upgrade() {
    local old_pid=$XT_DAEMON_PID old_link chan_pid before during back links new_pid
    UP_OLD_PROG=$(xdp_prog_id)
    [ -n "$UP_OLD_PROG" ] || fail "no XDP program on $XT_RELAY_DEV after start"
    read -r old_link _ <<<"$(xdp_links "$old_pid")"
    [ -n "$old_link" ] || fail "the daemon holds no XDP link after start"
    timeout -k 3 40 ip netns exec "$XT_NS_CLIENT" turnutils_uclient "${XT_REST_ARGS[@]}" -n 1600 \
        -l 120 -z 5 -e "$XT_PEER4" "$XT_RELAY4" >"$XT_TMP/chan.out" 2>&1 </dev/null &
    chan_pid=$!
    XT_PIDS+=("$chan_pid")
    for _ in $(seq 1 50); do
        before=$(xdp_count c2p_44)
        [ "${before:-0}" -ge 200 ] && break
        sleep 0.1
    done
    [ "${before:-0}" -ge 200 ] || fail "the kernel relayed only ${before:-0} packets before the switch"

    log "c2p_44 $before before the switch (program $UP_OLD_PROG, link $old_link)"
    live_upgrade
    during=$(xdp_count c2p_44)
    new_pid=$XT_DAEMON_PID
    grep -q '"message":"xdp taken over"' "$XT_LOG" || fail "no 'xdp taken over' log line"

    # One xturn link: the same link, now running the new process's program, held by it.
    links=$(xdp_links "$new_pid")
    [ "$(wc -l <<<"$links")" -eq 1 ] || fail "the new process holds XDP links '$links' (want one)"
    read -r UP_LINK UP_PROG <<<"$links"
    [ "$UP_LINK" = "$old_link" ] || fail "the new process holds link $UP_LINK, not the old one ($old_link)"
    [ "$UP_PROG" != "$UP_OLD_PROG" ] || fail "the link still runs the old program ($UP_OLD_PROG)"
    [ "$(bpftool -j prog show id "$UP_PROG" | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])')" = xturn_xdp ] ||
        fail "the link runs program $UP_PROG, not an xturn_xdp"
    if [ "$(ns_exec "$XT_NS_RELAY" ip -d link show dev "$XT_RELAY_DEV" | grep -c 'prog/xdp')" -ne 1 ] ||
        [ "$(xdp_prog_id)" != "$UP_PROG" ]; then
        fail "ip link shows program '$(xdp_prog_id)', the link runs $UP_PROG"
    fi
    log "link $UP_LINK runs program $UP_PROG (was $UP_OLD_PROG), held by the new process $new_pid"

    wait "$chan_pid" || fail "the session across the switch exited with status $?"
    xt_forget "$chan_pid"
    assert_no_loss "$XT_TMP/chan.out"
    UP_C2P=$(xdp_count c2p_44)
    back=$(xdp_count p2c_44)
    # The session sent 3200 ChannelData.
    if [ "$during" -lt "$before" ] || [ "$UP_C2P" -le "$during" ] || [ "$UP_C2P" -lt 3000 ]; then
        fail "c2p_44: $before before the switch, $during once handed over, $UP_C2P after the session"
    fi
    [ "$back" -ge 3000 ] || fail "p2c_44 counted $back (want the session's 3200 at least, most)"
    log "c2p_44 $before, $during, $UP_C2P; p2c_44 $back; $(grep -o '"paused_ms":[0-9]*' "$XT_LOG" | tail -n 1)"
}

# capture_start NS DEV NAME: tcpdump of UDP on DEV in NS into $XT_TMP/NAME.pcap until the
# test stops it with capture_stop (or the cleanup does).
capture_start() {
    local ns=$1 dev=$2 name=$3 i
    ip netns exec "$ns" tcpdump -i "$dev" -nn -U -s 256 -w "$XT_TMP/$name.pcap" udp \
        >"$XT_TMP/$name.tcpdump.log" 2>&1 </dev/null &
    XT_PIDS+=("$!")
    for i in $(seq 1 50); do
        grep -q 'listening on' "$XT_TMP/$name.tcpdump.log" && return 0
        sleep 0.1
    done
    fail "tcpdump on $dev did not start"
}

# capture_check NAME MIN: after the captures were stopped, the file holds at least MIN UDP
# packets and tcpdump's verification finds no bad IP or UDP checksum in any of them.
capture_check() {
    local name=$1 min=$2 text total ok bad
    text=$(tcpdump -nn -vv -r "$XT_TMP/$name.pcap" 2>/dev/null)
    total=$(grep -c 'UDP, length' <<<"$text" || true)
    ok=$(grep -c 'udp sum ok' <<<"$text" || true)
    bad=$(grep -ci 'bad udp cksum\|bad cksum' <<<"$text" || true)
    [ "$total" -ge "$min" ] || fail "capture $name: $total UDP packets, expected at least $min"
    [ "$bad" -eq 0 ] || fail "capture $name: $bad packets with bad checksums: $(grep -i -m 3 'bad' <<<"$text")"
    [ "$ok" -eq "$total" ] || fail "capture $name: only $ok of $total UDP checksums verified good"
    log "capture $name: $total packets, every checksum good"
}

# capture_stop: end every tcpdump of this test (they flush on SIGTERM).
capture_stop() {
    local pid
    for pid in $(pgrep -f "tcpdump -i xt${XT_ID}" || true); do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
}

# userspace_relayed: "to_peer to_client" packets the daemon relayed itself, from its last
# stats log line (written at shutdown).
userspace_relayed() {
    grep '"message":"stats"' "$XT_LOG" | tail -n 1 |
        python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(s["to_peer_packets"], s["to_client_packets"])'
}

# ---- live upgrade ----

# stop_upgraded PID: SIGTERM to the daemon a live upgrade started (not this shell's child: no exit
# status to see), then what stop_xturn requires of the rest.
stop_upgraded() {
    kill -TERM "$1"
    wait_gone "$1" 5 || fail "the new process still runs 5 s after SIGTERM"
    xt_forget "$1"
    grep -v '^[[:space:]]*$' "$XT_LOG" | tail -n 1 | grep -qF 'xturn stopped' ||
        fail "the last log line is not 'xturn stopped'"
    assert_json_log
    if grep -qE 'Sanitizer|runtime error:' "$XT_ERR"; then
        fail "sanitizer report on daemon stderr"
    fi
}

# ---- TLS ----

# make_cert [NAME]: a self-signed certificate and key (EC P-256, 2 days) in $XT_TMP/NAME.pem and
# $XT_TMP/NAME.key.pem (NAME: cert), for --tls-cert and --tls-key; XT_CERT and XT_KEY name them.
make_cert() {
    XT_CERT="$XT_TMP/${1:-cert}.pem" XT_KEY="$XT_TMP/${1:-cert}.key.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=${1:-xturn-test}" -keyout "$XT_KEY" -out "$XT_CERT" >/dev/null 2>&1 ||
        fail "openssl could not make a certificate"
}

# metric NAME [LABEL]: the sum of the series NAME{...} whose labels contain LABEL (e.g.
# 'reason="not_turn"'), scraped from the daemon's /metrics at $XT_RELAY4:${XT_MPORT:-9641}
# (start_xturn with --metrics "$XT_RELAY4:$XT_MPORT").
metric() {
    ns_exec "$XT_NS_RELAY" python3 - "$XT_RELAY4" "${XT_MPORT:-9641}" "$1" "${2:-}" <<'PY'
import sys, urllib.request
host, port, name, label = sys.argv[1:]
body = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
print(sum(int(l.rsplit(" ", 1)[1]) for l in body.splitlines()
          if l.startswith(name + "{") and label in l))
PY
}

# metrics_fetch: the daemon's /metrics, as metric reads it, into $XT_TMP/metrics.txt (false if
# it does not answer); metric_of NAME [LABEL]: metric's sum from that copy (one scrape for
# several values).
metrics_fetch() {
    ns_exec "$XT_NS_RELAY" python3 - "$XT_RELAY4" "${XT_MPORT:-9641}" >"$XT_TMP/metrics.txt" <<'PY'
import sys, urllib.request
host, port = sys.argv[1:]
sys.stdout.write(urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode())
PY
}
metric_of() {
    awk -v n="$1{" -v l="${2:-}" 'index($0, n) == 1 && (l == "" || index($0, l)) { s += $NF } END { print s + 0 }' \
        "$XT_TMP/metrics.txt"
}
