#!/usr/bin/env bash
# --xdp-cross-family off keeps the seed's behaviour: IPv4<->IPv6 ChannelData is counted under
# its own reason and relayed by userspace (no loss), with a dedicated log line; same-family
# traffic still goes through XDP.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-cross-family off

uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY4"
xdp_assert_at_least pass_cross_family 190
[ "$(xdp_count c2p_46)" -eq 0 ] || fail "c2p_46 counted with cross-family off"
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 190

stop_xturn
grep -q 'cross-family packets relayed in userspace' "$XT_LOG" ||
    fail "no log line about cross-family packets relayed in userspace"
pass
