/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host side of libhyperalloc: the hypervisor shrinks and grows a guest by
 * compare-and-swapping the guest's own child and tree words, and discards
 * or populates the backing memory through callbacks of the embedder.
 *
 * The guest's metadata is untrusted. Every word the host reads is checked
 * before it is used; an impossible word quarantines the region (no more
 * reclaim, every discarded frame populated again) and the operation returns
 * HA_EBADMSG with the reason in ha_host_bad(). Nothing here asserts on
 * guest data or reads outside the region validated at attach.
 *
 * Concurrency: host operations on one region serialise on the embedder's
 * lock (env.lock/env.unlock); they run concurrently with any number of
 * guest CPUs. Discards happen with the lock held, so an install request
 * for a frame always waits until its discard has completed.
 */
#ifndef HA_HOST_H
#define HA_HOST_H

#include "ha_layout.h"
#include "ha_validate.h"

/* Host-private state of a huge frame (2 bits). */
enum ha_hstate {
	HA_HS_INSTALLED = 0, /* backing present */
	HA_HS_SOFT = 1, /* free in the guest, backing discarded */
	HA_HS_HARD = 2, /* taken from the guest, backing discarded */
};

/* Callbacks supplied by the embedder. Huge-frame indices are relative to
 * the region's base frame. discard/populate return 0 or a negative errno. */
struct ha_host_env {
	void *ctx;
	int (*discard)(void *ctx, ha_huge_t first, uint64_t count);
	int (*populate)(void *ctx, ha_huge_t first, uint64_t count);
	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
	uint64_t (*now_ns)(void *ctx); /* optional: time accounting */
};

/* Cumulative counters, readable at any time with ha_host_counters(). */
struct ha_host_counters {
	uint64_t reclaimed_hard; /* frames taken from the guest */
	uint64_t reclaimed_soft; /* free frames whose backing was discarded */
	uint64_t returned; /* hard frames given back to the guest */
	uint64_t installed; /* frames populated on a guest request */
	uint64_t discard_calls;
	uint64_t discard_ns;
	uint64_t populate_ns;
	uint64_t hard_now; /* frames in state HARD right now */
	uint64_t soft_now; /* frames in state SOFT right now */
};

struct ha_host {
	struct ha_host_env env;
	ha_tree_word *trees;
	ha_child_word *children;
	struct ha_bitfield *bitfields;
	struct ha_layout layout;
	uint64_t base_frame;
	uint8_t *state; /* 2 bits per huge frame, caller-owned */
	uint64_t cursor_hard, cursor_soft, cursor_return;
	bool quarantined;
	struct ha_bad bad;
	struct ha_host_counters c;
};

/* A snapshot of the region, from one pass over the child words. */
struct ha_host_scan {
	uint64_t free_frames; /* 4 KiB frames free in the guest */
	uint64_t free_huge; /* entirely free children (installed or soft) */
	uint64_t free_huge_installed; /* of which backing is present */
	uint64_t installing; /* reclaimed children the guest is using */
	uint64_t hard; /* hard-reclaimed */
	uint64_t soft; /* soft-reclaimed */
};

/* Bytes of host-private state for a region of up to @max_frames frames. */
uint64_t ha_host_state_size(uint64_t max_frames);

/*
 * Attach to the guest region at @meta (@meta_len bytes mapped). Validates
 * the header and the layout, requires the managed range to fit in
 * [0, @ram_frames) and not to contain the metadata (which starts at guest
 * frame @meta_frame), then checks every tree and child word once.
 * @state must hold ha_host_state_size(@ram_frames) bytes.
 * Host states start from the child words, so a restarted host process
 * picks up where it left: reclaimed+huge with the hard mark in its
 * bitfield -> HARD, other reclaimed children -> SOFT, otherwise INSTALLED.
 * Returns HA_OK, HA_EINVAL (bad arguments) or HA_EBADMSG (see *ret_bad).
 */
int ha_host_attach(struct ha_host *h, void *meta, uint64_t meta_len,
		   uint64_t meta_frame, uint64_t ram_frames,
		   const struct ha_host_env *env, uint8_t *state,
		   struct ha_bad *ret_bad);

/* Is the region quarantined? Safe from any thread. */
bool ha_host_quarantined(const struct ha_host *h);

/*
 * Reclaim runs in batches of at most 16 frames: a batch is taken under
 * the lock and its backing discarded before the lock is dropped. When the
 * embedder's discard fails, the operation stops after that batch with
 * HA_EIO, and the frames of the batch stay reclaimed all the same: in
 * state HARD or SOFT, in the child words and in the counters, though their
 * backing may still be present. The host does not discard them again; they
 * are returned and installed like any other reclaimed frame. Frames of
 * earlier batches are reclaimed and discarded. The region is not
 * quarantined.
 */

/*
 * Hard-reclaim up to @n huge frames: take entirely free children from
 * unreserved trees, make them look allocated to the guest, discard their
 * backing. Returns the number reclaimed (< @n when no more are free), or a
 * negative error (HA_EPERM quarantined, HA_EBADMSG corrupt, HA_EIO a
 * discard failed: see above).
 */
int64_t ha_host_reclaim_hard(struct ha_host *h, uint64_t n);

/*
 * Soft-reclaim up to @max (0 = no limit) entirely free, installed children
 * of unreserved trees: they stay free for the guest but lose their
 * backing. Returns the number reclaimed or a negative error (as for
 * ha_host_reclaim_hard).
 */
int64_t ha_host_reclaim_soft(struct ha_host *h, uint64_t max);

/*
 * Return up to @n hard-reclaimed frames to the guest; they become free but
 * stay unpopulated (SOFT) until the guest installs them. Returns the
 * number returned or a negative error.
 */
int64_t ha_host_return(struct ha_host *h, uint64_t n);

/*
 * Install huge frame @huge on the guest's request: populate its backing
 * and clear the reclaimed bit. A frame that is no longer reclaimed is a
 * no-op (another CPU's request did it). In quarantine, installs succeed
 * without doing anything: all memory is populated already.
 * Returns HA_OK, HA_ERANGE (index outside the region), HA_EPROTO (the frame
 * is hard-reclaimed: the guest cannot have allocated it), HA_EBADMSG, HA_EIO.
 */
int ha_host_install(struct ha_host *h, ha_huge_t huge);

/*
 * Quarantine the region: populate every discarded frame, mark all frames
 * INSTALLED and refuse further reclaim. Idempotent. Returns HA_OK or HA_EIO.
 */
int ha_host_quarantine(struct ha_host *h);

/*
 * Read-only pass over the children (no lock taken, no word written),
 * with hard and soft from the host's own state. Returns HA_OK or
 * HA_EBADMSG if a child word is invalid (the region is then quarantined).
 * A reader without a struct ha_host uses ha_scan() (ha_scan.h).
 */
int ha_host_scan(struct ha_host *h, struct ha_host_scan *ret_scan);

/* Host state of one huge frame (HA_HS_INSTALLED for out-of-range). */
enum ha_hstate ha_host_state(const struct ha_host *h, ha_huge_t huge);

/* Copy of the counters (each field read atomically). */
void ha_host_counters(const struct ha_host *h,
		      struct ha_host_counters *ret_counters);

/* The reason the region was quarantined (reason HA_BAD_NONE if not). */
static inline const struct ha_bad *ha_host_bad(const struct ha_host *h)
{
	return &h->bad;
}

#endif /* HA_HOST_H */
