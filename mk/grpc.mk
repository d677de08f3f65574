# SPDX-License-Identifier: GPL-2.0-or-later
#
# The gRPC API (daemon/grpc/): C code generated from proto/hyperalloc.proto
# by protoc-c into $(BUILD)/proto/ (never committed), gRPC core and
# protobuf-c for the daemon, and the unit suites of daemon/grpc/'s pure
# parts (map.c, descriptors.c) and of its table of connections (conns.c).

DAEMON_SRC += $(wildcard daemon/grpc/*.c)

PROTO_OUT := $(BUILD)/proto
PROTO_SRC := proto/hyperalloc.proto
PROTO_C := $(PROTO_OUT)/hyperalloc.pb-c.c
PROTO_H := $(PROTO_OUT)/hyperalloc.pb-c.h
PROTO_OBJ := $(PROTO_OUT)/hyperalloc.pb-c.o

# The standard services the daemon serves besides its own (health and
# server reflection, daemon/grpc/health.c and reflection.c): C code for
# the messages it encodes and decodes (reflection v1alpha has the same
# messages as v1 on the wire, so only its descriptor is needed).
GRPC_STD_SRC := proto/grpc/health/v1/health.proto \
	proto/grpc/reflection/v1/reflection.proto
GRPC_STD_H := $(patsubst proto/%.proto,$(PROTO_OUT)/%.pb-c.h,$(GRPC_STD_SRC))
GRPC_STD_OBJ := $(patsubst proto/%.proto,$(PROTO_OUT)/%.pb-c.o,$(GRPC_STD_SRC))

# Every .proto the server reflects on: their FileDescriptorProtos in one
# FileDescriptorSet, embedded in the daemon (grpc/reflection.c).
GRPC_REFLECTED := $(PROTO_SRC) $(GRPC_STD_SRC) \
	proto/grpc/reflection/v1alpha/reflection.proto
GRPC_DESCRIPTORS := $(PROTO_OUT)/descriptors.pb

GRPC_CFLAGS := $(shell pkg-config --cflags grpc libprotobuf-c 2>/dev/null)
GRPC_LIBS := $(shell pkg-config --libs grpc libprotobuf-c 2>/dev/null || \
	echo -lgrpc -lgpr -lprotobuf-c)
PROTOBUF_C_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || \
	echo -lprotobuf-c)

# Names inside the descriptors are relative to proto/ ("hyperalloc.proto",
# "grpc/health/v1/health.proto"), as clients expect them.
$(PROTO_OUT)/%.pb-c.c $(PROTO_OUT)/%.pb-c.h: proto/%.proto
	@mkdir -p $(PROTO_OUT)
	$(Q)$(call msg,PROTOC,$<)protoc-c --c_out=$(PROTO_OUT) \
		--proto_path=proto $<

$(GRPC_DESCRIPTORS): $(GRPC_REFLECTED)
	@mkdir -p $(PROTO_OUT)
	$(Q)$(call msg,PROTOC,$@)protoc-c --descriptor_set_out=$@ \
		--proto_path=proto $^

# protoc-c 1.4's output compiles cleanly with our full warning set; should
# a later protoc-c not, relax the flags for these objects only, here.
$(PROTO_OUT)/%.pb-c.o: $(PROTO_OUT)/%.pb-c.c $(PROTO_OUT)/%.pb-c.h
	$(Q)$(call msg,CC,$<)$(CC) $(CFLAGS) $(GRPC_CFLAGS) -I$(PROTO_OUT) \
		-c -o $@ $<

# grpc/reflection.c embeds the descriptor set with .incbin; -MMD cannot
# see that.
$(BUILD)/daemon/grpc/reflection.o: $(GRPC_DESCRIPTORS)
$(BUILD)/daemon/grpc/reflection.o: \
	CFLAGS += -DGRPCD_DESCRIPTORS_FILE='"$(GRPC_DESCRIPTORS)"'

# Every daemon and unit-test object may include the generated header:
# it must exist before any of them compiles (-MMD tracks it afterwards).
$(BUILD)/daemon/%.o $(BUILD)/tests/unit/%.o: CFLAGS += -I$(PROTO_OUT) \
	$(GRPC_CFLAGS)
DAEMON_GEN_HEADERS += $(PROTO_H) $(GRPC_STD_H)

$(HYPERALLOCD): $(PROTO_OBJ) $(GRPC_STD_OBJ)
$(HYPERALLOCD): PKG_LIBS += $(GRPC_LIBS)

# Unit suite: the message <-> struct mapping, linking only its module plus
# what it needs (and the JSON module, to check that both APIs use the same
# field names).
test_grpc_map_DEPS := daemon/grpc/map daemon/errors daemon/events daemon/text \
	daemon/vm proto/hyperalloc.pb-c daemon/http/json
$(BUILD)/tests/unit/test_grpc_map: PKG_LIBS += $(PROTOBUF_C_LIBS)

# The listeners' table of connections handed to gRPC core.
test_grpc_conns_DEPS := daemon/grpc/conns

# The descriptor reader, on the descriptor set the daemon embeds.
test_grpc_descriptors_DEPS := daemon/grpc/descriptors
$(BUILD)/tests/unit/test_grpc_descriptors.o: $(GRPC_DESCRIPTORS)
$(BUILD)/tests/unit/test_grpc_descriptors.o: \
	CFLAGS += -DGRPCD_DESCRIPTORS_FILE='"$(CURDIR)/$(GRPC_DESCRIPTORS)"'

.PRECIOUS: $(PROTO_OUT)/%.pb-c.c $(PROTO_OUT)/%.pb-c.h
