# Soak test under churn (tests/soak/soak.sh): thousands of short-lived allocations, without
# and with XDP, then fds, RSS, XDP maps, relay sockets and counters checked. Needs root.
#   make soak                       SOAK_SECONDS (default 300) of waves, split between the modes
#   make soak SOAK_SECONDS=3600 SOAK_ROUND=120 SOAK_MODES=xdp
#   make soak XTURN_BIN=build/san/xturn   the ASan/UBSan daemon (leaks reported at its exit)
# tests/integration/test_soak_brief.sh (run by `make test`) is the same for about a minute.
SOAK_SECONDS ?= 300

.PHONY: soak
soak: deps
	$(MAKE) all
	SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/soak.sh
