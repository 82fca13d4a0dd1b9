#!/usr/bin/env bash
# Command-line errors: each bad invocation exits 2 with exactly one line on
# stderr and does not start serving; --help exits 0. No namespaces: the only
# sockets are on 127.0.0.1, on free ports.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$XTURN" ] || fail "daemon binary $XTURN missing or not executable (build it, or set XTURN_BIN)"

free_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_cli NAME ARGS...: the daemon bounded by 5 s; sets rc, out, err files.
run_cli() {
    local name=$1 pid
    shift
    out="$XT_TMP/$name.out" err="$XT_TMP/$name.err" rc=0
    env --default-signal timeout -k 2 5 "$XTURN" "$@" >"$out" 2>"$err" </dev/null &
    pid=$!
    XT_PIDS+=("$pid")
    wait "$pid" || rc=$?
    xt_forget "$pid"
}

# expect_usage_error NAME ARGS...: exit status 2 and exactly one stderr line.
expect_usage_error() {
    local name=$1 lines
    shift
    run_cli "$name" "$@"
    [ "$rc" -ne 124 ] || fail "$name: still running after 5 s (accepted: $*)"
    [ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2 (args: $*); stderr: $(head -c 300 "$err")"
    lines=$(grep -c . "$err" || true)
    [ "$lines" -eq 1 ] || fail "$name: $lines lines on stderr, want exactly 1: $(head -c 300 "$err")"
    log "$name: exit 2: $(cat "$err")"
}

port=$(free_port)
# The kernel's ephemeral ports (32768-60999) end below this relay range: a free port of theirs is
# never inside it, where a listen port is refused.
relay=(--relay-ports 61000-65535)
base=(--listen "127.0.0.1:$port" --realm xturn "${relay[@]}")
auth=(--auth-secret "cli-test-secret")

# Control: the base flags are good, so each failure below is the bad flag's doing.
# timeout passes our TERM on to the daemon and returns the daemon's status.
env --default-signal timeout -k 2 10 "$XTURN" "${base[@]}" "${auth[@]}" --log-level info \
    >"$XT_TMP/control.out" 2>"$XT_TMP/control.err" </dev/null &
ctl=$!
XT_PIDS+=("$ctl")
listening() { ss -Hunl | awk '{print $4}' | grep -xF "127.0.0.1:$port" >/dev/null; }
for _ in $(seq 1 50); do
    listening && break
    kill -0 "$ctl" 2>/dev/null || break
    sleep 0.1
done
listening || fail "control: daemon with valid flags is not listening on 127.0.0.1:$port: $(tail -n 3 "$XT_TMP/control.err")"
kill -TERM "$ctl"
rc=0
wait "$ctl" || rc=$?
xt_forget "$ctl"
[ "$rc" -eq 0 ] || fail "control: exit status $rc after SIGTERM, want 0"
grep -v '^[[:space:]]*$' "$XT_TMP/control.out" | tail -n 1 | grep -F 'xturn stopped' >/dev/null ||
    fail "control: no 'xturn stopped' at the end of the log"
log "control: valid flags start, serve and stop"

expect_usage_error unknown_flag "${base[@]}" "${auth[@]}" --no-such-flag
expect_usage_error relay_ports "${base[@]}" "${auth[@]}" --relay-ports 70000-1
expect_usage_error relay_ports_reversed "${base[@]}" "${auth[@]}" --relay-ports 50000-40000
expect_usage_error listen_not_ip --listen not-an-ip --realm xturn "${auth[@]}"
expect_usage_error no_credentials "${base[@]}"
expect_usage_error user_without_colon "${base[@]}" --user alice
expect_usage_error missing_value "${base[@]}" "${auth[@]}" --realm
expect_usage_error bad_log_level "${base[@]}" "${auth[@]}" --log-level loud
expect_usage_error bad_log_format "${base[@]}" "${auth[@]}" --log-format xml
expect_usage_error bad_cidr "${base[@]}" "${auth[@]}" --allow-peer 300.1.2.3/8
# The budget of unauthenticated answers: a count (rate 0 = unlimited), a burst of at least one.
expect_usage_error bad_unauth_rate "${base[@]}" "${auth[@]}" --unauth-rate 20/s
grep -qxF -- 'xturn: --unauth-rate: "20/s": expected a count up to 1000000, 0 for unlimited' "$err" ||
    fail "bad_unauth_rate: unexpected error line: $(cat "$err")"
expect_usage_error zero_unauth_burst "${base[@]}" "${auth[@]}" --unauth-burst 0
grep -qxF -- 'xturn: --unauth-burst: "0": expected a count from 1 to 1000000' "$err" ||
    fail "zero_unauth_burst: unexpected error line: $(cat "$err")"
# A listen or metrics port inside the relay range: a client could reach it as a relayed address.
expect_usage_error listen_in_relay_range --listen 127.0.0.1:62000 "${relay[@]}" "${auth[@]}"
grep -qF -- '--listen: "127.0.0.1:62000": port inside --relay-ports 61000-65535' "$err" ||
    fail "listen_in_relay_range: unexpected message: $(cat "$err")"
expect_usage_error metrics_in_relay_range "${base[@]}" "${auth[@]}" --metrics 127.0.0.1:62000
grep -qF -- '--metrics: "127.0.0.1:62000": port inside --relay-ports 61000-65535' "$err" ||
    fail "metrics_in_relay_range: unexpected message: $(cat "$err")"
# A realm must be one a 401 can carry (RFC 8489: fewer than 128 characters of UTF-8 text).
expect_usage_error realm_too_long --listen "127.0.0.1:$port" "${auth[@]}" --realm "$(printf 'r%.0s' $(seq 128))"
grep -qxF -- 'xturn: --realm: must be fewer than 128 characters (RFC 8489)' "$err" ||
    fail "realm_too_long: unexpected error line: $(cat "$err")"
expect_usage_error realm_not_utf8 --listen "127.0.0.1:$port" "${auth[@]}" --realm $'realm\xff'
grep -qxF -- 'xturn: --realm: not valid UTF-8' "$err" || fail "realm_not_utf8: unexpected error line: $(cat "$err")"

# A listen port already in use, over UDP and over TCP: python holds it (bounded) while the
# daemon tries. With --no-tcp, a port only TCP holds is free.
hold_port() {
    busy_out="$XT_TMP/busy.$1.port"
    timeout 20 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if sys.argv[1] == "tcp":
    s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(15)' "$1" >"$busy_out" &
    holder=$!
    XT_PIDS+=("$holder")
    for _ in $(seq 1 50); do
        [ -s "$busy_out" ] && break
        sleep 0.1
    done
    busy=$(head -n 1 "$busy_out")
    [ -n "$busy" ] || fail "could not hold a $1 port"
}
hold_port udp
expect_usage_error port_in_use --listen "127.0.0.1:$busy" --realm xturn "${relay[@]}" "${auth[@]}"
xt_kill "$holder"
hold_port tcp
expect_usage_error tcp_port_in_use --listen "127.0.0.1:$busy" --realm xturn "${relay[@]}" "${auth[@]}"
grep -qF "(TCP)" "$err" || fail "tcp_port_in_use: the error does not name TCP: $(cat "$err")"
# (timeout stops it after 5 s: status 124 means it started and ran)
run_cli no_tcp_port_free --listen "127.0.0.1:$busy" --realm xturn "${relay[@]}" "${auth[@]}" --no-tcp
[ "$rc" -eq 124 ] || fail "no_tcp_port_free: exit status $rc, want 124; stderr: $(head -c 300 "$err")"
grep -q '"transport":"udp"' "$out" || fail "no_tcp_port_free: no UDP-only listening line"
xt_kill "$holder"

# A certificate that does not load: one line naming the file, exit 2.
echo "not a certificate" >"$XT_TMP/bad.pem"
expect_usage_error bad_certificate --listen "127.0.0.1:$port" "${relay[@]}" "${auth[@]}" \
    --tls-listen "127.0.0.1:$(free_port)" --tls-cert "$XT_TMP/bad.pem" --tls-key "$XT_TMP/bad.pem"
grep -qF "$XT_TMP/bad.pem" "$err" || fail "bad_certificate: the error does not name the file"

run_cli help --help
[ "$rc" -eq 0 ] || fail "--help: exit status $rc, want 0"
[ -s "$out" ] || fail "--help printed nothing on stdout"
log "--help: exit 0"
pass
