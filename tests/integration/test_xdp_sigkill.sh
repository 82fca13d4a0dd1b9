#!/usr/bin/env bash
# Nothing relays for an allocation that no longer exists. xturn attaches its XDP program through
# a BPF link it holds, so when the daemon is SIGKILLed while the kernel relays a bound channel
# (4->4, counted by `xturn stats`), the program goes with it: no XDP program on the relay's
# interface (ip, bpftool net), the program id recorded before no longer loaded, and the
# ChannelData the client keeps sending no longer reaches the peer. A new xturn then attaches and
# relays through XDP again.
# At start, an xturn program attached the old way (netlink, without a link: a crashed older
# xturn's, attached here by `ip link`) is replaced with a warning naming the interface and the
# program id; a foreign program is refused (exit 2) and left in place, and so is the link of
# another running xturn.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

COUNT_PORT=3481 # the peer's counter of relayed datagrams
RATE=200        # ChannelData datagrams a second from the client
COUNT_PID=""
COUNT_OUT=""
COUNT_TOTAL=""
SESSION_PID=""
SESSION_OUT=""

# xdp_prog_id: the id of the XDP program on the relay's interface; empty without one.
xdp_prog_id() {
    ns_exec "$XT_NS_RELAY" ip -d link show dev "$XT_RELAY_DEV" | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'
}

# prog_loaded ID: the program is still loaded on this host (whatever the namespace).
prog_loaded() {
    bpftool prog show id "$1" >/dev/null 2>&1
}

# count_start NAME: count the datagrams reaching the peer's COUNT_PORT (at most 60 s).
count_start() {
    local i
    COUNT_OUT="$XT_TMP/count.$1.json"
    ip netns exec "$XT_NS_PEER" python3 "$XT_ROOT/tests/soak/udp_count.py" \
        "$XT_PEER4:$COUNT_PORT" --seconds 60 >"$COUNT_OUT" 2>"$COUNT_OUT.err" </dev/null &
    COUNT_PID=$!
    XT_PIDS+=("$COUNT_PID")
    for i in $(seq 1 50); do
        grep -qx ready "$COUNT_OUT.err" && return 0
        sleep 0.1
    done
    fail "udp_count.py did not start: $(cat "$COUNT_OUT.err")"
}

# count_stop: end the counter (if still running); its total in COUNT_TOTAL.
count_stop() {
    kill -TERM "$COUNT_PID" 2>/dev/null || true
    wait "$COUNT_PID" || fail "udp_count.py failed: $(cat "$COUNT_OUT.err")"
    xt_forget "$COUNT_PID"
    COUNT_TOTAL=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$COUNT_OUT")
}

# session_start NAME SECONDS: a client allocating, binding a channel to the peer's COUNT_PORT and
# sending RATE ChannelData datagrams a second on it for SECONDS; returns once it is bound.
session_start() {
    local i
    SESSION_OUT="$XT_TMP/session.$1.out"
    timeout -k 3 $(($2 + 20)) ip netns exec "$XT_NS_CLIENT" python3 "$XT_DIR/turn_session.py" \
        "$XT_RELAY4:$XT_PORT" "$XT_SECRET" channel "$XT_PEER4:$COUNT_PORT" "$2" "$RATE" \
        >"$SESSION_OUT" 2>&1 </dev/null &
    SESSION_PID=$!
    XT_PIDS+=("$SESSION_PID")
    for i in $(seq 1 100); do
        grep -qx bound "$SESSION_OUT" && return 0
        kill -0 "$SESSION_PID" 2>/dev/null || fail "session exited: $(cat "$SESSION_OUT")"
        sleep 0.1
    done
    fail "session not bound after 10 s: $(cat "$SESSION_OUT")"
}

# session_sent: datagrams the session has sent so far.
session_sent() {
    sed -nE 's/^sent ([0-9]+)$/\1/p' "$SESSION_OUT" | tail -n 1
}

# relays_through_xdp NAME: a 3 s session reaches the peer (95% at least) through the kernel.
relays_through_xdp() {
    local before sent got xdp
    before=$(xdp_count c2p_44)
    count_start "$1"
    session_start "$1" 3
    wait "$SESSION_PID" || fail "session failed: $(cat "$SESSION_OUT")"
    xt_forget "$SESSION_PID"
    sleep 0.3
    count_stop
    got=$COUNT_TOTAL
    sent=$(session_sent)
    xdp=$(($(xdp_count c2p_44) - before))
    [ "$sent" -ge $((2 * RATE)) ] || fail "$1: the session sent only $sent datagrams"
    [ $((got * 100)) -ge $((sent * 95)) ] || fail "$1: the peer received $got of $sent datagrams"
    [ $((xdp * 100)) -ge $((sent * 95)) ] || fail "$1: XDP relayed $xdp of $sent datagrams"
    log "$1: sent $sent, the peer received $got, XDP relayed $xdp"
}

# refused NAME WANT ARGS...: xturn with ARGS exits 2 at start (within 10 s) with one error line
# holding WANT.
refused() {
    local name=$1 want=$2 rc=0
    shift 2
    timeout -k 3 10 ip netns exec "$XT_NS_RELAY" "$XTURN" --auth-secret "$XT_SECRET" "$@" \
        >"$XT_TMP/$name.out" 2>"$XT_TMP/$name.err" </dev/null || rc=$?
    [ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2: $(cat "$XT_TMP/$name.err")"
    [ "$(grep -c . "$XT_TMP/$name.err")" -eq 1 ] || fail "$name: want one error line: $(cat "$XT_TMP/$name.err")"
    grep -qF -- "$XT_RELAY_DEV" "$XT_TMP/$name.err" || fail "$name: error does not name the interface"
    grep -qF -- "$want" "$XT_TMP/$name.err" || fail "$name: error without '$want': $(cat "$XT_TMP/$name.err")"
    log "$name: $(cat "$XT_TMP/$name.err")"
}

topo_up
xdp_prepare

# ---- SIGKILL while the kernel relays ----
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
id=$(xdp_prog_id)
[ -n "$id" ] || fail "no XDP program on $XT_RELAY_DEV after start"
bpftool -j link show | python3 -c '
import json, sys
sys.exit(not any(l.get("type") == "xdp" and l.get("prog_id") == int(sys.argv[1]) for l in json.load(sys.stdin)))
' "$id" || fail "program $id is not attached through a BPF link: $(bpftool link show)"
log "program $id attached through a BPF link"
count_start before-kill
session_start kill 15
sleep 1.5
xdp_assert_at_least c2p_44 $((RATE))
kill -KILL "$XT_DAEMON_PID"
wait "$XT_DAEMON_PID" 2>/dev/null || true
xt_forget "$XT_DAEMON_PID"
XT_DAEMON_PID=""
log "daemon SIGKILLed after the session sent $(session_sent) datagrams"
for _ in $(seq 1 50); do # the kernel frees the program after an RCU grace period
    prog_loaded "$id" || break
    sleep 0.1
done
[ -z "$(xdp_prog_id)" ] || fail "an XDP program is still attached after SIGKILL: $(xdp_prog_id)"
if ns_exec "$XT_NS_RELAY" bpftool net show dev "$XT_RELAY_DEV" | grep -q "^$XT_RELAY_DEV("; then
    fail "bpftool net still shows XDP on $XT_RELAY_DEV: $(ns_exec "$XT_NS_RELAY" bpftool net show dev "$XT_RELAY_DEV")"
fi
prog_loaded "$id" && fail "program $id still loaded 5 s after SIGKILL"
log "after SIGKILL: nothing attached, program $id unloaded"
count_stop
[ "$COUNT_TOTAL" -gt 0 ] || fail "the peer received nothing before the kill"
count_start after-kill
sent=$(session_sent)
sleep 3
count_stop
got=$COUNT_TOTAL
sent=$(($(session_sent) - sent))
kill -0 "$SESSION_PID" 2>/dev/null || fail "the session stopped sending: $(cat "$SESSION_OUT")"
[ "$sent" -ge $((2 * RATE)) ] || fail "the client sent only $sent datagrams in 3 s after the kill"
[ "$got" -eq 0 ] || fail "the peer received $got of the $sent datagrams sent after the kill"
log "after SIGKILL: the client sent $sent ChannelData datagrams, the peer received none"
xt_kill "$SESSION_PID"

start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
relays_through_xdp restarted
grep -q 'leftover' "$XT_LOG" && fail "a leftover was reported after SIGKILL: nothing should be left"
stop_xturn

# ---- start-up: an old-style xturn leftover, a foreign program, another xturn's link ----
ns_exec "$XT_NS_RELAY" ip link set dev "$XT_RELAY_DEV" xdpdrv obj "$XT_ROOT/build/bpf/xturn.bpf.o" sec xdp ||
    fail "cannot attach build/bpf/xturn.bpf.o by netlink"
old=$(xdp_prog_id)
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native
python3 - "$XT_LOG" "$XT_RELAY_DEV" "$old" <<'EOF' || fail "no warning naming $XT_RELAY_DEV and program $old"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(not any(l["severity"] == "WARN" and "leftover" in l["message"] and
                 l.get("interface") == sys.argv[2] and l.get("program_id") == int(sys.argv[3])
                 for l in lines))
EOF
id=$(xdp_prog_id)
if [ -z "$id" ] || [ "$id" = "$old" ]; then
    fail "the leftover $old was not replaced (attached: '$id')"
fi
log "leftover program $old replaced by $id, with a warning"
relays_through_xdp after-leftover

refused second-xturn "another program holds the interface" --listen "$XT_RELAY4:$((XT_PORT + 1))" \
    --xdp "$XT_RELAY_DEV" --xdp-mode native
[ "$(xdp_prog_id)" = "$id" ] || fail "the running xturn's program $id was displaced: '$(xdp_prog_id)'"
daemon_alive || fail "the running xturn died"
stop_xturn

ns_exec "$XT_NS_RELAY" ip link set dev "$XT_RELAY_DEV" xdpdrv obj "$XT_ROOT/build/bpf/xdp_pass.bpf.o" sec xdp ||
    fail "cannot attach a foreign program"
foreign=$(xdp_prog_id)
refused foreign "another XDP program is attached" --listen "$XT_RELAY4:$XT_PORT" \
    --xdp "$XT_RELAY_DEV" --xdp-mode native
[ "$(xdp_prog_id)" = "$foreign" ] || fail "the foreign program $foreign was displaced: '$(xdp_prog_id)'"
ns_exec "$XT_NS_RELAY" ip link set dev "$XT_RELAY_DEV" xdpdrv off
pass
