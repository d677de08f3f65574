/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test fixture for the host suites (test_host, test_host_hostile): a
 * guest region of a given number of huge frames, initialised free by the
 * real guest code, with the real host attached to it.
 *
 * The embedder callbacks are a recording fake: it keeps a "backed" flag
 * per huge frame, checks that discards and populates happen under the
 * region lock and in range, and that nothing is discarded twice. Every
 * call is recorded (the first HFIX_REC_CALLS of them), and a fake clock
 * advances only inside the callbacks.
 */
#ifndef HA_TEST_HOST_FIXTURE_H
#define HA_TEST_HOST_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "fixture_util.h"
#include "ha_guest.h"
#include "ha_host.h"

#define HFIX_BASE	(1ull << 10) /* managed range starts at 4 MiB */
#define HFIX_META_FRAME 0ull /* metadata lives in the first frames */

/* ---- recording environment ---- */

#define HFIX_REC_CALLS 1024

struct hfix_rec_call {
	bool populate;
	uint64_t first, count;
};

struct hfix_rec {
	uint64_t children;
	bool *backed; /* per huge frame: memory present */
	int depth; /* lock nesting */
	unsigned locks; /* lock acquisitions */
	uint64_t clock; /* fake time: discards cost 1000, populates 500 */
	unsigned ncalls;
	struct hfix_rec_call calls[HFIX_REC_CALLS];
	uint64_t discarded, populated; /* frames */
	bool fail_discard, fail_populate;
};

/* ---- a guest region with a host attached ---- */

struct hfix {
	struct ha_guest g;
	unsigned char *meta;
	uint64_t meta_len;
	struct ha_local *local;
	uint64_t frames, children;
	struct ha_host h;
	struct ha_host_env env; /* the recording callbacks on *rec */
	uint8_t *state;
	struct hfix_rec *rec;
};

/* A fresh guest region of @children huge frames for @cores CPUs, every
 * frame free and backed, not yet attached. Aborts the test on failure. */
void hfix_guest(struct hfix *f, uint64_t children, unsigned cores);

/* Attach the host to @f's region at HFIX_META_FRAME, RAM ending with the
 * managed range; the test fails unless attach returns HA_OK. */
void hfix_attach(struct hfix *f);

/* hfix_guest(), then hfix_attach(). */
void hfix_init(struct hfix *f, uint64_t children, unsigned cores);

/* Free everything hfix_guest() allocated. */
void hfix_fini(struct hfix *f);

/* The child word of huge frame @c, as the guest wrote it. */
ha_child_word hfix_child(const struct hfix *f, uint64_t c);

/* The host's counters, by value. */
struct ha_host_counters hfix_counters(const struct hfix *f);

/* How many of @f's huge frames the host has in state @s. */
unsigned hfix_count_state(const struct hfix *f, enum ha_hstate s);

/* The fake's memory matches the host's own account, frame by frame, the
 * hard and soft counters match the states, and no lock is held. */
void hfix_assert_backing_consistent(const struct hfix *f);

/* Recorded call @i was a populate (else a discard) of @count frames from
 * @first. */
void hfix_assert_call(const struct hfix *f, unsigned i, bool populate,
		      uint64_t first, uint64_t count);

#endif
