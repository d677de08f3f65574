// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One tracked libvirt domain: its registry entry, its state, what its
 * memory looks like now, and the progress of the last target toward which
 * it is being steered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libvirt/virterror.h>

#include "daemon.h"
#include "libvirt/internal.h"
#include "log.h"

struct lv_domain *lv_domain_find(struct libvirt_tracker *t, const char *uuid)
{
	for (struct lv_domain *ld = t->domains; ld; ld = ld->next) {
		if (strcasecmp(ld->uuid, uuid) == 0)
			return ld;
	}
	return NULL;
}

struct lv_domain *lv_domain_of(struct libvirt_tracker *t, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return NULL;
	return lv_domain_find(t, uuid);
}

/* ---- state ---- */

static void migration_ended(struct lv_domain *ld);

void lv_domain_update_state(struct lv_domain *ld)
{
	struct vm *vm = ld->vm;
	enum vm_state old, s;

	if (!vm)
		return;
	old = vm->state;
	switch (ld->lv_state) {
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		s = VM_STATE_PAUSED;
		break;
	case VIR_DOMAIN_SHUTOFF:
	case VIR_DOMAIN_CRASHED: /* kept for a dump: not running */
		s = VM_STATE_STOPPED;
		break;
	default:
		s = VM_STATE_RUNNING;
		break;
	}
	if (!ld->active || s == VM_STATE_STOPPED)
		s = VM_STATE_STOPPED;
	else if (old == VM_STATE_QUARANTINED)
		s = VM_STATE_QUARANTINED; /* until the VM runs anew */
	else if (ld->migrating)
		s = VM_STATE_MIGRATING;
	else if (s == VM_STATE_RUNNING && vm->safety.stuck_until_ms)
		s = VM_STATE_STUCK; /* the engine's verdict stands */
	if (s == VM_STATE_QUARANTINED)
		; /* keeps its reason */
	else if (s == VM_STATE_STOPPED && ld->crashed)
		snprintf(vm->state_reason, sizeof(vm->state_reason),
			 "the guest crashed");
	else if (!vm->safety.stuck_until_ms || s == VM_STATE_STOPPED)
		vm->state_reason[0] = '\0'; /* a stuck VM keeps its reason */
	vm->state = s;
	if (old == s)
		return;
	log_info("%s: %s -> %s", vm->id, vm_state_to_string(old),
		 vm_state_to_string(s));
	if (old == VM_STATE_MIGRATING && s != VM_STATE_STOPPED)
		migration_ended(ld);
	/* Steering was paused (migration, stopped): catch up now. */
	if ((old == VM_STATE_MIGRATING || old == VM_STATE_STOPPED ||
	     old == VM_STATE_PAUSED) &&
	    (s == VM_STATE_RUNNING || s == VM_STATE_PAUSED))
		daemon_vm_steer(ld->t->d, vm);
}

uint64_t lv_domain_current(const struct lv_domain *ld)
{
	const struct lv_domain_xml *x = &ld->x;

	switch (x->mechanism) {
	case VM_MECH_VIRTIO_MEM:
		return lv_xml_base_bytes(x) + x->vmem.current_bytes;
	case VM_MECH_HYPERALLOC:
		if (ld->active && ld->ha.valid)
			return ld->ha.ram_size - ld->ha.hard * (2ull << 20);
		return x->memory_bytes;
	case VM_MECH_BALLOON:
	case VM_MECH_NONE:
	case VM_MECH_SIM:
		break;
	}
	if (ld->active && ld->st.has_current)
		return ld->st.current_bytes;
	return x->current_memory_bytes;
}

void lv_domain_progress(struct lv_domain *ld, uint64_t current)
{
	struct vm *vm = ld->vm;
	struct event ev = { .type = EV_RECLAIM_DONE };
	uint64_t from = ld->prog.from_bytes;

	if (!vm || lv_progress_step(&ld->prog, current, LV_REACHED_TOLERANCE) !=
			   LV_PROGRESS_REACHED)
		return;
	lv_refresh(vm);
	snprintf(ev.vm, sizeof(ev.vm), "%s", vm->id);
	ev.target_bytes = ld->prog.target_bytes;
	ev.current_bytes = current;
	ev.bytes = lv_progress_moved(&ld->prog, current);
	ev.duration_us = now_usec() - ld->prog.start_usec;
	snprintf(ev.message, sizeof(ev.message),
		 "%s %llu MiB in %.1f ms through %s",
		 current <= from ? "reclaimed" : "returned",
		 (unsigned long long)(ev.bytes >> 20),
		 (double)ev.duration_us / 1000.0,
		 vm_mechanism_to_string(vm->mechanism));
	event_publish(&ld->t->d->bus, &ev);
	log_info("%s: target reached: %s", vm->id, ev.message);
}

/* ---- applying targets: what the backends share ---- */

bool lv_domain_should_apply(struct lv_domain *ld, uint64_t target)
{
	ld->want_bytes = target;
	if (!ld->t->conn || !ld->dom || !ld->active)
		return false; /* applied after the next sync */
	if (target != ld->requested_bytes)
		return true;
	return ld->failed_usec && now_usec() - ld->failed_usec >= LV_RETRY_USEC;
}

/* ---- calls that may wait for QEMU: on the worker ---- */

struct submit_ctx {
	struct libvirt_tracker *t;
	void (*done)(struct lv_domain *ld, struct lv_call *c);
};

static void submit_done(struct lv_call *c)
{
	struct submit_ctx *x = c->opaque;
	struct lv_domain *ld = lv_domain_find(x->t, c->key);

	if (ld && c->r == -ETIMEDOUT)
		ld->ha.timeouts++;
	if (ld && x->done)
		x->done(ld, c);
	free(x);
}

int lv_domain_submit(struct lv_domain *ld, int (*run)(struct lv_call *c),
		     const void *run_ctx, char *arg, unsigned long ularg,
		     void (*done)(struct lv_domain *ld, struct lv_call *c))
{
	struct libvirt_tracker *t = ld->t;
	struct submit_ctx *x;
	struct lv_call *c;

	if (!ld->dom || !t->worker) {
		free(arg);
		return -ENOTCONN;
	}
	c = lv_call_new(ld->dom, ld->uuid);
	x = malloc(sizeof(*x));
	if (!c || !x) {
		free(arg);
		free(c);
		free(x);
		return -ENOMEM;
	}
	x->t = t;
	x->done = done;
	c->run = run;
	c->run_ctx = run_ctx;
	c->done = submit_done;
	c->opaque = x;
	c->arg = arg;
	c->ularg = ularg;
	return lv_worker_submit(t->worker, c, LV_CALL_TIMEOUT_USEC);
}

void lv_domain_call_applied(struct lv_domain *ld, uint64_t target,
			    const struct lv_call *c, const char *what)
{
	if (c->r < 0) {
		/* Remember the refusal: asked again after LV_RETRY_USEC. */
		ld->failed_usec = now_usec();
		if (ld->vm) {
			ld->vm->counters.apply_errors++;
			daemon_error(ld->t->d, ld->vm, "%s: %s: %s", ld->vm->id,
				     what, c->err);
		}
		return;
	}
	ld->failed_usec = 0;
	lv_progress_start(&ld->prog, target, lv_domain_current(ld), now_usec());
	log_info("%s: %s: target %llu MiB", ld->name, what,
		 (unsigned long long)(target >> 20));
	lv_domain_progress(ld, lv_domain_current(ld));
}

/* ---- backend operations shared by every mechanism ---- */

int lv_refresh(struct vm *vm)
{
	struct lv_domain *ld = vm->backend;
	int64_t resident;

	if (!ld)
		return -ENODEV;
	vm->mem.current_bytes = lv_domain_current(ld);
	if (vm->mem.current_bytes > vm->ram_bytes)
		vm->mem.current_bytes = vm->ram_bytes;
	resident = ld->mem.n ? lv_mem_resident(&ld->mem) : -ENOENT;
	if (resident >= 0)
		vm->mem.host_resident_bytes = (uint64_t)resident;
	else if (ld->active && ld->st.has_rss)
		vm->mem.host_resident_bytes = ld->st.rss_bytes;
	else
		vm->mem.host_resident_bytes = 0;
	vm->mem.guest_free_bytes =
		ld->active && ld->st.has_unused ? ld->st.unused_bytes : 0;
	vm->mem.reclaimed_bytes = vm->ram_bytes - vm->mem.current_bytes;
	vm->mem.soft_reclaimed_bytes = 0;
	vm->mem.updated_at_usec = realtime_usec();
	return 0;
}

void lv_detach(struct vm *vm)
{
	struct lv_domain *ld = vm->backend;

	if (ld)
		ld->vm = NULL;
	vm->backend = NULL;
}

/* none: tracked and measured, not steered. */
const struct backend_ops lv_readonly_ops = {
	.name = "libvirt-readonly",
	.refresh = lv_refresh,
	.detach = lv_detach,
	.save_limits = lv_meta_save,
};

/* ---- tracking ---- */

static const struct backend_ops *ops_for(enum vm_mechanism m)
{
	switch (m) {
	case VM_MECH_BALLOON:
		return &lv_balloon_ops;
	case VM_MECH_VIRTIO_MEM:
		return &lv_vmem_ops;
	case VM_MECH_HYPERALLOC:
		return &lv_hyperalloc_ops;
	case VM_MECH_NONE:
	case VM_MECH_SIM:
		break;
	}
	return &lv_readonly_ops;
}

static void attach_memory(struct lv_domain *ld)
{
	uint64_t main_bytes = lv_xml_base_bytes(&ld->x);
	pid_t pid;
	int r;

	if (ld->mem.n || ld->mem_tried || !ld->active || !ld->x.shared ||
	    ld->x.backing == LV_BACKING_ANONYMOUS)
		return;
	ld->mem_tried = true; /* once per run of the domain */
	r = lv_mem_find_qemu(ld->t->proc, ld->t->run_dir, ld->name, ld->uuid,
			     &pid);
	if (r == 0)
		r = lv_mem_attach(&ld->mem, ld->t->proc, pid, main_bytes);
	if (r < 0) {
		log_warn("%s: no direct access to guest RAM: %s", ld->name,
			 strerror(-r));
		return;
	}
	if (!ld->mem.ram) {
		log_notice("%s: guest RAM of QEMU pid %d not mapped: %s",
			   ld->name, (int)pid, ld->mem.unmapped);
		return;
	}
	log_info("%s: guest RAM of QEMU pid %d mapped read-only (%zu "
		 "backing%s, main %llu MiB)",
		 ld->name, (int)pid, ld->mem.n, ld->mem.n == 1 ? "" : "s",
		 (unsigned long long)(ld->mem.ram_bytes >> 20));
}

/* Fill a new VM's sizes and limits from the XML and the metadata. */
static void vm_init_memory(struct lv_domain *ld, struct vm *vm)
{
	const struct lv_domain_xml *x = &ld->x;
	const struct config *c = ld->t->d->cfg;
	uint64_t floor = 0;

	vm->ram_bytes = x->memory_bytes;
	if (x->mechanism == VM_MECH_VIRTIO_MEM) {
		floor = lv_xml_base_bytes(x);
		vm->ram_bytes = floor + x->vmem.size_bytes;
	}
	vm->mem.max_bytes = vm->ram_bytes;
	vm->mem.min_bytes =
		c->defaults.min_bytes > floor ? c->defaults.min_bytes : floor;
	if (vm->mem.min_bytes > vm->ram_bytes)
		vm->mem.min_bytes = vm->ram_bytes;
	vm->mem.shares = c->defaults.shares;
	vm->mem.target_bytes = lv_domain_current(ld);
	vm->mem.auto_reclaim = false;
}

static const char *domain_id(const struct lv_domain *ld)
{
	return vm_id_valid(ld->name) ? ld->name : ld->uuid;
}

static int register_vm(struct lv_domain *ld)
{
	struct daemon *d = ld->t->d;
	struct vm *vm;
	int r;

	vm = vm_new(domain_id(ld), ld->uuid, ld->x.mechanism);
	if (!vm)
		return -ENOMEM;
	vm->ops = ops_for(ld->x.mechanism);
	vm->backend = ld;
	vm_init_memory(ld, vm);
	ld->vm = vm;
	lv_meta_apply(ld);
	lv_domain_update_state(ld);
	lv_ha_poll(ld);
	vm->ops->refresh(vm);
	r = daemon_vm_add(d, vm);
	if (r < 0) {
		ld->vm = NULL;
		vm_free(vm);
		daemon_error(d, NULL, "libvirt domain %s (%s) not tracked: %s",
			     ld->name, ld->uuid,
			     r == -EEXIST ? "a VM with that name exists" :
					    strerror(-r));
		return r;
	}
	/* The domain's metadata wins over the local state file: it moves
	 * with the VM and may have been edited with virsh. */
	if (lv_meta_apply(ld))
		daemon_vm_steer(d, vm);
	log_info("%s: libvirt domain, %s%s%s, %s, %s memory", vm->id,
		 vm_mechanism_to_string(ld->x.mechanism),
		 ld->x.balloon && ld->x.free_page_reporting ?
			 " (free page reporting on)" :
			 "",
		 ld->x.n_vmem > 1 ? " (first virtio-mem device steered)" : "",
		 ld->active ? "running" : "stopped",
		 ld->x.backing == LV_BACKING_MEMFD ? "memfd" :
		 ld->x.backing == LV_BACKING_FILE  ? "file" :
						     "anonymous");
	return 0;
}

/* Hand a target the engine asked for while disconnected to libvirt. */
static void apply_wanted(struct lv_domain *ld)
{
	struct vm *vm = ld->vm;

	if (vm && vm->ops->apply_target && ld->active && !ld->migrating &&
	    ld->want_bytes && ld->want_bytes != ld->requested_bytes)
		vm->ops->apply_target(vm, ld->want_bytes);
}

/*
 * Have the balloon driver report its statistics (free memory) if no
 * period is set. A live change: not while the domain migrates (libvirt
 * would make us wait for the migration's job), afterwards.
 */
static int run_stats_period(struct lv_call *c)
{
	const struct lv_monitor_ops *m = c->run_ctx;

	return m->set_stats_period(c->dom, (int)c->ularg);
}

static void stats_period_done(struct lv_domain *ld, struct lv_call *c)
{
	ld->stats_period_pending = false;
	if (c->r < 0)
		log_warn("%s: setting the balloon stats period: %s", ld->name,
			 c->err);
	else
		ld->x.stats_period = (unsigned)c->ularg;
}

static void ensure_stats_period(struct lv_domain *ld)
{
	if (!ld->active || ld->migrating || !ld->dom || !ld->x.balloon ||
	    ld->x.stats_period || ld->stats_period_pending)
		return;
	/* A live change takes the domain's job: on the worker. */
	if (lv_domain_submit(ld, run_stats_period, ld->t->monitor, NULL,
			     LV_STATS_PERIOD_S, stats_period_done) == 0)
		ld->stats_period_pending = true;
}

/* What waited for the end of a migration, the domain still ours. */
static void migration_ended(struct lv_domain *ld)
{
	if (ld->meta_dirty && ld->vm)
		lv_meta_save(ld->vm);
	ensure_stats_period(ld);
}

int lv_domain_sync(struct libvirt_tracker *t, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN], err[128];
	struct lv_domain_xml x;
	struct lv_domain *ld;
	int state, reason, active, persistent, r;
	char *xml;

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return lv_errno("virDomainGetUUIDString", NULL);
	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return lv_errno("virDomainGetState", NULL);
	active = virDomainIsActive(dom);
	persistent = virDomainIsPersistent(dom);
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml || active < 0 || persistent < 0)
		return lv_errno("reading the domain", NULL);
	r = lv_xml_parse_domain(xml, &x, err, sizeof(err));
	free(xml);
	if (r < 0) {
		log_warn("domain %s: unusable XML: %s", uuid, err);
		return r;
	}

	ld = lv_domain_find(t, uuid);
	if (!ld) {
		ld = calloc(1, sizeof(*ld));
		if (!ld) {
			lv_xml_domain_clear(&x);
			return -ENOMEM;
		}
		ld->t = t;
		lv_mem_init(&ld->mem);
		snprintf(ld->uuid, sizeof(ld->uuid), "%s", uuid);
		ld->next = t->domains;
		t->domains = ld;
	}
	if (ld->dom != dom) {
		if (ld->dom)
			virDomainFree(ld->dom);
		virDomainRef(dom);
		ld->dom = dom;
	}
	if (ld->vm && ld->x.mechanism != x.mechanism) {
		log_notice("%s: memory mechanism changed from %s to %s",
			   ld->name, vm_mechanism_to_string(ld->x.mechanism),
			   vm_mechanism_to_string(x.mechanism));
		daemon_vm_remove(t->d, ld->vm, "memory mechanism changed");
	}
	/* A new run, or a new connection: forget the stale view. */
	if (!active || (active && !ld->active)) {
		memset(&ld->st, 0, sizeof(ld->st));
		ld->prog.active = false;
		lv_ha_reset(ld);
		lv_mem_detach(&ld->mem);
		ld->mem_tried = false;
		if (active && ld->vm && ld->vm->state == VM_STATE_QUARANTINED)
			ld->vm->state = VM_STATE_RUNNING; /* a new guest */
	}
	lv_xml_domain_clear(&ld->x);
	ld->x = x;
	snprintf(ld->name, sizeof(ld->name), "%s", x.name);
	ld->active = active;
	ld->persistent = persistent;
	ld->lv_state = state;
	ld->migrating = (state == VIR_DOMAIN_PAUSED &&
			 (reason == VIR_DOMAIN_PAUSED_MIGRATION ||
			  reason == VIR_DOMAIN_PAUSED_POSTCOPY)) ||
			(ld->migrating && active);
	ld->crashed = state == VIR_DOMAIN_CRASHED ||
		      (state == VIR_DOMAIN_SHUTOFF &&
		       reason == VIR_DOMAIN_SHUTOFF_CRASHED);
	/* What the domain is asked to be now, unless a request of ours is
	 * still on its way. */
	if (!ld->prog.active && x.mechanism == VM_MECH_VIRTIO_MEM)
		ld->requested_bytes =
			lv_xml_base_bytes(&x) + x.vmem.requested_bytes;
	else if (!ld->prog.active)
		ld->requested_bytes = x.current_memory_bytes;
	ld->failed_usec = 0;
	ld->seen = true;

	/* Limits changed through the API while libvirtd was away go out
	 * first; then the domain's are the ones that count. */
	if (ld->meta_dirty && ld->vm)
		lv_meta_save(ld->vm);
	if (!ld->meta_dirty)
		lv_meta_load(ld);
	attach_memory(ld);
	ensure_stats_period(ld);
	if (!ld->vm)
		return register_vm(ld);
	lv_domain_update_state(ld);
	if (lv_meta_apply(ld))
		daemon_vm_steer(t->d, ld->vm);
	apply_wanted(ld);
	lv_ha_poll(ld);
	ld->vm->ops->refresh(ld->vm);
	return 0;
}

void lv_domain_disconnect(struct lv_domain *ld)
{
	if (ld->dom)
		virDomainFree(ld->dom);
	ld->dom = NULL;
}

void lv_domain_remove(struct lv_domain *ld, const char *why)
{
	struct libvirt_tracker *t = ld->t;

	for (struct lv_domain **p = &t->domains; *p; p = &(*p)->next) {
		if (*p == ld) {
			*p = ld->next;
			break;
		}
	}
	if (ld->vm)
		daemon_vm_remove(t->d, ld->vm, why);
	lv_domain_disconnect(ld);
	lv_mem_detach(&ld->mem);
	lv_xml_domain_clear(&ld->x);
	free(ld);
}

void lv_domain_stopped(struct lv_domain *ld, const char *why)
{
	if (!ld->persistent) {
		lv_domain_remove(ld, why);
		return;
	}
	ld->active = false;
	ld->migrating = false;
	ld->lv_state = VIR_DOMAIN_SHUTOFF;
	memset(&ld->st, 0, sizeof(ld->st));
	ld->prog.active = false;
	lv_ha_reset(ld);
	lv_mem_detach(&ld->mem);
	ld->mem_tried = false;
	if (ld->vm && ld->vm->state == VM_STATE_QUARANTINED)
		ld->vm->state = VM_STATE_STOPPED;
	if (ld->vm)
		log_info("%s: %s", ld->vm->id, why);
	lv_domain_update_state(ld);
	if (ld->vm)
		lv_refresh(ld->vm);
}
