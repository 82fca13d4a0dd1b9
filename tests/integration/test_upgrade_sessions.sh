#!/usr/bin/env bash
# Live upgrade (issue 13, "done when"): xturn --xdp runs from a copy of the binary while
# turnutils_uclient sessions of every kind run: ChannelData through the kernel 4->4 and 6->4
# (an IPv6 client with an IPv4 relayed address and peer), Send indications in userspace, two
# clients relaying to each other through the relay (channels, through the kernel; Send
# indications, in userspace), and a TCP client. The file is replaced and the daemon gets
# SIGUSR2: every session ends without loss, the XDP counters of each kernel path count on
# through the switch, the old process exits 0, the new one runs from the new file and serves
# new clients (4->4 and 6->4 through the kernel, TCP), and exits 0 on SIGTERM.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-75}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

XT_REAP=1 # the new process's exit status too
SRC_BIN=$XTURN
upgrade_bin_init

# sent OUT: the messages a uclient session sent (its closing statistics).
sent() {
    sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), .*/\1/p' "$1" | tail -n 1
}

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2 --metrics "$XT_RELAY4:9641"

# 15 s each (sending starts 2-3 s after the start): 2 channels (RTP, RTCP) or 2 clients x 3000
# messages of 120 bytes, 5 ms apart.
UC=(-n 3000 -l 120 -z 5)
declare -A pid
bg_uclient "$XT_TMP/chan44.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -e "$XT_PEER4" "$XT_RELAY4"
pid[chan44]=$BG_PID
bg_uclient "$XT_TMP/chan64.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -X -e "$XT_PEER4" "$XT_RELAY6"
pid[chan64]=$BG_PID
bg_uclient "$XT_TMP/send.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -s -e "$XT_PEER4" "$XT_RELAY4"
pid[send]=$BG_PID
bg_uclient "$XT_TMP/c2c.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -y "$XT_RELAY4"
pid[c2c]=$BG_PID
bg_uclient "$XT_TMP/c2c_send.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -y -s -x "$XT_RELAY6"
pid[c2c_send]=$BG_PID
bg_uclient "$XT_TMP/tcp.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -t -e "$XT_PEER4" "$XT_RELAY4"
pid[tcp]=$BG_PID

# Every session relaying before the switch: the kernel's paths; in userspace the TCP client, the
# IPv4 client's Send indications and the IPv6 clients' (c2c_send).
await_sessions pid c2p_44 c2p_64 c2c_self

replace_binary "$SRC_BIN"
live_upgrade
grep -q '"message":"xdp taken over"' "$XT_LOG" || fail "no 'xdp taken over' log line"
[ "$(taken_over allocations)" -gt 0 ] || fail "the new process took over no allocation"
declare -A during
for c in c2p_44 c2p_64 c2c_self; do
    during[$c]=$(xdp_count "$c")
done

for s in chan44 chan64 send c2c c2c_send tcp; do
    bg_uclient_ok "${pid[$s]}" "$XT_TMP/$s.out" "the $s session"
done
# Each kernel path counted on through the switch and relayed (nearly) all of its session.
declare -A want=([c2p_44]=chan44 [c2p_64]=chan64 [c2c_self]=c2c)
for c in c2p_44 c2p_64 c2c_self; do
    after=$(xdp_count "$c")
    n=$(sent "$XT_TMP/${want[$c]}.out")
    if [ "${during[$c]}" -lt "${XDP_AT[$c]}" ] || [ "$after" -le "${during[$c]}" ] ||
        [ "$after" -lt $((n * 95 / 100)) ]; then
        fail "$c: ${XDP_AT[$c]} before the switch, ${during[$c]} once handed over, $after after the ${want[$c]} session's $n messages"
    fi
    log "$c: ${XDP_AT[$c]}, ${during[$c]}, $after (the ${want[$c]} session sent $n)"
done
xdp_assert_at_least p2c_44 $(($(sent "$XT_TMP/chan44.out") * 95 / 100))
xdp_assert_at_least p2c_46 $(($(sent "$XT_TMP/chan64.out") * 95 / 100))

# New clients of the new process.
c44=$(xdp_count c2p_44)
c64=$(xdp_count c2p_64)
UC=(-n 50 -l 120 -z 2)
bg_uclient "$XT_TMP/new44.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -e "$XT_PEER4" "$XT_RELAY4"
pid[new44]=$BG_PID
bg_uclient "$XT_TMP/new64.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -X -e "$XT_PEER4" "$XT_RELAY6"
pid[new64]=$BG_PID
bg_uclient "$XT_TMP/newtcp.out" "${XT_REST_ARGS[@]}" "${UC[@]}" -t -e "$XT_PEER4" "$XT_RELAY4"
pid[newtcp]=$BG_PID
for s in new44 new64 newtcp; do
    bg_uclient_ok "${pid[$s]}" "$XT_TMP/$s.out" "the $s session"
done
xdp_assert_at_least c2p_44 $((c44 + 95))
xdp_assert_at_least c2p_64 $((c64 + 95))
stop_xturn
pass
