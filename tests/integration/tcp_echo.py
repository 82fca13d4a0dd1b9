#!/usr/bin/env python3
"""A TCP echo server for the TCP allocation tests (RFC 6062): the peer the relay connects to.

usage: tcp_echo.py LOG HOST:PORT...

Listens on every HOST:PORT ([v6]:port for IPv6) and echoes each connection's bytes back as
they come; when a connection ends its sending side, the echo ends too (shutdown), so half-closed
connections are echoed to the end. Every accepted connection is appended to LOG as one line
"accepted HOST PORT" (the relay's address it came from), flushed at once. Standard library only.
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from turn_client import hostport  # noqa: E402


def echo(conn):
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(data)
        except OSError:
            return


def serve(listener, log, lock):
    while True:
        conn, addr = listener.accept()
        with lock:
            log.write(f"accepted {addr[0]} {addr[1]}\n")
            log.flush()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def main(argv):
    log = open(argv[1], "a", encoding="utf-8")
    lock = threading.Lock()
    threads = []
    for a in argv[2:]:
        host, port = hostport(a)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(64)
        t = threading.Thread(target=serve, args=(s, log, lock), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
