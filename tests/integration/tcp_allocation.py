#!/usr/bin/env python3
"""TCP allocations (RFC 6062) checked from the client's side, byte by byte. Standard library only.

usage: tcp_allocation.py SERVER SECRET PEER PEER_LOG MODE [ARG]

SERVER is the relay's TCP listen address, PEER an echo server (tcp_echo.py) in the peer's
network that appends "accepted HOST PORT" to PEER_LOG for every connection it gets. Peers that
connect in are sockets of this script: the client's IP, a peer like any other to the relay.
MODE:
  checks        the permission rules both ways (a peer without one can neither be connected to nor
                connect in: the Pion bug), Connect (403, 446, success from the relayed address),
                ConnectionBind (400, 441, the control connection's nonce), bytes both ways and
                byte for byte (1 MB through the echo, half-close, connections from peers), and
                every connection closed by Refresh 0
  handoffs N    N Connect + ConnectionBind + echo rounds (data connections spread over the workers)
  rate BPS      a transfer through the echo takes the time --max-bps BPS allows
  hold SECS     one data connection echoing a round of bytes every 0.1 s for SECS seconds (a live
                upgrade happens meanwhile), every byte back, Refresh on the control connection
                every 2 s
  backpressure PID  a peer writing to a data connection that does not read is stopped by the
                kernel's buffers: xturn (PID) holds no more than its bounded buffers meanwhile,
                and every byte arrives once the client reads
One line per check ("ok ..." or "FAIL ..."), then "N failed"; exit 1 if any failed.
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from turn_client import (A_LIFETIME, A_REQ_TRANSPORT, A_XOR_PEER, A_XOR_RELAYED,  # noqa: E402
                         ALLOCATE, CREATE_PERMISSION, INDICATION, REFRESH, REQUEST, Checks,
                         Response, Signer, TurnClient, TurnError, build, check_integrity,
                         hostport, method_class, rest_credentials, u32, xor_addr_value)
from stun_binding import ATTR_NONCE, ATTR_REALM, parse, xor_address  # noqa: E402

CONNECT, CONNECTION_BIND, CONNECTION_ATTEMPT = 0x00A, 0x00B, 0x00C
A_CONNECTION_ID = 0x002A
TCP = u32(6 << 24)


class Stream:
    """A TURN client on one TCP connection: STUN messages framed by their length field."""

    def __init__(self, server, signer):
        self.sock = socket.create_connection(server, timeout=5)
        self.server = server
        self.buf = b""
        self.signer = signer
        self.indications = []

    def read_msg(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 20:
                n = 20 + struct.unpack("!H", self.buf[2:4])[0]
                if len(self.buf) >= n:
                    data, self.buf = self.buf[:n], self.buf[n:]
                    t, tid, attrs = parse(data)
                    method, cls = method_class(t)
                    return Response(data, method, cls, attrs, tid)
            r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TurnError("connection closed by the server")
            self.buf += chunk

    def request(self, method, attrs=lambda tid: []):
        """A signed request (the nonce taken from 401/438 as needed); returns the Response."""
        s = self.signer
        for _ in range(4):
            tid = os.urandom(12)
            msg, _ = build(method, REQUEST, attrs(tid), tid=tid,
                           signer=s if s.nonce is not None else None)
            self.sock.sendall(msg)
            r = self.wait(tid)
            if r.code in (401, 438) and r.get(ATTR_NONCE) and (s.nonce is None or r.code == 438):
                s.realm = s.realm or r.get(ATTR_REALM).decode()
                s.nonce = r.get(ATTR_NONCE)
                continue
            if r.code not in (401, 438) and not check_integrity(r.data, s.key):
                raise TurnError(f"response to 0x{method:03x} without valid integrity")
            return r
        raise TurnError("nonce keeps going stale")

    def wait(self, tid, timeout=10):
        while True:
            r = self.read_msg(timeout)
            if r is None:
                raise TurnError("no response")
            if r.cls == INDICATION:
                self.indications.append(r)
            elif r.tid == tid:
                return r

    def attempt(self, timeout):
        """The next ConnectionAttempt indication within timeout, or None."""
        deadline = time.monotonic() + timeout
        while not self.indications:
            r = self.read_msg(deadline - time.monotonic())
            if r is None:
                return None
            if r.cls == INDICATION:
                self.indications.append(r)
        return self.indications.pop(0)

    def allocate_tcp(self):
        r = self.request(ALLOCATE, lambda tid: [(A_REQ_TRANSPORT, TCP)])
        if r.code != 0:
            raise TurnError(f"Allocate TCP: {r.code}")
        ip, port = r.addresses(A_XOR_RELAYED)[0]
        return str(ip), port

    def permit(self, host):
        return self.request(CREATE_PERMISSION,
                            lambda tid: [(A_XOR_PEER, xor_addr_value(host, 1, tid))]).code

    def connect(self, peer):
        return self.request(CONNECT, lambda tid: [(A_XOR_PEER, xor_addr_value(peer[0], peer[1],
                                                                                tid))])

    def bind(self, cid, signer=None):
        """A new data connection to the server bound to cid, with the control connection's nonce
        first (as coturn's client does): (code, socket, bytes that came after the response)."""
        s = self.signer
        d = Stream(self.server, signer or Signer(s.username, s.password, s.realm))
        if signer is None:
            d.signer.nonce = s.nonce
        r = d.request(CONNECTION_BIND, lambda tid: [(A_CONNECTION_ID, cid)])
        if r.code != 0:
            d.sock.close()
            return r.code, None, b""
        return 0, d.sock, d.buf

    def refresh(self, lifetime):
        return self.request(REFRESH, lambda tid: [(A_LIFETIME, u32(lifetime))]).code


def transfer(src, dst, payload, dst_pending=b"", timeout=20):
    """Writes payload on src and reads it on dst (dst_pending: bytes read already); True when
    exactly those bytes came."""
    got = bytearray(dst_pending)
    sent = 0
    src.setblocking(False)
    dst.setblocking(False)
    deadline = time.monotonic() + timeout
    while len(got) < len(payload) and time.monotonic() < deadline:
        w = [src] if sent < len(payload) else []
        r, wr, _ = select.select([dst], w, [], 1)
        if wr:
            try:
                sent += src.send(payload[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = dst.recv(65536)
            if not chunk:
                break
            got += chunk
    return bytes(got) == payload


def closed_soon(sock, timeout=3):
    """True if sock sees the end of its connection (EOF or reset) within timeout, reading and
    dropping what comes before."""
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            try:
                if not sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
    return False


def accepted_lines(log):
    try:
        with open(log, encoding="utf-8") as f:
            return [line.split() for line in f if line.startswith("accepted")]
    except FileNotFoundError:
        return []


def connect_in(relayed):
    """A peer connecting to the relayed address from here."""
    return socket.create_connection(relayed, timeout=5)


def checks(server, secret, peer, log):
    check = Checks()
    signer = Signer(*rest_credentials(secret, user="tcp"))
    ctl = Stream(server, signer)
    relayed = ctl.allocate_tcp()
    check(relayed[1] > 0, f"Allocate TCP over TCP: relayed {relayed[0]}:{relayed[1]}")
    udp = TurnClient(server[0], server[1], signer=Signer(*rest_credentials(secret, user="tcp")))
    r = udp.request(ALLOCATE, [(A_REQ_TRANSPORT, TCP)])
    check(r.code == 400, f"Allocate TCP over UDP: {r.code} (want 400)")

    # No permission: neither way.
    r = ctl.connect(peer)
    time.sleep(0.5)
    check(r.code == 403 and not accepted_lines(log),
          f"Connect without permission: {r.code} (want 403), peer saw "
          f"{len(accepted_lines(log))} connections (want 0)")
    p = connect_in(relayed)
    p.sendall(b"let me in")
    check(closed_soon(p), "a peer without permission connecting in is closed at once")
    check(ctl.attempt(1.0) is None, "... and the client is told nothing")
    p.close()

    # A permission for the peer's IP: Connect.
    check(ctl.permit(peer[0]) == 0, "CreatePermission for the peer")
    r = ctl.connect(peer)
    cid = r.get(A_CONNECTION_ID)
    check(r.code == 0 and cid is not None and len(cid) == 4,
          f"Connect with permission: {r.code}, CONNECTION-ID {cid.hex() if cid else None}")
    if cid is None:
        return check.finish()
    deadline = time.monotonic() + 3
    while not (lines := accepted_lines(log)) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(len(lines) == 1 and lines[0][1:] == [relayed[0], str(relayed[1])],
          f"the peer's connection comes from the relayed address: {lines}")
    check(ctl.connect(peer).code == 446, "a second Connect to the same peer: 446")
    code, _, _ = ctl.bind(b"\x00\x00\x00\x01")
    check(code == 400, f"ConnectionBind with an unknown id: {code} (want 400)")
    code, _, _ = ctl.bind(cid, signer=Signer(*rest_credentials(secret, user="other")))
    check(code == 441, f"ConnectionBind by another user: {code} (want 441)")
    code, data, pending = ctl.bind(cid)
    check(code == 0, f"ConnectionBind with the control connection's nonce: {code}")
    if data is None:
        return check.finish()
    payload = os.urandom(1 << 20)
    check(transfer(data, data, payload, pending), "1 MB through the echo, byte for byte")
    code, _, _ = ctl.bind(cid)
    check(code == 400, f"ConnectionBind of a bound id: {code} (want 400)")
    # Half-close: the client's end of sending reaches the peer, the echo comes back whole.
    payload = os.urandom(100000)
    data.setblocking(True)
    data.sendall(payload)
    data.shutdown(socket.SHUT_WR)
    got = bytearray()
    data.settimeout(10)
    while True:
        chunk = data.recv(65536)
        if not chunk:
            break
        got += chunk
    check(bytes(got) == payload, f"half-closed: {len(got)} of {len(payload)} bytes echoed, then "
          "the end")
    data.close()

    # A peer connecting in: refused without a permission for its IP, offered with one.
    me = ctl.sock.getsockname()[0]
    p = connect_in(relayed)
    check(closed_soon(p) and ctl.attempt(1.0) is None,
          f"a peer ({me}) whose IP has no permission (only {peer[0]} has) is closed at once")
    p.close()
    check(ctl.permit(me) == 0, f"CreatePermission for {me}")
    p = connect_in(relayed)
    ind = ctl.attempt(5)
    check(ind is not None and ind.method == CONNECTION_ATTEMPT, "a ConnectionAttempt comes")
    if ind is None:
        return check.finish()
    addr = xor_address(ind.get(A_XOR_PEER), ind.tid)
    check((str(addr[0]), addr[1]) == p.getsockname()[:2],
          f"... with the peer's address {addr[0]}:{addr[1]}")
    code, data, pending = ctl.bind(ind.get(A_CONNECTION_ID))
    check(code == 0, f"ConnectionBind of the peer's connection: {code}")
    if data is None:
        return check.finish()
    check(transfer(p, data, os.urandom(300000), pending), "300 kB peer -> client, byte for byte")
    check(transfer(data, p, os.urandom(300000)), "300 kB client -> peer, byte for byte")
    p.close()
    check(closed_soon(data), "the peer closing ends the client's data connection")
    data.close()

    # Refresh 0 ends everything: a relaying pair and a pending connection.
    p = connect_in(relayed)
    ind = ctl.attempt(5)
    code, data, pending = ctl.bind(ind.get(A_CONNECTION_ID)) if ind else (-1, None, b"")
    check(code == 0, "another connection from the peer, bound")
    pending_peer = connect_in(relayed)
    check(ctl.attempt(5) is not None, "and one more, not bound")
    check(ctl.refresh(0) == 0, "Refresh 0")
    if data is not None:
        check(closed_soon(data) and closed_soon(p) and closed_soon(pending_peer),
              "every data and peer connection of the allocation is closed")
    try:
        s = connect_in(relayed)
        check(closed_soon(s, 1), "the relayed address takes no connection any more")
    except OSError:
        check(True, "the relayed address takes no connection any more")
    return check.finish()


def bound_pair(ctl, peer):
    """Connect (retried while an earlier connection to the peer ends: 446) and ConnectionBind:
    (data socket, pending bytes), or (None, code)."""
    deadline = time.monotonic() + 5
    while True:
        r = ctl.connect(peer)
        if r.code != 446 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if r.code != 0:
        return None, r.code
    code, data, pending = ctl.bind(r.get(A_CONNECTION_ID))
    return (data, pending) if code == 0 else (None, code)


def handoffs(server, secret, peer, n):
    check = Checks()
    ctl = Stream(server, Signer(*rest_credentials(secret, user="tcp")))
    ctl.allocate_tcp()
    check(ctl.permit(peer[0]) == 0, "CreatePermission for the peer")
    ok = 0
    for i in range(n):
        data, pending = bound_pair(ctl, peer)
        if data is None:
            check(False, f"round {i}: Connect or ConnectionBind failed: {pending}")
            continue
        ok += transfer(data, data, os.urandom(20000), pending)
        data.close()
    check(ok == n, f"{ok} of {n} data connections relayed their bytes")
    return check.finish()


def one_data_connection(server, secret, peer, check):
    """A TCP allocation permitted to peer with one data connection to it: (control stream, data
    socket, pending bytes), the data socket None (and the check failed) when it could not be."""
    ctl = Stream(server, Signer(*rest_credentials(secret, user="tcp")))
    ctl.allocate_tcp()
    check(ctl.permit(peer[0]) == 0, "CreatePermission for the peer")
    data, pending = bound_pair(ctl, peer)
    if data is None:
        check(False, f"Connect and ConnectionBind: {pending}")
    return ctl, data, pending


def rate(server, secret, peer, bps):
    check = Checks()
    ctl, data, pending = one_data_connection(server, secret, peer, check)
    if data is None:
        return check.finish()
    # Both ways count: n bytes out and back are 2n against the limit, a second's worth at once.
    n = int(bps * 1.5)
    start = time.monotonic()
    ok = transfer(data, data, os.urandom(n), pending, timeout=30)
    took = time.monotonic() - start
    want = 2 * n / bps - 1
    check(ok, f"{n} bytes through the echo, byte for byte")
    check(want * 0.8 <= took <= want * 3 + 2,
          f"took {took:.2f} s at --max-bps {bps} (about {want:.1f} s expected)")
    return check.finish()


def hold(server, secret, peer, secs):
    check = Checks()
    ctl, data, pending = one_data_connection(server, secret, peer, check)
    if data is None:
        return check.finish()
    rounds = refreshes = 0
    end = next_refresh = time.monotonic()
    end += secs
    while time.monotonic() < end:
        if not transfer(data, data, os.urandom(2000), pending, timeout=5):
            break
        pending = b""
        rounds += 1
        if time.monotonic() >= next_refresh:
            refreshes += ctl.refresh(600) == 0
            next_refresh += 2
        time.sleep(0.1)
    check(time.monotonic() >= end and rounds > 0,
          f"{rounds} rounds of 2000 bytes through the echo, byte for byte, for {secs} s")
    check(refreshes >= secs // 2, f"{refreshes} Refreshes succeeded")
    data.close()
    check(ctl.refresh(0) == 0, "Refresh 0 at the end")
    return check.finish()


def rss_kb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def backpressure(server, secret, pid):
    check = Checks()
    ctl = Stream(server, Signer(*rest_credentials(secret, user="tcp")))
    relayed = ctl.allocate_tcp()
    me = ctl.sock.getsockname()[0]
    check(ctl.permit(me) == 0, f"CreatePermission for {me}")
    p = connect_in(relayed)
    ind = ctl.attempt(5)
    code, data, pending = ctl.bind(ind.get(A_CONNECTION_ID)) if ind else (-1, None, b"")
    check(code == 0, "a peer's connection, bound")
    if data is None:
        return check.finish()
    before = rss_kb(pid)
    # The client does not read: the peer writes until nothing moves for a second.
    p.setblocking(False)
    chunk = os.urandom(1 << 16)
    written = 0
    stalled_since = None
    while True:
        try:
            written += p.send(chunk)
            stalled_since = None
        except BlockingIOError:
            now = time.monotonic()
            stalled_since = stalled_since or now
            if now - stalled_since > 1.0:
                break
            time.sleep(0.01)
    grown = rss_kb(pid) - before
    check(written < 64 << 20, f"the peer was stopped after {written >> 10} kB (kernel buffers)")
    check(grown < 8 << 10, f"xturn grew by {grown} kB meanwhile (at most its bounded buffers)")
    # Now the client reads: every byte, in order.
    data.setblocking(False)
    got = len(pending)
    deadline = time.monotonic() + 20
    while got < written and time.monotonic() < deadline:
        r, _, _ = select.select([data], [], [], 1)
        if r:
            n = len(data.recv(1 << 20))
            if not n:
                break
            got += n
    check(got == written, f"the client read all {got} of {written} bytes")
    return check.finish()


def main(argv):
    server, secret, peer, log, mode = hostport(argv[1]), argv[2], hostport(argv[3]), argv[4], \
        argv[5]
    try:
        if mode == "checks":
            return checks(server, secret, peer, log)
        if mode == "handoffs":
            return handoffs(server, secret, peer, int(argv[6]))
        if mode == "rate":
            return rate(server, secret, peer, int(argv[6]))
        if mode == "hold":
            return hold(server, secret, peer, int(argv[6]))
        if mode == "backpressure":
            return backpressure(server, secret, int(argv[6]))
    except (TurnError, OSError) as e:
        print(f"FAIL  {type(e).__name__}: {e}", flush=True)
        print("1 failed", flush=True)
        return 1
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
