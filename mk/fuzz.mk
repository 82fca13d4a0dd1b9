# Fuzzing (tests/fuzz/): libFuzzer harnesses, built by clang with ASan and UBSan into
# $(BUILD)/fuzz/ against their own instrumented build of the library sources (the normal objects
# are gcc's), and a seed corpus generated at build time by tests/fuzz/seeds.c.
#   make fuzz-build          the harnesses and $(BUILD)/fuzz/corpus/<harness>/
#   make fuzz                each harness for FUZZ_SECONDS (default 60), one after the other
#   make fuzz-<harness>      one of them (fuzz-stun, fuzz-turn_server, fuzz-xdp, fuzz-stream,
#                            fuzz-tcp_relay)
# Inputs that crash land in $(BUILD)/fuzz/artifacts/. fuzz_xdp needs root (network namespace).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
# -Werror for the harnesses only: the library is gcc's to judge, and a clang-only warning in it
# should not stop the fuzzers.
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wshadow \
                -Wstrict-prototypes -Isrc -I$(BUILD)/bpf $(FUZZ_SAN)
FUZZ_LDLIBS  := $(BASE_LDLIBS)
FUZZ_BPFLIBS := $(BPF_LDLIBS)

FUZZ_HARNESSES := fuzz_stun fuzz_turn_server fuzz_xdp fuzz_stream fuzz_tcp_relay fuzz_snapshot
FUZZ_BIN     := $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/%)
# The parts of libxturn.a (LIB_SRC) the harnesses reach: no sockets, threads or HTTP (of
# src/net, only the stream framer, which does no I/O).
FUZZ_LIB_SRC := $(filter src/common/% src/stun/% src/turn/% src/xdp/% src/net/stream_frame.c,\
                  $(LIB_SRC))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB     := $(FUZZ_DIR)/libxturn_fuzz.a
FUZZ_STAMP   := $(FUZZ_DIR)/corpus/.seeded

# Per harness: the longest input and extra link flags.
FUZZ_MAXLEN_fuzz_stun        := 4096
FUZZ_MAXLEN_fuzz_turn_server := 4096
FUZZ_MAXLEN_fuzz_xdp         := 4096
FUZZ_MAXLEN_fuzz_stream      := 4096
FUZZ_MAXLEN_fuzz_tcp_relay   := 4096
FUZZ_MAXLEN_fuzz_snapshot    := 4096
FUZZ_OPTS_fuzz_turn_server   := -len_control=0
FUZZ_OPTS_fuzz_tcp_relay     := -len_control=0
FUZZ_LINK_fuzz_stun          := $(FUZZ_LDLIBS)
FUZZ_LINK_fuzz_turn_server   := $(FUZZ_LDLIBS)
FUZZ_LINK_fuzz_xdp           := $(FUZZ_BPFLIBS) $(FUZZ_LDLIBS)
FUZZ_LINK_fuzz_stream        := $(FUZZ_LDLIBS)
FUZZ_LINK_fuzz_tcp_relay     := $(FUZZ_LDLIBS)
FUZZ_LINK_fuzz_snapshot      := $(FUZZ_LDLIBS)

.PHONY: fuzz fuzz-build $(FUZZ_HARNESSES:fuzz_%=fuzz-%)

# Library sources: coverage instrumentation without libFuzzer's main.
$(FUZZ_DIR)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(XDP_SRC:%.c=$(FUZZ_DIR)/obj/%.o): $(BPF_SKEL)

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -MMD -MP -c $< -o $@

# fuzz_xdp runs the program in the tests' network (tests/support/xdp_testnet.c).
$(FUZZ_DIR)/obj/tests/support/%.o: tests/support/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/obj/tests/fuzz/fuzz_xdp.o: FUZZ_CFLAGS += -Itests/support
$(FUZZ_DIR)/fuzz_xdp: $(FUZZ_DIR)/obj/tests/support/xdp_testnet.o

$(FUZZ_BIN): $(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ $(FUZZ_LINK_$*) -o $@

# The seed generator: plain (no libFuzzer), under ASan/UBSan like the rest.
$(FUZZ_DIR)/obj/tests/fuzz/seeds.o: tests/fuzz/seeds.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Itests/unit -MMD -MP -c $< -o $@

$(FUZZ_DIR)/seeds: $(FUZZ_DIR)/obj/tests/fuzz/seeds.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) $^ $(FUZZ_LDLIBS) -o $@

$(FUZZ_STAMP): $(FUZZ_DIR)/seeds
	$(FUZZ_DIR)/seeds $(FUZZ_DIR)/corpus
	@touch $@

fuzz-build: $(FUZZ_BIN) $(FUZZ_STAMP)

# fuzz-stun, fuzz-turn_server, fuzz-xdp, fuzz-stream, ...: one harness for FUZZ_SECONDS on its corpus.
$(FUZZ_HARNESSES:fuzz_%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_STAMP)
	@mkdir -p $(FUZZ_DIR)/artifacts
	$(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    -max_len=$(FUZZ_MAXLEN_fuzz_$*) $(FUZZ_OPTS_fuzz_$*) -artifact_prefix=$(FUZZ_DIR)/artifacts/fuzz_$*- \
	    $(FUZZ_DIR)/corpus/fuzz_$*

fuzz: fuzz-build
	@for h in $(FUZZ_HARNESSES:fuzz_%=%); do $(MAKE) --no-print-directory fuzz-$$h || exit 1; done

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
