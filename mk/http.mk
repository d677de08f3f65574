# SPDX-License-Identifier: GPL-2.0-or-later
#
# The HTTP API (daemon/http/: server, routes, JSON, SSE, metrics), hactl,
# the OpenAPI document embedded in the daemon, and their unit suites.

DAEMON_SRC += $(wildcard daemon/http/*.c)

HACTL := $(BUILD)/tools/hactl

HACTL_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

HACTL_OBJ := $(addprefix $(BUILD)/tools/,hactl.o hactl_output.o hactl_sse.o \
	http_client.o)

$(HACTL): $(HACTL_OBJ) $(LIBHA)
	$(Q)$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(HACTL_LIBS) $(LDLIBS)

all: $(HACTL)

# http/routes.c embeds docs/openapi.yaml with .incbin (path relative to the
# top directory, where make runs the compiler); -MMD cannot see that.
$(BUILD)/daemon/http/routes.o: docs/openapi.yaml

# http/dashboard.c embeds the dashboard's files the same way, uPlot's from
# the npm install of mk/npm.mk.
DASHBOARD_FILES := $(addprefix daemon/http/dashboard/,index.html app.js app.css)
DASHBOARD_UPLOT_DIR := $(NPM_DIR)/dashboard/node_modules/uplot/dist
$(BUILD)/daemon/http/dashboard.o: $(DASHBOARD_FILES) $(NPM_DASHBOARD)
$(BUILD)/daemon/http/dashboard.o: \
	CFLAGS += -DDASHBOARD_UPLOT_DIR='"$(DASHBOARD_UPLOT_DIR)"'

# The suites run the real control API (ctl, errors, daemon: steering,
# the state file) over the real registry and event bus; the engine and
# the host's /proc are stubbed (tests/unit/stub_engine.c, stub_host.c),
# and the fixture's VMs have a recording backend (http_fixture.c).
HTTP_TEST_BASE := daemon/http/json daemon/errors daemon/log daemon/text daemon/vm \
	daemon/events
HTTP_TEST_CTL := daemon/ctl daemon/commit daemon/daemon daemon/plugin daemon/state tests/unit/stub_host \
	tests/unit/stub_engine
# The metrics name every reason code of the built-in policies.
HTTP_TEST_POLICIES := $(patsubst %.c,%,$(POLICY_SRC))
HTTP_TEST_API := daemon/http/routes daemon/http/dashboard daemon/http/sse \
	daemon/http/metrics \
	$(HTTP_TEST_CTL) $(HTTP_TEST_BASE) $(HTTP_TEST_POLICIES)

test_json_DEPS := $(HTTP_TEST_BASE)
# The group commit publishes its errors through daemon.c.
test_commit_DEPS := $(HTTP_TEST_CTL) $(HTTP_TEST_BASE) $(HTTP_TEST_POLICIES)
test_http_head_DEPS := daemon/http/head
test_routes_DEPS := $(HTTP_TEST_API)
test_metrics_DEPS := daemon/http/metrics $(HTTP_TEST_CTL) $(HTTP_TEST_BASE) \
	$(HTTP_TEST_POLICIES)
test_http_DEPS := tests/unit/http_fixture daemon/http/server daemon/http/gate \
	daemon/http/head daemon/listen \
	daemon/auth $(HTTP_TEST_API)
test_http_sse_DEPS := $(test_http_DEPS)
test_http_start_DEPS := $(test_http_DEPS)
test_hactl_DEPS := $(test_http_DEPS)

# test_hactl runs the hactl of the same build.
$(BUILD)/tests/unit/test_hactl.o: CFLAGS += -DHACTL_BIN='"$(CURDIR)/$(HACTL)"'
$(BUILD)/tests/unit/test_hactl: | $(HACTL)
