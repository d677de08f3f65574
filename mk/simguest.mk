# SPDX-License-Identifier: GPL-2.0-or-later
#
# tools/ha-simguest: the simulated guest (DESIGN.md "Simulated guests").
# The binary is $(BUILD)/tools/ha-simguest, so its objects live in
# $(BUILD)/tools/simguest-obj/ (a directory cannot share the binary's name).
# Trace names resolve in tools/traces/ of this tree unless --trace-dir says
# otherwise.

SIMGUEST := $(BUILD)/tools/ha-simguest
SIMGUEST_OBJDIR := $(BUILD)/tools/simguest-obj
SIMGUEST_SRC := $(wildcard tools/ha-simguest/*.c)
SIMGUEST_OBJ := $(patsubst tools/ha-simguest/%.c,$(SIMGUEST_OBJDIR)/%.o,\
	$(SIMGUEST_SRC))
SIMGUEST_TRACE_DIR := $(CURDIR)/tools/traces

$(SIMGUEST_OBJDIR)/%.o: tools/ha-simguest/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,CC,$<)$(CC) $(CFLAGS) -c -o $@ $<

$(SIMGUEST_OBJDIR)/options.o: \
	CFLAGS += -DSIMGUEST_TRACE_DIR='"$(SIMGUEST_TRACE_DIR)"'

$(SIMGUEST): $(SIMGUEST_OBJ) $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ -pthread -lm

all: $(SIMGUEST)

# Unit suites: test_trace links the trace parser alone, test_simguest_held
# the held set alone; test_simguest runs the binary (built first) against
# a host played by the test, and checks the guest's pure helpers directly.
test_trace_DEPS := tools/simguest-obj/trace
test_simguest_held_DEPS := tools/simguest-obj/held
test_simguest_DEPS := tests/unit/sim_host_fixture tools/simguest-obj/ram
$(BUILD)/tests/unit/test_trace.o: \
	CFLAGS += -DSIMGUEST_TRACE_DIR='"$(SIMGUEST_TRACE_DIR)"'
$(BUILD)/tests/unit/test_simguest.o $(BUILD)/tests/unit/sim_host_fixture.o: \
	CFLAGS += -DSIMGUEST_BIN='"$(CURDIR)/$(SIMGUEST)"'
$(BUILD)/tests/unit/test_simguest: | $(SIMGUEST)
