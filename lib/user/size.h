/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sizes as people write them: "1.5G", "512M", "4096". */
#ifndef HA_SIZE_H
#define HA_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size: integer bytes, or a decimal number with a binary unit
 * suffix K, M, G, T (optionally followed by "i" and/or "B", any case):
 * "4096", "512M", "1.5G", "2GiB". Rejects signs, empty strings, trailing
 * garbage and values above UINT64_MAX.
 * Returns 0, -EINVAL (not a size) or -ERANGE (too large).
 */
int ha_parse_size(const char *s, uint64_t *ret_bytes);

/* "1.5 GiB", "512 MiB", "4096 B" into @buf; returns @buf. */
const char *ha_format_size(uint64_t bytes, char *buf, size_t len);

#endif
