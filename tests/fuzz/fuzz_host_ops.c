// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: lib/ host operations on hostile metadata.
 *
 * The input builds a region and then drives the host:
 *   byte 0       children (1..64), byte 1 guest CPUs (1..4)
 *   byte 2       how many words to overwrite before attach, then that
 *                many (offset, value) pairs of 2 + 2 bytes anywhere in
 *                the region after its header (trees, children,
 *                bitfields), on a region the real guest code wrote free
 *   the rest     operations, one byte each plus arguments: hard and soft
 *                reclaim, return, install, host and pure scans,
 *                quarantine, guest writes to any word between operations
 *                (the guest runs concurrently), failing discards or
 *                populates.
 * Only attaches that succeed go on. The fake environment (fuzz_env.h)
 * traps on a discard or populate outside the region or the lock, and on
 * a frame discarded twice; the host's own counters must match its states.
 *
 * Built with FUZZ_RACE (fuzz_host_race.c), the guest also writes in the
 * middle of the host's operations: every callback the host makes (lock,
 * clock, discard, populate) takes one input byte and, when it is odd, a
 * word write as above, between the host's reads and its compare-and-swaps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "ha_guest.h"
#include "ha_host.h"
#include "ha_scan.h"

#ifndef FUZZ_RACE
#define FUZZ_RACE 0
#endif

#define BASE_FRAME 1024ull /* managed range from 4 MiB, metadata at 0 */

static struct fuzz_env env;

static void poke(uint8_t *meta, uint64_t len, struct fuzz_in *in)
{
	uint64_t off = fuzz_take(in, 2);
	uint16_t v = (uint16_t)fuzz_take(in, 2);
	uint64_t body = len - sizeof(struct ha_header);

	off = sizeof(struct ha_header) + (off * 2) % body;
	off &= ~1ull;
	__atomic_store_n((uint16_t *)(void *)(meta + off), v, __ATOMIC_RELAXED);
}

struct race {
	uint8_t *meta;
	uint64_t len;
	struct fuzz_in *in;
};

static void race_hook(void *arg)
{
	struct race *r = arg;

	if (fuzz_take(r->in, 1) & 1)
		poke(r->meta, r->len, r->in);
}

static void check_counters(const struct ha_host *h)
{
	struct ha_host_counters k;
	uint64_t hard = 0, soft = 0;

	ha_host_counters(h, &k);
	for (uint64_t c = 0; c < h->layout.children; c++) {
		enum ha_hstate s = ha_host_state(h, ha_huge(c));

		hard += s == HA_HS_HARD;
		soft += s == HA_HS_SOFT;
		/* a frame the host believes backed must be */
		if (s == HA_HS_INSTALLED && !env.backed[c] &&
		    !env.fail_populate)
			__builtin_trap();
	}
	if (k.hard_now != hard || k.soft_now != soft)
		__builtin_trap();
	if (env.depth != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint64_t children = fuzz_take(&in, 1) % 64 + 1;
	unsigned cores = (unsigned)(fuzz_take(&in, 1) % 4 + 1);
	uint64_t frames = children * HA_CHILD_FRAMES;
	uint64_t len = ha_meta_size(frames);
	struct ha_host_env henv;
	struct ha_guest g;
	struct ha_host h;
	struct ha_bad bad;
	struct ha_local *local;
	uint8_t *meta = NULL;
	uint8_t *state;
	unsigned npokes;
	struct race race = { .in = &in };
	bool sticky_populate_fail = false;

	if (posix_memalign((void **)&meta, HA_ALIGN, len))
		return 0;
	memset(meta, 0, len);
	if (posix_memalign((void **)&local, HA_ALIGN, ha_local_size(cores))) {
		free(meta);
		return 0;
	}
	memset(local, 0, ha_local_size(cores));
	state = calloc(1, ha_host_state_size(BASE_FRAME + frames));
	if (!state || ha_guest_init(&g, meta, len, local, cores, BASE_FRAME,
				    frames, HA_INIT_FREE) != HA_OK)
		__builtin_trap();
	npokes = (unsigned)fuzz_take(&in, 1);
	for (unsigned i = 0; i < npokes && in.n; i++)
		poke(meta, len, &in);

	fuzz_env_reset(&env, children);
	henv = fuzz_host_env(&env);
	if (ha_host_attach(&h, meta, len, 0, BASE_FRAME + frames, &henv, state,
			   &bad) != HA_OK)
		goto out;
	/* a restarted host: hard and soft frames come without backing */
	for (uint64_t c = 0; c < children; c++)
		env.backed[c] = ha_host_state(&h, ha_huge(c)) ==
				HA_HS_INSTALLED;
	check_counters(&h);
	if (FUZZ_RACE) {
		race.meta = meta;
		race.len = len;
		env.hook = race_hook;
		env.hook_arg = &race;
	}

	while (in.n) {
		unsigned op = (unsigned)fuzz_take(&in, 1);
		struct ha_host_scan hs;
		struct ha_scan ps;
		int64_t n;

		switch (op % 10) {
		case 0:
			n = ha_host_reclaim_hard(&h, fuzz_take(&in, 1) % 40);
			if (n < 0 && n != HA_EPERM && n != HA_EBADMSG &&
			    n != HA_EIO)
				__builtin_trap();
			break;
		case 1:
			n = ha_host_reclaim_soft(&h, fuzz_take(&in, 1) % 40);
			if (n < 0 && n != HA_EPERM && n != HA_EBADMSG &&
			    n != HA_EIO)
				__builtin_trap();
			break;
		case 2:
			(void)ha_host_return(&h, fuzz_take(&in, 1) % 40);
			break;
		case 3:
			(void)ha_host_install(&h, ha_huge(fuzz_take(&in, 1) %
							  (children + 2)));
			break;
		case 4:
			(void)ha_host_scan(&h, &hs);
			(void)ha_scan(meta, &h.layout, &ps, &bad);
			break;
		case 5:
		case 6:
			poke(meta, len, &in);
			break;
		case 7: {
			/* the hard mark into row 0 of a child's bitfield */
			uint64_t c = fuzz_take(&in, 1) % children;

			h.bitfields[c].rows[0] = HA_HARD_MARK;
			break;
		}
		case 8:
			env.fail_discard = (op >> 4) & 1;
			env.fail_populate = (op >> 5) & 1;
			sticky_populate_fail |= env.fail_populate;
			break;
		case 9:
			(void)ha_host_quarantine(&h);
			break;
		}
		if (!sticky_populate_fail)
			check_counters(&h);
	}
out:
	free(state);
	free(local);
	free(meta);
	return 0;
}
