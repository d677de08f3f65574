/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lower allocator (guest side): allocation inside one tree, on the child
 * words and the bitfields. Internal to lib/.
 */
#ifndef HA_LOWER_H
#define HA_LOWER_H

#include "ha_layout.h"

/*
 * What the lower allocator works on: the child words and bitfields of a
 * region (struct ha_guest lends its own). Tree words are the upper
 * allocator's.
 */
struct ha_lower {
	ha_child_word *children;
	struct ha_bitfield *bitfields;
	const struct ha_layout *layout;
};

/* Children of tree @tree that exist (the last tree may be partial). */
static inline unsigned ha_tree_children_in(const struct ha_layout *l,
					   uint64_t tree)
{
	uint64_t first = tree * HA_TREE_CHILDREN;
	uint64_t left = l->children - first;

	return left >= HA_TREE_CHILDREN ? HA_TREE_CHILDREN : (unsigned)left;
}

/* Capacity of tree @tree in frames. */
static inline unsigned ha_tree_capacity(const struct ha_layout *l,
					uint64_t tree)
{
	return ha_tree_children_in(l, tree) * HA_CHILD_FRAMES;
}

/*
 * Allocate 2^@order frames inside tree @tree, starting the search at child
 * @start (0..7). Children whose backing is installed are preferred over
 * reclaimed ones; with @installed_only reclaimed children are never taken.
 * The caller has already taken 2^@order from a tree counter. Returns
 * HA_OK with *ret_frame and *ret_reclaimed, or HA_ENOMEM.
 */
int ha_lower_get(const struct ha_lower *low, uint64_t tree, unsigned start,
		 unsigned order, bool installed_only, ha_frame_t *ret_frame,
		 bool *ret_reclaimed);

/*
 * Free 2^@order frames at @frame (in range and aligned: checked by the
 * caller). A free into a huge child that another CPU is splitting waits
 * for that split (which runs with interrupts masked, so it is short).
 * Returns HA_OK or HA_EFAULT (not allocated, or the host's hard-reclaimed
 * frame).
 */
int ha_lower_put(const struct ha_lower *low, ha_frame_t frame, unsigned order);

#endif /* HA_LOWER_H */
