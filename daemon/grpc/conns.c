// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The connections handed to gRPC core, followed by their fds' inodes
 * (see grpc/conns.h).
 */
#include "grpc/conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void grpcd_client_from_addr(const struct sockaddr_storage *ss,
			    struct grpcd_client *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		ret->family = AF_INET;
		memcpy(ret->addr, &in->sin_addr, sizeof(in->sin_addr));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		ret->family = AF_INET6;
		memcpy(ret->addr, &in6->sin6_addr, sizeof(in6->sin6_addr));
	}
}

void grpcd_client_from_uid(uid_t uid, struct grpcd_client *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->is_uid = true;
	ret->uid = uid;
}

bool grpcd_client_equal(const struct grpcd_client *a,
			const struct grpcd_client *b)
{
	if (a->is_uid || b->is_uid)
		return a->is_uid && b->is_uid && a->uid == b->uid;
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

const char *grpcd_client_desc(const struct grpcd_client *c, char *buf,
			      size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (c->is_uid) {
		snprintf(buf, len, "uid %u", (unsigned)c->uid);
		return buf;
	}
	if (c->family == AF_INET || c->family == AF_INET6)
		inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s", a);
	return buf;
}

size_t grpcd_conns_prune(struct grpcd_conns *t)
{
	size_t kept = 0, gone;

	for (size_t i = 0; i < t->n; i++) {
		struct stat st;

		/* EBADF: gRPC core closed it; another inode: and the number
		 * was used again. Either way that connection is over. */
		if (fstat(t->v[i].fd, &st) < 0 || st.st_dev != t->v[i].dev ||
		    st.st_ino != t->v[i].ino)
			continue;
		t->v[kept++] = t->v[i];
	}
	gone = t->n - kept;
	t->n = kept;
	return gone;
}

enum grpcd_admit grpcd_conns_judge(const struct grpcd_conns *t,
				   const struct grpcd_client *c, size_t max,
				   size_t per_client, size_t *ret_same)
{
	size_t same = 0;

	for (size_t i = 0; i < t->n; i++)
		if (grpcd_client_equal(&t->v[i].client, c))
			same++;
	*ret_same = same;
	if (t->n >= max)
		return GRPCD_ADMIT_OVER_MAX;
	if (same >= per_client)
		return GRPCD_ADMIT_OVER_CLIENT;
	return GRPCD_ADMIT_OK;
}

int grpcd_conns_add(struct grpcd_conns *t, int fd, const struct grpcd_client *c)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct grpcd_conn *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct grpcd_conn){
		.fd = fd, .dev = st.st_dev, .ino = st.st_ino, .client = *c
	};
	return 0;
}

void grpcd_conns_clear(struct grpcd_conns *t)
{
	free(t->v);
	*t = (struct grpcd_conns){ 0 };
}
