#!/usr/bin/env bash
# Privilege dropping, in the two ways xturn runs without root:
#  1. started as root with --xdp --run-as-user nobody: after attaching XDP and binding its listen
#     sockets it runs as nobody:nogroup (no supplementary group) with no capability at all
#     (CAP_BPF only on a kernel that gates every bpf() command on it; no CAP_NET_ADMIN: closing
#     its BPF link detaches XDP without one), the same inheritable and ambient, the bounding set
#     cut down to the same, no_new_privs, in every thread; relays with zero loss through XDP;
#     detaches XDP and exits 0 on SIGTERM.
#  2. started as systemd starts contrib/xturn.service (emulated with setpriv: a non-root user,
#     ambient and bounding sets CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_BIND_SERVICE,
#     no_new_privs): that
#     set is enough to load and attach the XDP program, xturn then trims it to what it still
#     needs (here CAP_NET_BIND_SERVICE: --relay-ports below 1024), relays, re-reads its secret
#     file on SIGHUP; a live upgrade (SIGUSR2) then starts the new process with those kept
#     capabilities, which takes the running XDP program over without loading one, relays on
#     without loss and binds low ports; it detaches and exits 0.
# In both, the secret (XTURN_AUTH_SECRET / XTURN_AUTH_SECRET_FILE) is in neither the command
# line nor the log. And: an unknown user, or root, is refused at start (exit 2) with nothing left
# attached.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

CAP_NET_BIND_SERVICE=10 CAP_NET_ADMIN=12 CAP_PERFMON=38 CAP_BPF=39
RUN_USER=nobody
RUN_UID=$(id -u "$RUN_USER")
RUN_GID=$(id -g "$RUN_USER")

# cap_mask BIT...: the /proc/PID/status hex form of a capability set.
cap_mask() {
    local m=0 b
    for b in "$@"; do m=$((m | (1 << b))); done
    printf '%016x' "$m"
}

# The kernel gates every bpf() command on CAP_BPF before 6.5 when unprivileged BPF is disabled;
# there xturn keeps CAP_BPF for its map updates. Elsewhere it must drop it.
bpf_gated() {
    local v major minor
    v=$(uname -r)
    major=${v%%.*}
    minor=${v#*.}
    minor=${minor%%[!0-9]*}
    [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 5 ]; } || return 1
    [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" != 0 ]
}

# status_field PID|PID/task/TID FIELD: a /proc status line's value (tabs and spaces squeezed).
status_field() {
    awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }' "/proc/$1/status"
}

# assert_dropped GROUPS BOUNDING CAPBITS...: every thread of the daemon runs as RUN_USER with
# these supplementary groups, exactly these capabilities permitted, effective, inheritable and
# ambient (a live upgrade's new binary keeps them), the bounding set BOUNDING (hex; "same":
# CAPBITS), and no_new_privs.
assert_dropped() {
    local groups=$1 bnd=$2 want t n=0
    shift 2
    want=$(cap_mask "$@")
    [ "$bnd" != same ] || bnd=$want
    for t in /proc/"$XT_DAEMON_PID"/task/*; do
        t=${t#/proc/}
        n=$((n + 1))
        [ "$(status_field "$t" Uid)" = "$RUN_UID $RUN_UID $RUN_UID $RUN_UID" ] ||
            fail "thread $t: Uid is '$(status_field "$t" Uid)', want $RUN_UID x4"
        [ "$(status_field "$t" Gid)" = "$RUN_GID $RUN_GID $RUN_GID $RUN_GID" ] ||
            fail "thread $t: Gid is '$(status_field "$t" Gid)', want $RUN_GID x4"
        [ "$(status_field "$t" Groups)" = "$groups" ] ||
            fail "thread $t: supplementary groups '$(status_field "$t" Groups)', want '$groups'"
        [ "$(status_field "$t" CapPrm)" = "$want" ] ||
            fail "thread $t: CapPrm $(status_field "$t" CapPrm), want $want"
        [ "$(status_field "$t" CapEff)" = "$want" ] ||
            fail "thread $t: CapEff $(status_field "$t" CapEff), want $want"
        [ "$(status_field "$t" CapBnd)" = "$bnd" ] ||
            fail "thread $t: CapBnd $(status_field "$t" CapBnd), want $bnd"
        [ "$(status_field "$t" CapInh)" = "$want" ] ||
            fail "thread $t: CapInh $(status_field "$t" CapInh), want $want"
        [ "$(status_field "$t" CapAmb)" = "$want" ] ||
            fail "thread $t: CapAmb $(status_field "$t" CapAmb), want $want"
        [ "$(status_field "$t" NoNewPrivs)" = 1 ] || fail "thread $t: NoNewPrivs is not set"
    done
    [ "$n" -ge 3 ] || fail "only $n threads: want the main thread and 2 workers"
    log "$n threads run as $RUN_USER ($RUN_UID:$RUN_GID) with capabilities $want only"
}

# assert_secret_hidden SECRET: not in the daemon's command line (its process title) nor its log.
assert_secret_hidden() {
    tr '\0' ' ' <"/proc/$XT_DAEMON_PID/cmdline" | grep -qF -- "$1" &&
        fail "the secret is in /proc/$XT_DAEMON_PID/cmdline"
    grep -qF -- "$1" "$XT_LOG" "$XT_ERR" && fail "the secret is in the daemon's log"
    log "secret in neither the command line nor the log"
}

assert_detached() {
    if ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" | grep 'prog/xdp' >/dev/null; then
        fail "XDP program still attached ($1)"
    fi
    log "XDP detached ($1)"
}

# xdp_moved MIN: the kernel relayed at least MIN packets each way (4->4), in one `xturn stats`.
xdp_moved() {
    local c c2p p2c
    c=$(xdp_counters)
    c2p=$(awk '$1 == "c2p_44" { print $2 }' <<<"$c")
    p2c=$(awk '$1 == "p2c_44" { print $2 }' <<<"$c")
    if [ "${c2p:-0}" -lt "$1" ] || [ "${p2c:-0}" -lt "$1" ]; then
        fail "XDP counters c2p_44=${c2p:-none} p2c_44=${p2c:-none}, want at least $1 each"
    fi
    log "xdp c2p_44 = $c2p, p2c_44 = $p2c"
}

keep_bpf=()
if bpf_gated; then keep_bpf=("$CAP_BPF"); fi

topo_up
xdp_prepare
start_peer

# ---- 1. root, --run-as-user; the secret from the environment ----
XT_AUTH_ARGS=()
export XTURN_AUTH_SECRET=$XT_SECRET
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2 --run-as-user "$RUN_USER"
unset XTURN_AUTH_SECRET
wait_log '"message":"privileges dropped"'
# Only the run-as group (root's supplementary groups are gone); the bounding set cut down too.
assert_dropped "$RUN_GID" same "${keep_bpf[@]}"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_moved 190
assert_secret_hidden "$XT_SECRET"
stop_xturn TERM
assert_detached "after --run-as-user"

# ---- 2. as systemd starts the unit: non-root, ambient capabilities, secret in a file ----
secret_file="$XT_TMP/secret"
printf '# rotated by hand\n%s\n' "$XT_SECRET" >"$secret_file"
chown "root:$RUN_GID" "$secret_file"
chmod 0640 "$secret_file"
chmod 0755 "$XT_TMP" # mktemp's 0700 would hide the file from the service user
unit_caps=+net_admin,+bpf,+perfmon,+net_bind_service
real_xturn=$XTURN
# The unit's binary is where its user may run it (the build tree may not be: a live upgrade runs
# the file at that path as the user).
upgrade_bin_init
unit_xturn=$XTURN
# The unit's User=, AmbientCapabilities=, CapabilityBoundingSet= and NoNewPrivileges=, by
# setpriv (exec, so the pid stays the daemon's). `xturn stats` keeps running as root.
XTURN="$XT_TMP/xturn-as-unit"
cat >"$XTURN" <<EOF
#!/bin/sh
[ "\$1" = stats ] && exec "$real_xturn" "\$@"
exec setpriv --reuid=$RUN_UID --regid=$RUN_GID --clear-groups --inh-caps=$unit_caps \\
    --ambient-caps=$unit_caps --bounding-set=-all,$unit_caps --no-new-privs "$unit_xturn" "\$@"
EOF
chmod 0755 "$XTURN"
export XTURN_AUTH_SECRET_FILE=$secret_file
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2 --relay-ports 900-999
unset XTURN_AUTH_SECRET_FILE
wait_log '"message":"privileges dropped"'
grep -q '"message":"xdp attached"' "$XT_LOG" || fail "no 'xdp attached' with the unit's capabilities"
# Groups and bounding set as the service manager set them (setpriv --clear-groups: none; without
# CAP_SETPCAP the bounding set stays CapabilityBoundingSet=).
assert_dropped "" "$(cap_mask "$CAP_NET_ADMIN" "$CAP_BPF" "$CAP_PERFMON" "$CAP_NET_BIND_SERVICE")" \
    "${keep_bpf[@]}" "$CAP_NET_BIND_SERVICE"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_moved 190
grep -qE "\"relayed_ipv4\":\"$XT_RELAY4:9[0-9][0-9]\"" "$XT_LOG" ||
    fail "no allocation relayed on a port below 1000"
kill -HUP "$XT_DAEMON_PID"
wait_log '"message":"reloaded: secrets re-read"'
log "SIGHUP: the secret file re-read as $RUN_USER"
assert_secret_hidden "$XT_SECRET"

# A live upgrade as systemctl reload does it, while a session relays through XDP: the new
# process starts with the kept capabilities (ambient), too few to load a program, so it takes the
# running program over with its maps; the session ends without loss, the kernel relays on, and a
# new allocation gets a port below 1000 (CAP_NET_BIND_SERVICE carried over).
old_pid=$XT_DAEMON_PID
prog=$(xdp_prog_id)
bg_uclient "$XT_TMP/across.out" "${XT_REST_ARGS[@]}" -n 600 -l 120 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
across_pid=$BG_PID
sleep 1.5
kill -USR2 "$old_pid"
rc=0
wait_gone "$old_pid" 15 || fail "the old process still runs 15 s after SIGUSR2"
wait "$old_pid" || rc=$?
xt_forget "$old_pid"
[ "$rc" -eq 0 ] || fail "the old process exited with status $rc: $(tail -n 3 "$XT_LOG")"
XT_DAEMON_PID=$(sed -nE 's/.*"message":"live upgrade: handed over.*"new_pid":([0-9]+).*/\1/p' "$XT_LOG" | tail -n 1)
kill -0 "$XT_DAEMON_PID" 2>/dev/null || fail "the new process ($XT_DAEMON_PID) does not run"
XT_PIDS+=("$XT_DAEMON_PID")
grep -qF "no privileges to load this build's XDP program" "$XT_LOG" ||
    fail "the new process did not say it keeps the running program"
[ "$(xdp_prog_id)" = "$prog" ] || fail "program $(xdp_prog_id) on the interface, want $prog still"
assert_dropped "" "$(cap_mask "$CAP_NET_ADMIN" "$CAP_BPF" "$CAP_PERFMON" "$CAP_NET_BIND_SERVICE")" \
    "${keep_bpf[@]}" "$CAP_NET_BIND_SERVICE"
bg_wait "$across_pid" "the session across the upgrade"
assert_no_loss "$XT_TMP/across.out"
low_ports() { grep -cE "\"message\":\"allocation created\".*\"relayed_ipv4\":\"$XT_RELAY4:9[0-9][0-9]\"" "$XT_LOG"; }
before=$(xdp_count c2p_44)
low=$(low_ports)
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
[ "$(xdp_count c2p_44)" -ge $((before + 190)) ] || fail "the kernel did not relay after the upgrade"
[ "$(low_ports)" -gt "$low" ] || fail "no allocation on a port below 1000 after the upgrade"
log "upgraded as $RUN_USER: program $prog kept, relaying in XDP, low ports bound"
stop_upgraded "$XT_DAEMON_PID"
assert_detached "started as the unit starts it, then upgraded"
XTURN=$real_xturn

# ---- 3. refused at start, nothing left attached ----
for bad in "--run-as-user xt-no-such-user-$$" "--run-as-user root" \
    "--run-as-user $RUN_USER --run-as-group xt-no-such-group-$$"; do
    rc=0
    # shellcheck disable=SC2086 # the flags are split on purpose
    ip netns exec "$XT_NS_RELAY" "$XTURN" --listen "$XT_RELAY4:$XT_PORT" --auth-secret "$XT_SECRET" \
        --xdp "$XT_RELAY_DEV" --xdp-mode native $bad >"$XT_LOG" 2>"$XT_ERR" </dev/null || rc=$?
    [ "$rc" -eq 2 ] || fail "$bad: exit status $rc, want 2"
    grep -qE 'run-as-(user|group)' "$XT_ERR" || fail "$bad: no error naming the flag: $(cat "$XT_ERR")"
    assert_detached "refused: $bad"
done
pass
