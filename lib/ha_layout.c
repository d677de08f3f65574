// SPDX-License-Identifier: GPL-2.0-or-later
/* Region layout computation and error names. */
#include "ha_layout.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int ha_layout_compute(uint64_t frames, struct ha_layout *ret_layout)
{
	struct ha_layout l;

	if (frames == 0 || frames % HA_CHILD_FRAMES != 0 ||
	    frames > HA_MAX_FRAMES)
		return HA_EINVAL;

	l.frames = frames;
	l.children = frames / HA_CHILD_FRAMES;
	l.trees = (l.children + HA_TREE_CHILDREN - 1) / HA_TREE_CHILDREN;
	l.trees_offset = align_up(sizeof(struct ha_header), HA_ALIGN);
	l.children_offset = align_up(
		l.trees_offset + l.trees * sizeof(ha_tree_word), HA_ALIGN);
	l.bitfields_offset =
		align_up(l.children_offset + l.trees * HA_TREE_CHILDREN *
						     sizeof(ha_child_word),
			 HA_ALIGN);
	l.total_size =
		l.bitfields_offset + l.children * sizeof(struct ha_bitfield);
	*ret_layout = l;
	return HA_OK;
}

uint64_t ha_meta_size(uint64_t frames)
{
	struct ha_layout l;

	if (ha_layout_compute(frames, &l) < 0)
		return 0;
	return l.total_size;
}

const char *ha_strerror(int err)
{
	switch (err) {
	case HA_OK:
		return "success";
	case HA_EPERM:
		return "region is quarantined";
	case HA_EAGAIN:
		return "lost a race too often, retry";
	case HA_ENOMEM:
		return "no free frame of that order";
	case HA_EFAULT:
		return "frame is not allocated";
	case HA_EINVAL:
		return "invalid argument";
	case HA_ERANGE:
		return "frame outside the region";
	case HA_EPROTO:
		return "request not allowed in the frame's state";
	case HA_EBADMSG:
		return "metadata is corrupt";
	case HA_EIO:
		return "discard or populate failed";
	default:
		return "unknown error";
	}
}
