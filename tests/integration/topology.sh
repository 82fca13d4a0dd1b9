# shellcheck shell=bash
# The namespace topology of the integration tests (lib.sh) and the load benchmark
# (bench/topology.sh), each with its own name prefix so that both can run at once:
#
#   client 198.18.1.2 2001:db8:1::2 ---+
#   peer   198.18.2.2 2001:db8:2::2 ---+--- router (.1 / ::1 on each subnet)
#   relay  198.18.3.2 2001:db8:3::2 ---+     forwards IPv4 and IPv6
#
# Namespaces are NAME c (client), p (peer), r (relay), g (router), where NAME is PREFIX+ID; the
# host's interface is NAME+role+0 and the router's end NAME+role+1 (15 characters at most).
# Functions return non-zero at the first failure, so callers decide how to fail.

TOPO_CLIENT4=198.18.1.2 TOPO_CLIENT6=2001:db8:1::2
TOPO_PEER4=198.18.2.2 TOPO_PEER6=2001:db8:2::2
TOPO_RELAY4=198.18.3.2 TOPO_RELAY6=2001:db8:3::2

# topology_host NAME ROLE ADDR4 ADDR6 SUBNET: a host wired to the router by a veth pair made
# directly inside the two namespaces (never in the root namespace).
topology_host() {
    local name=$1 role=$2 a4=$3 a6=$4 sub=$5
    local ns="$name$role" router="${name}g" dev="$name${role}0" rdev="$name${role}1"
    ip netns add "$ns" || return 1
    # No DAD: the IPv6 addresses must be usable at once.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 || return 1
    ip netns exec "$ns" ip link set lo up || return 1
    ip link add "$dev" netns "$ns" type veth peer name "$rdev" netns "$router" || return 1
    # Full checksums on the wire, as a real NIC delivers them (XDP needs them), unless
    # TOPO_TX_OFFLOAD=on keeps veth's checksum and segmentation offloads, as a real NIC has them
    # for the stack above it (UDP GSO needs them).
    if [ "${TOPO_TX_OFFLOAD:-off}" != on ]; then
        ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null || return 1
        ip netns exec "$router" ethtool -K "$rdev" tx off >/dev/null || return 1
    fi
    ip netns exec "$ns" ip addr add "$a4/24" dev "$dev" || return 1
    ip netns exec "$ns" ip -6 addr add "$a6/64" dev "$dev" nodad || return 1
    ip netns exec "$router" ip addr add "198.18.$sub.1/24" dev "$rdev" || return 1
    ip netns exec "$router" ip -6 addr add "2001:db8:$sub::1/64" dev "$rdev" nodad || return 1
    ip netns exec "$ns" ip link set "$dev" up || return 1
    ip netns exec "$router" ip link set "$rdev" up || return 1
    ip netns exec "$ns" ip route add default via "198.18.$sub.1" || return 1
    ip netns exec "$ns" ip -6 route add default via "2001:db8:$sub::1"
}

# topology_build NAME: the router and the three hosts.
topology_build() {
    local name=$1
    ip netns add "${name}g" || return 1
    ip netns exec "${name}g" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv4.ip_forward=1 \
        net.ipv6.conf.all.forwarding=1 || return 1
    ip netns exec "${name}g" ip link set lo up || return 1
    topology_host "$name" c "$TOPO_CLIENT4" "$TOPO_CLIENT6" 1 || return 1
    topology_host "$name" p "$TOPO_PEER4" "$TOPO_PEER6" 2 || return 1
    topology_host "$name" r "$TOPO_RELAY4" "$TOPO_RELAY6" 3
}

# topology_reachable NAME: routing works end to end, proved where ping exists (bounded).
# Prints what failed.
topology_reachable() {
    local name=$1 from to
    command -v ping >/dev/null || return 0
    for from_to in "c $TOPO_RELAY4" "c $TOPO_RELAY6" "c $TOPO_PEER4" "c $TOPO_PEER6" \
        "r $TOPO_PEER4" "r $TOPO_PEER6"; do
        read -r from to <<<"$from_to"
        if ! ip netns exec "$name$from" ping -c 1 -W 2 "$to" >/dev/null; then
            echo "no route from $name$from to $to"
            return 1
        fi
    done
}

# topology_destroy NAME: kill whatever is left in the namespaces and delete them (their veths
# go with them).
topology_destroy() {
    local name=$1 role ns pid
    for role in c p r g; do
        ns="$name$role"
        [ -e "/run/netns/$ns" ] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
    done
}

# topology_prepare_xdp NAME PASS_OBJ [FORWARDING]: the relay host for the XDP fast path. A veth
# drops the frames the relay sends back with XDP_TX unless its far end has an XDP program: the
# router's end gets one that passes everything. FORWARDING (on, the default, or off) is the
# relay host's, IPv4 and IPv6: on, the program finds next hops with bpf_fib_lookup; off, xturn
# resolves them from userspace.
topology_prepare_xdp() {
    local name=$1 pass_obj=$2 fwd=0
    [ "${3:-on}" = off ] || fwd=1
    ip netns exec "${name}r" sysctl -qw net.ipv4.conf.all.forwarding=$fwd \
        net.ipv6.conf.all.forwarding=$fwd || return 1
    ip netns exec "${name}g" ip link set dev "${name}r1" xdp obj "$pass_obj" sec xdp
}

# forwarding_all NS: "0" when forwarding is off on every interface of NS for IPv4 and IPv6, else
# the sysctls that are on.
forwarding_all() {
    local on
    on=$(ip netns exec "$1" sh -c 'grep -l 1 /proc/sys/net/ipv4/conf/*/forwarding \
        /proc/sys/net/ipv6/conf/*/forwarding /proc/sys/net/ipv4/ip_forward' 2>/dev/null)
    echo "${on:-0}"
}

# udp_listening NS ADDR:PORT...: true when every given local UDP address is bound in NS.
udp_listening() { sockets_listening -Hunla "$@"; }

# tcp_listening NS ADDR:PORT...: true when every given local TCP address listens in NS.
tcp_listening() { sockets_listening -Htnl "$@"; }

# sockets_listening SS_FLAGS NS ADDR:PORT...: every address among the local ones `ss` lists.
sockets_listening() {
    local flags=$1 ns=$2 bound a
    shift 2
    bound=$(ip netns exec "$ns" ss "$flags" | awk '{print $4}')
    for a in "$@"; do
        grep -qxF -- "$a" <<<"$bound" || return 1
    done
}
