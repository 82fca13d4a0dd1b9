#!/usr/bin/env python3
"""Malformed-traffic sender for the xturn robustness test. Standard library only.

usage: junk.py HOST PORT COUNT [--seed N] [--max-seconds S]
               [--secret SECRET --realm REALM --peer ADDR --peer-port P]

Phase 1 sends COUNT bad datagrams to HOST:PORT (the TURN listen port), cycling
through: empty datagrams, STUN headers truncated to every length 1..19, bad
magic cookie, length field larger / smaller than the datagram, length not a
multiple of 4, attributes overrunning the message, zero-length and wrongly
sized attributes, unknown comprehension-required attributes, bogus
MESSAGE-INTEGRITY / FINGERPRINT / REST usernames, responses and indications a
client never sends, random bytes, ChannelData for unbound channels, ChannelData
longer than the datagram, ChannelData in the reserved ranges, and oversized
datagrams (up to the UDP maximum).

Phase 2 (with --secret, TURN REST API credentials as turnutils_uclient -W
makes them) authenticates and then sends requests that pass MESSAGE-INTEGRITY
but carry bad attributes: Allocate / Refresh / CreatePermission / ChannelBind /
Send with missing, empty, oversized or contradictory values, ChannelData on a
bound channel with lying lengths, and requests on a deleted allocation. Every
peer address it names is --peer (in the test ranges). It deletes its
allocations at the end.

Deterministic for a given --seed (transaction IDs included). Bounded by COUNT
and --max-seconds. Prints a summary of what came back. Exits 0 unless it could
not send at all, or phase 2 could not get an allocation.
"""
import argparse
import base64
import collections
import hashlib
import hmac
import ipaddress
import random
import select
import socket
import struct
import sys
import time

from stun_binding import (ATTR_ERROR_CODE, ATTR_FINGERPRINT, ATTR_MESSAGE_INTEGRITY, ATTR_NONCE,
                          ATTR_REALM, ATTR_USERNAME, MAGIC, attr, error_code, family_of, message,
                          parse, with_fingerprint)

# Methods and attributes (RFC 8489 / RFC 8656).
BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = (
    0x001, 0x003, 0x004, 0x006, 0x007, 0x008, 0x009)
A_CHANNEL_NUMBER, A_LIFETIME, A_XOR_PEER, A_DATA = 0x000C, 0x000D, 0x0012, 0x0013
A_REQ_ADDR_FAMILY, A_EVEN_PORT, A_REQ_TRANSPORT, A_DONT_FRAGMENT = 0x0017, 0x0018, 0x0019, 0x001A
A_RESERVATION_TOKEN, A_ADD_ADDR_FAMILY, A_SOFTWARE = 0x0022, 0x8000, 0x8022

UDP_MAX = {socket.AF_INET: 65507, socket.AF_INET6: 65527}


def mtype(method, cls):
    """STUN message type from a 12-bit method and a 2-bit class (0 req, 1 ind, 2 ok, 3 err)."""
    return ((method & 0xF80) << 2) | ((method & 0x070) << 1) | (method & 0x00F) | \
        ((cls & 2) << 7) | ((cls & 1) << 4)


def req(method):
    return mtype(method, 0)


def xor_peer(ip, port, tid=b"\0" * 12):
    """An XOR-PEER-ADDRESS value. IPv6 needs the message's transaction ID."""
    a = ipaddress.ip_address(ip)
    key = struct.pack("!I", MAGIC) + tid
    raw = a.packed
    x = bytes(b ^ k for b, k in zip(raw, key))
    return struct.pack("!BBH", 0, 1 if a.version == 4 else 2, port ^ (MAGIC >> 16)) + x


class Junk:
    def __init__(self, host, port, rng, deadline):
        self.host, self.port, self.rng, self.deadline = host, port, rng, deadline
        self.fam = family_of(host)
        self.socks = []
        for _ in range(4):
            s = socket.socket(self.fam, socket.SOCK_DGRAM)
            s.setblocking(False)
            self.socks.append(s)
        self.sent = self.send_errors = 0
        self.replies = collections.Counter()

    def tid(self):
        return bytes(self.rng.getrandbits(8) for _ in range(12))

    def send(self, data, sock=None):
        sock = sock or self.rng.choice(self.socks)
        try:
            sock.sendto(data, (self.host, self.port))
            self.sent += 1
        except OSError:
            self.send_errors += 1

    def drain(self, socks=None):
        """Read and classify whatever came back, without waiting."""
        for s in socks or self.socks:
            for _ in range(1000):
                try:
                    data = s.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                self.classify(data)

    def classify(self, data):
        try:
            mt, _, attrs = parse(data)
        except ValueError:
            self.replies["channeldata/other" if data[:1] and data[0] & 0xC0 == 0x40 else "unparsable"] += 1
            return
        cls = ((mt >> 7) & 2) | ((mt >> 4) & 1)
        if cls == 3:
            self.replies[f"error {error_code(attrs)}"] += 1
        else:
            self.replies[{0: "request", 1: "indication", 2: "success"}[cls]] += 1

    # ---- phase 1: one bad datagram per call, chosen by index ----

    def bad(self, i):
        r, tid = self.rng, self.tid()
        kind = i % 24
        good_hdr = message(req(BINDING), tid=tid)
        if kind == 0:
            return b""
        if kind == 1:  # truncated header, each length 1..19 in turn
            return good_hdr[:1 + (i // 24) % 19]
        if kind == 2:  # bad magic cookie (RFC 3489 style or plain wrong)
            return message(req(BINDING), tid=tid, cookie=r.getrandbits(32) | 1)
        if kind == 3:  # length field larger than the datagram
            body = attr(A_SOFTWARE, b"x" * r.randrange(0, 40))
            return message(req(r.choice([BINDING, ALLOCATE])), body, tid, len(body) + 4 * r.randrange(1, 200))
        if kind == 4:  # length field smaller than the datagram
            body = attr(A_SOFTWARE, b"y" * r.randrange(4, 80))
            return message(req(BINDING), body, tid, max(0, len(body) - 4 * r.randrange(1, 4)))
        if kind == 5:  # length not a multiple of 4
            body = b"\0" * r.randrange(1, 40)
            return message(req(BINDING), body + b"\0" * (-len(body) % 4 or 1), tid, len(body) | 1)
        if kind == 6:  # an attribute whose length overruns the message
            a = struct.pack("!HH", r.choice([A_SOFTWARE, ATTR_USERNAME, A_XOR_PEER, A_DATA]),
                            r.randrange(8, 65535)) + b"z" * 4
            return message(req(r.choice([BINDING, ALLOCATE, SEND])), a, tid)
        if kind == 7:  # truncated attribute header
            return message(req(BINDING), b"\x80\x22", tid)
        if kind == 8:  # zero-length / wrong-size TURN attributes, unauthenticated
            t = r.choice([A_LIFETIME, A_REQ_TRANSPORT, A_XOR_PEER, A_CHANNEL_NUMBER, A_REQ_ADDR_FAMILY,
                          A_EVEN_PORT, A_RESERVATION_TOKEN, ATTR_USERNAME, ATTR_REALM, ATTR_NONCE])
            v = b"\xff" * r.choice([0, 1, 2, 3, 5, 7, 9, 17, 21])
            return message(req(r.choice([ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND])), attr(t, v), tid)
        if kind == 9:  # unknown comprehension-required attributes, many of them
            body = b"".join(attr(r.randrange(0x0030, 0x7FFF), b"u" * r.randrange(0, 9)) for _ in range(r.randrange(1, 60)))
            return message(req(r.choice([BINDING, ALLOCATE])), body, tid)
        if kind == 10:  # MESSAGE-INTEGRITY of a wrong size / bogus value
            mi_len = r.choice([0, 1, 19, 20, 21, 32])
            body = attr(ATTR_USERNAME, b"1:nobody") + attr(ATTR_REALM, b"xturn") + attr(ATTR_NONCE, b"n" * 16) \
                + attr(ATTR_MESSAGE_INTEGRITY, b"\x55" * mi_len)
            return message(req(ALLOCATE), body + attr(A_REQ_TRANSPORT, b"\x11\0\0\0"), tid)
        if kind == 11:  # bad FINGERPRINT: wrong value, wrong size, not last
            fp = attr(ATTR_FINGERPRINT, struct.pack("!I", r.getrandbits(32))[:r.choice([4, 4, 2])])
            tail = attr(A_SOFTWARE, b"after") if r.random() < 0.5 else b""
            return message(req(BINDING), fp + tail, tid)
        if kind == 12:  # REST usernames that must not parse or verify
            user = r.choice([b"", b":", b"abc:def", b"-1:x", b"0:x", b"99999999999999999999999:x",
                             b"1:" + b"A" * 500, b"\xff\xfe:\x00x", b"4102444800", b"%s%n%x:x"])
            body = attr(ATTR_USERNAME, user) + attr(ATTR_REALM, b"xturn" * r.randrange(1, 60)) \
                + attr(ATTR_NONCE, bytes(r.getrandbits(8) for _ in range(r.randrange(0, 300)))) \
                + attr(ATTR_MESSAGE_INTEGRITY, b"\x11" * 20) + attr(A_REQ_TRANSPORT, b"\x11\0\0\0")
            return message(req(r.choice([ALLOCATE, REFRESH, CREATE_PERMISSION])), body, tid)
        if kind == 13:  # classes a client never sends: responses and odd indications
            cls = r.choice([1, 2, 3])
            m = r.choice([BINDING, ALLOCATE, REFRESH, SEND, DATA, CHANNEL_BIND, 0xFFF])
            body = attr(A_XOR_PEER, xor_peer("198.18.2.2", 3480)) + attr(A_DATA, b"d" * r.randrange(0, 100))
            return message(mtype(m, cls), body, tid)
        if kind == 14:  # unknown methods as requests
            return message(req(r.choice([0x000, 0x002, 0x005, 0x00A, 0x00F, 0x0FF, 0xFFF])), b"", tid)
        if kind == 15:  # random bytes, any first byte
            return bytes(r.getrandbits(8) for _ in range(r.randrange(1, 1500)))
        if kind == 16:  # random bytes behind a plausible STUN header
            n = 4 * r.randrange(0, 100)
            return message(req(r.choice([BINDING, ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND])),
                           bytes(r.getrandbits(8) for _ in range(n)), tid)
        if kind == 17:  # ChannelData for channels nobody bound
            ch, n = r.randrange(0x4000, 0x5000), r.randrange(0, 300)
            return struct.pack("!HH", ch, n) + b"c" * n + b"\0" * (-n % 4)
        if kind == 18:  # ChannelData whose length exceeds the datagram
            ch, n = r.randrange(0x4000, 0x5000), r.randrange(1, 200)
            return struct.pack("!HH", ch, n + r.randrange(1, 65000 - n)) + b"c" * n
        if kind == 19:  # ChannelData in the reserved range, and shorter than its header
            if r.random() < 0.5:
                return struct.pack("!HH", r.randrange(0x5000, 0x8000), 4) + b"rsvd"
            return bytes([0x40 | r.randrange(0, 16)]) + b"\0" * r.randrange(0, 3)
        if kind == 20:  # first two bits 10/11: neither STUN nor ChannelData
            return bytes([0x80 | r.randrange(0, 0x80)]) + bytes(r.getrandbits(8) for _ in range(r.randrange(3, 200)))
        if kind == 21:  # oversized datagrams, every 8th round only (keeps the volume sane)
            if (i // 24) % 8:
                return message(req(BINDING), b"", tid)
            n = r.randrange(1500, UDP_MAX[self.fam] + 1)
            if r.random() < 0.5:  # a STUN header claiming all of it
                body_len = n - 20 - ((n - 20) % 4)
                return message(req(ALLOCATE), attr(A_DATA, b"o" * (body_len - 4)), tid)
            return struct.pack("!HH", 0x4001, 0xFFFF) + b"o" * (n - 4)
        if kind == 22:  # Send indication without an allocation (must be dropped)
            return message(mtype(SEND, 1), attr(A_XOR_PEER, xor_peer("198.18.2.2", 3480, tid), None)
                           + attr(A_DATA, b"no allocation"), tid)
        # kind 23: good Binding requests mixed in, with FINGERPRINT
        return with_fingerprint(message(req(BINDING), tid=tid))


class Session:
    """One authenticated 5-tuple (REST credentials), for phase 2."""

    def __init__(self, junk, secret, realm):
        self.j = junk
        self.sock = socket.socket(junk.fam, socket.SOCK_DGRAM)
        self.sock.connect((junk.host, junk.port))
        self.user = f"{int(time.time()) + 3600}:junk".encode()
        password = base64.b64encode(hmac.new(secret.encode(), self.user, hashlib.sha1).digest())
        self.realm = realm.encode()
        self.key = hashlib.md5(self.user + b":" + self.realm + b":" + password).digest()
        self.nonce = b""

    def build(self, mt, body=b"", user=None, key=None, tid=None):
        """Message with USERNAME/REALM/NONCE and a correct MESSAGE-INTEGRITY, plus FINGERPRINT."""
        tid = tid or self.j.tid()
        pre = body + attr(ATTR_USERNAME, user or self.user) + attr(ATTR_REALM, self.realm) + attr(ATTR_NONCE, self.nonce)
        head = struct.pack("!HHI", mt, len(pre) + 24, MAGIC) + tid
        mac = hmac.new(key or self.key, head + pre, hashlib.sha1).digest()
        return with_fingerprint(head + pre + attr(ATTR_MESSAGE_INTEGRITY, mac)), tid

    def ask(self, data, tid, timeout=1.0, tries=3):
        """Send, wait for the answer with this tid; returns (class, error_code, attrs) or None."""
        for _ in range(tries):
            try:
                self.sock.send(data)
            except OSError:
                return None
            self.j.sent += 1
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if not select.select([self.sock], [], [], max(0.0, end - time.monotonic()))[0]:
                    break
                try:
                    reply = self.sock.recv(65535)
                except OSError:
                    break
                self.j.classify(reply)
                try:
                    mt, rtid, attrs = parse(reply)
                except ValueError:
                    continue
                if rtid == tid:
                    cls = ((mt >> 7) & 2) | ((mt >> 4) & 1)
                    return cls, error_code(attrs), attrs
        return None

    def request(self, method, body=b"", **kw):
        """An authenticated request; refreshes the NONCE once on 401/438. `body`
        may be a function of the transaction ID (XOR-PEER-ADDRESS of IPv6 peers)."""
        for _ in range(2):
            tid = self.j.tid()
            data, tid = self.build(req(method), body(tid) if callable(body) else body, tid=tid, **kw)
            res = self.ask(data, tid)
            if res and res[0] == 3 and res[1] in (401, 438):
                nonce = [v for t, v in res[2] if t == ATTR_NONCE]
                if nonce and nonce[0] != self.nonce:
                    self.nonce = nonce[0]
                    continue
            return res
        return res

    def fire(self, data):
        """Send without waiting (indications, ChannelData)."""
        try:
            self.sock.send(data)
            self.j.sent += 1
        except OSError:
            self.j.send_errors += 1

    def allocate(self, extra=b""):
        return self.request(ALLOCATE, attr(A_REQ_TRANSPORT, b"\x11\0\0\0") + extra)


def phase2(j, secret, realm, peer, peer_port):
    """Authenticated requests with bad contents. Returns an error string or None."""
    r = j.rng
    pfam = ipaddress.ip_address(peer).version
    other = "2001:db8:2::2" if pfam == 4 else "198.18.2.2"
    allocated = []

    s = Session(j, secret, realm)
    res = s.allocate()
    if not res or res[0] != 2:
        return f"could not allocate with REST credentials (got {res and (res[0], res[1])})"
    allocated.append(s)
    peer_attr = attr(A_XOR_PEER, xor_peer(peer, peer_port))

    # Allocate again on the same 5-tuple, and Allocates with bad attributes on new ones.
    s.allocate()
    bad_allocs = [
        b"",  # (REQUESTED-TRANSPORT added by allocate(); the empty case is below)
        attr(A_REQ_TRANSPORT, b"\x06\0\0\0"),
        attr(A_LIFETIME, b""), attr(A_LIFETIME, b"\xff" * 8), attr(A_LIFETIME, b"\0\0\0\0"),
        attr(A_REQ_ADDR_FAMILY, b"\x03\0\0\0"), attr(A_REQ_ADDR_FAMILY, b""),
        attr(A_REQ_ADDR_FAMILY, b"\x02\0\0\0") + attr(A_ADD_ADDR_FAMILY, b"\x02\0\0\0"),
        attr(A_ADD_ADDR_FAMILY, b"\x01\0\0\0"),
        attr(A_EVEN_PORT, b"") + attr(A_RESERVATION_TOKEN, b"\1" * 8),
        attr(A_RESERVATION_TOKEN, b"\1" * 4), attr(A_RESERVATION_TOKEN, b"\x42" * 8),
        attr(A_EVEN_PORT, b"\x80\0\0\0"), attr(A_DONT_FRAGMENT, b"\0\0\0\0"),
        attr(0x7ABC, b"unknown comprehension-required"),
    ]
    for extra in bad_allocs:
        t = Session(j, secret, realm)
        t.nonce = s.nonce
        res = t.allocate(extra)
        if res and res[0] == 2:
            allocated.append(t)
    t = Session(j, secret, realm)
    t.nonce = s.nonce
    t.request(ALLOCATE, b"")  # no REQUESTED-TRANSPORT at all
    t.request(ALLOCATE, attr(A_REQ_TRANSPORT, b""))
    t.request(ALLOCATE, attr(A_REQ_TRANSPORT, b"\x11\0\0\0"), key=b"\0" * 16)  # wrong key
    t.request(ALLOCATE, attr(A_REQ_TRANSPORT, b"\x11\0\0\0"), user=b"1:expired")
    t.request(ALLOCATE, attr(A_REQ_TRANSPORT, b"\x11\0\0\0"), user=b"not-a-timestamp:junk")

    # CreatePermission with bad peer addresses.
    for body in [b"", attr(A_XOR_PEER, b""), attr(A_XOR_PEER, b"\0\x01\0\0"),
                 attr(A_XOR_PEER, b"\0\x03" + b"\0" * 6), attr(A_XOR_PEER, b"\0\x02" + b"\0" * 6),
                 attr(A_XOR_PEER, xor_peer(peer, peer_port) + b"\0" * 12),
                 lambda tid: attr(A_XOR_PEER, xor_peer(other, peer_port, tid)),
                 peer_attr * 50, peer_attr]:
        s.request(CREATE_PERMISSION, body)

    # ChannelBind with bad numbers and lengths, then a good one and conflicting rebinds.
    for ch in (0x0000, 0x3FFF, 0x5000, 0x7FFF, 0xFFFF):
        s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, struct.pack("!HH", ch, 0)) + peer_attr)
    for v in (b"", b"\x40\x01", b"\x40\x01\0\0\0\0\0\0"):
        s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, v) + peer_attr)
    s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, b"\x40\x01\0\0"))  # no peer
    s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, b"\x40\x01\0\0") + peer_attr)  # good
    s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, b"\x40\x01\0\0") + attr(A_XOR_PEER, xor_peer(peer, peer_port + 1)))
    s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, b"\x40\x02\0\0") + peer_attr)

    # Send indications and ChannelData with lying contents (the peer echoes what arrives).
    for body in [peer_attr, attr(A_DATA, b"no peer"), peer_attr + attr(A_DATA, b""),
                 peer_attr + attr(A_DATA, b"x" * 20, length=2000),
                 attr(A_XOR_PEER, xor_peer(peer, 9)) + attr(A_DATA, b"no listener there"),
                 lambda tid: attr(A_XOR_PEER, xor_peer(other, peer_port, tid)) + attr(A_DATA, b"other family"),
                 peer_attr + attr(A_DATA, b"B" * (UDP_MAX[j.fam] - 60))]:
        tid = j.tid()
        s.fire(message(mtype(SEND, 1), body(tid) if callable(body) else body, tid))
    for data in [struct.pack("!HH", 0x4001, 8) + b"ok-data!", struct.pack("!HH", 0x4001, 500) + b"short",
                 struct.pack("!HH", 0x4001, 0), struct.pack("!HH", 0x4001, 3) + b"abc\0",
                 struct.pack("!HH", 0x4001, 0xFFFF) + b"\0" * (UDP_MAX[j.fam] - 4),
                 struct.pack("!HH", 0x4002, 4) + b"nope"]:
        s.fire(data)
    time.sleep(0.2)

    # Refresh with bad lifetimes and families, then delete and keep talking to it.
    for body in [attr(A_LIFETIME, b""), attr(A_LIFETIME, b"\xff" * 8), attr(A_LIFETIME, b"\xff\xff\xff\xff"),
                 attr(A_REQ_ADDR_FAMILY, b"\x02\0\0\0"), attr(A_REQ_ADDR_FAMILY, b"\x07\0\0\0")]:
        s.request(REFRESH, body)
    for sess in allocated:
        sess.request(REFRESH, attr(A_LIFETIME, b"\0\0\0\0"))
    s.request(REFRESH, attr(A_LIFETIME, b"\0\0\0\0"))
    s.request(CREATE_PERMISSION, peer_attr)
    s.request(CHANNEL_BIND, attr(A_CHANNEL_NUMBER, b"\x40\x03\0\0") + peer_attr)
    s.fire(message(mtype(SEND, 1), peer_attr + attr(A_DATA, b"deleted"), j.tid()))
    s.fire(struct.pack("!HH", 0x4001, 4) + b"gone")
    for sess in allocated + [t]:
        sess.sock.close()
    return None


def main():
    ap = argparse.ArgumentParser(description="send malformed STUN/TURN datagrams")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=8656)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--secret")
    ap.add_argument("--realm", default="xturn")
    ap.add_argument("--peer", default="198.18.2.2")
    ap.add_argument("--peer-port", type=int, default=3480)
    a = ap.parse_args()
    for ip in (a.host, a.peer):  # never aim anywhere but the test ranges
        addr = ipaddress.ip_address(ip)
        if not any(addr in ipaddress.ip_network(n) for n in ("198.18.0.0/15", "2001:db8::/32")):
            ap.error(f"{ip} is outside 198.18.0.0/15 and 2001:db8::/32")

    rng = random.Random(a.seed)
    deadline = time.monotonic() + a.max_seconds
    j = Junk(a.host, a.port, rng, deadline)
    for i in range(a.count):
        if time.monotonic() > deadline:
            print(f"junk: time limit reached after {i} datagrams", file=sys.stderr)
            break
        j.send(j.bad(i))
        if i % 50 == 49:  # pace a little so the receive queue is not just overrun
            j.drain()
            time.sleep(0.002)
    time.sleep(0.3)
    j.drain()
    err = None
    if a.secret and time.monotonic() < deadline:
        err = phase2(j, a.secret, a.realm, a.peer, a.peer_port)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(j.replies.items()))
    print(f"junk: sent {j.sent} datagrams to {a.host} port {a.port} ({j.send_errors} send errors); "
          f"replies: {summary or 'none'}")
    if err:
        print(f"junk: phase 2: {err}", file=sys.stderr)
        return 1
    return 0 if j.sent else 1


if __name__ == "__main__":
    sys.exit(main())
