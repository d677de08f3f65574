/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A limit on repeated log lines: at most @burst lines per @interval_usec
 * of a monotonic clock; the others are counted, and the caller prints one
 * summary line ("N more suppressed") per interval in which any were. Pure:
 * the caller passes the time, so tests need no clock.
 */
#ifndef HA_RATELIMIT_H
#define HA_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t interval_usec;
	unsigned burst;
	uint64_t start_usec; /* the current interval's beginning */
	bool started;
	unsigned used; /* lines printed in it */
	uint64_t suppressed; /* lines held back and not yet summarised */
	uint64_t suppressed_total; /* ever */
};

void ratelimit_init(struct ratelimit *rl, unsigned burst,
		    uint64_t interval_usec);

/*
 * May a line be printed at @now_usec? If this begins a new interval and
 * lines were suppressed in an earlier one, *ret_summary gets their number
 * (print the summary before the line) and the count starts again; else 0.
 * A false answer counts the line as suppressed.
 */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_usec,
		     uint64_t *ret_summary);

/* The suppressed lines not yet summarised (0: none), counted from 0 again:
 * for the summary at the end of an interval or when the source goes. */
uint64_t ratelimit_flush(struct ratelimit *rl);

/* When the current interval ends (for a timer that prints the summary). */
uint64_t ratelimit_interval_end(const struct ratelimit *rl);

#endif
