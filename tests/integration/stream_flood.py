#!/usr/bin/env python3
"""Hostile stream connections held open against a relay, for a bounded time.

usage: stream_flood.py HOST PORT TLS_PORT COUNT SECONDS [STATUS_FILE]

Keeps COUNT connections open, in five kinds taken in turn: idle (connect, send nothing),
slowloris (a STUN header a byte at a time, never finished), incomplete (a header announcing
65532 bytes and 60000 of them), garbage (junk: the relay closes it at once) and half a TLS
handshake (on TLS_PORT). A connection the relay closes is opened again, until SECONDS pass.
Once a second STATUS_FILE gets "open N opened M closed_by_relay K". Standard library only.
"""
import os
import selectors
import socket
import struct
import sys
import time

HOST, PORT, TLS_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
COUNT, SECONDS = int(sys.argv[4]), float(sys.argv[5])
STATUS = sys.argv[6] if len(sys.argv) > 6 else None
FAMILY = socket.AF_INET6 if ":" in HOST else socket.AF_INET
KINDS = os.environ.get("FLOOD_KINDS", "idle slowloris incomplete garbage half_tls").split()
SLOW = struct.pack("!HHI", 0x0001, 8, 0x2112A442) + b"\0" * 12 + b"\0" * 8
BIG = struct.pack("!HHI", 0x0001, 65532, 0x2112A442) + b"\1" * 12 + b"x" * 60000
HALF_TLS = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 200

sel = selectors.DefaultSelector()
conns = {}  # socket -> [kind, bytes of SLOW sent, connected, bytes still to send]
opened = closed_by_relay = 0


def open_one(kind):
    global opened
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((HOST, TLS_PORT if kind == "half_tls" else PORT))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return
    data = {"incomplete": BIG, "garbage": b"\xff" * 64, "half_tls": HALF_TLS}.get(kind, b"")
    conns[s] = [kind, 0, False, data]
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    opened += 1


def drop(s, by_relay):
    global closed_by_relay
    sel.unregister(s)
    del conns[s]
    s.close()
    closed_by_relay += by_relay


end = time.monotonic() + SECONDS
next_status = next_slow = 0.0
i = 0
while time.monotonic() < end:
    while len(conns) < COUNT and time.monotonic() < end:
        open_one(KINDS[i % len(KINDS)])
        i += 1
        if i % 200 == 0:
            break  # let the event loop run between batches
    for key, ev in sel.select(timeout=0.05):
        s, st = key.fileobj, conns.get(key.fileobj)
        if st is None:
            continue
        if ev & selectors.EVENT_WRITE:
            st[2] = True
            try:
                st[3] = st[3][s.send(st[3]):] if st[3] else b""
            except BlockingIOError:
                pass
            except OSError:
                drop(s, True)
                continue
            if not st[3]:
                sel.modify(s, selectors.EVENT_READ)
        if ev & selectors.EVENT_READ:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                drop(s, True)
    now = time.monotonic()
    if now >= next_slow:
        next_slow = now + 0.5
        for s, st in list(conns.items()):
            if st[0] == "slowloris" and st[2] and st[1] < len(SLOW) - 1:
                try:
                    s.send(SLOW[st[1]:st[1] + 1])
                    st[1] += 1
                except OSError:
                    drop(s, True)
    if STATUS and now >= next_status:
        next_status = now + 1
        with open(STATUS + ".tmp", "w") as f:
            f.write("open %d opened %d closed_by_relay %d\n" % (len(conns), opened,
                                                               closed_by_relay))
        os.replace(STATUS + ".tmp", STATUS)
for s in list(conns):
    drop(s, False)
print("opened %d closed_by_relay %d" % (opened, closed_by_relay))
