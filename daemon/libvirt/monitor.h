/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one way the libvirt backends reach a running domain's QEMU. Every
 * call that libvirt turns into a monitor command goes through this table
 * (struct libvirt_tracker.monitor), so one place holds what steering sends
 * to QEMU, and a test can put its own table in to watch or refuse the
 * commands without a QEMU.
 *
 * Each operation returns what libvirt's call returns: 0, or -1 with
 * libvirt's error set; lv_errno() turns that into -errno (a replacement
 * that sets no libvirt error reads as -EIO). Loop thread only; each is one
 * short RPC to libvirtd.
 */
#ifndef HA_LIBVIRT_MONITOR_H
#define HA_LIBVIRT_MONITOR_H

#include <libvirt/libvirt.h>

struct lv_monitor_ops {
	/* virtio-balloon: the guest's size, in KiB, on the running domain
	 * only (virDomainSetMemoryFlags, AFFECT_LIVE). */
	int (*set_balloon)(virDomainPtr dom, unsigned long kib);
	/* virtio-balloon: how often the guest reports its statistics, live
	 * (virDomainSetMemoryStatsPeriod). */
	int (*set_stats_period)(virDomainPtr dom, int seconds);
	/* Replace a device of the running domain with @device_xml
	 * (virDomainUpdateDeviceFlags, AFFECT_LIVE): virtio-mem's requested
	 * size. */
	int (*update_device)(virDomainPtr dom, const char *device_xml);
	/* A QMP command, JSON text, for what libvirt has no call for
	 * (virDomainQemuMonitorCommand); on success the reply (malloc'd JSON
	 * text, the caller frees it) in *ret_reply. */
	int (*qmp)(virDomainPtr dom, const char *command, char **ret_reply);
};

/* libvirt's own calls: the table the tracker starts with. */
extern const struct lv_monitor_ops lv_monitor_libvirt;

#endif
