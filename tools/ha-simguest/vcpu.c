// SPDX-License-Identifier: GPL-2.0-or-later
#include "vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canary.h"
#include "fpr.h"
#include "link.h"
#include "log.h"
#include "ram.h"

#define BATCH		256 /* allocator calls between looks at the clock */
#define IDLE_NS		5000000ull /* nap: at the target, no churn due */
#define BACKOFF_NS	2000000ull /* after ENOMEM or a failed install */
#define SAMPLE_EVERY_NS 100000000ull /* periodic canary sample */
#define SAMPLE_ALLOCS	8
#define PUT_RETRIES	1000u
#define PACE_STEP_NS	20000000ull /* paced clock: most real time per step */
#define LOG_MISMATCHES	20 /* allocations with lost data described */
#define MAX_BLOCK	((uint64_t)HA_FRAME_SIZE << HA_MAX_ORDER)
/* Jobs: a compiler process in a 16 GiB VM holds about 80-650 MiB. */
#define JOB_MIN_SHARE 0.005
#define JOB_MAX_SHARE 0.04
#define JOB_MIN_BYTES (4ull << 20)

/*
 * Share of the allocated bytes per order, as a kernel under a build-like
 * load sees it: 4 KiB pages, some small multi-page allocations, a fair
 * share of transparent huge pages, rarely a 4 MiB block.
 */
static const double kernel_bytes_share[HA_MAX_ORDER + 1] = {
	[0] = 0.30,  [1] = 0.025, [2] = 0.025, [3] = 0.025,
	[4] = 0.025, [5] = 0.025, [6] = 0.025, [7] = 0.025,
	[8] = 0.025, [9] = 0.45,  [10] = 0.05,
};

/*
 * --alloc-sizes replay: the chunks of guestmod/workloads/ha-replay, which
 * maps a quarter of its chunks as 2 MiB transparent huge pages and the
 * rest as 16 to 255 pages (uniform), each taken by one program at once
 * and so from one frame: in bytes 56 % huge, and the small ones' bytes
 * by the power of two below their length.
 */
static const double replay_bytes_share[HA_MAX_ORDER + 1] = {
	[4] = 0.005, [5] = 0.021, [6] = 0.083, [7] = 0.331, [9] = 0.56,
};

static atomic_uint_fast64_t mismatches_logged, install_warnings;

/* Log the first problems of a kind, then every 1000th. */
static bool worth_logging(atomic_uint_fast64_t *count)
{
	uint64_t n = atomic_fetch_add(count, 1);

	return n < 20 || n % 1000 == 0;
}

uint64_t vcpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

static void stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void stat_sub(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

/* ---- random numbers: xorshift64* ---- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(uint64_t *s, size_t n)
{
	return (size_t)((rnd_next(s) >> 11) % n);
}

/* Uniform in [0, 1). */
static double rnd_unit(uint64_t *s)
{
	return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

static unsigned pick_order(uint64_t *s, enum workload_sizes sizes)
{
	const double *share = sizes == WORKLOAD_SIZES_REPLAY ?
				      replay_bytes_share :
				      kernel_bytes_share;
	double w[HA_MAX_ORDER + 1], sum = 0, x;

	/* Count weight = byte share / size. */
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++) {
		w[o] = share[o] / (double)(1u << o);
		sum += w[o];
	}
	x = rnd_unit(s) * sum;
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++) {
		if (x < w[o])
			return o;
		x -= w[o];
	}
	return 0;
}

/* ---- the trace clock and the targets ---- */

void workload_pace_init(struct workload_pace *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->moved_ns = vcpu_now_ns();
	p->gen = 1;
}

void workload_pace_destroy(struct workload_pace *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* Trace time played at @now_ns, not wrapped, and the paced clock's step
 * (0 in real time). */
static double played(const struct workload *wl, uint64_t now_ns,
		     uint64_t *ret_gen)
{
	struct workload_pace *p = wl->pace;
	double pos;

	if (!p) {
		*ret_gen = 0;
		if (now_ns <= wl->clock.start_ns)
			return 0;
		return (double)(now_ns - wl->clock.start_ns) / 1e9 *
		       wl->clock.scale;
	}
	pthread_mutex_lock(&p->lock);
	pos = p->pos_s;
	*ret_gen = p->gen;
	pthread_mutex_unlock(&p->lock);
	return pos;
}

static uint64_t target_at(const struct workload *wl, double played_s,
			  double *ret_pos_s, bool *ret_done)
{
	double pos = trace_clock_wrap(&wl->clock, played_s, ret_done);
	struct trace_sample s = trace_at(wl->clock.trace, pos);
	uint64_t all = wl->ram->geo.frames << HA_FRAME_SHIFT;
	double managed =
		(double)(wl->bytes && wl->bytes < all ? wl->bytes : all);

	*ret_pos_s = pos;
	return (uint64_t)(s.fraction * managed);
}

uint64_t workload_target(const struct workload *wl, uint64_t now_ns,
			 double *ret_pos_s, bool *ret_done)
{
	uint64_t gen;

	return target_at(wl, played(wl, now_ns, &gen), ret_pos_s, ret_done);
}

/*
 * Paced clock: @v holds its target of step @gen. The last vCPU to say so
 * for a step moves trace time on, by the real time since the last step
 * but at most PACE_STEP_NS: however long everyone was descheduled, the
 * target moves by one small step and is reached before the next.
 */
static void pace_ack(struct vcpu *v, uint64_t gen)
{
	struct workload_pace *p = v->wl->pace;

	if (gen == v->acked_gen)
		return;
	v->acked_gen = gen;
	pthread_mutex_lock(&p->lock);
	if (p->gen == gen && ++p->acks == v->wl->vcpus) {
		uint64_t now = vcpu_now_ns();
		uint64_t dt = now > p->moved_ns ? now - p->moved_ns : 0;

		if (dt > PACE_STEP_NS)
			dt = PACE_STEP_NS;
		p->pos_s += (double)dt / 1e9 * v->wl->clock.scale;
		p->moved_ns = now;
		p->gen++;
		p->acks = 0;
	}
	pthread_mutex_unlock(&p->lock);
}

static unsigned alloc_children(unsigned order)
{
	return order == HA_MAX_ORDER ? 2 : 1;
}

/* ---- canaries ---- */

static void write_canaries(struct vcpu *v, const struct held_alloc *a)
{
	struct ram *ram = v->wl->ram;

	for (uint64_t f = a->frame; f < a->frame + (1ull << a->order); f++)
		canary_write(ram_frame(ram, f), a->tag, f);
}

/*
 * Check every frame of @a; returns the frames whose canary is gone. An
 * allocation found damaged is counted (and logged) once, not again at
 * each later check.
 */
static uint64_t check_canaries(struct vcpu *v, struct held_alloc *a,
			       const char *when)
{
	struct ram *ram = v->wl->ram;
	uint64_t n = 1ull << a->order, bad = 0, first = 0, found = 0, want = 0;

	for (uint64_t f = a->frame; f < a->frame + n; f++) {
		uint64_t fo, wo;

		if (canary_check(ram_frame(ram, f), a->tag, f, &fo, &wo))
			continue;
		if (!bad++) {
			first = f;
			found = fo;
			want = wo;
		}
	}
	stat_add(&v->stats.canary_checks, n);
	if (!bad || a->damaged)
		return bad;
	a->damaged = true;
	stat_add(&v->stats.canary_mismatches, bad);
	if (atomic_fetch_add(&mismatches_logged, 1) < LOG_MISMATCHES)
		sg_err("canary mismatch (%s): vCPU %u, order-%u allocation "
		       "at frame %" PRIu64 ": %" PRIu64 " of %" PRIu64
		       " frames lost, first frame %" PRIu64
		       " (huge frame %" PRIu64 ", memfd offset 0x%" PRIx64
		       "): found %016" PRIx64 ", want %016" PRIx64
		       ": the host destroyed guest data",
		       when, v->index, a->order, a->frame, bad, n, first,
		       first >> HA_HUGE_ORDER,
		       (ram->geo.base_frame + first) << HA_FRAME_SHIFT, found,
		       want);
	return bad;
}

/* ---- allocator calls ---- */

static int put(struct vcpu *v, uint64_t frame, unsigned order)
{
	int r = HA_EAGAIN;

	for (unsigned i = 0; i < PUT_RETRIES && r == HA_EAGAIN; i++) {
		r = ha_guest_put(&v->wl->ram->guest, v->index, ha_frame(frame),
				 order);
		if (r == HA_EAGAIN)
			sched_yield();
	}
	if (r < 0) {
		stat_add(&v->stats.errors, 1);
		sg_err("vCPU %u: freeing order-%u frame %" PRIu64 ": %s",
		       v->index, order, frame, ha_strerror(r));
		return r;
	}
	stat_add(&v->stats.ops, 1);
	return 0;
}

/*
 * Have the host install every huge frame under the fresh allocation @a.
 * Returns 0 when all are installed. Otherwise the allocation was never
 * touched and is undone here: huge frames the host answered HA_EPROTO
 * for now belong to the host and are dropped without freeing; the rest
 * goes back to the allocator. Returns the first error.
 */
static int install(struct vcpu *v, const struct held_alloc *a)
{
	unsigned n = alloc_children(a->order);
	uint64_t first = a->frame >> HA_HUGE_ORDER;
	int status[2], r = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = vcpu_now_ns();

		status[i] = link_install(v->wl->link, first + i);
		if (status[i] != -ECANCELED) {
			stat_add(&v->stats.installs, 1);
			stat_add(&v->stats.install_ns, vcpu_now_ns() - t0);
		}
		if (status[i] < 0 && !r)
			r = status[i];
	}
	if (!r)
		return 0;

	for (unsigned i = 0; i < n; i++) {
		if (status[i] == HA_EPROTO) {
			stat_add(&v->stats.dropped, 1);
			sg_warn("vCPU %u: the host owns huge frame %" PRIu64
				" now (install refused: %s); dropping it",
				v->index, first + i, ha_strerror(status[i]));
		} else if (status[i] < 0 && status[i] != -ECANCELED &&
			   status[i] != -ETIMEDOUT) {
			stat_add(&v->stats.install_errors, 1);
			if (worth_logging(&install_warnings))
				sg_warn("vCPU %u: install of huge frame %" PRIu64
					": %s",
					v->index, first + i,
					status[i] == -ENOTCONN ?
						"connection lost" :
						ha_strerror(status[i]));
		}
	}
	if (a->order < HA_MAX_ORDER) {
		if (status[0] != HA_EPROTO)
			put(v, a->frame, a->order);
	} else {
		for (unsigned i = 0; i < n; i++)
			if (status[i] != HA_EPROTO)
				put(v,
				    a->frame + ((uint64_t)i << HA_HUGE_ORDER),
				    HA_HUGE_ORDER);
	}
	return r;
}

/* Size of a new job: uniform in [JOB_MIN_SHARE, JOB_MAX_SHARE] of the
 * managed RAM, at least JOB_MIN_BYTES. */
static uint64_t job_size(struct vcpu *v)
{
	double managed = (double)(v->wl->ram->geo.frames << HA_FRAME_SHIFT);
	double share = JOB_MIN_SHARE +
		       (JOB_MAX_SHARE - JOB_MIN_SHARE) * rnd_unit(&v->rnd);
	uint64_t size = (uint64_t)(managed * share);

	return size < JOB_MIN_BYTES ? JOB_MIN_BYTES : size;
}

static int hold(struct vcpu *v, const struct held_alloc *a)
{
	int r;

	if (v->wl->free == WORKLOAD_FREE_JOBS && !held_job_open(&v->held)) {
		r = held_start_job(&v->held, job_size(v));
		if (r < 0)
			return r;
	}
	r = held_push(&v->held, a);
	if (r < 0)
		return r;
	stat_add(&v->stats.allocated_bytes, held_alloc_bytes(a->order));
	return 0;
}

/*
 * Allocate one block. Returns 0, HA_ENOMEM (also after falling back to
 * 4 KiB, as a kernel falls back from THP), or another negative error.
 */
static int alloc_one(struct vcpu *v)
{
	struct ram *ram = v->wl->ram;
	unsigned order = pick_order(&v->rnd, v->wl->sizes);
	unsigned flags = rnd_below(&v->rnd, 10) < 7 ? HA_GET_MOVABLE : 0;
	struct held_alloc a;
	ha_frame_t frame;
	bool reclaimed = false;
	int r;

	r = ha_guest_get(&ram->guest, v->index, order, flags, &frame,
			 &reclaimed);
	if (r == HA_ENOMEM && order > 0) {
		stat_add(&v->stats.alloc_failures, 1);
		order = 0;
		r = ha_guest_get(&ram->guest, v->index, order, flags, &frame,
				 &reclaimed);
	}
	if (r == HA_ENOMEM) {
		stat_add(&v->stats.alloc_failures, 1);
		return r;
	}
	if (r < 0) {
		stat_add(&v->stats.errors, 1);
		sg_err("vCPU %u: ha_guest_get(order %u): %s", v->index, order,
		       ha_strerror(r));
		return r;
	}
	stat_add(&v->stats.ops, 1);
	a = (struct held_alloc){
		.frame = frame.v,
		.order = order,
		.tag = canary_mix(v->wl->seed) ^
		       ((uint64_t)(v->index + 1) << 48) ^ v->seq++,
	};
	fpr_note_alloc(v->wl->fpr, frame.v >> HA_HUGE_ORDER,
		       alloc_children(order));
	if (reclaimed) {
		r = install(v, &a);
		if (r < 0)
			return r;
	}
	write_canaries(v, &a);
	r = hold(v, &a);
	if (r < 0) {
		/* Out of process memory for the bookkeeping: give it back. */
		check_canaries(v, &a, "before free");
		put(v, a.frame, a.order);
		return r;
	}
	return 0;
}

/* Verify and free @a, just taken out of the held set; returns its size. */
static uint64_t release(struct vcpu *v, struct held_alloc *a)
{
	uint64_t bytes = held_alloc_bytes(a->order);

	stat_sub(&v->stats.allocated_bytes, bytes);
	check_canaries(v, a, "before free");
	put(v, a->frame, a->order);
	return bytes;
}

/* Verify and free a random allocation; returns its size. */
static uint64_t free_random(struct vcpu *v)
{
	struct held_alloc a;

	held_remove(&v->held, rnd_below(&v->rnd, v->held.n), &a);
	return release(v, &a);
}

/*
 * Random pattern: allocate up to the target and free only beyond one
 * block above it (clipping sizes to the room left would turn the size
 * mix into 4 KiB pages over time); turn memory over only once the target
 * is reached (the target comes first when the vCPU cannot keep up), at
 * most half a batch at a time. Returns the allocations freed.
 */
static unsigned free_some_random(struct vcpu *v, uint64_t target)
{
	struct held *h = &v->held;
	unsigned work = 0;

	while (work < BATCH && h->n && h->bytes > target + MAX_BLOCK) {
		free_random(v);
		work++;
	}
	while (work < BATCH / 2 && h->n && v->churn_debt > 0 &&
	       h->bytes >= target) {
		v->churn_debt -= (double)free_random(v);
		work++;
	}
	return work;
}

/*
 * Jobs pattern: end the oldest job when the vCPU holds more than one
 * block above its target, or when churn is due and the target is
 * reached, and free an ended job to its last allocation whatever the
 * target does meanwhile: a process that exits gives everything back. A
 * job ended for churn pays its whole size off the debt at once. The
 * allocations that follow start new jobs. Returns the allocations freed.
 */
static unsigned free_some_jobs(struct vcpu *v, uint64_t target)
{
	struct held *h = &v->held;
	unsigned work = 0;

	while (work < BATCH && h->n) {
		struct held_alloc a;

		if (!h->ending) {
			bool over = h->bytes > target + MAX_BLOCK;
			uint64_t bytes;

			if (!over && !(v->churn_debt > 0 && h->bytes >= target))
				break;
			bytes = held_end_oldest_job(h);
			if (!bytes)
				break;
			if (!over)
				v->churn_debt -= (double)bytes;
		}
		held_pop_oldest(h, &a);
		release(v, &a);
		work++;
	}
	return work;
}

static void sample(struct vcpu *v)
{
	for (unsigned i = 0; i < SAMPLE_ALLOCS && v->held.n; i++)
		check_canaries(v,
			       held_at(&v->held, rnd_below(&v->rnd, v->held.n)),
			       "sample");
}

/* ---- the vCPU thread ---- */

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	const struct workload *wl = v->wl;
	uint64_t last = vcpu_now_ns(), next_sample = last + SAMPLE_EVERY_NS;

	while (!atomic_load(wl->stop)) {
		uint64_t now = vcpu_now_ns(), gen;
		bool done;
		double pos, dt, played_s = played(wl, now, &gen);
		uint64_t target =
			target_at(wl, played_s, &pos, &done) / wl->vcpus;
		struct trace_sample s = trace_at(wl->clock.trace, pos);
		unsigned work;
		bool backoff = false;

		/* Churn: the share of held memory to turn over per trace
		 * second: real time scaled, or what the paced clock
		 * played. */
		if (wl->pace) {
			dt = played_s - v->churn_pos_s;
			v->churn_pos_s = played_s;
		} else {
			dt = (double)(now - last) / 1e9 * wl->clock.scale;
		}
		last = now;
		v->churn_debt += (double)v->held.bytes * s.churn * dt;
		if (v->churn_debt > (double)v->held.bytes)
			v->churn_debt = (double)v->held.bytes;

		if (wl->free == WORKLOAD_FREE_JOBS)
			work = free_some_jobs(v, target);
		else
			work = free_some_random(v, target);
		while (work < BATCH && v->held.bytes < target &&
		       !atomic_load(wl->stop)) {
			int r = alloc_one(v);

			work++;
			/* Out of memory, or the host failed an install:
			 * back off. A refused install (the frame is the
			 * host's now) just means allocating again. */
			if (r < 0 && r != HA_EPROTO) {
				backoff = true;
				break;
			}
		}
		if (now >= next_sample) {
			sample(v);
			next_sample = now + SAMPLE_EVERY_NS;
		}
		if (wl->pace && v->held.bytes >= target &&
		    v->held.bytes <= target + MAX_BLOCK)
			pace_ack(v, gen);
		if (backoff)
			nap(BACKOFF_NS);
		else if (!work)
			nap(IDLE_NS);
	}
	return NULL;
}

int vcpu_start(struct vcpu *v, const struct workload *wl, unsigned index)
{
	char name[16];
	int r;

	memset(v, 0, sizeof(*v));
	v->wl = wl;
	v->index = index;
	v->rnd = canary_mix(wl->seed + index + 1) | 1;
	r = pthread_create(&v->thread, NULL, vcpu_main, v);
	if (r)
		return -r;
	v->started = true;
	/* "vcpuN" in /proc/PID/task/TID/comm: benchmarks read the CPU time
	 * (page faults included) of the vCPUs alone. Cosmetic on error. */
	snprintf(name, sizeof(name), "vcpu%u", index);
	pthread_setname_np(v->thread, name);
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

uint64_t vcpu_verify_all(struct vcpu *v)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < v->held.n; i++)
		bad += check_canaries(v, held_at(&v->held, i), "at exit");
	return bad;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	held_destroy(&v->held);
}
