// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: lib/ host attach on arbitrary guest metadata.
 *
 * Input: a flags byte, meta_frame (2 bytes), ram_frames (3 bytes), then
 * the metadata region itself, copied into a 64-byte aligned buffer of
 * exactly its length (ASan sees any read past it). Flag bit 0 repairs the
 * header's geometry and layout fields for the frame count it names, so
 * that mutations reach the tree, child and bitfield words; bit 1 puts the
 * managed range at the end of RAM and the metadata at frame 0. After a
 * successful attach the region is scanned (host and pure scan) and
 * quarantined. Nothing may crash, assert or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "ha_host.h"
#include "ha_scan.h"

#define RAM_FRAMES_MASK ((1u << 21) - 1) /* up to 8 GiB: 4096 huge frames */

static struct fuzz_env env;

static void repair(uint8_t *meta, size_t len, struct ha_layout *l)
{
	struct ha_header h;

	memcpy(&h, meta, sizeof(h));
	h.magic = HA_MAGIC;
	h.version = HA_VERSION;
	h.header_size = sizeof(h);
	h.tree_children = HA_TREE_CHILDREN;
	h.child_frames = HA_CHILD_FRAMES;
	h.frames = ((h.frames / HA_CHILD_FRAMES) % 256 + 1) * HA_CHILD_FRAMES;
	h.base_frame = (h.base_frame % 64 + 1) * 1024;
	if (ha_layout_compute(h.frames, l) != HA_OK)
		__builtin_trap();
	h.trees_offset = l->trees_offset;
	h.children_offset = l->children_offset;
	h.bitfields_offset = l->bitfields_offset;
	h.total_size = l->total_size;
	(void)len;
	memcpy(meta, &h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned flags = (unsigned)fuzz_take(&in, 1);
	uint64_t meta_frame = fuzz_take(&in, 2);
	uint64_t ram_frames = fuzz_take(&in, 3) & RAM_FRAMES_MASK;
	size_t len = in.n;
	struct ha_layout l;
	struct ha_host_env henv;
	struct ha_host h;
	struct ha_bad bad;
	uint8_t *meta = NULL;
	uint8_t *state;
	int r;

	if ((flags & 1) && len < sizeof(struct ha_header))
		return 0;
	if (flags & 1) {
		struct ha_header hd;

		memcpy(&hd, in.p, sizeof(hd));
		/* the repaired frame count decides the region's size */
		memset(&l, 0, sizeof(l));
		if (ha_layout_compute(((hd.frames / HA_CHILD_FRAMES) % 256 +
				       1) * HA_CHILD_FRAMES,
				      &l) != HA_OK)
			__builtin_trap();
		if (len < l.total_size)
			len = l.total_size;
	}
	if (posix_memalign((void **)&meta, HA_ALIGN, len ? len : 1))
		return 0;
	memset(meta, 0, len);
	memcpy(meta, in.p, in.n);
	if (flags & 1)
		repair(meta, len, &l);
	if (flags & 2) {
		struct ha_header hd;

		if (len >= sizeof(hd)) {
			memcpy(&hd, meta, sizeof(hd));
			ram_frames = (hd.base_frame + hd.frames) &
				     RAM_FRAMES_MASK;
		}
		meta_frame = 0;
	}
	state = calloc(1, ha_host_state_size(ram_frames) + 1);
	if (!state) {
		free(meta);
		return 0;
	}
	fuzz_env_reset(&env, FUZZ_ENV_MAX);
	henv = fuzz_host_env(&env);
	r = ha_host_attach(&h, meta, len, meta_frame, ram_frames, &henv, state,
			   &bad);
	if (r == HA_OK) {
		struct ha_host_scan hs;
		struct ha_scan ps;
		struct ha_bad pbad;

		if (h.layout.children > FUZZ_ENV_MAX)
			__builtin_trap(); /* outside RAM: attach must refuse */
		env.children = h.layout.children;
		(void)ha_scan(meta, &h.layout, &ps, &pbad);
		(void)ha_host_scan(&h, &hs);
		(void)ha_host_state(&h, ha_huge(h.layout.children));
		(void)ha_host_quarantine(&h);
		(void)ha_host_install(&h, ha_huge(0));
	} else if (r != HA_EBADMSG && r != HA_EINVAL) {
		__builtin_trap();
	}
	free(state);
	free(meta);
	return 0;
}
