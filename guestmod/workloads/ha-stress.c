// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ha-stress: a memory stress test for a guest whose memory the host takes
 * away and gives back while it runs. For a number of seconds:
 *
 *   - anonymous workers map chunks of 4 KiB to 8 MiB (some 2 MiB aligned
 *     and advised for transparent huge pages), write a canary into every
 *     page, keep them up to their share of the budget, and verify every
 *     page before they unmap a chunk;
 *   - a tmpfs worker writes files of canary pages into a directory (page
 *     cache), keeps them up to its budget, reads them back and verifies
 *     them before it deletes them;
 *   - a fork worker forks children that map, write and verify memory and
 *     exec this program again (--child) to do the same.
 *
 * Every few seconds a progress line, at the end one verdict line:
 *
 *   ha-stress: verdict=pass canary_errors=0 child_errors=0 ... mib_per_s=41.2
 *
 * (verdict=fail with the first errors described on lines before it).
 * Exit status 0 for pass, 1 for fail, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

struct config {
	unsigned threads;
	unsigned long long anon; /* bytes, all anonymous workers together */
	unsigned long long tmpfs; /* bytes of files */
	const char *dir;
	double seconds;
	bool thp;
	bool fork;
	double report_s;
};

/* Counters of all workers, atomics. */
static _Atomic unsigned long long n_bytes; /* written + verified */
static _Atomic unsigned long long n_ops; /* chunks and files */
static _Atomic unsigned long long n_canary; /* pages with a bad canary */
static _Atomic unsigned long long n_map_fail;
static _Atomic unsigned long long n_io_fail;
static _Atomic unsigned long long n_forks;
static _Atomic unsigned long long n_child_fail;
static _Atomic unsigned n_reported;
static volatile sig_atomic_t stopping;
static double deadline;

static void report_error(const char *what, const char *why)
{
	if (atomic_fetch_add(&n_reported, 1) < 8)
		printf("ha-stress: error: %s: %s\n", what, why);
}

static bool time_up(void)
{
	return stopping || wl_now() >= deadline;
}

/* ---- anonymous memory ---- */

struct chunk {
	void *p;
	size_t len;
	uint64_t tag;
};

struct anon_worker {
	pthread_t tid;
	unsigned id;
	unsigned long long budget;
	const struct config *cfg;
};

static size_t pick_size(uint64_t *rnd, bool thp, bool *ret_thp)
{
	uint64_t x = wl_below(rnd, 100);

	*ret_thp = false;
	if (x < 55)
		return (size_t)(1 + wl_below(rnd, 16)) * WL_PAGE;
	if (x < 88)
		return (size_t)(16 + wl_below(rnd, 240)) * WL_PAGE;
	*ret_thp = thp;
	return (size_t)(1 + wl_below(rnd, 4)) * WL_HUGE;
}

static void chunk_verify(struct chunk *c, const char *what)
{
	char why[160];
	uint64_t bad = wl_check(c->p, c->len, c->tag, why, sizeof(why));

	atomic_fetch_add(&n_bytes, c->len);
	if (bad) {
		atomic_fetch_add(&n_canary, bad);
		report_error(what, why);
	}
}

static void *anon_main(void *arg)
{
	struct anon_worker *w = arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (w->id + 1), seq = 0;
	unsigned long long held = 0;
	struct chunk *c = NULL;
	size_t n = 0, cap = 0;

	while (!time_up()) {
		bool thp;
		size_t len = pick_size(&rnd, w->cfg->thp, &thp), i;

		while (n && (held + len > w->budget || n == 4096)) {
			i = wl_below(&rnd, n);
			chunk_verify(&c[i], "anonymous memory");
			munmap(c[i].p, c[i].len);
			held -= c[i].len;
			c[i] = c[--n];
		}
		if (len > w->budget)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			c = realloc(c, cap * sizeof(*c));
			if (!c) {
				report_error("anonymous memory", "out of memory");
				atomic_fetch_add(&n_map_fail, 1);
				return NULL;
			}
		}
		c[n].p = wl_map(len, thp);
		if (!c[n].p) {
			atomic_fetch_add(&n_map_fail, 1);
			continue;
		}
		c[n].len = len;
		c[n].tag = ((uint64_t)w->id << 32) | ++seq;
		wl_fill(c[n].p, len, c[n].tag);
		atomic_fetch_add(&n_bytes, len);
		atomic_fetch_add(&n_ops, 1);
		held += len;
		n++;
		/* Now and then check one we keep. */
		if (wl_below(&rnd, 8) == 0)
			chunk_verify(&c[wl_below(&rnd, n)], "anonymous memory");
	}
	while (n) {
		n--;
		chunk_verify(&c[n], "anonymous memory");
		munmap(c[n].p, c[n].len);
	}
	free(c);
	return NULL;
}

/* ---- tmpfs page cache ---- */

struct file_rec {
	unsigned long long seq;
	size_t len;
};

static void file_name(char *buf, size_t len, const char *dir,
		      unsigned long long seq)
{
	snprintf(buf, len, "%s/ha-stress-%d-%llu", dir, (int)getpid(), seq);
}

static bool file_write(const char *path, size_t len, uint64_t tag, void *buf)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	bool ok = fd >= 0;

	wl_fill(buf, len, tag);
	if (ok && write(fd, buf, len) != (ssize_t)len)
		ok = false;
	if (fd >= 0 && close(fd))
		ok = false;
	return ok;
}

static void file_verify(const char *path, size_t len, uint64_t tag, void *buf)
{
	int fd = open(path, O_RDONLY);
	char why[200];
	uint64_t bad;

	memset(buf, 0, len);
	if (fd < 0 || read(fd, buf, len) != (ssize_t)len) {
		atomic_fetch_add(&n_io_fail, 1);
		report_error("tmpfs", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	bad = wl_check(buf, len, tag, why, sizeof(why));
	atomic_fetch_add(&n_bytes, len);
	if (bad) {
		atomic_fetch_add(&n_canary, bad);
		report_error("tmpfs", why);
	}
}

static void *tmpfs_main(void *arg)
{
	const struct config *cfg = arg;
	size_t maxlen = 1024 * WL_PAGE;
	struct file_rec f[512];
	unsigned long long held = 0, seq = 0;
	uint64_t rnd = 0x1234567;
	char path[256];
	size_t n = 0, i, len;
	void *buf = malloc(maxlen);

	if (!buf)
		return NULL;
	while (!time_up()) {
		len = (size_t)(1 + wl_below(&rnd, 1024)) * WL_PAGE;
		while (n && (held + len > cfg->tmpfs || n == 512)) {
			i = wl_below(&rnd, n);
			file_name(path, sizeof(path), cfg->dir, f[i].seq);
			file_verify(path, f[i].len, f[i].seq, buf);
			unlink(path);
			held -= f[i].len;
			f[i] = f[--n];
		}
		if (len > cfg->tmpfs)
			break;
		f[n].seq = ++seq | (1ull << 40);
		f[n].len = len;
		file_name(path, sizeof(path), cfg->dir, f[n].seq);
		if (!file_write(path, len, f[n].seq, buf)) {
			atomic_fetch_add(&n_io_fail, 1);
			unlink(path);
			continue;
		}
		atomic_fetch_add(&n_bytes, len);
		atomic_fetch_add(&n_ops, 1);
		held += len;
		n++;
	}
	while (n) {
		n--;
		file_name(path, sizeof(path), cfg->dir, f[n].seq);
		file_verify(path, f[n].len, f[n].seq, buf);
		unlink(path);
	}
	free(buf);
	return NULL;
}

/* ---- fork and exec ---- */

/* What a child does, before and after its exec: map, write, verify. */
static int child_work(uint64_t tag)
{
	size_t len = 256 * WL_PAGE;
	void *p = wl_map(len, false);
	char why[160];

	if (!p)
		return 4;
	wl_fill(p, len, tag);
	if (wl_check(p, len, tag, why, sizeof(why))) {
		printf("ha-stress: error: child: %s\n", why);
		return 3;
	}
	munmap(p, len);
	return 0;
}

static void *fork_main(void *arg)
{
	const char *self = arg;
	uint64_t tag = 7ull << 44;

	while (!time_up()) {
		int status;
		pid_t pid = fork();

		tag++;
		if (pid < 0) {
			atomic_fetch_add(&n_child_fail, 1);
			report_error("fork", strerror(errno));
			continue;
		}
		if (pid == 0) {
			int r = child_work(tag);

			if (r)
				_exit(r);
			execl(self, "ha-stress", "--child", (char *)NULL);
			_exit(5);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			char why[64];

			snprintf(why, sizeof(why), "child status %#x", status);
			atomic_fetch_add(&n_child_fail, 1);
			report_error("fork", why);
		}
		atomic_fetch_add(&n_forks, 1);
	}
	return NULL;
}

/* ---- main ---- */

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ha-stress [-t THREADS] [-m ANON_MIB] [-f TMPFS_MIB] [-d DIR]\n"
		"                 [-s SECONDS] [-r REPORT_S] [--no-thp] [--no-fork]\n");
}

static int parse(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "anon-mib", required_argument, NULL, 'm' },
		{ "tmpfs-mib", required_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "report", required_argument, NULL, 'r' },
		{ "no-thp", no_argument, NULL, 'T' },
		{ "no-fork", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*cfg = (struct config){ .threads = 2, .anon = 64ull << 20,
				.tmpfs = 16ull << 20, .dir = "/tmp",
				.seconds = 30, .thp = true, .fork = true,
				.report_s = 5 };
	while ((c = getopt_long(argc, argv, "t:m:f:d:s:r:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			cfg->threads = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			cfg->anon = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'f':
			cfg->tmpfs = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'd':
			cfg->dir = optarg;
			break;
		case 's':
			cfg->seconds = strtod(optarg, NULL);
			break;
		case 'r':
			cfg->report_s = strtod(optarg, NULL);
			break;
		case 'T':
			cfg->thp = false;
			break;
		case 'F':
			cfg->fork = false;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || cfg->threads < 1 || cfg->threads > 256 ||
	    cfg->seconds <= 0 || cfg->report_s <= 0)
		return -1;
	return 0;
}

/* The counters, as " key=value" words. */
static void print_counts(double elapsed)
{
	printf(" t=%.0f ops=%llu mib=%llu canary_errors=%llu map_failures=%llu io_failures=%llu forks=%llu child_errors=%llu",
	       elapsed, (unsigned long long)n_ops,
	       (unsigned long long)(n_bytes >> 20), (unsigned long long)n_canary,
	       (unsigned long long)n_map_fail, (unsigned long long)n_io_fail,
	       (unsigned long long)n_forks, (unsigned long long)n_child_fail);
}

int main(int argc, char **argv)
{
	struct anon_worker *w;
	unsigned long long thp0;
	pthread_t tmpfs_tid, fork_tid;
	struct config cfg;
	double start, next, elapsed;
	bool pass;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--child"))
		return child_work(9ull << 44);
	if (parse(argc, argv, &cfg)) {
		usage();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	w = calloc(cfg.threads, sizeof(*w));
	if (!w)
		return 1;
	printf("ha-stress: start threads=%u anon_mib=%llu tmpfs_mib=%llu dir=%s seconds=%.0f thp=%d fork=%d\n",
	       cfg.threads, cfg.anon >> 20, cfg.tmpfs >> 20, cfg.dir,
	       cfg.seconds, cfg.thp, cfg.fork);
	thp0 = wl_vmstat("thp_fault_alloc");
	start = wl_now();
	deadline = start + cfg.seconds;
	for (unsigned i = 0; i < cfg.threads; i++) {
		w[i] = (struct anon_worker){ .id = i + 1, .cfg = &cfg,
					     .budget = cfg.anon / cfg.threads };
		pthread_create(&w[i].tid, NULL, anon_main, &w[i]);
	}
	if (cfg.tmpfs)
		pthread_create(&tmpfs_tid, NULL, tmpfs_main, &cfg);
	if (cfg.fork)
		pthread_create(&fork_tid, NULL, fork_main, "/proc/self/exe");

	next = start + cfg.report_s;
	while (!time_up()) {
		usleep(100000);
		if (wl_now() >= next) {
			printf("ha-stress: progress");
			print_counts(wl_now() - start);
			printf("\n");
			next += cfg.report_s;
		}
	}
	for (unsigned i = 0; i < cfg.threads; i++)
		pthread_join(w[i].tid, NULL);
	if (cfg.tmpfs)
		pthread_join(tmpfs_tid, NULL);
	if (cfg.fork)
		pthread_join(fork_tid, NULL);
	elapsed = wl_now() - start;

	pass = n_canary == 0 && n_child_fail == 0 && n_io_fail == 0;
	printf("ha-stress: verdict=%s", pass ? "pass" : "fail");
	print_counts(elapsed);
	printf(" thp_faults=%llu seconds=%.1f mib_per_s=%.1f\n",
	       wl_vmstat("thp_fault_alloc") - thp0, elapsed,
	       (double)n_bytes / (1 << 20) / elapsed);
	free(w);
	return pass ? 0 : 1;
}
