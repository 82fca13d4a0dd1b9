#!/usr/bin/env bash
# Static long-term credentials only (--user NAME:PASS, no --auth-secret): the
# user's password works; a wrong password, an unknown user and REST
# credentials do not.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# must_be_refused ARGS...: uclient must fail and relay nothing.
must_be_refused() {
    local rc=0
    run_uclient "$@" || rc=$?
    [ "$rc" -ne 0 ] || fail "uclient succeeded with bad credentials ($*)"
    if grep -qE 'tot_recv_msgs=[1-9]' "$XT_UCLIENT_OUT"; then
        fail "data was relayed with bad credentials ($*)"
    fi
    log "refused as expected (uclient status $rc)"
}

topo_up
start_peer
XT_AUTH_ARGS=()
start_xturn --user alice:secretpw --user bob:other
uclient_ok -u alice -w secretpw -n 200 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
must_be_refused -u alice -w wrongpw -n 10 -e "$XT_PEER4" "$XT_RELAY4"
must_be_refused -u mallory -w secretpw -n 10 -e "$XT_PEER4" "$XT_RELAY4"
must_be_refused -u bob -w secretpw -n 10 -e "$XT_PEER4" "$XT_RELAY4"
must_be_refused "${XT_REST_ARGS[@]}" -n 10 -e "$XT_PEER4" "$XT_RELAY4"
uclient_ok -u bob -w other -n 50 -l 100 -z 5 -e "$XT_PEER6" -x "$XT_RELAY6"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
