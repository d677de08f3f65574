// SPDX-License-Identifier: GPL-2.0-or-later
/* The pure read-only scan of a region (see ha_scan.h). */
#include "ha_scan.h"
#include "ha_atomic.h"

static bool hard_marked(const struct ha_bitfield *bf)
{
	return ha_load(&bf->rows[0]) == HA_HARD_MARK;
}

int ha_scan(const void *meta, const struct ha_layout *layout,
	    struct ha_scan *ret_scan, struct ha_bad *ret_bad)
{
	const char *m = meta;
	const ha_child_word *children;
	const struct ha_bitfield *bitfields;
	struct ha_scan s = { 0 };

	if (!meta || !layout || !ret_scan || !ret_bad)
		return HA_EINVAL;
	children =
		(const ha_child_word *)(const void *)(m +
						      layout->children_offset);
	bitfields = (const struct ha_bitfield
			     *)(const void *)(m + layout->bitfields_offset);
	ret_bad->reason = HA_BAD_NONE;
	for (uint64_t c = 0; c < layout->children; c++) {
		ha_child_word w = ha_load(&children[c]);

		if (!ha_child_valid(w)) {
			*ret_bad = (struct ha_bad){ HA_BAD_CHILD, c, w };
			return HA_EBADMSG;
		}
		s.free_frames += ha_child_free(w);
		if (!ha_child_reclaimed(w)) {
			s.installed++;
			if (!ha_child_huge(w) &&
			    ha_child_free(w) == HA_CHILD_FRAMES) {
				s.free_huge++;
				s.free_huge_installed++;
			}
			continue;
		}
		if (ha_child_huge(w) && hard_marked(&bitfields[c])) {
			s.hard++;
			continue;
		}
		s.soft++;
		if (!ha_child_huge(w) && ha_child_free(w) == HA_CHILD_FRAMES)
			s.free_huge++;
		else
			s.installing++;
	}
	*ret_scan = s;
	return HA_OK;
}
