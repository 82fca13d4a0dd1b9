#!/usr/bin/env python3
"""One dual allocation pushing data over its three relay paths at once (test_max_bps.sh).

usage: bps_dual.py --server ADDR --secret S --peer4 ADDR:PORT --peer6 ADDR:PORT
                   --peer-send ADDR:PORT --rate BYTES_PER_S --size N --seconds T

The peers are echo servers. The client makes a dual allocation (an IPv4 and an IPv6 relayed
address), binds channel 0x4000 to --peer4 and 0x4001 to --peer6 (both relayed by the XDP fast
path when it runs, each through another relayed address), and sends Send indications to
--peer-send, an IPv4 peer without a channel (always relayed by userspace, both ways: its echoes
come back as Data indications). One probe per path first must echo (the setup works). Then for
T seconds it offers --rate payload bytes/s in total, datagrams of --size payload bytes, in turn
on the three paths, and counts what comes back on each, until 1 s after the last send.

Prints one JSON line: {"paths": {"chan4"|"chan6"|"send": {"sent": packets, "sent_bytes",
"echoed": packets, "echoed_bytes", "probe_sent_bytes", "probe_echoed_bytes"}}, "send_errors": n,
"stray": n}; bytes are payload bytes; sent/echoed count the flood only.
Exit status 1 if the setup failed (allocation, bindings, a probe without echo).
"""
import argparse
import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402

PATHS = ("chan4", "chan6", "send")
CHAN = {"chan4": 0x4000, "chan6": 0x4001}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--peer4", required=True)
    ap.add_argument("--peer6", required=True)
    ap.add_argument("--peer-send", required=True)
    ap.add_argument("--rate", type=int, required=True, help="offered payload bytes/s, all paths")
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3.0)
    o = ap.parse_args()
    peers = {"chan4": tc.hostport(o.peer4), "chan6": tc.hostport(o.peer6),
             "send": tc.hostport(o.peer_send)}

    c = tc.TurnClient(o.server, o.port, signer=tc.Signer(*tc.rest_credentials(o.secret, "bps")))
    relayed = c.allocate((4, 6))
    if not (tc.relayed_of(relayed, 4) and tc.relayed_of(relayed, 6)):
        print(f"setup: not a dual allocation: {relayed}", file=sys.stderr)
        return 1
    for p in ("chan4", "chan6"):
        r = c.channel_bind(CHAN[p], peers[p])
        if r.code != 0:
            print(f"setup: ChannelBind {CHAN[p]:#x} to {peers[p]}: {r.code}", file=sys.stderr)
            return 1
    r = c.create_permission([peers["send"]])
    if r.code != 0:
        print(f"setup: CreatePermission {peers['send']}: {r.code}", file=sys.stderr)
        return 1

    # Flood and probes counted apart: "probe_sent_bytes", "probe_echoed_bytes" are the probes'.
    stats = {p: {"sent": 0, "sent_bytes": 0, "echoed": 0, "echoed_bytes": 0,
                 "probe_sent_bytes": 0, "probe_echoed_bytes": 0} for p in PATHS}
    phase = ["probe_"]
    by_chan = {v: k for k, v in CHAN.items()}
    send_peer = (str(peers["send"][0]), peers["send"][1])

    def path_of(d):
        src, _, via = d
        if via == "channel":
            return by_chan.get(src)
        if (str(src[0]), src[1]) == send_peer:
            return "send"
        return None

    def count(got):
        for d in got:
            p = path_of(d)
            if p is None:
                c.stray += 1
            elif phase[0]:
                stats[p]["probe_echoed_bytes"] += len(d[1])
            else:
                stats[p]["echoed"] += 1
                stats[p]["echoed_bytes"] += len(d[1])

    errors = [0]

    def send(p, payload):
        try:
            if p == "send":
                c.send_indication(peers["send"], payload)
            else:
                c.send_channel(CHAN[p], payload)
        except OSError:
            errors[0] += 1
            return
        if phase[0]:
            stats[p]["probe_sent_bytes"] += len(payload)
        else:
            stats[p]["sent"] += 1
            stats[p]["sent_bytes"] += len(payload)

    # Probes: every path echoes (a small payload, counted apart from the flood).
    for p in PATHS:
        probe = f"probe {p}".encode()
        for _ in range(3):
            send(p, probe)
            got = c.recv_data(1.0, lambda l, p=p: any(path_of(d) == p for d in l))
            count(got)
            if stats[p]["probe_echoed_bytes"]:
                break
        if not stats[p]["probe_echoed_bytes"]:
            print(f"setup: no echo on path {p} ({peers[p]})", file=sys.stderr)
            return 1

    # The flood, paced: datagram k leaves at k / pps seconds; path k % 3.
    count(c.recv_data(0.2))  # late probe echoes, before the flood
    phase[0] = ""
    pps = o.rate / o.size
    payload = os.urandom(o.size)
    t0 = time.monotonic()
    end = t0 + o.seconds
    k = 0
    c.sock.setblocking(False)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = min(int((now - t0) * pps) + 1, int(o.seconds * pps))
        while k < due:
            send(PATHS[k % 3], payload)
            k += 1
        wait = min((k / pps) - (time.monotonic() - t0), end - time.monotonic())
        r, _, _ = select.select([c.sock], [], [], max(0.0, wait))
        # Bounded: at most 1000 datagrams per pass, then back to sending.
        for _ in range(1000 if r else 0):
            try:
                data = c.sock.recv(65535)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                break
            x = c._classify(data)
            if x is not None and x[0] == "data":
                count([x[1:]])
            else:
                c.stray += 1
    c.sock.setblocking(True)
    count(c.recv_data(1.0))  # the echoes still on their way
    c.refresh(lifetime=0)
    c.close()
    print(json.dumps({"paths": stats, "send_errors": errors[0], "stray": c.stray}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (tc.TurnError, socket.error) as e:
        print(f"setup: {e}", file=sys.stderr)
        sys.exit(1)
