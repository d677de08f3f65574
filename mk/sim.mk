# SPDX-License-Identifier: GPL-2.0-or-later
#
# The sim backend (daemon/sim/): simulated guests (tools/ha-simguest,
# mk/simguest.mk) connect over a SEQPACKET socket and speak the protocol
# of proto/sim_proto.h, which both programs include. Its tests are the
# integration tests (tests/integration/test_daemon.py and others run the
# daemon with sim guests) and tests/integration/test_hostile_guest.py.

DAEMON_SRC += $(wildcard daemon/sim/*.c)
$(BUILD)/daemon/sim/%.o: CFLAGS += -Iproto
