#!/usr/bin/env bash
# Datagrams from outside whose source is the relay's own address are not relayed (issue 10,
# finding 3). Two allocations A and B of a client are bound to each other's relayed addresses
# (relay to self, IPv4 and IPv6); a host elsewhere sends datagrams to B's relayed addresses
# with A's relayed addresses as their source, and from a second address of the relay host. With
# XDP the kernel's martian check has not run yet: the program must drop them (drop_martian);
# without XDP neither the kernel nor userspace may deliver them. B gets the legitimate
# ChannelData A sends it all along, and none of the spoofed datagrams, in both modes.
# (tests/soak/spoof_self.py is both the client and the spoofer.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../soak/soak_lib.sh
. "$XT_ROOT/tests/soak/soak_lib.sh"

HOST4=198.18.3.77 # a second address of the relay host
COUNT=100         # spoofed datagrams per source

topo_up
ns_exec "$XT_NS_RELAY" ip addr add "$HOST4/24" dev "$XT_RELAY_DEV" || fail "cannot add $HOST4"
# The router forwards whatever source: it is the relay host's job to tell.
ns_exec "$XT_NS_ROUTER" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
    fail "cannot turn rp_filter off on the router"

# run_mode NAME: the victim session and the spoofer against the running daemon.
run_mode() {
    local mode=$1 out="$XT_TMP/victim.$1.out" victim ports i legit spoofed
    ip netns exec "$XT_NS_CLIENT" env --default-signal timeout 30 "$SK_PY" "$SK_DIR/spoof_self.py" \
        victim --relay4 "$XT_RELAY4" --relay6 "$XT_RELAY6" --secret "$XT_SECRET" --seconds 4 \
        >"$out" 2>&1 </dev/null &
    victim=$!
    XT_PIDS+=("$victim")
    for i in $(seq 1 100); do
        grep -q '^ready' "$out" && break
        kill -0 "$victim" 2>/dev/null || fail "$mode: victim session ended: $(cat "$out")"
        [ "$i" -lt 100 ] || fail "$mode: victim session not ready after 10 s"
        sleep 0.1
    done
    read -r _ pa4 pb4 pa6 pb6 < <(grep '^ready' "$out")
    ns_run "$XT_NS_PEER" 20 "$XT_TMP/spoof.$mode.out" "$SK_PY" "$SK_DIR/spoof_self.py" spoof \
        --from4 "$XT_RELAY4:$pa4" --to4 "$XT_RELAY4:$pb4" --from6 "[$XT_RELAY6]:$pa6" \
        --to6 "[$XT_RELAY6]:$pb6" --from-extra "$HOST4" --count "$COUNT" ||
        fail "$mode: spoofer failed: $(cat "$XT_TMP/spoof.$mode.out")"
    wait "$victim" || fail "$mode: victim session failed: $(cat "$out")"
    xt_forget "$victim"
    read -r _ legit _ spoofed < <(grep '^legit' "$out")
    [ "${legit:-0}" -gt 0 ] || fail "$mode: the control failed: B received no legitimate ChannelData ($(cat "$out"))"
    [ "${spoofed:-1}" -eq 0 ] || fail "$mode: B received $spoofed spoofed datagrams"
    log "$mode: B received $legit legitimate datagrams and none of $((3 * COUNT)) spoofed"
}

start_xturn
run_mode userspace
stop_xturn

xdp_prepare
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
run_mode xdp
# Every spoofed datagram was judged in XDP: from A's relayed addresses (both families) and from
# the host's second address, known to the program through the daemon's address watcher.
xdp_assert_at_least drop_martian $((3 * COUNT))
xdp_assert_at_least c2c_self 1
stop_xturn
pass
