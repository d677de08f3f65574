/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A target on its way: pure bookkeeping of one move of a VM's logical
 * size. Whether a VM that does not get there is "stuck" is the engine's
 * call (daemon/safety.h, the same rule for every backend); the tracker
 * reports when a target is reached, with how long it took.
 */
#ifndef HA_LIBVIRT_PROGRESS_H
#define HA_LIBVIRT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct lv_progress {
	bool active;
	uint64_t target_bytes;
	uint64_t from_bytes;
	uint64_t start_usec;
};

enum lv_progress_result {
	LV_PROGRESS_IDLE = 0, /* no target being tracked */
	LV_PROGRESS_MOVING, /* not there yet */
	LV_PROGRESS_REACHED, /* within the tolerance: done (reported once) */
};

/* Start tracking a move from @current to @target at @now (any clock the
 * caller keeps using). Replaces a move under way. */
void lv_progress_start(struct lv_progress *p, uint64_t target, uint64_t current,
		       uint64_t now);

/* Feed the size now: IDLE if no move is tracked, MOVING while @current is
 * more than @tolerance away from the target, REACHED once it is within
 * (the move then ends: the next step says IDLE). */
enum lv_progress_result lv_progress_step(struct lv_progress *p,
					 uint64_t current, uint64_t tolerance);

/* Bytes between where the move started and @current (either way). */
uint64_t lv_progress_moved(const struct lv_progress *p, uint64_t current);

#endif
