// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ha-replay: replay a workload trace of tools/traces/ (the format of
 * tools/ha-simguest/trace.h: "time_s fraction churn_per_s" per line, '#'
 * comments) with real memory in a guest. At trace time t the program
 * holds fraction(t) of MEM bytes of anonymous memory, in chunks of 64 KiB
 * to 2 MiB (the large ones advised for transparent huge pages), and per
 * trace second frees and allocates churn(t) of what it holds again;
 * values between points are interpolated. A canary in every page is
 * verified before its chunk is freed.
 *
 *   ha-replay -m MIB [-x SCALE] [-r REPORT_S] [-w MROUNDS] TRACE
 *
 * SCALE is trace seconds per real second (default 1). With -w the replay
 * is paced by work instead of the clock, as a build is: every step of
 * 1/50 s of SCALEd trace time also does MROUNDS million rounds of
 * arithmetic per trace second, and the trace advances by steps done, so
 * memory that is slow to get (installed, faulted in) makes the run
 * longer, and "seconds" in the verdict is the completion time. A progress line
 * every REPORT_S seconds, then one verdict line:
 *
 *   ha-replay: verdict=pass canary_errors=0 map_failures=0 ... peak_mib=812
 *
 * Exit status 0 for pass, 1 for fail, 2 for bad usage or trace.
 */
#include <errno.h>
#include <getopt.h>
#include <unistd.h>

#include "workload.h"

struct point {
	double t, fraction, churn;
};

struct chunk {
	void *p;
	size_t len;
	uint64_t tag;
};

static struct point *points;
static size_t npoints;
static struct chunk *chunks;
static size_t nchunks, capchunks;
static unsigned long long held, peak, allocated, freed_bytes;
static unsigned long long canary_errors, map_failures;
static uint64_t rnd = 0x853c49e6748fea9bull, seq;

/* Parse the trace at @path; 0, or -1 with the reason on stderr. */
static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t cap = 0, lineno = 0;

	if (!f) {
		fprintf(stderr, "ha-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct point pt;
		char *hash = strchr(line, '#'), extra;
		int n;

		lineno++;
		if (hash)
			*hash = '\0';
		n = sscanf(line, "%lf %lf %lf %c", &pt.t, &pt.fraction,
			   &pt.churn, &extra);
		if (n <= 0)
			continue;
		if (n != 3 || pt.t < 0 || pt.fraction < 0 || pt.fraction > 1 ||
		    pt.churn < 0 || (npoints && pt.t < points[npoints - 1].t)) {
			fprintf(stderr, "ha-replay: %s:%zu: not \"time_s fraction churn_per_s\" in order\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		if (npoints == cap) {
			cap = cap ? cap * 2 : 256;
			points = realloc(points, cap * sizeof(*points));
			if (!points) {
				fclose(f);
				return -1;
			}
		}
		points[npoints++] = pt;
	}
	fclose(f);
	if (!npoints) {
		fprintf(stderr, "ha-replay: %s: no points\n", path);
		return -1;
	}
	return 0;
}

/* The interpolated point at trace time @t. */
static struct point at(double t)
{
	size_t i;

	if (t <= points[0].t)
		return points[0];
	for (i = 1; i < npoints; i++) {
		const struct point *a = &points[i - 1], *b = &points[i];
		double k;

		if (t > b->t)
			continue;
		if (b->t == a->t)
			return *b;
		k = (t - a->t) / (b->t - a->t);
		return (struct point){ t, a->fraction + k * (b->fraction - a->fraction),
				       a->churn + k * (b->churn - a->churn) };
	}
	return points[npoints - 1];
}

static bool alloc_one(void)
{
	bool thp = wl_below(&rnd, 4) == 0;
	size_t len = thp ? WL_HUGE : (size_t)(16 + wl_below(&rnd, 240)) * WL_PAGE;
	struct chunk *c;

	if (nchunks == capchunks) {
		capchunks = capchunks ? capchunks * 2 : 1024;
		chunks = realloc(chunks, capchunks * sizeof(*chunks));
		if (!chunks)
			return false;
	}
	c = &chunks[nchunks];
	c->p = wl_map(len, thp);
	if (!c->p) {
		map_failures++;
		return false;
	}
	c->len = len;
	c->tag = ++seq;
	wl_fill(c->p, len, c->tag);
	nchunks++;
	held += len;
	allocated += len;
	if (held > peak)
		peak = held;
	return true;
}

static void free_one(void)
{
	size_t i = wl_below(&rnd, nchunks);
	struct chunk c = chunks[i];
	char why[160];
	uint64_t bad = wl_check(c.p, c.len, c.tag, why, sizeof(why));

	if (bad) {
		if (canary_errors == 0)
			printf("ha-replay: error: %s\n", why);
		canary_errors += bad;
	}
	munmap(c.p, c.len);
	held -= c.len;
	freed_bytes += c.len;
	chunks[i] = chunks[--nchunks];
}

int main(int argc, char **argv)
{
	double scale = 1, report_s = 5, mrounds = 0, start, now, last, next,
	       length, pos = 0;
	uint64_t sink = 1;
	unsigned long long mem = 0, churn_debt = 0;
	bool pass;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "m:x:r:w:")) != -1) {
		switch (c) {
		case 'm':
			mem = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'x':
			scale = strtod(optarg, NULL);
			break;
		case 'r':
			report_s = strtod(optarg, NULL);
			break;
		case 'w':
			mrounds = strtod(optarg, NULL);
			if (mrounds <= 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !mem || scale <= 0 || report_s <= 0)
		goto usage;
	if (load(argv[optind]))
		return 2;
	length = points[npoints - 1].t;
	printf("ha-replay: start trace=%s points=%zu trace_s=%.0f scale=%g mem_mib=%llu paced=%s\n",
	       argv[optind], npoints, length, scale, mem >> 20,
	       mrounds > 0 ? "work" : "clock");

	start = last = wl_now();
	next = start + report_s;
	do {
		struct point p;
		unsigned long long target;
		double dt;

		now = wl_now();
		if (mrounds > 0) {
			dt = 0.02 * scale;
			pos += dt;
		} else {
			pos = (now - start) * scale;
			dt = (now - last) * scale;
		}
		last = now;
		p = at(pos);
		target = (unsigned long long)(p.fraction * (double)mem);
		/* Turnover first, then toward the target. A guest too slow
		 * for the trace turns over at most what it holds per step. */
		churn_debt += (unsigned long long)(p.churn * dt * (double)held);
		if (churn_debt > held)
			churn_debt = held;
		while (churn_debt && nchunks) {
			size_t len = chunks[nchunks - 1].len;

			free_one();
			churn_debt = churn_debt > len ? churn_debt - len : 0;
			if (!alloc_one())
				break;
		}
		while (held > target && nchunks)
			free_one();
		while (held < target && alloc_one())
			;
		if (now >= next) {
			printf("ha-replay: progress pos=%.0f held_mib=%llu target_mib=%llu allocated_mib=%llu canary_errors=%llu\n",
			       pos, held >> 20, target >> 20, allocated >> 20,
			       canary_errors);
			next += report_s;
		}
		if (mrounds > 0) {
			unsigned long long n = (unsigned long long)(mrounds * 1e6 * dt);

			for (unsigned long long i = 0; i < n; i++)
				sink = wl_rand(&sink);
		} else {
			usleep(20000);
		}
	} while (pos < length);
	while (nchunks)
		free_one();

	pass = canary_errors == 0;
	printf("ha-replay: verdict=%s canary_errors=%llu map_failures=%llu trace_s=%.0f seconds=%.1f peak_mib=%llu allocated_mib=%llu freed_mib=%llu sink=%llu\n",
	       pass ? "pass" : "fail", canary_errors, map_failures, length,
	       wl_now() - start, peak >> 20, allocated >> 20,
	       freed_bytes >> 20, (unsigned long long)(sink & 1));
	return pass ? 0 : 1;

usage:
	fprintf(stderr, "usage: ha-replay -m MIB [-x SCALE] [-r REPORT_S] [-w MROUNDS] TRACE\n");
	return 2;
}
