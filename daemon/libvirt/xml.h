/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the daemon reads from libvirt's domain XML, and the small XML
 * documents it writes back (the virtio-mem device with a new requested
 * size, the <hyperalloc:memory/> metadata element). Pure: strings in,
 * structs out, no libvirt calls, no logging. Every document is untrusted
 * input (an operator or another tool may have written it).
 */
#ifndef HA_LIBVIRT_XML_H
#define HA_LIBVIRT_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* The metadata namespace and the element's prefix (DESIGN.md). */
#define LV_META_NS     "urn:hyperalloc:libvirt:1"
#define LV_META_PREFIX "hyperalloc"

#define LV_SHARES_MIN 1
#define LV_SHARES_MAX 100000

enum lv_backing {
	LV_BACKING_ANONYMOUS = 0, /* QEMU's default: private anonymous RAM */
	LV_BACKING_MEMFD,
	LV_BACKING_FILE, /* file or hugetlbfs */
};

/* One <memory model='virtio-mem'> device. Sizes in bytes. */
struct lv_vmem_dev {
	char alias[64]; /* "virtiomem0"; empty in inactive XML */
	uint64_t size_bytes; /* the device's maximum */
	uint64_t block_bytes;
	uint64_t requested_bytes;
	uint64_t current_bytes; /* live XML only */
	int node;
	char *xml; /* the element as libvirt wrote it (owned) */
};

/* The QEMU device of a HyperAlloc VM, as its command line sets it up. */
#define LV_HYPERALLOC_DEVICE "virtio-hyperalloc-pci"
struct lv_hyperalloc_dev {
	bool auto_reclaim; /* auto-reclaim=on */
	uint64_t auto_interval_ms; /* auto-interval=, 0 = the default */
	bool iothread; /* install requests on an iothread */
};

struct lv_domain_xml {
	char name[256];
	char uuid[VM_UUID_LEN];
	enum vm_mechanism mechanism; /* what the daemon steers it with */

	uint64_t memory_bytes; /* <memory>: boot RAM plus memory devices */
	uint64_t current_memory_bytes; /* <currentMemory>: balloon target */
	uint64_t numa_bytes; /* sum of the NUMA cells, 0 without NUMA */

	bool balloon; /* <memballoon model='virtio…'> */
	bool free_page_reporting; /* freePageReporting='on' */
	unsigned stats_period; /* <stats period=…>, 0 = none */

	size_t n_vmem; /* virtio-mem devices; the first is steered */
	uint64_t vmem_total_bytes; /* sum of their sizes */
	struct lv_vmem_dev vmem; /* the first one */

	bool hyperalloc_device; /* qemu:commandline -device virtio-hyperalloc-pci */
	struct lv_hyperalloc_dev hyperalloc;

	enum lv_backing backing;
	bool shared; /* <access mode='shared'/>: the host may map it */
};

/*
 * Parse a domain's XML (live or inactive) into @ret. The mechanism is the
 * first that applies of: hyperalloc (the QEMU device on the command line),
 * virtio-mem, virtio-balloon, none.
 * Returns 0; -EINVAL if it is not a domain document (@err says why);
 * -ENOMEM. Free with lv_xml_domain_clear().
 */
int lv_xml_parse_domain(const char *xml, struct lv_domain_xml *ret, char *err,
			size_t err_len);
void lv_xml_domain_clear(struct lv_domain_xml *x);

/* RAM that is not in virtio-mem devices: the NUMA cells, or <memory>
 * minus the devices' sizes. */
uint64_t lv_xml_base_bytes(const struct lv_domain_xml *x);

/* Per-VM limits kept in the domain (DESIGN.md "Naming"). */
struct lv_limits {
	bool has_min, has_max, has_shares;
	uint64_t min_bytes, max_bytes;
	uint32_t shares;
};

/*
 * Parse the metadata element <memory min= max= shares=/> as
 * virDomainGetMetadata returns it. Sizes are bytes or sizes with a unit
 * ("512M"); shares 1..100000. Returns 0, or -EINVAL with @err naming the
 * attribute at fault.
 */
int lv_xml_parse_limits(const char *xml, struct lv_limits *ret, char *err,
			size_t err_len);

/* The element for virDomainSetMetadata, sizes in bytes. Returns the
 * length, or -ENOSPC if @len is too small. */
int lv_xml_format_limits(const struct lv_limits *l, char *buf, size_t len);

/* The virtio-mem requested size for a logical size of @target: what is
 * above the base RAM, rounded up to the device's block size and at most
 * the device's size (rounded down to whole blocks). */
uint64_t lv_xml_vmem_request_for(const struct lv_domain_xml *x,
				 uint64_t target);

/*
 * The virtio-mem device element @device_xml with <requested> set to
 * @requested_bytes (written in KiB), for virDomainUpdateDeviceFlags.
 * Returns 0 and a malloc'd string in *ret; -EINVAL if @device_xml is not
 * a virtio-mem device; -ENOMEM.
 */
int lv_xml_vmem_request(const char *device_xml, uint64_t requested_bytes,
			char **ret);

#endif
