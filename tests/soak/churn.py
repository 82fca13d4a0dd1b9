#!/usr/bin/env python3
"""One churn wave for the soak test: many allocations at once, set up, used, then some deleted
and the others left to expire. Standard library only.

usage: churn.py --server4 ADDR --server6 ADDR --secret S --peer HOST:PORT [--peer ...]
                --local ADDR [--local ...] --port-base P [--count N] [--packets K] [--size B]
                [--delete-every M] [--max-seconds S]

Allocation i uses local address --local[i % L] and port --port-base + i (so a later wave with
another --port-base never meets an allocation of this one that is still expiring), the server
of that family, peer --peer[(i // 2) % P] (its relayed address is of the peer's family: same-
and cross-family relaying), a channel when i is even and a permission (Send/Data indications)
when odd. Each sends K datagrams to the peer (an echoing sink) and waits for the echoes. Then
allocations with i % M == 0 are deleted (Refresh lifetime 0); the others are left to expire.
Every request is retransmitted on timeout, 401/438 are answered with the new nonce.

Prints one JSON object: allocations, ready, setup_failures, errors (code -> count), sent,
sent_channel, sent_send, received, duplicates, invalid, deleted, delete_failures, expiring.
Exit 0 (even with failures: the caller judges), 2 on bad usage.
"""
import argparse
import collections
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402

MAGIC_PAYLOAD = b"SOAK"
RTO = 0.3
TRIES = 10


class Alloc:
    def __init__(self, i, sock, server, peer, channel):
        self.i, self.sock, self.server, self.peer, self.channel = i, sock, server, peer, channel
        self.signer = None
        self.tid = None
        self.msg = None
        self.method = None
        self.tries = 0
        self.deadline = 0.0
        self.result = None  # Response, or "timeout"
        self.relayed = None
        self.ok = False
        self.rx_seqs = set()


def parse_hostport(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return host, int(port)


def run_phase(allocs, make, deadline_s):
    """For each alloc: send make(a) = (method, attrs) as an authenticated request, handling
    401/438 and retransmissions, until every one has a final response or timed out."""
    fds = {}
    poller = select.poll()
    for a in allocs:
        fds[a.sock.fileno()] = a
        poller.register(a.sock, select.POLLIN)
        a.result = None
        start(a, make)
    end = time.monotonic() + deadline_s
    pending = len(allocs)
    while pending and time.monotonic() < end:
        for fd, _ in poller.poll(20):
            a = fds[fd]
            while True:
                try:
                    data = a.sock.recv(65535, socket.MSG_DONTWAIT)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if a.result is not None:
                    continue
                pending -= handle(a, data, make)
        now = time.monotonic()
        for a in allocs:
            if a.result is None and now >= a.deadline:
                if a.tries >= TRIES:
                    a.result = "timeout"
                    pending -= 1
                else:
                    transmit(a)
    for a in allocs:
        poller.unregister(a.sock)
        if a.result is None:
            a.result = "timeout"


def start(a, make):
    a.method, attrs = make(a)
    a.tid = os.urandom(12)
    attrs = attrs(a.tid) if callable(attrs) else attrs
    if a.signer.nonce is None:
        a.msg, _ = tc.build(a.method, tc.REQUEST, attrs, tid=a.tid)
    else:
        a.msg, _ = tc.build(a.method, tc.REQUEST, attrs, tid=a.tid, signer=a.signer)
    a.tries = 0
    transmit(a)


def transmit(a):
    a.tries += 1
    a.deadline = time.monotonic() + RTO
    try:
        a.sock.send(a.msg)
    except OSError:
        pass


def handle(a, data, make):
    """1 when a's transaction is finished, else 0."""
    try:
        t, tid, attrs = tc.parse(data)
    except ValueError:
        return 0
    method, cls = tc.method_class(t)
    if tid != a.tid or method != a.method or cls not in (tc.SUCCESS, tc.ERROR):
        return 0
    r = tc.Response(data, method, cls, attrs, tid)
    if r.code in (401, 438) and (a.signer.nonce is None or r.code == 438) and a.tries < TRIES * 2:
        realm, nonce = r.get(tc.ATTR_REALM), r.get(tc.ATTR_NONCE)
        if realm is not None and nonce is not None:
            a.signer.realm = realm.decode()
            a.signer.nonce = nonce
            tries = a.tries
            start(a, make)
            a.tries += tries
            return 0
    if r.code == 0 and not tc.check_integrity(data, a.signer.key):
        r = tc.Response(data, method, tc.ERROR, [(tc.ATTR_ERROR_CODE, b"\0\0\x09\x63")], tid)
    a.result = r
    return 1


def payload(wave, i, seq, size):
    p = MAGIC_PAYLOAD + struct.pack("!III", wave, i, seq)
    return p + b"\x5a" * (size - len(p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server4", required=True)
    ap.add_argument("--server6", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--peer", action="append", required=True)
    ap.add_argument("--local", action="append", required=True)
    ap.add_argument("--port-base", type=int, required=True)
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--packets", type=int, default=5)
    ap.add_argument("--size", type=int, default=120)
    ap.add_argument("--delete-every", type=int, default=3)
    ap.add_argument("--wave", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=20)
    o = ap.parse_args()
    t_end = time.monotonic() + o.max_seconds
    size = max(o.size, 16)

    username, password = tc.rest_credentials(o.secret, "churn")
    peers = [parse_hostport(p) for p in o.peer]
    allocs, errors = [], collections.Counter()
    for i in range(o.count):
        local = o.local[i % len(o.local)]
        v6 = ":" in local
        server = (o.server6 if v6 else o.server4, o.port)
        peer = peers[(i // 2) % len(peers)]  # channels and permissions to every peer
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        try:
            s.bind((local, o.port_base + i))
        except OSError as e:
            errors[f"bind: {e.strerror}"] += 1
            s.close()
            continue
        s.connect(server)
        a = Alloc(i, s, server, peer, channel=0x4000 + (i % 0x3FFF) if i % 2 == 0 else None)
        a.signer = tc.Signer(username, password)
        allocs.append(a)

    def alloc_req(a):
        fam = ipaddress.ip_address(a.peer[0]).version
        attrs = [(tc.A_REQ_TRANSPORT, tc.u32(17 << 24))]
        if fam == 6:
            attrs.append((tc.A_REQ_FAMILY, tc.family_value(6)))
        return tc.ALLOCATE, attrs

    def bind_req(a):
        if a.channel is not None:
            return tc.CHANNEL_BIND, lambda tid: [
                (tc.A_CHANNEL_NUMBER, struct.pack("!HH", a.channel, 0)),
                (tc.A_XOR_PEER, tc.xor_addr_value(a.peer[0], a.peer[1], tid))]
        return tc.CREATE_PERMISSION, lambda tid: [
            (tc.A_XOR_PEER, tc.xor_addr_value(a.peer[0], a.peer[1], tid))]

    def delete_req(a):
        return tc.REFRESH, [(tc.A_LIFETIME, tc.u32(0))]

    def outcome(a):
        if a.result == "timeout":
            errors["timeout"] += 1
            return False
        if a.result.code != 0:
            errors[str(a.result.code)] += 1
            return False
        return True

    # Allocate (the first transmission is unauthenticated: the 401 gives realm and nonce).
    run_phase(allocs, alloc_req, max(1.0, t_end - time.monotonic()))
    allocated = []
    for a in allocs:
        if outcome(a):
            a.relayed = a.result.addresses(tc.A_XOR_RELAYED)
            allocated.append(a)
    run_phase(allocated, bind_req, max(1.0, t_end - time.monotonic()))
    ready = [a for a in allocated if outcome(a)]
    for a in ready:
        a.ok = True

    # Data: K datagrams each, then the echoes.
    sent = sent_channel = sent_send = 0
    for seq in range(o.packets):
        for a in ready:
            p = payload(o.wave, a.i, seq, size)
            if a.channel is not None:
                msg = tc.channel_data(a.channel, p)
            else:
                tid = os.urandom(12)
                msg, _ = tc.build(tc.SEND, tc.INDICATION, [
                    (tc.A_XOR_PEER, tc.xor_addr_value(a.peer[0], a.peer[1], tid)),
                    (tc.A_DATA, p)], tid=tid, fingerprint=False)
            try:
                a.sock.send(msg)
            except OSError:
                errors["send"] += 1
                continue
            sent += 1
            if a.channel is not None:
                sent_channel += 1
            else:
                sent_send += 1
        time.sleep(0.002)
    received = duplicates = invalid = 0
    fds = {a.sock.fileno(): a for a in ready}
    poller = select.poll()
    for a in ready:
        poller.register(a.sock, select.POLLIN)
    rx_end = min(time.monotonic() + 2.0, t_end)
    while received < sent and time.monotonic() < rx_end:
        for fd, _ in poller.poll(20):
            a = fds[fd]
            while True:
                try:
                    data = a.sock.recv(65535, socket.MSG_DONTWAIT)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if a.channel is not None and len(data) >= 4 and data[0] & 0xC0 == 0x40:
                    number, n = struct.unpack("!HH", data[:4])
                    body = data[4:4 + n] if number == a.channel and 4 + n <= len(data) else None
                else:
                    body = None
                    try:
                        t, tid, attrs = tc.parse(data)
                        if tc.method_class(t) == (tc.DATA, tc.INDICATION):
                            d = [v for at, v in attrs if at == tc.A_DATA]
                            body = d[0] if d else None
                    except ValueError:
                        pass
                if body is None or len(body) < 16 or body[:4] != MAGIC_PAYLOAD:
                    invalid += 1
                    continue
                wave, idx, seq = struct.unpack("!III", body[4:16])
                if wave != o.wave or idx != a.i:
                    invalid += 1
                elif seq in a.rx_seqs:
                    duplicates += 1
                else:
                    a.rx_seqs.add(seq)
                    received += 1
    for a in ready:
        poller.unregister(a.sock)

    # Delete some; leave the others to expire.
    doomed = [a for a in allocated if a.i % o.delete_every == 0] if o.delete_every > 0 else []
    run_phase(doomed, delete_req, max(1.0, t_end - time.monotonic()))
    deleted = sum(1 for a in doomed if a.result != "timeout" and a.result.code == 0)
    for a in allocs:
        a.sock.close()

    print(json.dumps({
        "wave": o.wave, "allocations": o.count, "ready": len(ready),
        "setup_failures": o.count - len(ready), "errors": dict(errors),
        "sent": sent, "sent_channel": sent_channel, "sent_send": sent_send,
        "received": received, "duplicates": duplicates, "invalid": invalid,
        "deleted": deleted, "delete_failures": len(doomed) - deleted,
        "expiring": len(allocated) - deleted,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
