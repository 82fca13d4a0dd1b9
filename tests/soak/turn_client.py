#!/usr/bin/env python3
"""A small TURN (RFC 8656) client for the soak and abuse tests. Standard library only.

Builds on the STUN helpers of tests/integration/stun_binding.py. Offers:
  - message building with long-term credentials (MESSAGE-INTEGRITY), optional attributes
    placed *after* the integrity (which a server must ignore), FINGERPRINT;
  - TurnClient: one UDP socket, blocking requests with retransmission, the 401/438 dance,
    Allocate / Refresh / CreatePermission / ChannelBind, Send indications, ChannelData, and
    receiving Data indications / ChannelData;
  - rest_credentials(): TURN REST API usernames and passwords (coturn's --use-auth-secret).

Every request and response is checked: responses must carry our transaction ID and, when the
request was signed, a MESSAGE-INTEGRITY that verifies with our key.
"""
import base64
import hashlib
import hmac
import ipaddress
import os
import select
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from stun_binding import (ATTR_ERROR_CODE, ATTR_FINGERPRINT, ATTR_MESSAGE_INTEGRITY,  # noqa: E402
                          ATTR_NONCE, ATTR_REALM, ATTR_USERNAME,
                          FINGERPRINT_XOR, MAGIC, attr, error_code, parse, xor_address)

# Methods (RFC 8656 17).
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x004, 0x006, 0x007, 0x008, 0x009
# Classes.
REQUEST, INDICATION, SUCCESS, ERROR = 0, 1, 2, 3
# Attributes (RFC 8656 18, RFC 8489 18.3).
A_CHANNEL_NUMBER, A_LIFETIME, A_XOR_PEER, A_DATA = 0x000C, 0x000D, 0x0012, 0x0013
A_XOR_RELAYED, A_REQ_FAMILY, A_REQ_TRANSPORT = 0x0016, 0x0017, 0x0019
A_ADDITIONAL_FAMILY = 0x8000
A_MI256 = 0x001C


def hostport(s):
    """'host:port' or '[ipv6]:port' -> (host, port)."""
    if s.startswith("["):
        h, _, p = s[1:].partition("]:")
    else:
        h, _, p = s.rpartition(":")
    return h, int(p)


class Checks:
    """One printed line per check; failed() tells how many did not hold."""

    def __init__(self):
        self.failures = []

    def __call__(self, cond, what):
        print(("ok    " if cond else "FAIL  ") + what, flush=True)
        if not cond:
            self.failures.append(what)

    def finish(self):
        print(f"{len(self.failures)} failed", flush=True)
        return 1 if self.failures else 0


def mtype(method, cls):
    """STUN message type from a 12-bit method and a 2-bit class."""
    return ((method & 0xF80) << 2) | ((method & 0x070) << 1) | (method & 0x00F) | \
        ((cls & 2) << 7) | ((cls & 1) << 4)


def method_class(t):
    method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    cls = ((t >> 4) & 1) | ((t >> 7) & 2)
    return method, cls


def rest_credentials(secret, user="soak", ttl=86400):
    """TURN REST API: username '<expiry>:<user>', password base64(HMAC-SHA1(secret, username))."""
    username = f"{int(time.time()) + ttl}:{user}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


def long_term_key(username, realm, password):
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


def xor_addr_value(host, port, tid):
    """The value of an XOR-*-ADDRESS attribute for host:port (host: str or ipaddress)."""
    ip = ipaddress.ip_address(host)
    xport = port ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + tid
    raw = ip.packed
    fam = 1 if ip.version == 4 else 2
    x = bytes(a ^ b for a, b in zip(raw, key))
    return struct.pack("!xBH", fam, xport) + x


def u32(v):
    return struct.pack("!I", v)


def family_value(fam):
    return struct.pack("!B3x", 1 if fam == 4 else 2)


class Signer:
    """Long-term credentials: USERNAME, REALM, NONCE, then MESSAGE-INTEGRITY with the key."""

    def __init__(self, username, password, realm=None):
        self.username = username
        self.password = password
        self.realm = realm
        self.nonce = None

    @property
    def key(self):
        return long_term_key(self.username, self.realm, self.password)


def build(method, cls, attrs=(), tid=None, signer=None, key=None, after_mi=(), fingerprint=True):
    """A STUN message. attrs: [(type, value)]. With a signer, USERNAME/REALM/NONCE and
    MESSAGE-INTEGRITY (key: the signer's unless given) follow attrs; after_mi are attributes
    placed after the MESSAGE-INTEGRITY (a server must ignore them), then FINGERPRINT."""
    tid = os.urandom(12) if tid is None else tid
    body = b"".join(attr(t, v) for t, v in attrs)
    if signer is not None:
        body += attr(ATTR_USERNAME, signer.username.encode())
        body += attr(ATTR_REALM, signer.realm.encode())
        body += attr(ATTR_NONCE, signer.nonce)
        k = signer.key if key is None else key
        head = struct.pack("!HHI", mtype(method, cls), len(body) + 24, MAGIC) + tid
        mac = hmac.new(k, head + body, hashlib.sha1).digest()
        body += attr(ATTR_MESSAGE_INTEGRITY, mac)
    body += b"".join(attr(t, v) for t, v in after_mi)
    msg = struct.pack("!HHI", mtype(method, cls), len(body), MAGIC) + tid + body
    if fingerprint:
        msg = msg[:2] + struct.pack("!H", len(body) + 8) + msg[4:]
        crc = (zlib.crc32(msg) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
        msg += attr(ATTR_FINGERPRINT, struct.pack("!I", crc))
    return msg, tid


def check_integrity(data, key):
    """True if data carries a MESSAGE-INTEGRITY that verifies with key."""
    off = 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        if t == ATTR_MESSAGE_INTEGRITY:
            head = data[:2] + struct.pack("!H", off + 24 - 20) + data[4:20]
            mac = hmac.new(key, head + data[20:off], hashlib.sha1).digest()
            return n == 20 and hmac.compare_digest(mac, data[off + 4:off + 24])
        off += 4 + n + (-n % 4)
    return False


def channel_data(number, payload):
    return struct.pack("!HH", number, len(payload)) + payload + b"\0" * (-len(payload) % 4)


class Response:
    def __init__(self, data, method, cls, attrs, tid):
        self.data, self.method, self.cls, self.attrs, self.tid = data, method, cls, attrs, tid

    @property
    def code(self):
        """0 for a success response, the error code otherwise."""
        return 0 if self.cls == SUCCESS else (error_code(self.attrs) or -1)

    def get(self, t):
        for at, v in self.attrs:
            if at == t:
                return v
        return None

    def all(self, t):
        return [v for at, v in self.attrs if at == t]

    def addresses(self, t):
        return [xor_address(v, self.tid) for v in self.all(t)]

    def __repr__(self):
        return f"<response method 0x{self.method:03x} code {self.code}>"


class TurnError(Exception):
    pass


class TurnClient:
    """One UDP socket talking to one TURN server."""

    def __init__(self, server, port=3478, local=None, local_port=0, signer=None, rto=0.25,
                 tries=8):
        self.server = (str(server), port)
        fam = socket.AF_INET6 if ":" in str(server) else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        if local or local_port:
            self.sock.bind((local or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), local_port))
        self.sock.connect(self.server)
        self.signer = signer
        self.rto, self.tries = rto, tries
        self.data_queue = []  # (peer, payload, via) received while waiting for a response
        self.stray = 0

    def close(self):
        self.sock.close()

    def local(self):
        return self.sock.getsockname()[:2]

    # ---- raw I/O ----

    def send_raw(self, data):
        self.sock.send(data)

    def _recv(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        try:
            return self.sock.recv(65535)
        except ConnectionRefusedError:
            return None

    def _classify(self, data):
        """('data', peer, payload, via) for relayed data, ('stun', Response) otherwise, or None."""
        if len(data) >= 4 and 0x40 <= data[0] <= 0x7F:
            number, n = struct.unpack("!HH", data[:4])
            if 4 + n > len(data):
                return None
            return ("data", number, data[4:4 + n], "channel")
        try:
            t, tid, attrs = parse(data)
        except ValueError:
            return None
        method, cls = method_class(t)
        if method == DATA and cls == INDICATION:
            peer = [xor_address(v, tid) for at, v in attrs if at == A_XOR_PEER]
            payload = [v for at, v in attrs if at == A_DATA]
            if not peer or not payload:
                return None
            return ("data", peer[0], payload[0], "indication")
        return ("stun", Response(data, method, cls, attrs, tid))

    # ---- requests ----

    def transact(self, msg, tid, method, key=None):
        """Send msg, retransmitting, until the response with tid arrives. Returns a Response."""
        for _ in range(self.tries):
            self.send_raw(msg)
            deadline = time.monotonic() + self.rto
            while True:
                data = self._recv(deadline - time.monotonic())
                if data is None:
                    break
                c = self._classify(data)
                if c is None:
                    self.stray += 1
                    continue
                if c[0] == "data":
                    self.data_queue.append(c[1:])
                    continue
                r = c[1]
                if r.tid != tid:
                    self.stray += 1
                    continue
                if r.method != method:
                    raise TurnError(f"response method 0x{r.method:03x} to 0x{method:03x}")
                if key is not None and r.cls in (SUCCESS, ERROR) and r.code not in (401, 438):
                    if not check_integrity(r.data, key):
                        raise TurnError(f"response to 0x{method:03x} without valid integrity")
                return r
        raise TurnError(f"no response to method 0x{method:03x} after {self.tries} tries")

    def request(self, method, attrs=(), after_mi=(), signer=None, key=None, tid=None):
        """An authenticated request (the signer's nonce obtained or renewed as needed).
        key: sign with this key instead of the signer's (a forged integrity)."""
        s = signer or self.signer
        if s is None:
            raise TurnError("no credentials")
        for _ in range(4):
            if s.nonce is None:
                msg, t = build(method, REQUEST, attrs, tid=tid)
                r = self.transact(msg, t, method)
                if r.code not in (401, 438):
                    return r
                self._take_challenge(s, r)
                continue
            msg, t = build(method, REQUEST, attrs, tid=tid, signer=s, key=key, after_mi=after_mi)
            r = self.transact(msg, t, method, key=s.key if key is None else None)
            if r.code == 438:
                self._take_challenge(s, r)
                continue
            return r
        raise TurnError("nonce keeps going stale")

    @staticmethod
    def _take_challenge(s, r):
        realm, nonce = r.get(ATTR_REALM), r.get(ATTR_NONCE)
        if nonce is None or realm is None:
            raise TurnError(f"challenge without REALM/NONCE: {r}")
        if s.realm is None:
            s.realm = realm.decode()
        s.nonce = nonce

    def allocate(self, families=(4,), lifetime=None, expect=0):
        """families: (4,), (6,) or (4, 6) for a dual allocation. Returns [(ip, port)] relayed."""
        attrs = [(A_REQ_TRANSPORT, u32(17 << 24))]
        if families[0] == 6:
            attrs.append((A_REQ_FAMILY, family_value(6)))
        if len(families) > 1:
            attrs.append((A_ADDITIONAL_FAMILY, family_value(6)))
        if lifetime is not None:
            attrs.append((A_LIFETIME, u32(lifetime)))
        r = self.request(ALLOCATE, attrs)
        if r.code != expect:
            raise TurnError(f"Allocate: code {r.code}, want {expect}")
        return r.addresses(A_XOR_RELAYED) if r.code == 0 else r

    def refresh(self, lifetime=None, **kw):
        attrs = [] if lifetime is None else [(A_LIFETIME, u32(lifetime))]
        return self.request(REFRESH, attrs, **kw)

    def create_permission(self, peers, **kw):
        """peers: [(host, port)]; returns the Response."""
        tid = os.urandom(12)
        attrs = [(A_XOR_PEER, xor_addr_value(h, p, tid)) for h, p in peers]
        return self.request(CREATE_PERMISSION, attrs, tid=tid, **kw)

    def channel_bind(self, number, peer, **kw):
        tid = os.urandom(12)
        attrs = [(A_CHANNEL_NUMBER, struct.pack("!HH", number, 0)),
                 (A_XOR_PEER, xor_addr_value(peer[0], peer[1], tid))]
        return self.request(CHANNEL_BIND, attrs, tid=tid, **kw)

    # ---- data ----

    def send_indication(self, peer, payload):
        tid = os.urandom(12)
        msg, _ = build(SEND, INDICATION, [(A_XOR_PEER, xor_addr_value(peer[0], peer[1], tid)),
                                          (A_DATA, payload)], tid=tid, fingerprint=False)
        self.send_raw(msg)

    def send_channel(self, number, payload):
        self.send_raw(channel_data(number, payload))

    def recv_data(self, timeout, until=None):
        """Relayed data received within timeout: [(peer_or_channel, payload, via)]; returns
        early once until(list) is true."""
        out, self.data_queue = self.data_queue, []
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and until(out):
                return out
            data = self._recv(deadline - time.monotonic())
            if data is None:
                return out
            c = self._classify(data)
            if c is not None and c[0] == "data":
                out.append(c[1:])
            else:
                self.stray += 1


def relayed_of(addrs, fam):
    for ip, port in addrs:
        if ip.version == fam:
            return str(ip), port
    return None


def run_checks(main):
    """Exits with main()'s status; a TURN exchange that fails outright is one failed check."""
    try:
        sys.exit(main())
    except TurnError as e:
        print(f"FAIL  {e}")
        sys.exit(1)


if __name__ == "__main__":
    print(__doc__)
