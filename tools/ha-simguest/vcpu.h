/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The workload: N vCPU threads that hold, between them, the share of the
 * guest's allocatable memory the trace asks for at each moment.
 *
 * vCPU i allocates on allocator core i. Sizes follow a kernel's mix:
 * mostly 4 KiB pages, some orders 1-8, a fair share of order 9 (THP) and
 * rarely order 10. Besides following the target, a vCPU frees and
 * allocates again the trace's churn share of its memory per trace second.
 * It has the host install every huge frame of an allocation that comes
 * back reclaimed before touching it, writes a canary into every 4 KiB
 * frame it holds, and checks the canaries before freeing and in a
 * periodic sample. A lost canary is data the host destroyed.
 *
 * The trace plays in real time (scaled), whether the vCPUs keep up or
 * not: a guest too slow to follow it skips levels. With a paced clock
 * (struct workload_pace, --trace-clock workload) trace time waits for the
 * workload instead: it moves on only once every vCPU holds what the trace
 * asks for at the current position (its target, up to one 4 MiB block
 * above), by the real time since the last step but at most PACE_STEP_NS
 * of it, so a slow guest (a sanitizer build, a loaded host) plays every
 * level of the trace, only later. It also waits while a vCPU cannot get
 * the memory it needs. Churn then counts in trace seconds too, and they
 * go on after the end of the trace (the final level is held, with its
 * churn).
 *
 * What it frees depends on the free pattern. jobs (the default): it
 * allocates into jobs sized like a compiler process (0.5-4 % of guest
 * RAM, at least 4 MiB) and frees whole jobs, the oldest first, as
 * processes exit; memory comes back in groups, as it does from a real
 * build. random: it frees random allocations, which leaves a few live
 * 4 KiB pages in almost every 2 MiB frame.
 */
#ifndef SG_VCPU_H
#define SG_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "held.h"
#include "trace.h"

struct ram;
struct link;
struct fpr;

/* Sizes of the allocations (vcpu.c: the share of bytes per order). */
enum workload_sizes {
	WORKLOAD_SIZES_KERNEL = 0, /* a kernel's mix, 4 KiB to 4 MiB */
	WORKLOAD_SIZES_REPLAY, /* ha-replay's chunks, 64 KiB to 2 MiB */
};

enum workload_free {
	WORKLOAD_FREE_JOBS = 0, /* whole jobs, oldest first */
	WORKLOAD_FREE_RANDOM, /* random allocations */
};

/* The trace clock of a paced workload; see above. */
struct workload_pace {
	pthread_mutex_t lock; /* everything below */
	double pos_s; /* trace time played, not wrapped */
	uint64_t moved_ns; /* when it last moved (vcpu_now_ns()) */
	uint64_t gen; /* steps so far, from 1 */
	unsigned acks; /* vCPUs on target at this step */
};

/* Start a paced clock at trace time 0, now. */
void workload_pace_init(struct workload_pace *p);
void workload_pace_destroy(struct workload_pace *p);

/* What every vCPU shares; read-only while they run (but *pace). */
struct workload {
	struct ram *ram;
	struct link *link;
	struct fpr *fpr; /* NULL without free page reporting */
	struct trace_clock clock; /* its start_ns unused when paced */
	struct workload_pace *pace; /* NULL: the trace plays in real time */
	unsigned vcpus;
	uint64_t bytes; /* what the trace's fractions are of; 0: all managed */
	uint64_t seed;
	enum workload_free free;
	enum workload_sizes sizes;
	const atomic_bool *stop;
};

/* Counters of one vCPU; anyone may read them at any time. */
struct vcpu_stats {
	atomic_uint_fast64_t ops; /* successful gets and puts */
	atomic_uint_fast64_t allocated_bytes; /* held now */
	atomic_uint_fast64_t installs; /* INSTALL requests sent */
	atomic_uint_fast64_t install_ns; /* waiting for INSTALLED */
	atomic_uint_fast64_t install_errors; /* status < 0 but EPROTO */
	atomic_uint_fast64_t dropped; /* huge frames lost to the host */
	atomic_uint_fast64_t canary_checks; /* 4 KiB frames verified */
	atomic_uint_fast64_t canary_mismatches; /* 4 KiB frames lost */
	atomic_uint_fast64_t alloc_failures; /* gets that said HA_ENOMEM */
	atomic_uint_fast64_t errors; /* allocator calls that failed otherwise */
};

struct vcpu {
	const struct workload *wl;
	unsigned index; /* also its allocator core */
	pthread_t thread;
	bool started;
	uint64_t rnd;
	uint64_t seq; /* allocations made */
	struct held held; /* what it holds, oldest first */
	double churn_debt; /* bytes still to turn over */
	double churn_pos_s; /* paced: trace time churn was counted to */
	uint64_t acked_gen; /* paced: last step it was on target at */
	struct vcpu_stats stats;
} __attribute__((aligned(64)));

/* Memory the trace asks the whole workload to hold at @now_ns, with the
 * trace position in *ret_pos_s and whether it is over in *ret_done. */
uint64_t workload_target(const struct workload *wl, uint64_t now_ns,
			 double *ret_pos_s, bool *ret_done);

/* Start vCPU @index. Returns 0 or -errno. */
int vcpu_start(struct vcpu *v, const struct workload *wl, unsigned index);

/* Wait for the thread to end (after *stop was set). */
void vcpu_join(struct vcpu *v);

/*
 * Check the canary of every frame @v holds (after vcpu_join()). Returns
 * the number of mismatching 4 KiB frames; damage not seen before is
 * counted and logged.
 */
uint64_t vcpu_verify_all(struct vcpu *v);

/* Free what vcpu_start() allocated (NULL allowed). */
void vcpu_destroy(struct vcpu *v);

/* Monotonic clock in nanoseconds. */
uint64_t vcpu_now_ns(void);

#endif
