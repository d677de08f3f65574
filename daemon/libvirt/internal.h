/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between the files of the libvirt tracker:
 *   libvirt/tracker.c    connection, reconnect, events, periodic stats
 *   libvirt/domain.c     one tracked domain: sync, state, progress, refresh
 *   libvirt/balloon.c    virtio-balloon backend
 *   libvirt/virtiomem.c  virtio-mem backend
 *   libvirt/meta.c       limits in the domain's metadata
 *   libvirt/hyperalloc.c HyperAlloc backend (QMP through the worker,
 *                        direct reads of the guest allocator's state)
 * and the leaves they use: libvirt/monitor.h (the seam to QEMU),
 * libvirt/error.h, libvirt/progress.h and libvirt/xml.h (pure),
 * libvirt/mem.h (direct access to guest RAM), libvirt/loop.h.
 * All of it runs on the daemon's loop thread.
 */
#ifndef HA_LIBVIRT_INTERNAL_H
#define HA_LIBVIRT_INTERNAL_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "libvirt/error.h"
#include "libvirt/mem.h"
#include "libvirt/monitor.h"
#include "libvirt/progress.h"
#include "libvirt/worker.h"
#include "libvirt/xml.h"
#include "ha_layout.h"
#include "ha_virtio.h"
#include "vm.h"

struct daemon;

#define LV_STATS_INTERVAL_USEC 1000000ull /* balloon stats poll */
#define LV_STATS_PERIOD_S      2 /* guest stats period we set when it is 0 */
#define LV_RETRY_USEC	       10000000ull /* retry a refused target after */
#define LV_BACKOFF_MIN_MS      500
#define LV_BACKOFF_MAX_MS      30000
#define LV_REACHED_TOLERANCE   (1ull << 20) /* balloon granularity slack */
#define LV_CALL_TIMEOUT_USEC   5000000ull /* a monitor call's answer */
#define LV_HA_QUERY_USEC       2000000ull /* query-hyperalloc period */

enum lv_event_kind {
	LV_EV_LIFECYCLE = 0,
	LV_EV_BALLOON,
	LV_EV_VMEM_SIZE,
	LV_EV_METADATA,
	LV_EV_MIGRATION,
	LV_EV_JOB_COMPLETED,
	LV_EV_DEVICE_ADDED,
	LV_EV_DEVICE_REMOVED,
	LV_EV_COUNT,
};

/* Balloon statistics of a running domain (bytes), from the stats poll or
 * the BALLOON_CHANGE event. */
struct lv_stats {
	bool has_current, has_rss, has_unused, has_usable;
	uint64_t current_bytes; /* balloon.current: the guest's size now */
	uint64_t maximum_bytes;
	uint64_t rss_bytes; /* QEMU's resident set */
	uint64_t unused_bytes; /* MemFree in the guest */
	uint64_t usable_bytes;
};

/* One metadata region of a HyperAlloc VM, as query-hyperalloc names it
 * and as the daemon reads it itself. */
struct lv_ha_region {
	uint32_t slot;
	uint64_t meta_ram_offset, meta_size;
	uint64_t gpa, size;
	const void *meta; /* in the read-only mapping; NULL: not read directly */
	struct ha_layout layout; /* validated */
};

/* The device of a HyperAlloc VM: the last query-hyperalloc, the direct
 * reads, and what was asked of it. */
struct lv_ha {
	bool valid; /* a query has been answered this run */
	char state[16]; /* waiting, active, quarantined */
	char reason[256]; /* the device's quarantine reason */
	char refusal[256]; /* the last region it refused */
	char backend[48];
	uint64_t ram_size, target, actual;
	uint64_t free_frames, free_huge, installed, soft, hard;
	uint64_t reclaimed_hard, reclaimed_soft, returned, installs;
	uint64_t install_requests, install_ns_avg, install_ns_max;
	uint64_t discard_ns, last_reclaim_ns;
	bool auto_enabled;
	uint64_t auto_interval_ms, auto_keep;
	size_t n;
	struct lv_ha_region regions[HA_VIRTIO_MAX_REGIONS];
	bool direct; /* every region read directly */
	uint64_t queried_usec;
	bool query_pending;
	/* install rate from successive queries */
	uint64_t rate_installs, rate_usec;
	double installs_per_s;
	/* requests */
	uint64_t sent_target; /* last target QEMU accepted (0: none) */
	uint64_t pending_target; /* on its way (0: none) */
	bool auto_sent, auto_sent_on;
	uint64_t keep_sent;
	bool pass_pending; /* a hyperalloc-reclaim-free on its way */
	char last_error[256];
	uint64_t timeouts;
};

struct lv_domain {
	struct libvirt_tracker *t;
	virDomainPtr dom; /* NULL while disconnected */
	char uuid[VM_UUID_LEN];
	char name[256];
	struct vm *vm; /* NULL if not in the registry (name taken) */
	struct lv_domain_xml x; /* the last XML read */
	bool active;
	bool persistent;
	int lv_state; /* virDomainState */
	bool migrating;
	bool crashed;

	struct lv_stats st;
	struct lv_mem mem;
	struct lv_progress prog;
	struct lv_limits limits; /* from the metadata */

	uint64_t want_bytes; /* last target the engine asked for */
	uint64_t requested_bytes; /* last logical size libvirt accepted */
	uint64_t failed_usec; /* when a request last failed, 0 = none */
	struct lv_ha ha; /* HyperAlloc VMs */
	bool meta_dirty; /* limits to write once connected */
	bool mem_tried; /* direct access attempted for this run */
	bool stats_period_pending; /* set_stats_period on the worker */
	bool seen; /* resync mark */
	struct lv_domain *next;
};

struct libvirt_tracker {
	struct daemon *d;
	char *uri;
	const char *proc; /* "/proc" (tests inject their own) */
	const char *run_dir; /* libvirt's QEMU pid files */
	const struct lv_monitor_ops *monitor; /* QEMU (tests put their own) */
	struct lv_worker *worker; /* calls that may wait for a QEMU */
	virConnectPtr conn;
	int cb_ids[LV_EV_COUNT];
	int qmp_cb_id; /* QEMU monitor events (HYPERALLOC_*), -1: none */
	bool close_cb;
	sd_event_source *reconnect_timer;
	sd_event_source *lost; /* defer: drop a connection libvirt closed */
	sd_event_source *stats_timer;
	uint64_t backoff_ms;
	bool down_logged;
	bool stats_failing; /* logged once until it works again */
	unsigned connects; /* successful connections so far */
	struct lv_domain *domains;
};

/* ---- libvirt/domain.c ---- */

struct lv_domain *lv_domain_find(struct libvirt_tracker *t, const char *uuid);
/* The tracked domain of @dom, or NULL. */
struct lv_domain *lv_domain_of(struct libvirt_tracker *t, virDomainPtr dom);

/*
 * Read @dom's state, XML and metadata and bring its tracked domain up to
 * date: track and register it if new, re-register it if its mechanism
 * changed, attach direct memory access when it runs. 0 or -errno
 * (-ENOENT: the domain is gone).
 */
int lv_domain_sync(struct libvirt_tracker *t, virDomainPtr dom);

/* Stop tracking: remove the VM (VM_REMOVED with @why) and free. */
void lv_domain_remove(struct lv_domain *ld, const char *why);

/* The domain stopped: a transient one is gone (removed), a persistent
 * one stays as "stopped". @why is for people. */
void lv_domain_stopped(struct lv_domain *ld, const char *why);

/* Recompute the VM's state from the libvirt state and the flags. */
void lv_domain_update_state(struct lv_domain *ld);

/* Feed the VM's logical size now into the progress tracking: publishes
 * EV_RECLAIM_DONE when the target is reached. */
void lv_domain_progress(struct lv_domain *ld, uint64_t current_bytes);

/* Logical size now, by mechanism. */
uint64_t lv_domain_current(const struct lv_domain *ld);

/* Drop the libvirt handle (connection lost). */
void lv_domain_disconnect(struct lv_domain *ld);

/* Should apply_target call libvirt for @target? Records the wish; false
 * if there is nothing new to do or no connection (applied on reconnect). */
bool lv_domain_should_apply(struct lv_domain *ld, uint64_t target);
/* A request for @target made on the worker came back (@c: its result):
 * progress starts, or the refusal is remembered (asked again after
 * LV_RETRY_USEC) and reported. */
void lv_domain_call_applied(struct lv_domain *ld, uint64_t target,
			    const struct lv_call *c, const char *what);

/*
 * Run @run on the worker for the domain (keyed by its UUID, with
 * LV_CALL_TIMEOUT_USEC); @done follows on the loop if the domain is still
 * tracked then. @arg (malloc'd) belongs to the call. 0 or -errno (@arg
 * is freed then too).
 */
int lv_domain_submit(struct lv_domain *ld, int (*run)(struct lv_call *c),
		     const void *run_ctx, char *arg, unsigned long ularg,
		     void (*done)(struct lv_domain *ld, struct lv_call *c));

int lv_refresh(struct vm *vm);
void lv_detach(struct vm *vm);

extern const struct backend_ops lv_readonly_ops;

/* ---- libvirt/balloon.c ---- */

extern const struct backend_ops lv_balloon_ops;
/* BALLOON_CHANGE: the balloon is at @actual_kib now. */
void lv_balloon_changed(struct lv_domain *ld, unsigned long long actual_kib);

/* ---- libvirt/virtiomem.c ---- */

extern const struct backend_ops lv_vmem_ops;
/* MEMORY_DEVICE_SIZE_CHANGE of device @alias to @size_kib. */
void lv_vmem_size_changed(struct lv_domain *ld, const char *alias,
			  unsigned long long size_kib);

/* ---- libvirt/hyperalloc.c ---- */

extern const struct backend_ops lv_hyperalloc_ops;
/* Ask the device for its state unless a question is on its way or the
 * last answer is fresh (the stats timer calls it every second). */
void lv_ha_poll(struct lv_domain *ld);
/* A HYPERALLOC_* event of the domain's QEMU (@data: its JSON). */
void lv_ha_event(struct lv_domain *ld, const char *event, const char *data);
/* The domain stopped or the connection went: forget the device. */
void lv_ha_reset(struct lv_domain *ld);

/* ---- libvirt/meta.c ---- */

/* Read the limits from the domain's metadata into ld->limits. 0 (also
 * when there are none) or -errno. */
int lv_meta_load(struct lv_domain *ld);
/* Apply ld->limits to the VM (within its RAM). True if anything changed. */
bool lv_meta_apply(struct lv_domain *ld);
/*
 * backend_ops.save_limits: write the VM's limits to the domain, unless
 * it has them already. Deferred (ld->meta_dirty) while libvirtd is
 * unreachable or the domain migrates.
 */
int lv_meta_save(const struct vm *vm);

#endif
