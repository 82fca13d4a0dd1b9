#!/usr/bin/env bash
# The effect of UDP GSO and GRO on the userspace relay (`make bench-gso`; README, "Benchmarks"):
# the benchmark's namespace topology with veth's checksum and segmentation offloads left on
# (TOPO_TX_OFFLOAD=on, as a real NIC has them) and GRO turned on for the relay's veths (veth
# does it only when asked: `ethtool -K DEV gro on`), xturn with both (its default), with
# --no-udp-gro, with --no-udp-gso --no-udp-gro, and coturn relaying echo traffic of 8
# allocations (UDP clients, 4→4) at fixed rates; the relay process's CPU time per relayed packet (as `make bench` counts
# "relay CPU") and the loss. (With the offloads off, as in `make bench`'s topology, this kernel
# takes UDP GSO too and segments in software at the relay's device; with them on the segments
# travel whole to the receiving socket, as they would to a NIC that segments.) Writes bench/gso.md, which docs/BENCHMARKS.md includes. A
# measurement, not a test: run it on a quiet machine.
#
# Usage: bench/gso.sh [SECONDS] (default 4: measured seconds per point)
set -euo pipefail

SECS=${1:-4}
RATES=${BENCH_GSO_RATES:-"20000 40000 80000"}
SIZES=${BENCH_GSO_SIZES:-"100 1200"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/gso
DOC=$ROOT/bench/gso.md
SECRET=gso-secret

export TOPO_TX_OFFLOAD=on
# shellcheck source-path=SCRIPTDIR source=session.sh
. "$ROOT/bench/session.sh"
die() { session_die "$@"; }
session_check
command -v turnserver >/dev/null || die "coturn missing (apt-get install coturn)"
mkdir -p "$OUT"
: >"$OUT/results.jsonl"
BG=$(background_cpu 2)
session_up "$PASS_OBJ" || die "cannot build the topology"
session_sink
GRO_DEVS=""
for dev in $(ip netns exec "$BT_NS_RELAY" ls /sys/class/net); do
    [ "$dev" = lo ] && continue
    ip netns exec "$BT_NS_RELAY" ethtool -K "$dev" gro on >/dev/null 2>&1 &&
        GRO_DEVS="$GRO_DEVS $dev"
done

declare -A CMDS=(
    [xturn]="$XTURN --listen $BT_RELAY4:$PORT --realm xturn --auth-secret $SECRET --log-level warn --workers $(nproc)"
    [xturn-no-gro]="$XTURN --listen $BT_RELAY4:$PORT --realm xturn --auth-secret $SECRET --log-level warn --workers $(nproc) --no-udp-gro"
    [xturn-neither]="$XTURN --listen $BT_RELAY4:$PORT --realm xturn --auth-secret $SECRET --log-level warn --workers $(nproc) --no-udp-gso --no-udp-gro"
    [coturn]="turnserver -n --no-cli --no-tls --no-dtls --no-tcp-relay --listening-ip $BT_RELAY4 --listening-port $PORT --relay-ip $BT_RELAY4 --min-port 49152 --max-port 65535 --realm xturn --use-auth-secret --static-auth-secret $SECRET --relay-threads $(nproc) --allowed-peer-ip=198.18.0.0-198.19.255.255 --no-multicast-peers --pidfile $OUT/turnserver.pid --log-file $OUT/coturn-file.log --simple-log --no-stdout-log"
)
for relay in xturn xturn-no-gro xturn-neither coturn; do
    read -r -a cmd <<<"${CMDS[$relay]}"
    ip netns exec "$BT_NS_RELAY" "${cmd[@]}" >"$OUT/$relay.log" 2>&1 &
    RPID=$!
    PIDS+=("$RPID")
    sleep 1.5
    kill -0 "$RPID" 2>/dev/null || die "$relay did not start: $(tail -n 2 "$OUT/$relay.log")"
    for size in $SIZES; do
        for rate in $RATES; do
            bt_exec "$BT_NS_CLIENT" "$BENCH" client --server "$BT_RELAY4:$PORT" \
                --secret "$SECRET" --realm xturn --peer "$BT_PEER4:$SINK_PORT" --allocations 8 \
                --rate "$rate" --size "$size" --duration "$((SECS + 1))" --warmup 1 --echo \
                --json >"$OUT/point.json" &
            CPID=$!
            sleep 1.5
            ns0=$(run_ns "$RPID")
            sleep "$SECS"
            ns1=$(run_ns "$RPID")
            wait "$CPID" || die "$relay: the client failed at $rate/s of $size B"
            python3 - "$OUT/point.json" "$relay" "$size" "$rate" "$((ns1 - ns0))" "$SECS" \
                >>"$OUT/results.jsonl" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
relay, size, rate, ns, secs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
relayed = 2 * p["delivered_pps"] * secs
print(json.dumps({"relay": relay, "size": size, "rate": rate, "offered": p["offered_pps"],
                  "loss_pct": p["loss_pct"], "relay_cpus": ns / secs / 1e9,
                  "ns_per_pkt": ns / relayed if relayed else None,
                  "p50": p["rtt_us"]["p50"], "p99": p["rtt_us"]["p99"]}))
EOF
            tail -n 1 "$OUT/results.jsonl"
        done
    done
    kill -TERM "$RPID"
    wait "$RPID" 2>/dev/null || true
    sleep 0.5
done
# Whether the kernel took UDP GSO here (xturn says so once per worker when it does not).
REFUSED=$(grep -c "refused UDP segmentation offload" "$OUT/xturn.log" || true)

python3 - "$OUT/results.jsonl" "$DOC" "$SECS" "$REFUSED" "${CMDS[xturn]}" "${CMDS[coturn]}" \
    "$ROOT/" "$BG" "${GRO_DEVS:- none}" <<'EOF'
import json, sys
path, doc, secs, refused, xcmd, ccmd, root, bg, gro_devs = sys.argv[1:]
xcmd, ccmd = xcmd.replace(root, ""), ccmd.replace(root, "")
rows = [json.loads(l) for l in open(path) if l.strip()]
get = {(r["relay"], r["size"], r["rate"]): r for r in rows}
fmt = lambda v: "–" if v is None else f"{v:,.0f}".replace(",", " ")
L = ["## UDP GSO and GRO (offloads on)", "",
     f"`bench/gso.sh {secs}` (`make bench-gso`): the topology above with veth's transmit "
     "checksum and segmentation offloads left on, as a real NIC has them (with them off, as in "
     "the rounds above, this kernel segments a GSO send in software at the relay's device) and "
     f"GRO on for the relay's veths (turned on:{gro_devs}); xturn with its default UDP GSO and "
     "GRO, xturn `--no-udp-gro`, xturn `--no-udp-gso --no-udp-gro`, and coturn, each relaying "
     "the echo traffic of 8 "
     f"allocations (UDP clients, 4→4) at fixed rates; {secs} s measured per point. **relay CPU**: "
     "the relay process's threads' run time per relayed packet (2 × delivered), as in the "
     "tables above. " + ("The kernel refused GSO in this run." if refused != "0" else
                           "The kernel took GSO in this run (xturn logged no refusal).") +
     f" Background load before the run: {bg} busy CPUs.", "",
     "| payload | offered pps | xturn: loss % | relay CPU ns/pkt | `--no-udp-gro`: loss % | relay CPU ns/pkt | neither: loss % | relay CPU ns/pkt | coturn: loss % | relay CPU ns/pkt | xturn / coturn | both / neither |",
     "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for size, rate in sorted({(r["size"], r["rate"]) for r in rows}):
    x, g, n, c = (get.get((k, size, rate)) for k in ("xturn", "xturn-no-gro", "xturn-neither", "coturn"))
    cell = lambda r: f"{r['loss_pct']:.3f} | {fmt(r['ns_per_pkt'])}" if r else "– | –"
    ratio = lambda a, b: f"{a['ns_per_pkt'] / b['ns_per_pkt']:.2f}×" if a and b and a["ns_per_pkt"] and b["ns_per_pkt"] else "–"
    L.append(f"| {size} B | {fmt(rate)} | {cell(x)} | {cell(g)} | {cell(n)} | {cell(c)} | {ratio(x, c)} | {ratio(x, n)} |")
L += ["", "```sh", xcmd.replace("gso-secret", "SECRET"), ccmd.replace("gso-secret", "SECRET"), "```", ""]
open(doc, "w").write("\n".join(L))
print("\n".join(L))
EOF
