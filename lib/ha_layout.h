/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared metadata format: the region header, the tree and child words
 * and the layout of a region. docs/protocol.md describes the same thing in
 * prose; the two must agree.
 *
 * A region is one contiguous block in guest RAM:
 *
 *   +--------------------+ 0
 *   | struct ha_header   |   64 bytes
 *   +--------------------+ trees_offset     (64-byte aligned)
 *   | tree words         |   uint16 per tree (16 MiB)
 *   +--------------------+ children_offset  (64-byte aligned)
 *   | child words        |   uint16 per child (2 MiB), 8 per tree; slots
 *   |                    |   past the last child are padding, "allocated"
 *   +--------------------+ bitfields_offset (64-byte aligned)
 *   | bitfields          |   64 bytes (512 bits) per child
 *   +--------------------+ total_size
 *
 * Every word uses the byte order of the machine (guest and host share it).
 * Per-CPU reservations are NOT in the region: they are guest-private.
 */
#ifndef HA_LAYOUT_H
#define HA_LAYOUT_H

#include "ha_types.h"

#define HA_MAGIC   0x314c4148u /* "HAL1" in little-endian byte order */
#define HA_VERSION 1u
#define HA_ALIGN   64u

struct ha_header {
	uint32_t magic; /* HA_MAGIC */
	uint16_t version; /* HA_VERSION */
	uint16_t header_size; /* sizeof(struct ha_header) */
	uint32_t tree_children; /* HA_TREE_CHILDREN */
	uint32_t child_frames; /* HA_CHILD_FRAMES */
	uint64_t base_frame; /* first frame number covered (4 MiB aligned) */
	uint64_t frames; /* frames covered, a multiple of HA_CHILD_FRAMES */
	uint64_t trees_offset; /* byte offsets from the start of the header */
	uint64_t children_offset;
	uint64_t bitfields_offset;
	uint64_t total_size; /* bytes of the whole region */
};

_Static_assert(sizeof(struct ha_header) == 64, "header is one cache line");
_Static_assert(__builtin_offsetof(struct ha_header, base_frame) == 16,
	       "header layout");
_Static_assert(__builtin_offsetof(struct ha_header, total_size) == 56,
	       "header layout");

/* ---- child word (16 bits, one per 2 MiB) ---- */
#define HA_CHILD_FREE_MASK 0x3fffu /* bits 0..13: free 4 KiB frames 0..512 */
#define HA_CHILD_HUGE	   0x4000u /* bit 14: allocated as one huge frame */
#define HA_CHILD_RECLAIMED 0x8000u /* bit 15: backing discarded by host */

typedef uint16_t ha_child_word;
_Static_assert(sizeof(ha_child_word) == 2, "child word is 16 bits");

static inline unsigned ha_child_free(ha_child_word c)
{
	return c & HA_CHILD_FREE_MASK;
}

static inline bool ha_child_huge(ha_child_word c)
{
	return (c & HA_CHILD_HUGE) != 0;
}

static inline bool ha_child_reclaimed(ha_child_word c)
{
	return (c & HA_CHILD_RECLAIMED) != 0;
}

static inline ha_child_word ha_child_make(unsigned free, bool huge,
					  bool reclaimed)
{
	return (ha_child_word)((free & HA_CHILD_FREE_MASK) |
			       (huge ? HA_CHILD_HUGE : 0u) |
			       (reclaimed ? HA_CHILD_RECLAIMED : 0u));
}

/* A child word the protocol can produce: free <= 512, and a huge child has
 * free == 0. */
static inline bool ha_child_valid(ha_child_word c)
{
	unsigned free = ha_child_free(c);

	if (free > HA_CHILD_FRAMES)
		return false;
	if (ha_child_huge(c) && free != 0)
		return false;
	return true;
}

/* The padding child that fills a tree's unused slots: allocated forever. */
#define HA_CHILD_PADDING ((ha_child_word)HA_CHILD_HUGE)

/* ---- tree word (16 bits, one per 16 MiB) ---- */
#define HA_TREE_FREE_MASK  0x1fffu /* bits 0..12: free frames 0..4096 */
#define HA_TREE_RESERVED   0x2000u /* bit 13: reserved by a guest CPU */
#define HA_TREE_KIND_SHIFT 14u /* bits 14..15: enum ha_kind */

typedef uint16_t ha_tree_word;
_Static_assert(sizeof(ha_tree_word) == 2, "tree word is 16 bits");

static inline unsigned ha_tree_free(ha_tree_word t)
{
	return t & HA_TREE_FREE_MASK;
}

static inline bool ha_tree_reserved(ha_tree_word t)
{
	return (t & HA_TREE_RESERVED) != 0;
}

static inline unsigned ha_tree_kind(ha_tree_word t)
{
	return (unsigned)t >> HA_TREE_KIND_SHIFT;
}

static inline ha_tree_word ha_tree_make(unsigned free, bool reserved,
					unsigned kind)
{
	return (ha_tree_word)((free & HA_TREE_FREE_MASK) |
			      (reserved ? HA_TREE_RESERVED : 0u) |
			      ((kind & 3u) << HA_TREE_KIND_SHIFT));
}

/* ---- bitfield (512 bits per child: 1 = 4 KiB frame allocated) ---- */
#define HA_BITFIELD_ROWS 8u
/*
 * Row 0 of a hard-reclaimed child holds this mark (the guest never uses
 * the bitfield of a child allocated as huge, and a hard child belongs to
 * the host). It tells a hard child from a huge allocation of a soft child
 * whose install is pending, whose words are otherwise identical, when a
 * restarted host rebuilds its state from guest memory.
 */
#define HA_HARD_MARK 0x48415244484152ffull
struct ha_bitfield {
	uint64_t rows[HA_BITFIELD_ROWS];
};
_Static_assert(sizeof(struct ha_bitfield) == 64, "bitfield is 64 bytes");
_Static_assert(HA_BITFIELD_ROWS * 64 == HA_CHILD_FRAMES, "512 bits");

/* ---- layout of a region ---- */
struct ha_layout {
	uint64_t frames; /* frames covered */
	uint64_t children; /* real children: frames / 512 */
	uint64_t trees; /* ceil(children / 8) */
	uint64_t trees_offset;
	uint64_t children_offset;
	uint64_t bitfields_offset;
	uint64_t total_size;
};

/*
 * Compute the one legal layout for a region of @frames frames.
 * Returns HA_OK, or HA_EINVAL if @frames is 0, not a multiple of
 * HA_CHILD_FRAMES or above HA_MAX_FRAMES.
 */
int ha_layout_compute(uint64_t frames, struct ha_layout *ret_layout);

/* Bytes of shared metadata needed for @frames frames (0 if invalid). */
uint64_t ha_meta_size(uint64_t frames);

#endif /* HA_LAYOUT_H */
