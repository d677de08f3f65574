// SPDX-License-Identifier: GPL-2.0-or-later
/* API caller credentials (see auth.h; docs/api.md "Authorisation"). */
#include "auth.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define GROUPS_MAX 256

bool auth_token_equal(const char *given, size_t len, const char *expected)
{
	size_t n = strlen(expected);
	unsigned char diff = 0;

	if (n == 0 || len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(given[i] ^ expected[i]);
	return diff == 0;
}

void auth_bearer_caller(const char *value, size_t len, const char *token,
			const char *who, struct ctl_caller *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->who, sizeof(ret->who), "%s", who ? who : "grpc");
	if (!value)
		return;
	ret->credentials_given = true;
	if (len < 7 || strncasecmp(value, "Bearer ", 7) != 0)
		return;
	value += 7;
	len -= 7;
	while (len && *value == ' ') {
		value++;
		len--;
	}
	ret->authenticated = auth_token_equal(value, len, token);
}

bool auth_peer_allowed(uid_t uid, gid_t gid, uid_t self, const char *group)
{
	struct group grbuf, *gr = NULL;
	struct passwd pwbuf, *pw = NULL;
	gid_t groups[GROUPS_MAX], want;
	int n = GROUPS_MAX;
	char buf[16384];

	if (uid == 0 || uid == self)
		return true;
	if (!group || !*group)
		return false;
	if (getgrnam_r(group, &grbuf, buf, sizeof(buf), &gr) != 0 || !gr)
		return false;
	if (gid == gr->gr_gid)
		return true;
	want = gr->gr_gid; /* buf is reused below */
	if (getpwuid_r(uid, &pwbuf, buf, sizeof(buf), &pw) != 0 || !pw)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}
