#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md and docs/bench-delivered.png from the raw results of bench/run.sh.

Inputs (JSON): --meta (machine, parameters, background load), --micro (xdp_microbench lines),
--results (one line per load point: the generator's JSON plus the CPU window), --relays (the
relay command lines), --burst (the allocation burst: one line per relay). Only reports: no
number makes it fail. With --update-burst (after BENCH_ONLY=burst) only the burst's section and
target rows of an existing --out are written again, by the same code as in a whole report.
"""
import argparse
import json
import os
import subprocess
import sys

LOSS_FREE_PCT = 0.1  # a point is loss-free when the loss is below this
SATURATED = 0.97  # busy CPUs at or above this share of the machine: no CPU figure
RELAY_NAMES = {"coturn": "coturn", "coturn-tcp": "coturn, TCP clients",
               "coturn-tls": "coturn, TLS clients", "xturn": "xturn (userspace)",
               "xturn-tcp": "xturn, TCP clients", "xturn-tls": "xturn, TLS clients",
               "xdp": "xturn --xdp"}
RELAY_ORDER = ["coturn", "coturn-tcp", "coturn-tls", "xturn", "xturn-tcp", "xturn-tls", "xdp"]
PLOT_RELAYS = ["coturn", "xturn", "xdp"]  # UDP clients: bench/delivered.gp draws three lines
BURST_HEADING = "## Allocation burst"
BURST_TARGET = "| allocation burst"  # how its rows in the Targets table begin
SECRET_FLAGS = ("--static-auth-secret", "--auth-secret", "--secret")


def load_lines(path):
    out = []
    if path and os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def fam(cf, rf):
    return f"{cf}→{rf}"


def interp(points, x):
    """Linear interpolation over sorted (x, y) points, linear extrapolation beyond the ends."""
    if not points:
        return None
    if len(points) == 1:
        return points[0][1]
    for i in range(1, len(points)):
        if x <= points[i][0] or i == len(points) - 1:
            (x0, y0), (x1, y1) = points[i - 1], points[i]
            if x1 == x0:
                return y1
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def fmt(v, digits=0, none="–"):
    if v is None:
        return none
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}".replace(",", " ")


def rate_label(r):
    return "max" if r == 0 else fmt(r)


def masked(cmd):
    """A command line as the report shows it: secrets as SECRET, a process id as PID."""
    parts = cmd.split()
    for i in range(1, len(parts)):
        if parts[i - 1] in SECRET_FLAGS:
            parts[i] = "SECRET"
        elif parts[i - 1] == "--relay-pid":
            parts[i] = "PID"
    return " ".join(parts)


def burst_targets(bursts):
    """The Targets rows of the allocation burst: xturn's setup rate against coturn's, and its
    memory per live allocation."""
    c = {b["relay"]: b.get("client") for b in bursts}
    x, co = c.get("xturn"), c.get("coturn")
    if not x or not co:
        missing = [n for n, v in (("xturn", x), ("coturn", co)) if not v]
        why = "not run" if not bursts else f"no result from {' and '.join(missing)}"
        return [f"{BURST_TARGET}: xturn ≥ 1.5× coturn's setup rate with no failure | {why} | – |",
                f"{BURST_TARGET}: xturn ≤ ½ coturn's RSS per live allocation | {why} | – |"]
    what = f"{fmt(x['allocations'])} from one address, {x['window']} in flight"
    rate = x["allocations_per_s"] / co["allocations_per_s"] if co["allocations_per_s"] else None
    ok = rate is not None and rate >= 1.5 and x["setup_failures"] == 0
    rows = [f"{BURST_TARGET}: xturn ≥ 1.5× coturn's setup rate with no failure ({what}) | "
            f"{fmt(x['allocations_per_s'])} vs {fmt(co['allocations_per_s'])} allocations/s "
            f"({f'{rate:.2f}×' if rate is not None else '–'}); failures {x['setup_failures']} "
            f"and {co['setup_failures']} | {'yes' if ok else 'no'} |"]
    xm, cm = x.get("rss_per_allocation_bytes"), co.get("rss_per_allocation_bytes")
    if xm is None or cm is None or cm <= 0:
        rows.append(f"{BURST_TARGET}: xturn ≤ ½ coturn's RSS per live allocation | not measured "
                    "(no relay RSS) | – |")
    else:
        rows.append(f"{BURST_TARGET}: xturn ≤ ½ coturn's RSS per live allocation | {fmt(xm)} vs "
                    f"{fmt(cm)} bytes ({xm / cm:.2f}×) | {'yes' if xm <= cm / 2 else 'no'} |")
    return rows


def burst_section(bursts, meta, alone):
    """The section of the allocation burst; alone: written by --update-burst, into a report
    whose other sections come from another run."""
    L = [BURST_HEADING, ""]
    if not bursts:
        return L + ["Not run in this report (`BENCH_ONLY` without `burst`).", ""]
    c0 = next((b["client"] for b in bursts if b.get("client")), None) or {}
    L.append(f"{fmt(c0.get('allocations'))} allocations from one client address, "
             f"{c0.get('window', '?')} in flight, each from a UDP socket of its own: the 401, then "
             "Allocate, CreatePermission and ChannelBind (`xturn-bench client --burst`), against a "
             "relay started for it with its default limits; afterwards every allocation is deleted "
             "(Refresh, lifetime 0). xturn answers unauthenticated requests from an address that "
             "has not authenticated in the last minute 20 times a second (burst 100), so the first "
             "requests beyond the burst wait for a retransmission (200 ms); then the address has "
             "proved itself and is answered at once (README, *Security*).")
    L.append("")
    L.append("- **allocations/s**: set up ÷ the time from the first request to the last "
             "ChannelBind success (the client's sockets were opened before).")
    L.append("- **retransmissions**: requests sent again after 200 ms without an answer.")
    L.append("- **RSS per live allocation**: growth of the relay process's VmRSS "
             "(`/proc/PID/status`) from before the first request to when every allocation is "
             "live, ÷ the live allocations: user-space memory only (socket buffers are the "
             "kernel's and not in it).")
    L.append("")
    bg = max(meta["background_cpus_before"], meta["background_cpus_after"])
    L.append(f"Measured {meta['date']}, commit {meta['commit']}"
             f"{' with uncommitted changes' if meta['tree'] == 'dirty' else ''}, one run per relay"
             f"{' (`BENCH_ONLY=burst bench/run.sh`, apart from the rest of this page)' if alone else ''}, "
             f"on {meta['cpus']} cores "
             + ("quiet: " if bg < 0.1 else "shared with other work: ")
             + f"{meta['background_cpus_before']:.2f} busy CPUs before, "
             f"{meta['background_cpus_after']:.2f} after, with none of this load running.")
    L.append("")
    L.append("| relay | set up | failures | setup s | allocations/s | retransmissions | RSS before | "
             "RSS live | RSS per live allocation |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for b in bursts:
        c = b.get("client")
        name = RELAY_NAMES.get(b["relay"], b["relay"])
        if not c:
            L.append(f"| {name} | failed: {b.get('error')} | | | | | | | |")
            continue
        errs = ", ".join(f"{k}: {v}" for k, v in c["setup_errors"].items())
        mib = lambda kb: f"{kb / 1024:.1f} MiB" if kb is not None else "–"
        per = c.get("rss_per_allocation_bytes")
        L.append(f"| {name} | {fmt(c['ready'])} of {fmt(c['allocations'])} | "
                 f"{c['setup_failures']}{f' ({errs})' if errs else ''} | {c['setup_s']:.3f} | "
                 f"{fmt(c['allocations_per_s'])} | {fmt(c['retransmissions'])} | "
                 f"{mib(c.get('rss_before_kb'))} | {mib(c.get('rss_after_kb'))} | "
                 f"{fmt(per) + ' bytes' if per is not None else '–'} |")
    L.append("")
    L.append("```sh")
    for b in bursts:
        L.append(f"# {RELAY_NAMES.get(b['relay'], b['relay'])}")
        L.append(masked(b["relay_command"]))
    L.append("# the client, in the client namespace, against each")
    L.append(masked(bursts[0]["command"]))
    L.append("```")
    L.append("")
    return L


def update_burst(path, bursts, meta):
    """Writes the burst's target rows and section into an existing report, the rest as it is:
    the rows replace those of an earlier burst (else they end the Targets table), the section
    replaces its earlier self (else it goes before *Profiles*, or *Noise*, or at the end)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    targets = lines.index("## Targets")
    lines = [l for l in lines if not l.startswith(BURST_TARGET)]
    end = next(i for i in range(targets + 1, len(lines)) if lines[i].startswith("|")) + 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[end:end] = burst_targets(bursts)
    if BURST_HEADING in lines:
        start = lines.index(BURST_HEADING)
        stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        del lines[start:stop]
    else:
        start = next((lines.index(h) for h in ("## Profiles", "## Noise") if h in lines), len(lines))
    lines[start:start] = burst_section(bursts, meta, True)
    open(path, "w", encoding="utf-8").write("\n".join(lines))


class Point:
    def __init__(self, r, baselines, own_baselines, ncpu):
        self.raw = r
        self.relay = r["relay"]
        self.cfam, self.rfam, self.size, self.rate = r["cfam"], r["rfam"], r["size"], r["rate"]
        c = r.get("client") or {}
        self.ok = bool(c) and not r.get("error")
        self.error = r.get("error")
        self.offered = c.get("offered_pps")
        self.delivered = c.get("delivered_pps")
        self.loss = c.get("loss_pct")
        self.setup_failures = c.get("setup_failures", 0)
        rtt = c.get("rtt_us") or {}
        self.p50, self.p99, self.p999, self.max = (rtt.get(k) for k in ("p50", "p99", "p999", "max"))
        self.busy = r.get("busy_cpus")
        self.own = r.get("own_cpus")
        # The relay process alone (all its threads): no baseline to subtract, and none of the
        # generator's work, whatever its transport to the relay.
        self.relay_cpus = r.get("relay_cpus")
        self.baseline = self.own_baseline = None
        self.cpu_ms_per_mpkt = self.own_ms_per_mpkt = None
        # Relayed packets: each echoed datagram crossed the relay twice (client -> peer and
        # back); only those that came back are counted.
        self.relayed_pps = 2 * self.delivered if self.delivered is not None else None
        self.relay_ms_per_mpkt = (self.relay_cpus / self.relayed_pps * 1e9
                                  if self.ok and self.relay_cpus is not None and self.relayed_pps
                                  else None)
        self.saturated = False
        if self.ok and self.relay != "direct":
            base = baselines.get(r.get("sweep"))
            obase = own_baselines.get(r.get("sweep"))
            if obase and self.offered is not None and self.own is not None:
                self.own_baseline = max(interp(obase, self.offered), 0.0)
                if self.relayed_pps:
                    self.own_ms_per_mpkt = (self.own - self.own_baseline) / self.relayed_pps * 1e9
            if base and self.offered is not None and self.busy is not None:
                self.baseline = max(interp(base, self.offered), 0.0)
                # A saturated machine (the relay run's or its baseline's) measures nothing.
                self.saturated = max(self.busy, max(b for _, b in base)) >= SATURATED * ncpu
                if self.relayed_pps and not self.saturated:
                    self.cpu_ms_per_mpkt = (self.busy - self.baseline) / self.relayed_pps * 1e9
        self.loss_free = self.ok and self.loss is not None and self.loss < LOSS_FREE_PCT and \
            not self.setup_failures


def build_baselines(results, field):
    base = {}
    for r in results:
        c = r.get("client") or {}
        if r["relay"] != "direct" or r.get("error") or r.get(field) is None:
            continue
        if c.get("offered_pps") is None:
            continue
        base.setdefault(r.get("sweep"), []).append((c["offered_pps"], r[field]))
    for k in base:
        base[k].sort()
    return base


def loss_free_rate(points):
    """Highest offered rate (measured) among loss-free points, with that point."""
    best = None
    for p in points:
        if p.loss_free and (best is None or p.offered > best.offered):
            best = p
    return best


def micro_section(micro):
    lines = []
    if not micro:
        return ["Not run in this report."]
    sizes = sorted({m["size"] for m in micro})
    for size in sizes:
        rows = [m for m in micro if m["size"] == size]
        lines.append(f"**{size}-byte payload** ({fmt(rows[0]['repeat'])} runs per measurement, "
                     f"median of {rows[0]['runs']}; cold: {fmt(rows[0]['calls'])} calls)")
        lines.append("")
        lines.append("| path | xturn ns/pkt | bare ns/pkt | ratio | target | met | bare through the harness | cold xturn ns | cold bare ns |")
        lines.append("| --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |")
        for m in rows:
            lines.append(
                f"| {m['label']} | {m['ns_per_pkt']:.0f} | {m['bare_ns_per_pkt']:.0f} | "
                f"{m['ratio']:.1f}× | ≤ {m['target_ratio']}× | {'yes' if m['met'] else 'no'} | "
                f"{m['bare_harness_ns_per_pkt']:.0f} | "
                f"{m['cold_ns_per_pkt']:.0f} | {m['cold_bare_ns_per_pkt']:.0f} |")
        lines.append("")
    hs = sorted(m["harness_ns"] for m in micro)
    lines.append(f"The harness's own cost, subtracted from the xturn figures: {hs[0]:.0f} to {hs[-1]:.0f} ns "
                 "per run. *bare through the harness* is the bare program timed like xturn (through the "
                 "harness, its cost subtracted): its distance from the directly timed *bare* column is "
                 "the error of that subtraction on this machine at the time. The cold figures of the bare "
                 "program are a few ns, within their own noise: no cold ratio is given.")
    return lines


def main():
    ap = argparse.ArgumentParser()
    for a in ("meta", "micro", "results", "relays", "out", "png", "plot", "work"):
        ap.add_argument("--" + a)
    ap.add_argument("--burst", default=None)
    ap.add_argument("--update-burst", action="store_true",
                    help="only the burst's section and target rows of --out (needs --meta, --burst)")
    ap.add_argument("--xdp-userspace", default=None)
    ap.add_argument("--profiles", action="append", default=[],
                    help="a file included as it is (repeatable): hand-written notes, or a section "
                         "written by a measurement of its own (bench/scale.sh)")
    args = ap.parse_args()
    need = ("meta", "burst", "out") if args.update_burst else \
        ("meta", "micro", "results", "relays", "out", "png", "plot", "work")
    missing = [f"--{a}" for a in need if not getattr(args, a)]
    if missing:
        ap.error("missing " + ", ".join(missing))

    meta = json.load(open(args.meta, encoding="utf-8"))
    bursts = load_lines(args.burst)
    if args.update_burst:
        update_burst(args.out, bursts, meta)
        return 0
    micro = load_lines(args.micro)
    results = load_lines(args.results)
    relay_lines = load_lines(args.relays)
    relays = {r["relay"]: r["command"] for r in relay_lines if "command" in r}
    skipped = [(r["relay"], r["skipped"]) for r in relay_lines if "skipped" in r]
    baselines = build_baselines(results, "busy_cpus")
    own_baselines = build_baselines(results, "own_cpus")
    points = [Point(r, baselines, own_baselines, meta["cpus"]) for r in results]
    by = {}
    for p in points:
        by.setdefault((p.relay, p.cfam, p.rfam, p.size), []).append(p)

    # Noise, measured: the baseline is measured again next to every relay sweep, so the same
    # (family, size, rate) baseline point exists several times; half the range of its
    # repetitions, median over the points below the maximum.
    groups = {}
    for p in points:
        if p.relay == "direct" and p.ok:
            groups.setdefault((p.rfam, p.size, p.rate), []).append(p)
    spread_own, spread_busy, max_rates = [], [], []
    for (f, size, rate), ps in groups.items():
        if len(ps) < 2:
            continue
        if rate == 0:
            max_rates.append((f, size, min(q.offered for q in ps), max(q.offered for q in ps), len(ps)))
            continue
        own = [q.own for q in ps if q.own is not None]
        busy = [q.busy for q in ps if q.busy is not None and q.busy < SATURATED * meta["cpus"]]
        if len(own) > 1:
            spread_own.append((max(own) - min(own)) / 2)
        if len(busy) > 1:
            spread_busy.append((max(busy) - min(busy)) / 2)
    med = lambda v: sorted(v)[len(v) // 2] if v else None
    noise = {"whole machine": med(spread_busy), "our processes": med(spread_own)}

    def err(p, how):
        """Error of a CPU per Mpkt figure: relay point and baseline each off by the noise."""
        n = noise.get(how)
        if n is None or not p.relayed_pps:
            return None
        return 2 * n / p.relayed_pps * 1e9

    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append("Written by `make bench` (`bench/run.sh`, `bench/report.py`); do not edit by hand, run it "
             "again. Benchmarks are not tests: nothing here is asserted, the numbers are recorded "
             "with the commands that made them, and the section *Targets* says which targets they "
             "meet.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append("| | |")
    L.append("| --- | --- |")
    L.append(f"| CPU | {meta['cpu_model']}, {meta['cpus']} cores |")
    L.append(f"| memory | {meta['memory']} |")
    L.append(f"| kernel | {meta['kernel']} |")
    L.append(f"| date | {meta['date']} |")
    L.append(f"| source | commit {meta['commit']} ({'with uncommitted changes' if meta['tree'] == 'dirty' else 'clean tree'}) |")
    L.append(f"| relays | {meta['coturn_version'] or 'coturn ?'} (Debian); {meta['xturn_version'] or 'xturn'} |")
    L.append(f"| background load | {meta['background_cpus_before']:.2f} busy CPUs before, "
             f"{meta['background_cpus_after']:.2f} after (other work on the machine, see *Noise*) |")
    L.append(f"| run time | {meta['elapsed_s'] // 60} min {meta['elapsed_s'] % 60} s |")
    L.append("")

    # ---- targets ----
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | met |")
    L.append("| --- | --- | :---: |")
    if micro:
        for size in sorted({m["size"] for m in micro}):
            for lim, what in ((1.5, "same-family"), (2.0, "cross-family")):
                rows = [m for m in micro if m["size"] == size and m["target_ratio"] == lim]
                if not rows:
                    continue
                worst = max(rows, key=lambda m: m["ratio"])
                L.append(f"| XDP program, {what} paths ≤ {lim}× the bare program ({size} B) | "
                         f"worst {worst['label']} {worst['ratio']:.1f}× (best "
                         f"{min(m['ratio'] for m in rows):.1f}×) | {'yes' if all(m['met'] for m in rows) else 'no'} |")
    else:
        L.append("| XDP program vs bare | not run | – |")

    def at_common(a, b, size=100):
        """CPU per Mpkt of relays a and b at the highest nominal rate where both are loss-free:
        (rate, value a, value b, method), whole-machine figures where the machine was not
        saturated, else our processes' figures; None without a common loss-free rate."""
        pa = {p.rate: p for p in by.get((a, 4, 4, size), []) if p.ok}
        pb = {p.rate: p for p in by.get((b, 4, 4, size), []) if p.ok}
        for attr, method in (("cpu_ms_per_mpkt", "whole machine"), ("own_ms_per_mpkt", "our processes")):
            common = [r for r in pa if r in pb and pa[r].loss_free and pb[r].loss_free and r != 0
                      and getattr(pa[r], attr) is not None and getattr(pb[r], attr) is not None]
            if common:
                r = max(common)
                return r, getattr(pa[r], attr), getattr(pb[r], attr), method, pa[r], pb[r]
        return None

    def pm(v, e):
        return f"{fmt(v)} ± {fmt(e)}" if e is not None else fmt(v)

    def verdict(lo, hi, ok):
        """ok(x) on the ratio's lower and upper bounds: yes, no, or within the noise."""
        if ok(lo) and ok(hi):
            return "yes"
        if not ok(lo) and not ok(hi):
            return "no"
        return "within the noise: undecided"

    def lf(relay, size=100, cf=4, rf=4):
        return loss_free_rate(by.get((relay, cf, rf, size), []))

    for size in [int(s) for s in meta["sizes"]]:
        c = at_common("xdp", "coturn", size)
        if c:
            r, vx, vc, how, px, pc = c
            ex, ec = err(px, how) or 0, err(pc, how) or 0
            inf = float("inf")
            ratio = vc / vx if vx > 0 else inf
            lo = (vc - ec) / (vx + ex) if vx + ex > 0 else inf
            hi = (vc + ec) / (vx - ex) if vx - ex > 0 else inf
            # Below zero even with its noise added: the baseline moved more than the noise says,
            # and no ratio can be read from it.
            v = ("within the noise: undecided (a figure below zero by more than the noise)"
                 if vx + ex <= 0 else verdict(lo, hi, lambda x: x >= 10))
            L.append(f"| xturn --xdp ≥ 10× lower relay CPU per packet than coturn (4→4, {size} B) | "
                     f"at {fmt(r)} pps ({how}): {pm(vx, err(px, how))} vs {pm(vc, err(pc, how))} ms per "
                     f"million relayed packets ({'∞' if ratio == inf else f'{ratio:.1f}'}× lower) | "
                     f"{v} |")
        else:
            L.append(f"| xturn --xdp ≥ 10× lower relay CPU per packet than coturn (4→4, {size} B) | "
                     "no swept rate at which both were loss-free with the machine unsaturated | not shown |")
        mx = [p for p in by.get(("xdp", 4, 4, size), []) if p.rate == 0 and p.ok]
        lfx = lf("xdp", size)
        if mx:
            m = mx[0]
            d = [q for q in points if q.relay == "direct" and q.rate == 0 and q.ok
                 and q.raw.get("sweep") == m.raw.get("sweep")]
            ctx = (f"; the generator straight to the sink at its maximum: {fmt(d[0].offered)} pps, "
                   f"loss {d[0].loss:.3f} %") if d else ""
            L.append(f"| xturn --xdp loss-free at the highest rate the generator offers (4→4, {size} B) | "
                     f"generator's maximum through it {fmt(m.offered)} pps: loss {m.loss:.3f} %; loss-free "
                     f"up to {fmt(lfx.offered) if lfx else 'none'} pps{ctx} | {'yes' if m.loss_free else 'no'} |")
        c = at_common("xturn", "coturn", size)
        lfu, lfc = lf("xturn", size), lf("coturn", size)
        if not c:
            L.append(f"| xturn userspace ≤ ½ coturn's CPU per packet (4→4, {size} B) | "
                     "no swept rate at which both were loss-free with the machine unsaturated | not shown |")
        if lfu and lfc:
            L.append(f"| xturn userspace ≥ 2× coturn's loss-free rate (4→4, {size} B) | "
                     f"{fmt(lfu.offered)} vs {fmt(lfc.offered)} pps ({lfu.offered / lfc.offered:.1f}×) | "
                     f"{'yes' if lfu.offered >= 2 * lfc.offered else 'no'} |")
        if c:
            r, vu, vc, how, pu, pc = c
            eu, ec = err(pu, how) or 0, err(pc, how) or 0
            inf = float("inf")
            lo = (vu - eu) / (vc + ec) if vc + ec > 0 else inf
            hi = (vu + eu) / (vc - ec) if vc - ec > 0 else inf
            L.append(f"| xturn userspace ≤ ½ coturn's CPU per packet (4→4, {size} B) | at {fmt(r)} pps "
                     f"({how}): {pm(vu, err(pu, how))} vs {pm(vc, err(pc, how))} ms per million relayed "
                     f"packets ({vu / vc:.2f}×) | "
                     f"{verdict(lo, hi, lambda x: x <= 0.5)} |")
        for t, name in (("tcp", "TCP"), ("tls", "TLS")):
            x, co = f"xturn-{t}", f"coturn-{t}"
            lfx, lfc = lf(x, size), lf(co, size)
            if not (by.get((x, 4, 4, size)) and by.get((co, 4, 4, size))):
                continue
            if lfx and lfc:
                L.append(f"| xturn ≥ coturn's loss-free rate, {name} clients (4→4, {size} B) | "
                         f"{fmt(lfx.offered)} vs {fmt(lfc.offered)} pps "
                         f"({lfx.offered / lfc.offered:.2f}×; the sweep's steps bound the "
                         f"precision) | {'yes' if lfx.offered >= 0.98 * lfc.offered else 'no'} |")
            # The relay process's own CPU compares transports (the generator's TCP and TLS work
            # is not in the UDP baseline): at the highest rate both are loss-free, and at each
            # one's own loss-free rate.
            px = {p.rate: p for p in by.get((x, 4, 4, size), []) if p.ok and p.loss_free}
            pc = {p.rate: p for p in by.get((co, 4, 4, size), []) if p.ok and p.loss_free}
            common = [r for r in px if r in pc and r != 0 and px[r].relay_ms_per_mpkt
                      and pc[r].relay_ms_per_mpkt]
            if common:
                r = max(common)
                vx, vc = px[r].relay_ms_per_mpkt, pc[r].relay_ms_per_mpkt
                own = (f"; at each one's loss-free rate {fmt(lfx.relay_ms_per_mpkt)} vs "
                       f"{fmt(lfc.relay_ms_per_mpkt)} ({lfx.relay_ms_per_mpkt / lfc.relay_ms_per_mpkt:.2f}×)"
                       if lfx and lfc and lfx.relay_ms_per_mpkt and lfc.relay_ms_per_mpkt else "")
                L.append(f"| xturn ≤ ½ coturn's relay CPU per packet, {name} clients (4→4, {size} B) | "
                         f"at {fmt(r)} pps (relay process): {fmt(vx)} vs {fmt(vc)} ms per million "
                         f"relayed packets ({vx / vc:.2f}×){own} | {'yes' if vx <= 0.5 * vc else 'no'} |")
    L.extend(burst_targets(bursts))
    L.append("")
    L.append(f"Loss-free: loss below {LOSS_FREE_PCT} % of the datagrams sent in the measured seconds, "
             "every allocation set up. A loss-free rate is the highest offered rate (as measured, "
             "not as asked) of a loss-free point in the sweep; the sweep's steps bound its "
             "precision. CPU comparisons are made at the highest swept rate at which both relays "
             "are loss-free, where the relay's CPU stands furthest above the noise: with the "
             "whole machine's figures where it was not saturated, else with our processes' (see "
             "*CPU* below), as the row says. ± is the noise measured in this run (see *Noise*): twice "
             "the typical spread of a repeated baseline point, over the relayed packets per second; "
             "a target whose verdict flips within it is *undecided*.")
    L.append("")

    # ---- micro ----
    L.append("## XDP program micro-benchmark")
    L.append("")
    L.append("`" + meta["micro_command"] + "` (`tools/xdp_microbench.c`): the real program, loaded "
             "through the loader (`xdp_prog_load`, `xdp_prog_bind`) in a private network "
             "namespace with PERMANENT neighbours, run by `bpf_prog_test_run_opts` on a crafted "
             "frame per path, against `tools/bpf/xdp_swap.bpf.c`, which only swaps the MAC "
             "addresses, IP addresses and UDP ports and returns `XDP_TX`: the floor of any XDP "
             "relay. Every path's counter is checked to have moved once per run (each run relayed).")
    L.append("")
    L.append("- **hot** (ns/pkt, the targets' figure): `repeat` = 1 000 000 runs in the kernel's loop, "
             "as a driver runs the program over a batch. A relay rewrites its buffer, so plain "
             "`repeat` would time it on its own output (the tool shows that only 1 of 1000 such "
             "runs relays); the harness `tools/bpf/xdp_restore.bpf.c` puts the original frame back "
             "and tail-calls the program, and its cost (measured with a program that does nothing) "
             "is subtracted. The bare program does the same work on every run of one buffer (two "
             "swaps are the identity) and is timed directly, without the harness. Resolution 1 ns "
             "(the kernel reports whole ns per run).")
    L.append("- **cold**: one run per `bpf_prog_test_run_opts` call, each on a fresh copy of the frame, "
             "with the system call in between evicting caches and branch predictors; the mean of "
             "the fastest 99 % of calls, minus that of a program that does nothing timed the same "
             "way (the clock read such a call adds), plus that program's hot time. One packet at a "
             "time: an upper bound of the per-packet cost at low rates.")
    L.append("")
    L.extend(micro_section(micro))
    L.append("")

    # ---- load ----
    L.append("## Load: coturn, xturn, xturn --xdp")
    L.append("")
    L.append("Network namespaces as in the integration tests (`bench/topology.sh`): client, peer and "
             "relay hosts behind a router namespace, veth pairs, transmit checksum offload off, "
             "forwarding on in the relay host and a pass-through XDP program on the router's end "
             "of the relay's veth (needed for `XDP_TX` on veth; set up for all three relays, so "
             "they see the same network). In the peer namespace one sink echoes every datagram:")
    L.append("")
    L.append("```sh")
    L.append(meta.get("sink_command") or "(not run)")
    L.append("```")
    L.append("")
    L.append("Relays, in the relay namespace (coturn from Debian, relaying UDP only, REST API credentials, "
             "`--relay-threads` = cores; its `--help` offers no recvmmsg/sendmmsg-style batching "
             "option to turn on. xturn with `--workers` = cores when its `--help` lists the flag; "
             "`--log-level info` logs allocations, never packets):")
    L.append("")
    L.append("```sh")
    for k in RELAY_ORDER:
        if k in relays:
            L.append(f"# {RELAY_NAMES[k]}")
            L.append(masked(relays[k]))
    L.append("```")
    L.append("")
    L.append("The rounds named *TCP clients* and *TLS clients* run the same sweeps with the "
             "generator's `--transport tcp` or `--transport tls`: each allocation's client side is "
             "one TCP connection to the relay (TLS on it: no certificate verification, ALPN "
             "`stun.turn`, a self-signed P-256 certificate made for the run), the same "
             "Allocate/ChannelBind, then ChannelData framed by its length and padded to 4 bytes "
             "(RFC 8656 §12.5). The relayed side, relay ↔ sink, is UDP as in every round, and so is "
             "the baseline.")
    for name, why in skipped:
        L.append("")
        L.append(f"Not run: **{RELAY_NAMES.get(name, name)}**: {why}.")
    L.append("")
    example = next((p.raw["command"] for p in points if p.relay != "direct"), None)
    example_d = next((p.raw["command"] for p in points if p.relay == "direct"), None)
    L.append("Each point is one generator run in the client namespace, e.g.:")
    L.append("")
    L.append("```sh")
    for e in (example, example_d):
        if e:
            L.append(masked(e))
    L.append("```")
    L.append("")
    L.append(f"with `--rate` each of {', '.join(rate_label(int(r)) for r in meta['rates'])} "
             f"datagrams/s (0: as fast as the generator can), {meta['allocations']} allocations "
             f"(channels), {meta['duration_s']:g} s measured after {meta['warmup_s']:g} s of warm-up. "
             "Definitions:")
    L.append("")
    L.append("- **offered**: datagrams the client sent per second in the measured seconds "
             "(the generator's own figure; at `max` whatever it managed).")
    L.append("- **delivered**: echoes that came back per second. Every datagram crosses the relay "
             "twice (client → peer, then the echo peer → client), so **relayed packets = 2 × "
             "delivered** (only those that completed the round trip are counted).")
    L.append("- **loss**: sent minus received, in % of sent; **RTT** percentiles in µs, client → "
             "relay → sink → relay → client.")
    L.append("- **CPU**: the whole machine's busy time (user + nice + system + irq + softirq jiffies "
             "of `/proc/stat`, steal excluded) over a window 0.4 s inside each end of the measured "
             "seconds, in busy CPUs; minus the **baseline**: the same generator sending straight "
             "to the sink (`--direct`, no relay) at the same offered rate (interpolated between "
             "the baseline's points, same payload size, the relay-side family). Divided by the "
             "relayed packets per second: **ms of CPU per million relayed packets**. The same "
             "method for all three relays. The difference holds everything the relay path adds: "
             "the relay process, the kernel's UDP work for it, and the two extra veth hops and "
             "routing to and from the relay host (which a real NIC would do in hardware) — the "
             "same for all three relays, so the comparison is fair but the absolute figure of "
             "a cheap relay is dominated by it.")
    L.append("- **own CPU**: because the machine is shared, also the CPU time of our own processes "
             "only, with the same baseline subtraction: the generator, the sink and the relay run "
             "in a cgroup of their own (cgroup v1 `cpuacct.usage`, nanoseconds, all threads) and the "
             "`ksoftirqd` threads' run time (`/proc/PID/schedstat`) is added. This kernel does not "
             "separate interrupt time from the running task's (no `CONFIG_IRQ_TIME_ACCOUNTING`), so "
             "softirq work — veth delivery, routing, the XDP program — done in one of our "
             "processes' context is counted as theirs. Softirq work that happens to run while "
             "another process holds the CPU is missed, and other work on the machine is "
             "left out. Less complete than the whole-machine figure, far less noisy here.")
    L.append("- **relay CPU**: the relay process's own CPU time alone (the run time of all its "
             "threads, `/proc/PID/task/*/schedstat`) over the same window, divided by the relayed "
             "packets per second; nothing subtracted. It leaves out the kernel's work done outside "
             "the relay's threads (softirq delivery, the XDP program of `xturn --xdp`) and the "
             "generator's: with TCP and TLS clients the generator itself works harder (the kernel's "
             "TCP, encryption) and the baseline, a UDP run, does not take that out of the two "
             "figures above, so **relay CPU is the one to compare transports by**.")
    L.append("")

    # loss-free summary
    L.append("### Loss-free rates")
    L.append("")
    L.append("| relay | client→relay family | payload | loss-free rate (offered pps) | CPU ms per Mpkt there (whole machine) | own CPU ms per Mpkt there | relay CPU ms per Mpkt there | p99 RTT there (µs) |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in sorted(by, key=lambda k: (RELAY_ORDER.index(k[0]) if k[0] in RELAY_ORDER else 9, k[3], k[1], k[2])):
        if key[0] == "direct":
            continue
        best = loss_free_rate(by[key])
        mx = [p for p in by[key] if p.rate == 0 and p.ok]
        note = ""
        if best and mx and best is mx[0]:
            note = " (the generator's maximum)"
        L.append(f"| {RELAY_NAMES.get(key[0], key[0])} | {fam(key[1], key[2])} | {key[3]} B | "
                 f"{fmt(best.offered) + note if best else 'none'} | "
                 f"{('saturated' if best.saturated else fmt(best.cpu_ms_per_mpkt)) if best else '–'} | "
                 f"{pm(best.own_ms_per_mpkt, err(best, 'our processes')) if best else '–'} | "
                 f"{fmt(best.relay_ms_per_mpkt) if best else '–'} | "
                 f"{fmt(best.p99) if best else '–'} |")
    L.append("")

    L.append("### Delivered vs offered (4→4, 100 bytes, UDP clients)")
    L.append("")
    plot = {k: sorted((p for p in by.get((k, 4, 4, 100), []) if p.ok and p.offered),
                      key=lambda p: p.offered) for k in PLOT_RELAYS}
    if any(plot.values()):
        L.append(f"![delivered vs offered]({os.path.relpath(args.png, os.path.dirname(args.out) or '.')})")
    else:
        L.append("No such points in this run: no plot.")
    L.append("")

    # full tables
    L.append("### All points")
    L.append("")
    L.append("busy: whole-machine busy CPUs in the window; base: the baseline's at that offered rate. "
             f"CPU/Mpkt below the noise (see *Noise*) can come out negative or near zero; "
             f"*saturated*: the relay run or its baseline sweep kept ≥ {SATURATED:.0%} of the machine's "
             "CPUs busy, so the difference measures nothing (no figure).")
    L.append("")
    for key in sorted(by, key=lambda k: (RELAY_ORDER.index(k[0]) if k[0] in RELAY_ORDER else 9, k[3], k[1], k[2])):
        if key[0] == "direct":
            continue
        name = RELAY_NAMES.get(key[0], key[0])
        L.append(f"**{name}, {fam(key[1], key[2])}, {key[3]}-byte payload**")
        L.append("")
        L.append("| rate | offered pps | delivered pps | loss % | p50 µs | p99 µs | p99.9 µs | max µs | busy | base | CPU ms/Mpkt | own | own base | own CPU ms/Mpkt | relay | relay CPU ms/Mpkt |")
        L.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for p in sorted(by[key], key=lambda p: (p.rate == 0, p.rate)):
            if not p.ok:
                L.append(f"| {rate_label(p.rate)} | failed: {p.error} | | | | | | | | | | | | | | |")
                continue
            L.append(f"| {rate_label(p.rate)} | {fmt(p.offered)} | {fmt(p.delivered)} | "
                     f"{fmt(p.loss, 3)}{' ⚠' if p.setup_failures else ''} | {fmt(p.p50)} | {fmt(p.p99)} | "
                     f"{fmt(p.p999)} | {fmt(p.max)} | {fmt(p.busy, 2)} | "
                     f"{fmt(p.baseline, 2) if key[0] != 'direct' else '–'} | "
                     f"{'saturated' if p.saturated else fmt(p.cpu_ms_per_mpkt, 0)} | "
                     f"{fmt(p.own, 2)} | {fmt(p.own_baseline, 2)} | {fmt(p.own_ms_per_mpkt, 0)} | "
                     f"{fmt(p.relay_cpus, 2)} | {fmt(p.relay_ms_per_mpkt, 0)} |")
        L.append("")

    # how much of the XDP runs' traffic the kernel relayed
    xdp_total = sum(p.raw.get("xdp_relayed", 0) for p in points if p.relay == "xdp")
    us = None
    if args.xdp_userspace and os.path.exists(args.xdp_userspace):
        try:
            st = json.loads(open(args.xdp_userspace, encoding="utf-8").read().strip())
            us = st.get("to_peer_packets", 0) + st.get("to_client_packets", 0)
        except (ValueError, AttributeError):
            us = None
    if xdp_total or us:
        L.append(f"In all the `xturn --xdp` runs together the XDP program relayed {fmt(xdp_total)} "
                 f"packets (its counters, `xturn stats`) and userspace "
                 f"{fmt(us) if us is not None else 'an unknown number of'} (the daemon's stats line at "
                 f"exit){f': {100 * xdp_total / (xdp_total + us):.3f} % in the kernel' if us is not None and xdp_total + us else ''}.")
        L.append("")

    L.append("How to read the load figures. On veth everything after a `sendmsg` — the veth "
             "transmit, the router's forwarding, the receiving host's stack and, with `--xdp`, the "
             "XDP program and its `XDP_TX` — runs as softirq work on the sending process's CPU, in "
             "its time. With a userspace relay that chain stops at the relay's socket and the relay's "
             "threads carry the rest; with `--xdp` the relaying itself runs in the generator's and the "
             "sink's time, so at the maximum rate the generator sends less through it than through a "
             "userspace relay. With two cores for generator, sink, relay, router and other people's "
             "work, the maximum rates say more about this machine than about the relays; the "
             "loss-free rates and the CPU per packet below the maximum are the comparable figures.")
    L.append("")

    L.extend(burst_section(bursts, meta, False))

    for path in args.profiles:
        if os.path.exists(path):
            L.append(open(path, encoding="utf-8").read().rstrip("\n"))
            L.append("")

    # noise
    L.append("## Noise")
    L.append("")
    if spread_own or spread_busy:
        txt = ("How noisy, measured: the baseline (generator → sink, no relay) is measured again "
               "next to every relay sweep, so the same baseline point exists several times. Half "
               "the range of its repetitions, median over the points below the maximum: ")
        base_pts = [p for p in points if p.relay == "direct" and p.ok and p.busy is not None]
        sat = sum(1 for p in base_pts if p.busy >= SATURATED * meta["cpus"])
        if spread_busy:
            txt += f"whole machine ±{med(spread_busy):.2f} busy CPUs (largest ±{max(spread_busy):.2f})"
        if sat:
            txt += (f"{'; ' if spread_busy else ''}whole machine: {sat} of {len(base_pts)} baseline points "
                    "found it saturated, where there is nothing to measure")
        if spread_own:
            txt += f"; our processes ±{med(spread_own):.2f} CPUs (largest ±{max(spread_own):.2f})"
        txt += ". Divided by the relayed packets per second, that is the error of a CPU-per-packet figure "
        txt += "(±0.05 CPUs at 40 000 relayed packets/s is ±1 250 ms per million)."
        if max_rates:
            txt += " The generator's maximum straight to the sink varied between " + "; ".join(
                f"{fmt(lo)} and {fmt(hi)} pps ({f}→{f}, {size} B, {n} runs)" for f, size, lo, hi, n in max_rates) + "."
        L.append(txt)
        L.append("")
    bg = max(meta["background_cpus_before"], meta["background_cpus_after"])
    L.append(f"The machine has {meta['cpus']} cores, "
             + ("quiet while this ran: " if bg < 0.1 else "shared while this ran with other work: ")
             + f"{meta['background_cpus_before']:.2f} busy CPUs "
             f"were measured with none of this benchmark's load running before it, "
             f"{meta['background_cpus_after']:.2f} after. Any background lands in every CPU window "
             "(relay and baseline alike, but not equally), so CPU per packet figures carry an error "
             "of roughly (background variation in busy CPUs) / (relayed packets per second): at "
             "80 000 relayed packets/s, 0.05 busy CPUs of drift is 625 ms per million packets. "
             + ("" if bg < 0.1 else "The same competition limits the generator, the sink and the "
                "relays, so rates and latencies are also lower and noisier than on a quiet machine. ")
             + "Compare runs made on the same machine in the same conditions only.")
    L.append("")
    open(args.out, "w", encoding="utf-8").write("\n".join(L))

    # ---- plot ----
    if not any(plot.values()):
        return 0  # gnuplot has no range to draw on a log scale
    dat = os.path.join(args.work, "delivered.dat")
    with open(dat, "w", encoding="utf-8") as f:
        for k, pts in plot.items():
            f.write(f'"{RELAY_NAMES[k]}"\n')
            for p in pts:
                f.write(f"{p.offered:.1f} {p.delivered:.1f}\n")
            if not pts:
                f.write("NaN NaN\n")
            f.write("\n\n")
    subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{args.png}'", args.plot], check=True)


if __name__ == "__main__":
    sys.exit(main())
