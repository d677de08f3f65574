/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy plugin ABI. A policy is a pure function from a snapshot of
 * the host and its VMs to per-VM targets: no I/O, no globals it shares with
 * the daemon, and no libvirt, jansson or sd-* header anywhere in
 * policies/ (make check enforces it). The engine in the daemon collects
 * the snapshot, calls decide(), applies its own safety rules (min/max,
 * dead band, rate limits, host reserve, stuck VMs) and acts.
 *
 * Built-in policies are in a static table; out-of-tree ones are shared
 * objects exporting `ha_policy_ops` (a const struct ha_policy_ops). A
 * plugin whose abi_version differs from HA_POLICY_ABI_VERSION is refused.
 */
#ifndef HA_POLICY_H
#define HA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HA_POLICY_ABI_VERSION 1u
#define HA_POLICY_SYMBOL      "ha_policy_ops"

/* Policy parameters: the JSON object's scalar members as text. */
struct ha_policy_param {
	const char *key;
	const char *value; /* numbers and booleans in JSON spelling */
};

struct ha_policy_host {
	uint64_t total_bytes; /* host RAM */
	uint64_t available_bytes; /* MemAvailable */
	uint64_t reserve_bytes; /* to keep free for the host */
	double overcommit_ratio; /* allowed sum(max) / (total - reserve) */
	double psi_some_avg10; /* /proc/pressure/memory, % (-1 unknown) */
	double psi_full_avg10;
	uint64_t now_ms; /* monotonic */
	uint64_t tick_ms; /* interval between decide() calls */
};

enum ha_policy_mech {
	HA_POLICY_MECH_NONE = 0,
	HA_POLICY_MECH_SIM,
	HA_POLICY_MECH_HYPERALLOC,
	HA_POLICY_MECH_BALLOON,
	HA_POLICY_MECH_VIRTIO_MEM,
};

struct ha_policy_vm {
	const char *id;
	enum ha_policy_mech mechanism;
	bool can_soft_reclaim; /* mechanism has auto/soft reclaim */
	bool manual; /* target pinned by an operator; output ignored */
	uint64_t max_bytes;
	uint64_t min_bytes;
	uint32_t shares;
	uint64_t target_bytes; /* the target in force now */
	uint64_t current_bytes; /* logical size now */
	uint64_t host_resident_bytes;
	uint64_t guest_free_bytes; /* free in the guest allocator */
	uint64_t guest_used_bytes; /* current - free */
	uint64_t free_huge_installed_bytes; /* free, backing present */
	uint64_t soft_reclaimed_bytes;
	uint64_t installs; /* cumulative install requests */
	uint64_t alloc_failures; /* cumulative failed allocations */
};

/* Why a target is what it is (shown in events and metrics). */
enum ha_policy_reason {
	HA_REASON_NONE = 0, /* no change wanted */
	HA_REASON_STATIC, /* static policy: max */
	HA_REASON_SHARES, /* divided by shares */
	HA_REASON_WORKING_SET, /* sized to the working set */
	HA_REASON_PRESSURE_PROBE, /* probing down, no stall */
	HA_REASON_PRESSURE_BACKOFF, /* stalls seen, backing off */
	HA_REASON_HOST_PRESSURE, /* host short of memory */
	HA_REASON_IDLE, /* idle memory taxed */
	HA_REASON_AUTO_RECLAIM, /* soft reclaim only */
	HA_REASON_COUNT,
};

struct ha_policy_target {
	uint64_t target_bytes; /* wanted logical size */
	bool auto_reclaim; /* soft-reclaim free memory */
	uint64_t keep_free_bytes; /* free memory to keep installed */
	enum ha_policy_reason reason;
};

struct ha_policy_ops {
	uint32_t abi_version; /* HA_POLICY_ABI_VERSION */
	const char *name;
	const char *description;
	/*
	 * Parse @params and create the policy's state. Returns 0 and
	 * *ret_state (may stay NULL), or a negative errno with a sentence in
	 * @err naming the parameter and why.
	 */
	int (*init)(const struct ha_policy_param *params, size_t n_params,
		    void **ret_state, char *err, size_t err_len);
	/*
	 * Decide a target for each of the @n VMs. targets[i] comes
	 * pre-filled with what this policy decided last time (max_bytes for
	 * a VM it has not seen, auto_reclaim off); leave it to keep that.
	 * The engine then applies its safety rules (daemon/safety.h).
	 * Must not block or do I/O.
	 */
	void (*decide)(void *state, const struct ha_policy_host *host,
		       const struct ha_policy_vm *vms, size_t n,
		       struct ha_policy_target *targets);
	void (*fini)(void *state); /* accepts NULL state */
};

/* Built-in policies (policies/registry.c). */
const struct ha_policy_ops *ha_policy_builtin(const char *name);
/* NULL-terminated list of built-ins. */
extern const struct ha_policy_ops *const ha_policy_builtins[];
/* Their names, space-separated in the list's order ("static
 * auto-reclaim ..."), cut to fit @len. Returns @buf. */
const char *ha_policy_builtin_names(char *buf, size_t len);

const char *ha_policy_reason_str(enum ha_policy_reason r);

#endif
