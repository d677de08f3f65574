# SPDX-License-Identifier: GPL-2.0-or-later
#
# policies/: the built-in policies are linked into the daemon by the
# top Makefile (policies/*.c). Here: the out-of-tree example plugins in
# policies/examples/ (one shared object each, loaded with dlopen), the
# deliberately broken variants of half_idle the integration tests load,
# and the unit suite of the built-ins.

POLICY_PLUGIN_SRC := $(wildcard policies/examples/*.c)
POLICY_PLUGINS := $(patsubst policies/examples/%.c,\
	$(BUILD)/policies/examples/%.so,$(POLICY_PLUGIN_SRC))
PLUGIN_CFLAGS = $(CFLAGS) -Ipolicies -fPIC -fvisibility=hidden

$(BUILD)/policies/examples/%.so: policies/examples/%.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,SO,$@)$(CC) $(PLUGIN_CFLAGS) -shared -o $@ $< $(LDFLAGS)

# Broken on purpose (tests/integration/test_policies.py): a wrong ABI
# version, no ha_policy_ops symbol, an init that always fails.
HALF_IDLE_BROKEN_badabi := -DHALF_IDLE_BAD_ABI
HALF_IDLE_BROKEN_nosym := -DHALF_IDLE_NO_SYMBOL
HALF_IDLE_BROKEN_initfail := -DHALF_IDLE_INIT_FAILS
POLICY_BROKEN := $(patsubst %,$(BUILD)/policies/examples/broken/half_idle_%.so,\
	badabi nosym initfail)

$(BUILD)/policies/examples/broken/half_idle_%.so: policies/examples/half_idle.c
	@mkdir -p $(dir $@)
	$(Q)$(call msg,SO,$@)$(CC) $(PLUGIN_CFLAGS) $(HALF_IDLE_BROKEN_$*) \
		-shared -o $@ $< $(LDFLAGS)

all: $(POLICY_PLUGINS) $(POLICY_BROKEN)

# The unit suite links every built-in policy and nothing of the daemon.
test_policies_DEPS := $(patsubst %.c,%,$(POLICY_SRC))
