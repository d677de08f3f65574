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
	r = ld->t->monitor->update_device(ld->dom, xml);
	free(xml);
	if (r == 0)
		ld->x.vmem.requested_bytes = req;
	return lv_domain_applied(ld, logical, r, "virtio-mem requested size");
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
