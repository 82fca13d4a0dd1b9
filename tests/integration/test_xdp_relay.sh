#!/usr/bin/env bash
# The XDP fast path relays ChannelData in the kernel in all four family combinations, for dual
# allocations and between two clients of the relay, with no loss (turnutils_uclient through
# xturn --xdp in native mode); userspace relays none of it, and captures on the client and
# peer hosts show only correct checksums.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
capture_start "$XT_NS_CLIENT" "xt${XT_ID}c0" client
capture_start "$XT_NS_PEER" "xt${XT_ID}p0" peer

# Each run: 2 channels (RTP and RTCP) x 100 messages, echoed by the peer.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 190
xdp_assert_at_least p2c_44 190
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY6"
xdp_assert_at_least c2p_66 190
xdp_assert_at_least p2c_66 190
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY4"
xdp_assert_at_least c2p_46 190
xdp_assert_at_least p2c_64 190
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -X -e "$XT_PEER4" "$XT_RELAY6"
xdp_assert_at_least c2p_64 190
xdp_assert_at_least p2c_46 190
# Two clients relaying to each other's relayed addresses: one pass through XDP each.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -y "$XT_RELAY4"
xdp_assert_at_least c2c_self 190
# Dual allocation (the peer is reached through the IPv4 relayed address).
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -Z -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 380

daemon_alive || fail "daemon died during the run"
capture_stop
capture_check client 1000
capture_check peer 1000
no_neigh=$(xdp_count pass_no_neigh)
stop_xturn
# Userspace relayed only what the kernel passed up for want of a resolved next hop.
read -r to_peer to_client <<<"$(userspace_relayed)"
[ $((to_peer + to_client)) -le "$no_neigh" ] ||
    fail "userspace relayed $to_peer packets to peers and $to_client to clients (pass_no_neigh $no_neigh)"
log "userspace relayed $to_peer + $to_client packets (pass_no_neigh $no_neigh)"
grep -q '"message":"xdp attached"' "$XT_LOG" || fail "no 'xdp attached' log line"
# Detached on exit: no XDP program left on the relay's interface.
if ns_exec "$XT_NS_RELAY" ip link show dev "$XT_RELAY_DEV" | grep 'prog/xdp' >/dev/null; then
    fail "XDP program still attached after shutdown"
fi
pass
