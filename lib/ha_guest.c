// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Upper allocator (guest side): tree words and per-CPU reservations.
 *
 * A CPU reserves one tree per kind: the tree's free counter moves into the
 * CPU's private reservation word and the tree word becomes {0, reserved}.
 * Allocations decrement the private word, frees always increment the
 * shared tree word, and a CPU whose reservation runs dry first takes back
 * what was freed into its tree ("sync"), then reserves another tree,
 * then steals another CPU's reservation, then allocates from any tree.
 * Reserved trees are invisible to the host's reclaim.
 */
#include "ha_guest.h"
#include "ha_atomic.h"
#include "ha_lower.h"
#include "ha_validate.h"

/* The region's children and bitfields, for the lower allocator. */
static struct ha_lower lower_of(struct ha_guest *g)
{
	return (struct ha_lower){
		.children = g->children,
		.bitfields = g->bitfields,
		.layout = &g->layout,
	};
}

#define HA_GET_ATTEMPTS 4

/* ---- reservation words: free:16 | tree:47 | present:1 ---- */
#define RES_PRESENT    (1ull << 63)
#define RES_TREE_SHIFT 16
#define RES_TREE_MASK  ((1ull << 47) - 1)

static inline uint64_t res_make(uint64_t tree, unsigned free)
{
	return RES_PRESENT | ((tree & RES_TREE_MASK) << RES_TREE_SHIFT) | free;
}

static inline bool res_present(uint64_t r)
{
	return (r & RES_PRESENT) != 0;
}

static inline unsigned res_free(uint64_t r)
{
	return (unsigned)(r & 0xffffu);
}

static inline uint64_t res_tree(uint64_t r)
{
	return (r >> RES_TREE_SHIFT) & RES_TREE_MASK;
}

uint64_t ha_local_size(unsigned cores)
{
	return (uint64_t)cores * sizeof(struct ha_local);
}

/* @n / @d by shifts: a kernel may not divide 64 bits by a variable. */
static uint64_t div_u64_u32(uint64_t n, uint32_t d)
{
	uint64_t q = 0, rem = 0;

	for (int bit = 63; bit >= 0; bit--) {
		rem = (rem << 1) | ((n >> bit) & 1u);
		if (rem >= d) {
			rem -= d;
			q |= 1ull << bit;
		}
	}
	return q;
}

/* @a + @b (both below @n) modulo @n, without dividing. */
static uint64_t wrap_add(uint64_t a, uint64_t b, uint64_t n)
{
	uint64_t v = a + b;

	return v >= n ? v - n : v;
}

/* ---- tree word updates ---- */

static void tree_inc(struct ha_guest *g, uint64_t t, unsigned n)
{
	ha_tree_word old = ha_load(&g->trees[t]);

	while (!ha_cas(&g->trees[t], &old, (ha_tree_word)(old + n)))
		;
}

/* Reserve tree @t if it is unreserved and has at least @min free frames
 * (and, when @want_kind >= 0, has that kind). Returns the frames taken. */
static unsigned tree_reserve(struct ha_guest *g, uint64_t t, unsigned min,
			     unsigned max, unsigned kind, int want_kind)
{
	ha_tree_word old = ha_load(&g->trees[t]);

	do {
		unsigned free = ha_tree_free(old);

		if (ha_tree_reserved(old) || free < min || free > max)
			return 0;
		if (want_kind >= 0 && ha_tree_kind(old) != (unsigned)want_kind)
			return 0;
	} while (!ha_cas(&g->trees[t], &old, ha_tree_make(0, true, kind)));
	return ha_tree_free(old);
}

static void tree_unreserve(struct ha_guest *g, uint64_t t, unsigned free)
{
	ha_tree_word old = ha_load(&g->trees[t]);

	while (!ha_cas(&g->trees[t], &old,
		       ha_tree_make(ha_tree_free(old) + free, false,
				    ha_tree_kind(old))))
		;
}

/* Take what was freed into a reserved tree's shared word. */
static unsigned tree_take_global(struct ha_guest *g, uint64_t t)
{
	ha_tree_word old = ha_load(&g->trees[t]);

	do {
		if (!ha_tree_reserved(old) || ha_tree_free(old) == 0)
			return 0;
	} while (!ha_cas(&g->trees[t], &old,
			 ha_tree_make(0, true, ha_tree_kind(old))));
	return ha_tree_free(old);
}

/* Decrement an unreserved tree directly (last resort). */
static bool tree_dec_global(struct ha_guest *g, uint64_t t, unsigned n)
{
	ha_tree_word old = ha_load(&g->trees[t]);

	do {
		if (ha_tree_reserved(old) || ha_tree_free(old) < n)
			return false;
	} while (!ha_cas(&g->trees[t], &old, (ha_tree_word)(old - n)));
	return true;
}

/* ---- init ---- */

static void write_fresh(struct ha_guest *g, uint64_t base_frame, bool free)
{
	const struct ha_layout *l = &g->layout;
	struct ha_header *h = g->hdr;

	h->magic = HA_MAGIC;
	h->version = HA_VERSION;
	h->header_size = sizeof(*h);
	h->tree_children = HA_TREE_CHILDREN;
	h->child_frames = HA_CHILD_FRAMES;
	h->base_frame = base_frame;
	h->frames = l->frames;
	h->trees_offset = l->trees_offset;
	h->children_offset = l->children_offset;
	h->bitfields_offset = l->bitfields_offset;
	h->total_size = l->total_size;

	for (uint64_t t = 0; t < l->trees; t++)
		g->trees[t] = ha_tree_make(free ? ha_tree_capacity(l, t) : 0,
					   false, HA_KIND_FIXED);
	/* Allocated children are huge frames (with clear bitfields), so that
	 * a booting kernel may free them whole, as order-10 pairs or in
	 * pieces of any order (the first piece splits the child). */
	for (uint64_t c = 0; c < l->trees * HA_TREE_CHILDREN; c++) {
		if (c >= l->children)
			g->children[c] = HA_CHILD_PADDING;
		else
			g->children[c] = ha_child_make(
				free ? HA_CHILD_FRAMES : 0, !free, false);
	}
	for (uint64_t c = 0; c < l->children; c++)
		for (unsigned r = 0; r < HA_BITFIELD_ROWS; r++)
			g->bitfields[c].rows[r] = 0;
}

/* After a restart: trees are the sums of their children, nothing is
 * reserved any more. */
static void rebuild_trees(struct ha_guest *g)
{
	const struct ha_layout *l = &g->layout;

	for (uint64_t t = 0; t < l->trees; t++) {
		unsigned sum = 0;
		unsigned n = ha_tree_children_in(l, t);

		for (unsigned i = 0; i < n; i++)
			sum += ha_child_free(ha_load(
				&g->children[t * HA_TREE_CHILDREN + i]));
		ha_store(&g->trees[t],
			 ha_tree_make(sum, false,
				      ha_tree_kind(ha_load(&g->trees[t]))));
	}
}

int ha_guest_init(struct ha_guest *g, void *meta, uint64_t meta_len,
		  struct ha_local *local, unsigned cores, uint64_t base_frame,
		  uint64_t frames, enum ha_init_mode mode)
{
	struct ha_layout l;
	char *m = meta;
	uint64_t hint;

	if (!meta || !local || cores == 0 || ((uintptr_t)meta % HA_ALIGN) ||
	    base_frame % HA_BASE_ALIGN_FRAMES)
		return HA_EINVAL;
	if (ha_layout_compute(frames, &l) < 0 || meta_len < l.total_size)
		return HA_EINVAL;

	if (mode == HA_INIT_ATTACH) {
		struct ha_bad bad;
		struct ha_layout got;

		if (ha_validate_header(meta, meta_len, &got, &bad) < 0)
			return HA_EBADMSG;
		if (got.frames != frames ||
		    ((struct ha_header *)meta)->base_frame != base_frame)
			return HA_EINVAL;
	}

	g->hdr = meta;
	g->trees = (ha_tree_word *)(void *)(m + l.trees_offset);
	g->children = (ha_child_word *)(void *)(m + l.children_offset);
	g->bitfields = (struct ha_bitfield *)(void *)(m + l.bitfields_offset);
	g->locals = local;
	g->cores = cores;
	g->layout = l;
	g->use_kinds = l.trees >= 3ull * cores;

	for (unsigned i = 0; i < cores; i++) {
		/* Spread the CPUs' first searches over the region. */
		hint = div_u64_u32(l.trees * i, cores);
		for (unsigned k = 0; k < HA_KIND_COUNT; k++) {
			local[i].reserved[k] = 0;
			local[i].hint[k] = hint;
		}
	}

	if (mode == HA_INIT_ATTACH)
		rebuild_trees(g);
	else
		write_fresh(g, base_frame, mode == HA_INIT_FREE);
	return HA_OK;
}

/* ---- get ---- */

static unsigned kind_of(const struct ha_guest *g, unsigned order,
			unsigned flags)
{
	if (!g->use_kinds)
		return HA_KIND_FIXED;
	if (order >= HA_HUGE_ORDER)
		return HA_KIND_HUGE;
	return (flags & HA_GET_MOVABLE) ? HA_KIND_MOVABLE : HA_KIND_FIXED;
}

/* Allocate from the CPU's reservation. HA_ENOMEM: the reservation is
 * missing or too small; HA_EAGAIN: it had frames but none that fit. */
static int get_local(struct ha_guest *g, struct ha_local *lc, unsigned kind,
		     unsigned order, bool installed_only, ha_frame_t *ret_frame,
		     bool *ret_reclaimed)
{
	unsigned n = 1u << order;
	uint64_t r = ha_load(&lc->reserved[kind]);
	struct ha_lower lo = lower_of(g);
	uint64_t t;

	do {
		if (!res_present(r) || res_free(r) < n)
			return HA_ENOMEM;
	} while (!ha_cas(&lc->reserved[kind], &r, r - n));

	t = res_tree(r);
	if (ha_lower_get(&lo, t, 0, order, installed_only, ret_frame,
			 ret_reclaimed) == HA_OK)
		return HA_OK;
	tree_inc(g, t, n);
	return HA_EAGAIN;
}

/* Move frames freed into our reserved tree back into the reservation. */
static bool sync_local(struct ha_guest *g, struct ha_local *lc, unsigned kind,
		       unsigned n)
{
	uint64_t r = ha_load(&lc->reserved[kind]);
	uint64_t t;
	unsigned got;

	if (!res_present(r))
		return false;
	t = res_tree(r);
	got = tree_take_global(g, t);
	if (got == 0)
		return false;
	do {
		if (!res_present(r) || res_tree(r) != t ||
		    res_free(r) + got > 0xffffu) {
			/* Reservation changed under us: give it back. */
			tree_inc(g, t, got);
			return false;
		}
	} while (!ha_cas(&lc->reserved[kind], &r, r + got));
	return res_free(r) + got >= n;
}

/* Put a new reservation in place, returning the old one to its tree. */
static void install_reservation(struct ha_guest *g, struct ha_local *lc,
				unsigned kind, uint64_t t, unsigned free)
{
	uint64_t old = ha_xchg(&lc->reserved[kind], res_make(t, free));

	ha_store_relaxed(&lc->hint[kind], t);
	if (res_present(old))
		tree_unreserve(g, res_tree(old), res_free(old));
}

static bool reserve_new(struct ha_guest *g, struct ha_local *lc, unsigned kind,
			unsigned n, uint64_t skip)
{
	const struct ha_layout *l = &g->layout;
	uint64_t start = ha_load_relaxed(&lc->hint[kind]);

	if (start >= l->trees)
		start = 0;
	/* Pass 0: partially used trees of our kind (keeps free trees whole
	 * for the host and for huge frames). Pass 1: entirely free trees.
	 * Pass 2: anything with room. */
	for (int pass = 0; pass < 3; pass++) {
		for (uint64_t i = 0; i < l->trees; i++) {
			uint64_t t = wrap_add(start, i, l->trees);
			unsigned cap = ha_tree_capacity(l, t);
			unsigned got;

			if (t == skip)
				continue;
			if (pass == 0)
				got = tree_reserve(g, t, n, cap - 1, kind,
						   g->use_kinds ? (int)kind :
								  -1);
			else if (pass == 1)
				got = tree_reserve(g, t, cap, cap, kind, -1);
			else
				got = tree_reserve(g, t, n, cap, kind, -1);
			if (got) {
				install_reservation(g, lc, kind, t, got);
				return true;
			}
		}
	}
	return false;
}

/* Clear reservation @slot if it and the frames freed into its tree since
 * add up to @n. Returns the old reservation word, or 0. */
static uint64_t res_take(struct ha_guest *g, uint64_t *slot, unsigned n)
{
	uint64_t r = ha_load(slot);

	do {
		if (!res_present(r) ||
		    res_free(r) + ha_tree_free(
					  ha_load(&g->trees[res_tree(r)])) <
			    n)
			return 0;
	} while (!ha_cas(slot, &r, 0));
	return r;
}

/* Take over a reservation of any CPU (our own other kinds included) that
 * has at least @n frames, counting those freed into its tree: only the
 * owner of a reservation syncs them, and it may never ask again. Stealing
 * across kinds keeps frames reachable when every tree is reserved by
 * some CPU for some kind. */
static bool steal_reservation(struct ha_guest *g, unsigned core, unsigned kind,
			      unsigned n)
{
	for (unsigned i = 0; i < g->cores; i++) {
		struct ha_local *other = &g->locals[(core + i) % g->cores];

		for (unsigned j = 0; j < HA_KIND_COUNT; j++) {
			unsigned k = (kind + j) % HA_KIND_COUNT;
			uint64_t r;

			if (i == 0 && k == kind)
				continue;
			r = res_take(g, &other->reserved[k], n);
			if (r) {
				uint64_t t = res_tree(r);

				install_reservation(
					g, &g->locals[core], kind, t,
					res_free(r) + tree_take_global(g, t));
				return true;
			}
		}
	}
	return false;
}

static int get_global(struct ha_guest *g, unsigned order, bool installed_only,
		      ha_frame_t *ret_frame, bool *ret_reclaimed)
{
	unsigned n = 1u << order;
	struct ha_lower lo = lower_of(g);

	for (uint64_t t = 0; t < g->layout.trees; t++) {
		if (!tree_dec_global(g, t, n))
			continue;
		if (ha_lower_get(&lo, t, 0, order, installed_only, ret_frame,
				 ret_reclaimed) == HA_OK)
			return HA_OK;
		tree_inc(g, t, n);
	}
	return HA_ENOMEM;
}

int ha_guest_get(struct ha_guest *g, unsigned core, unsigned order,
		 unsigned flags, ha_frame_t *ret_frame, bool *ret_reclaimed)
{
	bool installed_only = (flags & HA_GET_INSTALLED) != 0;
	uint64_t skip = ~0ull;
	struct ha_local *lc;
	unsigned kind, n;
	int r;

	if (order > HA_MAX_ORDER || core >= g->cores ||
	    (flags & ~(unsigned)(HA_GET_MOVABLE | HA_GET_INSTALLED)))
		return HA_EINVAL;
	kind = kind_of(g, order, flags);
	n = 1u << order;
	lc = &g->locals[core];

	for (int attempt = 0; attempt < HA_GET_ATTEMPTS; attempt++) {
		r = get_local(g, lc, kind, order, installed_only, ret_frame,
			      ret_reclaimed);

		if (r == HA_OK)
			return HA_OK;
		if (r == HA_EAGAIN) {
			/* Frames, but fragmented: look elsewhere. */
			skip = res_tree(ha_load(&lc->reserved[kind]));
		} else if (sync_local(g, lc, kind, n)) {
			continue;
		}
		if (reserve_new(g, lc, kind, n, skip))
			continue;
		if (steal_reservation(g, core, kind, n))
			continue;
		break;
	}
	return get_global(g, order, installed_only, ret_frame, ret_reclaimed);
}

/* ---- put ---- */

int ha_guest_put(struct ha_guest *g, unsigned core, ha_frame_t frame,
		 unsigned order)
{
	struct ha_lower lo = lower_of(g);
	int r;

	(void)core;
	if (order > HA_MAX_ORDER)
		return HA_EINVAL;
	if (frame.v >= g->layout.frames || frame.v % (1ull << order))
		return HA_ERANGE;
	if (order == HA_MAX_ORDER &&
	    frame.v / HA_CHILD_FRAMES + 1 >= g->layout.children)
		return HA_ERANGE;

	r = ha_lower_put(&lo, frame, order);
	if (r < 0)
		return r;
	tree_inc(g, frame.v / HA_TREE_FRAMES, 1u << order);
	return HA_OK;
}

void ha_guest_drain(struct ha_guest *g, unsigned core)
{
	uint64_t r;

	if (core >= g->cores)
		return;
	for (unsigned k = 0; k < HA_KIND_COUNT; k++) {
		r = ha_xchg(&g->locals[core].reserved[k], 0);
		if (res_present(r))
			tree_unreserve(g, res_tree(r), res_free(r));
	}
}

/* ---- managed ranges ---- */

int ha_guest_span(uint64_t start_frame, uint64_t end_frame, uint64_t *ret_base,
		  uint64_t *ret_frames)
{
	uint64_t base, end;

	if (end_frame < start_frame || end_frame > HA_MAX_FRAMES * 2)
		return HA_EINVAL;
	base = (start_frame + HA_BASE_ALIGN_FRAMES - 1) &
	       ~(uint64_t)(HA_BASE_ALIGN_FRAMES - 1);
	end = end_frame & ~(uint64_t)(HA_CHILD_FRAMES - 1);
	if (end <= base)
		return HA_ENOMEM;
	if (end - base > HA_MAX_FRAMES)
		end = base + HA_MAX_FRAMES;
	*ret_base = base;
	*ret_frames = end - base;
	return HA_OK;
}

/* ---- statistics ---- */

uint64_t ha_guest_free_frames(const struct ha_guest *g)
{
	uint64_t sum = 0;

	for (uint64_t t = 0; t < g->layout.trees; t++)
		sum += ha_tree_free(ha_load(&g->trees[t]));
	for (unsigned i = 0; i < g->cores; i++)
		for (unsigned k = 0; k < HA_KIND_COUNT; k++) {
			uint64_t r = ha_load(&g->locals[i].reserved[k]);

			if (res_present(r))
				sum += res_free(r);
		}
	return sum;
}

uint64_t ha_guest_free_huge(const struct ha_guest *g)
{
	uint64_t n = 0;

	for (uint64_t c = 0; c < g->layout.children; c++) {
		ha_child_word w = ha_load(&g->children[c]);

		if (!ha_child_huge(w) && ha_child_free(w) == HA_CHILD_FRAMES)
			n++;
	}
	return n;
}

/* A child a huge allocation could take now (installed or soft). */
static bool child_whole(ha_child_word w)
{
	return !ha_child_huge(w) && ha_child_free(w) == HA_CHILD_FRAMES;
}

bool ha_guest_has_free_huge(const struct ha_guest *g, unsigned order)
{
	const struct ha_layout *l = &g->layout;
	ha_tree_word tw;
	uint64_t first;
	unsigned n;

	if (order < HA_HUGE_ORDER || order > HA_MAX_ORDER)
		return false;
	for (uint64_t t = 0; t < l->trees; t++) {
		/* An unreserved tree's word counts all of its free frames. */
		tw = ha_load(&g->trees[t]);
		if (!ha_tree_reserved(tw) && ha_tree_free(tw) < (1u << order))
			continue;
		first = t * HA_TREE_CHILDREN;
		n = ha_tree_children_in(l, t);
		for (unsigned i = 0; i < n; i++) {
			if (!child_whole(ha_load(&g->children[first + i])))
				continue;
			if (order == HA_HUGE_ORDER)
				return true;
			/* Order 10: an aligned pair, both whole. */
			if (i % 2 == 0 && i + 1 < n &&
			    child_whole(ha_load(&g->children[first + i + 1])))
				return true;
		}
	}
	return false;
}

bool ha_guest_is_reclaimed(const struct ha_guest *g, ha_huge_t huge)
{
	if (huge.v >= g->layout.children)
		return false;
	return ha_child_reclaimed(ha_load(&g->children[huge.v]));
}
