#!/usr/bin/env bash
# Live upgrade with --xdp (issue 13): while a client relays ChannelData 4->4 through the kernel,
# the daemon gets SIGUSR2. The new process loads its own program on the old one's maps (the
# bindings and counters stay) and takes the old process's BPF link over with bpf_link_update:
# the session ends without loss, the XDP counters went on counting during and after the switch
# (never back), the old process exits 0, one xturn link is attached, held by the new process and
# running its program (bpftool, ip link), and a new client relays through it. After a SIGKILL of the new process,
# no program is left on the interface (the link died with its holder).
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-90}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# xdp_prog_id: the id of the XDP program on the relay's interface; empty without one.
xdp_prog_id() {
    ns_exec "$XT_NS_RELAY" ip -d link show dev "$XT_RELAY_DEV" | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'
}

# xdp_links PID: "link_id prog_id" of every XDP link the process holds an fd of (the host may
# hold other tests' xturn links).
xdp_links() {
    local f
    for f in /proc/"$1"/fdinfo/*; do
        awk '$1 == "link_type:" { t = $2 } $1 == "link_id:" { l = $2 } $1 == "prog_id:" { p = $2 }
             END { if (t == "xdp" && l != "") print l, p }' "$f" 2>/dev/null
    done | sort -u
}

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2
old_pid=$XT_DAEMON_PID
old_prog=$(xdp_prog_id)
[ -n "$old_prog" ] || fail "no XDP program on $XT_RELAY_DEV after start"
read -r old_link _ <<<"$(xdp_links "$old_pid")"
[ -n "$old_link" ] || fail "the daemon holds no XDP link after start"

# 8 s of ChannelData, 2 channels x 1600 messages, echoed by the peer.
timeout -k 3 40 ip netns exec "$XT_NS_CLIENT" turnutils_uclient "${XT_REST_ARGS[@]}" -n 1600 \
    -l 120 -z 5 -e "$XT_PEER4" "$XT_RELAY4" >"$XT_TMP/chan.out" 2>&1 </dev/null &
chan_pid=$!
XT_PIDS+=("$chan_pid")
for _ in $(seq 1 50); do
    before=$(xdp_count c2p_44)
    [ "${before:-0}" -ge 200 ] && break
    sleep 0.1
done
[ "${before:-0}" -ge 200 ] || fail "the kernel relayed only ${before:-0} packets before the switch"

log "c2p_44 $before before the switch (program $old_prog, link $old_link)"
live_upgrade
during=$(xdp_count c2p_44)
new_pid=$XT_DAEMON_PID
grep -q '"message":"xdp taken over"' "$XT_LOG" || fail "no 'xdp taken over' log line"

# One xturn link: the same link, now running the new process's program, held by it.
links=$(xdp_links "$new_pid")
[ "$(wc -l <<<"$links")" -eq 1 ] || fail "the new process holds XDP links '$links' (want one)"
read -r link prog <<<"$links"
[ "$link" = "$old_link" ] || fail "the new process holds link $link, not the old one ($old_link)"
[ "$prog" != "$old_prog" ] || fail "the link still runs the old program ($old_prog)"
[ "$(bpftool -j prog show id "$prog" | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])')" = xturn_xdp ] ||
    fail "the link runs program $prog, not an xturn_xdp"
if [ "$(ns_exec "$XT_NS_RELAY" ip -d link show dev "$XT_RELAY_DEV" | grep -c 'prog/xdp')" -ne 1 ] ||
    [ "$(xdp_prog_id)" != "$prog" ]; then
    fail "ip link shows program '$(xdp_prog_id)', the link runs $prog"
fi
log "link $link runs program $prog (was $old_prog), held by the new process $new_pid"

wait "$chan_pid" || fail "the session across the switch exited with status $?"
xt_forget "$chan_pid"
assert_no_loss "$XT_TMP/chan.out"
after=$(xdp_count c2p_44)
back=$(xdp_count p2c_44)
# The session sent 3200 ChannelData; the counters are the old program's map, counted on.
if [ "$during" -lt "$before" ] || [ "$after" -le "$during" ] || [ "$after" -lt 3000 ]; then
    fail "c2p_44: $before before the switch, $during once handed over, $after after the session"
fi
[ "$back" -ge 3000 ] || fail "p2c_44 counted $back (want the session's 3200 at least, most)"
log "c2p_44 $before, $during, $after; p2c_44 $back; $(grep -o '"paused_ms":[0-9]*' "$XT_LOG" | tail -n 1)"

# A new client relays through the adopted link.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 $((after + 190))

# SIGKILL: the link goes with its holder, and the program with it.
kill -KILL "$new_pid"
wait_gone "$new_pid" 5 || fail "the new process still runs 5 s after SIGKILL"
xt_forget "$new_pid"
XT_DAEMON_PID=""
for _ in $(seq 1 20); do
    [ -z "$(xdp_prog_id)" ] && break
    sleep 0.1
done
[ -z "$(xdp_prog_id)" ] || fail "XDP program $(xdp_prog_id) still attached after SIGKILL"
bpftool link show id "$link" >/dev/null 2>&1 && fail "link $link still exists after SIGKILL"
assert_json_log
grep -qE 'Sanitizer|runtime error:' "$XT_ERR" && fail "sanitizer report on daemon stderr"
pass
