// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-mem through libvirt. The VM's logical size is its boot RAM plus
 * what its (first) virtio-mem device has plugged; a target becomes the
 * device's requested size, rounded up to the device's block size and
 * kept within [0, the device's size], sent with virDomainUpdateDeviceFlags
 * (through the monitor seam, libvirt/monitor.h) as the device element libvirt gave us with a new <requested>. The guest
 * plugs or unplugs blocks in its own time; QEMU reports the plugged size
 * with MEMORY_DEVICE_SIZE_CHANGE (throttled to one per second).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt/internal.h"
#include "log.h"

static int run_update_device(struct lv_call *c)
{
	const struct lv_monitor_ops *m = c->run_ctx;

	return m->update_device(c->dom, c->arg);
}

static void update_device_done(struct lv_domain *ld, struct lv_call *c)
{
	uint64_t req = (uint64_t)c->ularg << 10;

	if (c->r == 0)
		ld->x.vmem.requested_bytes = req;
	lv_domain_call_applied(ld, lv_xml_base_bytes(&ld->x) + req, c,
			       "virtio-mem requested size");
}

/* The call waits for the domain's job (and for QEMU): on the worker. */
static int vmem_apply_target(struct vm *vm, uint64_t target_bytes)
{
	struct lv_domain *ld = vm->backend;
	uint64_t req, logical;
	char *xml = NULL;
	int r;

	if (!ld)
		return -ENODEV;
	if (!ld->x.vmem.xml)
		return -EINVAL;
	req = lv_xml_vmem_request_for(&ld->x, target_bytes);
	logical = lv_xml_base_bytes(&ld->x) + req;
	if (!lv_domain_should_apply(ld, logical))
		return 0;
	r = lv_xml_vmem_request(ld->x.vmem.xml, req, &xml);
	if (r < 0)
		return r;
	r = lv_domain_submit(ld, run_update_device, ld->t->monitor, xml,
			     (unsigned long)(req >> 10), update_device_done);
	if (r == 0)
		ld->requested_bytes = logical;
	return r;
}

void lv_vmem_size_changed(struct lv_domain *ld, const char *alias,
			  unsigned long long size_kib)
{
	if (ld->x.mechanism != VM_MECH_VIRTIO_MEM)
		return;
	/* Inactive XML has no alias; a running domain's device has one. */
	if (ld->x.vmem.alias[0] && alias && strcmp(alias, ld->x.vmem.alias))
		return;
	ld->x.vmem.current_bytes = (uint64_t)size_kib << 10;
	if (ld->vm)
		log_debug("%s: virtio-mem %s plugged %llu MiB", ld->vm->id,
			  alias ? alias : "?", size_kib >> 10);
	lv_domain_progress(ld, lv_domain_current(ld));
}

const struct backend_ops lv_vmem_ops = {
	.name = "libvirt-virtio-mem",
	.refresh = lv_refresh,
	.apply_target = vmem_apply_target,
	.detach = lv_detach,
	.save_limits = lv_meta_save,
};
