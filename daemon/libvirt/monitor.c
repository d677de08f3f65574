// SPDX-License-Identifier: GPL-2.0-or-later
/* The seam to QEMU's monitor, through libvirt (see monitor.h). */
#include "libvirt/monitor.h"

#include <libvirt/libvirt-qemu.h>

static int set_balloon(virDomainPtr dom, unsigned long kib)
{
	return virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_LIVE);
}

static int set_stats_period(virDomainPtr dom, int seconds)
{
	return virDomainSetMemoryStatsPeriod(dom, seconds,
					     VIR_DOMAIN_AFFECT_LIVE);
}

static int update_device(virDomainPtr dom, const char *device_xml)
{
	return virDomainUpdateDeviceFlags(dom, device_xml,
					  VIR_DOMAIN_AFFECT_LIVE);
}

static int qmp(virDomainPtr dom, const char *command, char **ret_reply)
{
	return virDomainQemuMonitorCommand(
		dom, command, ret_reply,
		VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT);
}

const struct lv_monitor_ops lv_monitor_libvirt = {
	.set_balloon = set_balloon,
	.set_stats_period = set_stats_period,
	.update_device = update_device,
	.qmp = qmp,
};
