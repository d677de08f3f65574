/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest side of libhyperalloc: a lock-free page-frame allocator whose state
 * (trees, children, bitfields) lives in a region of guest RAM that the host
 * may read and compare-and-swap (see ha_host.h and docs/protocol.md).
 *
 * Every operation is a bounded series of compare-and-swaps on single words:
 * no locks, safe from any number of CPUs at once. Per-CPU reservations
 * (struct ha_local) live in guest-private memory the host never sees.
 */
#ifndef HA_GUEST_H
#define HA_GUEST_H

#include "ha_layout.h"

/* Per-CPU state, one cache line each. Guest-private. */
struct ha_local {
	/* One reservation per kind: free:16 | tree:47 | present:1 */
	uint64_t reserved[HA_KIND_COUNT];
	/* Search hint: the last tree this CPU reserved, per kind. */
	uint64_t hint[HA_KIND_COUNT];
	uint64_t pad[2];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ha_local) == 64, "one cache line per CPU");

struct ha_guest {
	struct ha_header *hdr;
	ha_tree_word *trees;
	ha_child_word *children;
	struct ha_bitfield *bitfields;
	struct ha_local *locals;
	unsigned cores;
	bool use_kinds; /* kinds only pay off with trees >= 3 * cores */
	struct ha_layout layout;
};

enum ha_init_mode {
	HA_INIT_FREE, /* write a fresh region, every frame free */
	HA_INIT_ALLOCATED, /* write a fresh region, every frame allocated
			      (a booting kernel then frees what it can use) */
	HA_INIT_ATTACH, /* use an existing region: validate the header,
			   rebuild tree words from the children, drop stale
			   reservations. No host operation may run meanwhile. */
};

/* Bytes of guest-private per-CPU state for @cores CPUs. */
uint64_t ha_local_size(unsigned cores);

/*
 * Initialise @g over the shared region @meta (@meta_len bytes, 64-byte
 * aligned) and the private array @local (ha_local_size(@cores) bytes).
 * @base_frame (4 MiB aligned) and @frames (multiple of 512) describe the
 * managed range; for HA_INIT_ATTACH they must match the header.
 * Returns HA_OK; HA_EINVAL for bad arguments or a region that is too small;
 * HA_EBADMSG if an attached header does not validate.
 */
int ha_guest_init(struct ha_guest *g, void *meta, uint64_t meta_len,
		  struct ha_local *local, unsigned cores, uint64_t base_frame,
		  uint64_t frames, enum ha_init_mode mode);

/*
 * Allocate 2^@order frames (order 0..10) on CPU @core, with HA_GET_* @flags.
 * On success returns HA_OK, the frame (relative to base_frame) in
 * *ret_frame, and in *ret_reclaimed whether the host had reclaimed the
 * frame's backing: the caller must then have the host install every huge
 * frame covering the allocation before touching its memory.
 * Errors: HA_ENOMEM (nothing fits), HA_EINVAL (bad order or core).
 */
int ha_guest_get(struct ha_guest *g, unsigned core, unsigned order,
		 unsigned flags, ha_frame_t *ret_frame, bool *ret_reclaimed);

/*
 * Free 2^@order frames at @frame that ha_guest_get() returned.
 * Returns HA_OK; HA_ERANGE if @frame is outside the region or misaligned;
 * HA_EFAULT if the frames are not allocated (double free); HA_EAGAIN if a
 * concurrent split of the same huge frame did not finish in time (retry).
 */
int ha_guest_put(struct ha_guest *g, unsigned core, ha_frame_t frame,
		 unsigned order);

/* Free 4 KiB frames, including those held in per-CPU reservations. */
uint64_t ha_guest_free_frames(const struct ha_guest *g);

/* Entirely free huge frames (children with 512 free frames). */
uint64_t ha_guest_free_huge(const struct ha_guest *g);

/* Is the huge frame currently marked reclaimed in the shared state? */
bool ha_guest_is_reclaimed(const struct ha_guest *g, ha_huge_t huge);

#endif /* HA_GUEST_H */
