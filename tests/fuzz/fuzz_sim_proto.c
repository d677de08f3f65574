// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: the sim protocol messages a guest sends
 * (proto/sim_proto.h), through the daemon's checks (daemon/sim/msg.c) and
 * the reads sim.c makes of what they accept. The input is one packet, in
 * a buffer of exactly its length. A REPORT whose frames pass the check
 * has each entry read; a HELLO that passes has a terminated name and a
 * canonical uuid.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* sim.c receives into a buffer as large as the largest message */
	union {
		struct sim_hdr hdr;
		struct sim_hello hello;
		struct sim_install install;
		struct sim_report report;
		struct sim_status status;
	} * buf;
	volatile uint64_t sink = 0;
	uint16_t type;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	type = sim_msg_check(buf, size);
	switch (type) {
	case 0:
		break;
	case SIM_HELLO: {
		char uuid[IDENT_UUID_LEN + 1];
		char why[SIM_TEXT_MAX];

		if (size != sizeof(struct sim_hello))
			__builtin_trap();
		if (sim_hello_check(&buf->hello, uuid, why, sizeof(why)) == 0) {
			if (!memchr(buf->hello.name, 0,
				    sizeof(buf->hello.name)) ||
			    strlen(uuid) != IDENT_UUID_LEN)
				__builtin_trap();
			if (buf->hello.meta_offset + buf->hello.meta_len >
			    buf->hello.ram_bytes)
				__builtin_trap();
		} else if (!memchr(why, 0, sizeof(why))) {
			__builtin_trap();
		}
		break;
	}
	case SIM_INSTALL:
		sink += buf->install.huge + buf->install.seq;
		break;
	case SIM_REPORT:
		if (sim_report_check(&buf->report, size) == 0)
			for (uint32_t i = 0; i < buf->report.count; i++)
				sink += buf->report.huge[i];
		break;
	case SIM_STATUS:
		sink += buf->status.canary_mismatches + buf->status.ops;
		break;
	case SIM_BYE:
		break;
	default:
		__builtin_trap(); /* a type a guest may not send */
	}
	(void)sink;
	free(buf);
	return 0;
}
