# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt tracker (daemon/libvirt/): libvirt and libxml2 for the
# daemon, and the unit suite tests/unit/test_libvirt.c, which runs the real
# tracker against libvirt's test driver (test:///default and the node file
# in tests/unit/fixtures/). The integration test with a real libvirtd and
# TCG guests is tests/integration/test_libvirt.py.

LIBVIRT_PKGS := libvirt libvirt-qemu libxml-2.0
LIBVIRT_CFLAGS := $(shell pkg-config --cflags $(LIBVIRT_PKGS) 2>/dev/null)
LIBVIRT_LIBS := $(shell pkg-config --libs $(LIBVIRT_PKGS) 2>/dev/null)

DAEMON_SRC += $(wildcard daemon/libvirt/*.c)
PKG_LIBS += $(LIBVIRT_LIBS)
$(BUILD)/daemon/libvirt/%.o $(BUILD)/tests/unit/%.o: CFLAGS += $(LIBVIRT_CFLAGS)

LIBVIRT_OBJS := $(patsubst %.c,%,$(wildcard daemon/libvirt/*.c))

# The suite links the whole tracker plus the daemon core it registers VMs
# in (registry, events, engine with the built-in policies, state file).
test_libvirt_DEPS := $(LIBVIRT_OBJS) daemon/daemon daemon/vm daemon/events \
	daemon/engine daemon/plugin daemon/safety daemon/host daemon/log daemon/state daemon/commit daemon/config daemon/ctl daemon/errors daemon/text \
	$(patsubst %.c,%,$(wildcard policies/*.c))
$(BUILD)/tests/unit/test_libvirt.o: \
	CFLAGS += -DLV_FIXTURES='"$(CURDIR)/tests/unit/fixtures"'
# The pure parts alone: XML in and out, progress toward a target.
test_libvirt_xml_DEPS := daemon/libvirt/xml daemon/libvirt/progress
