/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-hyperalloc guest driver: the interface other kernel code uses.
 *
 * The device (virtio ID HA_VIRTIO_ID, lib/ha_virtio.h) reclaims the
 * backing memory of free huge frames (2 MiB) by compare-and-swapping the
 * guest allocator's own state words. Before the guest touches a frame
 * that its allocator reported as reclaimed, it must ask the device to
 * install (repopulate) every huge frame the allocation covers; that is
 * what virtio_hyperalloc_install() does.
 */
#ifndef _VIRTIO_HYPERALLOC_H
#define _VIRTIO_HYPERALLOC_H

#include <linux/types.h>

/**
 * virtio_hyperalloc_install - have the host install reclaimed huge frames
 * @region: the registration slot of the metadata region (0 .. max_regions-1)
 * @huge: first huge frame, relative to the region's base frame
 * @count: number of consecutive huge frames, 1 .. HA_VIRTIO_INSTALL_MAX_COUNT
 *
 * Sends one install request on the install queue of the calling CPU
 * (CPU c uses queue c % num_install_queues) and busy-waits for the
 * device's answer with interrupts disabled, for at most install_timeout_ms
 * (a module parameter). Callable from any context but NMI: process,
 * softirq, hardirq, with interrupts or preemption disabled. It never
 * sleeps and never allocates memory.
 *
 * Returns 0 once every frame is installed (a frame that is no longer
 * reclaimed counts as installed), or a negative errno:
 * -ENODEV    no device is bound (or it is being removed);
 * -EDEADLK   this CPU is already inside virtio_hyperalloc_install() (an
 *            interrupt or a nested allocation on its path): the caller
 *            must not use the frame and should choose another;
 * -EINVAL    bad @region or @count (checked by the device, or by the
 *            driver for @count == 0 or @count above the maximum);
 * -ERANGE    the frames lie outside the region;
 * -EPROTO    a frame is hard-reclaimed: it cannot have been allocated;
 * -EPERM     the device refuses (region quarantined or unknown state);
 * -ETIMEDOUT the device did not answer in time: the CPU's queue is marked
 *            broken and every later install on it returns -EIO;
 * -EIO       the queue is broken, or the device answered malformed data.
 * Frames are not installed when an error is returned; the caller must
 * give them back to its allocator without touching them.
 */
int virtio_hyperalloc_install(unsigned int region, u64 huge,
			      unsigned int count);

#endif /* _VIRTIO_HYPERALLOC_H */
