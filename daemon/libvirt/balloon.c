// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-balloon through libvirt. The target is the balloon's guest size
 * (virDomainSetMemoryFlags through the monitor seam, KiB, live only: the
 * domain's configured size stays what the operator defined). The guest inflates or deflates in its
 * own time; QEMU reports the new size with BALLOON_CHANGE (throttled to
 * one per second) and the stats poll reads it with the guest's free
 * memory. A target the balloon stops short of is the engine's "stuck"
 * (daemon/safety.h).
 */
#include <errno.h>

#include "libvirt/internal.h"
#include "log.h"

static int run_set_balloon(struct lv_call *c)
{
	const struct lv_monitor_ops *m = c->run_ctx;

	return m->set_balloon(c->dom, c->ularg);
}

static void set_balloon_done(struct lv_domain *ld, struct lv_call *c)
{
	lv_domain_call_applied(ld, (uint64_t)c->ularg << 10, c,
			       "balloon target");
}

/* The call waits for the domain's job (and for QEMU): on the worker. */
static int balloon_apply_target(struct vm *vm, uint64_t target_bytes)
{
	struct lv_domain *ld = vm->backend;
	unsigned long kib;
	int r;

	if (!ld)
		return -ENODEV;
	if (target_bytes > ld->x.memory_bytes)
		target_bytes = ld->x.memory_bytes;
	/* libvirt counts in KiB: keep the target a whole number of them,
	 * so that "reached" compares like with like. */
	target_bytes &= ~1023ull;
	if (!lv_domain_should_apply(ld, target_bytes))
		return 0;
	kib = (unsigned long)(target_bytes >> 10);
	r = lv_domain_submit(ld, run_set_balloon, ld->t->monitor, NULL, kib,
			     set_balloon_done);
	if (r == 0)
		ld->requested_bytes = target_bytes;
	return r;
}

void lv_balloon_changed(struct lv_domain *ld, unsigned long long actual_kib)
{
	ld->st.current_bytes = (uint64_t)actual_kib << 10;
	ld->st.has_current = true;
	if (ld->vm)
		log_debug("%s: balloon at %llu MiB", ld->vm->id,
			  actual_kib >> 10);
	if (ld->x.mechanism == VM_MECH_BALLOON)
		lv_domain_progress(ld, lv_domain_current(ld));
}

const struct backend_ops lv_balloon_ops = {
	.name = "libvirt-balloon",
	.refresh = lv_refresh,
	.apply_target = balloon_apply_target,
	.detach = lv_detach,
	.save_limits = lv_meta_save,
};
