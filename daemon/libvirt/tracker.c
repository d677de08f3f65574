// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt tracker: one connection to cfg->libvirt.uri, whose I/O and
 * timers run on the daemon's loop (libvirt/loop.c). It lists every domain
 * when it connects, follows them through domain events, polls the balloon
 * statistics of running domains once a second, and when libvirtd goes
 * away (close callback, or a dead keepalive) it keeps the VMs, retries
 * with exponential backoff and resynchronises on reconnect: domains that
 * vanished meanwhile leave the registry, new ones join it.
 *
 * Every libvirt call here is a short RPC to libvirtd; nothing waits for a
 * guest. Guests answer through events and the stats poll.
 */
#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "libvirt/tracker.h"
#include "libvirt/internal.h"
#include "libvirt/loop.h"
#include "log.h"

#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT	     3

static void schedule_reconnect(struct libvirt_tracker *t);

/* libvirt prints every error to stderr by default; the tracker logs the
 * ones that matter itself (lv_errno). */
static void quiet_errors(void *userdata, virErrorPtr e)
{
	(void)userdata;
	(void)e;
}

/* ---- domain events ---- */

static const char *stopped_why(int detail)
{
	switch (detail) {
	case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
		return "shut down";
	case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
		return "destroyed";
	case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
		return "crashed";
	case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
		return "migrated to another host";
	case VIR_DOMAIN_EVENT_STOPPED_SAVED:
		return "saved to a file";
	case VIR_DOMAIN_EVENT_STOPPED_FAILED:
		return "QEMU failed";
	default:
		return "stopped";
	}
}

static int on_lifecycle(virConnectPtr c, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	struct libvirt_tracker *t = opaque;
	struct lv_domain *ld = lv_domain_of(t, dom);

	(void)c;
	log_debug("libvirt: %s: lifecycle event %d/%d", virDomainGetName(dom),
		  event, detail);
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
	case VIR_DOMAIN_EVENT_STARTED:
		lv_domain_sync(t, dom);
		ld = lv_domain_of(t, dom);
		if (ld && event == VIR_DOMAIN_EVENT_STARTED &&
		    detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED) {
			ld->migrating = true; /* incoming, until resumed */
			lv_domain_update_state(ld);
		}
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		if (!ld)
			break;
		if (ld->active)
			ld->persistent = false; /* transient from now on */
		else
			lv_domain_remove(ld, "domain undefined");
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		if (!ld)
			break;
		ld->lv_state = VIR_DOMAIN_PAUSED;
		if (detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED ||
		    detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
			ld->migrating = true;
		lv_domain_update_state(ld);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		if (!ld)
			break;
		ld->lv_state = VIR_DOMAIN_RUNNING;
		/* The guest runs on the destination before libvirt's
		 * migration job ends, and until it ends any other call of
		 * ours would wait for it: the migration ends with the job
		 * (JOB_COMPLETED, or the stats poll finding none). */
		if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY)
			ld->migrating = true;
		else if (detail != VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
			ld->migrating = false;
		lv_domain_update_state(ld);
		break;
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		if (!ld)
			break;
		ld->lv_state = VIR_DOMAIN_PMSUSPENDED;
		lv_domain_update_state(ld);
		break;
	case VIR_DOMAIN_EVENT_CRASHED:
		if (!ld)
			break;
		ld->crashed = true;
		ld->lv_state = VIR_DOMAIN_CRASHED;
		lv_domain_update_state(ld);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (!ld)
			break;
		ld->crashed = detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED;
		lv_domain_stopped(ld, stopped_why(detail));
		break;
	default:
		break;
	}
	return 0;
}

static void on_balloon(virConnectPtr c, virDomainPtr dom,
		       unsigned long long actual, void *opaque)
{
	struct lv_domain *ld = lv_domain_of(opaque, dom);

	(void)c;
	if (ld)
		lv_balloon_changed(ld, actual);
}

static void on_vmem_size(virConnectPtr c, virDomainPtr dom, const char *alias,
			 unsigned long long size, void *opaque)
{
	struct lv_domain *ld = lv_domain_of(opaque, dom);

	(void)c;
	if (ld)
		lv_vmem_size_changed(ld, alias, size);
}

static void on_metadata(virConnectPtr c, virDomainPtr dom, int type,
			const char *nsuri, void *opaque)
{
	struct libvirt_tracker *t = opaque;
	struct lv_domain *ld = lv_domain_of(t, dom);

	(void)c;
	if (!ld || type != VIR_DOMAIN_METADATA_ELEMENT || !nsuri ||
	    strcmp(nsuri, LV_META_NS) != 0)
		return;
	if (lv_meta_load(ld) == 0 && lv_meta_apply(ld))
		daemon_vm_steer(t->d, ld->vm);
}

static void on_migration_iteration(virConnectPtr c, virDomainPtr dom,
				   int iteration, void *opaque)
{
	struct lv_domain *ld = lv_domain_of(opaque, dom);

	(void)c;
	(void)iteration;
	if (ld && !ld->migrating) {
		ld->migrating = true;
		lv_domain_update_state(ld);
	}
}

static void on_job_completed(virConnectPtr c, virDomainPtr dom,
			     virTypedParameterPtr params, int nparams,
			     void *opaque)
{
	struct lv_domain *ld = lv_domain_of(opaque, dom);

	(void)c;
	(void)params;
	(void)nparams;
	if (ld && ld->migrating && ld->lv_state == VIR_DOMAIN_RUNNING) {
		ld->migrating = false;
		lv_domain_update_state(ld);
	}
}

/* A device came or went: the mechanism may have changed. */
static void on_device(virConnectPtr c, virDomainPtr dom, const char *alias,
		      void *opaque)
{
	(void)c;
	(void)alias;
	lv_domain_sync(opaque, dom);
}

static const struct {
	int id;
	virConnectDomainEventGenericCallback cb;
} event_table[LV_EV_COUNT] = {
	[LV_EV_LIFECYCLE] = {
		VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
	},
	[LV_EV_BALLOON] = {
		VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
		VIR_DOMAIN_EVENT_CALLBACK(on_balloon),
	},
	[LV_EV_VMEM_SIZE] = {
		VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
		VIR_DOMAIN_EVENT_CALLBACK(on_vmem_size),
	},
	[LV_EV_METADATA] = {
		VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
		VIR_DOMAIN_EVENT_CALLBACK(on_metadata),
	},
	[LV_EV_MIGRATION] = {
		VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
		VIR_DOMAIN_EVENT_CALLBACK(on_migration_iteration),
	},
	[LV_EV_JOB_COMPLETED] = {
		VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
		VIR_DOMAIN_EVENT_CALLBACK(on_job_completed),
	},
	[LV_EV_DEVICE_ADDED] = {
		VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
		VIR_DOMAIN_EVENT_CALLBACK(on_device),
	},
	[LV_EV_DEVICE_REMOVED] = {
		VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
		VIR_DOMAIN_EVENT_CALLBACK(on_device),
	},
};

/* ---- statistics ---- */

static void take_stat(struct lv_stats *st, const virTypedParameter *p)
{
	uint64_t v;

	if (p->type != VIR_TYPED_PARAM_ULLONG)
		return;
	v = (uint64_t)p->value.ul << 10; /* all balloon.* sizes are KiB */
	if (strcmp(p->field, "balloon.current") == 0) {
		st->current_bytes = v;
		st->has_current = true;
	} else if (strcmp(p->field, "balloon.maximum") == 0) {
		st->maximum_bytes = v;
	} else if (strcmp(p->field, "balloon.rss") == 0) {
		st->rss_bytes = v;
		st->has_rss = true;
	} else if (strcmp(p->field, "balloon.unused") == 0) {
		st->unused_bytes = v;
		st->has_unused = true;
	} else if (strcmp(p->field, "balloon.usable") == 0) {
		st->usable_bytes = v;
		st->has_usable = true;
	}
}

/* Drivers without balloon statistics (the test driver) still say how
 * large the domain is now. */
static void stats_fallback(struct lv_domain *ld)
{
	virDomainInfo info;

	if (!ld->dom || virDomainGetInfo(ld->dom, &info) < 0)
		return;
	ld->st.current_bytes = (uint64_t)info.memory << 10;
	ld->st.has_current = true;
}

/* A migration that failed before the guest was paused sends no event we
 * could end it with: ask for the job. */
static void check_migration(struct lv_domain *ld)
{
	virDomainJobInfo job;

	if (!ld->dom || virDomainGetJobInfo(ld->dom, &job) < 0)
		return;
	if (job.type == VIR_DOMAIN_JOB_NONE &&
	    ld->lv_state == VIR_DOMAIN_RUNNING) {
		ld->migrating = false;
		lv_domain_update_state(ld);
	}
}

static void poll_stats(struct libvirt_tracker *t)
{
	virDomainStatsRecordPtr *recs = NULL;
	int n;

	/* NOWAIT: a domain whose job is taken (a migration) is reported
	 * with what can be read without it, instead of stalling the loop
	 * until the job ends; stats_fallback() fills in. */
	n = virConnectGetAllDomainStats(
		t->conn, VIR_DOMAIN_STATS_BALLOON, &recs,
		VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
			VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	if (n < 0) {
		if (!t->stats_failing)
			lv_errno("reading balloon statistics", NULL);
		t->stats_failing = true;
		return;
	}
	t->stats_failing = false;
	for (int i = 0; i < n; i++) {
		struct lv_domain *ld = lv_domain_of(t, recs[i]->dom);
		struct lv_stats st = { 0 };

		if (!ld)
			continue;
		for (int j = 0; j < recs[i]->nparams; j++)
			take_stat(&st, &recs[i]->params[j]);
		ld->st = st;
	}
	virDomainStatsRecordListFree(recs);

	for (struct lv_domain *ld = t->domains; ld; ld = ld->next) {
		if (!ld->active)
			continue;
		if (!ld->st.has_current)
			stats_fallback(ld);
		if (ld->migrating)
			check_migration(ld);
		lv_domain_progress(ld, lv_domain_current(ld));
	}
}

static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct libvirt_tracker *t = userdata;

	sd_event_source_set_time(s, usec + LV_STATS_INTERVAL_USEC);
	if (!t->conn)
		return 0;
	if (virConnectIsAlive(t->conn) != 1) {
		log_warn("libvirt: the connection to %s is dead", t->uri);
		sd_event_source_set_enabled(t->lost, SD_EVENT_ONESHOT);
		return 0;
	}
	poll_stats(t);
	for (struct lv_domain *ld = t->domains; ld; ld = ld->next)
		lv_ha_poll(ld);
	return 0;
}

/* A QEMU monitor event of a HyperAlloc VM (HYPERALLOC_*). */
static void on_qemu_event(virConnectPtr c, virDomainPtr dom, const char *event,
			  long long seconds, unsigned int micros,
			  const char *details, void *opaque)
{
	struct libvirt_tracker *t = opaque;
	struct lv_domain *ld = lv_domain_of(t, dom);

	(void)c;
	(void)seconds;
	(void)micros;
	if (ld && ld->x.mechanism == VM_MECH_HYPERALLOC)
		lv_ha_event(ld, event, details);
}

/* ---- connection ---- */

/* List every domain: sync the known, add the new, drop the vanished. */
static int resync(struct libvirt_tracker *t)
{
	virDomainPtr *doms = NULL;
	int n;

	n = virConnectListAllDomains(t->conn, &doms, 0);
	if (n < 0)
		return lv_errno("listing the domains", NULL);
	for (struct lv_domain *ld = t->domains; ld; ld = ld->next)
		ld->seen = false;
	for (int i = 0; i < n; i++) {
		int r = lv_domain_sync(t, doms[i]);

		if (r < 0 && r != -ENOENT) {
			/* Known and still there, only unreadable now. */
			struct lv_domain *ld = lv_domain_of(t, doms[i]);

			if (ld)
				ld->seen = true;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	for (struct lv_domain *ld = t->domains, *next; ld; ld = next) {
		next = ld->next;
		if (!ld->seen)
			lv_domain_remove(ld, "domain gone while libvirt was "
					     "unreachable");
	}
	return 0;
}

static void on_close(virConnectPtr c, int reason, void *opaque)
{
	struct libvirt_tracker *t = opaque;
	static const char *const reasons[] = {
		[VIR_CONNECT_CLOSE_REASON_ERROR] = "I/O error",
		[VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd closed it",
		[VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timed out",
		[VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by us",
	};

	(void)c;
	log_warn("libvirt: connection to %s lost (%s)", t->uri,
		 reason >= 0 && reason <= VIR_CONNECT_CLOSE_REASON_CLIENT ?
			 reasons[reason] :
			 "unknown reason");
	/* Not from inside libvirt's own stack: on the next loop pass. */
	sd_event_source_set_enabled(t->lost, SD_EVENT_ONESHOT);
}

static void tracker_disconnect(struct libvirt_tracker *t)
{
	if (!t->conn)
		return;
	sd_event_source_set_enabled(t->stats_timer, SD_EVENT_OFF);
	for (int k = 0; k < LV_EV_COUNT; k++) {
		if (t->cb_ids[k] >= 0)
			virConnectDomainEventDeregisterAny(t->conn,
							   t->cb_ids[k]);
		t->cb_ids[k] = -1;
	}
	if (t->qmp_cb_id >= 0)
		virConnectDomainQemuMonitorEventDeregister(t->conn,
							   t->qmp_cb_id);
	t->qmp_cb_id = -1;
	if (t->close_cb)
		virConnectUnregisterCloseCallback(t->conn, on_close);
	t->close_cb = false;
	for (struct lv_domain *ld = t->domains; ld; ld = ld->next)
		lv_domain_disconnect(ld);
	virConnectClose(t->conn);
	t->conn = NULL;
}

static int tracker_connect(struct libvirt_tracker *t)
{
	unsigned long version = 0;
	virConnectPtr c;
	int r;

	c = virConnectOpen(t->uri);
	if (!c) {
		virErrorPtr e = virGetLastError();

		if (!t->down_logged)
			log_warn("libvirt: cannot connect to %s: %s; retrying",
				 t->uri, e && e->message ? e->message : "?");
		else
			log_debug("libvirt: still cannot connect to %s",
				  t->uri);
		t->down_logged = true;
		return -ENOTCONN;
	}
	t->conn = c;
	t->close_cb = virConnectRegisterCloseCallback(c, on_close, t, NULL) ==
		      0;
	/* Detect a libvirtd that hangs, not only one that exits. */
	virConnectSetKeepAlive(c, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
	for (int k = 0; k < LV_EV_COUNT; k++) {
		t->cb_ids[k] = virConnectDomainEventRegisterAny(
			c, NULL, event_table[k].id, event_table[k].cb, t, NULL);
		if (t->cb_ids[k] < 0)
			log_debug("libvirt: event %d not available: %s",
				  event_table[k].id, virGetLastErrorMessage());
	}
	t->qmp_cb_id = virConnectDomainQemuMonitorEventRegister(
		c, NULL, "^HYPERALLOC_", on_qemu_event, t, NULL,
		VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_REGEX);
	if (t->qmp_cb_id < 0)
		log_debug("libvirt: QEMU monitor events not available: %s",
			  virGetLastErrorMessage());
	virConnectGetLibVersion(c, &version);
	t->connects++;
	log_info("libvirt: connected to %s (libvirt %lu.%lu.%lu)%s", t->uri,
		 version / 1000000, version / 1000 % 1000, version % 1000,
		 t->connects > 1 ? ", resynchronising" : "");
	r = resync(t);
	if (r < 0) {
		tracker_disconnect(t);
		return r;
	}
	t->backoff_ms = LV_BACKOFF_MIN_MS;
	t->down_logged = false;
	sd_event_source_set_time_relative(t->stats_timer,
					  LV_STATS_INTERVAL_USEC);
	sd_event_source_set_enabled(t->stats_timer, SD_EVENT_ON);
	return 0;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct libvirt_tracker *t = userdata;

	(void)s;
	(void)usec;
	if (tracker_connect(t) < 0) {
		t->backoff_ms = t->backoff_ms * 2 > LV_BACKOFF_MAX_MS ?
					LV_BACKOFF_MAX_MS :
					t->backoff_ms * 2;
		schedule_reconnect(t);
	}
	return 0;
}

static void schedule_reconnect(struct libvirt_tracker *t)
{
	sd_event_source_set_time_relative(t->reconnect_timer,
					  t->backoff_ms * 1000);
	sd_event_source_set_enabled(t->reconnect_timer, SD_EVENT_ONESHOT);
}

static int on_lost(sd_event_source *s, void *userdata)
{
	struct libvirt_tracker *t = userdata;
	size_t n = 0;

	(void)s;
	if (!t->conn)
		return 0;
	tracker_disconnect(t);
	t->backoff_ms = LV_BACKOFF_MIN_MS;
	for (struct lv_domain *ld = t->domains; ld; ld = ld->next)
		n++;
	log_notice("libvirt: keeping %zu domains while reconnecting to %s", n,
		   t->uri);
	schedule_reconnect(t);
	return 0;
}

/* ---- the module's API ---- */

int libvirt_tracker_start(struct daemon *d)
{
	struct libvirt_tracker *t;
	int r;

	r = libvirt_loop_register(d->loop);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->d = d;
	t->uri = strdup(d->cfg->libvirt.uri ? d->cfg->libvirt.uri :
					      "qemu:///system");
	t->proc = "/proc";
	t->run_dir = "/run/libvirt/qemu";
	t->monitor = &lv_monitor_libvirt;
	t->backoff_ms = LV_BACKOFF_MIN_MS;
	for (int k = 0; k < LV_EV_COUNT; k++)
		t->cb_ids[k] = -1;
	t->qmp_cb_id = -1;
	d->libvirt = t;
	t->worker = lv_worker_new(d->loop);
	if (!t->worker) {
		log_err("libvirt: cannot set up the worker");
		libvirt_tracker_stop(d);
		return -ENOMEM;
	}
	virSetErrorFunc(NULL, quiet_errors);
	r = t->uri ? 0 : -ENOMEM;
	if (r >= 0)
		r = sd_event_add_defer(d->loop, &t->lost, on_lost, t);
	if (r >= 0)
		r = sd_event_add_time(d->loop, &t->reconnect_timer,
				      CLOCK_MONOTONIC, 0, 10000, on_reconnect,
				      t);
	if (r >= 0)
		r = sd_event_add_time(d->loop, &t->stats_timer, CLOCK_MONOTONIC,
				      0, 10000, on_stats_timer, t);
	if (r < 0) {
		log_err("libvirt: cannot set up the tracker: %s", strerror(-r));
		libvirt_tracker_stop(d);
		return r;
	}
	sd_event_source_set_enabled(t->lost, SD_EVENT_OFF);
	sd_event_source_set_enabled(t->reconnect_timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(t->stats_timer, SD_EVENT_OFF);
	if (tracker_connect(t) < 0)
		schedule_reconnect(t);
	return 0;
}

void libvirt_tracker_stop(struct daemon *d)
{
	struct libvirt_tracker *t = d->libvirt;

	if (!t)
		return;
	while (t->domains)
		lv_domain_remove(t->domains, "daemon shutting down");
	lv_worker_stop(t->worker);
	t->worker = NULL;
	tracker_disconnect(t);
	sd_event_source_disable_unref(t->lost);
	sd_event_source_disable_unref(t->reconnect_timer);
	sd_event_source_disable_unref(t->stats_timer);
	libvirt_loop_flush();
	free(t->uri);
	free(t);
	d->libvirt = NULL;
}

static int source_start(struct daemon *d)
{
	if (!d->cfg->libvirt.enabled)
		return 0;
	return libvirt_tracker_start(d);
}

const struct vm_source libvirt_source = {
	.name = "libvirt",
	.start = source_start,
	.stop = libvirt_tracker_stop,
};
