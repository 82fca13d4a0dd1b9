#!/usr/bin/env python3
"""A TURN client session for the integration tests, driven from the command line.

  turn_session.py SERVER SECRET allocate                 -> prints the Allocate response code
  turn_session.py SERVER SECRET hold PEER SECONDS [keep] -> allocates (prints "allocated"),
      relays a Send indication to PEER (an echo server) every 0.1 s for SECONDS, counting the
      echoes; prints "sent N received M"; deletes the allocation at the end unless "keep"
SERVER and PEER are host:port (IPv6 as [addr]:port). Uses tests/soak/turn_client.py."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from turn_client import Signer, TurnClient, TurnError, hostport, rest_credentials  # noqa: E402


def main(argv):
    server, port = hostport(argv[1])
    client = TurnClient(server, port, signer=Signer(*rest_credentials(argv[2], user="it")))
    if argv[3] == "allocate":
        try:
            client.allocate()
            print(0)
        except TurnError as e:  # "Allocate: code N, want 0"
            print(str(e).split("code ")[-1].split(",")[0])
        return 0
    peer, seconds, keep = hostport(argv[4]), float(argv[5]), len(argv) > 6 and argv[6] == "keep"
    client.allocate()
    if client.create_permission([peer]).code != 0:
        print("permission refused")
        return 1
    print("allocated", flush=True)
    sent = received = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.send_indication(peer, b"drain-test-%d" % sent)
        sent += 1
        received += len(client.recv_data(0.1))
    received += len(client.recv_data(0.5))  # late echoes
    if not keep:
        client.refresh(lifetime=0)
    print(f"sent {sent} received {received}", flush=True)
    if keep:
        time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
