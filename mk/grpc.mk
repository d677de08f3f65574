# SPDX-License-Identifier: GPL-2.0-or-later
#
# The gRPC API (daemon/grpc/): C code generated from proto/hyperalloc.proto
# by protoc-c into $(BUILD)/proto/ (never committed), gRPC core and
# protobuf-c for the daemon, and the unit suite of daemon/grpc/map.c.

DAEMON_SRC += $(wildcard daemon/grpc/*.c)

PROTO_OUT := $(BUILD)/proto
PROTO_SRC := proto/hyperalloc.proto
PROTO_C := $(PROTO_OUT)/hyperalloc.pb-c.c
PROTO_H := $(PROTO_OUT)/hyperalloc.pb-c.h
PROTO_OBJ := $(PROTO_OUT)/hyperalloc.pb-c.o

GRPC_CFLAGS := $(shell pkg-config --cflags grpc libprotobuf-c 2>/dev/null)
GRPC_LIBS := $(shell pkg-config --libs grpc libprotobuf-c 2>/dev/null || \
	echo -lgrpc -lgpr -lprotobuf-c)
PROTOBUF_C_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || \
	echo -lprotobuf-c)

$(PROTO_C) $(PROTO_H) &: $(PROTO_SRC)
	@mkdir -p $(PROTO_OUT)
	$(Q)$(call msg,PROTOC,$<)protoc-c --c_out=$(PROTO_OUT) \
		--proto_path=$(dir $<) $<

# protoc-c 1.4's output compiles cleanly with our full warning set; should
# a later protoc-c not, relax the flags for this object only, here.
$(PROTO_OBJ): $(PROTO_C) $(PROTO_H)
	$(Q)$(call msg,CC,$<)$(CC) $(CFLAGS) $(GRPC_CFLAGS) -I$(PROTO_OUT) \
		-c -o $@ $<

# Every daemon and unit-test object may include the generated header:
# it must exist before any of them compiles (-MMD tracks it afterwards).
$(BUILD)/daemon/%.o $(BUILD)/tests/unit/%.o: CFLAGS += -I$(PROTO_OUT) \
	$(GRPC_CFLAGS)
DAEMON_GEN_HEADERS += $(PROTO_H)

$(HYPERALLOCD): $(PROTO_OBJ)
$(HYPERALLOCD): PKG_LIBS += $(GRPC_LIBS)

# Unit suite: the message <-> struct mapping, linking only its module plus
# what it needs (and the JSON module, to check that both APIs use the same
# field names).
test_grpc_map_DEPS := daemon/grpc/map daemon/errors daemon/events daemon/text \
	daemon/vm proto/hyperalloc.pb-c daemon/http/json
$(BUILD)/tests/unit/test_grpc_map: PKG_LIBS += $(PROTOBUF_C_LIBS)
