# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests of daemon modules: which objects each suite links.
test_config_DEPS := daemon/config daemon/log daemon/vm
test_safety_DEPS := daemon/safety
