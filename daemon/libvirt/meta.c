// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-VM limits in the domain XML:
 *
 *   <metadata>
 *     <hyperalloc:memory xmlns:hyperalloc="urn:hyperalloc:libvirt:1"
 *                        min="268435456" max="1073741824" shares="1000"/>
 *   </metadata>
 *
 * Read when a domain is discovered (and when libvirt says the metadata
 * changed), written back when an operator changes them through the API,
 * to the live definition and to the persistent one, so that they survive
 * restarts of the daemon, of the domain and of the host, and move with
 * the VM when it migrates.
 */
#include <errno.h>
#include <stdint.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt/internal.h"
#include "log.h"

int lv_meta_load(struct lv_domain *ld)
{
	struct lv_limits l;
	char err[128];
	char *xml;
	int r;

	if (!ld->dom)
		return -ENOTCONN;
	xml = virDomainGetMetadata(ld->dom, VIR_DOMAIN_METADATA_ELEMENT,
				   LV_META_NS, 0);
	if (!xml) {
		virErrorPtr e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
			memset(&ld->limits, 0, sizeof(ld->limits));
			return 0;
		}
		return lv_errno("reading the hyperalloc metadata", ld->name);
	}
	r = lv_xml_parse_limits(xml, &l, err, sizeof(err));
	free(xml);
	if (r < 0) {
		log_warn("%s: ignoring the <hyperalloc:memory> metadata: %s",
			 ld->name, err);
		memset(&ld->limits, 0, sizeof(ld->limits));
		return r;
	}
	ld->limits = l;
	return 0;
}

bool lv_meta_apply(struct lv_domain *ld)
{
	const struct lv_limits *l = &ld->limits;
	struct vm *vm = ld->vm;
	uint64_t floor = 0, max, min;
	bool changed = false;

	if (!vm)
		return false;
	if (ld->x.mechanism == VM_MECH_VIRTIO_MEM)
		floor = lv_xml_base_bytes(&ld->x);
	max = vm->mem.max_bytes;
	min = vm->mem.min_bytes;
	if (l->has_max) {
		max = l->max_bytes > vm->ram_bytes ? vm->ram_bytes :
						     l->max_bytes;
		if (max < floor)
			max = floor;
	}
	if (l->has_min)
		min = l->min_bytes < floor ? floor : l->min_bytes;
	if (min > max) {
		log_warn("%s: metadata min %llu is above max %llu; using max",
			 vm->id, (unsigned long long)min,
			 (unsigned long long)max);
		min = max;
	}
	if (max != vm->mem.max_bytes || min != vm->mem.min_bytes) {
		vm->mem.max_bytes = max;
		vm->mem.min_bytes = min;
		changed = true;
	}
	if (l->has_shares && l->shares != vm->mem.shares) {
		vm->mem.shares = l->shares;
		changed = true;
	}
	if (changed)
		log_info("%s: limits from the domain metadata: min %llu MiB, "
			 "max %llu MiB, shares %u",
			 vm->id, (unsigned long long)(min >> 20),
			 (unsigned long long)(max >> 20), vm->mem.shares);
	return changed;
}

static bool limits_equal(const struct lv_limits *a, const struct lv_limits *b)
{
	return a->has_min == b->has_min && a->has_max == b->has_max &&
	       a->has_shares == b->has_shares && a->min_bytes == b->min_bytes &&
	       a->max_bytes == b->max_bytes && a->shares == b->shares;
}

static int run_set_metadata(struct lv_call *c)
{
	unsigned int flags = (unsigned int)c->ularg;

	return virDomainSetMetadata(c->dom, VIR_DOMAIN_METADATA_ELEMENT, c->arg,
				    LV_META_PREFIX, LV_META_NS, flags);
}

static void set_metadata_done(struct lv_domain *ld, struct lv_call *c)
{
	if (c->r < 0) {
		ld->meta_dirty = true; /* written again at the next sync */
		log_warn("%s: writing the hyperalloc metadata: %s", ld->name,
			 c->err);
		return;
	}
	log_debug("%s: metadata written: %s", ld->name, c->arg);
}

int lv_meta_save(const struct vm *vm)
{
	struct lv_domain *ld = vm->backend;
	struct lv_limits l = {
		.has_min = true,
		.has_max = true,
		.has_shares = true,
		.min_bytes = vm->mem.min_bytes,
		.max_bytes = vm->mem.max_bytes,
		.shares = vm->mem.shares,
	};
	unsigned int flags = 0;
	char xml[256], *arg;
	int r;

	if (!ld)
		return -ENODEV;
	/* The domain has them already (a new target alone changes none). */
	if (!ld->meta_dirty && limits_equal(&ld->limits, &l))
		return 0;
	ld->limits = l;
	if (!ld->t->conn || !ld->dom) {
		ld->meta_dirty = true;
		log_notice("%s: libvirt is unreachable; the limits are written "
			   "to the domain when it is back",
			   vm->id);
		return 0;
	}
	/* libvirt holds a migrating domain's job until the migration ends
	 * (an incoming one admits no other job at all): a write now would
	 * stall the loop for as long. They are written when it ends
	 * (migration_ended() in libvirt/domain.c). */
	if (ld->migrating) {
		ld->meta_dirty = true;
		log_info("%s: migrating; the limits are written to the domain "
			 "when the migration ends",
			 vm->id);
		return 0;
	}
	if (ld->active)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (ld->persistent)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	r = lv_xml_format_limits(&l, xml, sizeof(xml));
	if (r < 0)
		return r;
	/* libvirt takes the domain's job for the write: it waits for a
	 * monitor call in progress, so the write runs on the worker. */
	arg = strdup(xml);
	if (!arg)
		return -ENOMEM;
	ld->meta_dirty = false;
	r = lv_domain_submit(ld, run_set_metadata, NULL, arg, flags,
			     set_metadata_done);
	if (r < 0)
		ld->meta_dirty = true;
	return r;
}
