#!/usr/bin/env python3
"""Tiny STUN (RFC 8489) helpers, and a Binding client for the integration tests.

usage: stun_binding.py HOST PORT [TRIES] [TIMEOUT_S]

Sends a Binding request to HOST:PORT and succeeds (exit 0) only on a Binding
success response with our transaction ID whose XOR-MAPPED-ADDRESS equals the
address and port this socket sends from (there is no NAT in the test topology).
A FINGERPRINT, if present, must be right. Retransmits the same request up to
TRIES times (default 5), waiting TIMEOUT_S (default 1) for each. Exit 1 on failure.

junk.py imports the encoding helpers from here. Standard library only.
"""
import ipaddress
import os
import socket
import struct
import sys
import zlib

MAGIC = 0x2112A442
FINGERPRINT_XOR = 0x5354554E

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101

ATTR_MAPPED_ADDRESS = 0x0001
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_FINGERPRINT = 0x8028


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def attr(atype, value, length=None):
    """One TLV attribute, zero-padded to 4 bytes; `length` may lie on purpose."""
    n = len(value) if length is None else length
    return struct.pack("!HH", atype, n) + value + b"\0" * (-len(value) % 4)


def message(mtype, attrs=b"", tid=None, length=None, cookie=MAGIC):
    """A STUN message; `length` and `cookie` may lie on purpose."""
    tid = os.urandom(12) if tid is None else tid
    n = len(attrs) if length is None else length
    return struct.pack("!HHI", mtype, n, cookie) + tid + attrs


def with_fingerprint(msg):
    """Append a correct FINGERPRINT (CRC-32 over the message with its length fixed up)."""
    body = msg[:2] + struct.pack("!H", len(msg) - 20 + 8) + msg[4:]
    crc = (zlib.crc32(body) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
    return body + attr(ATTR_FINGERPRINT, struct.pack("!I", crc))


def parse(data):
    """(type, tid, [(atype, value)...]) of a well-formed STUN message; ValueError otherwise."""
    if len(data) < 20:
        raise ValueError("shorter than a STUN header")
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    if mtype & 0xC000 or cookie != MAGIC:
        raise ValueError("not a STUN message")
    if length % 4 or 20 + length != len(data):
        raise ValueError(f"length field {length} does not match datagram of {len(data)}")
    attrs, off = [], 20
    while off < len(data):
        if off + 4 > len(data):
            raise ValueError("truncated attribute header")
        atype, alen = struct.unpack("!HH", data[off:off + 4])
        if off + 4 + alen > len(data):
            raise ValueError(f"attribute 0x{atype:04x} overruns the message")
        attrs.append((atype, data[off + 4:off + 4 + alen]))
        if atype == ATTR_FINGERPRINT:
            want = (zlib.crc32(data[:off]) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
            if alen != 4 or struct.unpack("!I", data[off + 4:off + 8])[0] != want:
                raise ValueError("bad FINGERPRINT")
        off += 4 + alen + (-alen % 4)
    return mtype, data[8:20], attrs


def xor_address(value, tid):
    """Decode an XOR-*-ADDRESS value into (ipaddress, port)."""
    if len(value) < 4:
        raise ValueError("short address attribute")
    fam, xport = struct.unpack("!xBH", value[:4])
    port = xport ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + tid
    if fam == 1 and len(value) == 8:
        raw = bytes(a ^ b for a, b in zip(value[4:8], key[:4]))
    elif fam == 2 and len(value) == 20:
        raw = bytes(a ^ b for a, b in zip(value[4:20], key))
    else:
        raise ValueError(f"bad address family {fam} / length {len(value)}")
    return ipaddress.ip_address(raw), port


def error_code(attrs):
    for atype, value in attrs:
        if atype == ATTR_ERROR_CODE and len(value) >= 4:
            return (value[2] & 7) * 100 + value[3]
    return None


def binding(host, port, tries=5, timeout=1.0):
    """Return None on success, else a reason string."""
    sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
    try:
        sock.connect((host, port))
        local = sock.getsockname()
        me = (ipaddress.ip_address(local[0]), local[1])
        tid = os.urandom(12)
        req = with_fingerprint(message(BINDING_REQUEST, tid=tid))
        sock.settimeout(timeout)
        reason = "no response"
        for _ in range(tries):
            sock.send(req)
            try:
                while True:
                    data = sock.recv(65535)
                    try:
                        mtype, rtid, attrs = parse(data)
                    except ValueError as e:
                        reason = f"malformed response: {e}"
                        continue
                    if rtid != tid:
                        continue  # a stray answer to something else
                    if mtype != BINDING_SUCCESS:
                        return f"response type 0x{mtype:04x} (error {error_code(attrs)}), want 0x0101"
                    mapped = [v for t, v in attrs if t == ATTR_XOR_MAPPED_ADDRESS]
                    if not mapped:
                        return "no XOR-MAPPED-ADDRESS in the Binding response"
                    got = xor_address(mapped[0], tid)
                    if got != me:
                        return f"XOR-MAPPED-ADDRESS {got[0]}:{got[1]} != sender {me[0]}:{me[1]}"
                    return None
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                reason = "ICMP port unreachable (nobody listening)"
                continue
        return reason
    finally:
        sock.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    tries = int(argv[3]) if len(argv) > 3 else 5
    timeout = float(argv[4]) if len(argv) > 4 else 1.0
    reason = binding(host, port, tries, timeout)
    if reason:
        print(f"stun_binding: {host} port {port}: FAIL: {reason}", file=sys.stderr)
        return 1
    print(f"stun_binding: {host} port {port}: Binding OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
