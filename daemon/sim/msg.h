/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pure part of the sim protocol's receiving side: checks of a packet
 * received from a guest (proto/sim_proto.h) that need no connection, no
 * memfd and no daemon state. sim.c acts on what they accept; the fuzz
 * harness tests/fuzz/fuzz_sim_proto.c runs them on arbitrary bytes.
 */
#ifndef HA_SIM_MSG_H
#define HA_SIM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "sim_proto.h"
#include "user/ident.h"

/* A received packet of @len bytes at @buf (at least sizeof(struct
 * sim_hdr) bytes readable when @len is that large): the right magic and
 * version, a type a guest may send, and exactly its size (REPORT at least
 * its head). Returns the type, or 0 when the packet is malformed. */
uint16_t sim_msg_check(const void *buf, size_t len);

/* A REPORT of @len bytes (sim_msg_check accepted it): @count within
 * SIM_REPORT_MAX and exactly @count frames sent. 0 or -EINVAL. */
int sim_report_check(const struct sim_report *m, size_t len);

/* The fields of a HELLO that need no memfd and no registry: name,
 * uuid (canonical form into @uuid), ram_bytes, meta_offset/meta_len.
 * 0, or -EINVAL with the reason in @why (NUL-terminated). */
int sim_hello_check(const struct sim_hello *h, char uuid[IDENT_UUID_LEN + 1],
		    char *why, size_t why_len);

#endif
