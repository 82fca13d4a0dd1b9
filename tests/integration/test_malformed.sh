#!/usr/bin/env bash
# Robustness: thousands of malformed datagrams (junk.py) at the listen port over
# IPv4 and IPv6. The daemon must stay up, keep answering STUN Binding requests
# correctly, and still relay a normal session without loss.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# junk_at HOST SEED: phase 1 (unauthenticated junk) + phase 2 (authenticated bad requests).
junk_at() {
    local out="$XT_TMP/junk.$2.out"
    log "junk -> $1"
    ns_run "$XT_NS_CLIENT" 40 "$out" python3 "$XT_DIR/junk.py" "$1" "$XT_PORT" 2500 --seed "$2" \
        --max-seconds 25 --secret "$XT_SECRET" --realm "$XT_REALM" --peer "$XT_PEER4" \
        --peer-port "$XT_PEER_PORT" || { cat "$out" >&2; fail "junk.py to $1 failed"; }
    log "$(tail -n 1 "$out")"
    daemon_alive || fail "daemon died under junk sent to $1"
}

topo_up
start_peer
start_xturn
stun_ok "$XT_RELAY4"
stun_ok "$XT_RELAY6"

junk_at "$XT_RELAY4" 1
stun_ok "$XT_RELAY4"
junk_at "$XT_RELAY6" 2
stun_ok "$XT_RELAY6"
stun_ok "$XT_RELAY4"

uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
daemon_alive || fail "daemon died during the run"
stop_xturn
pass
