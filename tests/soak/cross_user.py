#!/usr/bin/env python3
"""Integrity attacks on one allocation (test_abuse_cross_user.sh).

usage: cross_user.py --server ADDR --secret S --alice NAME:PASS --bob NAME:PASS
                     --peer ADDR:PORT --peer2 ADDR:PORT

--peer and --peer2 are echo servers (turnutils_peer). Alice allocates from one socket, with a
permission and channel 0x4000 to --peer; data must echo back through the relay at every step.
From the same socket (the same 5-tuple, so the same allocation):
  - Bob, with his own valid credentials (static user, and a REST API user), tries Refresh,
    Refresh with LIFETIME 0, CreatePermission for --peer2, ChannelBind: 441 each, and the
    responses carry a MESSAGE-INTEGRITY made with Bob's key (he was authenticated, just not as
    the owner). His Allocate gets 437. Afterwards nothing of his took effect: the allocation
    lives, there is no permission for --peer2 (a Send indication to it is not relayed), and his
    channel number is not bound.
  - Alice's REST-API twin (a username "<expiry>:alice", another user) gets 441 too.
  - A request naming Alice but signed with Bob's key, or with a wrong realm, gets 401.
  - Alice's own requests with attributes after MESSAGE-INTEGRITY: a Refresh with a LIFETIME 0
    after it is a plain refresh (success, non-zero lifetime, the allocation lives on); a
    CreatePermission whose only XOR-PEER-ADDRESS is after it gets 400, and one with --peer2
    after it installs nothing for --peer2; a USERNAME of Bob's after it changes nothing.
  - Finally Alice deletes the allocation; Bob's Refresh then gets 437.
Prints one line per check; exit 1 if any failed.
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402

check = tc.Checks()



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=3478)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--alice", required=True)
    ap.add_argument("--bob", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--peer2", required=True)
    o = ap.parse_args()
    peer, peer2 = tc.hostport(o.peer), tc.hostport(o.peer2)
    alice = tc.Signer(*o.alice.split(":", 1))
    bob = tc.Signer(*o.bob.split(":", 1))
    rest_alice = tc.Signer(*tc.rest_credentials(o.secret, alice.username))
    rest_bob = tc.Signer(*tc.rest_credentials(o.secret, bob.username))
    fam = 6 if ":" in o.server else 4

    c = tc.TurnClient(o.server, o.port, signer=alice)
    relayed = c.allocate((fam,))
    check(bool(relayed), f"IPv{fam}: Alice allocated {relayed}")
    check(c.create_permission([peer]).code == 0, f"Alice: CreatePermission {peer}")
    check(c.channel_bind(0x4000, peer).code == 0, "Alice: ChannelBind 0x4000")

    seq = [0]

    def echo_ok(what):
        seq[0] += 1
        p = f"echo {seq[0]}".encode()
        c.send_channel(0x4000, p)
        got = c.recv_data(3.0, lambda l: any(d[1] == p for d in l))
        check(any(d[1] == p for d in got), f"data still relayed ({what})")

    echo_ok("before")

    def as_(signer, what, method, want, **kw):
        r = method(signer=signer, **kw)
        check(r.code == want, f"{what}: {r.code} (want {want})")
        return r

    for name, s in (("Bob (static user)", bob), ("Bob (REST API user)", rest_bob),
                    ("Alice's REST API twin (another username)", rest_alice)):
        r = as_(s, f"{name}: Refresh", c.refresh, 441)
        check(tc.check_integrity(r.data, s.key), f"{name}: the 441 is signed with his own key")
        as_(s, f"{name}: Refresh LIFETIME 0", c.refresh, 441, lifetime=0)
        as_(s, f"{name}: CreatePermission {peer2}", c.create_permission, 441, peers=[peer2])
        as_(s, f"{name}: ChannelBind 0x4001 to {peer2}", c.channel_bind, 441, number=0x4001,
            peer=peer2)
        r = c.request(tc.ALLOCATE, [(tc.A_REQ_TRANSPORT, tc.u32(17 << 24))], signer=s)
        check(r.code == 437, f"{name}: Allocate on the same 5-tuple: {r.code} (want 437)")
        echo_ok(f"after {name}")

    # Alice's name with somebody else's key, or a wrong realm: not authenticated at all.
    r = c.refresh(lifetime=0, key=bob.key)
    check(r.code == 401, f"Refresh LIFETIME 0 naming Alice, signed with Bob's key: {r.code} (want 401)")
    wrong = tc.Signer(alice.username, alice.password, realm="not-" + alice.realm)
    wrong.nonce = alice.nonce
    r = c.refresh(lifetime=0, signer=wrong)
    check(r.code == 401, f"Refresh LIFETIME 0 with a wrong realm: {r.code} (want 401)")
    echo_ok("after the forged requests")

    # Attributes after MESSAGE-INTEGRITY are ignored.
    r = c.refresh(after_mi=[(tc.A_LIFETIME, tc.u32(0))])
    life = r.get(tc.A_LIFETIME)
    life = struct.unpack("!I", life)[0] if life else None
    check(r.code == 0 and life and life > 0,
          f"Refresh with LIFETIME 0 after the integrity: code {r.code}, lifetime {life} (want success, > 0)")
    r = c.refresh(lifetime=300, after_mi=[(tc.A_LIFETIME, tc.u32(0))])
    life = r.get(tc.A_LIFETIME)
    life = struct.unpack("!I", life)[0] if life else None
    check(r.code == 0 and life and life > 0,
          f"Refresh LIFETIME 300 + LIFETIME 0 after the integrity: code {r.code}, lifetime {life}")
    r = c.refresh(after_mi=[(tc.ATTR_USERNAME, bob.username.encode())])
    check(r.code == 0 and tc.check_integrity(r.data, alice.key),
          f"Refresh with Bob's USERNAME after the integrity: {r.code}, signed with Alice's key")
    echo_ok("after the attributes after the integrity")
    tid = os.urandom(12)
    r = c.request(tc.CREATE_PERMISSION, [], tid=tid,
                  after_mi=[(tc.A_XOR_PEER, tc.xor_addr_value(peer2[0], peer2[1], tid))])
    check(r.code == 400, f"CreatePermission with its only peer after the integrity: {r.code} (want 400)")
    tid = os.urandom(12)
    r = c.request(tc.CREATE_PERMISSION, [(tc.A_XOR_PEER, tc.xor_addr_value(peer[0], peer[1], tid))],
                  tid=tid, after_mi=[(tc.A_XOR_PEER, tc.xor_addr_value(peer2[0], peer2[1], tid))])
    check(r.code == 0, f"CreatePermission {peer} + {peer2} after the integrity: {r.code} (want 0)")

    # Nothing of the above gave --peer2 a permission: a Send indication to it is not relayed.
    c.send_indication(peer2, b"no permission")
    got = c.recv_data(1.5, lambda l: any(d[1] == b"no permission" for d in l))
    check(not any(d[1] == b"no permission" for d in got), f"no permission for {peer2}: not relayed")
    # Bob's channel 0x4001 was not bound: Alice can bind another number to that peer (a peer
    # bound to 0x4001 could not be).
    check(c.channel_bind(0x4002, peer2).code == 0, f"Alice: ChannelBind 0x4002 to {peer2} (0x4001 was never bound)")
    p = b"now permitted"
    c.send_indication(peer2, p)
    got = c.recv_data(3.0, lambda l: any(d[1] == p for d in l))
    check(any(d[1] == p for d in got), f"control: with Alice's own permission {peer2} echoes")

    check(c.refresh(lifetime=0).code == 0, "Alice: Refresh LIFETIME 0 deletes")
    r = c.refresh(signer=bob)
    check(r.code == 437, f"Bob: Refresh after the deletion: {r.code} (want 437)")
    c.close()
    return check.finish()


if __name__ == "__main__":
    tc.run_checks(main)
