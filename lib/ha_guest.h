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
 * The managed range of a zone of guest frames [@start_frame, @end_frame)
 * whose start and end need not be aligned: the start rounded up to 4 MiB
 * (HA_BASE_ALIGN_FRAMES), the end rounded down to 2 MiB, at most
 * HA_MAX_FRAMES frames. Frames of the zone outside it are the embedder's
 * to manage some other way (a kernel leaves them to its buddy allocator).
 *
 * The recipe for a zone, holes and all: compute the span, format the
 * region with HA_INIT_ALLOCATED (every frame allocated) and free with
 * ha_guest_put() the frames that exist, in blocks of any order. Holes and
 * frames the embedder keeps simply stay allocated; the host never sees
 * them free, so it never reclaims them.
 *
 * Returns HA_OK with *ret_base and *ret_frames; HA_ENOMEM if not one
 * aligned huge frame fits; HA_EINVAL if @end_frame < @start_frame or the
 * zone ends beyond any managed range's reach.
 */
int ha_guest_span(uint64_t start_frame, uint64_t end_frame, uint64_t *ret_base,
		  uint64_t *ret_frames);

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
 * frame covering the allocation before touching its memory. With
 * HA_GET_INSTALLED only frames whose backing is present are taken and
 * *ret_reclaimed is always false (for a caller that cannot install, or
 * whose install failed); it may then fail while reclaimed frames are free.
 * Errors: HA_ENOMEM (nothing fits), HA_EINVAL (bad order, core or flags).
 *
 * Lock-free and safe in any context, interrupt handlers included; @core
 * should be the calling CPU (another CPU's index is correct, only slower).
 */
int ha_guest_get(struct ha_guest *g, unsigned core, unsigned order,
		 unsigned flags, ha_frame_t *ret_frame, bool *ret_reclaimed);

/*
 * Free 2^@order frames at @frame that ha_guest_get() returned, or any
 * aligned piece of such an allocation (a kernel splits blocks and frees
 * the pieces one by one), or frames of a region formatted with
 * HA_INIT_ALLOCATED. A free of frames the caller holds always succeeds:
 * it may wait for another CPU that is splitting the same huge frame, a
 * few stores with interrupts masked (ha_platform.h), never for more.
 * Returns HA_OK; HA_EINVAL for a bad order; HA_ERANGE if @frame is outside
 * the region or misaligned; HA_EFAULT if the frames are not allocated
 * (double free, or a frame the host holds hard-reclaimed). The errors are
 * bugs of the caller, and leave the metadata unchanged.
 */
int ha_guest_put(struct ha_guest *g, unsigned core, ha_frame_t frame,
		 unsigned order);

/*
 * Give back every reservation of CPU @core: the frames counted in them
 * return to their trees' words, and the trees become unreserved, so the
 * host may reclaim from them and other CPUs reserve them. For a CPU going
 * offline, or when the host cannot reach a target. Safe while @core (or
 * any CPU) allocates and frees concurrently: it reserves again on its
 * next allocation. An out-of-range @core is ignored.
 */
void ha_guest_drain(struct ha_guest *g, unsigned core);

/* Free 4 KiB frames, including those held in per-CPU reservations. */
uint64_t ha_guest_free_frames(const struct ha_guest *g);

/* Entirely free huge frames (children with 512 free frames). */
uint64_t ha_guest_free_huge(const struct ha_guest *g);

/*
 * Is there an entirely free huge frame (@order 9) or an aligned pair of
 * them (@order 10), installed or soft-reclaimed, right now? Stops at the
 * first one, skipping unreserved trees whose counter rules them out: for
 * a kernel's watermark checks. False for other orders.
 */
bool ha_guest_has_free_huge(const struct ha_guest *g, unsigned order);

/* Is the huge frame currently marked reclaimed in the shared state? */
bool ha_guest_is_reclaimed(const struct ha_guest *g, ha_huge_t huge);

#endif /* HA_GUEST_H */
