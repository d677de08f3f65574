// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest RAM of QEMU processes, found through /proc. QEMU names a memfd
 * after its object type ("memory-backend-memfd"); a file backend keeps
 * the file it mapped open, under libvirt's memory_backing_dir
 * (/var/lib/libvirt/qemu/ram/…) or a hugetlbfs mount.
 */
#include "libvirt/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "user/ramfd.h"

#define CMDLINE_MAX (256 * 1024)

void lv_mem_init(struct lv_mem *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < LV_MEM_BACKINGS_MAX; i++)
		m->fds[i] = -1;
}

/* Does @proc/@pid/cmdline contain the two arguments "-uuid" "@uuid"? */
static bool cmdline_has_uuid(const char *proc, pid_t pid, const char *uuid)
{
	char path[256], *buf;
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%d/cmdline", proc, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	buf = malloc(CMDLINE_MAX + 1);
	n = buf ? read(fd, buf, CMDLINE_MAX) : -1;
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
			if (strcmp(p, "-uuid") == 0 &&
			    p + strlen(p) + 1 < buf + n &&
			    strcasecmp(p + strlen(p) + 1, uuid) == 0) {
				found = true;
				break;
			}
		}
	}
	free(buf);
	return found;
}

static int pid_from_file(const char *path, pid_t *ret)
{
	char buf[32];
	ssize_t n;
	long v;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	if (v <= 0 || v > 4194304)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

int lv_mem_find_qemu(const char *proc, const char *run_dir, const char *name,
		     const char *uuid, pid_t *ret)
{
	struct dirent *de;
	char path[4096];
	pid_t pid = 0;
	DIR *dir;

	if (!uuid || !uuid[0])
		return -ENOENT;
	if (run_dir && name) {
		snprintf(path, sizeof(path), "%s/%s.pid", run_dir, name);
		if (pid_from_file(path, &pid) == 0 &&
		    cmdline_has_uuid(proc, pid, uuid)) {
			*ret = pid;
			return 0;
		}
	}
	/* libvirtd may keep its files elsewhere (another prefix, a mount
	 * namespace): look at the processes themselves. */
	dir = opendir(proc);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (cmdline_has_uuid(proc, (pid_t)v, uuid)) {
			*ret = (pid_t)v;
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return -ENOENT;
}

static bool is_ram_backing(const char *target)
{
	return strncmp(target, "/memfd:memory-backend-memfd", 27) == 0 ||
	       strstr(target, "/libvirt/qemu/ram/") ||
	       strstr(target, "/hugepages/libvirt/qemu/");
}

/* fd numbers in ascending order, so the first backing is the first QEMU
 * created (the machine's RAM comes before device memory). */
static int fd_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int list_fds(const char *dirpath, int **ret, size_t *ret_n)
{
	size_t n = 0, cap = 64;
	int *v = malloc(cap * sizeof(*v));
	struct dirent *de;
	DIR *dir;

	if (!v)
		return -ENOMEM;
	dir = opendir(dirpath);
	if (!dir) {
		int r = -errno;

		free(v);
		return r;
	}
	while ((de = readdir(dir))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || fd < 0 || de->d_name[0] == '\0')
			continue;
		if (n == cap) {
			int *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		v[n++] = (int)fd;
	}
	closedir(dir);
	qsort(v, n, sizeof(*v), fd_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Is the file of @st open already? QEMU may hold a backing twice, and
 * the fd numbers we list may be reused by our own opens meanwhile. */
static bool known(const struct lv_mem *m, const struct stat *st)
{
	for (size_t i = 0; i < m->n; i++) {
		struct stat o;

		if (fstat(m->fds[i], &o) == 0 && o.st_dev == st->st_dev &&
		    o.st_ino == st->st_ino)
			return true;
	}
	return false;
}

int lv_mem_attach(struct lv_mem *m, const char *proc, pid_t pid,
		  uint64_t ram_bytes)
{
	char dirpath[256], path[300], target[4096];
	size_t main_idx = 0, nfds = 0;
	int *fds = NULL, r;

	lv_mem_init(m);
	snprintf(dirpath, sizeof(dirpath), "%s/%d/fd", proc, (int)pid);
	r = list_fds(dirpath, &fds, &nfds);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nfds && m->n < LV_MEM_BACKINGS_MAX; i++) {
		struct stat st;
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%d", dirpath, fds[i]);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (!is_ram_backing(target))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size <= 0 || known(m, &st)) {
			close(fd);
			continue;
		}
		if ((uint64_t)st.st_size == ram_bytes &&
		    m->sizes[main_idx] != ram_bytes)
			main_idx = m->n;
		m->fds[m->n] = fd;
		m->sizes[m->n] = (uint64_t)st.st_size;
		m->n++;
	}
	free(fds);
	if (m->n == 0) {
		lv_mem_init(m);
		return r < 0 ? r : -ENOENT;
	}
	m->main = main_idx;
	m->ram_bytes = m->sizes[main_idx];
	m->pid = pid;
	/* Only a backing that can never shrink is mapped: QEMU (and the
	 * guest steering it) could otherwise truncate it under us and make
	 * the next read of it SIGBUS. The size recorded above may predate
	 * the seal: the check takes the size after it. */
	if (ramfd_check(m->fds[main_idx], m->ram_bytes, &m->unmapped) < 0)
		return 0;
	void *p = mmap(NULL, m->ram_bytes, PROT_READ, MAP_SHARED,
		       m->fds[main_idx], 0);

	if (p == MAP_FAILED) {
		r = -errno;
		lv_mem_detach(m);
		return r;
	}
	m->ram = p;
	m->unmapped = NULL;
	return 0;
}

bool lv_mem_sealed(const struct lv_mem *m)
{
	return m->ram != NULL;
}

int64_t lv_mem_resident(const struct lv_mem *m)
{
	int64_t total = 0;

	if (!m->n)
		return -ENOENT;
	for (size_t i = 0; i < m->n; i++) {
		struct stat st;

		if (fstat(m->fds[i], &st) < 0)
			return -errno;
		total += (int64_t)st.st_blocks * 512;
	}
	return total;
}

void lv_mem_detach(struct lv_mem *m)
{
	if (!m)
		return;
	if (m->ram)
		munmap((void *)m->ram, m->ram_bytes);
	for (size_t i = 0; i < m->n; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	}
	lv_mem_init(m);
}
