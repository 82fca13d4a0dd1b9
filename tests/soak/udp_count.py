#!/usr/bin/env python3
"""Counts the UDP datagrams arriving on some addresses until SIGTERM (or --seconds), then
prints one JSON object {"ADDR:PORT": count, ..., "total": n} and exits 0.

usage: udp_count.py ADDR:PORT [ADDR:PORT ...] [--seconds S]   (IPv6 as [ADDR]:PORT)

Standard library only. Used by the abuse tests to prove that nothing reached an address.
"""
import json
import select
import signal
import socket
import sys
import time


def main(argv):
    seconds = 0.0
    if "--seconds" in argv:
        i = argv.index("--seconds")
        seconds = float(argv[i + 1])
        del argv[i:i + 2]
    socks = {}
    for spec in argv[1:]:
        if spec.startswith("["):
            host, _, port = spec[1:].partition("]:")
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        else:
            host, _, port = spec.rpartition(":")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
        socks[s.fileno()] = (spec, s)
    counts = {spec: 0 for spec, _ in socks.values()}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("ready", file=sys.stderr, flush=True)
    end = time.monotonic() + seconds if seconds else None
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    while not stop and (end is None or time.monotonic() < end):
        try:
            events = poller.poll(100)
        except InterruptedError:
            continue
        for fd, _ in events:
            spec, s = socks[fd]
            while True:
                try:
                    s.recv(65535, socket.MSG_DONTWAIT)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                counts[spec] += 1
    counts["total"] = sum(counts.values())
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
