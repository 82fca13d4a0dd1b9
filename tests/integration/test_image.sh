#!/usr/bin/env bash
# The container image (make image) in the relay namespace (podman --network ns:): relays
# turnutils_uclient with zero loss for IPv4, IPv6 and IPv6 client -> IPv4 peer, in userspace
# with no capability at all, then with --xdp and only NET_ADMIN, BPF and PERFMON; stops on
# SIGTERM with status 0 and JSON log lines only. Builds the image first unless the one in
# podman's store carries the hash of today's inputs (scripts/image.sh). Skipped (exit 77) only
# where podman cannot run a container at all.
# run.sh timeout: 1200 (a first build from nothing, base root filesystem included)
# shellcheck source=lib.sh
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-1200}
. "$(dirname "$0")/lib.sh"
# shellcheck source=container_lib.sh
. "$XT_DIR/container_lib.sh"

need_root
container_probe
t0=$SECONDS
IMAGE=$XT_IMAGE "$XT_ROOT/scripts/image.sh" >"$XT_TMP/image-build.log" 2>&1 ||
    fail "make image failed: $(tail -n 20 "$XT_TMP/image-build.log")"
log "image ready after $((SECONDS - t0)) s: $(tail -n 1 "$XT_TMP/image-build.log")"

topo_up
start_peer
relay_three() { # the three family pairs, no loss
    uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
    uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY6"
    uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -X -e "$XT_PEER4" "$XT_RELAY6"
}

# Userspace: the image's own user, no capability.
start_container --cap-drop all -- --drain-timeout 5
caps=$(container_caps)
[ "$caps" = 0000000000000000 ] || fail "userspace relay holds capabilities $caps, want none"
relay_three
stop_container

# XDP: NET_ADMIN, BPF and PERFMON only, not privileged, not SYS_ADMIN. As uid 0: a non-root
# user's added capabilities are not effective (podman, like Kubernetes, sets no ambient ones).
# Debian 12's default seccomp profile allows bpf() only with SYS_ADMIN: the default plus bpf()
# with BPF (scripts/seccomp-xdp.py).
xdp_prepare
python3 "$XT_ROOT/scripts/seccomp-xdp.py" /usr/share/containers/seccomp.json "$XT_TMP/seccomp.json" ||
    fail "seccomp-xdp.py"
start_container --user 0:0 --cap-drop all --cap-add NET_ADMIN,BPF,PERFMON \
    --security-opt "seccomp=$XT_TMP/seccomp.json" -- \
    --xdp "$XT_RELAY_DEV" --xdp-mode native
caps=$(container_caps)
# at most NET_ADMIN (12), PERFMON (38) and BPF (39): xturn trims what it no longer needs
[ $((0x$caps & ~0xc000001000)) -eq 0 ] || fail "XDP relay holds capabilities $caps"
log "capabilities once started: $caps"

grep -q '"message":"xdp attached"' "$XT_LOG" || fail "no 'xdp attached' log line"
relay_three
xdp_assert_at_least c2p_44 190
xdp_assert_at_least c2p_66 190
xdp_assert_at_least c2p_64 190
stop_container
pass
