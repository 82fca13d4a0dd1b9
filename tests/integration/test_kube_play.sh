#!/usr/bin/env bash
# The Kubernetes DaemonSet's pod (contrib/kubernetes/xturn-daemonset.yaml), made into a Pod by
# contrib/kubernetes/daemonset-pod.py, under `podman kube play` in the relay namespace: relays
# turnutils_uclient with zero loss, answers /healthz and /metrics where the probes ask, and
# exits 0 on the pod's stop (SIGTERM). The node's values are given as a node would fill them in:
# NODE_IP (status.hostIP), the Secret's value; a drain of 3 s (uclient leaves an allocation,
# which the pod's stop waits for until the drain's end); userspace (XTURN_XDP removed: the interface's
# name is the node's, and test_image.sh covers XDP). Skipped (77) where podman cannot run a
# container; builds the image like test_image.sh.
# run.sh timeout: 1200 (a first build from nothing, base root filesystem included)
# shellcheck source=lib.sh
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-1200}
. "$(dirname "$0")/lib.sh"
# shellcheck source=container_lib.sh
. "$XT_DIR/container_lib.sh"

need_root
container_probe
IMAGE=$XT_IMAGE "$XT_ROOT/scripts/image.sh" >"$XT_TMP/image-build.log" 2>&1 ||
    fail "make image failed: $(tail -n 20 "$XT_TMP/image-build.log")"
topo_up
start_peer

pod="xturn-kube-$XT_ID"
python3 "$XT_ROOT/contrib/kubernetes/daemonset-pod.py" \
    "$XT_ROOT/contrib/kubernetes/xturn-daemonset.yaml" --name "$pod" --image "$XT_IMAGE" \
    --env "NODE_IP=$XT_RELAY4" --env "XTURN_AUTH_SECRET=$XT_SECRET" --env XTURN_XDP= \
    --env XTURN_LOG_LEVEL=info --env "XTURN_REALM=$XT_REALM" --env XTURN_DRAIN_TIMEOUT=3 --no-ports \
    >"$XT_TMP/pod.yaml" || fail "daemonset-pod.py"
# podman kube play has no --ulimit: the same limits as podman run's, from a containers.conf.
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$XT_NOFILE" "$XT_NOFILE" "$XT_NPROC" "$XT_NPROC" >"$XT_TMP/containers.conf"
kube() { CONTAINERS_CONF="$XT_TMP/containers.conf" xt_podman "$@"; }
# shellcheck disable=SC2317 # called by the trap
pod_rm() { kube pod rm -f -t 0 "$pod" >/dev/null 2>&1 || true; }
trap 'rc=$?; pod_rm; (exit $rc); xt_cleanup' EXIT

# hostNetwork, as on a node: the relay namespace is podman's own here. Pods take no ns: network
# (podman 4.3), and `ip netns exec` would hide the cgroup mount from runc: nsenter --net keeps
# the mounts.
nsenter "--net=/run/netns/$XT_NS_RELAY" env CONTAINERS_CONF="$XT_TMP/containers.conf" \
    podman --runtime runc kube play "$XT_TMP/pod.yaml" >"$XT_TMP/play.log" 2>&1 ||
    fail "podman kube play: $(tail -n 5 "$XT_TMP/play.log")"
ctr="$pod-xturn"
for i in $(seq 1 100); do
    udp_listening "$XT_NS_RELAY" "$XT_RELAY4:$XT_PORT" && break
    [ "$i" -lt 100 ] || fail "the pod is not listening after 10 s: $(kube logs "$ctr" 2>&1 | tail -n 5)"
    sleep 0.1
done
log "pod $pod listening"
probe() { ns_exec "$XT_NS_RELAY" python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).status)' "$1"; }
[ "$(probe "http://$XT_RELAY4:9641/healthz")" = 200 ] || fail "readiness probe /healthz not 200"
[ "$(probe "http://$XT_RELAY4:9641/metrics")" = 200 ] || fail "liveness probe /metrics not 200"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"

t0=$SECONDS
kube pod stop -t 20 "$pod" >/dev/null || fail "podman pod stop"
rc=$(kube inspect --format '{{.State.ExitCode}}' "$ctr") || fail "podman inspect"
kube logs "$ctr" >"$XT_LOG" 2>"$XT_ERR" || true
[ "$rc" = 0 ] || fail "the pod's xturn exited with $rc on SIGTERM (want 0)"
grep -v '^[[:space:]]*$' "$XT_LOG" | tail -n 1 | grep -qF 'xturn stopped' || fail "no 'xturn stopped' last"
assert_json_log
grep -qF '"drain timeout: stopping with allocations left"' "$XT_LOG" || fail "no drain on SIGTERM"
log "stopped in $((SECONDS - t0)) s"
pass
