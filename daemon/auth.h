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

/* The API token: printable ASCII without spaces, this many characters. */
#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 256

/*
 * Parse the content of a token file (@len bytes at @buf): exactly one
 * line, the token, optionally ended by "\n" or "\r\n"; nothing after it.
 * The length rules count the token's characters. 0 with the token in
 * @ret (@size > AUTH_TOKEN_MAX), or -EINVAL with the reason in @why.
 */
int auth_token_parse(const char *buf, size_t len, char *ret, size_t size,
		     char *why, size_t whysz);

/*
 * Read the token file @path: a regular file not readable or writable by
 * group or others, its content as auth_token_parse wants it. 0; -ENOENT
 * when it does not exist (@why empty); other -errno with the reason,
 * naming the file (and its mode), in @why.
 */
int auth_token_read(const char *path, char *ret, size_t size, char *why,
		    size_t whysz);

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
