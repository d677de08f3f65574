/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file: settings an operator made through the API (manual
 * targets, limits, shares, auto-reclaim), keyed by VM id, so that they
 * survive a restart of the daemon. Changes are made in memory
 * (state_save) and written by state_flush, atomically (temporary file,
 * fsync, rename); daemon/commit.c flushes once per loop iteration for all
 * the changes made in it, and answers their requests after that.
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

/* Replace @id's settings in memory; state_flush() writes them. 0 or
 * -ENOMEM. */
int state_save(struct state_store *s, const char *id, const struct vm_saved *v);

/* Are there changes state_flush() has not written yet? (false for NULL
 * and for a state kept in memory only) */
bool state_dirty(const struct state_store *s);

/* Write the file if there are changes: 0 (also when there was nothing to
 * write) or -errno, the changes then still pending. */
int state_flush(struct state_store *s);

/*
 * The parts of state_flush() for a writer on another thread: the text of
 * the state now, the changes then counted as written (0 or -ENOMEM);
 * writing @text to @path atomically and durably (temporary file, fsync,
 * rename, fsync of the directory; 0 or -errno; touches no store, so any
 * thread may call it); and marking the changes unwritten again after a
 * failed write.
 */
int state_snapshot(struct state_store *s, char **ret_text);
int state_write_text(const char *path, const char *text);
void state_mark_dirty(struct state_store *s);

/* The file's path, NULL for a state kept in memory only. */
const char *state_path(const struct state_store *s);

#endif
