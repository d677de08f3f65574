# SPDX-License-Identifier: GPL-2.0-or-later
#
# hyperalloc build. Plain GNU make; objects under build/ (or
# build/san-<name>/ for sanitizer builds).
#
#   make                 build everything
#   make check [T=name]  install dependencies, build, run the tests
#                        (T= runs the suites whose name contains <name>)
#   make check SAN=address,undefined | SAN=thread
#   make run             install dependencies, build, start the demo
#   make bench B=name    run bench/<name>
#   make fuzz [FUZZ_RUNS=N]  build and run the libFuzzer harnesses (mk/fuzz.mk)
#   make format | format-check   clang-format the tree / check it is
#   make deps | clean

CC ?= gcc
SAN ?=
V ?= 0

comma := ,
ifeq ($(SAN),)
BUILD := build
else
BUILD := build/san-$(subst $(comma),-,$(SAN))
endif

# npm packages of the build and the tests (mk/npm.mk): one install under
# build/npm/ for every build, the sanitizer ones included.
NPM_DIR := build/npm
NPM_DASHBOARD := $(NPM_DIR)/dashboard/.installed
NPM_TESTS := $(NPM_DIR)/tests/.installed

WARN := -Wall -Wextra -Wconversion -Wformat-security -Wshadow \
	-Werror=missing-prototypes -Werror=strict-prototypes \
	-Werror=implicit-fallthrough -Werror=vla
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Ilib -fno-strict-aliasing $(WARN) -MMD -MP -pthread
LDFLAGS += -pthread
ifneq ($(SAN),)
CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif

ifeq ($(V),0)
Q := @
msg = printf '  %-6s %s\n' '$(1)' '$(2)';
else
Q :=
msg :=
endif

all:

# ---- lib/: the freestanding core plus userspace helpers ----
LIB_CORE_SRC := $(wildcard lib/*.c)
LIB_USER_SRC := $(wildcard lib/user/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_CORE_SRC) $(LIB_USER_SRC))
LIBHA := $(BUILD)/libhyperalloc.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC,$<)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBHA): $(LIB_OBJ)
	$(Q)$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

# The core once more, as the guest kernel builds it: kernel shim,
# -ffreestanding, no libc headers at all, and the warnings and code model
# of a Linux x86_64 build (-Wdeclaration-after-statement, no SSE, no red
# zone, -mcmodel=kernel). Any undefined symbol in the result is a call out
# of the core and fails the build. A second, 32-bit build catches what a
# kernel cannot link on 32-bit machines: 64-bit division by a variable
# (libgcc's __udivdi3 and friends).
FS_DIR := build/freestanding
FS_KWARN := -Wdeclaration-after-statement -Wundef -Wvla -Wold-style-definition \
	-Wmissing-prototypes -Wframe-larger-than=2048
FS_COMMON := -std=gnu11 -O2 -ffreestanding -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) \
	-DHA_PLATFORM_KERNEL -fno-strict-aliasing -fno-stack-protector \
	-fno-tree-loop-distribute-patterns -fno-builtin -fno-common -fno-pic \
	$(WARN) $(FS_KWARN) -Werror
FS_CFLAGS := $(FS_COMMON) -mno-sse -mno-mmx -mno-sse2 -mno-3dnow -mno-avx \
	-mno-red-zone -mcmodel=kernel
FS32_CFLAGS := $(FS_COMMON) -m32
FS_OBJ := $(patsubst lib/%.c,$(FS_DIR)/%.o,$(LIB_CORE_SRC))
FS32_OBJ := $(patsubst lib/%.c,$(FS_DIR)/m32/%.o,$(LIB_CORE_SRC))

$(FS_DIR)/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC-FS,$<)$(CC) $(FS_CFLAGS) -c -o $@ $<

$(FS_DIR)/m32/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC-FS32,$<)$(CC) $(FS32_CFLAGS) -c -o $@ $<

$(FS_DIR)/ok: $(FS_OBJ) $(FS32_OBJ)
	$(Q)ld -r -o $(FS_DIR)/core.o $(FS_OBJ)
	$(Q)undef=$$(nm -u $(FS_DIR)/core.o); \
	if [ -n "$$undef" ]; then \
		echo "lib/ core calls outside itself (it must stay freestanding):"; \
		echo "$$undef"; exit 1; \
	fi
	$(Q)div=$$(nm -u $(FS32_OBJ) | grep -E '__(u)?(div|mod|divmod)di[34]'); \
	if [ -n "$$div" ]; then \
		echo "lib/ core divides 64 bits by a variable (a kernel cannot):"; \
		nm -A -u $(FS32_OBJ) | grep -E '__(u)?(div|mod|divmod)di[34]'; \
		exit 1; \
	fi; touch $@
	$(Q)$(call msg,OK,freestanding core: kernel flags$(comma) no external symbols$(comma) no 64-bit division) true

freestanding: $(FS_DIR)/ok

PKGS := libsystemd libmicrohttpd jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS := -lm

# ---- policies/: built-in policies (pure functions) ----
POLICY_SRC := $(wildcard policies/*.c)
POLICY_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(POLICY_SRC))

# ---- daemon/: hyperallocd ----
# The core is daemon/*.c; each subsystem folder (daemon/http/, grpc/,
# libvirt/, sim/) adds its sources, flags and libraries in its fragment
# mk/<name>.mk. Daemon code includes core headers as "ctl.h" and a
# subsystem's as "http/json.h"; -iquote keeps daemon/grpc/ and
# daemon/libvirt/ out of the search for <grpc/...> and <libvirt/...>.
DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(DAEMON_SRC))
HYPERALLOCD := $(BUILD)/daemon/hyperallocd

$(BUILD)/daemon/%.o: CFLAGS += $(PKG_CFLAGS) -iquote daemon -Ipolicies
$(BUILD)/policies/%.o: CFLAGS += -Ipolicies

# ---- tools/ ----
# Tools see lib/ and the wire contracts in proto/, nothing of the daemon.
TOOLS := $(if $(wildcard tools/ha-demo.c),$(BUILD)/tools/ha-demo)

$(BUILD)/tools/%.o: CFLAGS += $(PKG_CFLAGS) -Iproto -Itools

$(BUILD)/tools/ha-demo: $(BUILD)/tools/ha-demo.o $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests/unit: one Check suite per module ----
# A suite links its own object plus the objects named in test_<name>_DEPS
# (paths without .o, e.g. daemon/json) and libhyperalloc.
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))

$(BUILD)/tests/unit/%.o: CFLAGS += $(CHECK_CFLAGS) $(PKG_CFLAGS) -iquote daemon \
	-Ipolicies -Iproto -Itools

.SECONDEXPANSION:
$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(test_$$*_DEPS))) $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) $(LDLIBS)

# ---- bench/ ----
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include mk/*.mk

# After the fragments: they add to DAEMON_SRC, PKG_LIBS and
# DAEMON_GEN_HEADERS (generated headers daemon and test objects include).
$(HYPERALLOCD): $(DAEMON_OBJ) $(POLICY_OBJ) $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $(filter-out $(LIBHA),$^) \
		$(LIBHA) $(PKG_LIBS) $(LDLIBS)

$(DAEMON_OBJ) $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/*.c)): \
	| $(DAEMON_GEN_HEADERS)

all: $(LIBHA) freestanding $(HYPERALLOCD) $(TOOLS) $(UNIT_BIN) $(BENCH_BIN)

# ---- entry points ----
deps:
	$(Q)tools/install-deps.sh

T ?=
check: deps
	$(Q)$(MAKE) --no-print-directory all npm-tests
	$(Q)BUILD=$(BUILD) T='$(T)' SAN='$(SAN)' tests/run-tests.sh

B ?=
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)if [ -z "$(B)" ]; then echo "usage: make bench B=<name>; one of: $(notdir $(BENCH_BIN))"; exit 2; fi
	$(Q)$(BUILD)/bench/$(B) $(BENCH_ARGS)

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/make-run.sh

# ---- install (DESTDIR for packaging) ----
PREFIX ?= /usr
DESTDIR ?=
install: all
	install -Dm755 $(HYPERALLOCD) $(DESTDIR)$(PREFIX)/sbin/hyperallocd
	install -Dm755 $(BUILD)/tools/hactl $(DESTDIR)$(PREFIX)/bin/hactl
	install -Dm755 $(BUILD)/tools/ha-simguest $(DESTDIR)$(PREFIX)/libexec/hyperalloc/ha-simguest
	install -d -m755 $(DESTDIR)$(PREFIX)/lib/hyperalloc/policies
	install -d $(DESTDIR)$(PREFIX)/share/hyperalloc/traces
	install -m644 tools/traces/*.trace $(DESTDIR)$(PREFIX)/share/hyperalloc/traces/
	install -Dm644 docs/openapi.yaml $(DESTDIR)$(PREFIX)/share/hyperalloc/openapi.yaml
	install -Dm644 README.md $(DESTDIR)$(PREFIX)/share/doc/hyperalloc/README.md
	install -Dm644 systemd/hyperallocd.service $(DESTDIR)/lib/systemd/system/hyperallocd.service
	install -Dm644 systemd/hyperallocd.socket $(DESTDIR)/lib/systemd/system/hyperallocd.socket
	install -Dm644 systemd/hyperalloc.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/hyperalloc.conf
	install -Dm644 systemd/hyperalloc.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/hyperalloc.conf
	@if [ ! -e $(DESTDIR)/etc/hyperalloc/hyperallocd.json ]; then \
		install -Dm644 systemd/hyperallocd.json $(DESTDIR)/etc/hyperalloc/hyperallocd.json; \
	else echo "keeping existing $(DESTDIR)/etc/hyperalloc/hyperallocd.json"; fi

# The C files of the house style: not guestmod/ (kernel style) nor
# qemu-patches/ (QEMU style). format-check (tools/format-check.sh) also runs
# in make check, as tests/integration/test_format.sh.
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' | grep -v '^guestmod/\|^qemu-patches/')
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	$(Q)tools/format-check.sh

clean:
	rm -rf build

.PHONY: all check run bench deps clean format format-check freestanding install
.DELETE_ON_ERROR:
.PRECIOUS: $(BUILD)/%.o

# The header dependencies of this build (BUILD may be outside build/).
-include $(shell find build $(BUILD) -name '*.d' 2>/dev/null | sort -u)
