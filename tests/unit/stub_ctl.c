// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * STUB, for unit tests only: a minimal stand-in for daemon/ctl.c so the
 * HTTP/JSON suites can run without the policy engine, backends and state
 * file. It keeps the parts of the ctl.h contract that a transport can
 * observe: authorisation first (401 without credentials, 403 with wrong
 * ones), then VM lookup (404), then the documented ranges (422), and a
 * TARGET_CHANGED event on every target change. The integration tests link
 * the real daemon/ctl.c instead.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"

#define STUB_HOST_TOTAL (16ull << 30)
#define STUB_HOST_AVAILABLE (12ull << 30)

static struct engine_policy stub_policy = {
	.name = "static",
	.params_json = "{}",
	.overcommit_ratio = 1.0,
	.host_reserve_bytes = 1ull << 30,
	.tick_ms = 1000,
	.available = "static shares",
};

bool ctl_authorize(const struct ctl_caller *caller, struct error *err)
{
	if (!caller->credentials_given) {
		error_set(err, ERROR_UNAUTHENTICATED, "", "",
			      "this request needs credentials");
		return false;
	}
	if (!caller->authenticated) {
		error_set(err, ERROR_FORBIDDEN, "", "",
			      "%s may not change settings", caller->who);
		return false;
	}
	return true;
}

const struct vm *ctl_vm_get(struct daemon *d, const char *id,
			    struct error *err)
{
	struct vm *vm = vm_registry_find(&d->vms, id);

	if (!vm)
		error_set(err, ERROR_NOT_FOUND, "id", id, "no VM named %s",
			      id);
	return vm;
}

static void target_event(struct daemon *d, const struct vm *vm)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TARGET_CHANGED;
	snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
	ev.target_bytes = vm->mem.target_bytes;
	snprintf(ev.source, sizeof(ev.source), "%s",
		 vm_target_source_to_string(vm->mem.target_source));
	snprintf(ev.message, sizeof(ev.message), "target of %s set", vm->id);
	event_publish(&d->bus, &ev);
}

int ctl_vm_set_memory(struct daemon *d, const struct ctl_caller *caller,
		      const char *id, const struct ctl_memory_update *u,
		      struct error *err)
{
	struct vm *vm;
	uint64_t min, max, target;
	char v[32];

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = vm_registry_find(&d->vms, id);
	if (!vm) {
		error_set(err, ERROR_NOT_FOUND, "id", id, "no VM named %s",
			      id);
		return -ENOENT;
	}
	min = u->has_min ? u->min_bytes : vm->mem.min_bytes;
	max = u->has_max ? u->max_bytes : vm->mem.max_bytes;
	target = u->has_target ? u->target_bytes : vm->mem.target_bytes;
	if (min > max) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)min);
		error_set(err, ERROR_UNPROCESSABLE, "min_bytes", v,
			      "min_bytes %s is above max_bytes %llu", v,
			      (unsigned long long)max);
		return -ERANGE;
	}
	if (u->has_target && (target < min || target > max)) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)target);
		error_set(err, ERROR_UNPROCESSABLE, "target_bytes", v,
			      "target_bytes %s is outside [%llu, %llu]", v,
			      (unsigned long long)min,
			      (unsigned long long)max);
		return -ERANGE;
	}
	if (u->has_shares && (u->shares < 1 || u->shares > 100000)) {
		snprintf(v, sizeof(v), "%u", u->shares);
		error_set(err, ERROR_UNPROCESSABLE, "shares", v,
			      "shares must be within 1..100000");
		return -ERANGE;
	}
	vm->mem.min_bytes = min;
	vm->mem.max_bytes = max;
	if (u->has_shares)
		vm->mem.shares = u->shares;
	if (u->has_auto)
		vm->mem.auto_reclaim = u->auto_reclaim;
	if (u->has_target) {
		vm->manual_target = target;
		vm->mem.target_bytes = target;
		vm->mem.target_source = VM_TARGET_MANUAL;
		target_event(d, vm);
	}
	return 0;
}

int ctl_vm_release_target(struct daemon *d, const struct ctl_caller *caller,
			  const char *id, struct error *err)
{
	struct vm *vm;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = vm_registry_find(&d->vms, id);
	if (!vm) {
		error_set(err, ERROR_NOT_FOUND, "id", id, "no VM named %s",
			      id);
		return -ENOENT;
	}
	vm->mem.target_source = VM_TARGET_POLICY;
	vm->mem.target_bytes = vm->policy_target;
	target_event(d, vm);
	return 0;
}

void ctl_host_get(struct daemon *d, struct ctl_host *ret)
{
	double usable = (double)(STUB_HOST_TOTAL -
				 stub_policy.host_reserve_bytes);

	memset(ret, 0, sizeof(*ret));
	ret->total_bytes = STUB_HOST_TOTAL;
	ret->available_bytes = STUB_HOST_AVAILABLE;
	ret->reserve_bytes = stub_policy.host_reserve_bytes;
	ret->overcommit_ratio = stub_policy.overcommit_ratio;
	vm_foreach(vm, &d->vms) {
		ret->committed_bytes += vm->mem.current_bytes;
		ret->max_committed_bytes += vm->mem.max_bytes;
		ret->vms++;
	}
	ret->overcommit_now = (double)ret->committed_bytes / usable;
}

void ctl_policy_get(struct daemon *d, struct engine_policy *ret)
{
	(void)d;
	*ret = stub_policy;
}

int ctl_policy_set(struct daemon *d, const struct ctl_caller *caller,
		   const struct engine_policy_update *u, struct error *err)
{
	struct event ev;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	if (u->has_name && strcmp(u->name, "static") != 0 &&
	    strcmp(u->name, "shares") != 0) {
		error_set(err, ERROR_UNPROCESSABLE, "name", u->name,
			      "unknown policy %s", u->name);
		return -ENOENT;
	}
	if (u->has_ratio && u->overcommit_ratio <= 0) {
		error_set(err, ERROR_UNPROCESSABLE, "overcommit_ratio", "",
			      "overcommit_ratio must be above 0");
		return -ERANGE;
	}
	if (u->has_tick && (u->tick_ms < 100 || u->tick_ms > 3600000)) {
		error_set(err, ERROR_UNPROCESSABLE, "tick_ms", "",
			      "tick_ms must be within 100..3600000");
		return -ERANGE;
	}
	if (u->has_name)
		memcpy(stub_policy.name, u->name, sizeof(u->name));
	if (u->has_params)
		memcpy(stub_policy.params_json, u->params_json,
		       sizeof(u->params_json));
	if (u->has_ratio)
		stub_policy.overcommit_ratio = u->overcommit_ratio;
	if (u->has_reserve)
		stub_policy.host_reserve_bytes = u->host_reserve_bytes;
	if (u->has_tick)
		stub_policy.tick_ms = u->tick_ms;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_POLICY_CHANGED;
	snprintf(ev.message, sizeof(ev.message), "policy %s",
		 stub_policy.name);
	event_publish(&d->bus, &ev);
	return 0;
}
