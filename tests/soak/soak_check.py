#!/usr/bin/env python3
"""Counter consistency of one soak phase. Standard library only.

usage: soak_check.py PHASE_DIR [--max-loss PCT]

PHASE_DIR holds what soak.sh collected for one daemon run:
  bench.*.json   xturn-bench client results (one JSON object each; --warmup 0, so "sent" is
                 every datagram it sent)
  churn.*.json   churn.py results
  sink.json      the echoing sink's totals (received, echoed, echo_errors)
  xdp.txt        "name packets" XDP counters at the end (absent without XDP)
  xturn.log      the daemon's log (its last "stats" line is written at shutdown)
  before/ after/ counters of every namespace (sk_snapshot) around the phase

What each counter counts:
  generators' sent    datagrams handed to the kernel by the clients (ChannelData or Send
                      indications to the relay), client -> peer direction
  XDP c2p_XY / p2c_XY ChannelData relayed by the XDP program (XDP_TX/redirect), one per packet;
                      c2c_self would count client-to-client passes (none here)
  to_peer_packets     datagrams userspace relayed to peers: Send indications, and ChannelData
                      the kernel passed up (pass_no_neigh, pass_no_channel, ...)
  to_client_packets   datagrams userspace relayed to clients (Data indications, ChannelData
                      passed up)
  dropped_packets     data userspace dropped (no allocation / permission / channel ...)
  sink received       datagrams reaching the sink; echoed: sent back to the relayed address
  kernel drops        interface rx/tx drops, IP discards, UDP receive errors (socket buffer
                      full) and UDP to closed ports (NoPorts) in each namespace

Equations, per direction (exact: every drop term is a counter we read; when all are zero the
equalities hold with no tolerance at all):
  c->p at the relay:  generators' sent = XDP c2p + to_peer + drops before/at the relay
  c->p end to end:    sink received    = XDP c2p + to_peer - drops between relay and sink
  at the sink:        sink echoed      = sink received (echo_errors = 0)
  p->c at the relay:  sink echoed      = XDP p2c + to_client + drops before/at the relay
  p->c end to end:    generators' received <= XDP p2c + to_client (the difference: echoes that
                      arrived after a generator stopped counting, or were dropped on the way)
Exit 1 when an equation does not hold, or loss exceeds --max-loss percent.
"""
import argparse
import glob
import json
import os
import re
import sys


def load_json_lines(pattern):
    out = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            text = f.read().strip()
        if not text:
            raise SystemExit(f"{path}: empty")
        out.append(json.loads(text.splitlines()[-1]))
    return out


def snmp(path):
    """{'Udp': {...}, 'Ip': {...}} from /proc/net/snmp."""
    out, lines = {}, open(path).read().splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        name, keys = head.split(":", 1)
        _, values = vals.split(":", 1)
        out[name] = dict(zip(keys.split(), (int(v) for v in values.split())))
    return out


def snmp6(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def link_drops(path):
    """{dev: (rx_dropped, tx_dropped)} from `ip -s -j link`."""
    out = {}
    for link in json.load(open(path)):
        if link["ifname"] == "lo":
            continue
        st = link.get("stats64") or link.get("stats") or {}
        out[link["ifname"]] = (st.get("rx", {}).get("dropped", 0), st.get("tx", {}).get("dropped", 0))
    return out


def ethtool_drops(path):
    """{dev.counter: value} of the veth drop and error counters (`ethtool -S`)."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            k, v = line.split()
            out[k] = int(v)
    return out


def softnet_dropped(path):
    return sum(int(line.split()[1], 16) for line in open(path) if line.strip())


def ns_drops(before, after, tag):
    """Drop counters of namespace tag that moved during the phase: {name: delta}."""
    d = {}
    s0, s1 = snmp(f"{before}/{tag}.snmp"), snmp(f"{after}/{tag}.snmp")
    for sect, keys in (("Udp", ("InErrors", "NoPorts")),
                       ("Ip", ("InDiscards", "OutDiscards", "OutNoRoutes", "InAddrErrors"))):
        for k in keys:
            d[f"{sect}.{k}"] = s1[sect][k] - s0[sect][k]
    # UDP InErrors includes RcvbufErrors (socket buffer full): shown apart for the report.
    d["(Udp.RcvbufErrors)"] = s1["Udp"]["RcvbufErrors"] - s0["Udp"]["RcvbufErrors"]
    t0, t1 = snmp6(f"{before}/{tag}.snmp6"), snmp6(f"{after}/{tag}.snmp6")
    for k in ("Udp6InErrors", "Udp6NoPorts", "Ip6InDiscards", "Ip6OutDiscards", "Ip6InNoRoutes",
              "Ip6OutNoRoutes", "Ip6InAddrErrors"):
        d[k] = t1.get(k, 0) - t0.get(k, 0)
    e0, e1 = ethtool_drops(f"{before}/{tag}.ethtool"), ethtool_drops(f"{after}/{tag}.ethtool")
    for k, v in e1.items():
        d[f"ethtool:{k}"] = v - e0.get(k, 0)
    l0, l1 = link_drops(f"{before}/{tag}.link.json"), link_drops(f"{after}/{tag}.link.json")
    for dev, (rx, tx) in l1.items():
        rx0, tx0 = l0.get(dev, (0, 0))
        d[f"{dev}.rx_dropped"] = rx - rx0
        d[f"{dev}.tx_dropped"] = tx - tx0
    return {k: v for k, v in d.items() if v}


def total(drops):
    return sum(v for k, v in drops.items() if not k.startswith("("))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--max-loss", type=float, default=1.0)
    o = ap.parse_args()
    d = o.dir
    problems = []

    def need(cond, what):
        print(("  ok    " if cond else "  FAIL  ") + what)
        if not cond:
            problems.append(what)

    benches = load_json_lines(f"{d}/bench.*.json")
    churns = load_json_lines(f"{d}/churn.*.json")
    sink = json.load(open(f"{d}/sink.json"))
    xdp = {}
    if os.path.exists(f"{d}/xdp.txt"):
        for line in open(f"{d}/xdp.txt"):
            k, v = line.split()
            xdp[k] = int(v)
    log = open(f"{d}/xturn.log").read().splitlines()
    stats = [json.loads(line) for line in log if '"message":"stats"' in line]
    if not stats:
        raise SystemExit("no stats line in the daemon log")
    st = stats[-1]
    xdp_lines = [json.loads(line) for line in log if '"message":"xdp stats"' in line]
    mirrored = int(xdp_lines[-1].get("bindings_mirrored", 0)) if xdp_lines else None
    created = sum(1 for line in log if '"message":"allocation created"' in line)
    deleted = {}
    for line in log:
        if '"message":"allocation deleted"' in line:
            r = json.loads(line).get("reason", "")
            deleted[r] = deleted.get(r, 0) + 1

    gen_sent = sum(b["sent"] for b in benches) + sum(c["sent"] for c in churns)
    gen_recv = sum(b["received"] for b in benches) + sum(c["received"] for c in churns)
    c2p_xdp = sum(v for k, v in xdp.items() if re.fullmatch(r"c2p_\d\d", k))
    p2c_xdp = sum(v for k, v in xdp.items() if re.fullmatch(r"p2c_\d\d", k))
    xdp_drops = {k: v for k, v in xdp.items() if k.startswith("drop_") and v}
    c2p = c2p_xdp + st["to_peer_packets"]
    p2c = p2c_xdp + st["to_client_packets"]
    daemon_drops = {k: st[k] for k in ("dropped_packets", "send_failures", "oversized_datagrams")
                    if st.get(k)}
    daemon_drops.update({k: v for k, v in st.items() if k.startswith("dropped_") and
                         k != "dropped_packets" and isinstance(v, int) and v})

    before, after = f"{d}/before", f"{d}/after"
    net = {tag: ns_drops(before, after, tag) for tag in "cpgr"}
    softnet = softnet_dropped(f"{after}/softnet_stat") - softnet_dropped(f"{before}/softnet_stat")
    # Drops that can hide packets between a generator and the relay's counters (both
    # directions reach the relay through the router): client and peer senders, the router,
    # the relay (interfaces, UDP receive errors, datagrams to closed relay ports), the XDP
    # program and the daemon.
    relay_side = (total(net["g"]) + total(net["r"]) + total(xdp_drops) +
                  sum(v for k, v in daemon_drops.items() if k != "dropped_packets") +
                  daemon_drops.get("dropped_packets", 0))
    c_side = sum(v for k, v in net["c"].items() if "tx_dropped" in k or "Out" in k)
    p_side = sum(v for k, v in net["p"].items() if "tx_dropped" in k or "Out" in k)
    p_rx = total(net["p"]) - p_side
    c_rx = total(net["c"]) - c_side

    print(f"phase {os.path.basename(d.rstrip('/'))}: {len(benches)} bench waves, "
          f"{len(churns)} churn waves, {created} allocations created")
    print(f"  allocations: created {created}, deleted {deleted}; bench {sum(b['allocations'] for b in benches)}"
          f" (deleted {sum(b.get('deleted', 0) for b in benches)}), churn "
          f"{sum(c['allocations'] for c in churns)} (deleted {sum(c['deleted'] for c in churns)},"
          f" left to expire {sum(c['expiring'] for c in churns)})")
    print(f"  generators: sent {gen_sent}, received {gen_recv}; sink: received {sink['received']},"
          f" echoed {sink['echoed']}, echo_errors {sink.get('echo_errors', 0)}")
    print(f"  relayed c->p: XDP {c2p_xdp} + userspace {st['to_peer_packets']} = {c2p}; "
          f"p->c: XDP {p2c_xdp} + userspace {st['to_client_packets']} = {p2c}")
    print(f"  XDP: " + " ".join(f"{k}={v}" for k, v in sorted(xdp.items()) if v))
    print(f"  drops: daemon {daemon_drops or 0}, xdp {xdp_drops or 0}, client ns {net['c'] or 0}, "
          f"peer ns {net['p'] or 0}, router ns {net['g'] or 0}, relay ns {net['r'] or 0}, "
          f"host softnet backlog {softnet}")

    need(st["allocations"] == 0 and st["permissions"] == 0 and st["channels"] == 0,
         f"stats at shutdown: allocations {st['allocations']}, permissions {st['permissions']}, "
         f"channels {st['channels']} (want 0 0 0)")
    need(created == sum(deleted.values()) and "shutdown" not in deleted,
         f"every allocation created ({created}) was deleted before shutdown "
         f"(by refresh or expiry: {sum(deleted.values())})")
    expired = deleted.get("expired", 0)
    left = sum(c["expiring"] for c in churns)
    need(expired >= left, f"allocations expired ({expired}) >= those left to expire ({left})")
    if xdp:
        channels = sum(b["allocations"] - b["setup_failures"] for b in benches if b["mode"] == "channel")
        need(mirrored is not None and mirrored >= channels,
             f"XDP bindings mirrored into the maps: {mirrored} (at least the {channels} bench channels)")
    need(xdp.get("c2c_self", 0) == 0, f"c2c_self = {xdp.get('c2c_self', 0)} (no client-to-client)")
    need(all(b["setup_failures"] == 0 for b in benches) and all(c["setup_failures"] == 0 for c in churns),
         "no setup failure in any wave: "
         f"bench {sum(b['setup_failures'] for b in benches)}, churn {sum(c['setup_failures'] for c in churns)}"
         f" {[c['errors'] for c in churns if c['errors']]}")
    need(all(b.get("invalid", 0) == 0 and b.get("duplicates", 0) == 0 for b in benches) and
         all(c["invalid"] == 0 and c["duplicates"] == 0 for c in churns),
         "no invalid or duplicate datagram received")

    # c -> p at the relay.
    x1 = gen_sent - c2p
    need(0 <= x1 <= relay_side + c_side,
         f"c->p at the relay: sent {gen_sent} = relayed {c2p} + {x1} dropped "
         f"(drops counted on the way and at the relay: {relay_side + c_side})")
    y1 = c2p - sink["received"]
    need(0 <= y1 <= relay_side + p_rx,
         f"c->p end to end: sink received {sink['received']} = relayed {c2p} - {y1} "
         f"(drops counted after the relay: {relay_side + p_rx})")
    need(sink["echoed"] == sink["received"] and sink.get("echo_errors", 0) == 0,
         f"sink echoed {sink['echoed']} of {sink['received']} (echo_errors {sink.get('echo_errors', 0)})")
    x2 = sink["echoed"] - p2c
    need(0 <= x2 <= relay_side + p_side,
         f"p->c at the relay: echoed {sink['echoed']} = relayed {p2c} + {x2} dropped "
         f"(drops counted on the way and at the relay: {relay_side + p_side})")
    y2 = p2c - gen_recv
    need(0 <= y2, f"p->c end to end: generators received {gen_recv} = relayed {p2c} - {y2} "
         f"(client-side drops counted: {c_rx})")
    loss = 100.0 * (gen_sent - gen_recv) / gen_sent if gen_sent else 100.0
    need(gen_sent > 0 and loss <= o.max_loss,
         f"round-trip loss {gen_sent - gen_recv} of {gen_sent} = {loss:.4f}% (max {o.max_loss}%)")
    if relay_side + c_side + p_side + c_rx + p_rx == 0:
        need(x1 == 0 and y1 == 0 and x2 == 0 and y2 == 0,
             "no drop anywhere, so every equation is exact")
    if problems:
        print(f"soak_check: {len(problems)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
