/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Group commit of the state file. A change an operator makes (ctl.c)
 * updates the state in memory and arms a deferred flush; the flush runs
 * once per event-loop iteration and writes (and fsyncs) all the changes
 * made since the last one in one go. A transport that acknowledges a
 * change waits for the flush first (commit_wait), so nothing acknowledged
 * is lost in a crash, while a flood of changes costs one fsync per
 * iteration rather than one per request.
 * Loop thread only.
 */
#ifndef HA_COMMIT_H
#define HA_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct commit;

/* Called once the changes pending when it was registered are written:
 * @result 0, or the write's -errno (the changes stay in memory, applied,
 * but are not on disk). */
typedef void (*commit_done_fn)(void *userdata, int result);

/* The committer of @d's state (d->state), on @d's loop. 0 or -errno. */
int commit_new(struct daemon *d, struct commit **ret);

/* Flush what is pending, answer the waiters, free. NULL is fine. */
void commit_free(struct commit *c);

/* The state changed: flush it in this loop iteration. */
void commit_changed(struct commit *c);

/* Are changes waiting to be written? */
bool commit_pending(const struct commit *c);

/*
 * Call @fn(@userdata, result) after the next flush. 0, or -ENOMEM (then
 * the caller flushes with commit_now()). Waiters are answered in the
 * order they came.
 */
int commit_wait(struct commit *c, commit_done_fn fn, void *userdata);

/* Drop the waiters registered with @userdata (it is going away). */
void commit_forget(struct commit *c, void *userdata);

/* Flush now and answer every waiter; the write's 0 or -errno. */
int commit_now(struct commit *c);

/* Flushes (writes) done, and changes acknowledged through waiters. */
struct commit_stats {
	uint64_t flushes;
	uint64_t waiters;
	uint64_t failures;
};
void commit_get_stats(const struct commit *c, struct commit_stats *ret);

#endif
