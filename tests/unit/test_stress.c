// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Multi-threaded stress test of libhyperalloc on real memory.
 *
 * Guest RAM is a 256 MiB memfd mapped MAP_SHARED. Its first 4 MiB hold the
 * shared metadata (guest frame 0 on); the managed range is the rest, from
 * guest frame 1024 (file offset 4 MiB) on, so memfd_env discards with the
 * base_offset of 4 MiB. Host and guest use the same mapping, as QEMU and a
 * guest kernel share guest RAM.
 *
 * GUEST_CPUS guest threads (core index = thread index) allocate random
 * orders, have the host install every reclaimed huge frame they are given
 * (through a request queue served by an install-server thread, waiting for
 * the answer), write a canary into the first and last 8 bytes of every
 * 4 KiB frame they hold, and verify it right before each free (a huge
 * allocation is now and then freed in pieces, as a kernel frees a split
 * page). They also check that the host state of every huge frame they hold
 * is INSTALLED and its reclaimed bit clear. One host thread meanwhile
 * hard-reclaims, returns and soft-reclaims with real fallocate(PUNCH_HOLE)
 * discards. A lost canary means the host discarded
 * memory a guest was using (or two guests were given the same frame).
 * The host's callbacks are memfd_env's with random delays injected (up to
 * 1 ms before a discard), which widens every window a misplaced lock or a
 * missing install could slip through; the discard callback also checks
 * that every frame it is asked to discard is still marked reclaimed.
 *
 * At the end (reclaimer stopped, everything hard returned, everything held
 * verified and freed) the test checks the guest's free count, the host's
 * counters against each other, the host state of every huge frame against
 * the child words, and the memfd's resident size against the soft count.
 *
 * Environment:
 *   HA_STRESS_OPS   total guest allocations over all threads (default
 *                   DEFAULT_OPS: 80000, 40000 under a sanitizer).
 *                   Setting it (soak mode) also disables the Check timeout:
 *                   HA_STRESS_OPS=2000000 build/tests/unit/test_stress
 *   HA_STRESS_SEED  seed of the random choices (default: from the clock);
 *                   the summary line prints the seed that was used.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "ha_guest.h"
#include "ha_host.h"
#include "user/memfd_env.h"

#define MIB	   (1024ull * 1024)
#define RAM_SIZE   (256 * MIB)
#define META_AREA  (4 * MIB) /* metadata, 4 MiB aligned, before the range */
#define RAM_FRAMES (RAM_SIZE / HA_FRAME_SIZE)
#define BASE_FRAME (META_AREA / HA_FRAME_SIZE)
#define FRAMES	   (RAM_FRAMES - BASE_FRAME)
#define CHILDREN   (FRAMES / HA_CHILD_FRAMES)

#define GUEST_CPUS  4u
#define HELD_MAX    48u /* allocations a guest thread holds at most */
#define RECLAIM_MAX 24u /* frames per hard reclaim / return call */
#define PUT_RETRIES 1000u

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define DEFAULT_OPS 40000ull
#else
#define DEFAULT_OPS 80000ull
#endif

/* ---- random numbers: xorshift64*, one state per thread ---- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_below(uint64_t *s, unsigned n)
{
	return (unsigned)((rnd_next(s) >> 32) % n);
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* ---- the environment: memfd guest RAM, guest, host ---- */

struct install_req {
	uint64_t huge;
	int result;
	bool done;
	struct install_req *next;
};

struct alloc {
	uint64_t frame; /* relative to BASE_FRAME */
	unsigned order;
	uint64_t tag; /* (thread, sequence): makes every canary unique */
};

struct guest_thread {
	struct stress *s;
	unsigned core;
	uint64_t ops;
	uint64_t rnd;
	pthread_t tid;
	struct alloc held[HELD_MAX];
	unsigned nheld;
};

struct stress {
	int fd;
	uint8_t *ram;
	struct ha_local *locals;
	struct ha_guest g;
	struct memfd_env menv;
	struct ha_host_env env; /* menv.env with delays injected */
	uint64_t env_rnd; /* used under the host lock only */
	atomic_uint_fast64_t discarded;
	uint8_t *hstate;
	struct ha_host h;

	/* install requests: guest threads -> install server */
	pthread_mutex_t qlock;
	pthread_cond_t qwork, qdone;
	struct install_req *qhead, **qtail;
	bool qstop;

	atomic_bool stop_reclaimer;
	uint64_t reclaimer_rnd;

	/* results */
	atomic_uint_fast64_t mismatches, errors, enomem, installs_requested,
		installs_served, put_retries, hard_calls, return_calls,
		soft_calls;
	pthread_mutex_t msg_lock;
	char first_error[256];
};

/* Record an unexpected result; the first message is kept for the assert,
 * the first few are printed. */
__attribute__((format(printf, 2, 3))) static void
stress_error(struct stress *s, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	uint64_t n = atomic_fetch_add(&s->errors, 1);

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 10)
		fprintf(stderr, "test_stress: %s\n", buf);
	pthread_mutex_lock(&s->msg_lock);
	if (!s->first_error[0])
		snprintf(s->first_error, sizeof(s->first_error), "%s", buf);
	pthread_mutex_unlock(&s->msg_lock);
}

/*
 * The host callbacks: memfd_env's, but now and then late. A discard or
 * populate that takes a while widens every window in which a host that
 * dropped its lock too early, or a guest that used memory before its
 * install, would lose a canary. Called with the host lock held.
 */
static void env_delay(struct stress *s, unsigned max_us)
{
	unsigned x = rnd_below(&s->env_rnd, 16);

	if (x < 8)
		usleep(1 + rnd_below(&s->env_rnd, max_us));
	else if (x < 12)
		sched_yield();
}

static int delayed_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct stress *s = ctx;

	env_delay(s, 1000);
	/* Under the host lock, nobody can have installed what the host
	 * reclaimed and is about to discard. */
	for (uint64_t c = first.v; c < first.v + count; c++)
		if (!ha_guest_is_reclaimed(&s->g, ha_huge(c)))
			stress_error(s,
				     "discard of huge frame %" PRIu64
				     " whose reclaimed bit is clear",
				     c);
	atomic_fetch_add(&s->discarded, count);
	return s->menv.env.discard(s->menv.env.ctx, first, count);
}

static int delayed_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	struct stress *s = ctx;
	int r = s->menv.env.populate(s->menv.env.ctx, first, count);

	env_delay(s, 50);
	return r;
}

static void env_lock(void *ctx)
{
	struct stress *s = ctx;

	s->menv.env.lock(s->menv.env.ctx);
}

static void env_unlock(void *ctx)
{
	struct stress *s = ctx;

	s->menv.env.unlock(s->menv.env.ctx);
}

static void stress_setup(struct stress *s)
{
	struct ha_bad bad;
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = memfd_create("ha-stress", MFD_CLOEXEC);
	ck_assert_msg(s->fd >= 0, "memfd_create: %s", strerror(errno));
	ck_assert_msg(ftruncate(s->fd, (off_t)RAM_SIZE) == 0, "ftruncate: %s",
		      strerror(errno));
	s->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
		      0);
	ck_assert_msg(s->ram != MAP_FAILED, "mmap: %s", strerror(errno));

	s->locals = aligned_alloc(64, ha_local_size(GUEST_CPUS));
	ck_assert_ptr_nonnull(s->locals);
	r = ha_guest_init(&s->g, s->ram, META_AREA, s->locals, GUEST_CPUS,
			  BASE_FRAME, FRAMES, HA_INIT_FREE);
	ck_assert_msg(r == HA_OK, "ha_guest_init: %s", ha_strerror(r));

	r = memfd_env_init(&s->menv, s->fd, META_AREA);
	ck_assert_msg(r == 0, "memfd_env_init: %s", strerror(-r));
	s->hstate = calloc(1, ha_host_state_size(RAM_FRAMES));
	ck_assert_ptr_nonnull(s->hstate);
	s->env = (struct ha_host_env){
		.ctx = s,
		.discard = delayed_discard,
		.populate = delayed_populate,
		.lock = env_lock,
		.unlock = env_unlock,
	};
	s->env_rnd = 0x2545f4914f6cdd1dull;
	r = ha_host_attach(&s->h, s->ram, META_AREA, 0, RAM_FRAMES, &s->env,
			   s->hstate, &bad);
	ck_assert_msg(r == HA_OK, "ha_host_attach: %s (%s)", ha_strerror(r),
		      ha_bad_str(bad.reason));
	ck_assert_uint_eq(s->h.layout.children, CHILDREN);

	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qwork, NULL);
	pthread_cond_init(&s->qdone, NULL);
	pthread_mutex_init(&s->msg_lock, NULL);
	s->qtail = &s->qhead;
}

static void stress_teardown(struct stress *s)
{
	pthread_cond_destroy(&s->qwork);
	pthread_cond_destroy(&s->qdone);
	pthread_mutex_destroy(&s->qlock);
	pthread_mutex_destroy(&s->msg_lock);
	memfd_env_destroy(&s->menv);
	free(s->hstate);
	free(s->locals);
	munmap(s->ram, RAM_SIZE);
	close(s->fd);
}

/* ---- canaries ---- */

static uint8_t *frame_ptr(struct stress *s, uint64_t frame)
{
	return s->ram + (BASE_FRAME + frame) * HA_FRAME_SIZE;
}

static uint64_t canary(uint64_t tag, uint64_t frame)
{
	return mix64(tag ^ (frame * 0x9e3779b97f4a7c15ull));
}

static void canary_write(struct stress *s, const struct alloc *a)
{
	for (uint64_t f = a->frame; f < a->frame + (1ull << a->order); f++) {
		uint64_t v = canary(a->tag, f);
		uint8_t *p = frame_ptr(s, f);

		memcpy(p, &v, 8);
		v = ~v;
		memcpy(p + HA_FRAME_SIZE - 8, &v, 8);
	}
}

/* Returns the number of 4 KiB frames of @a whose canary is wrong; with
 * @report, describes the first one on stderr. */
static uint64_t canary_check(struct stress *s, const struct alloc *a,
			     bool report)
{
	uint64_t bad = 0;

	for (uint64_t f = a->frame; f < a->frame + (1ull << a->order); f++) {
		uint64_t v = canary(a->tag, f), first, last;
		uint8_t *p = frame_ptr(s, f);

		memcpy(&first, p, 8);
		memcpy(&last, p + HA_FRAME_SIZE - 8, 8);
		if (first == v && last == ~v)
			continue;
		if (bad++ == 0 && report)
			fprintf(stderr,
				"test_stress: canary lost: frame %" PRIu64
				" (order-%u allocation at %" PRIu64
				"): %016" PRIx64 "/%016" PRIx64
				", want %016" PRIx64 "/%016" PRIx64 "\n",
				f, a->order, a->frame, first, last, v, ~v);
	}
	return bad;
}

/* ---- install server ---- */

static void *install_server(void *arg)
{
	struct stress *s = arg;

	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (!s->qhead && !s->qstop)
			pthread_cond_wait(&s->qwork, &s->qlock);
		if (!s->qhead)
			break;
		struct install_req *req = s->qhead;

		s->qhead = req->next;
		if (!s->qhead)
			s->qtail = &s->qhead;
		pthread_mutex_unlock(&s->qlock);

		int r = ha_host_install(&s->h, ha_huge(req->huge));

		atomic_fetch_add(&s->installs_served, 1);
		pthread_mutex_lock(&s->qlock);
		req->result = r;
		req->done = true;
		pthread_cond_broadcast(&s->qdone);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

/* Ask the host to install huge frame @huge and wait for its answer. */
static int request_install(struct stress *s, uint64_t huge)
{
	struct install_req req = { .huge = huge };

	atomic_fetch_add(&s->installs_requested, 1);
	pthread_mutex_lock(&s->qlock);
	*s->qtail = &req;
	s->qtail = &req.next;
	pthread_cond_signal(&s->qwork);
	while (!req.done)
		pthread_cond_wait(&s->qdone, &s->qlock);
	pthread_mutex_unlock(&s->qlock);
	return req.result;
}

/* ---- guest threads ---- */

static uint64_t alloc_huge_count(const struct alloc *a)
{
	return a->order == HA_MAX_ORDER ? 2 : 1;
}

/* Every huge frame under @a must be installed, host- and guest-side. */
static void check_installed(struct stress *s, const struct alloc *a,
			    const char *when)
{
	uint64_t first = a->frame / HA_CHILD_FRAMES;

	for (uint64_t c = first; c < first + alloc_huge_count(a); c++) {
		enum ha_hstate st = ha_host_state(&s->h, ha_huge(c));

		if (st != HA_HS_INSTALLED ||
		    ha_guest_is_reclaimed(&s->g, ha_huge(c)))
			stress_error(s,
				     "%s: huge frame %" PRIu64
				     " of a held order-%u allocation has host "
				     "state %d, reclaimed bit %d",
				     when, c, a->order, (int)st,
				     ha_guest_is_reclaimed(&s->g, ha_huge(c)));
	}
}

static void guest_put(struct stress *s, unsigned core, uint64_t frame,
		      unsigned order)
{
	for (unsigned i = 0; i < PUT_RETRIES; i++) {
		int r = ha_guest_put(&s->g, core, ha_frame(frame), order);

		if (r == HA_OK)
			return;
		if (r != HA_EAGAIN) {
			stress_error(s,
				     "ha_guest_put(frame %" PRIu64
				     ", order %u): %s",
				     frame, order, ha_strerror(r));
			return;
		}
		atomic_fetch_add(&s->put_retries, 1);
		sched_yield();
	}
	stress_error(s,
		     "ha_guest_put(frame %" PRIu64 ", order %u): EAGAIN "
		     "%u times",
		     frame, order, PUT_RETRIES);
}

/*
 * Verify and free @a. Now and then a huge allocation is freed in pieces,
 * as a kernel frees a split page: order 9 as 512 order-0 frees, order 10
 * as two order-9 frees.
 */
static void free_alloc(struct stress *s, unsigned core, const struct alloc *a,
		       uint64_t *rnd)
{
	check_installed(s, a, "before free");
	atomic_fetch_add(&s->mismatches, canary_check(s, a, true));

	if (a->order == HA_HUGE_ORDER && rnd_below(rnd, 8) == 0) {
		for (uint64_t f = a->frame; f < a->frame + HA_CHILD_FRAMES; f++)
			guest_put(s, core, f, 0);
	} else if (a->order == HA_MAX_ORDER && rnd_below(rnd, 4) == 0) {
		guest_put(s, core, a->frame, HA_HUGE_ORDER);
		guest_put(s, core, a->frame + HA_CHILD_FRAMES, HA_HUGE_ORDER);
	} else {
		guest_put(s, core, a->frame, a->order);
	}
}

static void free_random(struct guest_thread *t)
{
	unsigned i = rnd_below(&t->rnd, t->nheld);

	free_alloc(t->s, t->core, &t->held[i], &t->rnd);
	t->held[i] = t->held[--t->nheld];
}

static unsigned pick_order(uint64_t *rnd)
{
	unsigned x = rnd_below(rnd, 100);

	if (x < 70)
		return 0;
	if (x < 90)
		return 1 + rnd_below(rnd, 8);
	if (x < 97)
		return HA_HUGE_ORDER;
	return HA_MAX_ORDER;
}

static void *guest_main(void *arg)
{
	struct guest_thread *t = arg;
	struct stress *s = t->s;

	for (uint64_t seq = 0; seq < t->ops; seq++) {
		unsigned order = pick_order(&t->rnd);
		unsigned flags = rnd_below(&t->rnd, 2) ? HA_GET_MOVABLE : 0;
		ha_frame_t f;
		bool reclaimed = false;
		int r;

		if (t->nheld == HELD_MAX ||
		    (t->nheld && rnd_below(&t->rnd, 5) < 2))
			free_random(t);

		r = ha_guest_get(&s->g, t->core, order, flags, &f, &reclaimed);
		if (r == HA_ENOMEM) {
			atomic_fetch_add(&s->enomem, 1);
			if (t->nheld)
				free_random(t);
			continue;
		}
		if (r != HA_OK) {
			stress_error(s, "ha_guest_get(order %u): %s", order,
				     ha_strerror(r));
			continue;
		}

		struct alloc a = {
			.frame = f.v,
			.order = order,
			.tag = ((uint64_t)t->core << 56) ^ seq,
		};

		if (f.v % (1ull << order) || f.v + (1ull << order) > FRAMES) {
			stress_error(
				s, "ha_guest_get(order %u) gave frame %" PRIu64,
				order, f.v);
			continue;
		}
		if (reclaimed) {
			uint64_t first = f.v / HA_CHILD_FRAMES;
			uint64_t end = first + alloc_huge_count(&a);

			for (uint64_t c = first; c < end; c++) {
				r = request_install(s, c);
				if (r != HA_OK)
					stress_error(s,
						     "ha_host_install(%" PRIu64
						     "): %s",
						     c, ha_strerror(r));
			}
		}
		check_installed(s, &a,
				reclaimed ? "after install" : "after get");
		canary_write(s, &a);
		t->held[t->nheld++] = a;
	}
	return NULL;
}

/* ---- host reclaimer ---- */

static void host_result(struct stress *s, const char *what, int64_t r,
			atomic_uint_fast64_t *calls)
{
	atomic_fetch_add(calls, 1);
	if (r < 0)
		stress_error(s, "%s: %s (%s)", what, ha_strerror((int)r),
			     ha_bad_str(ha_host_bad(&s->h)->reason));
}

static void *reclaimer_main(void *arg)
{
	struct stress *s = arg;
	uint64_t *rnd = &s->reclaimer_rnd;
	struct ha_host_counters c;
	int64_t r;

	while (!atomic_load(&s->stop_reclaimer)) {
		ha_host_counters(&s->h, &c);
		/* Keep at least half of the guest: a guest with no memory
		 * only tests ENOMEM. */
		if (c.hard_now < CHILDREN / 2) {
			uint64_t n = rnd_below(rnd, RECLAIM_MAX + 1);

			r = ha_host_reclaim_hard(&s->h, n);
			host_result(s, "ha_host_reclaim_hard", r,
				    &s->hard_calls);
		}
		r = ha_host_return(&s->h, rnd_below(rnd, RECLAIM_MAX + 1));
		host_result(s, "ha_host_return", r, &s->return_calls);
		r = ha_host_reclaim_soft(&s->h, 0);
		host_result(s, "ha_host_reclaim_soft", r, &s->soft_calls);

		/* Only this thread reclaims and returns, so the hard-side
		 * counters are stable here. */
		ha_host_counters(&s->h, &c);
		if (c.reclaimed_hard != c.returned + c.hard_now)
			stress_error(s,
				     "reclaimed_hard %" PRIu64
				     " != returned %" PRIu64
				     " + hard_now %" PRIu64,
				     c.reclaimed_hard, c.returned, c.hard_now);
		/* Two cores run six threads: let the guests make progress. */
		sched_yield();
	}
	return NULL;
}

/* ---- the checks after quiescence ---- */

static void check_quiescent(struct stress *s)
{
	struct ha_host_counters c;
	struct ha_host_scan scan;
	uint64_t reclaimed_bits = 0, state_soft = 0;
	int r;

	ha_host_counters(&s->h, &c);
	ck_assert_uint_eq(c.hard_now, 0);
	ck_assert_uint_eq(c.reclaimed_hard, c.returned + c.hard_now);
	ck_assert_uint_eq(c.reclaimed_hard, c.returned);
	ck_assert_uint_le(c.installed, c.reclaimed_soft + c.returned);
	ck_assert_uint_eq(atomic_load(&s->installs_served),
			  atomic_load(&s->installs_requested));
	ck_assert_uint_le(c.installed, atomic_load(&s->installs_requested));

	ck_assert_uint_eq(ha_guest_free_frames(&s->g), FRAMES);
	ck_assert_uint_eq(ha_guest_free_huge(&s->g), CHILDREN);

	r = ha_host_scan(&s->h, &scan);
	ck_assert_msg(r == HA_OK, "ha_host_scan: %s", ha_strerror(r));
	ck_assert_uint_eq(scan.free_frames, FRAMES);
	ck_assert_uint_eq(scan.free_huge, CHILDREN);
	ck_assert_uint_eq(scan.hard, 0);
	ck_assert_uint_eq(scan.installing, 0);
	ck_assert_uint_eq(scan.soft, c.soft_now);

	for (uint64_t ch = 0; ch < CHILDREN; ch++) {
		bool rec = ha_guest_is_reclaimed(&s->g, ha_huge(ch));
		enum ha_hstate st = ha_host_state(&s->h, ha_huge(ch));

		reclaimed_bits += rec;
		state_soft += st == HA_HS_SOFT;
		ck_assert_msg(st == (rec ? HA_HS_SOFT : HA_HS_INSTALLED),
			      "huge frame %" PRIu64
			      ": reclaimed bit %d, host state %d",
			      ch, rec, (int)st);
		if (!rec)
			continue;
		/* A soft frame has no backing: no data in its range. */
		off_t off = (off_t)(META_AREA + ch * HA_HUGE_SIZE);
		off_t data = lseek(s->fd, off, SEEK_DATA);

		ck_assert_msg(data >= 0 || errno == ENXIO, "lseek: %s",
			      strerror(errno));
		ck_assert_msg(data < 0 || data >= off + (off_t)HA_HUGE_SIZE,
			      "soft huge frame %" PRIu64
			      " has data at offset %lld",
			      ch, (long long)data);
	}
	ck_assert_uint_eq(reclaimed_bits, c.soft_now);
	ck_assert_uint_eq(state_soft, c.soft_now);

	int64_t resident = memfd_resident_bytes(s->fd);
	uint64_t limit = META_AREA + (CHILDREN - c.soft_now) * HA_HUGE_SIZE;

	ck_assert_msg(resident >= 0, "memfd_resident_bytes: %s",
		      strerror((int)-resident));
	ck_assert_msg((uint64_t)resident <= limit,
		      "memfd has %" PRId64 " bytes resident, but %" PRIu64
		      " of %llu huge frames are soft-reclaimed",
		      resident, c.soft_now, CHILDREN);
}

static uint64_t env_u64(const char *name, uint64_t def, bool *ret_set)
{
	const char *v = getenv(name);
	char *end;

	if (ret_set)
		*ret_set = false;
	if (!v || !*v)
		return def;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);

	if (errno || *end) {
		fprintf(stderr, "test_stress: ignoring bad %s=%s\n", name, v);
		return def;
	}
	if (ret_set)
		*ret_set = true;
	return x;
}

START_TEST(test_stress_concurrent)
{
	static struct stress st;
	static struct guest_thread gt[GUEST_CPUS];
	struct stress *s = &st;
	pthread_t server, reclaimer;
	uint64_t ops = env_u64("HA_STRESS_OPS", DEFAULT_OPS, NULL);
	uint64_t seed = env_u64("HA_STRESS_SEED", memfd_env_now_ns(), NULL);
	uint64_t t0 = memfd_env_now_ns();
	int64_t r;

	stress_setup(s);
	s->reclaimer_rnd = mix64(seed ^ 0xabcdefull) | 1;
	ck_assert_int_eq(pthread_create(&server, NULL, install_server, s), 0);
	ck_assert_int_eq(pthread_create(&reclaimer, NULL, reclaimer_main, s),
			 0);
	for (unsigned i = 0; i < GUEST_CPUS; i++) {
		gt[i] = (struct guest_thread){
			.s = s,
			.core = i,
			.ops = ops / GUEST_CPUS + (i < ops % GUEST_CPUS),
			.rnd = mix64(seed + i) | 1,
		};
		ck_assert_int_eq(pthread_create(&gt[i].tid, NULL, guest_main,
						&gt[i]),
				 0);
	}
	for (unsigned i = 0; i < GUEST_CPUS; i++)
		ck_assert_int_eq(pthread_join(gt[i].tid, NULL), 0);

	/* Quiescence: no more reclaim, every hard frame back to the guest,
	 * every allocation verified and freed. */
	atomic_store(&s->stop_reclaimer, true);
	ck_assert_int_eq(pthread_join(reclaimer, NULL), 0);
	r = ha_host_return(&s->h, UINT64_MAX);
	ck_assert_msg(r >= 0, "ha_host_return: %s", ha_strerror((int)r));
	for (unsigned i = 0; i < GUEST_CPUS; i++)
		while (gt[i].nheld)
			free_alloc(s, i, &gt[i].held[--gt[i].nheld],
				   &gt[i].rnd);

	pthread_mutex_lock(&s->qlock);
	s->qstop = true;
	pthread_cond_signal(&s->qwork);
	pthread_mutex_unlock(&s->qlock);
	ck_assert_int_eq(pthread_join(server, NULL), 0);

	struct ha_host_counters c;

	ha_host_counters(&s->h, &c);
	uint64_t mismatches = atomic_load(&s->mismatches);
	uint64_t errors = atomic_load(&s->errors);

	printf("test_stress: ops=%" PRIu64 " installs=%" PRIu64
	       " reclaimed_hard=%" PRIu64 " reclaimed_soft=%" PRIu64
	       " returned=%" PRIu64 " mismatches=%" PRIu64 " errors=%" PRIu64
	       " discarded=%" PRIu64 " install_requests=%" PRIu64
	       " enomem=%" PRIu64 " soft_now=%" PRIu64 " host_loops=%" PRIu64
	       " seconds=%.1f seed=%" PRIu64 "\n",
	       ops, c.installed, c.reclaimed_hard, c.reclaimed_soft, c.returned,
	       mismatches, errors, (uint64_t)atomic_load(&s->discarded),
	       (uint64_t)atomic_load(&s->installs_requested),
	       (uint64_t)atomic_load(&s->enomem), c.soft_now,
	       (uint64_t)atomic_load(&s->soft_calls),
	       (double)(memfd_env_now_ns() - t0) / 1e9, seed);
	fflush(stdout);

	ck_assert_msg(errors == 0 && mismatches == 0,
		      "%" PRIu64 " frames lost their canary, %" PRIu64
		      " unexpected results%s%s (seed %" PRIu64 ")",
		      mismatches, errors, errors ? ", first: " : "",
		      s->first_error, seed);
	ck_assert_msg(!ha_host_quarantined(&s->h), "region quarantined: %s",
		      ha_bad_str(ha_host_bad(&s->h)->reason));
	/* The run must have exercised what it claims to test. */
	ck_assert_uint_gt(c.reclaimed_hard, 0);
	ck_assert_uint_gt(c.reclaimed_soft, 0);
	ck_assert_uint_gt(c.installed, 0);
	check_quiescent(s);
	stress_teardown(s);
}
END_TEST

/*
 * Negative control: the canary check must notice memory the host discards
 * under a guest. Allocate, write, verify (clean), then punch the backing of
 * a held frame directly, as a broken host would, and verify again.
 */
START_TEST(test_stress_canary_detects_discard)
{
	static struct stress st;
	struct stress *s = &st;
	struct alloc a[2];
	unsigned orders[2] = { 0, HA_HUGE_ORDER };

	stress_setup(s);
	for (unsigned i = 0; i < 2; i++) {
		ha_frame_t f;
		bool reclaimed;
		int r = ha_guest_get(&s->g, 0, orders[i], 0, &f, &reclaimed);

		ck_assert_msg(r == HA_OK, "ha_guest_get: %s", ha_strerror(r));
		ck_assert(!reclaimed);
		a[i] = (struct alloc){ .frame = f.v,
				       .order = orders[i],
				       .tag = 0x5eed0000ull + i };
		canary_write(s, &a[i]);
	}
	for (unsigned i = 0; i < 2; i++)
		ck_assert_uint_eq(canary_check(s, &a[i], true), 0);

	for (unsigned i = 0; i < 2; i++) {
		off_t off = (off_t)(META_AREA + a[i].frame / HA_CHILD_FRAMES *
							HA_HUGE_SIZE);

		ck_assert_msg(fallocate(s->fd,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					off, (off_t)HA_HUGE_SIZE) == 0,
			      "fallocate: %s", strerror(errno));
		ck_assert_uint_eq(canary_check(s, &a[i], false),
				  1ull << a[i].order);
	}
	/* The host punched behind the allocator's back: its own view still
	 * says installed, which is exactly why only the canary can tell. */
	ck_assert_int_eq(ha_host_state(&s->h,
				       ha_huge(a[0].frame / HA_CHILD_FRAMES)),
			 HA_HS_INSTALLED);
	for (unsigned i = 0; i < 2; i++)
		ck_assert_int_eq(ha_guest_put(&s->g, 0, ha_frame(a[i].frame),
					      a[i].order),
				 HA_OK);
	stress_teardown(s);
}
END_TEST

static Suite *stress_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("stress");
	bool soak;

	env_u64("HA_STRESS_OPS", DEFAULT_OPS, &soak);
	/* Check multiplies this by CK_TIMEOUT_MULTIPLIER (10 under SAN).
	 * A soak run sets its own length: no timeout then. */
	tcase_set_timeout(tc, soak ? 0 : 120);
	tcase_add_test(tc, test_stress_canary_detects_discard);
	tcase_add_test(tc, test_stress_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stress_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
