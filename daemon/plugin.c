// SPDX-License-Identifier: GPL-2.0-or-later
/* Policy plugins: names and a checked open (see plugin.h). */
#include "plugin.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool plugin_name_ok(const char *name, struct error *err)
{
	if (!name[0]) {
		error_set(err, ERROR_BAD_REQUEST, "name", name,
			  "name: empty policy name");
		return false;
	}
	if (strchr(name, '/') || strstr(name, "..")) {
		error_set(err, ERROR_BAD_REQUEST, "name", name,
			  "name: a policy is chosen by name (a built-in or a "
			  "plugin of policy.plugin_dir); '/' and '..' are not "
			  "allowed");
		return false;
	}
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p)) {
			error_set(err, ERROR_BAD_REQUEST, "name", name,
				  "name: a policy name is letters, digits, "
				  "'_', '-' and '.'");
			return false;
		}
	}
	return true;
}

/* Owned by root or by the daemon's own user, writable by the owner only. */
static bool trusted(const struct stat *st, const char *what, const char *path,
		    const char *name, struct error *err)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "plugin %s %s is owned by uid %u: it must belong to "
			  "root or to the daemon's user (uid %u)",
			  what, path, (unsigned)st->st_uid,
			  (unsigned)geteuid());
		return false;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "plugin %s %s has mode %04o: it must not be group- "
			  "or world-writable",
			  what, path, (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * Open the plugin @file of directory @dir and check both on the open
 * descriptors (no symbolic link for the file; the directory and file
 * trusted()), so that the file checked is the file dlopen maps. The fd,
 * or -1 with *err set.
 */
int plugin_open(const char *dir, const char *file, const char *name,
		struct error *err)
{
	struct stat st;
	int dfd, fd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;

		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "cannot load plugin: directory %s: %s", dir,
			  strerror(e));
		return -e;
	}
	if (fstat(dfd, &st) < 0) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "cannot load plugin: directory %s: %s", dir,
			  strerror(errno));
		close(dfd);
		return -EPERM;
	}
	if (!trusted(&st, "directory", dir, name, err)) {
		close(dfd);
		return -EPERM;
	}
	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		int e = errno;

		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "cannot load plugin %s/%s: %s", dir, file,
			  e == ELOOP ? "it is a symbolic link" : strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "cannot load plugin %s/%s: not a regular file", dir,
			  file);
		close(fd);
		return -EPERM;
	}
	if (!trusted(&st, "file", file, name, err)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}
