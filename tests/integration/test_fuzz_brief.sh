#!/usr/bin/env bash
# Fuzzing, briefly: builds the libFuzzer harnesses of tests/fuzz/ (make fuzz-build: clang,
# ASan+UBSan) and runs each for FUZZ_BRIEF_SECONDS (default 10) from a fresh seed corpus (not
# the one `make fuzz` grows in build/fuzz/corpus/, whose replay alone would take ever longer).
# Fails on any crash, sanitizer report, leak, timeout or failed invariant: libFuzzer exits
# non-zero and leaves the input in build/fuzz/artifacts/. fuzz_xdp needs root, as the XDP unit
# tests do. Longer runs: make fuzz FUZZ_SECONDS=N.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

secs=${FUZZ_BRIEF_SECONDS:-10}
dir=build/fuzz
tmp=$(mktemp -d /tmp/xturn-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! make -s -j2 fuzz-build >"$tmp/build.log" 2>&1; then
    echo "FAIL [test_fuzz_brief]: make fuzz-build"
    tail -n 40 "$tmp/build.log"
    exit 1
fi
if ! "$dir/seeds" "$tmp/corpus" >"$tmp/seeds.log" 2>&1; then
    echo "FAIL [test_fuzz_brief]: seeds"
    cat "$tmp/seeds.log"
    exit 1
fi

declare -A opts=([fuzz_turn_server]="-len_control=0" [fuzz_tcp_relay]="-len_control=0")
mkdir -p "$dir/artifacts"
rc=0
for h in fuzz_stun fuzz_turn_server fuzz_xdp fuzz_stream fuzz_tcp_relay fuzz_snapshot; do
    # shellcheck disable=SC2086 # opts holds several words
    if "$dir/$h" -max_total_time="$secs" -timeout=10 -max_len=4096 ${opts[$h]:-} \
        -artifact_prefix="$dir/artifacts/$h-" "$tmp/corpus/$h" >"$tmp/$h.log" 2>&1 &&
        grep -qE '^#[0-9]+[[:space:]]+DONE' "$tmp/$h.log"; then
        echo "$h: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$tmp/$h.log" | tail -n 1)"
    else
        echo "FAIL [test_fuzz_brief]: $h"
        grep -v '^#[0-9]' "$tmp/$h.log" | tail -n 60
        rc=1
    fi
done
exit $rc
