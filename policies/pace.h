/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Soft-reclaim pacing shared by the built-in policies: when to ask the
 * engine for a soft reclaim pass (auto_reclaim in struct
 * ha_policy_target) and how much free memory to keep installed.
 *
 * Knobs (the same names in every policy that has them):
 *   auto_reclaim  bool   soft-reclaim at all (the auto-reclaim policy
 *                        always does and has no such knob)
 *   interval_ms   ms     a pass at most this often; 0: every tick
 *   keep_free     bytes  free huge frames left installed as a buffer (a
 *                        policy may ask for more, see policy_pace_apply)
 *   hysteresis    bytes  0: a pass whenever due (HyperAlloc's behaviour);
 *                        else only when more than keep_free + hysteresis
 *                        is free and installed, then down to keep_free
 * Pure: the time comes from struct ha_policy_host.now_ms.
 */
#ifndef HA_POLICY_PACE_H
#define HA_POLICY_PACE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define POLICY_PACE_MAX_INTERVAL_MS 86400000ull	 /* one day */
#define POLICY_PACE_MAX_BYTES	    (1ull << 50) /* 1 PiB */

struct policy_pace {
	bool enabled;
	uint64_t interval_ms;
	uint64_t keep_free;
	uint64_t hysteresis;
	/* state */
	bool started;
	uint64_t last_ms; /* now_ms of the last pass */
};

/*
 * Fill @p from @params: defaults first (@enabled, @interval_ms, keep_free
 * and hysteresis 0), then the knobs above; @with_switch says whether the
 * auto_reclaim knob exists. 0, or -EINVAL with a sentence in @err.
 */
int policy_pace_parse(const struct ha_policy_param *params, size_t n,
		      bool with_switch, bool enabled, uint64_t interval_ms,
		      struct policy_pace *p, char *err, size_t err_len);

/* Is a pass due at this tick? Records the pass when it is. A tick
 * within half a tick of the interval counts (timers drift late). */
bool policy_pace_due(struct policy_pace *p, const struct ha_policy_host *host);

/* Set auto_reclaim and keep_free_bytes of @t for @vm on a tick where a
 * pass is @due or not. The buffer kept is the larger of keep_free and
 * @buffer, the free memory the policy itself wants installed (0: none). */
void policy_pace_apply(const struct policy_pace *p, bool due,
		       const struct ha_policy_vm *vm, uint64_t buffer,
		       struct ha_policy_target *t);

/*
 * The decision of a policy that sizes @vm to @size: the logical target is
 * @size when @resize, else the VM's max; soft reclaim keeps installed
 * what @size allows above the memory the guest uses.
 */
void policy_pace_target(const struct policy_pace *p, bool due, bool resize,
			const struct ha_policy_vm *vm, uint64_t size,
			struct ha_policy_target *t);

/* A boolean parameter ("true" / "false"): 0, -ENOENT, or -EINVAL with a
 * message in @err. */
int policy_param_bool(const struct ha_policy_param *params, size_t n,
		      const char *key, bool *ret, char *err, size_t err_len);

/* A parameter that is absent keeps its default: -ENOENT becomes 0. */
static inline int policy_param_opt(int r)
{
	return r == -ENOENT ? 0 : r;
}

#endif
