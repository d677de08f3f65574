# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fuzzing with clang's libFuzzer (tests/fuzz/: one harness per target,
# seed corpora in tests/fuzz/corpus/<target>/). Not part of `all`: the
# harnesses and the objects they link are built by clang with
# -fsanitize=fuzzer,address,undefined under build/fuzz/, apart from the
# normal build.
#
#   make fuzz [FUZZ_RUNS=N] [FUZZ_TARGETS="host_attach ..."]
#                     build every harness and run each for N executions
#                     (default 10^7) on a working copy of its corpus
#                     (build/fuzz/corpus/<target>/); crashes go to
#                     build/fuzz/artifacts/<target>/
#   make fuzz-build   only build them
#
# tests/integration/test_fuzz_smoke.sh runs each for a few thousand
# executions in `make check`.

FUZZ_CC ?= clang
FUZZ_RUNS ?= 10000000
FUZZ_DIR := build/fuzz
FUZZ_PROTO := build/proto
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -Ilib -Itests/fuzz \
	-fno-strict-aliasing $(WARN) -MMD -MP -pthread \
	-fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	$(PKG_CFLAGS) -iquote daemon -Ipolicies -Iproto -I$(FUZZ_PROTO) \
	$(GRPC_CFLAGS)
FUZZ_LDFLAGS := -fsanitize=fuzzer $(FUZZ_SAN) -pthread

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BIN := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

# lib/ (core and user helpers) as an archive: each harness pulls what it
# calls.
FUZZ_LIBHA := $(FUZZ_DIR)/libhyperalloc.a
$(FUZZ_LIBHA): $(patsubst %.c,$(FUZZ_DIR)/%.o,$(LIB_CORE_SRC) $(LIB_USER_SRC))
	$(Q)$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

# The objects each harness links besides its own and lib/ (paths without
# .o), like the unit suites' test_<name>_DEPS.
FUZZ_DAEMON_BASE := daemon/errors daemon/log daemon/text daemon/vm \
	daemon/events
fuzz_host_attach_DEPS :=
fuzz_host_ops_DEPS :=
fuzz_http_json_DEPS := daemon/http/json $(FUZZ_DAEMON_BASE)
fuzz_sim_proto_DEPS := daemon/sim/msg $(FUZZ_DAEMON_BASE)
fuzz_grpc_map_DEPS := daemon/grpc/map build/proto/hyperalloc.pb-c \
	$(FUZZ_DAEMON_BASE)
fuzz_grpc_map_LIBS = $(PROTOBUF_C_LIBS)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC-FZ,$<)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# Every fuzz object may include the generated header of mk/grpc.mk (the
# variables of that fragment, included after this one, are used in
# recipes only).
FUZZ_OBJ := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(FUZZ_SRC)) \
	$(addprefix $(FUZZ_DIR)/,$(addsuffix .o,$(sort \
	$(foreach t,$(FUZZ_ALL),$(fuzz_$(t)_DEPS)))))
$(FUZZ_OBJ): | $(FUZZ_PROTO)/hyperalloc.pb-c.h

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o \
		$$(addprefix $(FUZZ_DIR)/,$$(addsuffix .o,$$(fuzz_$$*_DEPS))) \
		$(FUZZ_LIBHA)
	$(Q)$(call msg,LD,$@)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ \
		$(fuzz_$*_LIBS) $(PKG_LIBS) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	$(Q)FUZZ_DIR=$(FUZZ_DIR) tools/fuzz-run.sh $(FUZZ_RUNS) $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-build
.PRECIOUS: $(FUZZ_DIR)/%.o
