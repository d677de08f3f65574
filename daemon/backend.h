/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backends steer a VM's memory through one mechanism. The registry holds
 * the VM; the backend holds how to reach it. All calls happen on the event
 * loop thread and must not block for long: long work is split into slices
 * scheduled on the loop.
 */
#ifndef HA_BACKEND_H
#define HA_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

struct backend_ops {
	const char *name; /* identifies the table ("sim", "libvirt-balloon") */
	/* Refresh vm->mem and vm->counters from the source (cheap: direct
	 * reads of shared state or cached stats; never a call that waits).
	 * Called by the engine on every tick and by ctl before a VM is
	 * shown. 0, or -errno when the source could not be read (the last
	 * values stay). */
	int (*refresh)(struct vm *vm);
	/* Start moving the VM's logical size to @target_bytes (already
	 * clamped to [min, max]); called by daemon_vm_steer() whenever the
	 * target may have changed, so it must be cheap when it has not.
	 * Returns 0 when accepted (progress shows in later refreshes), or
	 * -errno. NULL: the mechanism cannot be steered (read-only VM). */
	int (*apply_target)(struct vm *vm, uint64_t target_bytes);
	/* The operator turned automatic soft reclaim of free memory on or
	 * off (API, or the state file when the VM is added): record it in
	 * vm->mem.auto_reclaim, and switch a mechanism that reclaims by
	 * itself (a device with its own timer) with it. While it is on, the
	 * engine also calls reclaim_free on every tick. Called through
	 * daemon_vm_set_auto(), only for a backend with reclaim_free.
	 * 0, or -errno with nothing changed. NULL: the daemon records the
	 * setting itself. */
	int (*set_auto)(struct vm *vm, bool enabled);
	/* Soft-reclaim the free memory above @keep_free_bytes (one pass;
	 * the work may run in slices after the call returns); called by the
	 * engine's tick for VMs with auto reclaim on (the operator's or the
	 * policy's). Returns the bytes the pass will try to reclaim, or
	 * -errno. NULL: the mechanism has no soft reclaim, and auto_reclaim
	 * cannot be turned on. */
	int64_t (*reclaim_free)(struct vm *vm, uint64_t keep_free_bytes);
	/* The VM is leaving the registry (daemon_vm_remove): release
	 * backend resources; vm->backend is not used afterwards. */
	void (*detach)(struct vm *vm);
	/* An operator changed min/max/shares (ctl): store them with the VM
	 * where it lives (libvirt: the domain's metadata). 0 when saved (or
	 * queued until the VM's manager is reachable again), -errno. NULL:
	 * the state file is the only store. */
	int (*save_limits)(const struct vm *vm);
};

#endif
