# shellcheck shell=bash
# Helpers of the tests that run xturn's image (after lib.sh): container_probe, start_container,
# container_caps. The container stands in for the daemon: XT_DAEMON_PID is its `podman run`
# (which passes signals on), so daemon_alive and stop_xturn work on it.

XT_IMAGE=${XT_IMAGE:-localhost/xturn:latest}
XT_CNAME="xturn-it-$XT_ID"
# crun fails where cgroups are hybrid; setrlimit in the container needs limits at or below the
# hard ones; ip netns exec would hide the cgroup mount from runc, so --network ns: instead.
xt_podman() { podman --runtime runc "$@"; }
# (runc refused nproc at the hard limit, 96367, here; 4096 is plenty: workers are threads.)
xt_limit() { local h=$1; [ "$h" = unlimited ] || [ "$h" -gt "$2" ] && h=$2; echo "$h"; }
XT_NOFILE=$(xt_limit "$(ulimit -Hn)" 65536) XT_NPROC=$(xt_limit "$(ulimit -Hu)" 4096)
XT_ULIMITS=(--ulimit "nofile=$XT_NOFILE:$XT_NOFILE" --ulimit "nproc=$XT_NPROC:$XT_NPROC")

# A container of this test still there at the end is removed (a killed `podman run` leaves it).
container_rm() {
    xt_podman rm -f -t 0 "$XT_CNAME" >/dev/null 2>&1 || true
}
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; container_rm; (exit $rc); xt_cleanup' EXIT

# container_probe: skip unless podman runs a container at all (a root filesystem of /bin/true
# and its libraries: no image, no registry).
container_probe() {
    local root="$XT_TMP/probe-root" lib
    command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh)"
    mkdir -p "$root"
    cp /bin/true "$root/true"
    for lib in $(ldd /bin/true | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }'); do
        cp -L --parents "$lib" "$root"
    done
    xt_podman run --rm --network none "${XT_ULIMITS[@]}" --rootfs "$root" /true \
        >"$XT_TMP/probe.log" 2>&1 ||
        skip "podman cannot run a container here: $(tail -n 1 "$XT_TMP/probe.log")"
}

# start_container PODMAN_ARGS... -- XTURN_ARGS...: the image in the relay namespace with the
# standard flags (the secret from XTURN_AUTH_SECRET, as a Kubernetes Secret gives it); returns
# once both listen sockets are bound.
start_container() {
    local pargs=() i
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        pargs+=("$1")
        shift
    done
    shift
    log "starting $XT_IMAGE (${pargs[*]}) $*"
    xt_podman run --rm --name "$XT_CNAME" --network "ns:/run/netns/$XT_NS_RELAY" \
        "${XT_ULIMITS[@]}" -e "XTURN_AUTH_SECRET=$XT_SECRET" "${pargs[@]}" "$XT_IMAGE" \
        --listen "$XT_RELAY4:$XT_PORT" --listen "[$XT_RELAY6]:$XT_PORT" --realm "$XT_REALM" \
        --log-level info "${XT_ALLOW_ARGS[@]}" "$@" >"$XT_LOG" 2>"$XT_ERR" </dev/null &
    XT_DAEMON_PID=$!
    XT_PIDS+=("$XT_DAEMON_PID")
    for i in $(seq 1 200); do
        daemon_alive || fail "the container exited during startup"
        if udp_listening "$XT_NS_RELAY" "$XT_RELAY4:$XT_PORT" "[$XT_RELAY6]:$XT_PORT"; then
            log "container ready after ${i} polls"
            return 0
        fi
        sleep 0.1
    done
    fail "the container is not listening after 20 s"
}

# container_caps: the effective capabilities (hex) of the container's xturn.
container_caps() {
    local pid
    pid=$(xt_podman inspect --format '{{.State.Pid}}' "$XT_CNAME") || fail "podman inspect"
    awk '/^CapEff:/ { print $2 }' "/proc/$pid/status"
}

# stop_container: SIGTERM to the container's xturn through podman (as Kubernetes and `podman
# stop` send it), then what stop_xturn requires, within 10 s (podman run passes the status on).
stop_container() {
    daemon_alive || fail "the container is not running at stop time"
    log "stopping the container with SIGTERM"
    xt_podman kill --signal TERM "$XT_CNAME" >/dev/null || fail "podman kill"
    await_clean_exit "SIGTERM (podman kill)" 10
}
