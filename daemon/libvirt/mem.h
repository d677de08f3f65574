/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Direct access to the RAM of a running libvirt/QEMU guest whose memory
 * is a shared memfd or file (<memoryBacking><source type='memfd'/>
 * <access mode='shared'/>): find the QEMU process, open its guest-RAM
 * backings through /proc/PID/fd, map the main one read-only, and report
 * how much of them is resident on the host (st_blocks: the kernel's own
 * account, what discarding frees). For HyperAlloc VMs the mapping is
 * where the guest allocator's state is read; for the others the resident
 * size is what the daemon reports as host_resident_bytes.
 *
 * Paths are injected (@proc, @run_dir) so tests can use their own.
 */
#ifndef HA_LIBVIRT_MEM_H
#define HA_LIBVIRT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LV_MEM_BACKINGS_MAX 16

struct lv_mem {
	pid_t pid; /* 0: not attached */
	int fds[LV_MEM_BACKINGS_MAX]; /* our read-only opens of each backing */
	uint64_t sizes[LV_MEM_BACKINGS_MAX];
	size_t n;
	const void *ram; /* the main backing, mapped read-only, or NULL */
	uint64_t ram_bytes;
	size_t main; /* its index in fds */
	const char *unmapped; /* why ram is NULL (static text), or NULL */
};

/* An unattached lv_mem (what zeroing gives, with the fds at -1). */
void lv_mem_init(struct lv_mem *m);

/*
 * The pid of the QEMU process running the domain @name / @uuid: from
 * @run_dir/NAME.pid (libvirt's /run/libvirt/qemu) if that process's
 * command line carries "-uuid UUID", else by looking for that argument
 * in every @proc/PID/cmdline. Returns 0 and *ret; -ENOENT if none.
 */
int lv_mem_find_qemu(const char *proc, const char *run_dir, const char *name,
		     const char *uuid, pid_t *ret);

/*
 * Open every guest-RAM backing of process @pid (memfds named
 * "memory-backend-memfd…" and files of libvirt's memory-backend-file) and
 * pick the main one: the backing of exactly @ram_bytes if there is one,
 * else the first. Map it read-only only if it can never shrink (a shmem
 * memfd with F_SEAL_SHRINK, as QEMU seals its memfd backends: see
 * user/ramfd.h); otherwise ram stays NULL and @unmapped says why. Returns
 * 0 (the backings are open, for lv_mem_resident, mapped or not); -ENOENT
 * if the process has no shared backing (anonymous RAM); -errno (EACCES
 * without the right to read it).
 */
int lv_mem_attach(struct lv_mem *m, const char *proc, pid_t pid,
		  uint64_t ram_bytes);

/*
 * Is the main backing mapped (it can no longer shrink: F_SEAL_SHRINK, as
 * QEMU seals its memfds)? Only then is there a mapping to read, and no
 * guest's QEMU can turn a read of it into SIGBUS.
 */
bool lv_mem_sealed(const struct lv_mem *m);

/* Bytes of all backings resident on the host, or -errno. */
int64_t lv_mem_resident(const struct lv_mem *m);

/* Unmap and close. Accepts an unattached or NULL @m. */
void lv_mem_detach(struct lv_mem *m);

#endif
