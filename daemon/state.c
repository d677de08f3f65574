// SPDX-License-Identifier: GPL-2.0-or-later
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_VERSION 1

struct state_store {
	char *path;
	json_t *vms; /* object: id -> settings */
	bool dirty; /* vms changed since the file was last written */
};

static json_t *saved_to_json(const struct vm_saved *v)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (v->has_target)
		json_object_set_new(o, "target_bytes",
				    json_integer((json_int_t)v->target_bytes));
	if (v->has_min)
		json_object_set_new(o, "min_bytes",
				    json_integer((json_int_t)v->min_bytes));
	if (v->has_max)
		json_object_set_new(o, "max_bytes",
				    json_integer((json_int_t)v->max_bytes));
	if (v->has_shares)
		json_object_set_new(o, "shares", json_integer(v->shares));
	if (v->has_auto)
		json_object_set_new(o, "auto_reclaim",
				    json_boolean(v->auto_reclaim));
	return o;
}

static bool get_u64(json_t *o, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*ret = (uint64_t)json_integer_value(v);
	return true;
}

int state_lookup(struct state_store *s, const char *id, struct vm_saved *ret)
{
	json_t *o = json_object_get(s->vms, id);
	uint64_t u;

	if (!json_is_object(o))
		return -ENOENT;
	*ret = (struct vm_saved){ 0 };
	ret->has_target = get_u64(o, "target_bytes", &ret->target_bytes);
	ret->has_min = get_u64(o, "min_bytes", &ret->min_bytes);
	ret->has_max = get_u64(o, "max_bytes", &ret->max_bytes);
	if (get_u64(o, "shares", &u) && u >= 1 && u <= 100000) {
		ret->has_shares = true;
		ret->shares = (uint32_t)u;
	}
	json_t *a = json_object_get(o, "auto_reclaim");

	if (json_is_boolean(a)) {
		ret->has_auto = true;
		ret->auto_reclaim = json_is_true(a);
	}
	return 0;
}

int state_write_text(const char *path, const char *text)
{
	char *tmp = NULL, *dir = NULL;
	int fd = -1, dfd = -1;
	int r;

	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto cleanup;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto cleanup;
	}
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto cleanup;
		}
		off += (size_t)n;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		r = -errno;
		goto cleanup;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto cleanup;
	}
	/* Make the rename itself durable. */
	dir = strdup(path);
	if (dir) {
		dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			fsync(dfd);
	}
	r = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (r < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	return r;
}

int state_snapshot(struct state_store *s, char **ret_text)
{
	json_t *root;
	char *text;

	root = json_pack("{s:i, s:O}", "version", STATE_VERSION, "vms", s->vms);
	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (!text)
		return -ENOMEM;
	s->dirty = false;
	*ret_text = text;
	return 0;
}

void state_mark_dirty(struct state_store *s)
{
	s->dirty = s->path != NULL;
}

const char *state_path(const struct state_store *s)
{
	return s->path;
}

int state_save(struct state_store *s, const char *id, const struct vm_saved *v)
{
	json_t *o = saved_to_json(v);

	if (!o || json_object_set_new(s->vms, id, o) < 0)
		return -ENOMEM;
	state_mark_dirty(s);
	return 0;
}

bool state_dirty(const struct state_store *s)
{
	return s && s->dirty;
}

int state_flush(struct state_store *s)
{
	char *text;
	int r;

	if (!state_dirty(s))
		return 0;
	r = state_snapshot(s, &text);
	if (r < 0)
		return r;
	r = state_write_text(s->path, text);
	free(text);
	if (r < 0)
		state_mark_dirty(s);
	return r;
}

/*
 * The kept copies of corrupt state files: @path.corrupt.N, N counting up
 * from 1. Returns the highest N in use (0: none) and, in *ret_count and
 * *ret_lowest, how many there are and the lowest N.
 */
static unsigned long corrupt_scan(const char *path, unsigned *ret_count,
				  unsigned long *ret_lowest)
{
	char dirbuf[4096], basebuf[4096], prefix[4200];
	unsigned long highest = 0, lowest = ULONG_MAX;
	struct dirent *de;
	size_t plen;
	DIR *d;

	*ret_count = 0;
	*ret_lowest = 0;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	snprintf(basebuf, sizeof(basebuf), "%s", path);
	snprintf(prefix, sizeof(prefix), "%s.corrupt.", basename(basebuf));
	plen = strlen(prefix);
	d = opendir(dirname(dirbuf));
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *num = de->d_name + plen;
		char *end;
		unsigned long n;

		if (strncmp(de->d_name, prefix, plen) != 0 || *num < '1' ||
		    *num > '9')
			continue;
		errno = 0;
		n = strtoul(num, &end, 10);
		if (*end || errno)
			continue;
		(*ret_count)++;
		if (n > highest)
			highest = n;
		if (n < lowest)
			lowest = n;
	}
	closedir(d);
	if (*ret_count)
		*ret_lowest = lowest;
	return highest;
}

/*
 * Move the corrupt file at @path to @path.corrupt.N, N one above the
 * highest in use, never over an existing file (link() fails on one), and
 * remove the oldest copies beyond STATE_CORRUPT_KEEP. 0 and the new name
 * in @aside, or -errno (and the error's text in @aside).
 */
static int move_aside(const char *path, char *aside, size_t aside_len)
{
	unsigned long lowest, n;
	unsigned count;

	n = corrupt_scan(path, &count, &lowest) + 1;
	for (int tries = 0;; tries++, n++) {
		snprintf(aside, aside_len, "%s.corrupt.%lu", path, n);
		if (link(path, aside) == 0)
			break;
		if (errno != EEXIST || tries >= 1000) {
			int err = errno;

			snprintf(aside, aside_len, "%s", strerror(err));
			return -err;
		}
	}
	unlink(path);
	while (corrupt_scan(path, &count, &lowest) &&
	       count > STATE_CORRUPT_KEEP) {
		char old[4200];

		snprintf(old, sizeof(old), "%s.corrupt.%lu", path, lowest);
		if (unlink(old) < 0)
			break;
	}
	return 0;
}

int state_open(const char *path, struct state_store **ret, char *ret_warning,
	       size_t warning_len)
{
	struct state_store *s = calloc(1, sizeof(*s));
	json_error_t jerr;
	json_t *root;

	ret_warning[0] = '\0';
	if (!s)
		return -ENOMEM;
	s->vms = json_object();
	if (!s->vms || (path && !(s->path = strdup(path)))) {
		state_close(s);
		return -ENOMEM;
	}
	if (!path) {
		*ret = s;
		return 0;
	}
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		if (access(path, F_OK) == 0) {
			char aside[4096];

			if (move_aside(path, aside, sizeof(aside)) == 0)
				snprintf(ret_warning, warning_len,
					 "state file %s is unreadable (%s, "
					 "line %d); moved it to %s and started "
					 "empty",
					 path, jerr.text, jerr.line, aside);
			else
				snprintf(ret_warning, warning_len,
					 "state file %s is unreadable (%s, "
					 "line %d) and could not be moved "
					 "aside (%s); started empty",
					 path, jerr.text, jerr.line, aside);
		}
		*ret = s;
		return 0;
	}
	json_t *vms = json_object_get(root, "vms");

	if (json_is_object(vms)) {
		json_object_update(s->vms, vms);
	} else {
		snprintf(ret_warning, warning_len,
			 "state file %s has no \"vms\" object; ignored", path);
	}
	json_decref(root);
	*ret = s;
	return 0;
}

void state_close(struct state_store *s)
{
	if (!s)
		return;
	json_decref(s->vms);
	free(s->path);
	free(s);
}
