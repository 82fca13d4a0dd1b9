#!/usr/bin/env bash
# Fuzzing, briefly: builds the libFuzzer harnesses of tests/fuzz/ (make fuzz-build: clang,
# ASan+UBSan, seed corpus) and runs each on its corpus for FUZZ_BRIEF_SECONDS (default 10).
# Fails on any crash, sanitizer report, leak, timeout or failed invariant (libFuzzer exits
# non-zero and leaves the input in build/fuzz/artifacts/). fuzz_xdp needs root, as the
# XDP unit tests do. Longer runs: make fuzz FUZZ_SECONDS=N.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

secs=${FUZZ_BRIEF_SECONDS:-10}
dir=build/fuzz
log=$(mktemp /tmp/xturn-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT

if ! make -s -j2 fuzz-build >"$log" 2>&1; then
    echo "FAIL [test_fuzz_brief]: make fuzz-build"
    tail -n 40 "$log"
    exit 1
fi

declare -A opts=([fuzz_turn_server]="-len_control=0")
rc=0
for h in fuzz_stun fuzz_turn_server fuzz_xdp; do
    mkdir -p "$dir/artifacts"
    if "$dir/$h" -max_total_time="$secs" -timeout=10 -max_len=4096 ${opts[$h]:-} \
        -artifact_prefix="$dir/artifacts/$h-" "$dir/corpus/$h" >"$log" 2>&1 &&
        grep -q ' DONE ' "$log"; then
        echo "$h: $(grep ' DONE ' "$log" | tail -n 1)"
    else
        echo "FAIL [test_fuzz_brief]: $h"
        grep -v '^#[0-9]' "$log" | tail -n 60
        rc=1
    fi
done
exit $rc
