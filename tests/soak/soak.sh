#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Soak under churn (`make soak`; tests/integration/test_soak_brief.sh runs a short one).
#
# In the namespace topology of tests/integration/lib.sh, with short lifetimes (allocations
# 5 s, permissions 4 s, channels 5 s), waves of clients create thousands of allocations, bind
# channels or create permissions, send data that an echoing sink returns, and then delete
# their allocations or leave them to expire:
#   - xturn-bench waves (SOAK_BENCH_ALLOCS allocations each, from 32 client addresses so the
#     per-source 401 rate limit is not what limits churn), rotating over IPv4/IPv6 clients and
#     relayed addresses (4->4, 4->6, 6->4, 6->6), channels and Send indications; each deletes
#     its allocations at the end;
#   - churn.py waves running alongside (SOAK_CHURN_COUNT allocations each, every family
#     combination, half channels, half permissions), which delete one in three and leave the
#     others to expire.
# Once without XDP and once with XDP (--xdp on the relay's interface). Each phase's waves are
# cut into rounds of at most SOAK_ROUND seconds; after each round the load stops until every
# allocation has expired (a checkpoint), and at each checkpoint:
#   - the daemon's open fds are back to their count before the first wave;
#   - no UDP socket is bound in the relay ns but the listen sockets;
#   - every XDP binding map (c2p_44 ... p2c_66, found through bpftool) is empty;
#   - RSS (VmRSS) is at most the fresh daemon's + SOAK_RSS_SLACK_KB, and at the last
#     checkpoint at most the first checkpoint's + SOAK_RSS_GROWTH_KB (no growth round over
#     round). Not with an AddressSanitizer daemon (XTURN_BIN=build/san/xturn), whose
#     quarantine holds freed memory: there LeakSanitizer's report at exit is the leak check
#     (stop_xturn fails on any sanitizer report).
# After the phase: the shutdown stats line says 0 allocations, permissions and channels, every
# allocation created was deleted (by refresh or expiry) before shutdown, and the counters add
# up in each direction (soak_check.py: generators' sent = XDP + userspace relayed + drops, with
# every drop term read from a counter; exact when nothing was dropped).
#
# Environment (defaults): SOAK_SECONDS (300: wave time, split between the phases), SOAK_ROUND
# (60), SOAK_MODES ("userspace xdp"), SOAK_BENCH_ALLOCS (200), SOAK_BENCH_RATE (4000 datagrams/s
# per wave), SOAK_CHURN_COUNT (96), SOAK_RSS_SLACK_KB (8192), SOAK_RSS_GROWTH_KB (2048),
# SOAK_MAX_LOSS (1.0 percent), XTURN_BIN, XTURN_BENCH_BIN, XT_KEEP_TMP=1.
set -euo pipefail

SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_ROUND=${SOAK_ROUND:-60}
SOAK_MODES=${SOAK_MODES:-"userspace xdp"}
SOAK_BENCH_ALLOCS=${SOAK_BENCH_ALLOCS:-200}
SOAK_BENCH_RATE=${SOAK_BENCH_RATE:-4000}
SOAK_CHURN_COUNT=${SOAK_CHURN_COUNT:-96}
SOAK_RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-8192}
SOAK_RSS_GROWTH_KB=${SOAK_RSS_GROWTH_KB:-2048}
SOAK_MAX_LOSS=${SOAK_MAX_LOSS:-1.0}
ALLOC_LIFETIME=5 PERM_LIFETIME=4 CHAN_LIFETIME=5
WORKERS=2

for v in SOAK_SECONDS SOAK_ROUND SOAK_BENCH_ALLOCS SOAK_BENCH_RATE SOAK_CHURN_COUNT; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "soak: $v must be a positive integer" >&2; exit 2; }
done
NMODES=$(wc -w <<<"$SOAK_MODES")
[ "$NMODES" -gt 0 ] || { echo "soak: SOAK_MODES is empty" >&2; exit 2; }
PHASE_SECONDS=$(((SOAK_SECONDS + NMODES - 1) / NMODES))
ROUNDS=$(((PHASE_SECONDS + SOAK_ROUND - 1) / SOAK_ROUND))
ROUND_SECONDS=$(((PHASE_SECONDS + ROUNDS - 1) / ROUNDS)) # rounds of equal length
# The overall guard: the waves, per round the last wave's overrun and a checkpoint (<= 11 s),
# per phase start, stop and checks, and the topology; with room for a loaded machine.
: "${XT_TEST_TIMEOUT:=$((NMODES * (PHASE_SECONDS + ROUNDS * 20 + 40) + 40))}"
export XT_TEST_TIMEOUT SOAK_SECONDS SOAK_ROUND SOAK_MODES

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=soak_lib.sh
. "$(dirname "$0")/soak_lib.sh"

BENCH_LOCALS=(10 41)  # client addresses of the bench waves (198.18.1.N, 2001:db8:1::N)
CHURN_LOCALS=(100 131) # and of the churn waves: never the same 5-tuple as a bench socket
CHURN_PID=""
CHURN_N=0
BENCH_N=0

# churn_start DIR: a churn wave in the background (bounded by timeout).
churn_start() {
    local dir=$1 locals
    CHURN_N=$((CHURN_N + 1))
    # shellcheck disable=SC2207 # words of "--local ADDR"
    locals=($(sk_local_args 4 "${CHURN_LOCALS[@]}") $(sk_local_args 6 "${CHURN_LOCALS[@]}"))
    timeout -k 3 40 ip netns exec "$XT_NS_CLIENT" "$SK_PY" "$SK_DIR/churn.py" \
        --server4 "$XT_RELAY4" --server6 "$XT_RELAY6" --secret "$XT_SECRET" \
        --peer "$XT_PEER4:$SK_SINK_PORT" --peer "[$XT_PEER6]:$SK_SINK_PORT" "${locals[@]}" \
        --port-base $((20000 + (CHURN_N % 300) * 128)) --count "$SOAK_CHURN_COUNT" \
        --packets 5 --size 160 --delete-every 3 --wave "$CHURN_N" --max-seconds 30 \
        >"$dir/churn.$CHURN_N.json" 2>"$dir/churn.$CHURN_N.err" </dev/null &
    CHURN_PID=$!
    XT_PIDS+=("$CHURN_PID")
}

# churn_reap [wait]: collect the churn wave if it has finished (or wait for it).
churn_reap() {
    local rc=0
    [ -n "$CHURN_PID" ] || return 0
    if [ "${1:-}" != wait ] && kill -0 "$CHURN_PID" 2>/dev/null; then
        return 0
    fi
    wait "$CHURN_PID" || rc=$?
    xt_forget "$CHURN_PID"
    CHURN_PID=""
    [ "$rc" -eq 0 ] || fail "churn wave $CHURN_N exited with status $rc: $(tail -n 3 "$PHASE_DIR/churn.$CHURN_N.err")"
}

# bench_wave DIR: one xturn-bench wave, its configuration picked by the wave number.
bench_wave() {
    local dir=$1 server fam peer out rc=0 locals
    local mode=channel extra=()
    BENCH_N=$((BENCH_N + 1))
    case $((BENCH_N % 6)) in
    0) server=$XT_RELAY4 fam=4 peer="$XT_PEER4:$SK_SINK_PORT" ;;
    1) server=$XT_RELAY4 fam=4 peer="[$XT_PEER6]:$SK_SINK_PORT" extra=(--relay-family 6) ;;
    2) server="[$XT_RELAY6]" fam=6 peer="$XT_PEER4:$SK_SINK_PORT" extra=(--relay-family 4) ;;
    3) server="[$XT_RELAY6]" fam=6 peer="[$XT_PEER6]:$SK_SINK_PORT" ;;
    4) server=$XT_RELAY4 fam=4 peer="$XT_PEER4:$SK_SINK_PORT" mode=send ;;
    5) server="[$XT_RELAY6]" fam=6 peer="[$XT_PEER6]:$SK_SINK_PORT" mode=send ;;
    esac
    # shellcheck disable=SC2207 # words of "--local ADDR"
    locals=($(sk_local_args "$fam" "${BENCH_LOCALS[@]}"))
    out="$dir/bench.$BENCH_N.json"
    sk_bench "$out" --server "$server" --peer "$peer" --secret "$XT_SECRET" --mode "$mode" \
        "${extra[@]}" "${locals[@]}" --allocations "$SOAK_BENCH_ALLOCS" --rate "$SOAK_BENCH_RATE" \
        --size 200 --duration 1 --warmup 0 --drain 1 --echo || rc=$?
    [ "$rc" -eq 0 ] || fail "bench wave $BENCH_N ($mode, $server -> $peer) exited with status $rc: $(head -c 600 "$out.err")"
}

# checkpoint NAME: wait (bounded) until every allocation has expired, then check fds, relay
# sockets, XDP maps and RSS. Appends "NAME rss" to $PHASE_DIR/rss.
checkpoint() {
    local name=$1 deadline socks fds maps=0 rss xdp=$2 t0=$SECONDS
    deadline=$((SECONDS + ALLOC_LIFETIME + 6))
    while :; do
        socks=$(sk_relay_sockets | wc -l)
        fds=$(sk_fds "$XT_DAEMON_PID")
        # The maps last (bpftool is the slow part): only once the sockets are gone.
        if [ "$xdp" = 1 ] && [ "$socks" -eq 0 ]; then
            maps=$(sk_xdp_maps | awk '{ n += $2 } END { print n + 0 }')
        fi
        if [ "$socks" -eq 0 ] && [ "$fds" -eq "$FD0" ] && [ "$maps" -eq 0 ]; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            sk_relay_sockets | head -n 5 >&2
            [ "$xdp" = 1 ] && sk_xdp_maps >&2
            ls -l "/proc/$XT_DAEMON_PID/fd" >&2
            fail "checkpoint $name: $((ALLOC_LIFETIME + 6)) s after the last wave, $socks relay sockets bound, $fds fds open (baseline $FD0), $maps XDP map entries"
        fi
        sleep 0.5
    done
    [ "$(sk_listen_sockets)" -eq $((2 * WORKERS)) ] || fail "checkpoint $name: listen sockets changed"
    rss=$(sk_rss "$XT_DAEMON_PID")
    echo "$name $rss" >>"$PHASE_DIR/rss"
    log "checkpoint $name (after $((SECONDS - t0)) s): fds $fds (baseline $FD0), relay sockets 0, XDP map entries $maps, RSS $rss kB (fresh $RSS0 kB)"
    if [ "$RSS_CHECK" = 1 ] && [ "$rss" -gt $((RSS0 + SOAK_RSS_SLACK_KB)) ]; then
        fail "checkpoint $name: RSS $rss kB > fresh $RSS0 kB + $SOAK_RSS_SLACK_KB kB"
    fi
}

# phase MODE: one daemon run (userspace or xdp).
phase() {
    local mode=$1 xdp=0 args=() round round_end waves t0=$SECONDS first last
    PHASE_DIR="$XT_TMP/$mode"
    mkdir -p "$PHASE_DIR"
    if [ "$mode" = xdp ]; then
        xdp=1
        args=(--xdp "$XT_RELAY_DEV")
    fi
    log "=== phase $mode: $ROUNDS round(s) of $ROUND_SECONDS s of waves"
    sk_start_sink "$PHASE_DIR/sink.json"
    start_xturn --workers "$WORKERS" --default-lifetime "$ALLOC_LIFETIME" \
        --permission-lifetime "$PERM_LIFETIME" --channel-lifetime "$CHAN_LIFETIME" "${args[@]}"
    sleep 0.5
    FD0=$(sk_fds "$XT_DAEMON_PID")
    RSS0=$(sk_rss "$XT_DAEMON_PID")
    log "fresh daemon: $FD0 fds, RSS $RSS0 kB"
    if [ "$xdp" = 1 ]; then
        sk_xdp_maps >"$PHASE_DIR/maps.fresh"
        [ "$(awk '{ n += $2 } END { print n + 0 }' "$PHASE_DIR/maps.fresh")" -eq 0 ] ||
            fail "the fresh daemon's binding maps are not empty: $(tr '\n' ' ' <"$PHASE_DIR/maps.fresh")"
    fi
    sk_snapshot "$PHASE_DIR/before"
    : >"$PHASE_DIR/rss"
    for round in $(seq 1 "$ROUNDS"); do
        round_end=$((SECONDS + ROUND_SECONDS))
        waves=0
        # Bounded in time and in count (a wave takes at least a second).
        while [ "$SECONDS" -lt "$round_end" ] && [ "$waves" -lt $((ROUND_SECONDS + 1)) ]; do
            [ -n "$CHURN_PID" ] || churn_start "$PHASE_DIR"
            bench_wave "$PHASE_DIR"
            churn_reap
            daemon_alive || fail "daemon died during the waves"
            waves=$((waves + 1))
        done
        churn_reap wait
        log "round $round: $waves bench waves, $BENCH_N in total, $CHURN_N churn waves in total"
        checkpoint "$mode.$round" "$xdp"
    done
    first=$(awk 'NR == 1 { print $2 }' "$PHASE_DIR/rss")
    last=$(awk 'END { print $2 }' "$PHASE_DIR/rss")
    if [ "$RSS_CHECK" = 1 ] && [ "$ROUNDS" -gt 1 ] && [ "$last" -gt $((first + SOAK_RSS_GROWTH_KB)) ]; then
        fail "RSS grew from $first kB at the first checkpoint to $last kB at the last (> $SOAK_RSS_GROWTH_KB kB)"
    fi
    sk_snapshot "$PHASE_DIR/after"
    if [ "$xdp" = 1 ]; then
        sk_xdp_counters >"$PHASE_DIR/xdp.txt"
    fi
    stop_xturn TERM
    cp "$XT_LOG" "$PHASE_DIR/xturn.log"
    sk_stop_sink
    log "phase $mode: $(grep -c '"message":"allocation created"' "$PHASE_DIR/xturn.log") allocations in $((SECONDS - t0)) s; RSS fresh $RSS0 kB, at checkpoints: $(awk '{ printf "%s ", $2 }' "$PHASE_DIR/rss")kB; fds $FD0"
    "$SK_PY" "$SK_DIR/soak_check.py" "$PHASE_DIR" --max-loss "$SOAK_MAX_LOSS" >"$PHASE_DIR/check.txt" 2>&1 || {
        cat "$PHASE_DIR/check.txt" >&2
        fail "phase $mode: counters do not add up"
    }
    sed 's/^/    /' "$PHASE_DIR/check.txt" >&2
}

sk_need_bench
RSS_CHECK=1
if grep -q __asan_init "$XTURN"; then
    RSS_CHECK=0
    log "AddressSanitizer daemon: RSS reported, not bounded (its quarantine keeps freed memory)"
fi
topo_up
xdp_prepare
sk_add_client_addrs "${BENCH_LOCALS[@]}"
sk_add_client_addrs "${CHURN_LOCALS[@]}"
for m in $SOAK_MODES; do
    case $m in
    userspace | xdp) phase "$m" ;;
    *) fail "unknown mode '$m' in SOAK_MODES (userspace, xdp)" ;;
    esac
done
pass
