/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Wire protocol between a simulated guest (tools/ha-simguest) and
 * hyperallocd's sim backend, over a SOCK_SEQPACKET unix socket.
 *
 * Every message is one packet: a struct sim_hdr followed by the body of
 * its type. Fixed-size little structs, host byte order (both ends run on
 * the same machine). Strings are NUL-padded fixed arrays; the receiver
 * checks that they are NUL-terminated.
 *
 *   guest                                   daemon
 *   HELLO (+ memfd via SCM_RIGHTS)   ->
 *                                    <-     WELCOME or ERROR
 *   INSTALL {seq, huge}              ->
 *                                    <-     INSTALLED {seq, status}
 *   REPORT {seq, n, huge[n]}         ->     (free page reporting emulation)
 *                                    <-     REPORTED {seq, status}
 *   STATUS {...}                     ->     (periodic, no reply)
 *   BYE                              ->     (clean exit, no reply)
 *
 * The daemon treats every field as hostile: sizes are checked against the
 * packet length, indices against the region, strings for termination.
 * A guest that breaks the protocol is disconnected with an ERROR naming
 * the field.
 */
#ifndef HA_SIM_PROTO_H
#define HA_SIM_PROTO_H

#include <stdint.h>

#define SIM_PROTO_MAGIC	  0x4d495348u /* "HSIM" */
#define SIM_PROTO_VERSION 1u
#define SIM_NAME_MAX	  64
#define SIM_TEXT_MAX	  256
#define SIM_REPORT_MAX	  512 /* frames per REPORT */

enum sim_msg_type {
	SIM_HELLO = 1,
	SIM_WELCOME = 2,
	SIM_ERROR = 3,
	SIM_INSTALL = 4,
	SIM_INSTALLED = 5,
	SIM_REPORT = 6,
	SIM_REPORTED = 7,
	SIM_STATUS = 8,
	SIM_BYE = 9,
};

struct sim_hdr {
	uint32_t magic; /* SIM_PROTO_MAGIC */
	uint16_t version; /* SIM_PROTO_VERSION */
	uint16_t type; /* enum sim_msg_type */
};

/* guest -> daemon, with the guest RAM memfd attached (SCM_RIGHTS). */
struct sim_hello {
	struct sim_hdr hdr;
	char name[SIM_NAME_MAX]; /* VM name, [A-Za-z0-9._-]+ */
	char uuid[37]; /* canonical text form */
	char trace[SIM_NAME_MAX]; /* workload trace name (informational) */
	uint8_t pad[3];
	uint32_t vcpus;
	uint32_t pid; /* guest process id */
	uint64_t ram_bytes; /* size of the memfd = guest RAM */
	uint64_t meta_offset; /* byte offset of the allocator region */
	uint64_t meta_len; /* bytes reserved for it (>= total_size) */
	uint32_t flags; /* SIM_HELLO_F_* */
	uint32_t pad2;
};

enum {
	SIM_HELLO_F_FPR = 1u << 0, /* guest runs free page reporting */
	SIM_HELLO_F_THP = 1u << 1, /* memfd is backed by shmem THP */
};

/* daemon -> guest */
struct sim_welcome {
	struct sim_hdr hdr;
	char id[SIM_NAME_MAX]; /* the id the API uses for this VM */
};

/* daemon -> guest, then the daemon closes the connection. */
struct sim_error {
	struct sim_hdr hdr;
	int32_t code; /* negative errno */
	char message[SIM_TEXT_MAX];
};

/* guest -> daemon: install huge frame @huge (relative to the region). */
struct sim_install {
	struct sim_hdr hdr;
	uint64_t seq;
	uint64_t huge;
};

struct sim_installed {
	struct sim_hdr hdr;
	uint64_t seq;
	int32_t status; /* 0 or a negative HA_E* code */
	uint32_t pad;
};

/* guest -> daemon: free page reporting emulation. The guest holds these
 * huge frames allocated while the host discards their backing. */
struct sim_report {
	struct sim_hdr hdr;
	uint64_t seq;
	uint32_t count;
	uint32_t pad;
	uint64_t huge[SIM_REPORT_MAX]; /* only @count entries are sent */
};

struct sim_reported {
	struct sim_hdr hdr;
	uint64_t seq;
	int32_t status;
	uint32_t discarded; /* frames whose backing was discarded */
};

/* guest -> daemon, every second or so: what only the guest knows. */
struct sim_status {
	struct sim_hdr hdr;
	uint64_t ops; /* allocations + frees so far */
	uint64_t allocated_bytes; /* memory the workload holds */
	uint64_t target_bytes; /* what the trace asks for now */
	uint64_t installs; /* install requests sent */
	uint64_t install_ns; /* total time waiting for installs */
	uint64_t canary_checks; /* 4 KiB frames verified */
	uint64_t canary_mismatches; /* MUST stay 0 */
	uint64_t alloc_failures; /* gets that returned HA_ENOMEM */
	uint64_t reported; /* frames reported (FPR mode) */
	uint64_t trace_pos_ms; /* position in the trace, trace time */
	uint64_t trace_len_ms; /* length of the trace, trace time */
	uint32_t trace_done; /* 1 when the trace has finished */
	uint32_t pad;
};

/* The wire layout is fixed: other implementations (tests in Python,
 * future guests) rely on these sizes and offsets. */
_Static_assert(sizeof(struct sim_hdr) == 8, "sim_hdr");
_Static_assert(sizeof(struct sim_hello) == 216, "sim_hello");
_Static_assert(__builtin_offsetof(struct sim_hello, vcpus) == 176,
	       "sim_hello.vcpus");
_Static_assert(__builtin_offsetof(struct sim_hello, ram_bytes) == 184,
	       "sim_hello.ram_bytes");
_Static_assert(sizeof(struct sim_welcome) == 72, "sim_welcome");
_Static_assert(sizeof(struct sim_error) == 268, "sim_error");
_Static_assert(sizeof(struct sim_install) == 24, "sim_install");
_Static_assert(sizeof(struct sim_installed) == 24, "sim_installed");
_Static_assert(sizeof(struct sim_report) == 4120, "sim_report");
_Static_assert(sizeof(struct sim_reported) == 24, "sim_reported");
_Static_assert(sizeof(struct sim_status) == 104, "sim_status");

#endif /* HA_SIM_PROTO_H */
