# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt tracker (daemon/libvirt*.c): libvirt and libxml2 for the
# daemon, and the unit suite tests/unit/test_libvirt.c, which runs the real
# tracker against libvirt's test driver (test:///default and the node file
# in tests/unit/fixtures/). The integration test with a real libvirtd and
# TCG guests is tests/integration/test_libvirt.py.

LIBVIRT_PKGS := libvirt libxml-2.0
LIBVIRT_CFLAGS := $(shell pkg-config --cflags $(LIBVIRT_PKGS) 2>/dev/null)
LIBVIRT_LIBS := $(shell pkg-config --libs $(LIBVIRT_PKGS) 2>/dev/null)

PKG_LIBS += $(LIBVIRT_LIBS)
$(BUILD)/daemon/%.o: CFLAGS += $(LIBVIRT_CFLAGS)
$(BUILD)/tests/unit/%.o: CFLAGS += $(LIBVIRT_CFLAGS)

LIBVIRT_OBJS := daemon/libvirt_tracker daemon/libvirt_domain \
	daemon/libvirt_balloon daemon/libvirt_virtiomem daemon/libvirt_meta \
	daemon/libvirt_xml daemon/libvirt_mem daemon/libvirt_loop

# The suite links the whole tracker plus the daemon core it registers VMs
# in (registry, events, engine with the built-in policies, state file).
test_libvirt_DEPS := $(LIBVIRT_OBJS) daemon/daemon daemon/vm daemon/events \
	daemon/engine daemon/safety daemon/host daemon/log daemon/state daemon/config daemon/ctl daemon/errors \
	$(patsubst %.c,%,$(wildcard policies/*.c))
$(BUILD)/tests/unit/test_libvirt.o: \
	CFLAGS += -DLV_FIXTURES='"$(CURDIR)/tests/unit/fixtures"'
test_libvirt_xml_DEPS := $(test_libvirt_DEPS)
