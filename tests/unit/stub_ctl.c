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
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"

#define STUB_HOST_TOTAL (16ull << 30)
#define STUB_HOST_AVAILABLE (12ull << 30)

static struct ctl_policy stub_policy = {
	.name = "static",
	.params_json = "{}",
	.overcommit_ratio = 1.0,
	.host_reserve_bytes = 1ull << 30,
	.tick_ms = 1000,
	.available = "static shares",
};

void ctl_error_set(struct ctl_error *err, enum ctl_status status,
		   const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	snprintf(err->value, sizeof(err->value), "%s", value ? value : "");
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
}

bool ctl_authorize(const struct ctl_caller *caller, struct ctl_error *err)
{
	if (!caller->credentials_given) {
		ctl_error_set(err, CTL_UNAUTHENTICATED, "", "",
			      "this request needs credentials");
		return false;
	}
	if (!caller->authenticated) {
		ctl_error_set(err, CTL_FORBIDDEN, "", "",
			      "%s may not change settings", caller->who);
		return false;
	}
	return true;
}

const struct vm *ctl_vm_get(struct daemon *d, const char *id,
			    struct ctl_error *err)
{
	struct vm *vm = vm_registry_find(&d->vms, id);

	if (!vm)
		ctl_error_set(err, CTL_NOT_FOUND, "id", id, "no VM named %s",
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
		      struct ctl_error *err)
{
	struct vm *vm;
	uint64_t min, max, target;
	char v[32];

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = vm_registry_find(&d->vms, id);
	if (!vm) {
		ctl_error_set(err, CTL_NOT_FOUND, "id", id, "no VM named %s",
			      id);
		return -ENOENT;
	}
	min = u->has_min ? u->min_bytes : vm->mem.min_bytes;
	max = u->has_max ? u->max_bytes : vm->mem.max_bytes;
	target = u->has_target ? u->target_bytes : vm->mem.target_bytes;
	if (min > max) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)min);
		ctl_error_set(err, CTL_UNPROCESSABLE, "min_bytes", v,
			      "min_bytes %s is above max_bytes %llu", v,
			      (unsigned long long)max);
		return -ERANGE;
	}
	if (u->has_target && (target < min || target > max)) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)target);
		ctl_error_set(err, CTL_UNPROCESSABLE, "target_bytes", v,
			      "target_bytes %s is outside [%llu, %llu]", v,
			      (unsigned long long)min,
			      (unsigned long long)max);
		return -ERANGE;
	}
	if (u->has_shares && (u->shares < 1 || u->shares > 100000)) {
		snprintf(v, sizeof(v), "%u", u->shares);
		ctl_error_set(err, CTL_UNPROCESSABLE, "shares", v,
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
			  const char *id, struct ctl_error *err)
{
	struct vm *vm;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	vm = vm_registry_find(&d->vms, id);
	if (!vm) {
		ctl_error_set(err, CTL_NOT_FOUND, "id", id, "no VM named %s",
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

void ctl_policy_get(struct daemon *d, struct ctl_policy *ret)
{
	(void)d;
	*ret = stub_policy;
}

int ctl_policy_set(struct daemon *d, const struct ctl_caller *caller,
		   const struct ctl_policy_update *u, struct ctl_error *err)
{
	struct event ev;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	if (u->has_name && strcmp(u->name, "static") != 0 &&
	    strcmp(u->name, "shares") != 0) {
		ctl_error_set(err, CTL_UNPROCESSABLE, "name", u->name,
			      "unknown policy %s", u->name);
		return -ENOENT;
	}
	if (u->has_ratio && u->overcommit_ratio <= 0) {
		ctl_error_set(err, CTL_UNPROCESSABLE, "overcommit_ratio", "",
			      "overcommit_ratio must be above 0");
		return -ERANGE;
	}
	if (u->has_tick && (u->tick_ms < 100 || u->tick_ms > 3600000)) {
		ctl_error_set(err, CTL_UNPROCESSABLE, "tick_ms", "",
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

int ctl_status_http(enum ctl_status s)
{
	static const int codes[] = {
		[CTL_OK] = 200,		   [CTL_BAD_REQUEST] = 400,
		[CTL_UNAUTHENTICATED] = 401, [CTL_FORBIDDEN] = 403,
		[CTL_NOT_FOUND] = 404,	   [CTL_CONFLICT] = 409,
		[CTL_TOO_LARGE] = 413,	   [CTL_UNPROCESSABLE] = 422,
		[CTL_UNAVAILABLE] = 503,   [CTL_INTERNAL] = 500,
	};

	return (unsigned)s < sizeof(codes) / sizeof(codes[0]) ? codes[s] : 500;
}

const char *ctl_status_title(enum ctl_status s)
{
	static const char *const titles[] = {
		[CTL_OK] = "OK",
		[CTL_BAD_REQUEST] = "Bad Request",
		[CTL_UNAUTHENTICATED] = "Unauthorized",
		[CTL_FORBIDDEN] = "Forbidden",
		[CTL_NOT_FOUND] = "Not Found",
		[CTL_CONFLICT] = "Conflict",
		[CTL_TOO_LARGE] = "Content Too Large",
		[CTL_UNPROCESSABLE] = "Unprocessable Content",
		[CTL_UNAVAILABLE] = "Service Unavailable",
		[CTL_INTERNAL] = "Internal Server Error",
	};

	return (unsigned)s < sizeof(titles) / sizeof(titles[0]) ?
		       titles[s] :
		       "Internal Server Error";
}
