/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine: every tick it refreshes each VM, hands a snapshot to
 * the active policy's decide(), applies the safety rules and steers the
 * backends. It also steers a single VM at once when an operator changes
 * it through the API.
 */
#ifndef HA_ENGINE_H
#define HA_ENGINE_H

#include <stdint.h>

#include "ctl.h"

struct daemon;
struct vm;

/* Create the engine with the policy named in the config and start its
 * timer. On error *err says why (unknown policy, bad parameters). */
int engine_start(struct daemon *d, struct ctl_error *err);
void engine_stop(struct daemon *d);

/* Move @vm to its effective target now: the manual target if pinned,
 * else the policy's; clamped to [min, max]. A VM that cannot be steered
 * now (migrating, stopped) gets the target recorded, applied later;
 * a quarantined one is left alone. */
void engine_steer(struct daemon *d, struct vm *vm);

/* An operator changed @vm's settings: if it was stuck, it is not any
 * more; the stuck clock starts again. */
void engine_unstick(struct daemon *d, struct vm *vm);

/* Policy resource (GET|PUT /policy). set validates everything first and
 * keeps the running policy on any error. */
void engine_policy_get(struct daemon *d, struct ctl_policy *ret);
int engine_policy_set(struct daemon *d, const struct ctl_policy_update *u,
		      struct ctl_error *err);

/* Run one tick now (tests, SIGHUP). */
void engine_tick_now(struct daemon *d);


#endif
