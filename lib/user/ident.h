/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names and uuids of VMs. Pure, except ident_uuid_random(). */
#ifndef HA_IDENT_H
#define HA_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define IDENT_UUID_LEN 36 /* canonical text form, without the NUL */

/* Is @name 1..63 characters of [A-Za-z0-9._-]? */
bool ident_name_valid(const char *name);

/*
 * Check the canonical form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex
 * digits, any case) and write it lower-cased into @out (37 bytes).
 * Returns 0 or -EINVAL.
 */
int ident_uuid_parse(const char *s, char out[IDENT_UUID_LEN + 1]);

/* A random (version 4) uuid into @out. Returns 0 or -errno. */
int ident_uuid_random(char out[IDENT_UUID_LEN + 1]);

#endif
