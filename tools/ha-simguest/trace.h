/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Workload traces: how much of its RAM a simulated guest's workload holds
 * over time, and how fast that memory turns over.
 *
 * A trace file is text, one point per line:
 *
 *   # comment
 *   time_s  fraction  churn_per_s
 *
 * time_s (>= 0, never decreasing) is trace time in seconds; fraction (0..1)
 * is the share of the guest's allocatable memory the workload holds at
 * that time; churn_per_s (>= 0) is the share of the held memory freed and
 * allocated again per trace second. Between points both values are
 * interpolated linearly; two points with the same time make a step. Before
 * the first point the first values hold, after the last the last ones.
 * The trace's length is the time of its last point.
 *
 * Pure module: no logging, no global state.
 */
#ifndef SG_TRACE_H
#define SG_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trace_point {
	double t_s; /* trace time, seconds */
	double fraction; /* of allocatable memory, 0..1 */
	double churn; /* of held memory per trace second, >= 0 */
};

struct trace {
	struct trace_point *points; /* sorted by time, at least one */
	size_t count;
};

struct trace_sample {
	double fraction;
	double churn;
};

/*
 * Parse the trace text @text of @len bytes (need not be NUL-terminated).
 * Returns 0 with *ret_trace filled (free with trace_free()); -EINVAL for
 * a malformed trace, with "line N: reason" (or "no points") in @err;
 * -ENOMEM.
 */
int trace_parse(const char *text, size_t len, struct trace *ret_trace,
		char *err, size_t errlen);

/*
 * Read and parse the trace file @path. Returns 0, -errno if the file
 * cannot be read (reason in @err), or an error of trace_parse() (with
 * "PATH:N: reason" in @err).
 */
int trace_load(const char *path, struct trace *ret_trace, char *err,
	       size_t errlen);

/*
 * Find the file for trace @name: a name with a '/' is a path; otherwise
 * DIR/NAME.trace, then DIR/NAME, then NAME relative to the working
 * directory. Writes the path to @ret_path. Returns 0, -ENOENT if none
 * exists, -ENAMETOOLONG.
 */
int trace_resolve(const char *name, const char *dir, char *ret_path,
		  size_t len);

/* Release the points of @t (NULL allowed). */
void trace_free(struct trace *t);

/* Time of the last point, seconds. */
double trace_length(const struct trace *t);

/* The interpolated values at trace time @pos_s. */
struct trace_sample trace_at(const struct trace *t, double pos_s);

/*
 * A trace replayed in real time: @scale trace seconds per real second,
 * from @start_ns on, optionally looping.
 */
struct trace_clock {
	const struct trace *trace;
	uint64_t start_ns;
	double scale;
	bool loop;
};

/*
 * Trace position at real time @now_ns (monotonic ns). Without looping the
 * position stops at the trace's end and *ret_done becomes true there;
 * with looping it wraps and *ret_done stays false.
 */
double trace_clock_pos(const struct trace_clock *c, uint64_t now_ns,
		       bool *ret_done);

/*
 * The same for @pos seconds of trace time played so far, however they
 * were counted (a clock that waits for the workload, vcpu.h): wrapped
 * when looping, else stopped at the end with *ret_done true there.
 */
double trace_clock_wrap(const struct trace_clock *c, double pos,
			bool *ret_done);

#endif
