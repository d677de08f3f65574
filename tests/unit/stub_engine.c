// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * STUB, for unit tests only: the policy engine as the control API sees it
 * (daemon/engine.h), so the HTTP suites run the real ctl.c, errors.c and
 * daemon.c without policies, plugins or a timer. The policy resource is a
 * record the stub keeps: it starts as the built-in "static" policy, knows
 * two names ("static" and "shares"), takes any parameters and range, and
 * publishes EV_POLICY_CHANGED on every change. The integration tests run
 * the real engine.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "engine.h"

static struct engine_policy stub_policy = {
	.name = "static",
	.params_json = "{}",
	.overcommit_ratio = 1.0,
	.host_reserve_bytes = 1ull << 30,
	.tick_ms = 1000,
	.available = "static shares",
};

void engine_unstick(struct daemon *d, struct vm *vm)
{
	(void)d;
	(void)vm;
}

void engine_policy_get(struct daemon *d, struct engine_policy *ret)
{
	(void)d;
	*ret = stub_policy;
}

int engine_policy_set(struct daemon *d, const struct engine_policy_update *u,
		      struct error *err)
{
	struct event ev = { .type = EV_POLICY_CHANGED };

	if (u->has_name && strcmp(u->name, "static") != 0 &&
	    strcmp(u->name, "shares") != 0) {
		error_set(err, ERROR_UNPROCESSABLE, "name", u->name,
			  "the stub engine knows static and shares only");
		return -EINVAL;
	}
	if (u->has_name)
		snprintf(stub_policy.name, sizeof(stub_policy.name), "%s",
			 u->name);
	if (u->has_params)
		snprintf(stub_policy.params_json,
			 sizeof(stub_policy.params_json), "%s", u->params_json);
	if (u->has_ratio)
		stub_policy.overcommit_ratio = u->overcommit_ratio;
	if (u->has_reserve)
		stub_policy.host_reserve_bytes = u->host_reserve_bytes;
	if (u->has_tick)
		stub_policy.tick_ms = u->tick_ms;
	snprintf(ev.message, sizeof(ev.message), "policy %s", stub_policy.name);
	event_publish(&d->bus, &ev);
	return 0;
}
