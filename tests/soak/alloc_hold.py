#!/usr/bin/env python3
"""Holds one allocation open and counts the data relayed to it, until SIGTERM.

usage: alloc_hold.py --server ADDR --secret S --local ADDR --peer ADDR:PORT [--channel]

Allocates (relayed address of the server's family), creates a permission for --peer (and with
--channel binds channel 0x4000 to it), prints "relayed ADDR PORT" on stdout, then counts every
ChannelData / Data indication that arrives. On SIGTERM: deletes the allocation (Refresh
lifetime 0, best effort) and prints one JSON object {"received": N, "deleted": bool}.
Standard library only.
"""
import argparse
import json
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--local", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--channel", action="store_true")
    o = ap.parse_args()
    host, _, port = o.peer.rpartition(":")
    peer = (host.strip("[]"), int(port))
    c = tc.TurnClient(o.server, o.port, local=o.local, signer=tc.Signer(*tc.rest_credentials(o.secret, "hold")))
    fam = 6 if ":" in o.server else 4
    relayed = tc.relayed_of(c.allocate((fam,)), fam)
    if c.create_permission([peer]).code != 0:
        sys.exit("alloc_hold: CreatePermission failed")
    if o.channel and c.channel_bind(0x4000, peer).code != 0:
        sys.exit("alloc_hold: ChannelBind failed")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(f"relayed {relayed[0]} {relayed[1]}", flush=True)
    received = 0
    c.sock.settimeout(0.2)
    while not stop:
        try:
            c.sock.recv(65535)
            received += 1
        except (socket.timeout, InterruptedError, ConnectionRefusedError):
            continue
    # Drain what is queued (not counted: the flood is over), then delete.
    c.sock.setblocking(False)
    try:
        while True:
            c.sock.recv(65535)
    except (BlockingIOError, ConnectionRefusedError):
        pass
    c.sock.setblocking(True)
    deleted = False
    try:
        deleted = c.refresh(0).code == 0
    except tc.TurnError:
        pass
    print(json.dumps({"received": received, "deleted": deleted}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
