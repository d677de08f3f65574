// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checks of received sim protocol packets: see sim/msg.h.
 */
#include "sim/msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ha_types.h"
#include "vm.h"

/* Expected packet size per type (REPORT is variable, checked later). */
static size_t msg_min_size(uint16_t type)
{
	switch (type) {
	case SIM_HELLO:
		return sizeof(struct sim_hello);
	case SIM_INSTALL:
		return sizeof(struct sim_install);
	case SIM_REPORT:
		return offsetof(struct sim_report, huge);
	case SIM_STATUS:
		return sizeof(struct sim_status);
	case SIM_BYE:
		return sizeof(struct sim_hdr);
	default:
		return 0;
	}
}

uint16_t sim_msg_check(const void *buf, size_t len)
{
	struct sim_hdr h;
	size_t min;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != SIM_PROTO_MAGIC || h.version != SIM_PROTO_VERSION)
		return 0;
	min = msg_min_size(h.type);
	if (min == 0 || len < min)
		return 0;
	if (h.type != SIM_REPORT && len != min)
		return 0;
	if (h.type == SIM_REPORT && len > sizeof(struct sim_report))
		return 0;
	return h.type;
}

int sim_report_check(const struct sim_report *m, size_t len)
{
	size_t head = offsetof(struct sim_report, huge);

	if (m->count > SIM_REPORT_MAX ||
	    len != head + (size_t)m->count * sizeof(uint64_t))
		return -EINVAL;
	return 0;
}

static bool str_terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

int sim_hello_check(const struct sim_hello *h, char uuid[IDENT_UUID_LEN + 1],
		    char *why, size_t why_len)
{
	if (!str_terminated(h->name, sizeof(h->name)) ||
	    !vm_id_valid(h->name)) {
		snprintf(why, why_len,
			 "name: use 1-63 characters of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	if (!str_terminated(h->uuid, sizeof(h->uuid)) ||
	    ident_uuid_parse(h->uuid, uuid) < 0) {
		snprintf(why, why_len, "uuid: not a canonical UUID");
		return -EINVAL;
	}
	if (h->ram_bytes < (32ull << 20) || h->ram_bytes > (1ull << 42) ||
	    h->ram_bytes % HA_HUGE_SIZE) {
		snprintf(why, why_len,
			 "ram_bytes %llu: must be a multiple of 2 MiB "
			 "between 32 MiB and 4 TiB",
			 (unsigned long long)h->ram_bytes);
		return -EINVAL;
	}
	if (h->meta_offset % HA_FRAME_SIZE || h->meta_len == 0 ||
	    h->meta_offset >= h->ram_bytes ||
	    h->meta_len > h->ram_bytes - h->meta_offset) {
		snprintf(why, why_len,
			 "meta_offset/meta_len: must be page aligned and "
			 "inside RAM");
		return -EINVAL;
	}
	return 0;
}
