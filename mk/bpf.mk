# XDP fast path: the BPF program (src/bpf/, compiled by clang for the bpf target, never
# sanitized), its libbpf skeleton, and the loader (src/xdp/, part of libxturn.a).
BPF_CLANG  ?= clang
BPFTOOL    ?= bpftool
# -mcpu=v3: the atomics of the next-hop cache (src/bpf/rewrite.h). __TARGET_ARCH_<arch>: the
# host's, for which the program is built (its memory ordering assumptions, rewrite.h).
BPF_ARCH   := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64.*/powerpc/' \
                -e 's/riscv64/riscv/' -e 's/s390x/s390/' -e 's/loongarch64/loongarch/')
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) \
              -I/usr/include/$(shell uname -m)-linux-gnu -Isrc -Wall -Wextra -Werror $(XT_DEFS)
BPF_OBJ    := $(BUILD)/bpf/xturn.bpf.o
BPF_SKEL   := $(BUILD)/bpf/xturn.skel.h

XDP_SRC := $(sort $(wildcard src/xdp/*.c))
XDP_OBJ := $(XDP_SRC:%.c=$(BUILD)/obj/%.o)

BPF_LDLIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz
LDLIBS     += $(BPF_LDLIBS)

$(BPF_OBJ): src/bpf/xturn.bpf.c $(wildcard src/bpf/*.h)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name xturn_bpf > $@.tmp
	mv $@.tmp $@

# The loader includes the generated skeleton (which embeds the object).
$(XDP_OBJ): $(BPF_SKEL)
$(XDP_OBJ): CFLAGS += -I$(BUILD)/bpf

# A program that only passes: integration tests attach it to the far end of a veth, without
# which frames the relay sends back with XDP_TX are dropped.
XDP_PASS_OBJ := $(BUILD)/bpf/xdp_pass.bpf.o
$(XDP_PASS_OBJ): tests/integration/xdp_pass.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

.PHONY: bpf
bpf: $(BPF_SKEL)
