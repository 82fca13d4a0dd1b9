#!/usr/bin/env python3
"""Large datagrams through a TURN relay, for tests/integration/test_large_datagrams.sh.

  large_datagrams.py echo PORT ADDR...
      a UDP echo server on ADDR:PORT for every ADDR (the peer); prints "ready" once bound
  large_datagrams.py client SERVER SECRET CHANNEL_PEER INDICATION_PEER SIZE...
      allocates on SERVER (host:port; the relayed address of the server's family), binds a
      channel to CHANNEL_PEER, and for every SIZE sends a random payload of that many bytes in
      ChannelData to CHANNEL_PEER and in a Send indication to INDICATION_PEER (one without a
      channel, so its echo comes back in a Data indication); each echo must come back whole, by
      the same way. One "ok"/"FAIL" line per check, then "N failed"; exit status 1 on failures.
Peers are host:port, IPv6 as [addr]:port. Uses tests/soak/turn_client.py."""
import os
import select
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from turn_client import Checks, Signer, TurnClient, hostport, rest_credentials  # noqa: E402

CHANNEL = 0x4001
TRIES = 3  # a lost fragment loses the whole datagram: resend before calling it lost


def echo(port, addrs):
    socks = []
    for a in addrs:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((a, port))
        socks.append(s)
    print("ready", flush=True)
    while True:
        for s in select.select(socks, [], [])[0]:
            data, src = s.recvfrom(65535)
            s.sendto(data, src)


def came_back(got, via, payload, want):
    """got (origin, data, way) is payload relayed back the way it went, from where it went."""
    origin, data, way = got
    if way != via or data != payload:
        return False
    return origin == want if via == "channel" else (str(origin[0]), origin[1]) == want


def client(server, secret, channel_peer, indication_peer, sizes):
    check = Checks()
    host, port = hostport(server)
    c = TurnClient(host, port, signer=Signer(*rest_credentials(secret, user="it")))
    fam = 6 if ":" in host else 4
    c.allocate(families=(fam,))
    check(c.create_permission([channel_peer]).code == 0, f"IPv{fam}: permission")
    check(c.channel_bind(CHANNEL, channel_peer).code == 0, f"IPv{fam}: channel bound")
    for size in sizes:
        for via in ("channel", "indication"):
            payload = os.urandom(size)
            want = CHANNEL if via == "channel" else indication_peer
            got = []
            for _ in range(TRIES):
                if via == "channel":
                    c.send_channel(CHANNEL, payload)
                else:
                    c.send_indication(indication_peer, payload)
                got = c.recv_data(2, until=lambda out: len(out) > 0)
                if got:
                    break
            whole = [g for g in got if came_back(g, via, payload, want)]
            check(got and len(whole) == len(got),
                  f"IPv{fam}: {size} bytes by {via} to the peer and back whole "
                  f"(got {[(g[2], len(g[1])) for g in got]})")
    c.refresh(lifetime=0)
    return check.finish()


def main(argv):
    if argv[1] == "echo":
        echo(int(argv[2]), argv[3:])
        return 0
    return client(argv[2], argv[3], hostport(argv[4]), hostport(argv[5]),
                  [int(s) for s in argv[6:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
