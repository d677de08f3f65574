// SPDX-License-Identifier: GPL-2.0-or-later
/* Progress toward a target (pure; see progress.h). */
#include "libvirt/progress.h"

static uint64_t gap(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

void lv_progress_start(struct lv_progress *p, uint64_t target, uint64_t current,
		       uint64_t now)
{
	p->active = true;
	p->target_bytes = target;
	p->from_bytes = current;
	p->start_usec = now;
}

enum lv_progress_result lv_progress_step(struct lv_progress *p,
					 uint64_t current, uint64_t tolerance)
{
	if (!p->active)
		return LV_PROGRESS_IDLE;
	if (gap(current, p->target_bytes) > tolerance)
		return LV_PROGRESS_MOVING;
	p->active = false;
	return LV_PROGRESS_REACHED;
}

uint64_t lv_progress_moved(const struct lv_progress *p, uint64_t current)
{
	return gap(p->from_bytes, current);
}
