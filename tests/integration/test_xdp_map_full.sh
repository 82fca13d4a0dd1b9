#!/usr/bin/env bash
# A full XDP map costs nothing but speed: bindings beyond --xdp-map-size are relayed by
# userspace with no loss, with a warning logged and counted.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-map-size 16

# 12 clients x 2 channels = 24 bindings for 16 places.
uclient_ok "${XT_REST_ARGS[@]}" -m 12 -n 40 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
grep -q '"severity":"WARN","message":"xdp map full' "$XT_LOG" || fail "no warning about the full map"
xdp_assert_at_least c2p_44 300
stop_xturn
read -r to_peer to_client <<<"$(userspace_relayed)"
[ "$to_peer" -gt 0 ] && [ "$to_client" -gt 0 ] || fail "userspace relayed nothing for the overflow"
grep '"message":"xdp stats"' "$XT_LOG" | tail -n 1 | grep '"bindings_map_full":[1-9]' >/dev/null ||
    fail "full-map bindings not counted in the xdp stats line"
log "userspace relayed $to_peer + $to_client packets for the bindings beyond the map"
pass
