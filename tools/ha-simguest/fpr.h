/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Free page reporting emulation: the baseline HyperAlloc is compared with
 * (virtio-balloon's free page reporting, Linux mm/page_reporting.c).
 *
 * A reporting thread wakes every delay_ms, isolates up to capacity free
 * huge frames that have not been reported yet by allocating them (order 9,
 * on its own allocator core), sends REPORT with their indices, waits for
 * REPORTED (the host has discarded their backing), marks them reported
 * and frees them again. A frame loses its mark when the workload
 * allocates from it. Frames that were already reported, or whose backing
 * the host took by itself (the get says reclaimed), are put back at the
 * end of the round untouched; the gets per round are bounded.
 */
#ifndef SG_FPR_H
#define SG_FPR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ram;
struct link;

struct fpr_config {
	unsigned order; /* only HA_HUGE_ORDER (9) */
	unsigned delay_ms; /* between rounds */
	unsigned capacity; /* frames per REPORT, 1..SIM_REPORT_MAX */
};

/*
 * Parse "ORDER,DELAY_MS,CAPACITY" (the paper's setting is "9,2000,32").
 * Returns 0, or -EINVAL with the reason in @err.
 */
int fpr_parse(const char *s, struct fpr_config *ret_cfg, char *err,
	      size_t errlen);

struct fpr {
	struct fpr_config cfg;
	struct ram *ram;
	struct link *link;
	const atomic_bool *stop;
	unsigned core; /* allocator core of the reporting thread */
	atomic_uchar *reported; /* per huge frame: reported and free since */
	uint64_t *batch, *skip; /* one round's frames */
	unsigned max_gets;
	pthread_t thread;
	bool started;
	atomic_uint_fast64_t reported_frames; /* frames in answered REPORTs */
	atomic_uint_fast64_t discarded; /* frames the host discarded */
	atomic_uint_fast64_t rounds, report_errors;
};

/*
 * Start reporting on allocator core @core until *@stop. Returns 0 or
 * -errno; on error nothing needs fpr_join().
 */
int fpr_start(struct fpr *f, const struct fpr_config *cfg, struct ram *ram,
	      struct link *link, unsigned core, const atomic_bool *stop);

/* Wait for the thread (after *stop was set) and free (NULL allowed). */
void fpr_join(struct fpr *f);

/* The workload allocated @count huge frames from @first on: they are no
 * longer reported. @f may be NULL. */
void fpr_note_alloc(struct fpr *f, uint64_t first, unsigned count);

#endif
