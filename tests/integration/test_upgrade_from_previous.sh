#!/usr/bin/env bash
# run.sh timeout: 420
# Live upgrade from the build before this one (issue 13): the previous commit (HEAD's first
# parent, or XT_UPGRADE_FROM=<commit>) is extracted with `git archive` into the temp dir and
# its xturn built there (-j2; about a minute). That binary runs from a copy with --xdp while
# turnutils_uclient sessions run: UDP channels through the kernel (4->4) and in userspace (6->4,
# --xdp-cross-family off), Send indications, a TCP client. The file is replaced by the current
# build and the daemon gets SIGUSR2: every session ends without loss, the old process exits 0,
# the new one runs from the new file, logs that it took over allocations (> 0), relays on
# through the kernel and serves new clients, and exits 0 on SIGTERM.
# Skipped without a git repository or when that commit has no live upgrade. Without --xdp when
# the old build cannot hand XDP over (no live upgrade with --xdp yet, or another XT_ABI_VERSION).
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-400}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

XT_REAP=1 # the new process's exit status too
NEW_BIN=$XTURN
[ -x "$NEW_BIN" ] || fail "daemon binary $NEW_BIN missing (build it, or set XTURN_BIN)"
PREV="$XT_TMP/prev"

# ---- the previous build ----
command -v git >/dev/null || skip "git is not installed"
git -C "$XT_ROOT" rev-parse --git-dir >/dev/null 2>&1 || skip "$XT_ROOT is not in a git repository"
if [ -n "${XT_UPGRADE_FROM:-}" ]; then
    from=$(git -C "$XT_ROOT" rev-parse --verify --quiet "$XT_UPGRADE_FROM^{commit}") ||
        fail "XT_UPGRADE_FROM=$XT_UPGRADE_FROM is not a commit"
else
    from=$(git -C "$XT_ROOT" rev-parse --verify --quiet "HEAD~1^{commit}") ||
        skip "HEAD has no parent commit"
fi
short=$(git -C "$XT_ROOT" rev-parse --short "$from")
git -C "$XT_ROOT" cat-file -e "$from:src/app/daemon_upgrade.c" 2>/dev/null ||
    skip "commit $short has no live upgrade (no src/app/daemon_upgrade.c)"
mkdir -p "$PREV"
git -C "$XT_ROOT" archive --format=tar "$from" | tar -x -C "$PREV" ||
    fail "cannot extract commit $short"
log "building xturn of commit $short ($(git -C "$XT_ROOT" log -1 --format=%s "$from" | cut -c1-60))"
t0=$SECONDS
# Its own make, not the caller's: no jobserver or variables of an enclosing `make test`.
timeout -k 5 300 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SAN \
    make -C "$PREV" -j2 build/xturn >"$XT_TMP/build.log" 2>&1 </dev/null &
build_pid=$!
XT_PIDS+=("$build_pid")
rc=0
wait "$build_pid" || rc=$?
xt_forget "$build_pid"
[ "$rc" -eq 0 ] || fail "building commit $short failed (status $rc): $(tail -n 15 "$XT_TMP/build.log")"
log "commit $short built in $((SECONDS - t0)) s"
upgrade_bin_init "$PREV/build/xturn"

# With --xdp only if the old build hands XDP over, to a program of the same maps' layout.
abi() { sed -nE 's/^#define XT_ABI_VERSION[[:space:]]+([0-9]+).*/\1/p' "$1/src/bpf/xdp_shared.h"; }
xdp=1
if grep -q 'not supported with --xdp' "$PREV/src/app/daemon_upgrade.c"; then
    xdp=0
    log "commit $short has no live upgrade with --xdp: every channel in userspace"
elif [ "$(abi "$PREV")" != "$(abi "$XT_ROOT")" ]; then
    xdp=0
    log "XT_ABI_VERSION $(abi "$PREV") at $short, $(abi "$XT_ROOT") now (refused with --xdp): every channel in userspace"
fi

# ---- sessions across the upgrade ----
topo_up
start_peer
if [ "$xdp" = 1 ]; then
    xdp_prepare
    start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --xdp-cross-family off --workers 2 \
        --metrics "$XT_RELAY4:9641"
else
    start_xturn --workers 2 --metrics "$XT_RELAY4:9641"
fi

# 15 s each (sending starts 2-3 s after the start): 2 channels (RTP, RTCP) x 3000 messages of
# 120 bytes, 5 ms apart.
UC=(-n 3000 -l 120 -z 5)
declare -A pid
bg_uclient "$XT_TMP/chan44.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -e "$XT_PEER4" "$XT_RELAY4"
pid[chan44]=$BG_PID
bg_uclient "$XT_TMP/chan64.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -X -e "$XT_PEER4" "$XT_RELAY6"
pid[chan64]=$BG_PID
bg_uclient "$XT_TMP/send.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -s -e "$XT_PEER4" "$XT_RELAY4"
pid[send]=$BG_PID
bg_uclient "$XT_TMP/tcp.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -t -e "$XT_PEER4" "$XT_RELAY4"
pid[tcp]=$BG_PID

# Every session relaying before the switch: TCP; IPv6 clients (chan64) and IPv4 ones (send) in
# userspace; with --xdp, chan44 through the kernel.
if [ "$xdp" = 1 ]; then
    await_sessions pid c2p_44 pass_cross_family
else
    await_sessions pid
fi
before=0
[ "$xdp" = 0 ] || before=$(xdp_count c2p_44)

replace_binary "$NEW_BIN"
live_upgrade
allocs=$(taken_over allocations)
[ "${allocs:-0}" -gt 0 ] ||
    fail "the new process's 'state taken over' shows no allocations: $(grep 'state taken over' "$XT_LOG")"
log "commit $short -> this build: the new process took over $allocs allocations"
if [ "$xdp" = 1 ]; then
    grep -q '"message":"xdp taken over"' "$XT_LOG" || fail "no 'xdp taken over' log line"
    during=$(xdp_count c2p_44)
fi

for s in chan44 chan64 send tcp; do
    bg_uclient_ok "${pid[$s]}" "$XT_TMP/$s.out" "the $s session"
done
if [ "$xdp" = 1 ]; then
    after=$(xdp_count c2p_44)
    n=$(sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), .*/\1/p' "$XT_TMP/chan44.out" | tail -n 1)
    if [ "$during" -lt "$before" ] || [ "$after" -le "$during" ] || [ "$after" -lt $((n * 95 / 100)) ]; then
        fail "c2p_44: $before before the switch, $during once handed over, $after after the session's $n"
    fi
    n=$(sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), .*/\1/p' "$XT_TMP/chan64.out" | tail -n 1)
    xdp_assert_at_least pass_cross_family $((2 * n * 95 / 100)) # the chan64 session, both ways
    log "c2p_44: $before, $during, $after"
fi

# New clients of the new process.
UC=(-n 50 -l 120 -z 2)
c44=0
[ "$xdp" = 0 ] || c44=$(xdp_count c2p_44)
bg_uclient "$XT_TMP/new44.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -e "$XT_PEER4" "$XT_RELAY4"
pid[new44]=$BG_PID
bg_uclient "$XT_TMP/newtcp.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -t -e "$XT_PEER4" "$XT_RELAY4"
pid[newtcp]=$BG_PID
for s in new44 newtcp; do
    bg_uclient_ok "${pid[$s]}" "$XT_TMP/$s.out" "the $s session"
done
[ "$xdp" = 0 ] || xdp_assert_at_least c2p_44 $((c44 + 95))
stop_xturn
pass
