/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Credentials of API callers, for HTTP and gRPC alike: the bearer token
 * (the HTTP Authorization header, the gRPC "authorization" metadata
 * entry) and which unix socket peers are trusted. Only checks:
 * ctl_authorize decides what a caller may do.
 */
#ifndef HA_AUTH_H
#define HA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctl.h"

/* Is @given (@len bytes, not NUL-terminated) equal to @expected? Takes
 * time independent of where they differ; false for an empty @expected. */
bool auth_token_equal(const char *given, size_t len, const char *expected);

/*
 * Fill @ret from the value of an "Authorization" header or metadata entry
 * (@value NULL when the request had none): credentials_given when present,
 * authenticated when it is "Bearer <token>" (scheme in any case) with
 * @token, the daemon's API token. @who names the caller in logs.
 */
void auth_bearer_caller(const char *value, size_t len, const char *token,
			const char *who, struct ctl_caller *ret);

/* May the unix socket peer @uid (primary group @gid) change settings:
 * root, @self (the daemon's user), or a member of @group (NULL or "":
 * nobody) by its primary or a supplementary group? */
bool auth_peer_allowed(uid_t uid, gid_t gid, uid_t self, const char *group);

#endif
