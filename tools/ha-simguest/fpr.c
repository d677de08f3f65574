// SPDX-License-Identifier: GPL-2.0-or-later
#include "fpr.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "link.h"
#include "log.h"
#include "ram.h"

#define SLEEP_SLICE_MS 20u
#define PUT_RETRIES    1000u

int fpr_parse(const char *s, struct fpr_config *ret_cfg, char *err,
	      size_t errlen)
{
	unsigned long v[3];
	const char *p = s;
	char *end;

	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v[i] = strtoul(p, &end, 10);
		if (errno || v[i] > 1000000000ul)
			goto bad;
		p = end;
		if (i < 2 && *p++ != ',')
			goto bad;
	}
	if (*p)
		goto bad;
	if (v[0] != HA_HUGE_ORDER) {
		snprintf(err, errlen,
			 "--fpr: order %lu is not supported: only order %u "
			 "(2 MiB, the paper's setting) can be reported",
			 v[0], HA_HUGE_ORDER);
		return -EINVAL;
	}
	if (v[1] == 0) {
		snprintf(err, errlen, "--fpr: delay must be at least 1 ms");
		return -EINVAL;
	}
	if (v[2] == 0 || v[2] > SIM_REPORT_MAX) {
		snprintf(err, errlen, "--fpr: capacity %lu is outside 1..%u",
			 v[2], SIM_REPORT_MAX);
		return -EINVAL;
	}
	*ret_cfg = (struct fpr_config){ .order = (unsigned)v[0],
					.delay_ms = (unsigned)v[1],
					.capacity = (unsigned)v[2] };
	return 0;

bad:
	snprintf(
		err, errlen,
		"--fpr: \"%s\" is not ORDER,DELAY_MS,CAPACITY (e.g. 9,2000,32)",
		s);
	return -EINVAL;
}

void fpr_note_alloc(struct fpr *f, uint64_t first, unsigned count)
{
	if (!f)
		return;
	for (unsigned i = 0; i < count; i++)
		if (atomic_load_explicit(&f->reported[first + i],
					 memory_order_relaxed))
			atomic_store_explicit(&f->reported[first + i], 0,
					      memory_order_relaxed);
}

static void put_huge(struct fpr *f, uint64_t huge)
{
	int r = HA_EAGAIN;

	for (unsigned i = 0; i < PUT_RETRIES && r == HA_EAGAIN; i++) {
		r = ha_guest_put(&f->ram->guest, f->core,
				 ha_huge_to_frame(ha_huge(huge)),
				 HA_HUGE_ORDER);
		if (r == HA_EAGAIN)
			sched_yield();
	}
	if (r < 0)
		sg_err("fpr: freeing huge frame %" PRIu64 ": %s", huge,
		       ha_strerror(r));
}

static void round_once(struct fpr *f)
{
	unsigned nbatch = 0, nskip = 0, gets = 0;
	uint32_t discarded = 0;
	int r;

	while (nbatch < f->cfg.capacity && gets < f->max_gets &&
	       !atomic_load(f->stop)) {
		ha_frame_t frame;
		bool reclaimed = false;
		uint64_t huge;

		r = ha_guest_get(&f->ram->guest, f->core, HA_HUGE_ORDER, 0,
				 &frame, &reclaimed);
		gets++;
		if (r == HA_ENOMEM)
			break;
		if (r < 0) {
			sg_err("fpr: ha_guest_get(order %u): %s", HA_HUGE_ORDER,
			       ha_strerror(r));
			break;
		}
		huge = ha_frame_to_huge(frame).v;
		if (reclaimed) {
			/* The host already discarded it (HyperAlloc soft
			 * reclaim): nothing to report, nothing touched. */
			atomic_store(&f->reported[huge], 1);
			f->skip[nskip++] = huge;
		} else if (atomic_load(&f->reported[huge])) {
			f->skip[nskip++] = huge;
		} else {
			f->batch[nbatch++] = huge;
		}
	}
	atomic_fetch_add(&f->rounds, 1);
	if (nbatch) {
		r = link_report(f->link, f->batch, nbatch, &discarded);
		if (r == 0) {
			/* Mark while still holding them: an allocation after
			 * the put below clears the mark again. */
			for (unsigned i = 0; i < nbatch; i++)
				atomic_store(&f->reported[f->batch[i]], 1);
			atomic_fetch_add(&f->reported_frames, nbatch);
			atomic_fetch_add(&f->discarded, discarded);
		} else if (r != -ECANCELED && r != -ETIMEDOUT) {
			atomic_fetch_add(&f->report_errors, 1);
			sg_warn("fpr: REPORT of %u frames: %s", nbatch,
				strerror(-r));
		}
	}
	for (unsigned i = 0; i < nbatch; i++)
		put_huge(f, f->batch[i]);
	for (unsigned i = 0; i < nskip; i++)
		put_huge(f, f->skip[i]);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000l };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *fpr_main(void *arg)
{
	struct fpr *f = arg;

	while (!atomic_load(f->stop)) {
		/* Sleep in slices so that a stop is seen quickly. */
		for (unsigned t = 0;
		     t < f->cfg.delay_ms && !atomic_load(f->stop);
		     t += SLEEP_SLICE_MS)
			sleep_ms(f->cfg.delay_ms - t < SLEEP_SLICE_MS ?
					 f->cfg.delay_ms - t :
					 SLEEP_SLICE_MS);
		if (!atomic_load(f->stop))
			round_once(f);
	}
	return NULL;
}

int fpr_start(struct fpr *f, const struct fpr_config *cfg, struct ram *ram,
	      struct link *link, unsigned core, const atomic_bool *stop)
{
	uint64_t children = ram->guest.layout.children;
	int r;

	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->ram = ram;
	f->link = link;
	f->core = core;
	f->stop = stop;
	/* Enough gets to look past the frames reported last round; the
	 * reporter's reservation moves on through the trees from round to
	 * round, so every free frame comes up eventually. */
	f->max_gets = 4 * cfg->capacity + 64;
	f->reported = calloc(children, sizeof(*f->reported));
	f->batch = calloc(cfg->capacity, sizeof(*f->batch));
	f->skip = calloc(f->max_gets, sizeof(*f->skip));
	if (!f->reported || !f->batch || !f->skip) {
		r = -ENOMEM;
		goto cleanup;
	}
	r = -pthread_create(&f->thread, NULL, fpr_main, f);
	if (r < 0)
		goto cleanup;
	f->started = true;
	return 0;

cleanup:
	fpr_join(f);
	return r;
}

void fpr_join(struct fpr *f)
{
	if (!f)
		return;
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = false;
	free(f->reported);
	free(f->batch);
	free(f->skip);
	f->reported = NULL;
	f->batch = NULL;
	f->skip = NULL;
}
