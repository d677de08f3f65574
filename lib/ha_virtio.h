/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio-hyperalloc device protocol: the one definition of what the
 * guest driver (guestmod/virtio_hyperalloc.c) and the QEMU device
 * (qemu-patches/) exchange. docs/protocol.md section 11 says the same in
 * prose; the two must agree.
 *
 * The device ID is private to this project: it is unassigned in the
 * virtio specification and in Linux 6.1's virtio_ids.h, and lies below 64
 * so that Linux's virtio-pci binds it (PCI device 0x1040 + ID). The device
 * is modern-only (VIRTIO_F_VERSION_1) and defines no feature bits of its
 * own in version 1 of this protocol.
 *
 * Every multi-byte field is little-endian. Structures have no implicit
 * padding; their sizes are part of the protocol and asserted below. The
 * device checks the size of every buffer a driver hands it and answers a
 * malformed request with an error, never by trusting its contents.
 */
#ifndef HA_VIRTIO_H
#define HA_VIRTIO_H

#include "ha_types.h"

#define HA_VIRTIO_ID		57u
#define HA_VIRTIO_PCI_DEVICE_ID (0x1040u + HA_VIRTIO_ID)

/*
 * Virtqueues. Queue 0 carries control requests (region registration);
 * queues 1 .. num_install_queues carry install requests, one queue per
 * vCPU where the device offers enough (a driver maps CPU c to install
 * queue c % num_install_queues and serialises CPUs sharing a queue).
 */
#define HA_VIRTIO_VQ_CONTROL	     0u
#define HA_VIRTIO_VQ_INSTALL_FIRST   1u
#define HA_VIRTIO_MAX_INSTALL_QUEUES 256u
#define HA_VIRTIO_MAX_REGIONS	     32u
/* Most huge frames one install request may name (1 GiB). */
#define HA_VIRTIO_INSTALL_MAX_COUNT 512u

/* ---- control queue: one request, one status ---- */
enum ha_virtio_cmd {
	HA_VIRTIO_CMD_REGISTER = 1,
};

/* Zone kinds a guest may name when it registers (informational: the
 * device orders nothing by them and checks everything itself). */
enum ha_virtio_zone {
	HA_VIRTIO_ZONE_POOL = 0, /* a reserved pool (driver test mode) */
	HA_VIRTIO_ZONE_DMA32 = 1,
	HA_VIRTIO_ZONE_NORMAL = 2,
	HA_VIRTIO_ZONE_MOVABLE = 3,
};

/*
 * Register one metadata region (struct ha_header at @meta_gpa, @meta_len
 * bytes, physically contiguous) in slot @region (0 .. max_regions - 1).
 * The managed range is the header's base_frame/frames, in guest frames.
 * A slot is registered once per device reset.
 */
struct ha_virtio_register {
	uint32_t cmd; /* HA_VIRTIO_CMD_REGISTER */
	uint32_t region;
	uint64_t meta_gpa;
	uint64_t meta_len;
	uint32_t node;
	uint32_t zone; /* enum ha_virtio_zone */
};

/* Why the device refused a request (in struct ha_virtio_status). */
enum ha_virtio_refusal {
	HA_VIRTIO_REF_NONE = 0,
	HA_VIRTIO_REF_REQUEST = 1, /* malformed: size, command, slot number */
	HA_VIRTIO_REF_SLOT = 2, /* slot already registered */
	HA_VIRTIO_REF_NOT_RAM = 3, /* metadata not inside guest RAM */
	HA_VIRTIO_REF_RANGE = 4, /* managed range not one block of RAM */
	HA_VIRTIO_REF_OVERLAP = 5, /* overlaps another region (index) */
	HA_VIRTIO_REF_METADATA = 6, /* failed validation: bad_reason */
	HA_VIRTIO_REF_QUARANTINED = 7, /* the device is quarantined */
	HA_VIRTIO_REF_COUNT,
};

/* The device's answer to a control request. @status is HA_OK or a
 * negative enum ha_err; on refusal @refusal says why, and for
 * HA_VIRTIO_REF_METADATA @bad_reason (enum ha_bad_reason), @index and
 * @value name the offending field or word. */
struct ha_virtio_status {
	int32_t status;
	uint16_t refusal;
	uint16_t bad_reason;
	uint64_t index;
	uint64_t value;
};

/* ---- install queues ---- */

/* Install @count (1 .. HA_VIRTIO_INSTALL_MAX_COUNT) consecutive huge
 * frames starting at @huge (relative to the region's base frame) of
 * region @region, before the guest touches them. */
struct ha_virtio_install {
	uint32_t region;
	uint32_t count;
	uint64_t huge;
};

/* HA_OK once every frame is installed (a frame no longer reclaimed counts
 * as installed); HA_EINVAL (no such region or count), HA_ERANGE (outside
 * the region), HA_EPROTO (hard-reclaimed: not the guest's), HA_EIO. */
struct ha_virtio_install_status {
	int32_t status;
	uint32_t done; /* frames installed before an error */
};

/* ---- configuration space (read-only for the driver) ---- */

/*
 * @hard_frames[i] is the number of huge frames of region i that the host
 * holds hard-reclaimed right now. Hard reclaim makes free frames look
 * allocated without the guest's own accounting seeing it; a guest keeps
 * its free-page counters right by applying the change of this number on
 * every configuration-change interrupt (which the device raises whenever
 * a value changes).
 */
struct ha_virtio_config {
	uint32_t num_install_queues;
	uint32_t max_regions; /* HA_VIRTIO_MAX_REGIONS */
	uint64_t hard_frames[HA_VIRTIO_MAX_REGIONS];
};

_Static_assert(sizeof(struct ha_virtio_register) == 32, "protocol size");
_Static_assert(sizeof(struct ha_virtio_status) == 24, "protocol size");
_Static_assert(sizeof(struct ha_virtio_install) == 16, "protocol size");
_Static_assert(sizeof(struct ha_virtio_install_status) == 8, "protocol size");
_Static_assert(sizeof(struct ha_virtio_config) == 8 + 8 * HA_VIRTIO_MAX_REGIONS,
	       "protocol size");
_Static_assert(HA_VIRTIO_ID < 64, "Linux virtio-pci binds IDs below 64");

#endif /* HA_VIRTIO_H */
