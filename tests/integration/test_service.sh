#!/usr/bin/env bash
# systemd integration without a running systemd:
#  1. contrib/xturn.service passes `systemd-analyze verify` unchanged (ExecStart=/usr/local/bin/
#     xturn is provided by a tmpfs over /usr/local/bin in a private mount namespace, holding
#     build/xturn: the host is not touched), with no warning at all, and its offline security
#     exposure stays low; every variable of contrib/xturn.env is one of xturn's.
#  2. the sd_notify protocol, emulated by a unix datagram socket in NOTIFY_SOCKET: READY=1 (with
#     STATUS=) arrives from the daemon's pid once it listens (a STUN Binding sent the moment it
#     arrives is answered), WATCHDOG=1 about every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM, then
#     a clean exit. Again dropped to nobody with --drain-timeout: READY=1 comes from uid nobody
#     (notifications work after the drop), no WATCHDOG=1 when WATCHDOG_PID names another
#     process, STOPPING=1 when draining starts. A live upgrade (SIGUSR2): the new process sends
#     MAINPID=its pid with READY=1 once it answers, then WATCHDOG=1; the old one exits 0 without
#     STOPPING=1.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-90}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

UNIT="$XT_ROOT/contrib/xturn.service"
ENV_EXAMPLE="$XT_ROOT/contrib/xturn.env"
MAX_EXPOSURE=3.0 # systemd-analyze security: 0 safe .. 10 unsafe; the unit scores 2.0 on 252
NOTIFY_LOG=""

need_root
[ -x "$XTURN" ] || fail "daemon binary $XTURN missing (make)"
command -v systemd-analyze >/dev/null || "$XT_ROOT/scripts/install-deps.sh" >&2 ||
    fail "systemd-analyze missing (Debian package systemd) and install-deps failed"

# ---- 1. the unit file ----
out="$XT_TMP/verify.out"
rc=0
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private sh -c '
    mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin && cp "$1" /usr/local/bin/xturn &&
    systemd-analyze verify --man=false "$2"' sh "$XTURN" "$UNIT" >"$out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "systemd-analyze verify failed ($rc): $(cat "$out")"
[ ! -s "$out" ] || fail "systemd-analyze verify warns: $(cat "$out")"
log "systemd-analyze verify: clean"
systemd-analyze security --offline=true "$UNIT" >"$out" 2>&1 || true
exposure=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' "$out")
[ -n "$exposure" ] || fail "no exposure level from systemd-analyze security: $(tail -n 3 "$out")"
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
    fail "security exposure $exposure above $MAX_EXPOSURE: $(grep '✗' "$out")"
log "systemd-analyze security: exposure $exposure"
known=$("$XTURN" --help | grep -oE '\[XTURN_[A-Z0-9_]+\]' | tr -d '[]')
n=0
while IFS= read -r line; do
    line=${line#\#} # commented-out examples must be right too
    [[ "$line" =~ ^(XTURN_[A-Z0-9_]+)= ]] || continue
    grep -qxF "${BASH_REMATCH[1]}" <<<"$known" || fail "contrib/xturn.env: unknown variable ${BASH_REMATCH[1]}"
    n=$((n + 1))
done <"$ENV_EXAMPLE"
[ "$n" -ge 3 ] || fail "contrib/xturn.env: only $n variables"
grep -q '^XTURN_AUTH_SECRET=' "$ENV_EXAMPLE" && fail "contrib/xturn.env sets a secret in clear"
log "contrib/xturn.env: $n variables, all known"

# ---- 2. sd_notify ----
cat >"$XT_TMP/notify.py" <<'EOF'
# A service manager's notification socket: logs every datagram as
#   TIME pid=PID uid=UID FIELDS (newlines as '|') [stun=ok|fail]
# and, on READY=1, at once sends a STUN Binding request to HOST:PORT (3 tries, 1 s each).
import os, socket, struct, sys, time

path, out, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def stun_ok():
    tid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    for _ in range(3):
        u.sendto(req, (host, port))
        try:
            resp = u.recv(2048)
        except socket.timeout:
            continue
        if len(resp) >= 20 and struct.unpack("!H", resp[:2])[0] == 0x0101 and resp[8:20] == tid:
            return True
    return False

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # the daemon may send after dropping to another user
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = uid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iII", data[:12])
        fields = msg.decode(errors="replace").split("\n")
        extra = (" stun=" + ("ok" if stun_ok() else "fail")) if "READY=1" in fields else ""
        f.write(f"{time.time():.3f} pid={pid} uid={uid} {'|'.join(fields)}{extra}\n")
EOF

# notify_start NAME: the listener in the relay ns (so its STUN request reaches the relay address).
notify_start() {
    local sock="$XT_TMP/$1.sock" i
    NOTIFY_LOG="$XT_TMP/$1.notify"
    ip netns exec "$XT_NS_RELAY" python3 "$XT_TMP/notify.py" "$sock" "$NOTIFY_LOG" "$XT_RELAY4" \
        "$XT_PORT" </dev/null 2>"$XT_TMP/$1.notify.err" &
    XT_PIDS+=("$!")
    for i in $(seq 1 50); do
        grep -qx listening "$NOTIFY_LOG" 2>/dev/null && break
        sleep 0.1
    done
    grep -qx listening "$NOTIFY_LOG" 2>/dev/null || fail "notify listener did not start: $(cat "$XT_TMP/$1.notify.err")"
    NOTIFY_SOCKET=$sock
}

# notify_count FIELD: messages from the daemon (NOTIFY_PID) holding FIELD (e.g. READY=1).
NOTIFY_PID=""
notify_count() {
    awk -v p="pid=$NOTIFY_PID" -v f="$1" '
        $2 == p { n = split($4, a, "|"); for (i = 1; i <= n; i++) if (a[i] == f) { c++; break } }
        END { print c + 0 }' "$NOTIFY_LOG"
}

# notify_wait FIELD: up to 5 s for it.
notify_wait() {
    local i
    for i in $(seq 1 50); do
        [ "$(notify_count "$1")" -gt 0 ] && return 0
        sleep 0.1
    done
    fail "no $1 from pid $NOTIFY_PID within 5 s: $(cat "$NOTIFY_LOG")"
}

# The first line number holding FIELD (0: none), for ordering.
notify_line() {
    awk -v f="$1" '{ n = split($4, a, "|"); for (i = 1; i <= n; i++) if (a[i] == f) { print NR; exit } }
        END { if (!NR) print 0 }' "$NOTIFY_LOG" | head -n 1
}

topo_up
chmod 0711 "$XT_TMP" # the daemon reaches the socket in here after dropping to nobody too

notify_start run1
export NOTIFY_SOCKET WATCHDOG_USEC=2000000 # a ping at least every second
start_xturn --workers 2
unset NOTIFY_SOCKET WATCHDOG_USEC
NOTIFY_PID=$XT_DAEMON_PID
notify_wait READY=1
grep -E "pid=$XT_DAEMON_PID .*READY=1" "$NOTIFY_LOG" | grep -q 'stun=ok' ||
    fail "READY=1 came before the relay answered: $(grep READY=1 "$NOTIFY_LOG")"
grep -E "READY=1" "$NOTIFY_LOG" | grep -q '|STATUS=' || fail "READY=1 without STATUS="
log "READY=1 from pid $XT_DAEMON_PID, relay answering at that moment"
[ "$(notify_count STOPPING=1)" -eq 0 ] || fail "STOPPING=1 before any signal"
sleep 3.5
w=$(notify_count WATCHDOG=1)
[ "$w" -ge 3 ] || fail "$w WATCHDOG=1 in 3.5 s with WATCHDOG_USEC=2000000: $(cat "$NOTIFY_LOG")"
[ "$w" -le 6 ] || fail "$w WATCHDOG=1 in 3.5 s: too many"
log "$w WATCHDOG=1 in 3.5 s"
stop_xturn TERM
[ "$(notify_count STOPPING=1)" -ge 1 ] || fail "no STOPPING=1 on SIGTERM: $(cat "$NOTIFY_LOG")"
[ "$(notify_line READY=1)" -lt "$(notify_line STOPPING=1)" ] || fail "STOPPING=1 before READY=1"
log "STOPPING=1 on SIGTERM, exit 0"

notify_start run2
export NOTIFY_SOCKET WATCHDOG_USEC=2000000 WATCHDOG_PID=1 # the watchdog is someone else's
start_xturn --workers 2 --run-as-user nobody --drain-timeout 10
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
NOTIFY_PID=$XT_DAEMON_PID
notify_wait READY=1
grep -E "pid=$XT_DAEMON_PID uid=$(id -u nobody) .*READY=1" "$NOTIFY_LOG" | grep -q 'stun=ok' ||
    fail "READY=1 not from nobody with the relay answering: $(cat "$NOTIFY_LOG")"
sleep 1.5
[ "$(notify_count WATCHDOG=1)" -eq 0 ] || fail "WATCHDOG=1 although WATCHDOG_PID is not the daemon"
stop_xturn TERM # draining, which ends at once: no allocation
grep -q '"message":"draining' "$XT_LOG" || fail "no draining log line"
[ "$(notify_count STOPPING=1)" -ge 1 ] || fail "no STOPPING=1 when draining: $(cat "$NOTIFY_LOG")"
log "after the drop: READY=1 from nobody, no foreign watchdog, STOPPING=1 when draining"

# ---- 3. a live upgrade (SIGUSR2, the unit's second ExecReload=) ----
notify_start run3
export NOTIFY_SOCKET WATCHDOG_USEC=2000000
start_xturn --workers 2
unset NOTIFY_SOCKET WATCHDOG_USEC
old_pid=$XT_DAEMON_PID
NOTIFY_PID=$old_pid
notify_wait READY=1
kill -USR2 "$old_pid"
wait_gone "$old_pid" 10 || fail "the old process still runs 10 s after SIGUSR2"
rc=0
wait "$old_pid" || rc=$?
xt_forget "$old_pid"
[ "$rc" -eq 0 ] || fail "the old process exited with status $rc after the hand-over"
new_pid=$(sed -nE 's/.* pid=([0-9]+) .*MAINPID=\1\|READY=1.*/\1/p' "$NOTIFY_LOG" | head -n 1)
[ -n "$new_pid" ] || fail "no MAINPID= with READY=1 from the new process: $(cat "$NOTIFY_LOG")"
XT_PIDS+=("$new_pid")
grep -E "pid=$new_pid .*MAINPID=$new_pid\|READY=1" "$NOTIFY_LOG" | grep -q 'stun=ok' ||
    fail "READY=1 of the new process came before it answered: $(cat "$NOTIFY_LOG")"
NOTIFY_PID=$old_pid
[ "$(notify_count STOPPING=1)" -eq 0 ] || fail "STOPPING=1 from the old process: systemd would stop"
NOTIFY_PID=$new_pid
sleep 1.5
[ "$(notify_count WATCHDOG=1)" -ge 1 ] || fail "no WATCHDOG=1 from the new process"
kill -TERM "$new_pid"
wait_gone "$new_pid" 5 || fail "the new process still runs 5 s after SIGTERM"
xt_forget "$new_pid"
[ "$(notify_count STOPPING=1)" -ge 1 ] || fail "no STOPPING=1 from the new process on SIGTERM"
log "live upgrade: MAINPID=$new_pid with READY=1 from the new process, its watchdog, old exit 0"

pass
