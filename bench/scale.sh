#!/usr/bin/env bash
# The largest number of live allocations (`make bench-scale`; README, "Benchmarks"): the
# benchmark's namespace topology (bench/topology.sh), xturn in userspace, `xturn-bench client
# --burst` setting up N allocations from the client's address with W in flight and holding
# them; while they are up, 8 more allocations relay echo traffic (loss and round trip measured)
# and the relay's resident memory and descriptors are read. Writes bench/scale.md, which
# docs/BENCHMARKS.md includes (bench/report.py --profiles). A measurement, not a test.
#
# Usage: bench/scale.sh [N] [W]  (defaults: 19000 256: each allocation holds one socket, and a
#        process may hold 20 000 descriptors on the machines this was written on: the hard
#        limit, which root cannot raise there)
set -euo pipefail

N=${1:-19000}
W=${2:-256}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/scale
DOC=$ROOT/bench/scale.md
SECRET=scale-secret
RATE=20000
HOLD=15

# shellcheck source-path=SCRIPTDIR source=session.sh
. "$ROOT/bench/session.sh"
die() { session_die "$@"; }
session_check
mkdir -p "$OUT"
session_up "$PASS_OBJ" || die "cannot build the topology"

# Room for N relayed ports on one address: the default range holds 16 383.
XARGS=(--listen "$BT_RELAY4:$PORT" --realm xturn --auth-secret "$SECRET" --log-level warn
    --workers "$(nproc)" --relay-ports 20000-65535)
ip netns exec "$BT_NS_RELAY" "$XTURN" "${XARGS[@]}" >"$OUT/xturn.log" 2>&1 &
XPID=$!
PIDS+=("$XPID")
session_sink
sleep 1
kill -0 "$XPID" 2>/dev/null || die "xturn did not start: $(tail -n 2 "$OUT/xturn.log")"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$XPID/status"; }
RSS0=$(rss_kb)

BURST_CMD=(client --server "$BT_RELAY4:$PORT" --secret "$SECRET" --realm xturn
    --peer "$BT_PEER4:$SINK_PORT" --allocations "$N" --burst "$W" --relay-pid "$XPID"
    --hold "$HOLD" --json)
bt_exec "$BT_NS_CLIENT" "$BENCH" "${BURST_CMD[@]}" >"$OUT/burst.json" 2>"$OUT/burst.err" &
BPID=$!
PIDS+=("$BPID")
for _ in $(seq 600); do
    grep -q "allocations up" "$OUT/burst.err" && break
    kill -0 "$BPID" 2>/dev/null || die "the burst ended early: $(tail -n 2 "$OUT/burst.err")"
    sleep 0.2
done
grep -q "allocations up" "$OUT/burst.err" || die "the burst did not finish in 120 s"
RSS1=$(rss_kb)
FDS=$(find "/proc/$XPID/fd" -mindepth 1 | wc -l)

# Traffic beside them: the relay's threads' CPU time over the measured seconds.
TRAFFIC_CMD=(client --server "$BT_RELAY4:$PORT" --secret "$SECRET" --realm xturn
    --peer "$BT_PEER4:$SINK_PORT" --allocations 8 --rate "$RATE" --size 100 --duration 5
    --warmup 1 --echo --json)
bt_exec "$BT_NS_CLIENT" "$BENCH" "${TRAFFIC_CMD[@]}" >"$OUT/traffic.json" &
TPID=$!
sleep 1.5
NS0=$(run_ns "$XPID")
sleep 4
NS1=$(run_ns "$XPID")
wait "$TPID" || die "the traffic run failed"
RSS2=$(rss_kb)
wait "$BPID" || die "the burst failed: $(tail -n 2 "$OUT/burst.err")"

python3 - "$OUT/burst.json" "$OUT/traffic.json" "$DOC" "$N" "$W" "$RSS0" "$RSS1" "$RSS2" "$FDS" \
    "$((NS1 - NS0))" "$RATE" "${BURST_CMD[*]}" "${TRAFFIC_CMD[*]}" "${XARGS[*]}" <<'EOF'
import json, re, sys
(bpath, tpath, doc, n, w, rss0, rss1, rss2, fds, ns, rate, bcmd, tcmd, xargs) = sys.argv[1:]
b = json.load(open(bpath))
t = json.load(open(tpath))
rss0, rss1, rss2, ns, rate = int(rss0), int(rss1), int(rss2), int(ns), int(rate)
live = b["ready"]
mib = lambda kb: f"{kb / 1024:.1f} MiB"
cpu_per_pkt = ns / 4 / (2 * rate)
L = ["## Largest allocation count", "",
     f"`bench/scale.sh {n} {w}` (`make bench-scale`): xturn in userspace, {n} allocations set up "
     f"from the client's one address with {w} in flight (401, Allocate, CreatePermission, "
     f"ChannelBind: `xturn-bench client --burst`) and held while 8 more allocations relay "
     f"{rate} echoed datagrams/s of 100 bytes for 5 s. Each allocation holds one UDP socket, and "
     "a process may hold 20 000 descriptors on this machine (the hard limit, which root cannot "
     "raise here), so this is the largest count this machine allows any relay that gives each "
     "allocation a socket of its own (coturn does too); memory allows far more: at the "
     f"measured {b['rss_per_allocation_bytes']} bytes of resident memory each (the process's; "
     "the kernel's for each socket comes on top), 100 000 allocations take about "
     f"{(b['rss_per_allocation_bytes'] or 0) * 100000 / 2**20:.0f} MiB, and 1 000 000 about "
     f"{(b['rss_per_allocation_bytes'] or 0) * 1000000 / 2**30:.1f} GiB of the 24 GB, given the "
     "descriptors (`LimitNOFILE=` in the unit) and the relay ports (one per allocation and "
     "relay address: several relay addresses, or IPv4 and IPv6, beyond 64 000).", "",
     "| live allocations | set-up failures | set-up time | allocations/s | RSS before → all up → after the traffic | RSS per allocation | descriptors | traffic beside them: loss | p50 / p99 RTT | relay CPU per relayed packet |",
     "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |",
     f"| {live + 8} | {b['setup_failures']} | {b['setup_s']:.2f} s | {b['allocations_per_s']:.0f} | "
     f"{mib(rss0)} → {mib(rss1)} → {mib(rss2)} | {b['rss_per_allocation_bytes']} B | {fds} | "
     f"{t['loss_pct']:.3f} % of {t['sent']} | {t['rtt_us']['p50']:.0f} / {t['rtt_us']['p99']:.0f} µs | "
     f"{cpu_per_pkt:.0f} ns |", "",
     "```sh", "xturn " + xargs.replace("scale-secret", "SECRET"),
     "xturn-bench " + re.sub(r"--relay-pid \d+", "--relay-pid PID", bcmd.replace("scale-secret", "SECRET")),
     "xturn-bench " + tcmd.replace("scale-secret", "SECRET"), "```", ""]
open(doc, "w").write("\n".join(L))
print("\n".join(L))
EOF
