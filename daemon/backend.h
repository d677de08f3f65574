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
	const char *name;
	/* Refresh vm->mem and vm->counters from the source (cheap: direct
	 * reads of shared state or cached stats). 0 or -errno. */
	int (*refresh)(struct vm *vm);
	/* Start moving the VM's logical size to @target_bytes (already
	 * clamped to [min, max]). Returns 0 when accepted; progress shows
	 * in later refreshes. -errno on failure. */
	int (*apply_target)(struct vm *vm, uint64_t target_bytes);
	/* Turn automatic soft reclaim of free memory on or off, keeping
	 * @keep_free_bytes of free memory installed as a buffer.
	 * -EOPNOTSUPP if the mechanism has no such thing. */
	int (*set_auto)(struct vm *vm, bool enabled, uint64_t keep_free_bytes);
	/* Soft-reclaim the free memory above @keep_free_bytes (one pass;
	 * the work may run in slices after the call returns). Returns the
	 * bytes the pass will try to reclaim, or -errno. */
	int64_t (*reclaim_free)(struct vm *vm, uint64_t keep_free_bytes);
	/* The VM is leaving the registry: release backend resources. */
	void (*detach)(struct vm *vm);
	/* An operator changed min/max/shares: store them with the VM where
	 * it lives (libvirt: the domain's metadata). 0 when saved (or queued
	 * until the VM's manager is reachable again), -errno. NULL: the state
	 * file is the only store. */
	int (*save_limits)(const struct vm *vm);
};

#endif
