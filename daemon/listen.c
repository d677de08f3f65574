// SPDX-License-Identifier: GPL-2.0-or-later
#include "listen.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* Split "host:port", "[v6]:port" or ":port". -EINVAL if malformed. */
static int split_host_port(const char *spec, char *host, size_t hlen,
			   char *port, size_t plen)
{
	const char *colon;
	size_t n;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - spec - 1);
		colon = close + 1;
		if (n >= hlen)
			return -EINVAL;
		memcpy(host, spec + 1, n);
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - spec);
		if (n >= hlen || memchr(spec, ':', n))
			return -EINVAL; /* bare IPv6 needs brackets */
		memcpy(host, spec, n);
	}
	host[n] = '\0';
	if (!colon[1] || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strtoul(colon + 1, NULL, 10) > 65535)
		return -EINVAL;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int listen_tcp(const char *what, const char *spec, int *ret_fd)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char host[256], port[8];
	int fd = -1, r;

	r = split_host_port(spec, host, sizeof(host), port, sizeof(port));
	if (r < 0) {
		log_err("%s: \"%s\" is not host:port", what, spec);
		return r;
	}
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0) {
		log_err("%s: \"%s\": %s", what, spec, gai_strerror(r));
		return -EINVAL;
	}
	r = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_err("%s: cannot listen on %s: %s", what, spec,
			strerror(-r));
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* A socket file at @path: remove it if nobody answers on it. */
static int remove_stale_socket(const char *what, const char *path,
			       const struct sockaddr_un *sa, int type)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s: %s exists and is not a socket", what, path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0) {
		log_err("%s: %s is in use by a running daemon", what, path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int listen_unix(const char *what, const char *path, const char *group, int type,
		int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: %s is too long for a socket path", what, path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = remove_stale_socket(what, path, &sa, type);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		log_err("%s: cannot bind %s: %s", what, path, strerror(-r));
		goto cleanup;
	}
	/* Before listen(): nobody can connect yet. */
	if (chmod(path, 0660) < 0) {
		r = -errno;
		goto cleanup;
	}
	if (group && *group) {
		struct group grbuf, *gr = NULL;
		char buf[16384];

		if (getgrnam_r(group, &grbuf, buf, sizeof(buf), &gr) != 0 ||
		    !gr) {
			log_err("%s: group %s does not exist", what, group);
			r = -EINVAL;
			goto cleanup;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
			r = -errno;
			log_err("%s: cannot give %s to group %s: %s", what,
				path, group, strerror(-r));
			goto cleanup;
		}
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		goto cleanup;
	}
	*ret_fd = fd;
	return 0;
cleanup:
	close(fd);
	unlink(path);
	return r;
}
