#!/usr/bin/env bash
# The XDP fast path relays ChannelData in the kernel in all four family combinations and
# between two clients of the relay, with no loss: turnutils_uclient through xturn --xdp.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native

# Each run: 2 channels (RTP and RTCP) x 100 messages, echoed by the peer.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 200
xdp_assert_at_least p2c_44 200
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY6"
xdp_assert_at_least c2p_66 200
xdp_assert_at_least p2c_66 200
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY4"
xdp_assert_at_least c2p_46 200
xdp_assert_at_least p2c_64 200
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -X -e "$XT_PEER4" "$XT_RELAY6"
xdp_assert_at_least c2p_64 200
xdp_assert_at_least p2c_46 200
# Two clients relaying to each other's relayed addresses: one pass through XDP each.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -y "$XT_RELAY4"
xdp_assert_at_least c2c_self 200

daemon_alive || fail "daemon died during the run"
stop_xturn
grep -q '"message":"xdp attached"' "$XT_LOG" || fail "no 'xdp attached' log line"
# Detached on exit: no XDP program left on the relay's interface.
if ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" | grep -q 'prog/xdp'; then
    fail "XDP program still attached after shutdown"
fi
pass
