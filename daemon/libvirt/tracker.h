/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt tracker: every domain of one libvirt connection
 * (cfg->libvirt.uri) in the VM registry, with its state and memory
 * mechanism, followed through libvirt's events on the daemon's loop, and
 * steered through virtio-balloon or virtio-mem. See docs/architecture.md
 * "The libvirt tracker".
 */
#ifndef HA_LIBVIRT_TRACKER_H
#define HA_LIBVIRT_TRACKER_H

#include "vm_source.h"

struct daemon;

/* The libvirt VM source: the tracker below when cfg->libvirt.enabled,
 * nothing otherwise; no reconfigure (the connection is read at start). */
extern const struct vm_source libvirt_source;

/*
 * Start tracking: integrate libvirt's event loop into d->loop and connect.
 * When libvirtd cannot be reached the tracker keeps retrying with backoff;
 * that is not an error. Returns 0, or -errno when the tracker itself
 * cannot be set up (no memory, the loop refuses a source).
 */
int libvirt_tracker_start(struct daemon *d);

/* Remove the tracked VMs from the registry (leaving the domains as they
 * are) and close the connection. Accepts a daemon without a tracker. */
void libvirt_tracker_stop(struct daemon *d);

#endif
