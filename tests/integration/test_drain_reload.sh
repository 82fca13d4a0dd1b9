#!/usr/bin/env bash
# Operations: SIGTERM with --drain-timeout refuses new allocations (508) while existing ones
# keep relaying, and exits 0 once they end; a second SIGTERM exits at once; SIGHUP re-reads
# the secret file, so a rotated secret works without dropping anything.
# shellcheck source=lib.sh
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
. "$(dirname "$0")/lib.sh"

session() { # session OUT ARGS...: turn_session.py in the client ns, in the background
    local out=$1
    shift
    ip netns exec "$XT_NS_CLIENT" python3 "$XT_DIR/turn_session.py" "$@" >"$out" 2>&1 </dev/null &
    XT_PIDS+=("$!")
}

allocate_code() { # allocate_code SECRET: the Allocate response code (0 = success)
    ns_run "$XT_NS_CLIENT" 20 "$XT_TMP/alloc.out" python3 "$XT_DIR/turn_session.py" \
        "$XT_RELAY4:$XT_PORT" "$1" allocate || true
    tail -n 1 "$XT_TMP/alloc.out"
}

wait_allocated() { # wait_allocated OUT: until the session reports its allocation (20 s at most)
    local i
    for i in $(seq 1 200); do
        grep -x allocated "$1" >/dev/null && return 0
        sleep 0.1
    done
    fail "session did not allocate: $(cat "$1")"
}

wait_exit() { # wait_exit SECONDS: the daemon exits by itself; its status must be 0
    local i rc=0
    for i in $(seq 1 $(($1 * 10))); do
        daemon_alive || break
        sleep 0.1
    done
    daemon_alive && fail "daemon still running after $1 s"
    wait "$XT_DAEMON_PID" || rc=$?
    XT_DAEMON_PID=""
    [ "$rc" -eq 0 ] || fail "daemon exited with status $rc, want 0"
}

topo_up
start_peer

# --- Drain: existing allocations keep relaying, new ones get 508, exit when they are gone.
start_xturn --drain-timeout 30
session "$XT_TMP/holder.out" "$XT_RELAY4:$XT_PORT" "$XT_SECRET" hold "$XT_PEER4:$XT_PEER_PORT" 6
wait_allocated "$XT_TMP/holder.out"
sleep 1
kill -TERM "$XT_DAEMON_PID"
sleep 1
daemon_alive || fail "daemon exited on SIGTERM despite --drain-timeout and a live allocation"
code=$(allocate_code "$XT_SECRET")
[ "$code" = 508 ] || fail "Allocate while draining answered $code, want 508"
wait_exit 15
grep -F '"message":"drained: no allocation left"' "$XT_LOG" >/dev/null || fail "no 'drained' log line"
read -r _ sent _ received < <(grep '^sent ' "$XT_TMP/holder.out") || fail "holder printed nothing"
[ "$sent" -gt 20 ] && [ "$received" -eq "$sent" ] ||
    fail "holder: sent $sent, received $received while draining"
log "drain: new allocation refused (508), holder relayed $received/$sent, exited when drained"

# --- A second SIGTERM does not wait for the drain; --user-quota answers 486 meanwhile.
start_xturn --drain-timeout 30 --user-quota 1
session "$XT_TMP/keeper.out" "$XT_RELAY4:$XT_PORT" "$XT_SECRET" hold "$XT_PEER4:$XT_PEER_PORT" 1 keep
wait_allocated "$XT_TMP/keeper.out"
code=$(allocate_code "$XT_SECRET")
[ "$code" = 486 ] || fail "a second allocation of the same user answered $code, want 486"
if tr '\0' ' ' <"/proc/$XT_DAEMON_PID/cmdline" | grep -F "$XT_SECRET" >/dev/null; then
    fail "the secret shows in /proc/PID/cmdline"
fi
kill -TERM "$XT_DAEMON_PID"
sleep 1
daemon_alive || fail "daemon did not drain"
kill -TERM "$XT_DAEMON_PID"
wait_exit 5
log "second SIGTERM: exited at once"

# --- SIGHUP: a rotated secret file takes effect.
printf '# rotated by the test\nfirst-secret\n' >"$XT_TMP/secrets"
XT_AUTH_ARGS=(--auth-secret-file "$XT_TMP/secrets")
start_xturn
[ "$(allocate_code second-secret)" = 401 ] || fail "unknown secret accepted"
[ "$(allocate_code first-secret)" = 0 ] || fail "secret from the file refused"
printf 'second-secret\n' >"$XT_TMP/secrets"
kill -HUP "$XT_DAEMON_PID"
sleep 0.5
[ "$(allocate_code second-secret)" = 0 ] || fail "rotated secret refused after SIGHUP"
[ "$(allocate_code first-secret)" = 401 ] || fail "removed secret still accepted after SIGHUP"
grep -F '"message":"reloaded: secrets re-read"' "$XT_LOG" >/dev/null || fail "no reload log line"
if grep -F -e first-secret -e second-secret "$XT_LOG" >/dev/null; then
    fail "a secret appears in the log"
fi
stop_xturn
pass
