// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reclaim throughput of libhyperalloc next to the kernel's own limit.
 *
 * 1. Hard-reclaim N GiB of touched memfd memory with ha_host_reclaim_hard()
 *    and memfd_env (fallocate PUNCH_HOLE discards, contiguous frames merged
 *    by the library), and punch the same amount of touched memory raw:
 *    in 2 MiB steps (what the kernel does per huge frame: raw_gibps) and in
 *    one call (printed for context). Runs are interleaved; medians of 3.
 * 2. The same on a memfd backed by shmem transparent huge pages: the sysfs
 *    switch shmem_enabled is set to "advise" for that run only (restored
 *    afterwards, at exit and on SIGINT/SIGTERM/SIGHUP), the mapping gets
 *    MADV_HUGEPAGE before it is touched, and its smaps say how much of it
 *    really was mapped by huge pages.
 * 3. The time one soft-reclaim pass takes over a large simulated guest in
 *    a steady state (most frames allocated or soft-reclaimed already),
 *    metadata only, scaled to milliseconds per TiB of guest memory.
 *
 * The last line is the summary (docs: DESIGN.md "Conventions"):
 *   reclaim: lib_gibps=… raw_gibps=… ratio=… thp_lib_gibps=…
 *            thp_raw_gibps=… thp_ratio=… scan_ms_per_tib=…
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "ha_guest.h"
#include "ha_host.h"
#include "user/memfd_env.h"

#define MIB	    ((uint64_t)1 << 20)
#define GIB	    (1024ull * MIB)
#define META_AREA   (4 * MIB) /* metadata at the start of the memfd */
#define MAX_RUNS    15u
#define SCAN_PASSES 21u

#define THP_SHMEM "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_SHMEM_PMD \
	"/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/shmem_enabled"

struct opts {
	unsigned gib;
	unsigned runs;
	unsigned scan_gib;
	bool thp;
};

/* ---- errors: restore the sysfs switch, then exit ---- */

static char thp_old[32]; /* value to restore, "" if nothing to restore */
static volatile sig_atomic_t thp_switched;

static void thp_restore_raw(void)
{
	int fd;

	if (!thp_switched)
		return;
	/* async-signal-safe: open/write/close only */
	fd = open(THP_SHMEM, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, thp_old, strlen(thp_old)) > 0)
			thp_switched = 0;
		close(fd);
	}
}

static void on_signal(int sig)
{
	thp_restore_raw();
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	fputs("reclaim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE); /* atexit restores the switch */
}

static void thp_restore(void)
{
	if (!thp_switched)
		return;
	thp_restore_raw();
	if (thp_switched)
		fprintf(stderr, "reclaim: could not restore %s to \"%s\": %s\n",
			THP_SHMEM, thp_old, strerror(errno));
	else
		printf("thp: restored %s to \"%s\"\n", THP_SHMEM, thp_old);
}

/* Read a sysfs selector ("a [b] c") into @buf as the selected word "b".
 * Returns 0 or -errno. */
static int sysfs_selected(const char *path, char *buf, size_t len)
{
	char line[256], *l, *r;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		int e = ferror(f) ? -EIO : -ENODATA;

		fclose(f);
		return e;
	}
	fclose(f);
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l - 1) >= len)
		return -EINVAL;
	memcpy(buf, l + 1, (size_t)(r - l - 1));
	buf[r - l - 1] = '\0';
	return 0;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return (size_t)n == strlen(val) ? 0 : -EIO;
}

/*
 * Switch shmem THP to "advise" unless huge pages are allowed for
 * MADV_HUGEPAGE mappings already. Returns 0, or -errno with a reason in
 * @why.
 */
static int thp_enable(char *why, size_t len)
{
	char cur[32];
	int r;

	r = sysfs_selected(THP_SHMEM, cur, sizeof(cur));
	if (r < 0) {
		snprintf(why, len, "cannot read %s: %s", THP_SHMEM,
			 strerror(-r));
		return r;
	}
	if (!strcmp(cur, "advise") || !strcmp(cur, "always") ||
	    !strcmp(cur, "within_size") || !strcmp(cur, "force")) {
		printf("thp: %s is \"%s\" already, not switched\n", THP_SHMEM,
		       cur);
		return 0;
	}
	snprintf(thp_old, sizeof(thp_old), "%s", cur);
	thp_switched = 1;
	r = sysfs_write(THP_SHMEM, "advise");
	if (r < 0) {
		thp_switched = 0;
		snprintf(why, len, "cannot write %s%s: %s", THP_SHMEM,
			 geteuid() ? " (not root)" : "", strerror(-r));
		return r;
	}
	printf("thp: switched %s from \"%s\" to \"advise\" for this run\n",
	       THP_SHMEM, cur);

	/* Newer kernels have per-size knobs; "inherit" follows the switch. */
	if (sysfs_selected(THP_SHMEM_PMD, cur, sizeof(cur)) == 0 &&
	    strcmp(cur, "inherit") != 0)
		printf("thp: note: %s is \"%s\"\n", THP_SHMEM_PMD, cur);
	return 0;
}

/* ---- guest RAM: a memfd, its mapping 2 MiB aligned ---- */

struct ram {
	int fd;
	uint8_t *map; /* whole file; managed range at META_AREA */
	uint64_t size;
	uint64_t range; /* bytes in the managed range */
	bool thp;
	bool reported; /* THP use printed once */
};

static void ram_open(struct ram *m, unsigned gib, bool thp)
{
	uint8_t *res, *aligned;

	m->thp = thp;
	m->reported = false;
	m->range = gib * GIB;
	m->size = META_AREA + m->range;
	m->fd = memfd_create(thp ? "ha-bench-thp" : "ha-bench", MFD_CLOEXEC);
	if (m->fd < 0)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(m->fd, (off_t)m->size) < 0)
		die("ftruncate %" PRIu64 " bytes: %s", m->size,
		    strerror(errno));

	/* Reserve, then map the file at a 2 MiB boundary so that shmem
	 * huge pages can be mapped by PMDs. */
	res = mmap(NULL, m->size + HA_HUGE_SIZE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		die("mmap reserve: %s", strerror(errno));
	aligned = (uint8_t *)(((uintptr_t)res + HA_HUGE_SIZE - 1) &
			      ~(uintptr_t)(HA_HUGE_SIZE - 1));
	size_t head = (size_t)(aligned - res);
	size_t tail = HA_HUGE_SIZE - head;

	if (head && munmap(res, head) < 0)
		die("munmap: %s", strerror(errno));
	if (tail && munmap(aligned + m->size, tail) < 0)
		die("munmap: %s", strerror(errno));
	m->map = mmap(aligned, m->size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_FIXED, m->fd, 0);
	if (m->map == MAP_FAILED)
		die("mmap memfd: %s", strerror(errno));
	if (thp && madvise(m->map, m->size, MADV_HUGEPAGE) < 0)
		die("madvise(MADV_HUGEPAGE): %s", strerror(errno));
}

static void ram_close(struct ram *m)
{
	if (munmap(m->map, m->size) < 0)
		die("munmap: %s", strerror(errno));
	close(m->fd);
}

/* kB of @key in the smaps entry of the mapping starting at @addr. */
static long smaps_kb(const void *addr, const char *key)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "re");
	bool in = false;
	long kb = -1;
	size_t klen = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			if (in)
				break;
			in = start == (uintptr_t)addr;
			continue;
		}
		if (in && !strncmp(line, key, klen) && line[klen] == ':')
			kb = strtol(line + klen + 1, NULL, 10);
	}
	fclose(f);
	return kb;
}

/* kB of @key in /proc/meminfo, or -1. */
static long meminfo_kb(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");
	size_t klen = strlen(key);
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			kb = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Write every 4 KiB page of the managed range; returns the fraction of
 * it mapped by huge pages (THP) or 0. */
static double ram_touch(struct ram *m)
{
	uint8_t *p = m->map + META_AREA;
	int64_t res;

	for (uint64_t off = 0; off < m->range; off += HA_FRAME_SIZE)
		p[off] = (uint8_t)(off >> HA_FRAME_SHIFT | 1);
	res = memfd_resident_bytes(m->fd);
	if (res < 0)
		die("fstat memfd: %s", strerror((int)-res));
	if ((uint64_t)res < m->range)
		die("touched %" PRIu64 " bytes but only %" PRId64
		    " are resident",
		    m->range, res);
	if (!m->thp)
		return 0;

	long kb = smaps_kb(m->map, "ShmemPmdMapped");

	if (!m->reported) {
		printf("thp: after touching: mapping ShmemPmdMapped %ld MiB, "
		       "/proc/meminfo ShmemHugePages %ld MiB, range %" PRIu64
		       " MiB\n",
		       kb / 1024, meminfo_kb("ShmemHugePages") / 1024,
		       m->range / MIB);
		m->reported = true;
	}
	return kb < 0 ? 0 : (double)kb * 1024 / (double)m->range;
}

/* After a reclaim: nothing of the range may be left resident. */
static void ram_check_empty(struct ram *m, const char *what)
{
	int64_t res = memfd_resident_bytes(m->fd);

	if (res < 0)
		die("fstat memfd: %s", strerror((int)-res));
	if ((uint64_t)res > META_AREA)
		die("%s left %" PRId64 " bytes resident", what, res);
}

/* ---- the three ways to free the range ---- */

static double secs(uint64_t t0)
{
	return (double)(memfd_env_now_ns() - t0) / 1e9;
}

static double run_lib(struct ram *m, uint64_t *ret_calls)
{
	uint64_t frames = m->range / HA_FRAME_SIZE;
	uint64_t children = frames / HA_CHILD_FRAMES;
	struct ha_local *local = aligned_alloc(64, ha_local_size(1));
	uint8_t *state = calloc(1, ha_host_state_size(m->size / HA_FRAME_SIZE));
	struct ha_host_counters c;
	struct memfd_env env;
	struct ha_guest g;
	struct ha_host h;
	struct ha_bad bad;
	uint64_t t0;
	double t;
	int64_t n;
	int r;

	if (!local || !state)
		die("out of memory");
	r = ha_guest_init(&g, m->map, META_AREA, local, 1,
			  META_AREA / HA_FRAME_SIZE, frames, HA_INIT_FREE);
	if (r < 0)
		die("ha_guest_init: %s", ha_strerror(r));
	r = memfd_env_init(&env, m->fd, META_AREA);
	if (r < 0)
		die("memfd_env_init: %s", strerror(-r));
	r = ha_host_attach(&h, m->map, META_AREA, 0, m->size / HA_FRAME_SIZE,
			   &env.env, state, &bad);
	if (r < 0)
		die("ha_host_attach: %s (%s)", ha_strerror(r),
		    ha_bad_str(bad.reason));

	t0 = memfd_env_now_ns();
	n = ha_host_reclaim_hard(&h, children);
	t = secs(t0);
	if (n < 0)
		die("ha_host_reclaim_hard: %s", ha_strerror((int)n));
	if ((uint64_t)n != children)
		die("ha_host_reclaim_hard reclaimed %" PRId64 " of %" PRIu64, n,
		    children);
	ha_host_counters(&h, &c);
	*ret_calls = c.discard_calls;
	memfd_env_destroy(&env);
	free(state);
	free(local);
	return t;
}

static double run_raw(struct ram *m, uint64_t step)
{
	uint64_t t0 = memfd_env_now_ns();

	for (uint64_t off = 0; off < m->range; off += step) {
		uint64_t len = m->range - off < step ? m->range - off : step;

		if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(META_AREA + off), (off_t)len) < 0)
			die("fallocate(PUNCH_HOLE): %s", strerror(errno));
	}
	return secs(t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct rates {
	double lib, raw, raw_one; /* GiB/s, medians */
	double huge_min; /* smallest THP fraction seen after a touch */
};

enum method {
	M_LIB,
	M_RAW_2M,
	M_RAW_ONE,
	M_COUNT
};

static const char *const method_name[M_COUNT] = {
	[M_LIB] = "lib ha_host_reclaim_hard",
	[M_RAW_2M] = "raw punch per 2 MiB",
	[M_RAW_ONE] = "raw punch, one call",
};

/* Touch the range, free it with @meth, check it is gone, print the run.
 * Returns the seconds the freeing took. */
static double one_run(struct ram *m, enum method meth, unsigned run,
		      unsigned gib, double *huge_min)
{
	double huge = ram_touch(m), t;
	const char *backing = "";
	uint64_t calls;

	if (huge < *huge_min)
		*huge_min = huge;
	if (m->thp)
		backing = huge > 0.99 ? ", THP-backed" :
					", NOT fully THP-backed";
	switch (meth) {
	case M_LIB:
		t = run_lib(m, &calls);
		break;
	case M_RAW_2M:
		t = run_raw(m, HA_HUGE_SIZE);
		calls = m->range / HA_HUGE_SIZE;
		break;
	default:
		t = run_raw(m, m->range);
		calls = 1;
		break;
	}
	ram_check_empty(m, method_name[meth]);
	printf("%-3s run %u: %-26s %8.2f GiB/s (%.1f ms, %" PRIu64
	       " fallocate calls%s)\n",
	       m->thp ? "thp" : "4k", run + 1, method_name[meth], gib / t,
	       t * 1e3, calls, backing);
	return t;
}

static void measure(const struct opts *o, bool thp, struct rates *ret)
{
	double t[M_COUNT][MAX_RUNS];
	struct ram m;

	ram_open(&m, o->gib, thp);
	ret->huge_min = 1;
	/* Interleaved, and each run starts with another method. */
	for (unsigned run = 0; run < o->runs; run++) {
		for (unsigned k = 0; k < M_COUNT; k++) {
			enum method meth = (enum method)((run + k) % M_COUNT);

			t[meth][run] =
				one_run(&m, meth, run, o->gib, &ret->huge_min);
		}
	}
	ram_close(&m);
	ret->lib = o->gib / median(t[M_LIB], o->runs);
	ret->raw = o->gib / median(t[M_RAW_2M], o->runs);
	ret->raw_one = o->gib / median(t[M_RAW_ONE], o->runs);
	printf("%-3s medians: lib %.2f GiB/s, raw per 2 MiB %.2f GiB/s, "
	       "raw one call %.2f GiB/s, lib/raw %.3f\n",
	       thp ? "thp" : "4k", ret->lib, ret->raw, ret->raw_one,
	       ret->lib / ret->raw);
	if (thp)
		printf("thp: smallest share of the range mapped by huge pages "
		       "after a touch: %.1f %% (smaps ShmemPmdMapped)\n",
		       ret->huge_min * 100);
}

/* ---- soft-reclaim scan over a simulated guest ---- */

static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t scan_discarded;

static int scan_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	(void)ctx;
	(void)first;
	scan_discarded += count;
	return 0;
}

static int scan_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	(void)ctx;
	(void)first;
	(void)count;
	return 0;
}

static void scan_do_lock(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&scan_lock);
}

static void scan_do_unlock(void *ctx)
{
	(void)ctx;
	pthread_mutex_unlock(&scan_lock);
}

static double measure_scan(unsigned gib)
{
	const unsigned cores = 4;
	uint64_t frames = gib * GIB / HA_FRAME_SIZE;
	uint64_t children = frames / HA_CHILD_FRAMES;
	uint64_t meta_size = ha_meta_size(frames);
	uint64_t meta_frames = (meta_size + HA_FRAME_SIZE - 1) / HA_FRAME_SIZE;
	uint64_t base = (meta_frames + HA_BASE_ALIGN_FRAMES - 1) /
			HA_BASE_ALIGN_FRAMES * HA_BASE_ALIGN_FRAMES;
	const struct ha_host_env env = {
		.discard = scan_discard,
		.populate = scan_populate,
		.lock = scan_do_lock,
		.unlock = scan_do_unlock,
	};
	struct ha_local *local = aligned_alloc(64, ha_local_size(cores));
	uint8_t *state = calloc(1, ha_host_state_size(base + frames));
	uint64_t *held = calloc(children, sizeof(*held));
	uint64_t nheld = 0, rnd = 0x9e3779b97f4a7c15ull, allocated;
	double t[SCAN_PASSES];
	struct ha_host_scan sc;
	struct ha_guest g;
	struct ha_host h;
	struct ha_bad bad;
	void *meta;
	int64_t n;
	int r;

	if (!local || !state || !held)
		die("out of memory");
	meta = mmap(NULL, meta_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (meta == MAP_FAILED)
		die("mmap %" PRIu64 " bytes of metadata: %s", meta_size,
		    strerror(errno));
	r = ha_guest_init(&g, meta, meta_size, local, cores, base, frames,
			  HA_INIT_FREE);
	if (r < 0)
		die("ha_guest_init: %s", ha_strerror(r));
	r = ha_host_attach(&h, meta, meta_size, 0, base + frames, &env, state,
			   &bad);
	if (r < 0)
		die("ha_host_attach: %s (%s)", ha_strerror(r),
		    ha_bad_str(bad.reason));

	/* Steady state: the guest takes every huge frame it can, gives 40 %
	 * back, some 4 KiB frames are in use, and one soft pass discards
	 * every free frame. Afterwards a pass finds nothing to do but must
	 * still look at every tree. */
	for (;;) {
		ha_frame_t f;
		bool reclaimed;

		r = ha_guest_get(&g, (unsigned)(nheld % cores), HA_HUGE_ORDER,
				 0, &f, &reclaimed);
		if (r == HA_ENOMEM)
			break;
		if (r < 0)
			die("ha_guest_get: %s", ha_strerror(r));
		held[nheld++] = f.v;
	}
	allocated = nheld;
	for (uint64_t i = 0; i < nheld; i++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		if (rnd % 10 >= 4)
			continue;
		r = ha_guest_put(&g, 0, ha_frame(held[i]), HA_HUGE_ORDER);
		if (r < 0)
			die("ha_guest_put: %s", ha_strerror(r));
		allocated--;
	}
	for (uint64_t i = 0; i < children / 64; i++) {
		ha_frame_t f;
		bool reclaimed;

		r = ha_guest_get(&g, (unsigned)(i % cores), 0, 0, &f,
				 &reclaimed);
		if (r < 0)
			die("ha_guest_get: %s", ha_strerror(r));
		if (reclaimed) {
			r = ha_host_install(&h, ha_frame_to_huge(f));
			if (r < 0)
				die("ha_host_install: %s", ha_strerror(r));
		}
	}
	n = ha_host_reclaim_soft(&h, 0);
	if (n < 0)
		die("ha_host_reclaim_soft: %s", ha_strerror((int)n));
	if (ha_host_scan(&h, &sc) < 0)
		die("ha_host_scan: %s", ha_bad_str(ha_host_bad(&h)->reason));

	for (unsigned i = 0; i < SCAN_PASSES; i++) {
		uint64_t t0 = memfd_env_now_ns();

		n = ha_host_reclaim_soft(&h, 0);
		t[i] = secs(t0);
		if (n < 0)
			die("ha_host_reclaim_soft: %s", ha_strerror((int)n));
		if (n != 0)
			die("steady state: a soft pass reclaimed %" PRId64, n);
	}
	double ms = median(t, SCAN_PASSES) * 1e3;

	printf("scan: %u GiB guest (%" PRIu64 " huge frames, %" PRIu64
	       " trees): %" PRIu64 " huge allocated, %" PRIu64
	       " soft-reclaimed, %" PRIu64
	       " free and installed (reserved by CPUs); "
	       "soft pass median %.3f ms of %u\n",
	       gib, children, h.layout.trees, allocated, sc.soft,
	       sc.free_huge_installed, ms, SCAN_PASSES);
	munmap(meta, meta_size);
	free(held);
	free(state);
	free(local);
	return ms * 1024.0 / gib;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: reclaim [options] [GIB]\n"
		"Hard-reclaim GIB GiB (default 4) of touched memfd memory\n"
		"through libhyperalloc and punch the same amount raw with\n"
		"fallocate, on 4 KiB pages and on shmem THP; then time\n"
		"soft-reclaim scans of a simulated guest.\n"
		"\n"
		"  -g, --gib N        GiB to reclaim per run (default 4)\n"
		"  -r, --runs N       runs per method, median taken\n"
		"                     (default 3, at most %u)\n"
		"  -s, --scan-gib N   size of the simulated guest for the\n"
		"                     scan (default 64; metadata only)\n"
		"      --no-thp       skip the shmem THP run (thp values 0)\n"
		"  -h, --help         this text\n"
		"\n"
		"The THP run switches %s\n"
		"to \"advise\" (needs root) and restores it at exit.\n"
		"Last line: reclaim: lib_gibps= raw_gibps= ratio=\n"
		"thp_lib_gibps= thp_raw_gibps= thp_ratio= scan_ms_per_tib=\n"
		"(raw = fallocate per 2 MiB; ratio = lib/raw)\n",
		MAX_RUNS, THP_SHMEM);
}

static unsigned parse_uint(const char *s, const char *what, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > max)
		die("%s must be a number from 1 to %u, not \"%s\"", what, max,
		    s);
	return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "gib", required_argument, NULL, 'g' },
		{ "runs", required_argument, NULL, 'r' },
		{ "scan-gib", required_argument, NULL, 's' },
		{ "no-thp", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct opts){ .gib = 4, .runs = 3, .scan_gib = 64, .thp = true };
	while ((c = getopt_long(argc, argv, "g:r:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			o->gib = parse_uint(optarg, "--gib", 1024);
			break;
		case 'r':
			o->runs = parse_uint(optarg, "--runs", MAX_RUNS);
			break;
		case 's':
			o->scan_gib =
				parse_uint(optarg, "--scan-gib", 1u << 20);
			break;
		case 'T':
			o->thp = false;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		o->gib = parse_uint(argv[optind++], "GIB", 1024);
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct rates r4k = { 0 }, rthp = { 0 };
	char why[256] = "";
	struct opts o;
	double scan;

	parse_args(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (atexit(thp_restore) != 0)
		die("atexit failed");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	printf("reclaim: %u GiB touched per run, %u runs per method, "
	       "interleaved; memfd, metadata in its first 4 MiB\n",
	       o.gib, o.runs);
	measure(&o, false, &r4k);

	if (!o.thp)
		snprintf(why, sizeof(why), "--no-thp given");
	else if (thp_enable(why, sizeof(why)) == 0) {
		measure(&o, true, &rthp);
		thp_restore();
		if (rthp.huge_min < 0.99)
			printf("thp: note: the THP run was not fully backed by "
			       "huge pages (%.1f %% at worst)\n",
			       rthp.huge_min * 100);
	}
	if (why[0]) {
		printf("thp: not measured: %s; thp values are 0\n", why);
		rthp = (struct rates){ 0 };
	}

	scan = measure_scan(o.scan_gib);

	printf("reclaim: lib_gibps=%.2f raw_gibps=%.2f ratio=%.3f "
	       "thp_lib_gibps=%.2f thp_raw_gibps=%.2f thp_ratio=%.3f "
	       "scan_ms_per_tib=%.3f\n",
	       r4k.lib, r4k.raw, r4k.lib / r4k.raw, rthp.lib, rthp.raw,
	       rthp.raw > 0 ? rthp.lib / rthp.raw : 0.0, scan);
	return EXIT_SUCCESS;
}
