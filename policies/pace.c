// SPDX-License-Identifier: GPL-2.0-or-later
/* Soft-reclaim pacing shared by the built-in policies (see pace.h). */
#include "pace.h"

#include "policy_util.h"

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
