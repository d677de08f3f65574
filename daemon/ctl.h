/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The internal control API: the one place where requests from HTTP and
 * gRPC are validated, authorised and carried out. Transports only map
 * their wire format to these structs and errors (errors.h) to their status
 * codes.
 * Loop thread only.
 */
#ifndef HA_CTL_H
#define HA_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "errors.h"
#include "vm.h"

struct daemon;

/* Who is asking. Transports fill it; ctl decides. */
struct ctl_caller {
	bool authenticated; /* token matched or peer creds allowed */
	bool credentials_given; /* any token/creds were presented */
	char who[64]; /* "tcp", "uid 0", ... for logs */
};

/* A change to one VM's memory settings; only fields with has_* apply. */
struct ctl_memory_update {
	bool has_target, has_min, has_max, has_shares, has_auto;
	uint64_t target_bytes, min_bytes, max_bytes;
	uint32_t shares;
	bool auto_reclaim;
};

struct ctl_host {
	uint64_t total_bytes; /* host RAM (MemTotal) */
	uint64_t available_bytes; /* MemAvailable */
	uint64_t committed_bytes; /* sum of the VMs' logical sizes */
	uint64_t max_committed_bytes; /* sum of the VMs' max sizes */
	uint64_t reserve_bytes; /* kept free for the host */
	double overcommit_ratio; /* allowed: sum(max) / (total - reserve) */
	double overcommit_now; /* current: committed / (total - reserve) */
	uint64_t vms;
};

/* May @caller change settings? true, or false with ERROR_UNAUTHENTICATED
 * (no credentials) or ERROR_FORBIDDEN (credentials without the right) in
 * *err. Transports call it before parsing a mutation's body, so an
 * unauthenticated caller learns nothing about its request. */
bool ctl_authorize(const struct ctl_caller *caller, struct error *err);

/* Look up a VM by name or uuid and refresh it from its backend. NULL with
 * ERROR_NOT_FOUND in *err if there is none. */
const struct vm *ctl_vm_get(struct daemon *d, const char *id,
			    struct error *err);

/*
 * Validate and apply. Checks, in order: authorisation (-EPERM), the VM
 * exists (-ENOENT), it is not quarantined (-EBUSY, ERROR_CONFLICT) and has
 * a mechanism that can be steered (-EOPNOTSUPP, ERROR_CONFLICT), each
 * field's range (-ERANGE, ERROR_UNPROCESSABLE: 0 < max <= VM RAM,
 * min <= max, target within [min, max], shares 1..100000), auto_reclaim
 * only where the mechanism can reclaim free memory (-EOPNOTSUPP,
 * ERROR_UNPROCESSABLE); then the backend switches auto_reclaim (its
 * -errno, ERROR_UNAVAILABLE). Nothing changes unless all of it passes. On
 * success (0) the settings are updated, the backend is steered, then they
 * are persisted (state file, the VM's own store).
 */
int ctl_vm_set_memory(struct daemon *d, const struct ctl_caller *caller,
		      const char *id, const struct ctl_memory_update *u,
		      struct error *err);

/* Hand a manual target back to the policy and steer; a VM without one is
 * left as it is. 0, -EPERM or -ENOENT as for ctl_vm_set_memory. */
int ctl_vm_release_target(struct daemon *d, const struct ctl_caller *caller,
			  const char *id, struct error *err);

/* The host resource: memory, reserve, commitment of the VMs. */
void ctl_host_get(struct daemon *d, struct ctl_host *ret);

/* The policy resource (engine_policy_get). */
void ctl_policy_get(struct daemon *d, struct engine_policy *ret);

/* Authorise (-EPERM), then engine_policy_set with its checks; on any error
 * the running policy stays and the refusal is logged. */
int ctl_policy_set(struct daemon *d, const struct ctl_caller *caller,
		   const struct engine_policy_update *u, struct error *err);

#endif
