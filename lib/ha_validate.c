// SPDX-License-Identifier: GPL-2.0-or-later
/* Validation of guest-written metadata. */
#include "ha_validate.h"

static const char *const bad_names[HA_BAD_REASON_COUNT] = {
	[HA_BAD_NONE] = "no error",
	[HA_BAD_TRUNCATED] = "region shorter than its layout",
	[HA_BAD_ALIGNMENT] = "region not 64-byte aligned",
	[HA_BAD_MAGIC] = "bad magic",
	[HA_BAD_VERSION] = "unsupported version",
	[HA_BAD_GEOMETRY] = "unsupported geometry",
	[HA_BAD_FRAMES] = "bad frame count",
	[HA_BAD_BASE] = "base frame not 4 MiB aligned",
	[HA_BAD_RANGE] = "managed range outside guest RAM",
	[HA_BAD_OVERLAP] = "metadata inside the managed range",
	[HA_BAD_LAYOUT] = "offsets differ from the layout",
	[HA_BAD_TREE] = "invalid tree word",
	[HA_BAD_CHILD] = "invalid child word",
	[HA_BAD_STATE] = "child word contradicts host state",
};

const char *ha_bad_str(enum ha_bad_reason reason)
{
	if ((unsigned)reason >= HA_BAD_REASON_COUNT)
		return "unknown reason";
	return bad_names[reason];
}

static int fail(struct ha_bad *bad, enum ha_bad_reason reason, uint64_t value)
{
	bad->reason = reason;
	bad->index = 0;
	bad->value = value;
	return HA_EBADMSG;
}

int ha_validate_header(const void *meta, uint64_t len,
		       struct ha_layout *ret_layout, struct ha_bad *ret_bad)
{
	const volatile struct ha_header *src = meta;
	struct ha_header h;
	struct ha_layout l;

	if ((uintptr_t)meta % HA_ALIGN)
		return fail(ret_bad, HA_BAD_ALIGNMENT, (uintptr_t)meta);
	if (len < sizeof(h))
		return fail(ret_bad, HA_BAD_TRUNCATED, len);

	/* One read of each field: the guest may change them any time. */
	h.magic = src->magic;
	h.version = src->version;
	h.header_size = src->header_size;
	h.tree_children = src->tree_children;
	h.child_frames = src->child_frames;
	h.base_frame = src->base_frame;
	h.frames = src->frames;
	h.trees_offset = src->trees_offset;
	h.children_offset = src->children_offset;
	h.bitfields_offset = src->bitfields_offset;
	h.total_size = src->total_size;

	if (h.magic != HA_MAGIC)
		return fail(ret_bad, HA_BAD_MAGIC, h.magic);
	if (h.version != HA_VERSION)
		return fail(ret_bad, HA_BAD_VERSION, h.version);
	if (h.header_size != sizeof(h))
		return fail(ret_bad, HA_BAD_GEOMETRY, h.header_size);
	if (h.tree_children != HA_TREE_CHILDREN)
		return fail(ret_bad, HA_BAD_GEOMETRY, h.tree_children);
	if (h.child_frames != HA_CHILD_FRAMES)
		return fail(ret_bad, HA_BAD_GEOMETRY, h.child_frames);
	if (ha_layout_compute(h.frames, &l) < 0)
		return fail(ret_bad, HA_BAD_FRAMES, h.frames);
	if (h.base_frame % HA_BASE_ALIGN_FRAMES)
		return fail(ret_bad, HA_BAD_BASE, h.base_frame);
	if (h.base_frame > HA_MAX_FRAMES)
		return fail(ret_bad, HA_BAD_RANGE, h.base_frame);
	if (h.trees_offset != l.trees_offset)
		return fail(ret_bad, HA_BAD_LAYOUT, h.trees_offset);
	if (h.children_offset != l.children_offset)
		return fail(ret_bad, HA_BAD_LAYOUT, h.children_offset);
	if (h.bitfields_offset != l.bitfields_offset)
		return fail(ret_bad, HA_BAD_LAYOUT, h.bitfields_offset);
	if (h.total_size != l.total_size)
		return fail(ret_bad, HA_BAD_LAYOUT, h.total_size);
	if (len < l.total_size)
		return fail(ret_bad, HA_BAD_TRUNCATED, len);

	ret_bad->reason = HA_BAD_NONE;
	*ret_layout = l;
	return HA_OK;
}
