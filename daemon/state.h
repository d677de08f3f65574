/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file: settings an operator made through the API (manual
 * targets, limits, shares, auto-reclaim), keyed by VM id, so that they
 * survive a restart of the daemon. Written atomically (temporary file,
 * fsync, rename) on every change.
 */
#ifndef HA_STATE_H
#define HA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_store;

struct vm_saved {
	bool has_target, has_min, has_max, has_shares, has_auto;
	uint64_t target_bytes, min_bytes, max_bytes;
	uint32_t shares;
	bool auto_reclaim;
};

/*
 * Open the state at @path (NULL: keep state in memory only). A missing
 * file is an empty state. A corrupt file is moved aside to
 * @path.corrupt.N (N one above the highest kept copy, so no copy is ever
 * overwritten; the newest STATE_CORRUPT_KEEP are kept, older ones removed)
 * and the state starts empty; *ret_warning then says so (else "").
 * Returns 0 or -errno.
 */
#define STATE_CORRUPT_KEEP 5

int state_open(const char *path, struct state_store **ret, char *ret_warning,
	       size_t warning_len);
void state_close(struct state_store *s);

/* 0 and *ret if @id has saved settings, -ENOENT if not. */
int state_lookup(struct state_store *s, const char *id, struct vm_saved *ret);

/* Replace @id's settings and write the file. 0 or -errno. */
int state_save(struct state_store *s, const char *id, const struct vm_saved *v);

#endif
