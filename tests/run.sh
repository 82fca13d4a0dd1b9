#!/usr/bin/env bash
# Test runner behind `make test`: the cmocka unit test binaries of build/tests/
# and build/san/tests/ (when present), then every tests/integration/test_*.sh,
# one after the other. The last line printed is always "N passed, M failed";
# the exit status is non-zero if anything failed or nothing ran.
#
# Counting: a unit binary contributes its cmocka cases ("[  PASSED  ] N test(s)."
# and "[  FAILED  ] M test(s), listed below:", summed over its groups); one that
# crashes or exits non-zero without such a summary counts as 1 failed, as does a
# non-zero exit after a clean summary (a sanitizer report at exit). Each
# integration script counts as 1 test, except one that exits 77: it could not run
# here (says why in a "SKIP: " line) and is listed as skipped.
#
# Environment:
#   TESTS="udp_ipv4 malformed"  run only tests whose name contains one of these
#                               words (space or comma separated)
#   XTURN_BIN                   daemon for the integration tests (default build/xturn)
#   UNIT_TIMEOUT, IT_TIMEOUT    per-binary / per-script limits in seconds (300 / 120)
#   UNIT_DIRS                   unit binary folders (default "build/tests build/san/tests")
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
current=""   # pid of the running test, killed if we are interrupted
tmp=$(mktemp -d /tmp/xturn-run.XXXXXX)

on_signal() {
    [ -n "$current" ] && kill -TERM "$current" 2>/dev/null && wait "$current" 2>/dev/null
    rm -rf "$tmp"
    echo "interrupted"
    echo "$passed passed, $((failed + 1)) failed"
    exit 130
}
trap on_signal INT TERM

selected() {
    local pat
    [ -z "${TESTS:-}" ] && return 0
    for pat in ${TESTS//,/ }; do
        [[ "$1" == *"$pat"* ]] && return 0
    done
    return 1
}

# run_bounded SECONDS OUTFILE CMD...: run in the background (so a signal to us
# is handled at once), bounded; returns the command's status.
run_bounded() {
    local secs=$1 outf=$2 rc=0
    shift 2
    timeout -k 10 "$secs" "$@" >"$outf" 2>&1 </dev/null &
    current=$!
    wait "$current" || rc=$?
    current=""
    return "$rc"
}

# sum_cmocka FILE REGEX: sum of the first number on the lines matching REGEX.
sum_cmocka() {
    grep -E "$2" "$1" | sed -nE 's/^[^0-9]*([0-9]+).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

run_unit_dir() {
    local dir=$1 bin name out rc p f n t0
    [ -d "$dir" ] || return 0
    for bin in "$dir"/*; do
        if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
        name="$dir/$(basename "$bin")"
        name=${name#build/}
        selected "$name" || continue
        out="$tmp/unit.out"
        t0=$SECONDS
        rc=0
        run_bounded "${UNIT_TIMEOUT:-300}" "$out" env CMOCKA_MESSAGE_OUTPUT=stdout "$bin" || rc=$?
        p=$(sum_cmocka "$out" '^\[  PASSED  \] [0-9]+ test')
        f=$(sum_cmocka "$out" '^\[  FAILED  \] [0-9]+ test\(s\), listed below')
        n=$(grep -cE '^\[  (PASSED|FAILED)  \] [0-9]+ test' "$out")
        if [ "$n" -eq 0 ]; then
            # No cmocka summary: judge the binary by its exit status alone.
            if [ "$rc" -eq 0 ]; then p=1; else f=1; fi
        elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1
        fi
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$f" -eq 0 ]; then
            echo "PASS $name ($p cases, $((SECONDS - t0))s)"
        else
            echo "FAIL $name ($p passed, $f failed, exit status $rc, $((SECONDS - t0))s)"
            sed 's/^/    /' "$out"
        fi
    done
}

run_integration() {
    local t name out rc t0 secs
    for t in tests/integration/test_*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        selected "$name" || continue
        out="$tmp/$name.out"
        t0=$SECONDS
        rc=0
        # A test that needs longer says so in a "# run.sh timeout: SECONDS" line.
        secs=$(sed -n 's/^# run.sh timeout: \([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
        run_bounded "${secs:-${IT_TIMEOUT:-120}}" "$out" bash "$t" || rc=$?
        if [ "$rc" -eq 77 ]; then # cannot run here: neither passed nor failed
            echo "SKIP $name: $(grep '^SKIP: ' "$out" | tail -n 1 | cut -c7-)"
        elif [ "$rc" -eq 0 ]; then
            passed=$((passed + 1))
            echo "PASS $name ($((SECONDS - t0))s)"
        else
            failed=$((failed + 1))
            echo "FAIL $name (exit status $rc, $((SECONDS - t0))s)"
            sed 's/^/    /' "$out"
        fi
    done
}

for d in ${UNIT_DIRS:-build/tests build/san/tests}; do
    run_unit_dir "$d"
done
run_integration
rm -rf "$tmp"

if [ $((passed + failed)) -eq 0 ]; then
    echo "no test ran${TESTS:+ (TESTS=$TESTS)}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
