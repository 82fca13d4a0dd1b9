#!/usr/bin/env python3
"""Bad input on TURN-over-TCP connections: each case opens a connection, does one thing, and
checks what the relay does (answers, or closes the connection) within a bounded time.

usage: stream_junk.py HOST PORT FIRST_MESSAGE_TIMEOUT_S [TLS_PORT]

With TLS_PORT, also the cases of a --tls-listen port: a TLS record other than a handshake
first, a handshake never finished, and plain TURN on that port.

Exit 0 when every case behaved, 1 with the failing case on stderr. Standard library only.
"""
import socket
import struct
import sys
import time

from stun_binding import BINDING_REQUEST, BINDING_SUCCESS, MAGIC, family_of, message, parse

HOST, PORT, FIRST_S = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
TLS_PORT = int(sys.argv[4]) if len(sys.argv) > 4 else None


def connect(port=PORT):
    s = socket.socket(family_of(HOST), socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((HOST, port))
    return s


def closed_within(s, seconds):
    """True when the relay closes the connection (EOF or reset) within seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


PENDING = {}  # socket -> bytes received past the last message read


def read_message(s, seconds=5):
    """One whole STUN message from the stream, or None."""
    buf = PENDING.pop(s, b"")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if len(buf) >= 20:
            total = 20 + struct.unpack("!H", buf[2:4])[0]
            if len(buf) >= total:
                PENDING[s] = buf[total:]
                return buf[:total]
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None
        if not chunk:
            return None
        buf += chunk
    return None


def binding_ok(s):
    req = message(BINDING_REQUEST)
    s.sendall(req)
    resp = read_message(s)
    return resp is not None and parse(resp)[0] == BINDING_SUCCESS and resp[8:20] == req[8:20]


def check(name, ok):
    if not ok:
        sys.stderr.write("FAIL: %s\n" % name)
        sys.exit(1)
    print("ok: %s" % name)


def case_closed(name, data, seconds=3, port=PORT):
    s = connect(port)
    s.sendall(data)
    check(name, closed_within(s, seconds))
    s.close()


# Malformed first messages: the connection closes at once.
case_closed("STUN length not a multiple of 4", message(BINDING_REQUEST, length=6))
case_closed("garbage before the first message", b"\x80garbage-garbage-garbage")
case_closed("STUN without the magic cookie", message(BINDING_REQUEST, cookie=0x01020304))
case_closed("a TLS ClientHello on the plain TCP port", b"\x16\x03\x01\x00\x05hello")

# Well-formed traffic still works, however it is cut.
s = connect()
check("Binding over TCP", binding_ok(s))
req = message(BINDING_REQUEST)
for b in req:
    s.send(bytes([b]))
    time.sleep(0.002)
resp = read_message(s)
check("Binding request sent a byte at a time", resp is not None and resp[8:20] == req[8:20])
two = message(BINDING_REQUEST) + message(BINDING_REQUEST)
s.sendall(two)
check("two requests in one write", read_message(s) is not None and read_message(s) is not None)
# ChannelData on no channel, unpadded (5 bytes) and then padded (5 + 3): dropped by the core,
# but the framing stays right, so the Binding after each is still answered.
s.sendall(struct.pack("!HH", 0x4001, 5) + b"hello")
check("Binding after unpadded ChannelData", binding_ok(s))
s.sendall(struct.pack("!HH", 0x4001, 5) + b"hello\0\0\0")
check("Binding after padded ChannelData", binding_ok(s))
# Garbage after good messages closes the connection too.
s.sendall(b"\xff\xff\xff\xff")
check("garbage after valid messages", closed_within(s, 3))
s.close()

# A frame announcing 65532 bytes that never completes, and a connection that says nothing:
# both closed by the first-message timeout.
s = connect()
s.sendall(struct.pack("!HHI", BINDING_REQUEST, 65532, MAGIC) + b"\0" * 12 + b"x" * 30000)
idle = connect()
check("incomplete 65532-byte message closed", closed_within(s, FIRST_S + 3))
check("silent connection closed", closed_within(idle, 1.5))
s.close()
idle.close()
if TLS_PORT:
    case_closed("TLS application data before a handshake", b"\x17\x03\x03\x00\x05hello",
                port=TLS_PORT)
    case_closed("TLS alert before a handshake", b"\x15\x03\x03\x00\x02\x02\x28", port=TLS_PORT)
    case_closed("garbage on the TLS port", b"\x80garbage-garbage", port=TLS_PORT)
    s = connect(TLS_PORT)
    check("plain Binding on the TLS port", binding_ok(s))
    s.close()
    # Half a ClientHello: the record header announces 512 bytes, 100 come.
    s = connect(TLS_PORT)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 89)
    check("half a TLS handshake closed", closed_within(s, FIRST_S + 3))
    s.close()
print("all stream cases passed")
