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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "policy.h"

#define POLICY_PACE_MAX_INTERVAL_MS 86400000ull /* one day */
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

/* The knobs above as entries of a parameter table (params.h), for a
 * state struct @type whose struct policy_pace is @member; the _NO_SWITCH
 * variant has no auto_reclaim knob (soft reclaim is always on). A
 * policy's defaults set enabled and interval_ms; keep_free and
 * hysteresis default to 0. */
#define POLICY_PACE_PARAMS_NO_SWITCH(type, member)                            \
	POLICY_PARAM_U64_OF("interval_ms", type, member.interval_ms, 0,       \
			    POLICY_PACE_MAX_INTERVAL_MS),                     \
		POLICY_PARAM_U64_OF("keep_free", type, member.keep_free, 0,   \
				    POLICY_PACE_MAX_BYTES),                   \
		POLICY_PARAM_U64_OF("hysteresis", type, member.hysteresis, 0, \
				    POLICY_PACE_MAX_BYTES)
#define POLICY_PACE_PARAMS(type, member)                            \
	POLICY_PARAM_BOOL_OF("auto_reclaim", type, member.enabled), \
		POLICY_PACE_PARAMS_NO_SWITCH(type, member)

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

#endif
