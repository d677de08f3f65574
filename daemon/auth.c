// SPDX-License-Identifier: GPL-2.0-or-later
/* API caller credentials (see auth.h; docs/api.md "Authorisation"). */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUPS_MAX 256

bool auth_token_equal(const char *given, size_t len, const char *expected)
{
	size_t n = strlen(expected);
	unsigned char diff = len != n;

	if (n == 0)
		return false;
	/* The time depends on the expected token's length only: a token
	 * of another length is read as far, so it tells nothing either. */
	for (size_t i = 0; i < n; i++) {
		unsigned char g = i < len ? (unsigned char)given[i] : 0;

		diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
	}
	return diff == 0;
}

int auth_token_parse(const char *buf, size_t len, char *ret, size_t size,
		     char *why, size_t whysz)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl ? (size_t)(nl - buf) : len;

	if (nl && (size_t)(nl - buf) + 1 < len) {
		snprintf(why, whysz,
			 "has more than one line (the token is the first "
			 "line, nothing may follow it)");
		return -EINVAL;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch <= ' ' || ch > '~') {
			snprintf(why, whysz,
				 "has a character 0x%02x at offset %zu; the "
				 "token is printable ASCII without spaces",
				 ch, i);
			return -EINVAL;
		}
	}
	if (n < AUTH_TOKEN_MIN) {
		snprintf(why, whysz,
			 "holds a token of %zu characters, fewer than %d", n,
			 AUTH_TOKEN_MIN);
		return -EINVAL;
	}
	if (n > AUTH_TOKEN_MAX || n >= size) {
		snprintf(why, whysz,
			 "holds a token of %zu characters, more than %d", n,
			 AUTH_TOKEN_MAX);
		return -EINVAL;
	}
	memcpy(ret, buf, n);
	ret[n] = '\0';
	return 0;
}

int auth_token_read(const char *path, char *ret, size_t size, char *why,
		    size_t whysz)
{
	char buf[AUTH_TOKEN_MAX + 8], reason[160];
	struct stat st;
	size_t len = 0;
	int fd, r;

	why[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			snprintf(why, whysz, "API token file %s: %s", path,
				 strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, whysz, "API token file %s: %s", path,
			 strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(why, whysz, "API token file %s is not a regular file",
			 path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		r = -EPERM;
		snprintf(why, whysz,
			 "API token file %s has mode %04o: group or others "
			 "may use it; make it 0600 (chmod 600 %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(why, whysz, "API token file %s: %s", path,
				 strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf)) {
			r = -EINVAL;
			snprintf(why, whysz,
				 "API token file %s is longer than a token of "
				 "%d characters",
				 path, AUTH_TOKEN_MAX);
			goto out;
		}
	}
	r = auth_token_parse(buf, len, ret, size, reason, sizeof(reason));
	if (r < 0)
		snprintf(why, whysz, "API token file %s %s", path, reason);
out:
	close(fd);
	return r;
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
