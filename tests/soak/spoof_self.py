#!/usr/bin/env python3
"""Datagrams spoofed from the relay's own addresses (test_abuse_spoofed_self.sh).

usage: spoof_self.py victim --relay4 A --relay6 A --secret S --seconds T
       spoof_self.py spoof --to4 A:PB --from4 A:PA --to6 [A]:PB --from6 [A]:PA [--from-extra ADDR]
                           --count N

victim (client host): two allocations A and B of one user, dual (IPv4 and IPv6). B has channels
to A's relayed addresses (so that data from them reaches B, in userspace and in the XDP maps);
A has channels to B's. Prints "ready PA4 PB4 PA6 PB6", then for T seconds A sends "legit"
ChannelData to B through the relay (the control), and B counts what arrives; prints
"legit L spoofed S" (S: datagrams whose payload says "spoofed").

spoof (peer host): N datagrams from each spoofed source to B's relayed address of its family,
sent with IP_TRANSPARENT (a source address the host does not have), payload "spoofed".
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75


def victim(o):
    user, pw = tc.rest_credentials(o.secret, "spoof")
    a = tc.TurnClient(o.relay4, 3478, signer=tc.Signer(user, pw))
    b = tc.TurnClient(o.relay4, 3478, signer=tc.Signer(user, pw))
    ra, rb = a.allocate((4, 6)), b.allocate((4, 6))
    a4, a6, b4, b6 = (tc.relayed_of(ra, 4), tc.relayed_of(ra, 6), tc.relayed_of(rb, 4),
                      tc.relayed_of(rb, 6))
    for n, (x, y) in enumerate(((b, a4), (b, a6), (a, b4), (a, b6))):
        r = x.channel_bind(0x4001 + n % 2, y)
        if r.code != 0:
            print(f"FAIL ChannelBind to {y}: {r.code}", flush=True)
            return 1
    print(f"ready {a4[1]} {b4[1]} {a6[1]} {b6[1]}", flush=True)
    legit = spoofed = 0
    end = time.monotonic() + o.seconds
    while time.monotonic() < end:
        a.send_channel(0x4001, b"legit")
        a.send_channel(0x4002, b"legit")
        for _, payload, _ in b.recv_data(0.05):
            legit += payload == b"legit"
            spoofed += payload.startswith(b"spoofed")
    for _, payload, _ in b.recv_data(0.5):
        legit += payload == b"legit"
        spoofed += payload.startswith(b"spoofed")
    print(f"legit {legit} spoofed {spoofed}", flush=True)
    for c in (a, b):
        c.refresh(0)
        c.close()
    return 0


def spoof(o):
    pairs = [(o.from4, o.to4), (o.from6, o.to6)]
    if o.from_extra:
        port = tc.hostport(o.from4)[1]
        pairs.append((f"{o.from_extra}:{port}", o.to4))
    sent = 0
    for src, dst in pairs:
        (sh, sp), (dh, dp) = tc.hostport(src), tc.hostport(dst)
        fam = socket.AF_INET6 if ":" in sh else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        s.bind((sh, sp))
        for i in range(o.count):
            s.sendto(b"spoofed %d" % i, (dh, dp))
            sent += 1
            time.sleep(0.001)
        s.close()
    print(f"sent {sent}", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("victim", "spoof"))
    ap.add_argument("--relay4")
    ap.add_argument("--relay6")
    ap.add_argument("--secret")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--to4")
    ap.add_argument("--from4")
    ap.add_argument("--to6")
    ap.add_argument("--from6")
    ap.add_argument("--from-extra")
    ap.add_argument("--count", type=int, default=100)
    o = ap.parse_args()
    return victim(o) if o.mode == "victim" else spoof(o)


if __name__ == "__main__":
    tc.run_checks(main)
