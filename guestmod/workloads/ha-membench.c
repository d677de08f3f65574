// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ha-membench: the guest side of the host benchmarks bench/inflate and
 * bench/stream, the same static program under the HyperAlloc kernel and
 * under Debian's stock kernel.
 *
 *   ha-membench touch MIB
 *	map MIB of anonymous memory (advised for transparent huge pages),
 *	write one word in every 4 KiB page, report the time, unmap:
 *	  ha-membench: touch mib=1024 ns=812345678 gibps=1.23
 *	Memory the host had taken is installed (HyperAlloc), faulted in
 *	again (balloon, virtio-mem) by this loop: its rate is the guest's
 *	rate of getting memory back.
 *
 *   ha-membench stream [-m MIB] [-s SECONDS] [-r REPORT_S]
 *	a STREAM-like triad a[i] = b[i] + q * c[i] over three arrays of
 *	MIB/3 each (default 96 MiB in all) for SECONDS (default 30), one
 *	line per REPORT_S (default 1) and a summary:
 *	  ha-membench: stream t=3.0 mibps=2345.6
 *	  ha-membench: stream done seconds=30.0 mean_mibps=2301.2
 *	    min_mibps=2100.4 max_mibps=2400.3 samples=30 check=ok
 *	Bytes moved count 24 per element (two reads, one write), as STREAM
 *	counts its triad.
 *
 * Exit status 0 on success, 1 when the memory cannot be had or the
 * arrays read back wrong, 2 for bad usage.
 */
#include <getopt.h>
#include <stdint.h>

#include "workload.h"

static void *map_huge(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_HUGEPAGE);
	return p;
}

static int touch(unsigned long long mib)
{
	size_t len = (size_t)mib << 20;
	volatile uint64_t *w;
	double t0, t1;
	char *p;

	t0 = wl_now();
	p = map_huge(len);
	if (!p) {
		printf("ha-membench: touch mib=%llu failed=mmap\n", mib);
		return 1;
	}
	for (size_t off = 0; off < len; off += WL_PAGE) {
		w = (volatile uint64_t *)(p + off);
		*w = off;
	}
	t1 = wl_now();
	munmap(p, len);
	printf("ha-membench: touch mib=%llu ns=%.0f gibps=%.3f\n", mib,
	       (t1 - t0) * 1e9, (double)len / (t1 - t0) / (double)(1u << 30));
	return 0;
}

static int stream(unsigned long long mib, double seconds, double report_s)
{
	size_t n = ((size_t)mib << 20) / 3 / sizeof(double);
	double *a, *b, *c, q = 3.0, start, last, now, next;
	double sum = 0, lo = 0, hi = 0, moved = 0;
	unsigned long samples = 0, passes = 0;
	bool ok = true;

	a = map_huge(n * sizeof(double));
	b = map_huge(n * sizeof(double));
	c = map_huge(n * sizeof(double));
	if (!a || !b || !c || n < 1024) {
		printf("ha-membench: stream failed=mmap mib=%llu\n", mib);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		a[i] = 0;
		b[i] = 1.0;
		c[i] = 2.0;
	}
	start = last = wl_now();
	next = start + report_s;
	do {
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] + q * c[i];
		passes++;
		moved += 24.0 * (double)n;
		now = wl_now();
		if (now >= next) {
			double mibps = moved / (now - last) / (double)(1u << 20);

			printf("ha-membench: stream t=%.1f mibps=%.1f\n",
			       now - start, mibps);
			sum += mibps;
			lo = samples && lo < mibps ? lo : mibps;
			hi = hi > mibps ? hi : mibps;
			samples++;
			moved = 0;
			last = now;
			next += report_s;
		}
	} while (now - start < seconds);
	/* Every pass wrote the same values: any other value is memory the
	 * host lost under the guest. */
	for (size_t i = 0; i < n; i++) {
		if (a[i] != 7.0 || b[i] != 1.0 || c[i] != 2.0) {
			ok = false;
			break;
		}
	}
	printf("ha-membench: stream done seconds=%.1f mean_mibps=%.1f min_mibps=%.1f max_mibps=%.1f samples=%lu passes=%lu check=%s\n",
	       now - start, samples ? sum / (double)samples : 0.0, lo, hi,
	       samples, passes, ok ? "ok" : "bad");
	return ok && samples ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ha-membench touch MIB\n"
		"       ha-membench stream [-m MIB] [-s SECONDS] [-r REPORT_S]\n");
}

int main(int argc, char **argv)
{
	unsigned long long mib = 96;
	double seconds = 30, report_s = 1;
	char *end;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "touch")) {
		mib = strtoull(argv[2], &end, 0);
		if (*end || !mib || argc != 3) {
			usage();
			return 2;
		}
		return touch(mib);
	}
	if (argc < 2 || strcmp(argv[1], "stream")) {
		usage();
		return 2;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "m:s:r:")) != -1) {
		switch (c) {
		case 'm':
			mib = strtoull(optarg, NULL, 0);
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'r':
			report_s = strtod(optarg, NULL);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || mib < 3 || seconds <= 0 || report_s <= 0) {
		usage();
		return 2;
	}
	return stream(mib, seconds, report_s);
}
