# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests of lib/ and daemon modules: which objects each suite links
# (lib/ itself comes with libhyperalloc).
test_config_DEPS := daemon/config daemon/log daemon/text daemon/vm
test_safety_DEPS := daemon/safety
test_auth_DEPS := daemon/auth
test_plugin_DEPS := daemon/plugin daemon/errors daemon/text

# The host suites (and the pure scan's, which compares with the host's)
# share the recording embedder of tests/unit/host_fixture.c;
# the guest suites the region and bookkeeping of tests/unit/guest_fixture.c.
test_host_DEPS := tests/unit/host_fixture
test_host_hostile_DEPS := tests/unit/host_fixture
test_scan_DEPS := tests/unit/host_fixture
test_guest_DEPS := tests/unit/guest_fixture
test_guest_reclaimed_DEPS := tests/unit/guest_fixture
test_guest_concurrency_DEPS := tests/unit/guest_fixture
test_text_DEPS := daemon/text
test_guest_kernel_DEPS := tests/unit/guest_fixture tests/unit/host_fixture
test_state_DEPS := daemon/state
test_ratelimit_DEPS := daemon/ratelimit
