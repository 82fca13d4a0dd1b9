#!/usr/bin/env python3
"""TLS checks against xturn's --tls-listen port, driven step by step from a test script.

usage: tls_check.py HOST PORT CMD...
  hold FIFO_IN FIFO_OUT   keep one TLS connection open; for each line "binding" read from
                          FIFO_IN, send a Binding request on it and write "ok" or "fail" to
                          FIFO_OUT; "quit" ends
  cert                    print the PEM certificate a new connection is shown
  alpn PROTO|-            connect offering ALPN PROTO (or none: -); print what was selected
                          ("none" when nothing), after a Binding request answered over it
Exit 1 on any failure. Standard library only; the certificate is not verified (self-signed).
"""
import socket
import ssl
import struct
import sys

from stun_binding import BINDING_REQUEST, BINDING_SUCCESS, family_of, message, parse

HOST, PORT = sys.argv[1], int(sys.argv[2])


def connect(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection((HOST, PORT), timeout=5)
    return ctx.wrap_socket(raw)


def binding(s):
    req = message(BINDING_REQUEST)
    s.sendall(req)
    buf = b""
    while len(buf) < 20 or len(buf) < 20 + struct.unpack("!H", buf[2:4])[0]:
        chunk = s.recv(4096)
        if not chunk:
            return False
        buf += chunk
    return parse(buf)[0] == BINDING_SUCCESS and buf[8:20] == req[8:20]


cmd = sys.argv[3]
if cmd == "cert":
    s = connect()
    print(ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True)).strip())
    s.close()
elif cmd == "alpn":
    s = connect(None if sys.argv[4] == "-" else sys.argv[4])
    if not binding(s):
        sys.exit("no Binding response over TLS")
    print(s.selected_alpn_protocol() or "none")
    s.close()
elif cmd == "hold":
    s = connect()
    with open(sys.argv[4]) as fin, open(sys.argv[5], "w") as fout:
        for line in fin:
            if line.strip() == "quit":
                break
            fout.write("ok\n" if binding(s) else "fail\n")
            fout.flush()
    s.close()
else:
    sys.exit("unknown command " + cmd)
