/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The embedder of the lib/ host harnesses: a fake struct ha_host_env that
 * keeps a "backed" flag per huge frame and traps (a finding) when the
 * host discards or populates outside the region, without the region lock,
 * takes the lock recursively, or discards a frame twice. The host decides
 * every discard from its own state, so none of these can be the guest's
 * doing, whatever its metadata says.
 */
#ifndef HA_FUZZ_ENV_H
#define HA_FUZZ_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha_host.h"

#define FUZZ_ENV_MAX 4096 /* huge frames tracked */

struct fuzz_env {
	uint64_t children; /* set from the attached layout */
	int depth;
	bool fail_discard, fail_populate;
	uint64_t clock;
	/* optional: called inside every callback, with the lock held (a
	 * guest CPU writing while the host is in the middle of an
	 * operation) */
	void (*hook)(void *arg);
	void *hook_arg;
	bool backed[FUZZ_ENV_MAX];
};

static inline void fuzz_env_hook(struct fuzz_env *e)
{
	if (e->hook)
		e->hook(e->hook_arg);
}

static inline void fuzz_env_reset(struct fuzz_env *e, uint64_t children)
{
	memset(e, 0, sizeof(*e));
	e->children = children < FUZZ_ENV_MAX ? children : FUZZ_ENV_MAX;
	for (uint64_t c = 0; c < FUZZ_ENV_MAX; c++)
		e->backed[c] = true;
}

static inline void fuzz_env_range(struct fuzz_env *e, ha_huge_t first,
				  uint64_t count)
{
	if (e->depth != 1 || count == 0 || first.v + count < first.v ||
	    first.v + count > e->children)
		__builtin_trap();
}

static int fuzz_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct fuzz_env *e = ctx;

	fuzz_env_range(e, first, count);
	fuzz_env_hook(e);
	e->clock += 1000;
	if (e->fail_discard)
		return -5;
	for (uint64_t c = first.v; c < first.v + count; c++) {
		if (!e->backed[c])
			__builtin_trap(); /* discarded twice */
		e->backed[c] = false;
	}
	return 0;
}

static int fuzz_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	struct fuzz_env *e = ctx;

	fuzz_env_range(e, first, count);
	fuzz_env_hook(e);
	e->clock += 500;
	if (e->fail_populate)
		return -12;
	for (uint64_t c = first.v; c < first.v + count; c++)
		e->backed[c] = true;
	return 0;
}

static void fuzz_lock(void *ctx)
{
	struct fuzz_env *e = ctx;

	if (e->depth != 0)
		__builtin_trap();
	e->depth++;
	fuzz_env_hook(e);
}

static void fuzz_unlock(void *ctx)
{
	struct fuzz_env *e = ctx;

	if (e->depth != 1)
		__builtin_trap();
	e->depth--;
}

static uint64_t fuzz_now(void *ctx)
{
	struct fuzz_env *e = ctx;

	fuzz_env_hook(e);
	return e->clock;
}

static inline struct ha_host_env fuzz_host_env(struct fuzz_env *e)
{
	return (struct ha_host_env){
		.ctx = e,
		.discard = fuzz_discard,
		.populate = fuzz_populate,
		.lock = fuzz_lock,
		.unlock = fuzz_unlock,
		.now_ns = fuzz_now,
	};
}

/* Input bytes, consumed from the front; zeros once they run out. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		uint8_t b = 0;

		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

#endif
