// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench/direct_read: what hyperallocd's direct reads of HyperAlloc VMs
 * cost per engine tick. For every HyperAlloc VM with shared RAM the daemon
 * scans each region's child words with lib/'s pure ha_scan() on every
 * tick (libvirt/hyperalloc.c); this measures that scan for --vms regions
 * of --gib GiB guests, side by side with one pass over the same bytes
 * (memcpy), so the ratio says how close the scan is to reading memory.
 *
 * The regions are real guest metadata: initialised with ha_guest_init()
 * in anonymous memory, then a guest thread allocates and frees frames of
 * orders 0..10 so that children are partly used, free, huge.
 *
 *   direct_read: vms=... gib=... tick_us=... per_vm_us=... memcpy_us=...
 *     vs_memcpy=... hz_at_100=...
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ha_guest.h"
#include "ha_scan.h"
#include "ha_validate.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct region {
	void *meta;
	uint64_t len;
	struct ha_layout layout;
};

/* A region for @frames frames, with a guest that used it for a while. */
static int make_region(struct region *r, uint64_t frames, unsigned seed)
{
	struct ha_local *local;
	struct ha_guest g;
	struct ha_bad bad;
	ha_frame_t held[4096];
	unsigned order[4096];
	size_t n = 0;
	int rc;

	r->len = ha_meta_size(frames);
	r->meta = aligned_alloc(64, (r->len + 63) / 64 * 64);
	local = aligned_alloc(64, ha_local_size(1));
	if (!r->meta || !local)
		return -ENOMEM;
	memset(r->meta, 0, r->len);
	rc = ha_guest_init(&g, r->meta, r->len, local, 1, 0, frames,
			   HA_INIT_FREE);
	if (rc)
		return rc;
	srand(seed);
	for (int i = 0; i < 200000; i++) {
		bool reclaimed;

		if (n < 4096 && (n == 0 || rand() % 3)) {
			unsigned o = (unsigned)(rand() % 11);

			if (ha_guest_get(&g, 0, o, 0, &held[n], &reclaimed) ==
			    HA_OK)
				order[n++] = o;
		} else {
			size_t k = (size_t)rand() % n;

			while (ha_guest_put(&g, 0, held[k], order[k]) ==
			       HA_EAGAIN)
				;
			held[k] = held[--n];
			order[k] = order[n];
		}
	}
	free(local);
	return ha_validate_header(r->meta, r->len, &r->layout, &bad);
}

int main(int argc, char **argv)
{
	unsigned vms = 100, gib = 16, passes = 200;
	uint64_t *t_scan, *t_copy, sink = 0;
	struct region *regs;
	char *dst;
	int c;

	while ((c = getopt(argc, argv, "v:g:p:h")) != -1) {
		switch (c) {
		case 'v':
			vms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			gib = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			passes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: direct_read [-v VMS] [-g GIB] "
					"[-p PASSES]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!vms || !gib || !passes)
		return 2;
	regs = calloc(vms, sizeof(*regs));
	t_scan = calloc(passes, sizeof(*t_scan));
	t_copy = calloc(passes, sizeof(*t_copy));
	if (!regs || !t_scan || !t_copy)
		return 1;
	for (unsigned i = 0; i < vms; i++) {
		if (make_region(&regs[i], (uint64_t)gib << 18, i + 1)) {
			fprintf(stderr,
				"direct_read: cannot set up region %u\n", i);
			return 1;
		}
	}
	dst = malloc(regs[0].len);
	if (!dst)
		return 1;
	printf("direct_read: %u regions of %u GiB guests, %llu KiB of "
	       "metadata each, %u passes\n",
	       vms, gib, (unsigned long long)(regs[0].len >> 10), passes);
	for (unsigned p = 0; p < passes; p++) {
		uint64_t t0 = now_ns();

		for (unsigned i = 0; i < vms; i++) {
			struct ha_scan s;
			struct ha_bad bad;

			if (ha_scan(regs[i].meta, &regs[i].layout, &s, &bad)) {
				fprintf(stderr, "direct_read: scan failed\n");
				return 1;
			}
			sink += s.free_frames + s.hard;
		}
		t_scan[p] = now_ns() - t0;
		t0 = now_ns();
		for (unsigned i = 0; i < vms; i++) {
			memcpy(dst, regs[i].meta, regs[i].len);
			sink += (unsigned char)dst[regs[i].len / 2];
		}
		t_copy[p] = now_ns() - t0;
	}
	qsort(t_scan, passes, sizeof(*t_scan), cmp_u64);
	qsort(t_copy, passes, sizeof(*t_copy), cmp_u64);
	{
		double scan_us = (double)t_scan[passes / 2] / 1000.0;
		double copy_us = (double)t_copy[passes / 2] / 1000.0;

		printf("median tick: scan %.1f us (%.2f us per VM), memcpy of "
		       "the same bytes %.1f us (checksum %llu)\n",
		       scan_us, scan_us / vms, copy_us,
		       (unsigned long long)(sink & 0xff));
		printf("direct_read: vms=%u gib=%u tick_us=%.1f per_vm_us=%.2f "
		       "memcpy_us=%.1f vs_memcpy=%.2f hz_at_100=%.0f\n",
		       vms, gib, scan_us, scan_us / vms, copy_us,
		       copy_us > 0 ? scan_us / copy_us : 0.0,
		       scan_us > 0 ? 1e6 / (scan_us * 100.0 / vms) : 0.0);
	}
	return 0;
}
