# shellcheck shell=bash
# Namespace topology of the load benchmark (sourced by bench/run.sh): the integration tests'
# (tests/integration/topology.sh), with its own names so that both can run:
#
#   client 198.18.1.2 2001:db8:1::2 ---+
#   peer   198.18.2.2 2001:db8:2::2 ---+--- router (.1 / ::1 on each subnet)
#   relay  198.18.3.2 2001:db8:3::2 ---+     forwards IPv4 and IPv6
#
# Only 198.18.0.0/15 and 2001:db8::/32. Every veth has transmit checksum offload off (full
# checksums on the wire, as a NIC delivers them; the XDP program updates them incrementally).
# The relay host is always prepared for XDP (forwarding on, a pass-through XDP program on the
# router's end of the relay veth, without which XDP_TX frames are dropped), whichever relay
# runs, so that all three see the same network.

# shellcheck source-path=SCRIPTDIR source=../tests/integration/topology.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/topology.sh"
# shellcheck disable=SC2034 # used by bench/run.sh
{
    BT_CLIENT4=$TOPO_CLIENT4 BT_CLIENT6=$TOPO_CLIENT6
    BT_PEER4=$TOPO_PEER4 BT_PEER6=$TOPO_PEER6
    BT_RELAY4=$TOPO_RELAY4 BT_RELAY6=$TOPO_RELAY6
}

# Names stay <= 15 characters: "xb" + up to 9 + role + side.
BT_ID="$$$(printf '%02x' $((RANDOM % 256)))"
BT_NS_CLIENT="xb${BT_ID}c"
BT_NS_PEER="xb${BT_ID}p"
BT_NS_RELAY="xb${BT_ID}r"
BT_NS_ROUTER="xb${BT_ID}g"
BT_RELAY_DEV="xb${BT_ID}r0"  # the relay's interface (XDP attaches here)
BT_RELAY_RDEV="xb${BT_ID}r1" # the router's end of it
BT_UP=0

bt_exec() { # bt_exec NS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# bt_up PASS_OBJ: build everything; returns non-zero (after tearing down) on any failure.
bt_up() {
    local pass_obj=$1
    BT_UP=1
    topology_build "xb$BT_ID" && topology_prepare_xdp "xb$BT_ID" "$pass_obj" &&
        topology_reachable "xb$BT_ID" >&2 &&
        return 0
    bt_down
    return 1
}

# bt_down: kill whatever is left in our namespaces and delete them (their veths go too).
bt_down() {
    [ "$BT_UP" = 1 ] || return 0
    topology_destroy "xb$BT_ID"
    BT_UP=0
}

# bt_xdp_prog_id: id of the XDP program attached to the relay's interface ("" if none).
bt_xdp_prog_id() {
    bt_exec "$BT_NS_RELAY" ip -j -d link show dev "$BT_RELAY_DEV" |
        "${PY:-python3}" -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l.get("xdp",{}).get("prog",{}).get("id",""))'
}
