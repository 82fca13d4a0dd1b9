#!/usr/bin/env bash
# Live upgrade with --xdp to a build of another XT_ABI_VERSION (issue 13): xturn runs from a copy
# of its binary; while a client relays ChannelData 4->4 through the kernel, that file is replaced
# by xturn-abi-next (next to it: the next version, with longer IPv4 binding values; `make
# build/xturn-abi-next`) and the daemon gets SIGUSR2. The new process loads its program on new
# maps, restores every binding into them while the old program relays on, carries the XDP
# counters over and takes the old link over: no loss, the old process exits 0, the link runs the
# new program, none of whose maps is the old one's (bpftool), the counters never went back
# (`xturn stats`, and the metrics), and the restored bindings and a new client relay in XDP.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SRC_BIN=$XTURN
upgrade_bin_init
NEXT="$(dirname "$SRC_BIN")/xturn-abi-next"
[ -x "$NEXT" ] || fail "$NEXT missing (make $(dirname "$SRC_BIN")/xturn-abi-next)"
XT_MPORT=9641

# map_values PROG_ID: "name value_size" of the program's binding maps c2p_44 and p2c_44.
map_values() {
    # shellcheck disable=SC2046 # one argument per id
    bpftool -j map show | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1:]}
for m in sorted(json.load(sys.stdin), key=lambda m: m["name"]):
    if m["id"] in ids and m["name"] in ("c2p_44", "p2c_44"):
        print(m["name"], m["bytes_value"], end=" ")' $(xdp_prog_maps "$1")
}

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --workers 2 --metrics "$XT_RELAY4:$XT_MPORT"
old_prog=$(xdp_prog_id)
old_maps=$(xdp_prog_maps "$old_prog")
old_values=$(map_values "$old_prog")
replace_binary "$NEXT"
xdp_live_upgrade

grep -q '"message":"live upgrade: the XDP maps'"'"' layout changed, moving to new maps"' "$XT_LOG" ||
    fail "no log line of the move to new maps"
grep -q '"message":"xdp counters carried over","by":"name"' "$XT_LOG" ||
    fail "the counters were not carried over by name: $(grep -o '"message":"xdp counters.*' "$XT_LOG")"
new_maps=$(xdp_prog_maps "$UP_PROG")
shared=$(comm -12 <(echo "$old_maps") <(echo "$new_maps"))
[ -z "$shared" ] || fail "program $UP_PROG still uses the old program's maps $shared"
new_values=$(map_values "$UP_PROG")
[ "$new_values" != "$old_values" ] || fail "the binding values did not change size: $new_values"
log "maps $(tr '\n' ' ' <<<"$old_maps")-> $(tr '\n' ' ' <<<"$new_maps"); values $old_values-> $new_values"

# Prometheus: the new process's counters start from the old program's (the session's 3200 each
# way, in XDP but for a few packets).
xdp_metric=$(metric xturn_relayed_packets_total 'path="xdp"')
[ "$xdp_metric" -ge 6000 ] || fail "xturn_relayed_packets_total{path=\"xdp\"} is $xdp_metric (want 6000 at least)"

# A new client relays through the new program, and the counters count on.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
xdp_assert_at_least c2p_44 $((UP_C2P + 190))
[ "$(metric xturn_relayed_packets_total 'path="xdp"')" -ge $((xdp_metric + 380)) ] ||
    fail "the metrics' XDP packets did not count on from $xdp_metric"
stop_upgraded "$XT_DAEMON_PID"
pass
