#!/usr/bin/env python3
"""A TURN client session for the integration tests, driven from the command line.

  turn_session.py SERVER SECRET allocate                 -> prints the Allocate response code
  turn_session.py SERVER SECRET relayed                  -> a dual allocation's relayed
      addresses, "IP PORT" a line
  turn_session.py SERVER SECRET hold PEER SECONDS [keep] -> allocates (prints "allocated"),
      relays a Send indication to PEER (an echo server) every 0.1 s for SECONDS, counting the
      echoes; prints "sent N received M"; deletes the allocation at the end unless "keep"
  turn_session.py SERVER SECRET channel PEER SECONDS RATE -> allocates, binds channel 0x4000 to
      PEER (prints "bound"), then sends RATE ChannelData datagrams a second to it for SECONDS,
      printing "sent N" every 0.5 s, whether or not the server is still there
  turn_session.py SERVER SECRET requests PEER SECONDS -> allocates (prints "allocated"), then
      sends Refresh, CreatePermission and ChannelBind (rebinding channel 0x4000) in turn for
      SECONDS, one every 0.05 s, retransmitting; deletes the allocation; prints "requests N
      failed M" (the codes of the failures follow)
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
    if argv[3] == "relayed":
        for ip, port in client.allocate(families=(4, 6)):
            print(ip, port)
        client.refresh(lifetime=0)
        return 0
    if argv[3] == "channel":
        return channel(client, hostport(argv[4]), float(argv[5]), float(argv[6]))
    if argv[3] == "requests":
        return requests(client, hostport(argv[4]), float(argv[5]))
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


def channel(client, peer, seconds, rate):
    client.allocate()
    if client.create_permission([peer]).code != 0 or client.channel_bind(0x4000, peer).code != 0:
        print("permission or channel refused")
        return 1
    print("bound", flush=True)
    sent = 0
    start = time.monotonic()
    next_report = start
    while (now := time.monotonic()) < start + seconds:
        if now >= next_report:
            print(f"sent {sent}", flush=True)
            next_report += 0.5
        try:
            client.send_channel(0x4000, b"channel-test-%d" % sent)
        except ConnectionRefusedError:  # the ICMP error of an earlier datagram: no server
            pass
        sent += 1
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    print(f"sent {sent}", flush=True)
    return 0


def requests(client, peer, seconds):
    client.allocate()
    print("allocated", flush=True)
    calls = (lambda: client.refresh(lifetime=600), lambda: client.create_permission([peer]),
             lambda: client.channel_bind(0x4000, peer))
    done, failed = 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            code = calls[done % 3]().code
        except TurnError as e:
            code = str(e)
        if code != 0:
            failed.append(code)
        done += 1
        time.sleep(0.05)
    client.refresh(lifetime=0)  # its 5-tuple free for whoever gets the port next
    print(f"requests {done} failed {len(failed)} {failed[:5]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
