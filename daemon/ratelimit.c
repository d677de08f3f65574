// SPDX-License-Identifier: GPL-2.0-or-later
#include "ratelimit.h"

void ratelimit_init(struct ratelimit *rl, unsigned burst,
		    uint64_t interval_usec)
{
	*rl = (struct ratelimit){ .interval_usec = interval_usec,
				  .burst = burst };
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_usec,
		     uint64_t *ret_summary)
{
	*ret_summary = 0;
	if (!rl->started || now_usec < rl->start_usec ||
	    now_usec - rl->start_usec >= rl->interval_usec) {
		*ret_summary = ratelimit_flush(rl);
		rl->started = true;
		rl->start_usec = now_usec;
		rl->used = 0;
	}
	if (rl->used < rl->burst) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	rl->suppressed_total++;
	return false;
}

uint64_t ratelimit_flush(struct ratelimit *rl)
{
	uint64_t n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}

uint64_t ratelimit_interval_end(const struct ratelimit *rl)
{
	return rl->start_usec + rl->interval_usec;
}
