#!/usr/bin/env bash
# XDP attachment modes: an interface without native XDP gets the program in generic mode with
# a warning (auto mode); --xdp-mode generic relays end to end; an interface that cannot be
# attached stops the daemon at start with one error line and exit code 2, nothing attached.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer

# A bridge has no native XDP: auto mode falls back to generic for it.
ns_exec "$XT_NS_RELAY" ip link add xtbridge0 type bridge
ns_exec "$XT_NS_RELAY" ip link set xtbridge0 up
start_xturn --xdp "$XT_RELAY_DEV" --xdp xtbridge0
grep -q '"severity":"WARN".*generic' "$XT_LOG" || fail "no warning about the generic-mode fallback"
ns_exec "$XT_NS_RELAY" ip link show dev xtbridge0 | grep 'xdpgeneric' >/dev/null ||
    fail "program not attached in generic mode on the bridge"
uclient_ok "${XT_REST_ARGS[@]}" -n 50 -l 100 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 95
stop_xturn

# Generic mode on the relay's interface relays end to end.
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode generic
ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" | grep 'xdpgeneric' >/dev/null ||
    fail "not attached in generic mode"
uclient_ok "${XT_REST_ARGS[@]}" -n 50 -l 100 -z 2 -x -e "$XT_PEER6" "$XT_RELAY4"
xdp_assert_at_least c2p_46 95
xdp_assert_at_least p2c_64 95
stop_xturn

# An interface that does not exist: exit 2, one line naming it, nothing left attached.
rc=0
ip netns exec "$XT_NS_RELAY" "$XTURN" --listen "$XT_RELAY4:$XT_PORT" --auth-secret x \
    --xdp "$XT_RELAY_DEV" --xdp xtnosuch0 >"$XT_TMP/bad.out" 2>"$XT_TMP/bad.err" </dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "exit status $rc for a missing interface, want 2"
[ "$(grep -c . "$XT_TMP/bad.err")" -eq 1 ] || fail "want one error line, got: $(cat "$XT_TMP/bad.err")"
grep -q 'xtnosuch0' "$XT_TMP/bad.err" || fail "error does not name the interface: $(cat "$XT_TMP/bad.err")"
if ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" | grep 'prog/xdp' >/dev/null; then
    fail "half-attached: the program stayed on $XT_RELAY_DEV"
fi
log "missing interface: $(cat "$XT_TMP/bad.err")"
pass
