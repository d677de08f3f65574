// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host operations on a guest's (untrusted) allocator state.
 *
 * Every operation runs under the embedder's per-region lock, in batches of
 * at most HA_BATCH frames (and HA_SCAN_TREES trees visited) so that
 * install requests get the lock between batches. Within a batch: compare-and-swap the guest words, update the
 * host state, then discard the backing of the batch (contiguous frames
 * merged into one call) before the lock is dropped.
 */
#include "ha_host.h"
#include "ha_atomic.h"

#define HA_BATCH	 16u /* 32 MiB: ~8 ms of discard on 4 KiB shmem pages */
#define HA_SCAN_TREES	 512u /* trees looked at per lock hold */
#define HA_SCAN_CHILDREN 4096u /* children looked at per lock hold */

/* ---- host-private state: 2 bits per huge frame, 4 per byte ---- */

static enum ha_hstate state_get(const struct ha_host *h, uint64_t c)
{
	unsigned b = ha_load_relaxed(&h->state[c / 4]);

	return (enum ha_hstate)((b >> ((c % 4) * 2)) & 3u);
}

static void state_set(struct ha_host *h, uint64_t c, enum ha_hstate s)
{
	unsigned shift = (unsigned)(c % 4) * 2;
	uint8_t b = ha_load_relaxed(&h->state[c / 4]);

	b = (uint8_t)((b & ~(3u << shift)) | ((unsigned)s << shift));
	ha_store_relaxed(&h->state[c / 4], b);
}

/* The hard mark in row 0 of a hard child's bitfield (see ha_layout.h). */
static void hard_mark(struct ha_host *h, uint64_t c, bool on)
{
	ha_store(&h->bitfields[c].rows[0], on ? HA_HARD_MARK : 0);
}

static bool hard_marked(const struct ha_host *h, uint64_t c)
{
	return ha_load(&h->bitfields[c].rows[0]) == HA_HARD_MARK;
}

/* Counters are written under the lock but read from anywhere. */
#define COUNT(h, field, v) ha_add_relaxed(&(h)->c.field, (uint64_t)(v))

static uint64_t now(struct ha_host *h)
{
	return h->env.now_ns ? h->env.now_ns(h->env.ctx) : 0;
}

static void set_state_counted(struct ha_host *h, uint64_t c, enum ha_hstate s)
{
	enum ha_hstate old = state_get(h, c);

	if (old == HA_HS_HARD)
		COUNT(h, hard_now, -1);
	else if (old == HA_HS_SOFT)
		COUNT(h, soft_now, -1);
	if (s == HA_HS_HARD)
		COUNT(h, hard_now, 1);
	else if (s == HA_HS_SOFT)
		COUNT(h, soft_now, 1);
	state_set(h, c, s);
}

/* ---- validation of words as they are read ---- */

static unsigned tree_cap(const struct ha_host *h, uint64_t t)
{
	uint64_t left = h->layout.children - t * HA_TREE_CHILDREN;

	return (left >= HA_TREE_CHILDREN ? HA_TREE_CHILDREN : (unsigned)left) *
	       HA_CHILD_FRAMES;
}

static unsigned tree_children(const struct ha_host *h, uint64_t t)
{
	return tree_cap(h, t) / HA_CHILD_FRAMES;
}

static bool tree_valid(const struct ha_host *h, uint64_t t, ha_tree_word w)
{
	return ha_tree_free(w) <= tree_cap(h, t) &&
	       ha_tree_kind(w) < HA_KIND_COUNT;
}

/* ---- batches of frames to discard ---- */

struct batch {
	uint64_t idx[HA_BATCH]; /* frames whose backing must be discarded */
	unsigned n; /* entries in idx */
	unsigned taken; /* frames reclaimed in this batch (>= n) */
};

/* Discard every run of consecutive frames of @b with one call. */
static int batch_discard(struct ha_host *h, const struct batch *b)
{
	uint64_t t0 = now(h);
	int ret = HA_OK;

	for (unsigned i = 0; i < b->n;) {
		unsigned j = i + 1;

		while (j < b->n && b->idx[j] == b->idx[j - 1] + 1)
			j++;
		if (h->env.discard(h->env.ctx, ha_huge(b->idx[i]), j - i) < 0)
			ret = HA_EIO;
		COUNT(h, discard_calls, 1);
		i = j;
	}
	if (b->n)
		COUNT(h, discard_ns, now(h) - t0);
	return ret;
}

/* ---- quarantine ---- */

/* Best effort: give a hard frame back to the guest in a form it can use. */
static void unhard_child(struct ha_host *h, uint64_t c)
{
	ha_child_word want = HA_CHILD_HUGE | HA_CHILD_RECLAIMED;
	uint64_t t = c / HA_TREE_CHILDREN;
	ha_tree_word tw;

	if (ha_load(&h->children[c]) != want)
		return;
	hard_mark(h, c, false);
	if (!ha_cas(&h->children[c], &want, (ha_child_word)HA_CHILD_FRAMES))
		return;
	tw = ha_load(&h->trees[t]);
	do {
		if (!tree_valid(h, t, tw) ||
		    ha_tree_free(tw) + HA_CHILD_FRAMES > tree_cap(h, t))
			return;
	} while (!ha_cas(&h->trees[t], &tw,
			 (ha_tree_word)(tw + HA_CHILD_FRAMES)));
}

static void unsoft_child(struct ha_host *h, uint64_t c)
{
	ha_child_word w = ha_load(&h->children[c]);

	while (ha_child_reclaimed(w) &&
	       !ha_cas(&h->children[c], &w,
		       (ha_child_word)(w & ~HA_CHILD_RECLAIMED)))
		;
}

static int quarantine_locked(struct ha_host *h)
{
	int ret = HA_OK;
	uint64_t t0 = now(h);

	for (uint64_t c = 0; c < h->layout.children; c++) {
		enum ha_hstate s = state_get(h, c);
		uint64_t end = c + 1;

		if (s == HA_HS_INSTALLED)
			continue;
		while (end < h->layout.children &&
		       state_get(h, end) != HA_HS_INSTALLED)
			end++;
		if (h->env.populate(h->env.ctx, ha_huge(c), end - c) < 0)
			ret = HA_EIO;
		for (uint64_t i = c; i < end; i++) {
			if (state_get(h, i) == HA_HS_HARD)
				unhard_child(h, i);
			else
				unsoft_child(h, i);
			set_state_counted(h, i, HA_HS_INSTALLED);
		}
		c = end - 1;
	}
	COUNT(h, populate_ns, now(h) - t0);
	ha_store(&h->quarantined, true);
	return ret;
}

/* Record why, quarantine, and report HA_EBADMSG. Lock held. */
static int corrupt(struct ha_host *h, enum ha_bad_reason why, uint64_t index,
		   uint64_t value)
{
	if (h->bad.reason == HA_BAD_NONE) {
		h->bad.reason = why;
		h->bad.index = index;
		h->bad.value = value;
	}
	quarantine_locked(h);
	return HA_EBADMSG;
}

bool ha_host_quarantined(const struct ha_host *h)
{
	return ha_load(&h->quarantined);
}

int ha_host_quarantine(struct ha_host *h)
{
	int r;

	h->env.lock(h->env.ctx);
	r = quarantine_locked(h);
	h->env.unlock(h->env.ctx);
	return r;
}

/* ---- attach ---- */

uint64_t ha_host_state_size(uint64_t max_frames)
{
	uint64_t children =
		(max_frames + HA_CHILD_FRAMES - 1) / HA_CHILD_FRAMES;

	return (children + 3) / 4;
}

int ha_host_attach(struct ha_host *h, void *meta, uint64_t meta_len,
		   uint64_t meta_frame, uint64_t ram_frames,
		   const struct ha_host_env *env, uint8_t *state,
		   struct ha_bad *ret_bad)
{
	struct ha_layout l;
	char *m = meta;
	uint64_t base, meta_frames;

	ret_bad->reason = HA_BAD_NONE;
	if (!meta || !env || !state || !env->discard || !env->populate ||
	    !env->lock || !env->unlock)
		return HA_EINVAL;
	if (ha_validate_header(meta, meta_len, &l, ret_bad) < 0)
		return HA_EBADMSG;

	/* The header was validated from a copy; read base_frame once more
	 * into our own copy and check it against guest RAM. */
	base = ((volatile struct ha_header *)meta)->base_frame;
	meta_frames = (l.total_size + HA_FRAME_SIZE - 1) / HA_FRAME_SIZE;

	ret_bad->index = 0;
	if (base % HA_BASE_ALIGN_FRAMES || base > ram_frames ||
	    l.frames > ram_frames - base) {
		ret_bad->reason = HA_BAD_RANGE;
		ret_bad->value = base;
		return HA_EBADMSG;
	}
	if (meta_frame < base + l.frames && base < meta_frame + meta_frames) {
		ret_bad->reason = HA_BAD_OVERLAP;
		ret_bad->value = meta_frame;
		return HA_EBADMSG;
	}

	*h = (struct ha_host){ 0 };
	h->env = *env;
	h->layout = l;
	h->base_frame = base;
	h->trees = (ha_tree_word *)(void *)(m + l.trees_offset);
	h->children = (ha_child_word *)(void *)(m + l.children_offset);
	h->bitfields = (struct ha_bitfield *)(void *)(m + l.bitfields_offset);
	h->state = state;

	for (uint64_t t = 0; t < l.trees; t++) {
		ha_tree_word w = ha_load(&h->trees[t]);

		if (!tree_valid(h, t, w)) {
			*ret_bad = (struct ha_bad){ HA_BAD_TREE, t, w };
			return HA_EBADMSG;
		}
	}
	for (uint64_t c = 0; c < (l.children + 3) / 4; c++)
		state[c] = 0;
	for (uint64_t c = 0; c < l.children; c++) {
		ha_child_word w = ha_load(&h->children[c]);

		if (!ha_child_valid(w)) {
			*ret_bad = (struct ha_bad){ HA_BAD_CHILD, c, w };
			return HA_EBADMSG;
		}
		/* A reclaimed huge child without the mark is a huge
		 * allocation of a soft child waiting for its install. */
		if (ha_child_reclaimed(w))
			set_state_counted(h, c,
					  ha_child_huge(w) &&
							  hard_marked(h, c) ?
						  HA_HS_HARD :
						  HA_HS_SOFT);
	}
	return HA_OK;
}

/* ---- hard reclaim ---- */

/* Give back a tree reservation taken by the host. Lock held. */
static int tree_undo(struct ha_host *h, uint64_t t)
{
	ha_tree_word w = ha_load(&h->trees[t]);

	do {
		if (!tree_valid(h, t, w) ||
		    ha_tree_free(w) + HA_CHILD_FRAMES > tree_cap(h, t))
			return corrupt(h, HA_BAD_TREE, t, w);
	} while (
		!ha_cas(&h->trees[t], &w, (ha_tree_word)(w + HA_CHILD_FRAMES)));
	return HA_OK;
}

/* Turn one entirely free child of tree @t into a hard-reclaimed one.
 * Returns 1 (found, index in *ret_c, old word in *ret_old), 0 (none),
 * or HA_EBADMSG. */
static int take_child(struct ha_host *h, uint64_t t, uint64_t *ret_c,
		      ha_child_word *ret_old)
{
	for (unsigned i = 0; i < tree_children(h, t); i++) {
		uint64_t c = t * HA_TREE_CHILDREN + i;
		ha_child_word w = ha_load(&h->children[c]);

		for (;;) {
			if (!ha_child_valid(w))
				return corrupt(h, HA_BAD_CHILD, c, w);
			if (ha_child_huge(w) ||
			    ha_child_free(w) != HA_CHILD_FRAMES)
				break;
			if (ha_cas(&h->children[c], &w,
				   (ha_child_word)(HA_CHILD_HUGE |
						   HA_CHILD_RECLAIMED))) {
				*ret_c = c;
				*ret_old = w;
				return 1;
			}
		}
	}
	return 0;
}

/* Hard-reclaim from tree @t until @b holds @want frames or @t has none. */
static int hard_in_tree(struct ha_host *h, uint64_t t, struct batch *b,
			unsigned want)
{
	while (b->taken < want) {
		ha_tree_word w = ha_load(&h->trees[t]);
		uint64_t c;
		ha_child_word old;
		enum ha_hstate s;
		int r;

		if (!tree_valid(h, t, w))
			return corrupt(h, HA_BAD_TREE, t, w);
		if (ha_tree_reserved(w) || ha_tree_free(w) < HA_CHILD_FRAMES)
			return HA_OK;
		/* Take the frames from the tree counter first, so the guest
		 * can never count them as free in between. */
		if (!ha_cas(&h->trees[t], &w,
			    (ha_tree_word)(w - HA_CHILD_FRAMES)))
			continue;

		r = take_child(h, t, &c, &old);
		if (r < 0)
			return r;
		if (r == 0)
			return tree_undo(h, t);

		s = state_get(h, c);
		hard_mark(h, c, true);
		set_state_counted(h, c, HA_HS_HARD);
		COUNT(h, reclaimed_hard, 1);
		b->taken++;
		if (ha_child_reclaimed(old)) {
			/* soft -> hard: the backing is gone already */
			if (s != HA_HS_SOFT)
				return corrupt(h, HA_BAD_STATE, c, old);
		} else {
			if (s != HA_HS_INSTALLED)
				return corrupt(h, HA_BAD_STATE, c, old);
			b->idx[b->n++] = c;
		}
	}
	return HA_OK;
}

/* Soft-reclaim the eligible children of tree @t (up to @want in @b). */
static int soft_in_tree(struct ha_host *h, uint64_t t, struct batch *b,
			unsigned want)
{
	ha_tree_word tw = ha_load(&h->trees[t]);

	if (!tree_valid(h, t, tw))
		return corrupt(h, HA_BAD_TREE, t, tw);
	/* Reserved trees belong to a guest CPU; fewer than 512 free frames
	 * means no child can be entirely free. */
	if (ha_tree_reserved(tw) || ha_tree_free(tw) < HA_CHILD_FRAMES)
		return HA_OK;

	for (unsigned i = 0; i < tree_children(h, t) && b->taken < want; i++) {
		uint64_t c = t * HA_TREE_CHILDREN + i;
		ha_child_word w = ha_load(&h->children[c]);

		for (;;) {
			if (!ha_child_valid(w))
				return corrupt(h, HA_BAD_CHILD, c, w);
			if (ha_child_huge(w) || ha_child_reclaimed(w) ||
			    ha_child_free(w) != HA_CHILD_FRAMES)
				break;
			if (ha_cas(&h->children[c], &w,
				   (ha_child_word)(w | HA_CHILD_RECLAIMED))) {
				if (state_get(h, c) != HA_HS_INSTALLED)
					return corrupt(h, HA_BAD_STATE, c, w);
				set_state_counted(h, c, HA_HS_SOFT);
				COUNT(h, reclaimed_soft, 1);
				b->taken++;
				b->idx[b->n++] = c;
				break;
			}
		}
	}
	return HA_OK;
}

typedef int (*tree_step_fn)(struct ha_host *h, uint64_t t, struct batch *b,
			    unsigned want);

/*
 * Drive @step over the trees, starting at *@cursor, for at most one full
 * pass: batch by batch, each batch under the lock and discarded before the
 * lock is dropped. Returns frames reclaimed or a negative error.
 */
static int64_t reclaim_pass(struct ha_host *h, uint64_t n, uint64_t *cursor,
			    tree_step_fn step)
{
	uint64_t done = 0, visited = 0;
	uint64_t trees = h->layout.trees;

	while (done < n && visited < trees) {
		struct batch b = { .n = 0, .taken = 0 };
		unsigned want = n - done < HA_BATCH ? (unsigned)(n - done) :
						      HA_BATCH;
		int ret = HA_OK;

		h->env.lock(h->env.ctx);
		if (h->quarantined) {
			h->env.unlock(h->env.ctx);
			return HA_EPERM;
		}
		for (unsigned looked = 0; b.taken < want && visited < trees &&
					  looked < HA_SCAN_TREES;
		     looked++) {
			ret = step(h, *cursor, &b, want);
			if (ret < 0)
				break;
			if (b.taken < want) {
				/* no 64-bit division: a kernel builds this */
				*cursor = *cursor + 1 < trees ? *cursor + 1 : 0;
				visited++;
			}
		}
		if (ret == HA_OK)
			ret = batch_discard(h, &b);
		h->env.unlock(h->env.ctx);
		done += b.taken;
		if (ret < 0)
			return ret;
	}
	return (int64_t)done;
}

int64_t ha_host_reclaim_hard(struct ha_host *h, uint64_t n)
{
	if (ha_host_quarantined(h))
		return HA_EPERM;
	return reclaim_pass(h, n, &h->cursor_hard, hard_in_tree);
}

int64_t ha_host_reclaim_soft(struct ha_host *h, uint64_t max)
{
	if (ha_host_quarantined(h))
		return HA_EPERM;
	return reclaim_pass(h, max ? max : ~0ull, &h->cursor_soft,
			    soft_in_tree);
}

/* ---- return ---- */

/* hard -> soft: the guest sees a free (still unpopulated) frame. */
static int return_child(struct ha_host *h, uint64_t c)
{
	ha_child_word w = HA_CHILD_HUGE | HA_CHILD_RECLAIMED;
	uint64_t t = c / HA_TREE_CHILDREN;
	ha_tree_word tw;

	/* A guest cannot legally touch a hard child: anything but the exact
	 * word we wrote is corruption. The mark goes first: a crash in
	 * between leaves a child that looks allocated, never a free child
	 * with a marked bitfield. */
	if (ha_load(&h->children[c]) != w)
		return corrupt(h, HA_BAD_STATE, c, ha_load(&h->children[c]));
	hard_mark(h, c, false);
	if (!ha_cas(&h->children[c], &w,
		    (ha_child_word)(HA_CHILD_FRAMES | HA_CHILD_RECLAIMED)))
		return corrupt(h, HA_BAD_STATE, c, w);
	set_state_counted(h, c, HA_HS_SOFT);
	COUNT(h, returned, 1);

	tw = ha_load(&h->trees[t]);
	do {
		if (!tree_valid(h, t, tw) ||
		    ha_tree_free(tw) + HA_CHILD_FRAMES > tree_cap(h, t))
			return corrupt(h, HA_BAD_TREE, t, tw);
	} while (!ha_cas(&h->trees[t], &tw,
			 (ha_tree_word)(tw + HA_CHILD_FRAMES)));
	return HA_OK;
}

int64_t ha_host_return(struct ha_host *h, uint64_t n)
{
	uint64_t done = 0, scanned = 0;
	uint64_t children = h->layout.children;

	if (ha_host_quarantined(h))
		return HA_EPERM;
	while (done < n && scanned < children) {
		unsigned taken = 0;
		int ret = HA_OK;

		h->env.lock(h->env.ctx);
		if (h->quarantined) {
			h->env.unlock(h->env.ctx);
			return HA_EPERM;
		}
		if (ha_load_relaxed(&h->c.hard_now) == 0)
			scanned = children;
		for (unsigned looked = 0;
		     done + taken < n && taken < HA_BATCH &&
		     scanned < children && looked < HA_SCAN_CHILDREN;
		     looked++) {
			uint64_t c = h->cursor_return;

			if (state_get(h, c) == HA_HS_HARD) {
				ret = return_child(h, c);
				if (ret < 0)
					break;
				taken++;
			}
			h->cursor_return = c + 1 < children ? c + 1 : 0;
			scanned++;
		}
		h->env.unlock(h->env.ctx);
		done += taken;
		if (ret < 0)
			return ret;
	}
	return (int64_t)done;
}

/* ---- install ---- */

static int install_locked(struct ha_host *h, uint64_t c)
{
	ha_child_word w = ha_load(&h->children[c]);
	enum ha_hstate s = state_get(h, c);
	uint64_t t0;
	int r;

	if (!ha_child_valid(w))
		return corrupt(h, HA_BAD_CHILD, c, w);
	if (!ha_child_reclaimed(w)) {
		/* Installed by a racing request already. */
		if (s != HA_HS_INSTALLED)
			return corrupt(h, HA_BAD_STATE, c, w);
		return HA_OK;
	}
	if (s == HA_HS_HARD)
		return HA_EPROTO;
	if (s != HA_HS_SOFT)
		return corrupt(h, HA_BAD_STATE, c, w);

	t0 = now(h);
	r = h->env.populate(h->env.ctx, ha_huge(c), 1);
	COUNT(h, populate_ns, now(h) - t0);
	if (r < 0)
		return HA_EIO;
	set_state_counted(h, c, HA_HS_INSTALLED);
	COUNT(h, installed, 1);
	/* Only the host clears this bit; the guest may change free/huge. */
	do {
		if (!ha_child_reclaimed(w))
			return corrupt(h, HA_BAD_STATE, c, w);
	} while (!ha_cas(&h->children[c], &w,
			 (ha_child_word)(w & ~HA_CHILD_RECLAIMED)));
	return HA_OK;
}

int ha_host_install(struct ha_host *h, ha_huge_t huge)
{
	int r;

	if (huge.v >= h->layout.children)
		return HA_ERANGE;
	h->env.lock(h->env.ctx);
	r = h->quarantined ? HA_OK : install_locked(h, huge.v);
	h->env.unlock(h->env.ctx);
	return r;
}

/* ---- read-only views ---- */

int ha_host_scan(struct ha_host *h, struct ha_host_scan *ret_scan)
{
	struct ha_host_scan s = { 0 };

	for (uint64_t c = 0; c < h->layout.children; c++) {
		ha_child_word w = ha_load(&h->children[c]);
		enum ha_hstate st = state_get(h, c);

		if (!ha_child_valid(w)) {
			h->env.lock(h->env.ctx);
			corrupt(h, HA_BAD_CHILD, c, w);
			h->env.unlock(h->env.ctx);
			return HA_EBADMSG;
		}
		s.free_frames += ha_child_free(w);
		if (st == HA_HS_HARD) {
			s.hard++;
			continue;
		}
		if (st == HA_HS_SOFT)
			s.soft++;
		if (!ha_child_huge(w) && ha_child_free(w) == HA_CHILD_FRAMES) {
			s.free_huge++;
			if (!ha_child_reclaimed(w))
				s.free_huge_installed++;
		} else if (ha_child_reclaimed(w)) {
			s.installing++;
		}
	}
	*ret_scan = s;
	return HA_OK;
}

enum ha_hstate ha_host_state(const struct ha_host *h, ha_huge_t huge)
{
	if (huge.v >= h->layout.children)
		return HA_HS_INSTALLED;
	return state_get(h, huge.v);
}

void ha_host_counters(const struct ha_host *h,
		      struct ha_host_counters *ret_counters)
{
	ret_counters->reclaimed_hard = ha_load_relaxed(&h->c.reclaimed_hard);
	ret_counters->reclaimed_soft = ha_load_relaxed(&h->c.reclaimed_soft);
	ret_counters->returned = ha_load_relaxed(&h->c.returned);
	ret_counters->installed = ha_load_relaxed(&h->c.installed);
	ret_counters->discard_calls = ha_load_relaxed(&h->c.discard_calls);
	ret_counters->discard_ns = ha_load_relaxed(&h->c.discard_ns);
	ret_counters->populate_ns = ha_load_relaxed(&h->c.populate_ns);
	ret_counters->hard_now = ha_load_relaxed(&h->c.hard_now);
	ret_counters->soft_now = ha_load_relaxed(&h->c.soft_now);
}
