/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A VM source: where the daemon's VMs come from (simulated guests on a
 * socket, the domains of a libvirt connection, ...). main.c keeps the
 * table of sources; it starts each at start-up, tells each about a
 * reloaded configuration and stops each at shutdown, in the table's
 * order. A source adds and removes its VMs with daemon_vm_add() and
 * daemon_vm_remove(), each with the backend_ops of its mechanism.
 * Adding a source is one file and one line in that table. Loop thread
 * only.
 */
#ifndef HA_VM_SOURCE_H
#define HA_VM_SOURCE_H

struct daemon;

struct vm_source {
	const char *name;
	/* Start as d->cfg says (a source the configuration leaves off
	 * returns 0 and does nothing). 0, or -errno (logged) and start-up
	 * fails; stop() is called anyway. */
	int (*start)(struct daemon *d);
	/* Remove the source's VMs from the registry and release everything.
	 * Also called for a source that never started or failed to. */
	void (*stop)(struct daemon *d);
	/* d->cfg was replaced by a reloaded configuration: follow it.
	 * NULL: the source reads the configuration at start only. */
	void (*reconfigure)(struct daemon *d);
};

#endif
