/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the guest workloads (ha-stress, ha-replay) share: time, a small
 * random generator, chunks of anonymous memory with a canary in every
 * 4 KiB page, and the verdict line.
 *
 * A canary is two 64-bit words per page, the first and the last, derived
 * from the chunk's tag and the page's index: a page the host discarded
 * under the guest reads as zeros, a page mixed up with another carries
 * another tag, and both show up as errors when the chunk is verified,
 * which happens before every free.
 */
#ifndef HA_WORKLOAD_H
#define HA_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define WL_PAGE 4096u
#define WL_HUGE (2u << 20)

static inline double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap and good enough to pick sizes and victims. */
static inline uint64_t wl_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static inline uint64_t wl_below(uint64_t *s, uint64_t n)
{
	return n ? wl_rand(s) % n : 0;
}

static inline uint64_t wl_canary(uint64_t tag, uint64_t page)
{
	return (tag << 24) ^ (page * 0x9e3779b97f4a7c15ull) ^ 0x4841u;
}

/* Write the canaries of @len bytes at @p (a multiple of WL_PAGE). */
static inline void wl_fill(void *p, size_t len, uint64_t tag)
{
	const size_t last = WL_PAGE / sizeof(uint64_t) - 1;

	for (size_t i = 0; i < len / WL_PAGE; i++) {
		uint64_t *w = (uint64_t *)((char *)p + i * WL_PAGE);
		uint64_t v = wl_canary(tag, i);

		w[0] = v;
		w[last] = ~v;
	}
}

/* Check them; returns the number of pages whose canary is wrong, and
 * describes the first of them in @why (if not NULL). */
static inline uint64_t wl_check(const void *p, size_t len, uint64_t tag,
				char *why, size_t whylen)
{
	const size_t last = WL_PAGE / sizeof(uint64_t) - 1;
	uint64_t bad = 0;

	for (size_t i = 0; i < len / WL_PAGE; i++) {
		const volatile uint64_t *w =
			(const volatile uint64_t *)((const char *)p +
						    i * WL_PAGE);
		uint64_t v = wl_canary(tag, i), a = w[0], b = w[last];

		if (a == v && b == ~v)
			continue;
		if (!bad && why)
			snprintf(why, whylen,
				 "page %zu of tag %#llx: %#llx/%#llx, expected %#llx/%#llx",
				 i, (unsigned long long)tag,
				 (unsigned long long)a, (unsigned long long)b,
				 (unsigned long long)v,
				 (unsigned long long)~v);
		bad++;
	}
	return bad;
}

/*
 * @len bytes of anonymous memory; with @thp, 2 MiB aligned and advised
 * for transparent huge pages. Returns NULL if the kernel refuses.
 */
static inline void *wl_map(size_t len, bool thp)
{
	size_t extra = thp ? WL_HUGE : 0;
	char *p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	if (p == MAP_FAILED)
		return NULL;
	if (!thp)
		return p;
	q = (char *)(((uintptr_t)p + WL_HUGE - 1) & ~(uintptr_t)(WL_HUGE - 1));
	if (q > p)
		munmap(p, (size_t)(q - p));
	if (q + len < p + len + extra)
		munmap(q + len, (size_t)(p + len + extra - (q + len)));
	madvise(q, len, MADV_HUGEPAGE);
	return q;
}

/* A counter of /proc/vmstat, or 0. */
static inline unsigned long long wl_vmstat(const char *name)
{
	char key[64];
	unsigned long long v, found = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", key, &v) == 2)
		if (!strcmp(key, name)) {
			found = v;
			break;
		}
	fclose(f);
	return found;
}

/* MemTotal of /proc/meminfo in bytes, or 0. */
static inline unsigned long long wl_memtotal(void)
{
	char key[64];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu kB", key, &kib) == 2)
		if (!strcmp(key, "MemTotal:"))
			break;
	fclose(f);
	return kib << 10;
}

#endif
