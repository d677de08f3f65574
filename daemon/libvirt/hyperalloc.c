// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HyperAlloc backend: a libvirt domain whose QEMU carries the
 * virtio-hyperalloc device (docs/protocol.md section 11).
 *
 * Steering goes through QEMU's monitor (hyperalloc-set-target,
 * hyperalloc-set-auto, query-hyperalloc), always on the worker
 * (libvirt/worker.h): a stopped QEMU delays only its own VM. The device's
 * events (HYPERALLOC_TARGET_REACHED / _UNREACHABLE / _QUARANTINED) arrive
 * on the loop through libvirt's monitor event registration.
 *
 * The allocator state is read directly where it can be: with shared
 * memfd RAM the tracker maps the backing read-only (libvirt/mem.h), and
 * the metadata of each region the device names lies at its RAM offset in
 * that mapping. Only the metadata pages are read (the frames it manages
 * may be holes; reading a hole would allocate it), every read goes
 * through lib/'s validation and pure scan, and a backing that is not
 * sealed against shrinking is not read at all (a shrunk file would turn
 * the read into SIGBUS). Otherwise the figures come from the last query.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "ha_scan.h"
#include "ha_validate.h"
#include "libvirt/internal.h"
#include "log.h"

#define HUGE ((uint64_t)2 << 20)

/* ---- calls through the worker ---- */

static int run_qmp(struct lv_call *c)
{
	const struct lv_monitor_ops *m = c->run_ctx;
	json_t *reply, *err;
	int r;

	r = m->qmp(c->dom, c->arg, &c->reply);
	if (r < 0)
		return -1;
	/* QEMU's refusal comes back as a reply with an error object. */
	reply = c->reply ? json_loads(c->reply, 0, NULL) : NULL;
	err = reply ? json_object_get(reply, "error") : NULL;
	if (err) {
		const char *desc =
			json_string_value(json_object_get(err, "desc"));

		snprintf(c->err, sizeof(c->err), "%s",
			 desc ? desc : "QEMU refused the command");
		r = -EINVAL;
	}
	json_decref(reply);
	return r;
}

typedef void (*ha_done_fn)(struct lv_domain *ld, struct lv_call *c);

static void call_failed(struct lv_domain *ld, struct lv_call *c,
			const char *what);

static void default_done(struct lv_domain *ld, struct lv_call *c)
{
	if (c->r < 0)
		call_failed(ld, c, "a monitor command");
}

static int submit_qmp(struct lv_domain *ld, json_t *cmd, ha_done_fn fn)
{
	char *text = json_dumps(cmd, JSON_COMPACT);

	json_decref(cmd);
	if (!text)
		return -ENOMEM;
	return lv_domain_submit(ld, run_qmp, ld->t->monitor, text, 0,
				fn ? fn : default_done);
}

static void call_failed(struct lv_domain *ld, struct lv_call *c,
			const char *what)
{
	snprintf(ld->ha.last_error, sizeof(ld->ha.last_error), "%s: %.200s",
		 what, c->err[0] ? c->err : strerror(-c->r));
	if (ld->vm) {
		ld->vm->counters.apply_errors++;
		daemon_error(ld->t->d, ld->vm, "%s: %s", ld->vm->id,
			     ld->ha.last_error);
	} else {
		log_warn("%s: %s", ld->name, ld->ha.last_error);
	}
}

/* ---- the device's state ---- */

static uint64_t jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
		       (uint64_t)json_integer_value(v) :
		       0;
}

static void jstr(json_t *o, const char *key, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(buf, len, "%s", v ? v : "");
}

static void quarantine(struct lv_domain *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Read the regions' metadata directly: where the mapping covers them and
 * the backing cannot shrink. A header that fails validation quarantines
 * the VM.
 */
static void attach_direct(struct lv_domain *ld)
{
	struct lv_ha *ha = &ld->ha;
	struct ha_bad bad;

	ha->direct = ha->n > 0 && ld->mem.ram && lv_mem_sealed(&ld->mem);
	for (size_t i = 0; i < ha->n && ha->direct; i++) {
		struct lv_ha_region *r = &ha->regions[i];
		const uint8_t *meta;

		if (r->meta_ram_offset > ld->mem.ram_bytes ||
		    r->meta_size > ld->mem.ram_bytes - r->meta_ram_offset) {
			ha->direct = false;
			break;
		}
		meta = (const uint8_t *)ld->mem.ram + r->meta_ram_offset;
		if (ha_validate_header(meta, r->meta_size, &r->layout, &bad)) {
			quarantine(ld,
				   "region %u: the allocator metadata does not "
				   "validate: %s",
				   r->slot, ha_bad_str(bad.reason));
			ha->direct = false;
			break;
		}
		r->meta = meta;
	}
	if (!ha->direct) {
		for (size_t i = 0; i < ha->n; i++)
			ha->regions[i].meta = NULL;
	}
}

static bool regions_differ(const struct lv_ha *ha, json_t *regs)
{
	size_t i;
	json_t *r;

	if (json_array_size(regs) != ha->n)
		return true;
	json_array_foreach(regs, i, r) {
		const struct lv_ha_region *o = &ha->regions[i];

		if (jnum(r, "slot") != o->slot ||
		    jnum(r, "meta-ram-offset") != o->meta_ram_offset ||
		    jnum(r, "meta-size") != o->meta_size ||
		    jnum(r, "gpa") != o->gpa || jnum(r, "size") != o->size)
			return true;
	}
	return false;
}

static void take_query(struct lv_domain *ld, json_t *q)
{
	struct lv_ha *ha = &ld->ha;
	json_t *regs = json_object_get(q, "regions");
	json_t *au = json_object_get(q, "auto");
	uint64_t now = now_usec();
	bool moved;
	size_t i;
	json_t *r;

	jstr(q, "state", ha->state, sizeof(ha->state));
	jstr(q, "quarantine-reason", ha->reason, sizeof(ha->reason));
	jstr(q, "last-refusal", ha->refusal, sizeof(ha->refusal));
	jstr(q, "backend", ha->backend, sizeof(ha->backend));
	ha->ram_size = jnum(q, "ram-size");
	ha->target = jnum(q, "target");
	ha->actual = jnum(q, "actual");
	ha->free_frames = jnum(q, "free-frames");
	ha->free_huge = jnum(q, "free-huge");
	ha->installed = jnum(q, "installed");
	ha->soft = jnum(q, "soft");
	ha->hard = jnum(q, "hard");
	ha->reclaimed_hard = jnum(q, "reclaimed-hard");
	ha->reclaimed_soft = jnum(q, "reclaimed-soft");
	ha->returned = jnum(q, "returned");
	ha->installs = jnum(q, "installs");
	ha->install_requests = jnum(q, "install-requests");
	ha->install_ns_avg = jnum(q, "install-ns-avg");
	ha->install_ns_max = jnum(q, "install-ns-max");
	ha->discard_ns = jnum(q, "discard-ns");
	ha->last_reclaim_ns = jnum(q, "last-reclaim-ns");
	ha->auto_enabled = json_is_true(json_object_get(au, "enabled"));
	ha->auto_interval_ms = jnum(au, "interval-ms");
	ha->auto_keep = jnum(au, "keep");
	if (ha->rate_usec && now > ha->rate_usec &&
	    ha->installs >= ha->rate_installs)
		ha->installs_per_s =
			(double)(ha->installs - ha->rate_installs) * 1e6 /
			(double)(now - ha->rate_usec);
	ha->rate_installs = ha->installs;
	ha->rate_usec = now;

	moved = regions_differ(ha, regs);
	if (moved) {
		memset(ha->regions, 0, sizeof(ha->regions));
		ha->n = 0;
		json_array_foreach(regs, i, r) {
			struct lv_ha_region *o;

			if (ha->n == HA_VIRTIO_MAX_REGIONS)
				break;
			o = &ha->regions[ha->n++];
			o->slot = (uint32_t)jnum(r, "slot");
			o->meta_ram_offset = jnum(r, "meta-ram-offset");
			o->meta_size = jnum(r, "meta-size");
			o->gpa = jnum(r, "gpa");
			o->size = jnum(r, "size");
		}
	}
	ha->valid = true;
	ha->queried_usec = now;
	if (moved || (!ha->direct && ha->n))
		attach_direct(ld);
	if (strcmp(ha->state, "quarantined") == 0)
		quarantine(ld, "the device quarantined the VM: %s", ha->reason);
}

static void query_done(struct lv_domain *ld, struct lv_call *c)
{
	json_t *reply;

	ld->ha.query_pending = false;
	if (c->r < 0) {
		if (!ld->ha.last_error[0] || c->r == -ETIMEDOUT)
			call_failed(ld, c, "query-hyperalloc");
		return;
	}
	reply = json_loads(c->reply, 0, NULL);
	if (reply && json_is_object(json_object_get(reply, "return")))
		take_query(ld, json_object_get(reply, "return"));
	json_decref(reply);
	if (ld->vm)
		lv_domain_progress(ld, lv_domain_current(ld));
}

void lv_ha_poll(struct lv_domain *ld)
{
	uint64_t now = now_usec();

	if (ld->x.mechanism != VM_MECH_HYPERALLOC || !ld->active ||
	    ld->migrating || ld->ha.query_pending ||
	    (ld->ha.valid && now - ld->ha.queried_usec < LV_HA_QUERY_USEC))
		return;
	if (submit_qmp(ld, json_pack("{s:s}", "execute", "query-hyperalloc"),
		       query_done) == 0)
		ld->ha.query_pending = true;
}

void lv_ha_reset(struct lv_domain *ld)
{
	memset(&ld->ha, 0, sizeof(ld->ha));
}

/* ---- quarantine ---- */

static void quarantine(struct lv_domain *ld, const char *fmt, ...)
{
	struct vm *vm = ld->vm;
	va_list ap;

	if (!vm || vm->state == VM_STATE_QUARANTINED)
		return;
	vm->state = VM_STATE_QUARANTINED;
	va_start(ap, fmt);
	vsnprintf(vm->state_reason, sizeof(vm->state_reason), fmt, ap);
	va_end(ap);
	log_err("%s: quarantined: %s; all memory is given back and no more "
		"reclaim is done",
		vm->id, vm->state_reason);
	event_vm(&ld->t->d->bus, EV_VM_QUARANTINED, vm, "%s", vm->state_reason);
	/* Give everything back; the device does it itself if it noticed. */
	if (ld->ha.ram_size && strcmp(ld->ha.state, "quarantined") != 0) {
		submit_qmp(ld,
			   json_pack("{s:s,s:{s:I}}", "execute",
				     "hyperalloc-set-target", "arguments",
				     "size", (json_int_t)ld->ha.ram_size),
			   NULL);
		submit_qmp(ld,
			   json_pack("{s:s,s:{s:b}}", "execute",
				     "hyperalloc-set-auto", "arguments",
				     "enabled", 0),
			   NULL);
	}
	ld->ha.direct = false;
}

/* ---- events from QEMU ---- */

void lv_ha_event(struct lv_domain *ld, const char *event, const char *data)
{
	struct vm *vm = ld->vm;
	json_t *d = data ? json_loads(data, 0, NULL) : NULL;

	log_debug("%s: QEMU event %s %s", ld->name, event, data ? data : "");
	if (strcmp(event, "HYPERALLOC_TARGET_REACHED") == 0) {
		ld->ha.actual = jnum(d, "actual");
		ld->ha.last_reclaim_ns = jnum(d, "duration-ns");
		ld->ha.queried_usec = 0; /* ask again now */
		lv_ha_poll(ld);
		if (vm)
			lv_domain_progress(ld, lv_domain_current(ld));
	} else if (strcmp(event, "HYPERALLOC_TARGET_UNREACHABLE") == 0 && vm &&
		   vm->state == VM_STATE_RUNNING) {
		const struct config *c = ld->t->d->cfg;

		vm->state = VM_STATE_STUCK;
		vm->counters.stuck_total++;
		vm->safety.stuck_until_ms =
			now_usec() / 1000 + c->policy.stuck_holdoff_ms;
		snprintf(
			vm->state_reason, sizeof(vm->state_reason),
			"the device cannot reach target %llu bytes (now %llu): "
			"the guest has no more free 2 MiB frames outside the "
			"ones its CPUs hold",
			(unsigned long long)jnum(d, "target"),
			(unsigned long long)jnum(d, "actual"));
		log_warn("%s: stuck: %s", vm->id, vm->state_reason);
		event_vm(&ld->t->d->bus, EV_VM_STUCK, vm, "%s",
			 vm->state_reason);
	} else if (strcmp(event, "HYPERALLOC_QUARANTINED") == 0) {
		const char *why =
			json_string_value(json_object_get(d, "reason"));

		snprintf(ld->ha.state, sizeof(ld->ha.state), "quarantined");
		snprintf(ld->ha.reason, sizeof(ld->ha.reason), "%s",
			 why ? why : "");
		quarantine(ld, "the device quarantined the VM: %s",
			   why ? why : "corrupt metadata");
	}
	json_decref(d);
}

/* ---- backend operations ---- */

/* The figures of every region, read directly; false if they cannot be
 * (then the last query's stand). */
static bool scan_direct(struct lv_domain *ld, struct ha_scan *ret)
{
	struct lv_ha *ha = &ld->ha;
	struct ha_scan s;
	struct ha_bad bad;

	memset(ret, 0, sizeof(*ret));
	if (!ha->direct)
		return false;
	for (size_t i = 0; i < ha->n; i++) {
		const struct lv_ha_region *r = &ha->regions[i];

		if (ha_scan(r->meta, &r->layout, &s, &bad)) {
			quarantine(ld,
				   "region %u: the allocator metadata is "
				   "corrupt: %s (index %llu, value 0x%llx)",
				   r->slot, ha_bad_str(bad.reason),
				   (unsigned long long)bad.index,
				   (unsigned long long)bad.value);
			return false;
		}
		ret->free_frames += s.free_frames;
		ret->free_huge += s.free_huge;
		ret->free_huge_installed += s.free_huge_installed;
		ret->installed += s.installed;
		ret->soft += s.soft;
		ret->hard += s.hard;
		ret->installing += s.installing;
	}
	return true;
}

static void fill_device(const struct lv_domain *ld, struct vm_device *d)
{
	const struct lv_ha *ha = &ld->ha;

	d->valid = ha->valid;
	snprintf(d->state, sizeof(d->state), "%s", ha->state);
	snprintf(d->reason, sizeof(d->reason), "%s", ha->reason);
	snprintf(d->last_refusal, sizeof(d->last_refusal), "%s", ha->refusal);
	snprintf(d->last_error, sizeof(d->last_error), "%s", ha->last_error);
	snprintf(d->backend, sizeof(d->backend), "%s", ha->backend);
	d->direct_reads = ha->direct;
	d->regions = (uint32_t)ha->n;
	d->install_requests = ha->install_requests;
	d->install_ns_avg = ha->install_ns_avg;
	d->install_ns_max = ha->install_ns_max;
	d->installs_per_s = ha->installs_per_s;
	d->auto_reclaim = ha->auto_enabled;
	d->auto_interval_ms = ha->auto_interval_ms;
	d->auto_keep_bytes = ha->auto_keep;
	d->last_reclaim_ns = ha->last_reclaim_ns;
	d->monitor_timeouts = ha->timeouts;
}

static int ha_refresh(struct vm *vm)
{
	struct lv_domain *ld = vm->backend;
	struct lv_ha *ha;
	struct ha_scan s;
	uint64_t hard, soft, free_frames, free_inst;
	int r;

	if (!ld)
		return -ENODEV;
	ha = &ld->ha;
	r = lv_refresh(vm);
	if (r < 0 || !ld->active || !ha->valid) {
		fill_device(ld, &vm->device);
		return r;
	}
	if (scan_direct(ld, &s)) {
		ha->hard = s.hard; /* fresher than the last query */
		ha->soft = s.soft;
		hard = s.hard;
		soft = s.soft;
		free_frames = s.free_frames;
		free_inst = s.free_huge_installed;
	} else {
		hard = ha->hard;
		soft = ha->soft;
		free_frames = ha->free_frames;
		free_inst = ha->free_huge > soft ? ha->free_huge - soft : 0;
	}
	vm->mem.reclaimed_bytes = hard * HUGE;
	vm->mem.current_bytes =
		vm->ram_bytes > vm->mem.reclaimed_bytes ?
			vm->ram_bytes - vm->mem.reclaimed_bytes :
			0;
	vm->mem.soft_reclaimed_bytes = soft * HUGE;
	vm->mem.guest_free_bytes = free_frames * 4096;
	vm->free_huge_installed_bytes = free_inst * HUGE;
	vm->counters.reclaimed_hard_frames = ha->reclaimed_hard;
	vm->counters.reclaimed_soft_frames = ha->reclaimed_soft;
	vm->counters.returned_frames = ha->returned;
	vm->counters.installed_frames = ha->installs;
	vm->counters.discard_ns = ha->discard_ns;
	vm->counters.monitor_timeouts = ha->timeouts;
	vm->counters.guest_installs = ha->install_requests;
	vm->counters.guest_install_ns =
		ha->install_requests * ha->install_ns_avg;
	fill_device(ld, &vm->device);
	return 0;
}

static void target_done(struct lv_domain *ld, struct lv_call *c)
{
	uint64_t target = ld->ha.pending_target;

	ld->ha.pending_target = 0;
	if (c->r < 0) {
		ld->requested_bytes = target;
		ld->failed_usec = now_usec();
		call_failed(ld, c, "hyperalloc-set-target");
		return;
	}
	ld->ha.sent_target = target;
	ld->ha.last_error[0] = '\0';
	ld->ha.queried_usec = 0;
	lv_ha_poll(ld);
}

static int ha_apply_target(struct vm *vm, uint64_t target_bytes)
{
	struct lv_domain *ld = vm->backend;
	uint64_t target;
	int r;

	if (!ld)
		return -ENODEV;
	/* The device takes whole 2 MiB frames: round up, never below the
	 * VM's minimum. */
	target = (target_bytes + HUGE - 1) / HUGE * HUGE;
	if (target > vm->ram_bytes)
		target = vm->ram_bytes;
	if (!lv_domain_should_apply(ld, target) ||
	    target == ld->ha.pending_target)
		return 0;
	r = submit_qmp(ld,
		       json_pack("{s:s,s:{s:I}}", "execute",
				 "hyperalloc-set-target", "arguments", "size",
				 (json_int_t)target),
		       target_done);
	if (r < 0)
		return r;
	ld->ha.pending_target = target;
	ld->requested_bytes = target;
	ld->failed_usec = 0;
	lv_progress_start(&ld->prog, target, lv_domain_current(ld), now_usec());
	log_info("%s: hyperalloc-set-target %llu MiB", ld->name,
		 (unsigned long long)(target >> 20));
	return 0;
}

static void auto_done(struct lv_domain *ld, struct lv_call *c)
{
	if (c->r < 0) {
		ld->ha.auto_sent = false; /* ask again */
		call_failed(ld, c, "hyperalloc-set-auto");
		if (ld->vm)
			ld->vm->mem.auto_reclaim = ld->ha.auto_enabled;
	}
}

static int send_auto(struct lv_domain *ld, bool on, uint64_t keep)
{
	const struct config *c = ld->t->d->cfg;
	json_t *cmd;
	int r;

	if (on)
		cmd = json_pack("{s:s,s:{s:b,s:I,s:I}}", "execute",
				"hyperalloc-set-auto", "arguments", "enabled",
				1, "interval-ms",
				(json_int_t)(c->policy.tick_ms ?
						     c->policy.tick_ms :
						     1000),
				"keep", (json_int_t)keep);
	else
		cmd = json_pack("{s:s,s:{s:b}}", "execute",
				"hyperalloc-set-auto", "arguments", "enabled",
				0);
	r = submit_qmp(ld, cmd, auto_done);
	if (r == 0) {
		ld->ha.auto_sent = true;
		ld->ha.auto_sent_on = on;
		ld->ha.keep_sent = keep;
	}
	return r;
}

static int ha_set_auto(struct vm *vm, bool enabled)
{
	struct lv_domain *ld = vm->backend;
	int r;

	if (!ld)
		return -ENODEV;
	if (!ld->dom || !ld->active) {
		vm->mem.auto_reclaim = enabled; /* sent when it runs */
		return 0;
	}
	r = send_auto(ld, enabled, ld->ha.keep_sent);
	if (r == 0)
		vm->mem.auto_reclaim = enabled;
	return r;
}

static void reclaim_free_done(struct lv_domain *ld, struct lv_call *c)
{
	ld->ha.pass_pending = false;
	if (c->r < 0)
		call_failed(ld, c, "hyperalloc-reclaim-free");
}

/* One pass of soft reclaim on the device (hyperalloc-reclaim-free),
 * unless the last one has not been answered yet. */
static int64_t ha_reclaim_free(struct vm *vm, uint64_t keep_free_bytes)
{
	struct lv_domain *ld = vm->backend;
	uint64_t keep = keep_free_bytes / HUGE * HUGE;
	uint64_t free_inst = vm->free_huge_installed_bytes;
	int r;

	if (!ld)
		return -ENODEV;
	if (!ld->dom || !ld->active || vm->state == VM_STATE_QUARANTINED ||
	    free_inst <= keep)
		return 0;
	if (!ld->ha.pass_pending) {
		r = submit_qmp(ld,
			       json_pack("{s:s,s:{s:I}}", "execute",
					 "hyperalloc-reclaim-free", "arguments",
					 "keep", (json_int_t)keep),
			       reclaim_free_done);
		if (r < 0)
			return r;
		ld->ha.pass_pending = true;
	}
	return (int64_t)(free_inst - keep);
}

const struct backend_ops lv_hyperalloc_ops = {
	.name = "libvirt-hyperalloc",
	.refresh = ha_refresh,
	.apply_target = ha_apply_target,
	.set_auto = ha_set_auto,
	.reclaim_free = ha_reclaim_free,
	.detach = lv_detach,
	.save_limits = lv_meta_save,
};
