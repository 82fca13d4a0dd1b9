# xturn build. `make` builds build/xturn; `make test` installs what it needs and runs every test.
CC      ?= gcc
BUILD   ?= build
SAN     ?=
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g -fno-omit-frame-pointer
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Isrc
# Definitions for the C and the BPF compilers alike (build/xturn-abi-next's).
XT_DEFS ?=
CFLAGS  += $(XT_DEFS)
# What every binary links; the daemon and the tools add the rest (libbpf: mk/bpf.mk), each unit
# test only what the part of the library it uses needs (UNIT_LDLIBS_<test> below).
BASE_LDLIBS := -lcrypto -lz
LDLIBS  := $(BASE_LDLIBS) -lssl -lmicrohttpd -lsystemd -lcap
ifneq ($(SAN),)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC   := $(sort $(wildcard src/common/*.c src/stun/*.c src/turn/*.c src/net/*.c src/xdp/*.c) \
             $(filter-out src/app/main.c,$(wildcard src/app/*.c)))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/support/*.c tests/support/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TOOL_BIN  := $(TOOL_SRC:tools/%.c=$(BUILD)/%)

.PHONY: all deps run test unit-tests format format-check clean FORCE
all: $(BUILD)/xturn $(TOOL_BIN) $(BUILD)/bpf/xdp_pass.bpf.o

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libxturn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/xturn: $(BUILD)/obj/src/app/main.o $(BUILD)/libxturn.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(BUILD)/libxturn.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/obj/tests/%.o: CFLAGS += -Itests/unit/support -Itests/support

UNIT_LDLIBS_test_metrics    = -lmicrohttpd
UNIT_LDLIBS_test_privileges = -lcap
UNIT_LDLIBS_test_route_query = -lcap
UNIT_LDLIBS_test_tls_server = -lssl
UNIT_LDLIBS_test_dtls_server = -lssl
UNIT_LDLIBS_test_xdp_prog   = $(BPF_LDLIBS)
UNIT_LDLIBS_test_xdp_stats  = $(BPF_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(BUILD)/libxturn.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(BASE_LDLIBS) $(UNIT_LDLIBS_$*) -lcmocka -o $@

unit-tests: $(UNIT_BIN)

# The daemon with the next XT_ABI_VERSION and another layout of the binding maps
# (src/bpf/xdp_shared.h), built in a tree of its own with the same options: test_upgrade_xdp_abi
# upgrades build/xturn to it (next to the daemon it tests: XTURN_BIN's folder).
$(BUILD)/xturn-abi-next: FORCE
	$(MAKE) BUILD=$(BUILD)/abi-next XT_DEFS=-DXT_ABI_VERSION_BUMP=1 $(BUILD)/abi-next/xturn
	cp $(BUILD)/abi-next/xturn $@
FORCE:

deps:
	scripts/install-deps.sh

# Demo relay on loopback with a fresh secret (printed), JSON logs on stdout.
run: deps all
	scripts/run-demo.sh

# Everything: unit tests (plain and under ASan/UBSan), then the namespace integration tests.
test: deps
	$(MAKE) all unit-tests build/xturn-abi-next
	$(MAKE) BUILD=build/san SAN=1 OPT=-O1 all unit-tests build/san/xturn-abi-next
	tests/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# The XDP program, its skeleton and the loader's build rules.
include mk/bpf.mk
include mk/soak.mk
include mk/fuzz.mk
include mk/bench.mk
include mk/image.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
