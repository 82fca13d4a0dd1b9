#!/usr/bin/env python3
"""Peer deny list bypass attempts through a TURN relay (test_abuse_deny_bypass.sh).

usage: deny_bypass.py --relay4 ADDR --relay6 ADDR --secret S --probe-port P --peer4 ADDR:PORT
                      [--host-addr ADDR ...] [--range-port Q]

From one client with a dual allocation (IPv4 and IPv6 relayed addresses), every denied
address below gets a CreatePermission and a ChannelBind, each of which must be answered 403,
then a Send indication and ChannelData on the channel number the ChannelBind asked for (both
must be dropped: the caller checks that nothing arrived at its listeners on the loopback and
relay addresses, port P). The forms: IPv4-mapped, IPv4-compatible, 6to4 and Teredo (server and
obfuscated client) encodings of loopback, RFC 1918, link-local and unspecified addresses, the
unspecified addresses themselves, the relay's own listen addresses (port 3478 and P, both
outside the relay port range) in every encoding, the relay host's other addresses (--host-addr:
a second address of its interface, one added while the relay runs) on port P and on Q, and the
relay's own addresses on Q, a port inside the relay range that no allocation holds (a service
listens there).

Controls, which must work: a permission and a channel to an allowed peer (--peer4, an echo
server: the echo comes back); a second client's relayed addresses (the relay's own addresses on
relay ports: permission, channel, data in both directions). And the listen port stays out of
reach per Send indication: with a permission for the relay's own IP (obtained through a relay
port), a Send indication to <relay>:3478 carrying a Binding request must not be relayed (a
relayed one would be answered, and the answer come back as a Data indication).

Prints one line per check; exit 1 if any failed.
"""
import argparse
import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402
from stun_binding import BINDING_REQUEST, message, with_fingerprint  # noqa: E402

check = tc.Checks()


def teredo(server4, client4):
    """2001:0:<server>:<flags=0>:<port=0>:<client XOR ffffffff>."""
    s = ipaddress.IPv4Address(server4).packed
    c = bytes(b ^ 0xFF for b in ipaddress.IPv4Address(client4).packed)
    return str(ipaddress.IPv6Address(b"\x20\x01\x00\x00" + s + b"\0\0\0\0" + c))


def sixto4(v4, host=1):
    return str(ipaddress.IPv6Address(b"\x20\x02" + ipaddress.IPv4Address(v4).packed +
                                     b"\0" * 9 + bytes([host])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay4", required=True)
    ap.add_argument("--relay6", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--probe-port", type=int, required=True)
    ap.add_argument("--peer4", required=True)
    ap.add_argument("--host-addr", action="append", default=[])
    ap.add_argument("--range-port", type=int)
    o = ap.parse_args()
    P, L, r4, r6 = o.probe_port, o.port, o.relay4, o.relay6
    peer_host, peer_port = o.peer4.rsplit(":", 1)
    peer = (peer_host, int(peer_port))
    user, pw = tc.rest_credentials(o.secret, "deny")

    denied = [
        ("IPv4-mapped loopback", "::ffff:127.0.0.1", P),
        ("IPv4-mapped RFC 1918", "::ffff:10.0.0.1", P),
        ("IPv4-mapped link-local (metadata)", "::ffff:169.254.169.254", 80),
        ("IPv4-mapped 0.0.0.0", "::ffff:0.0.0.0", P),
        ("IPv4-compatible loopback", "::127.0.0.1", P),
        ("IPv4-compatible RFC 1918", "::10.0.0.1", P),
        ("unspecified IPv4", "0.0.0.0", P),
        ("unspecified IPv4, other 0/8", "0.1.2.3", P),
        ("unspecified IPv6", "::", P),
        ("loopback IPv4", "127.0.0.1", P),
        ("loopback IPv4, not .1", "127.1.2.3", P),
        ("loopback IPv6", "::1", P),
        ("RFC 1918", "192.168.1.1", P),
        ("link-local IPv4", "169.254.169.254", 80),
        ("multicast IPv4", "224.0.0.1", P),
        ("broadcast", "255.255.255.255", P),
        ("link-local IPv6", "fe80::1", P),
        ("unique local IPv6", "fc00::1", P),
        ("multicast IPv6", "ff02::1", P),
        ("6to4 of 127.0.0.1", "2002:7f00:1::1", P),
        ("6to4 of 192.168.1.1", "2002:c0a8:101::1", P),
        ("6to4 of 10.0.0.1", sixto4("10.0.0.1"), P),
        ("Teredo, server 127.0.0.1", teredo("127.0.0.1", "198.18.1.2"), P),
        ("Teredo, server 10.0.0.1", teredo("10.0.0.1", "198.18.1.2"), P),
        ("Teredo, client 127.0.0.1", teredo("198.18.1.1", "127.0.0.1"), P),
        ("Teredo, client 10.0.0.1", teredo("198.18.1.1", "10.0.0.1"), P),
        ("relay listen address", r4, L),
        ("relay listen address IPv6", r6, L),
        ("relay listen address, IPv4-mapped", f"::ffff:{r4}", L),
        ("relay listen address, IPv4-compatible", f"::{r4}", L),
        ("relay listen address, 6to4", sixto4(r4), L),
        ("relay listen address, Teredo server", teredo(r4, "198.18.1.2"), L),
        ("relay listen address, Teredo client", teredo("198.18.1.1", r4), L),
        ("relay address, non-relay port", r4, P),
        ("relay IPv6 address, non-relay port", r6, P),
        ("relay address, IPv4-mapped, non-relay port", f"::ffff:{r4}", P),
        ("relay address, port 0", r4, 0),
    ]
    for h in o.host_addr:
        denied.append((f"host address {h}", h, P))
        if ":" not in h:
            denied.append((f"host address {h}, IPv4-mapped", f"::ffff:{h}", P))
        if o.range_port:
            denied.append((f"host address {h}, relay-range port", h, o.range_port))
    if o.range_port:
        denied += [("relay address, relay-range port of no allocation", r4, o.range_port),
                   ("relay IPv6 address, relay-range port of no allocation", r6, o.range_port)]

    a = tc.TurnClient(r4, o.port, signer=tc.Signer(user, pw))
    b = tc.TurnClient(r4, o.port, signer=tc.Signer(user, pw))
    relA = a.allocate((4, 6))
    relB = b.allocate((4, 6))
    a4, a6 = tc.relayed_of(relA, 4), tc.relayed_of(relA, 6)
    b4, b6 = tc.relayed_of(relB, 4), tc.relayed_of(relB, 6)
    check(a4 and a6 and b4 and b6, f"dual allocations: A {a4} {a6}, B {b4} {b6}")

    # Every denied form: 403 for CreatePermission and for ChannelBind; Send and ChannelData
    # towards it must then go nowhere.
    n403 = 0
    for k, (name, host, port) in enumerate(denied):
        r = a.create_permission([(host, port)])
        check(r.code == 403, f"CreatePermission {name} [{host}]:{port} -> {r.code} (want 403)")
        number = 0x4100 + k
        r2 = a.channel_bind(number, (host, port))
        check(r2.code == 403, f"ChannelBind 0x{number:04x} {name} [{host}]:{port} -> {r2.code} (want 403)")
        n403 += (r.code == 403) + (r2.code == 403)
        a.send_indication((host, port), b"deny-bypass send " + name.encode())
        a.send_channel(number, b"deny-bypass channel " + name.encode())
    # All or nothing: a denied address among allowed ones fails the whole request.
    r = a.create_permission([peer, ("::ffff:127.0.0.1", P), (b4[0], b4[1])])
    check(r.code == 403, f"CreatePermission allowed + mapped loopback + allowed -> {r.code} (want 403)")
    print(f"403 answers: {n403}", flush=True)

    # Controls: an allowed peer, and the relay's own addresses on relay ports.
    check(a.create_permission([peer]).code == 0, f"CreatePermission allowed peer {peer[0]}:{peer[1]}")
    check(a.channel_bind(0x4000, peer).code == 0, "ChannelBind 0x4000 allowed peer")
    a.send_channel(0x4000, b"control-echo")
    got = [d for d in a.recv_data(3.0, lambda l: any(d[1] == b"control-echo" for d in l))
           if d[1] == b"control-echo"]
    check(len(got) == 1, f"the allowed peer's echo came back ({len(got)})")

    for fam, (ra, rb) in ((4, (a4, b4)), (6, (a6, b6))):
        check(a.create_permission([rb]).code == 0, f"IPv{fam}: CreatePermission for B's relayed {rb} (own address, relay port)")
        check(b.create_permission([ra]).code == 0, f"IPv{fam}: B's CreatePermission for A's relayed {ra}")
        number = 0x4010 + fam
        check(a.channel_bind(number, rb).code == 0, f"IPv{fam}: ChannelBind 0x{number:04x} to B's relayed {rb}")
        payload = f"client-to-client IPv{fam}".encode()
        a.send_channel(number, payload)
        got = [d for d in b.recv_data(3.0, lambda l: any(d[1] == payload for d in l)) if d[1] == payload]
        check(len(got) == 1 and str(got[0][0][0]) == ra[0] and got[0][0][1] == ra[1],
              f"IPv{fam}: B received A's ChannelData from {ra} ({got[:1]})")
        payload = f"client-to-client back IPv{fam}".encode()
        b.send_indication(ra, payload)
        got = [d for d in a.recv_data(3.0, lambda l: any(d[1] == payload for d in l)) if d[1] == payload]
        check(len(got) == 1, f"IPv{fam}: A received B's Send indication ({len(got)})")

    # The listen port through a permission for the relay's own IP: a Binding request sent there
    # would be answered to A's relayed address, and come back to A as data from <relay>:3478.
    for fam, host in ((4, r4), (6, r6)):
        probe = with_fingerprint(message(BINDING_REQUEST))
        a.send_indication((host, L), probe)
        number = 0x4020 + fam
        r = a.channel_bind(number, (host, L))
        check(r.code == 403, f"IPv{fam}: ChannelBind to the listen address {host}:{L} with the IP permitted -> {r.code} (want 403)")
        a.send_channel(number, probe)
        got = a.recv_data(1.5)
        back = [d for d in got if isinstance(d[0], tuple) and d[0][1] == L]
        check(not back, f"IPv{fam}: Send indication to the listen port {host}:{L} not relayed ({back[:1]})")

    # And nothing at all came back from any denied address.
    stray = [d for d in a.recv_data(0.5)]
    check(not stray, f"no data from any denied address ({stray[:2]})")
    for c in (a, b):
        c.refresh(0)
        c.close()
    return check.finish()


if __name__ == "__main__":
    tc.run_checks(main)
