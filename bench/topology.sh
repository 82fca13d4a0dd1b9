# shellcheck shell=bash
# Namespace topology of the load benchmark (sourced by bench/run.sh). The same as the
# integration tests' (tests/integration/lib.sh), with its own names so that both can run:
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

BT_CLIENT4=198.18.1.2 BT_CLIENT6=2001:db8:1::2
BT_PEER4=198.18.2.2 BT_PEER6=2001:db8:2::2
BT_RELAY4=198.18.3.2 BT_RELAY6=2001:db8:3::2

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

# bt_host NS TAG ADDR4 ADDR6 SUBNET: a host wired to the router by a veth pair created
# directly inside the two namespaces.
bt_host() {
    local ns=$1 tag=$2 a4=$3 a6=$4 sub=$5
    local dev="xb${BT_ID}${tag}0" rdev="xb${BT_ID}${tag}1"
    ip netns add "$ns"
    bt_exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    bt_exec "$ns" ip link set lo up
    ip link add "$dev" netns "$ns" type veth peer name "$rdev" netns "$BT_NS_ROUTER"
    bt_exec "$ns" ethtool -K "$dev" tx off >/dev/null
    bt_exec "$BT_NS_ROUTER" ethtool -K "$rdev" tx off >/dev/null
    bt_exec "$ns" ip addr add "$a4/24" dev "$dev"
    bt_exec "$ns" ip -6 addr add "$a6/64" dev "$dev" nodad
    bt_exec "$BT_NS_ROUTER" ip addr add "198.18.$sub.1/24" dev "$rdev"
    bt_exec "$BT_NS_ROUTER" ip -6 addr add "2001:db8:$sub::1/64" dev "$rdev" nodad
    bt_exec "$ns" ip link set "$dev" up
    bt_exec "$BT_NS_ROUTER" ip link set "$rdev" up
    bt_exec "$ns" ip route add default via "198.18.$sub.1"
    bt_exec "$ns" ip -6 route add default via "2001:db8:$sub::1"
}

# bt_up PASS_OBJ: build everything; returns non-zero (after tearing down) on any failure.
bt_up() {
    local pass_obj=$1
    BT_UP=1
    ip netns add "$BT_NS_ROUTER" &&
        bt_exec "$BT_NS_ROUTER" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.accept_dad=0 net.ipv4.ip_forward=1 \
            net.ipv6.conf.all.forwarding=1 &&
        bt_exec "$BT_NS_ROUTER" ip link set lo up &&
        bt_host "$BT_NS_CLIENT" c "$BT_CLIENT4" "$BT_CLIENT6" 1 &&
        bt_host "$BT_NS_PEER" p "$BT_PEER4" "$BT_PEER6" 2 &&
        bt_host "$BT_NS_RELAY" r "$BT_RELAY4" "$BT_RELAY6" 3 &&
        bt_exec "$BT_NS_RELAY" sysctl -qw net.ipv4.conf.all.forwarding=1 \
            net.ipv6.conf.all.forwarding=1 &&
        bt_exec "$BT_NS_ROUTER" ip link set dev "$BT_RELAY_RDEV" xdp obj "$pass_obj" sec xdp &&
        bt_reachable &&
        return 0
    bt_down
    return 1
}

# bt_reachable: routing works end to end (where ping exists; bounded).
bt_reachable() {
    command -v ping >/dev/null || return 0
    bt_exec "$BT_NS_CLIENT" ping -c 1 -W 2 "$BT_RELAY4" >/dev/null &&
        bt_exec "$BT_NS_CLIENT" ping -c 1 -W 2 "$BT_RELAY6" >/dev/null &&
        bt_exec "$BT_NS_CLIENT" ping -c 1 -W 2 "$BT_PEER4" >/dev/null &&
        bt_exec "$BT_NS_CLIENT" ping -c 1 -W 2 "$BT_PEER6" >/dev/null &&
        bt_exec "$BT_NS_RELAY" ping -c 1 -W 2 "$BT_PEER4" >/dev/null &&
        bt_exec "$BT_NS_RELAY" ping -c 1 -W 2 "$BT_PEER6" >/dev/null
}

# bt_down: kill whatever is left in our namespaces and delete them (their veths go too).
bt_down() {
    local ns pid
    [ "$BT_UP" = 1 ] || return 0
    for ns in "$BT_NS_CLIENT" "$BT_NS_PEER" "$BT_NS_RELAY" "$BT_NS_ROUTER"; do
        [ -e "/run/netns/$ns" ] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
    done
    BT_UP=0
}

# bt_udp_listening NS ADDR:PORT...: every given local UDP address is bound.
bt_udp_listening() {
    local ns=$1 bound a
    shift
    bound=$(bt_exec "$ns" ss -Hunla | awk '{print $4}')
    for a in "$@"; do
        grep -qxF -- "$a" <<<"$bound" || return 1
    done
}

# bt_xdp_prog_id: id of the XDP program attached to the relay's interface ("" if none).
bt_xdp_prog_id() {
    bt_exec "$BT_NS_RELAY" ip -j -d link show dev "$BT_RELAY_DEV" |
        "${PY:-python3}" -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l.get("xdp",{}).get("prog",{}).get("id",""))'
}
