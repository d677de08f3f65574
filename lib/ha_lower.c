// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Lower allocator: child words and bitfields.
 *
 * Orders 0..8 first take 2^order from the child's free counter, then claim
 * bits in its bitfield (and give the counter back if no aligned run is
 * found). Order 9 turns a completely free child into a huge one; order 10
 * does the same to an aligned pair of children with one 32-bit CAS. The
 * reclaimed bit is never changed here, only reported.
 */
#include "ha_lower.h"
#include "ha_atomic.h"

/* Positions at which an aligned run of 2^order bits may start. */
static const uint64_t aligned_starts[7] = {
	0xffffffffffffffffull, 0x5555555555555555ull, 0x1111111111111111ull,
	0x0101010101010101ull, 0x0001000100010001ull, 0x0000000100000001ull,
	0x0000000000000001ull,
};

static uint64_t run_mask(unsigned order)
{
	return order >= 6 ? ~0ull : (1ull << (1u << order)) - 1;
}

/* First aligned run of 2^order zero bits in @row, or -1. */
static int row_find(uint64_t row, unsigned order)
{
	uint64_t x = ~row;

	for (unsigned s = 1; s < (1u << order); s <<= 1)
		x &= x >> s;
	x &= aligned_starts[order];
	return x ? __builtin_ctzll(x) : -1;
}

/* Claim 2^order bits; returns the bit index (0..511) or -1. */
static int bitfield_set(struct ha_bitfield *bf, unsigned order)
{
	unsigned nrows, k;

	if (order <= 6) {
		uint64_t mask = run_mask(order);

		for (unsigned r = 0; r < HA_BITFIELD_ROWS; r++) {
			uint64_t row = ha_load(&bf->rows[r]);
			int pos;

			while ((pos = row_find(row, order)) >= 0) {
				if (ha_cas(&bf->rows[r], &row,
					   row | (mask << pos)))
					return (int)(r * 64) + pos;
			}
		}
		return -1;
	}

	/* Orders 7 and 8: 2 or 4 whole rows, claimed one by one. */
	nrows = 1u << (order - 6);
	for (unsigned start = 0; start < HA_BITFIELD_ROWS; start += nrows) {
		for (k = 0; k < nrows; k++) {
			uint64_t expected = 0;

			if (!ha_cas(&bf->rows[start + k], &expected, ~0ull))
				break;
		}
		if (k == nrows)
			return (int)(start * 64);
		/* Undo: rows we filled were free, nobody else owns them. */
		while (k-- > 0)
			ha_store(&bf->rows[start + k], 0);
	}
	return -1;
}

static int bitfield_clear(struct ha_bitfield *bf, unsigned idx, unsigned order)
{
	unsigned nrows;

	if (order <= 6) {
		unsigned r = idx / 64;
		uint64_t mask = run_mask(order) << (idx % 64);
		uint64_t row = ha_load(&bf->rows[r]);

		do {
			if ((row & mask) != mask)
				return HA_EFAULT;
		} while (!ha_cas(&bf->rows[r], &row, row & ~mask));
		return HA_OK;
	}

	nrows = 1u << (order - 6);
	for (unsigned k = 0; k < nrows; k++) {
		uint64_t expected = ~0ull;

		if (!ha_cas(&bf->rows[idx / 64 + k], &expected, 0))
			return HA_EFAULT;
	}
	return HA_OK;
}

/* Take @n frames from a child's counter. */
static bool child_dec(ha_child_word *c, unsigned n, bool allow_reclaimed,
		      ha_child_word *ret_old)
{
	ha_child_word old = ha_load(c);

	do {
		if (ha_child_huge(old) || ha_child_free(old) < n)
			return false;
		if (!allow_reclaimed && ha_child_reclaimed(old))
			return false;
	} while (!ha_cas(c, &old, (ha_child_word)(old - n)));
	*ret_old = old;
	return true;
}

static int child_inc(ha_child_word *c, unsigned n)
{
	ha_child_word old = ha_load(c);

	do {
		if (ha_child_huge(old) ||
		    ha_child_free(old) + n > HA_CHILD_FRAMES)
			return HA_EFAULT;
	} while (!ha_cas(c, &old, (ha_child_word)(old + n)));
	return HA_OK;
}

/* Entirely free child -> huge. Keeps the reclaimed bit. */
static bool child_get_huge(ha_child_word *c, bool allow_reclaimed,
			   ha_child_word *ret_old)
{
	ha_child_word old = ha_load(c);
	ha_child_word want;

	do {
		if (ha_child_huge(old) || ha_child_free(old) != HA_CHILD_FRAMES)
			return false;
		if (!allow_reclaimed && ha_child_reclaimed(old))
			return false;
		want = (ha_child_word)(HA_CHILD_HUGE |
				       (old & HA_CHILD_RECLAIMED));
	} while (!ha_cas(c, &old, want));
	*ret_old = old;
	return true;
}

/* Two adjacent children as one 32-bit word (index of the first is even). */
static uint32_t *child_pair(const struct ha_lower *low, uint64_t first)
{
	return (uint32_t *)(void *)&low->children[first];
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PAIR_LO(w)	  ((ha_child_word)((w)&0xffffu))
#define PAIR_HI(w)	  ((ha_child_word)((w) >> 16))
#define PAIR_MAKE(lo, hi) ((uint32_t)(lo) | ((uint32_t)(hi) << 16))
#else
#define PAIR_LO(w)	  ((ha_child_word)((w) >> 16))
#define PAIR_HI(w)	  ((ha_child_word)((w)&0xffffu))
#define PAIR_MAKE(lo, hi) ((uint32_t)(hi) | ((uint32_t)(lo) << 16))
#endif

static bool pair_free(ha_child_word c, bool allow_reclaimed)
{
	return !ha_child_huge(c) && ha_child_free(c) == HA_CHILD_FRAMES &&
	       (allow_reclaimed || !ha_child_reclaimed(c));
}

static bool pair_get(const struct ha_lower *low, uint64_t first,
		     bool allow_reclaimed, bool *ret_reclaimed)
{
	uint32_t *p = child_pair(low, first);
	uint32_t old = ha_load(p);
	ha_child_word lo, hi;
	uint32_t want;

	do {
		lo = PAIR_LO(old);
		hi = PAIR_HI(old);
		if (!pair_free(lo, allow_reclaimed) ||
		    !pair_free(hi, allow_reclaimed))
			return false;
		want = PAIR_MAKE(HA_CHILD_HUGE | (lo & HA_CHILD_RECLAIMED),
				 HA_CHILD_HUGE | (hi & HA_CHILD_RECLAIMED));
	} while (!ha_cas(p, &old, want));
	/* The second word's last 16-bit owner handed its frames over. */
	ha_sync_acquire(&low->children[first + 1]);
	*ret_reclaimed = ha_child_reclaimed(PAIR_LO(old)) ||
			 ha_child_reclaimed(PAIR_HI(old));
	return true;
}

static int pair_put(const struct ha_lower *low, uint64_t first)
{
	uint32_t *p = child_pair(low, first);
	uint32_t old = ha_load(p);
	uint32_t want;

	/* For the next 16-bit owner of the second word's frames. */
	ha_sync_release(&low->children[first + 1]);
	do {
		ha_child_word lo = PAIR_LO(old), hi = PAIR_HI(old);

		if (!ha_child_huge(lo) || !ha_child_huge(hi))
			return HA_EFAULT;
		want = PAIR_MAKE(HA_CHILD_FRAMES | (lo & HA_CHILD_RECLAIMED),
				 HA_CHILD_FRAMES | (hi & HA_CHILD_RECLAIMED));
	} while (!ha_cas(p, &old, want));
	return HA_OK;
}

static int try_child(const struct ha_lower *low, uint64_t c, unsigned order,
		     bool allow_reclaimed, ha_frame_t *ret_frame,
		     bool *ret_reclaimed)
{
	ha_child_word *cw = &low->children[c];
	unsigned n = 1u << order;
	ha_child_word old;
	int pos;

	if (order == HA_MAX_ORDER) {
		if (c % 2 != 0 || c + 1 >= low->layout->children)
			return HA_ENOMEM;
		if (!pair_get(low, c, allow_reclaimed, ret_reclaimed))
			return HA_ENOMEM;
		*ret_frame = ha_frame(c * HA_CHILD_FRAMES);
		return HA_OK;
	}
	if (order == HA_HUGE_ORDER) {
		if (!child_get_huge(cw, allow_reclaimed, &old))
			return HA_ENOMEM;
		*ret_reclaimed = ha_child_reclaimed(old);
		*ret_frame = ha_frame(c * HA_CHILD_FRAMES);
		return HA_OK;
	}

	if (!child_dec(cw, n, allow_reclaimed, &old))
		return HA_ENOMEM;
	pos = bitfield_set(&low->bitfields[c], order);
	if (pos < 0) {
		child_inc(cw, n);
		return HA_ENOMEM;
	}
	*ret_reclaimed = ha_child_reclaimed(old);
	*ret_frame = ha_frame(c * HA_CHILD_FRAMES + (unsigned)pos);
	return HA_OK;
}

int ha_lower_get(const struct ha_lower *low, uint64_t tree, unsigned start,
		 unsigned order, bool installed_only, ha_frame_t *ret_frame,
		 bool *ret_reclaimed)
{
	uint64_t first = tree * HA_TREE_CHILDREN;
	unsigned count = ha_tree_children_in(low->layout, tree);
	unsigned step = order == HA_MAX_ORDER ? 2 : 1;
	int passes = installed_only ? 1 : 2;

	/* Pass 0 avoids reclaimed children so that installs stay rare. */
	for (int pass = 0; pass < passes; pass++) {
		for (unsigned i = 0; i < HA_TREE_CHILDREN; i += step) {
			unsigned idx = (start + i) % HA_TREE_CHILDREN;

			if (step == 2)
				idx &= ~1u;
			if (idx >= count)
				continue;
			if (try_child(low, first + idx, order, pass == 1,
				      ret_frame, ret_reclaimed) == HA_OK)
				return HA_OK;
		}
	}
	return HA_ENOMEM;
}

/*
 * A huge child is being freed in pieces: turn it into a fully allocated
 * normal child first. One CPU wins row 0 of the bitfield and fills the
 * rest, with interrupts masked so that nothing on its own CPU can wait
 * for it; the others wait until the child is no longer huge, which the
 * winner makes happen within a few stores. So a free never fails on a
 * split, and never waits for a CPU that is not running the split.
 */
static int child_split(const struct ha_lower *low, uint64_t c)
{
	ha_child_word *cw = &low->children[c];
	struct ha_bitfield *bf = &low->bitfields[c];
	uint64_t expected = 0;
	ha_irqflags_t flags;
	ha_child_word old;
	int r = HA_OK;

	ha_irq_save(flags);
	if (ha_cas(&bf->rows[0], &expected, ~0ull)) {
		old = ha_load(cw);
		if (!ha_child_huge(old)) {
			/* Split finished meanwhile and row 0 was freed again:
			 * we claimed free bits, give them back. */
			ha_store(&bf->rows[0], 0);
		} else {
			for (unsigned i = 1; i < HA_BITFIELD_ROWS; i++)
				ha_store(&bf->rows[i], ~0ull);
			do {
				if (!ha_child_huge(old)) {
					r = HA_EFAULT;
					break;
				}
			} while (
				!ha_cas(cw, &old,
					(ha_child_word)(old & ~HA_CHILD_HUGE)));
		}
		ha_irq_restore(flags);
		return r;
	}
	ha_irq_restore(flags);

	while (ha_child_huge(old = ha_load(cw))) {
		/* A hard-reclaimed child is the host's: never split. */
		if (ha_child_reclaimed(old) &&
		    ha_load(&bf->rows[0]) == HA_HARD_MARK)
			return HA_EFAULT;
		ha_cpu_relax();
	}
	return HA_OK;
}

int ha_lower_put(const struct ha_lower *low, ha_frame_t frame, unsigned order)
{
	uint64_t c = frame.v / HA_CHILD_FRAMES;
	ha_child_word *cw = &low->children[c];
	ha_child_word old, want;
	int r;

	if (order == HA_MAX_ORDER)
		return pair_put(low, c);

	if (order == HA_HUGE_ORDER) {
		old = ha_load(cw);
		do {
			if (!ha_child_huge(old))
				return HA_EFAULT;
			want = (ha_child_word)(HA_CHILD_FRAMES |
					       (old & HA_CHILD_RECLAIMED));
		} while (!ha_cas(cw, &old, want));
		return HA_OK;
	}

	if (ha_child_huge(ha_load(cw))) {
		r = child_split(low, c);
		if (r < 0)
			return r;
	}
	r = bitfield_clear(&low->bitfields[c],
			   (unsigned)(frame.v % HA_CHILD_FRAMES), order);
	if (r < 0)
		return r;
	return child_inc(cw, 1u << order);
}
