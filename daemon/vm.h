/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VM registry: every VM the daemon knows, whatever its backend.
 * Owned by the event loop thread; nothing here is thread-safe.
 */
#ifndef HA_VM_H
#define HA_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_ID_MAX   64
#define VM_UUID_LEN 37

struct backend_ops;

enum vm_mechanism {
	VM_MECH_NONE = 0, /* tracked, read-only */
	VM_MECH_SIM, /* simulated guest, lib/ host operations */
	VM_MECH_HYPERALLOC, /* QEMU virtio-hyperalloc-pci device */
	VM_MECH_BALLOON, /* virtio-balloon */
	VM_MECH_VIRTIO_MEM, /* virtio-mem */
};

enum vm_state {
	VM_STATE_RUNNING = 0,
	VM_STATE_PAUSED,
	VM_STATE_STOPPED,
	VM_STATE_MIGRATING,
	VM_STATE_QUARANTINED, /* corrupt metadata: no more reclaim */
	VM_STATE_STUCK, /* made no progress toward its target */
	VM_STATE_COUNT,
};

enum vm_target_source {
	VM_TARGET_POLICY = 0,
	VM_TARGET_MANUAL,
};

/* The memory view of one VM; field names follow the public API. */
struct vm_memory {
	uint64_t max_bytes; /* largest logical size */
	uint64_t min_bytes; /* smallest logical size policy may set */
	uint64_t target_bytes; /* logical size being steered to */
	uint64_t current_bytes; /* logical size now */
	uint64_t host_resident_bytes; /* backing resident on the host */
	uint64_t guest_free_bytes; /* free in the guest's allocator */
	uint64_t reclaimed_bytes; /* hard-reclaimed */
	uint64_t soft_reclaimed_bytes; /* free but backing discarded */
	uint32_t shares; /* weight in the shares policy */
	enum vm_target_source target_source;
	bool auto_reclaim; /* soft-reclaim free memory automatically */
	uint64_t updated_at_usec; /* CLOCK_REALTIME of the last refresh */
};

/* Cumulative per-VM counters (metrics). */
struct vm_counters {
	uint64_t reclaimed_hard_frames;
	uint64_t reclaimed_soft_frames;
	uint64_t returned_frames;
	uint64_t installed_frames;
	uint64_t discard_ns;
	uint64_t apply_errors;
	uint64_t stuck_total; /* times marked stuck */
	uint64_t monitor_timeouts; /* monitor calls QEMU did not answer */
	uint64_t install_replies_dropped; /* no room in a sim guest's socket */
	/* from the simulated guest's STATUS messages */
	uint64_t guest_ops;
	uint64_t guest_installs;
	uint64_t guest_install_ns;
	uint64_t canary_checks;
	uint64_t canary_mismatches;
	uint64_t alloc_failures;
};

/* What a simulated guest reports of its workload (STATUS messages). */
struct vm_guest_status {
	bool valid; /* a STATUS has arrived */
	uint64_t trace_pos_ms, trace_len_ms; /* trace time */
	bool trace_done;
	uint64_t allocated_bytes; /* memory the workload holds */
	uint64_t target_bytes; /* what the trace asks for now */
	uint64_t reported; /* frames reported (free page reporting) */
};

/* What a HyperAlloc VM's QEMU device reports (query-hyperalloc). */
struct vm_device {
	bool valid; /* the device has answered */
	char state[16]; /* waiting, active, quarantined */
	char reason[256]; /* why the device quarantined the guest */
	char last_refusal[256]; /* the last metadata region it refused */
	char last_error[256]; /* the last monitor command that failed */
	char backend[48]; /* QEMU's guest-RAM backend */
	bool direct_reads; /* the daemon reads the allocator state itself */
	uint32_t regions;
	uint64_t install_requests;
	uint64_t install_ns_avg, install_ns_max;
	double installs_per_s; /* 2 MiB frames installed per second, lately */
	bool auto_reclaim; /* the device's own timer runs */
	uint64_t auto_interval_ms, auto_keep_bytes;
	uint64_t last_reclaim_ns; /* the device's time to its last target */
	uint64_t monitor_timeouts; /* monitor calls QEMU did not answer */
};

struct vm {
	char id[VM_ID_MAX]; /* name; the API accepts name or uuid */
	char uuid[VM_UUID_LEN];
	enum vm_mechanism mechanism;
	enum vm_state state;
	char state_reason[256]; /* why quarantined/stuck, for people */
	const struct backend_ops *ops;
	void *backend; /* backend-private data */

	uint64_t ram_bytes; /* guest RAM: the ceiling for max_bytes */

	/* limits and steering */
	uint64_t manual_target; /* valid when mem.target_source == MANUAL */
	uint64_t policy_target; /* last target decided by the policy */

	struct vm_memory mem;
	struct vm_counters counters;
	struct vm_guest_status guest;
	struct vm_device device;
	char policy_reason[24]; /* why the policy chose policy_target */
	uint64_t free_huge_installed_bytes; /* free 2 MiB frames with backing */

	/* engine bookkeeping for the stuck rule (daemon/safety.h) */
	struct {
		uint64_t last_gap, progress_ms, stuck_until_ms;
	} safety;

	uint64_t added_usec; /* CLOCK_MONOTONIC when registered */
	struct vm *next;
};

struct vm_registry {
	struct vm *head;
	size_t count;
};

/* Allocate a VM (zeroed, state RUNNING, shares 1000). NULL on ENOMEM. */
struct vm *vm_new(const char *id, const char *uuid,
		  enum vm_mechanism mechanism);
void vm_free(struct vm *vm);

/* Add @vm (ownership passes to the registry). -EEXIST if the id or uuid
 * is taken. */
int vm_registry_add(struct vm_registry *r, struct vm *vm);
/* Unlink @vm; the caller frees it. */
void vm_registry_remove(struct vm_registry *r, struct vm *vm);
/* Find by id (name) or uuid; NULL if none. */
struct vm *vm_registry_find(const struct vm_registry *r, const char *key);

#define vm_foreach(vm, reg) for (struct vm *vm = (reg)->head; vm; vm = vm->next)

const char *vm_mechanism_to_string(enum vm_mechanism m);
const char *vm_state_to_string(enum vm_state s);
const char *vm_target_source_to_string(enum vm_target_source s);

/* Can @vm be steered now: it has a backend and is not quarantined,
 * stopped or migrating? A target set meanwhile waits. */
bool vm_steerable(const struct vm *vm);

/* Is @name a valid VM id: 1..63 chars of [A-Za-z0-9._-]? */
bool vm_id_valid(const char *name);

#endif
