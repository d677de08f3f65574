// SPDX-License-Identifier: GPL-2.0-or-later
/* Soft-reclaim pacing shared by the built-in policies (see pace.h). */
#include "pace.h"

#include <stdio.h>
#include <string.h>

#include "policy_util.h"

int policy_param_bool(const struct ha_policy_param *params, size_t n,
		      const char *key, bool *ret, char *err, size_t err_len)
{
	const char *v = ha_policy_param(params, n, key);

	if (!v)
		return -ENOENT;
	if (strcmp(v, "true") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(v, "false") == 0) {
		*ret = false;
		return 0;
	}
	snprintf(err, err_len, "parameter %s: \"%s\" is not true or false", key,
		 v);
	return -EINVAL;
}

int policy_pace_parse(const struct ha_policy_param *params, size_t n,
		      bool with_switch, bool enabled, uint64_t interval_ms,
		      struct policy_pace *p, char *err, size_t err_len)
{
	int r = 0;

	*p = (struct policy_pace){
	    .enabled = enabled,
	    .interval_ms = interval_ms,
	};
	if (with_switch)
		r = policy_param_opt(policy_param_bool(
		    params, n, "auto_reclaim", &p->enabled, err, err_len));
	if (!r)
		r = policy_param_opt(ha_policy_param_u64(
		    params, n, "interval_ms", 0, POLICY_PACE_MAX_INTERVAL_MS,
		    &p->interval_ms, err, err_len));
	if (!r)
		r = policy_param_opt(ha_policy_param_u64(
		    params, n, "keep_free", 0, POLICY_PACE_MAX_BYTES,
		    &p->keep_free, err, err_len));
	if (!r)
		r = policy_param_opt(ha_policy_param_u64(
		    params, n, "hysteresis", 0, POLICY_PACE_MAX_BYTES,
		    &p->hysteresis, err, err_len));
	return r;
}

bool policy_pace_due(struct policy_pace *p, const struct ha_policy_host *host)
{
	uint64_t now = host->now_ms;
	uint64_t slack = host->tick_ms / 2;

	if (!p->enabled)
		return false;
	/* First tick, or the clock went backwards (a restored state): a
	 * pass now starts the count afresh. */
	if (!p->started || now < p->last_ms ||
	    policy_sat_add(now, slack) >=
		policy_sat_add(p->last_ms, p->interval_ms)) {
		p->started = true;
		p->last_ms = now;
		return true;
	}
	return false;
}

void policy_pace_apply(const struct policy_pace *p, bool due,
		       const struct ha_policy_vm *vm, uint64_t buffer,
		       struct ha_policy_target *t)
{
	uint64_t keep = policy_max(p->keep_free, buffer);
	bool go = due && p->enabled && vm->can_soft_reclaim;

	/* With a hysteresis the backend must tell how much is free and
	 * installed; without one, every due tick is a pass and the backend
	 * keeps the buffer itself. */
	if (go && p->hysteresis)
		go = vm->free_huge_installed_bytes >
		     policy_sat_add(keep, p->hysteresis);
	t->auto_reclaim = go;
	t->keep_free_bytes = go ? keep : 0;
}

void policy_pace_target(const struct policy_pace *p, bool due, bool resize,
			const struct ha_policy_vm *vm, uint64_t size,
			struct ha_policy_target *t)
{
	uint64_t used = policy_min(vm->guest_used_bytes, vm->max_bytes);

	t->target_bytes = resize ? size : vm->max_bytes;
	policy_pace_apply(p, due, vm, policy_sat_sub(size, used), t);
}
