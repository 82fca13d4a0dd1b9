# xturn-bench: the TURN load generator (tools/bench/, several files), built by `make` as
# $(BUILD)/xturn-bench and linked with libxturn.a (STUN codec, addresses, REST credentials).
XTB_SRC := $(sort $(wildcard tools/bench/*.c))
XTB_OBJ := $(XTB_SRC:%.c=$(BUILD)/obj/%.o)

all: $(BUILD)/xturn-bench

$(XTB_OBJ): CFLAGS += -pthread

# Linked beside and renamed: a test running the old binary never sees a half-written one.
$(BUILD)/xturn-bench: $(XTB_OBJ) $(BUILD)/libxturn.a
	$(CC) $(LDFLAGS) -pthread $^ $(LDLIBS) -o $@.tmp
	mv -f $@.tmp $@
