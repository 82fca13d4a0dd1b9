#!/usr/bin/env bash
# Headless Chromium as the TURN client (WebRTC, iceTransportPolicy "relay"): two RTCPeerConnections
# in one page (webrtc_relay.html, signalling in-page) connect through turn:RELAY:3478?transport=tcp
# and turns:RELAY:5349?transport=tcp (self-signed certificate), RELAY being the relay's IPv4 and
# its IPv6 address: four cases in one Chromium launch, driven over the DevTools pipe
# (chromium_page.py). In each case 50 data-channel messages go each way and all must arrive, in
# order; getStats' selected candidate pair must be relay at both ends on both connections, with
# the local candidate's relayProtocol tcp or tls and its url the case's server. xturn must log
# allocations with transport tcp and tls from the client's IPv4 and IPv6 addresses. Chromium runs
# in the client namespace with name resolution off, and a capture there checks that it sent
# nothing outside the test networks.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TLS_PORT=5349
MESSAGES=50
MESSAGE_BYTES=200
# The binary itself: Debian's /usr/bin/chromium wrapper adds flags (extensions) we do not want.
CHROMIUM=/usr/lib/chromium/chromium
[ -x "$CHROMIUM" ] || CHROMIUM=$(command -v chromium) ||
    fail "chromium is not installed (scripts/install-deps.sh)"

topo_up
make_cert
start_xturn --tls-listen "$XT_RELAY4:$TLS_PORT" --tls-listen "[$XT_RELAY6]:$TLS_PORT" \
    --tls-cert "$XT_CERT" --tls-key "$XT_KEY"

# TURN REST API credentials: username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
username="$(($(date +%s) + 3600)):$XT_USER"
credential=$(printf '%s' "$username" | openssl dgst -sha1 -hmac "$XT_SECRET" -binary | base64)

page="$XT_TMP/page"
mkdir -p "$page"
cp "$XT_DIR/webrtc_relay.html" "$page/"
cat >"$page/config.js" <<EOF
const XT_CONFIG = {
    username: "$username",
    credential: "$credential",
    messages: $MESSAGES,
    messageBytes: $MESSAGE_BYTES,
    caseMs: 8000,
    cases: [
        { name: "tcp-ipv4", url: "turn:$XT_RELAY4:$XT_PORT?transport=tcp" },
        { name: "tls-ipv4", url: "turns:$XT_RELAY4:$TLS_PORT?transport=tcp" },
        { name: "tcp-ipv6", url: "turn:[$XT_RELAY6]:$XT_PORT?transport=tcp" },
        { name: "tls-ipv6", url: "turns:[$XT_RELAY6]:$TLS_PORT?transport=tcp" },
    ],
};
EOF

chromium_flags=(
    --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage
    --ignore-certificate-errors
    # Every name resolves to nothing (no DNS query leaves), but Chromium's TURN TCP sockets ask
    # the resolver even for an IP literal, so the relay's addresses are excluded (an IPv6 one
    # without brackets: "EXCLUDE [2001:db8:3::2]" does not match it).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE $XT_RELAY4, EXCLUDE $XT_RELAY6"
    --disable-background-networking --disable-component-update --disable-sync
    --disable-default-apps --no-first-run --no-default-browser-check
    "--disable-features=MediaRouter,OptimizationHints,Translate,WebRtcHideLocalIpsWithMdns"
)

# Whatever leaves the client namespace for anything but the test networks (and IPv6 link-local
# and multicast: neighbour discovery) is caught here; the test wants none of it.
stray="$XT_TMP/stray.pcap"
ip netns exec "$XT_NS_CLIENT" tcpdump -i "xt${XT_ID}c0" -nn -U -w "$stray" \
    '(ip and not dst net 198.18.0.0/15) or (ip6 and not dst net 2001:db8::/32 and not dst net fe80::/10 and not dst net ff00::/8)' \
    >"$XT_TMP/stray.tcpdump.log" 2>&1 </dev/null &
stray_pid=$!
XT_PIDS+=("$stray_pid")
for _ in $(seq 1 50); do
    grep -q 'listening on' "$XT_TMP/stray.tcpdump.log" && break
    sleep 0.1
done
grep -q 'listening on' "$XT_TMP/stray.tcpdump.log" || fail "tcpdump in the client namespace did not start"

result="$XT_TMP/result.json"
log "$("$CHROMIUM" --version 2>/dev/null | xargs) in the client namespace"
rc=0
# TMPDIR: Chromium's profile and temporary files go to the test's directory.
ns_run "$XT_NS_CLIENT" 50 "$result" env TMPDIR="$XT_TMP" python3 "$XT_DIR/chromium_page.py" "$CHROMIUM" \
    "$page/webrtc_relay.html" 40 "$XT_TMP/chromium.log" "${chromium_flags[@]}" || rc=$?
xt_kill "$stray_pid"
[ "$rc" -eq 0 ] || fail "chromium_page.py exited with status $rc: $(tail -n 3 "$result");" \
    "page log: $(grep -F '[xt]' "$XT_TMP/chromium.log" | tail -n 8)"

# Every case passed, with relay candidates over the right protocol at both ends.
python3 - "$result" "$MESSAGES" "$MESSAGE_BYTES" <<'EOF' || fail "Chromium's results (in $result): see above"
import json, sys
cases = json.loads([l for l in open(sys.argv[1]) if l.startswith("[")][-1])
count, size = int(sys.argv[2]), int(sys.argv[3])
failed = len(cases) != 4
for c in cases:
    name, proto = c["name"], "tls" if c.get("url", "").startswith("turns:") else "tcp"
    bad = [] if c.get("ok") else [f"{c.get('error', 'not ok')}, received {c.get('received')}"]
    for side in ("pc1", "pc2") if not bad else ():
        if c["received"][side] != count or not c["inOrder"][side]:
            bad.append(f"{side} received {c['received'][side]} of {count}, "
                       f"in order: {c['inOrder'][side]}")
        p = c["pair"][side]
        loc, rem = p.get("local", {}), p.get("remote", {})
        # The transport's selected pair; "in-progress" while a consent check is in flight.
        if p.get("state") not in ("succeeded", "in-progress") or not p.get("nominated") or \
                min(p.get("bytesSent", 0), p.get("bytesReceived", 0)) < count * size or \
                loc.get("candidateType") != "relay" or rem.get("candidateType") != "relay" or \
                loc.get("relayProtocol") != proto or loc.get("url") != c["url"]:
            bad.append(f"{side}'s selected pair is not relay/{proto}: {json.dumps(p)}")
    if bad:
        failed = True
        print(f"{name}: " + "; ".join(bad), file=sys.stderr)
    else:
        l = c["pair"]["pc1"]["local"]
        print(f"{name}: {count} messages each way in order; selected pair relay "
              f"{l['address']}:{l['port']} ({l['relayProtocol']}) <-> relay")
sys.exit(1 if failed else 0)
EOF

# The allocations behind them: two per case (one per peer connection), from the client's address.
for t in "tcp $XT_CLIENT4" "tls $XT_CLIENT4" "tcp [$XT_CLIENT6]" "tls [$XT_CLIENT6]"; do
    read -r proto from <<<"$t"
    n=$(grep -F '"message":"allocation created"' "$XT_LOG" | grep -F "\"client\":\"$from:" |
        grep -cF "\"transport\":\"$proto\"" || true)
    [ "$n" -ge 2 ] || fail "$n allocations logged with transport $proto from $from, expected 2 or more"
done
log "allocations logged: transport tcp and tls, from $XT_CLIENT4 and $XT_CLIENT6"

stray_n=$(tcpdump -nn -r "$stray" 2>/dev/null | wc -l)
[ "$stray_n" -eq 0 ] || fail "Chromium sent $stray_n packets outside the test networks:" \
    "$(tcpdump -nn -r "$stray" 2>/dev/null | head -n 5)"

daemon_alive || fail "daemon died during the run"
stop_xturn
pass
