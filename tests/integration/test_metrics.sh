#!/usr/bin/env bash
# The metrics endpoint (--metrics) of a relay with XDP: /metrics is scraped before and after
# turnutils_uclient runs and its text parsed strictly (HELP/TYPE once per family, samples
# together, counters named *_total, no series twice; and by promtool when installed); the
# counters move where the traffic went: ChannelData in XDP (same family and cross-family,
# labelled by client and peer family, equal to `xturn stats`), Send indications in userspace
# (passed up by XDP as no_peer), responses by method and code, authentication failures; the live
# gauges while an allocation holds; /healthz is 200, then 503 while draining; 404 and 405 else.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

MPORT=9641
MURL="http://127.0.0.1:$MPORT" # the relay namespace's loopback: private, as it should be
PROM="$XT_TMP/prom.py"

cat >"$PROM" <<'EOF'
"""prom.py URL N FROM [SECONDS] < CHECKS

Scrapes URL/metrics into scrape.N (text in scrape.N.txt, parsed series in scrape.N as JSON,
in the current directory), checks the text strictly, then the CHECKS, one a line:
  value COND... NAME [label=value ...]   the sum of the matching series of scrape N
  delta COND... NAME [label=value ...]   ... minus that of scrape FROM (missing there: 0,
                                         as xturn writes error responses once they occurred)
  http METHOD PATH CODE [BODY]           one request besides /metrics
COND is like >=190, <=200, ==0, >0; ==@NAME compares with the XDP counter NAME of the
`xturn stats` JSON in xdp_stats.json. With SECONDS, scrapes and checks again until all checks
hold or that time is over. One process per step: Python starts slowly on a loaded machine."""
import json, os, re, sys, time, urllib.error, urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(" + NAME + r")(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
       "<": lambda a, b: a < b, ">": lambda a, b: a > b}


class Bad(Exception):
    pass


def request(url, method="GET"):
    last = None
    for _ in range(50):  # the daemon starts its endpoint right after the listen sockets
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()
        except (ConnectionError, urllib.error.URLError) as e:
            last = e
            time.sleep(0.1)
    raise Bad(f"cannot reach {url}: {last}")


def parse(text):
    """The exposition format 0.0.4, as strictly as xturn should write it."""
    types, helps, series, seen, closed = {}, set(), [], set(), set()
    current = None
    if not text.endswith("\n"):
        raise Bad("exposition does not end with a newline")
    for n, line in enumerate(text[:-1].split("\n"), 1):
        def bad(why):
            return Bad(f"exposition line {n}: {why}: {line!r}")
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) != 4 or not re.fullmatch(NAME, parts[2]) or not parts[3]:
                raise bad("bad comment")
            name = parts[2]
            if line[2] == "H":
                if name in helps:
                    raise bad("HELP twice")
                helps.add(name)
                continue
            if name in types or name not in helps or parts[3] not in ("counter", "gauge"):
                raise bad("TYPE twice, without its HELP before, or of an unexpected type")
            if current:
                closed.add(current)
            types[name], current = parts[3], name
            continue
        m = SAMPLE.match(line)
        if not m:
            raise bad("not a sample")
        name, labels, value = m.groups()
        if name != current or name in closed:
            raise bad("sample outside its family's block")
        if types[name] == "counter" and not name.endswith("_total"):
            raise bad("counter not named *_total")
        if not name.startswith("xturn_"):
            raise bad("no xturn_ prefix")
        lab, pos = {}, 0
        while labels is not None and pos < len(labels):
            lm = LABEL.match(labels, pos)
            if not lm or lm.group(1) in lab:
                raise bad("bad or repeated label")
            lab[lm.group(1)] = lm.group(2)
            pos = lm.end()
            if pos < len(labels):
                if labels[pos] != ",":
                    raise bad("bad label separator")
                pos += 1
        try:
            v = float(value)
        except ValueError:
            raise bad("bad value")
        key = (name, tuple(sorted(lab.items())))
        if key in seen:
            raise bad("series twice")
        seen.add(key)
        series.append([name, lab, v])
    if helps != set(types):
        raise Bad(f"HELP without TYPE: {sorted(helps - set(types))}")
    return series


def scrape(url, n):
    code, headers, body = request(url + "/metrics")
    if code != 200:
        raise Bad(f"/metrics answered {code}")
    ctype = headers.get("Content-Type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        raise Bad(f"/metrics Content-Type {ctype!r}")
    series = parse(body)
    open(f"scrape.{n}.txt", "w").write(body)
    json.dump(series, open(f"scrape.{n}", "w"))
    return series


def total(series, name, want):
    """Sum of the series named name whose labels include want; None if there is none."""
    found = [v for n, lab, v in series if n == name and
             all(lab.get(k) == x for k, x in want.items())]
    return sum(found) if found else None


def xdp_stat(name):
    progs = [json.loads(l) for l in open("xdp_stats.json") if l.strip()]
    return max(progs, key=lambda p: p["program_id"])["counters"][name]["packets"]


def check(url, line, s0, s1):
    """Returns (ok, text) for one check line."""
    words = line.split()
    if words[0] == "http":
        method, path, code = words[1], words[2], int(words[3])
        body = " ".join(words[4:]) if len(words) > 4 else None
        c, h, b = request(url + path, method)
        ok = c == code and (body is None or b.strip() == body)
        if ok and code == 405:
            ok = h.get("Allow") == "GET, HEAD"
        if ok and method == "HEAD":
            ok = b == ""
        return ok, f"{method} {path}: {c} {b.strip()[:60]!r}" + ("" if ok else f" (want {code} {body!r})")
    kind, rest, conds = words[0], words[1:], []
    while rest and rest[0][0] in "<>=":
        op = rest[0][:2] if rest[0][:2] in OPS else rest[0][:1]
        arg = rest[0][len(op):]
        conds.append((op, xdp_stat(arg[1:]) if arg.startswith("@") else float(arg)))
        rest = rest[1:]
    name, want = rest[0], dict(w.split("=", 1) for w in rest[1:])
    v1, v0 = total(s1, name, want), total(s0, name, want)
    if v1 is None:
        return False, f"no series {name} {want}"
    v = v1 if kind == "value" else v1 - (v0 or 0)
    ok = all(OPS[op](v, x) for op, x in conds)
    return ok, f"{kind} {' '.join(rest)} = {int(v)}" + (
        "" if ok else " (want " + " ".join(f"{op}{int(x)}" for op, x in conds) + ")")


def main(url, n, frm, seconds=0):
    checks = [l for l in sys.stdin.read().splitlines() if l.strip()]
    end = time.monotonic() + float(seconds)
    while True:
        try:
            s1 = scrape(url, n)
            s0 = s1 if frm == n else json.load(open(f"scrape.{frm}"))
            results = [check(url, c, s0, s1) for c in checks]
        except Bad as e:
            print(f"FAIL {e}")
            return 1
        if all(ok for ok, _ in results) or time.monotonic() >= end:
            break
        time.sleep(0.3)
    print(f"scrape {n}: {len(s1)} series")
    for ok, text in results:
        print(("ok " if ok else "FAIL ") + text)
    return 0 if all(ok for ok, _ in results) else 1


sys.exit(main(*sys.argv[1:]))
EOF

# step N FROM [SECONDS] < CHECKS: scrape N and the checks (see prom.py), logged; fails the test
# on any unmet. Run in the relay namespace. The workers publish their counters once a second:
# what happened until now shows after that, hence the wait.
step() {
    local rc=0
    sleep 1.1
    (cd "$XT_TMP" && ip netns exec "$XT_NS_RELAY" python3 "$PROM" "$MURL" "$@") >"$XT_TMP/step.out" 2>&1 || rc=$?
    while read -r line; do log "$line"; done <"$XT_TMP/step.out"
    [ "$rc" -eq 0 ] || fail "metrics: $(grep -v '^ok' "$XT_TMP/step.out" | tr '\n' ';')"
    if command -v promtool >/dev/null; then
        promtool check metrics <"$XT_TMP/scrape.$1.txt" >"$XT_TMP/promtool.out" 2>&1 ||
            fail "promtool check metrics: $(head -n 5 "$XT_TMP/promtool.out")"
    fi
}

topo_up
xdp_prepare
start_peer
start_xturn --xdp "$XT_RELAY_DEV" --xdp-mode native --metrics "127.0.0.1:$MPORT" --drain-timeout 30

# --- The endpoint: where, and what it serves.
grep -F '"message":"metrics endpoint listening"' "$XT_LOG" | grep -F "127.0.0.1:$MPORT" >/dev/null ||
    fail "no 'metrics endpoint listening' log line with the address"
ns_exec "$XT_NS_RELAY" ss -Htln | awk '{print $4}' | grep -xF "127.0.0.1:$MPORT" >/dev/null ||
    fail "not listening on exactly 127.0.0.1:$MPORT: $(ns_exec "$XT_NS_RELAY" ss -Htln)"
now=$(date +%s)
step 0 0 <<EOF
http GET /healthz 200 ok
http HEAD /healthz 200
http GET /nope 404
http POST /metrics 405
http HEAD /metrics 200
value ==1 xturn_build_info
value <=$now >=$((now - 60)) xturn_process_start_time_seconds
value >=1 xturn_workers
value ==0 xturn_draining
value ==0 xturn_allocations
value ==16384 xturn_relay_ports family=ipv4
value ==16384 xturn_relay_ports family=ipv6
value ==16384 xturn_relay_ports_free family=ipv4
value ==65536 xturn_xdp_map_capacity_bindings
value ==0 xturn_xdp_map_bindings
value >0 xturn_xdp_map_memory_bytes
value ==0 xturn_relayed_packets_total
EOF

# --- ChannelData, IPv4 client to IPv4 peer: relayed in XDP (2 channels x 100 messages), and
# every message one way or the other (userspace relays what XDP passes up for a next hop not
# resolved yet). The XDP series are the kernel's counters, as `xturn stats` shows them.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -e "$XT_PEER4" "$XT_RELAY4"
ns_exec "$XT_NS_RELAY" "$XTURN" stats --interface "$XT_RELAY_DEV" >"$XT_TMP/xdp_stats.json" ||
    fail "xturn stats failed"
step 1 0 5 <<EOF
delta >=190 <=200 xturn_relayed_packets_total path=xdp direction=to_peer client_family=ipv4 peer_family=ipv4
delta >=190 <=200 xturn_relayed_packets_total path=xdp direction=to_client client_family=ipv4 peer_family=ipv4
delta >=$((190 * 120)) <=$((200 * 120)) xturn_relayed_bytes_total path=xdp direction=to_peer client_family=ipv4 peer_family=ipv4
value ==@c2p_44 xturn_relayed_packets_total path=xdp direction=to_peer client_family=ipv4 peer_family=ipv4
value ==@p2c_44 xturn_relayed_packets_total path=xdp direction=to_client client_family=ipv4 peer_family=ipv4
value ==@pass_stun xturn_xdp_passed_packets_total reason=stun
delta ==200 xturn_relayed_packets_total direction=to_peer client_family=ipv4 peer_family=ipv4
delta ==200 xturn_relayed_packets_total direction=to_client client_family=ipv4 peer_family=ipv4
delta ==0 xturn_relayed_packets_total peer_family=ipv6
delta >=1 xturn_responses_total method=allocate code=success
delta >=1 xturn_responses_total method=allocate code=401
delta >=1 xturn_responses_total method=create_permission code=success
delta >=2 xturn_responses_total method=channel_bind code=success
delta >=1 xturn_xdp_passed_packets_total reason=stun
delta ==0 xturn_xdp_dropped_packets_total
EOF

# --- Cross-family: IPv4 client, IPv6 peer. XDP counts c2p_46 out and p2c_64 back: both under
# client_family ipv4, peer_family ipv6.
uclient_ok "${XT_REST_ARGS[@]}" -n 100 -l 120 -z 2 -x -e "$XT_PEER6" "$XT_RELAY4"
step 2 1 5 <<EOF
delta >=190 <=200 xturn_relayed_packets_total path=xdp direction=to_peer client_family=ipv4 peer_family=ipv6
delta >=190 <=200 xturn_relayed_packets_total path=xdp direction=to_client client_family=ipv4 peer_family=ipv6
delta ==200 xturn_relayed_packets_total direction=to_peer client_family=ipv4 peer_family=ipv6
delta ==200 xturn_relayed_packets_total direction=to_client client_family=ipv4 peer_family=ipv6
delta ==0 xturn_relayed_packets_total client_family=ipv6
delta ==0 xturn_relayed_packets_total peer_family=ipv4
EOF

# --- Send indications: relayed in userspace; the peer's answers pass XDP as no_peer.
uclient_ok "${XT_REST_ARGS[@]}" -s -n 100 -l 100 -z 5 -e "$XT_PEER4" "$XT_RELAY4"
step 3 2 5 <<EOF
delta ==200 xturn_relayed_packets_total path=userspace direction=to_peer client_family=ipv4 peer_family=ipv4
delta ==200 xturn_relayed_packets_total path=userspace direction=to_client client_family=ipv4 peer_family=ipv4
delta ==$((200 * 100)) xturn_relayed_bytes_total path=userspace direction=to_peer client_family=ipv4 peer_family=ipv4
delta ==0 xturn_relayed_packets_total path=xdp
delta >=200 xturn_xdp_passed_packets_total reason=no_peer
delta >=200 xturn_xdp_passed_packets_total reason=stun
EOF

# --- A wrong secret: authentication failures, and no allocation.
XT_UCLIENT_TIMEOUT=10 run_uclient -u "$XT_USER" -W "wrong-$XT_SECRET" -n 1 -e "$XT_PEER4" "$XT_RELAY4" || true
step 4 3 5 <<EOF
delta >=1 xturn_authentication_failures_total
delta >=1 xturn_responses_total method=allocate code=401
delta ==0 xturn_responses_total method=allocate code=success
EOF

# --- While one more allocation lives (uclient -h hangs on after sending; the earlier runs left
# some of theirs to expire): the live gauges.
ip netns exec "$XT_NS_CLIENT" turnutils_uclient "${XT_REST_ARGS[@]}" -h -s -c -n 5 -e "$XT_PEER4" \
    "$XT_RELAY4" >"$XT_TMP/holder.out" 2>&1 </dev/null &
holder=$!
XT_PIDS+=("$holder")
step 5 4 10 <<EOF
delta >=1 xturn_allocations
delta >=1 xturn_relayed_addresses family=ipv4
delta ==0 xturn_relayed_addresses family=ipv6
delta >=1 xturn_permissions family=ipv4
delta <=-1 xturn_relay_ports_free family=ipv4
EOF

# --- Draining (SIGTERM with --drain-timeout while allocations live): /healthz says 503.
kill -TERM "$XT_DAEMON_PID"
step 6 5 5 <<EOF
http GET /healthz 503 draining
value ==1 xturn_draining
EOF
stop_xturn # a second SIGTERM ends the drain
xt_kill "$holder"
pass
