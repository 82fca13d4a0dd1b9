#!/usr/bin/env bash
# Live upgrade with --xdp (issue 13): while a client relays ChannelData 4->4 through the kernel,
# the daemon gets SIGUSR2. The new process loads its own program on the old one's maps (the
# bindings and counters stay: the same map ids) and takes the old process's BPF link over with
# bpf_link_update: the session ends without loss, the XDP counters went on counting during and
# after the switch (never back), the old process exits 0, one xturn link is attached, held by the
# new process and running its program (bpftool, ip link), and a new client relays through it.
# After a SIGKILL of the new process, no program is left on the interface (the link died with
# its holder).
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-90}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2
old_maps=$(xdp_prog_maps "$(xdp_prog_id)")
xdp_live_upgrade
[ "$(xdp_prog_maps "$UP_PROG")" = "$old_maps" ] ||
    fail "program $UP_PROG has maps $(xdp_prog_maps "$UP_PROG"), not the old one's ($old_maps)"

# A new client relays through the adopted link.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 $((UP_C2P + 190))

# SIGKILL: the link goes with its holder, and the program with it.
new_pid=$XT_DAEMON_PID
kill -KILL "$new_pid"
wait_gone "$new_pid" 5 || fail "the new process still runs 5 s after SIGKILL"
xt_forget "$new_pid"
XT_DAEMON_PID=""
for _ in $(seq 1 20); do
    [ -z "$(xdp_prog_id)" ] && break
    sleep 0.1
done
[ -z "$(xdp_prog_id)" ] || fail "XDP program $(xdp_prog_id) still attached after SIGKILL"
bpftool link show id "$UP_LINK" >/dev/null 2>&1 && fail "link $UP_LINK still exists after SIGKILL"
assert_json_log
grep -qE 'Sanitizer|runtime error:' "$XT_ERR" && fail "sanitizer report on daemon stderr"
pass
