// SPDX-License-Identifier: GPL-2.0-or-later
/* VM lifecycle in the daemon: add, steer, remove, errors. */
#include "daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "log.h"
#include "state.h"

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Apply what an operator set before (state file), within today's limits. */
static void restore(struct daemon *d, struct vm *vm)
{
	struct vm_saved s;

	if (!d->state || state_lookup(d->state, vm->id, &s) < 0)
		return;
	if (s.has_max && s.max_bytes > 0 && s.max_bytes <= vm->ram_bytes)
		vm->mem.max_bytes = s.max_bytes;
	if (s.has_min && s.min_bytes <= vm->mem.max_bytes)
		vm->mem.min_bytes = s.min_bytes;
	if (s.has_shares)
		vm->mem.shares = s.shares;
	if (s.has_auto && vm->ops && vm->ops->reclaim_free &&
	    daemon_vm_set_auto(vm, s.auto_reclaim) < 0)
		log_warn("%s: cannot restore auto_reclaim", vm->id);
	/* Kept as it was set, also outside the limits: a limit set after
	 * the target clamps it whenever it is steered (daemon_vm_steer(),
	 * safety.h), after a restart as before it. */
	if (s.has_target) {
		vm->manual_target = s.target_bytes;
		vm->mem.target_source = VM_TARGET_MANUAL;
	}
	log_info("%s: restored saved settings%s", vm->id,
		 vm->mem.target_source == VM_TARGET_MANUAL ?
			 " (manual target)" :
			 "");
}

int daemon_vm_add(struct daemon *d, struct vm *vm)
{
	int r = vm_registry_add(&d->vms, vm);

	if (r < 0)
		return r;
	vm->added_usec = now_usec();
	restore(d, vm);
	event_vm(&d->bus, EV_VM_ADDED, vm, "%s VM %s added",
		 vm_mechanism_to_string(vm->mechanism), vm->id);
	log_info("%s: added (%s, max %llu MiB)", vm->id,
		 vm_mechanism_to_string(vm->mechanism),
		 (unsigned long long)(vm->mem.max_bytes >> 20));
	daemon_vm_steer(d, vm);
	return 0;
}

void daemon_vm_steer(struct daemon *d, struct vm *vm)
{
	uint64_t want;
	int r;

	if (!vm->ops || !vm->ops->apply_target ||
	    vm->state == VM_STATE_QUARANTINED)
		return;
	/* The target is the VM's from now on, also while it cannot be
	 * steered (migrating, stopped): it shows in the API and is applied
	 * when the VM runs again (the backend calls here then). */
	want = vm->mem.target_source == VM_TARGET_MANUAL ? vm->manual_target :
							   vm->policy_target;
	if (want == 0)
		want = vm->mem.max_bytes;
	if (want < vm->mem.min_bytes)
		want = vm->mem.min_bytes;
	if (want > vm->mem.max_bytes)
		want = vm->mem.max_bytes;
	if (want != vm->mem.target_bytes) {
		vm->mem.target_bytes = want;
		bool manual = vm->mem.target_source == VM_TARGET_MANUAL;

		event_vm(&d->bus, EV_TARGET_CHANGED, vm,
			 "target %llu bytes (%s%s%s)", (unsigned long long)want,
			 vm_target_source_to_string(vm->mem.target_source),
			 manual || !vm->policy_reason[0] ? "" : ": ",
			 manual ? "" : vm->policy_reason);
	}
	if (!vm_steerable(vm))
		return;
	r = vm->ops->apply_target(vm, want);
	if (r < 0) {
		vm->counters.apply_errors++;
		daemon_error(d, vm, "cannot steer %s to %llu bytes: %s", vm->id,
			     (unsigned long long)want, strerror(-r));
	}
}

int daemon_vm_set_auto(struct vm *vm, bool enabled)
{
	if (vm->ops && vm->ops->set_auto)
		return vm->ops->set_auto(vm, enabled);
	vm->mem.auto_reclaim = enabled;
	return 0;
}

void daemon_vm_remove(struct daemon *d, struct vm *vm, const char *why)
{
	vm_registry_remove(&d->vms, vm);
	if (vm->ops && vm->ops->detach)
		vm->ops->detach(vm);
	event_vm(&d->bus, EV_VM_REMOVED, vm, "%s", why ? why : "removed");
	log_info("%s: removed (%s)", vm->id, why ? why : "removed");
	vm_free(vm);
}

void daemon_error(struct daemon *d, const struct vm *vm, const char *fmt, ...)
{
	struct event ev = { .type = EV_ERROR };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
	va_end(ap);
	if (vm)
		snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
	d->errors_total++;
	log_err("%s", ev.message);
	event_publish(&d->bus, &ev);
}
