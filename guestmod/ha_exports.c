// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libhyperalloc as a kernel module: lib/'s guest allocator (ha_guest.c,
 * ha_lower.c, ha_layout.c, ha_validate.c, copied in at build time and
 * compiled with the kernel shim lib/platform/kernel.h) for kernels that
 * do not have it built in. virtio_hyperalloc's test mode runs on it.
 */
#include <linux/module.h>

#include "ha_guest.h"
#include "ha_validate.h"

/* names an enum ha_err value (ha_types.h) */
EXPORT_SYMBOL_GPL(ha_strerror);
/* the one legal layout for a frame count (ha_layout.h) */
EXPORT_SYMBOL_GPL(ha_layout_compute);
/* bytes of shared metadata for a frame count */
EXPORT_SYMBOL_GPL(ha_meta_size);
/* names an enum ha_bad_reason (ha_validate.h) */
EXPORT_SYMBOL_GPL(ha_bad_str);
/* the host's header check, also for the guest */
EXPORT_SYMBOL_GPL(ha_validate_header);
/* bytes of per-CPU state (ha_guest.h) */
EXPORT_SYMBOL_GPL(ha_local_size);
/* formats or attaches a region */
EXPORT_SYMBOL_GPL(ha_guest_init);
/* allocates 2^order frames */
EXPORT_SYMBOL_GPL(ha_guest_get);
/* frees them */
EXPORT_SYMBOL_GPL(ha_guest_put);
/* free 4 KiB frames of a region */
EXPORT_SYMBOL_GPL(ha_guest_free_frames);
/* entirely free huge frames of a region */
EXPORT_SYMBOL_GPL(ha_guest_free_huge);
/* is a huge frame reclaimed by the host? */
EXPORT_SYMBOL_GPL(ha_guest_is_reclaimed);

MODULE_DESCRIPTION("libhyperalloc: the guest side of the HyperAlloc allocator");
MODULE_LICENSE("GPL");
