/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's safety rules, whatever the policy decided: a pure function
 * over arrays, so it is tested table by table without a daemon.
 *
 * In order:
 *  1. every target within [min, max];
 *  2. dead band: a policy change smaller than dead_band is ignored;
 *  3. rate limit: a policy target moves at most max_step per tick;
 *  4. the sum of all targets never exceeds the host's memory minus the
 *     reserve (usable_bytes): policy targets above their min give way in
 *     proportion to how far above it they are;
 *  5. donors before receivers: policy growth this tick is bounded by the
 *     memory the host has available now (grow_budget), shared in
 *     proportion to what each VM asked;
 *  6. stuck VMs: a VM whose distance to its target has not shrunk for
 *     stuck_after_ms is marked stuck and left alone for stuck_holdoff_ms.
 * Manual targets (set by an operator) skip 2, 3, 4 and 5: they are fixed
 * points the policy targets are fitted around.
 */
#ifndef HA_SAFETY_H
#define HA_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct safety_params {
	uint64_t dead_band; /* bytes */
	uint64_t max_step; /* bytes per tick, 0 = unlimited */
	uint64_t usable_bytes; /* host total - reserve */
	uint64_t grow_budget; /* host available - reserve */
	uint64_t now_ms;
	uint64_t stuck_after_ms;
	uint64_t stuck_holdoff_ms;
};

struct safety_vm {
	/* in */
	uint64_t min, max;
	uint64_t target; /* the target in force now (in: old, out: new) */
	uint64_t current; /* logical size now */
	uint64_t want; /* what the policy (or the operator) asks */
	bool manual;
	/* kept between ticks by the caller */
	uint64_t last_gap; /* |target - current| at the last progress */
	uint64_t progress_ms; /* when the gap last shrank */
	uint64_t stuck_until_ms; /* 0: not stuck */
	/* out */
	uint64_t next; /* scratch: the new target while rules run */
	bool became_stuck, became_unstuck;
	bool squeezed; /* rule 4 lowered this target */
};

static inline bool safety_stuck(const struct safety_vm *v)
{
	return v->stuck_until_ms != 0;
}

void safety_apply(const struct safety_params *p, struct safety_vm *vms,
		  size_t n);

#endif
