// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The internal control API behind HTTP and gRPC: authorisation, semantic
 * validation, and the changes themselves.
 */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "commit.h"
#include "daemon.h"
#include "engine.h"
#include "host.h"
#include "log.h"
#include "plugin.h"
#include "state.h"

bool ctl_authorize(const struct ctl_caller *c, struct error *err)
{
	if (c->authenticated)
		return true;
	if (!c->credentials_given)
		error_set(err, ERROR_UNAUTHENTICATED, "Authorization", "",
			  "changes need credentials: a bearer token over "
			  "TCP, or an allowed user on the unix socket");
	else
		error_set(err, ERROR_FORBIDDEN, "Authorization", "",
			  "%s is not allowed to change settings",
			  c->who[0] ? c->who : "caller");
	return false;
}

static struct vm *find_vm(struct daemon *d, const char *id, struct error *err)
{
	struct vm *vm = vm_registry_find(&d->vms, id);

	if (!vm)
		error_set(err, ERROR_NOT_FOUND, "id", id, "no VM named %s", id);
	return vm;
}

const struct vm *ctl_vm_get(struct daemon *d, const char *id, struct error *err)
{
	struct vm *vm = find_vm(d, id, err);

	if (vm && vm->ops && vm->ops->refresh)
		vm->ops->refresh(vm);
	return vm;
}

static void u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Persist what an operator set for @vm. */
static void persist(struct daemon *d, const struct vm *vm)
{
	struct vm_saved s = {
		.has_target = vm->mem.target_source == VM_TARGET_MANUAL,
		.target_bytes = vm->manual_target,
		.has_min = true,
		.min_bytes = vm->mem.min_bytes,
		.has_max = true,
		.max_bytes = vm->mem.max_bytes,
		.has_shares = true,
		.shares = vm->mem.shares,
		.has_auto = true,
		.auto_reclaim = vm->mem.auto_reclaim,
	};
	int r;

	if (vm->ops && vm->ops->save_limits) {
		r = vm->ops->save_limits(vm);
		if (r < 0)
			daemon_error(d, vm,
				     "%s: cannot store the limits with "
				     "the VM: %s",
				     vm->id, strerror(-r));
	}
	if (!d->state)
		return;
	/* Written by the group commit; the transport answers after it. */
	r = state_save(d->state, vm->id, &s);
	if (r < 0)
		daemon_error(d, vm,
			     "cannot keep %s's settings for the state "
			     "file: %s",
			     vm->id, strerror(-r));
	commit_changed(d->commit);
}

int ctl_vm_set_memory(struct daemon *d, const struct ctl_caller *caller,
		      const char *id, const struct ctl_memory_update *u,
		      struct error *err)
{
	char v[32], w[32];
	struct vm *vm;
	int r;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = find_vm(d, id, err);
	if (!vm)
		return -ENOENT;
	if (vm->state == VM_STATE_QUARANTINED) {
		error_set(err, ERROR_CONFLICT, "id", id,
			  "%s is quarantined: %s", id, vm->state_reason);
		return -EBUSY;
	}
	if (!vm->ops || !vm->ops->apply_target) {
		error_set(err, ERROR_CONFLICT, "id", id,
			  "%s has no memory mechanism the daemon can "
			  "steer (mechanism %s)",
			  id, vm_mechanism_to_string(vm->mechanism));
		return -EOPNOTSUPP;
	}

	uint64_t min = u->has_min ? u->min_bytes : vm->mem.min_bytes;
	uint64_t max = u->has_max ? u->max_bytes : vm->mem.max_bytes;

	if (u->has_max && (max > vm->ram_bytes || max == 0)) {
		u64s(v, sizeof(v), max);
		error_set(err, ERROR_UNPROCESSABLE, "max_bytes", v,
			  "max_bytes %s must be between 1 and the VM's RAM "
			  "(%llu bytes)",
			  v, (unsigned long long)vm->ram_bytes);
		return -ERANGE;
	}
	if (min > max) {
		u64s(v, sizeof(v), min);
		u64s(w, sizeof(w), max);
		error_set(err, ERROR_UNPROCESSABLE,
			  u->has_min ? "min_bytes" : "max_bytes",
			  u->has_min ? v : w,
			  "min_bytes %s is above max_bytes %s", v, w);
		return -ERANGE;
	}
	if (u->has_target && (u->target_bytes < min || u->target_bytes > max)) {
		u64s(v, sizeof(v), u->target_bytes);
		error_set(err, ERROR_UNPROCESSABLE, "target_bytes", v,
			  "target_bytes %s is outside [min_bytes %llu, "
			  "max_bytes %llu]",
			  v, (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	if (u->has_shares && (u->shares < 1 || u->shares > 100000)) {
		u64s(v, sizeof(v), u->shares);
		error_set(err, ERROR_UNPROCESSABLE, "shares", v,
			  "shares must be between 1 and 100000");
		return -ERANGE;
	}
	if (u->has_auto && u->auto_reclaim && !vm->ops->reclaim_free) {
		error_set(err, ERROR_UNPROCESSABLE, "auto_reclaim", "true",
			  "mechanism %s cannot reclaim free memory "
			  "automatically",
			  vm_mechanism_to_string(vm->mechanism));
		return -EOPNOTSUPP;
	}

	/* The one change that can fail, first: nothing else is changed
	 * if the backend cannot switch. */
	if (u->has_auto) {
		r = daemon_vm_set_auto(vm, u->auto_reclaim);
		if (r < 0) {
			error_set(err, ERROR_UNAVAILABLE, "auto_reclaim",
				  u->auto_reclaim ? "true" : "false",
				  "%s cannot switch automatic reclaim now: %s",
				  id, strerror(-r));
			return r;
		}
	}
	vm->mem.min_bytes = min;
	vm->mem.max_bytes = max;
	if (u->has_shares)
		vm->mem.shares = u->shares;
	if (u->has_target) {
		vm->manual_target = u->target_bytes;
		vm->mem.target_source = VM_TARGET_MANUAL;
	}
	log_info("%s: %s set%s%s%s%s%s", vm->id, caller->who,
		 u->has_target ? " target" : "", u->has_min ? " min" : "",
		 u->has_max ? " max" : "", u->has_shares ? " shares" : "",
		 u->has_auto ? " auto_reclaim" : "");
	/* Steer first: the state file's fsync must not delay the reclaim. */
	engine_unstick(d, vm);
	daemon_vm_steer(d, vm);
	persist(d, vm);
	if (vm->ops->refresh)
		vm->ops->refresh(vm);
	return 0;
}

int ctl_vm_release_target(struct daemon *d, const struct ctl_caller *caller,
			  const char *id, struct error *err)
{
	struct vm *vm;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = find_vm(d, id, err);
	if (!vm)
		return -ENOENT;
	if (vm->mem.target_source == VM_TARGET_MANUAL) {
		vm->mem.target_source = VM_TARGET_POLICY;
		vm->manual_target = 0;
		log_info("%s: %s released the manual target", vm->id,
			 caller->who);
		engine_unstick(d, vm);
		daemon_vm_steer(d, vm);
		persist(d, vm);
	}
	if (vm->ops && vm->ops->refresh)
		vm->ops->refresh(vm);
	return 0;
}

void ctl_host_get(struct daemon *d, struct ctl_host *ret)
{
	struct host_mem hm = { 0 };
	struct engine_policy p;

	memset(ret, 0, sizeof(*ret));
	host_read(&hm);
	engine_policy_get(d, &p);
	ret->total_bytes = hm.total_bytes;
	ret->available_bytes = hm.available_bytes;
	ret->reserve_bytes = p.host_reserve_bytes;
	ret->overcommit_ratio = p.overcommit_ratio;
	vm_foreach(vm, &d->vms) {
		ret->committed_bytes += vm->mem.current_bytes;
		ret->max_committed_bytes += vm->mem.max_bytes;
		ret->vms++;
	}
	uint64_t usable = hm.total_bytes > p.host_reserve_bytes ?
				  hm.total_bytes - p.host_reserve_bytes :
				  0;

	ret->overcommit_now =
		usable ? (double)ret->committed_bytes / (double)usable : 0;
}

void ctl_policy_get(struct daemon *d, struct engine_policy *ret)
{
	engine_policy_get(d, ret);
}

int ctl_policy_set(struct daemon *d, const struct ctl_caller *caller,
		   const struct engine_policy_update *u, struct error *err)
{
	if (!ctl_authorize(caller, err))
		return -EPERM;
	/* Over the API a policy is chosen by name only: a built-in or a
	 * plugin of policy.plugin_dir, never a path. */
	if (u->from_config || (u->has_name && !plugin_name_ok(u->name, err))) {
		if (u->from_config)
			error_set(err, ERROR_BAD_REQUEST, "name", u->name,
				  "name: not a request field");
		log_warn("policy change by %s refused: %s", caller->who,
			 err->reason);
		return -EINVAL;
	}
	int r = engine_policy_set(d, u, err);

	if (r < 0)
		log_warn("policy change by %s refused: %s", caller->who,
			 err->reason);
	return r;
}
