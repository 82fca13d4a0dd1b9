#!/usr/bin/env bash
# The XDP fast path on a host with forwarding off (a stock host: never turned on by xturn). The
# program's bpf_fib_lookup answers only where forwarding is on; here xturn resolves the next hops
# over rtnetlink instead and writes them into the bindings. In all four family pairs, and between
# two clients of the relay, with the relay's neighbours flushed before each run (resolved from
# scratch): no loss, XDP relays ChannelData (the counters), userspace only what went up while a
# next hop was resolved; forwarding is still off at the end.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare off
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
grep -q '"message":"forwarding is off: XDP next hops are resolved by xturn' "$XT_LOG" ||
    fail "no log line saying that next hops are resolved by xturn"

# run_pair NAME UCLIENT_FLAGS... : the relay's neighbours forgotten, then 2 channels x 100
# messages echoed by the peer.
run_pair() {
    log "$1: neighbours flushed, then relayed"
    shift
    ns_exec "$XT_NS_RELAY" ip neigh flush dev "$XT_RELAY_DEV"
    ns_exec "$XT_NS_RELAY" ip -6 neigh flush dev "$XT_RELAY_DEV"
    uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 "$@"
}

run_pair "4 -> 4" -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 190
xdp_assert_at_least p2c_44 190
run_pair "6 -> 6" -x -e "$XT_PEER6" "$XT_RELAY6"
xdp_assert_at_least c2p_66 190
xdp_assert_at_least p2c_66 190
run_pair "4 -> 6" -x -e "$XT_PEER6" "$XT_RELAY4"
xdp_assert_at_least c2p_46 190
xdp_assert_at_least p2c_64 190
run_pair "6 -> 4" -X -e "$XT_PEER4" "$XT_RELAY6"
xdp_assert_at_least c2p_64 190
xdp_assert_at_least p2c_46 190
run_pair "client to client" -y "$XT_RELAY4"
xdp_assert_at_least c2c_self 190

daemon_alive || fail "daemon died during the run"
resolving=$(xdp_count pass_resolving)
no_neigh=$(xdp_count pass_no_neigh)
[ "$resolving" -gt 0 ] || fail "no packet waited for a next hop from userspace (pass_resolving 0)"
for reason in pass_fib pass_other_iface pass_mtu; do
    [ "$(xdp_count "$reason")" -eq 0 ] || fail "$reason: $(xdp_counters | awk '$2 > 0' | tr '\n' ' ')"
done
stop_xturn
# Userspace relayed only what went up while a next hop was being resolved: twice for a datagram
# between two clients (to the other relayed address, then to its client).
read -r to_peer to_client <<<"$(userspace_relayed)"
[ $((to_peer + to_client)) -le $((2 * (resolving + no_neigh))) ] ||
    fail "userspace relayed $to_peer + $to_client packets (pass_resolving $resolving, pass_no_neigh $no_neigh)"
log "userspace relayed $to_peer + $to_client packets (pass_resolving $resolving, pass_no_neigh $no_neigh)"
on=$(forwarding_all "$XT_NS_RELAY")
[ "$on" = 0 ] || fail "forwarding was turned on: $on"
pass
