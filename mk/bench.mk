# Benchmarks (bench/, results in docs/BENCHMARKS.md). Not tests: nothing here asserts a timing.
#   build/xturn-bench             the TURN load generator and sink (tools/bench/), built by `all`
#   build/xdp_microbench          the XDP program per path vs a bare swap-and-XDP_TX program
#                                 (tools/xdp_microbench.c, built by `all` like every tools/*.c)
#   build/bpf/xdp_swap.bpf.o      that bare program (tools/bpf/xdp_swap.bpf.c)
#   build/bpf/xdp_restore.bpf.o   the microbenchmark's harness: restores the frame, tail-calls
#   make bench                    everything: microbenchmark, then coturn / xturn / xturn XDP
#                                 under load in namespaces, then the allocation burst against
#                                 coturn and xturn (bench/run.sh writes the results);
#                                 BENCH_ONLY=burst: the burst alone, its part of the results
#   make bench-scale              the largest number of live allocations, traffic beside them
#                                 (bench/scale.sh writes bench/scale.md, which the report of
#                                 `make bench` includes; run it before)
#   make bench-gso                UDP GSO and GRO effect, offloads on: xturn with both, without GRO,
#                                 without either,
#                                 coturn (bench/gso.sh writes bench/gso.md, included likewise)
#   make profile                  perf call graphs of xturn under load, userspace and XDP
#                                 (bench/profile.sh; build/profile/)
BENCH_BPF_OBJ := $(BUILD)/bpf/xdp_swap.bpf.o $(BUILD)/bpf/xdp_restore.bpf.o
$(BUILD)/bpf/%.bpf.o: tools/bpf/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

all: $(BENCH_BPF_OBJ)

.PHONY: bench bench-scale bench-gso profile
bench: deps
	$(MAKE) all
	bench/run.sh

bench-scale: deps
	$(MAKE) all
	bench/scale.sh

bench-gso: deps
	$(MAKE) all
	bench/gso.sh

profile: deps
	$(MAKE) all
	bench/profile.sh userspace
	bench/profile.sh xdp

# The micro-benchmark runs the program in the tests' network (tests/support/xdp_testnet.c).
$(BUILD)/obj/tools/xdp_microbench.o: CFLAGS += -Itests/support
$(BUILD)/xdp_microbench: $(BUILD)/obj/tests/support/xdp_testnet.o

# xturn-bench: several files, linked with libxturn.a (STUN codec, addresses, REST credentials)
# and OpenSSL's libssl (--transport tls).
XTB_SRC := $(sort $(wildcard tools/bench/*.c))
XTB_OBJ := $(XTB_SRC:%.c=$(BUILD)/obj/%.o)

all: $(BUILD)/xturn-bench

$(XTB_OBJ): CFLAGS += -pthread

# Linked beside and renamed: a test running the old binary never sees a half-written one.
$(BUILD)/xturn-bench: $(XTB_OBJ) $(BUILD)/libxturn.a
	$(CC) $(LDFLAGS) -pthread $^ -lssl $(BASE_LDLIBS) -o $@.tmp
	mv -f $@.tmp $@
