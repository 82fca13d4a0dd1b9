#!/usr/bin/env bash
# A short soak under churn (about a minute; `make soak` runs the long one): tests/soak/soak.sh
# with 15 s of allocation waves without XDP and 15 s with XDP, one checkpoint each. What it
# asserts is described there: fds and relay sockets back to baseline, every XDP binding map
# empty, RSS bounded, stats at 0, and the packet counters adding up exactly in each direction.
set -euo pipefail
export SOAK_SECONDS=${SOAK_SECONDS:-30} SOAK_ROUND=${SOAK_ROUND:-15}
# Within tests/run.sh's 120 s per script.
export XT_TEST_TIMEOUT=${XT_TEST_TIMEOUT:-110}
exec bash "$(dirname "$0")/../soak/soak.sh"
