// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The libvirt tracker against libvirt's test driver, on a real sd-event
 * loop: libvirt's event implementation, discovery, lifecycle events,
 * mechanism detection, limits in the metadata (read, written through the
 * control API, changed from outside), balloon steering to completion,
 * refusals, the engine's stuck state, resynchronisation after a reconnect,
 * and
 * direct access to a memfd-backed "guest RAM".
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "engine.h"
#include "libvirt/tracker.h"
#include "libvirt/internal.h"
#include "libvirt/loop.h"
#include "log.h"

#define MiB	    (1ull << 20)
#define FIXTURE_URI "test://" LV_FIXTURES "/libvirt-node.xml"
#define EVENTS_MAX  512

static struct {
	struct daemon d;
	struct event evs[EVENTS_MAX];
	size_t n_evs;
} H;

static void on_event(const struct event *ev, void *userdata)
{
	(void)userdata;
	if (H.n_evs < EVENTS_MAX)
		H.evs[H.n_evs++] = *ev;
}

static void start(const char *uri)
{
	log_set_level(LOG_LEVEL_NOTICE);
	event_bus_init(&H.d.bus);
	ck_assert_int_ge(sd_event_new(&H.d.loop), 0);
	H.d.cfg = config_new_default();
	ck_assert_ptr_nonnull(H.d.cfg);
	free(H.d.cfg->libvirt.uri);
	H.d.cfg->libvirt.uri = strdup(uri);
	H.d.cfg->libvirt.enabled = true;
	H.d.cfg->defaults.min_bytes = 64 * MiB;
	ck_assert_int_ge(event_subscribe(&H.d.bus, on_event, NULL), 0);
	ck_assert_int_eq(libvirt_tracker_start(&H.d), 0);
}

static void stop(void)
{
	libvirt_tracker_stop(&H.d);
	ck_assert_ptr_null(H.d.libvirt);
	ck_assert_uint_eq(H.d.vms.count, 0);
	/* Every watch and timer libvirt made is gone with the connection. */
	ck_assert_uint_eq(libvirt_loop_watches(), 0);
	ck_assert_uint_eq(libvirt_loop_timers(), 0);
	sd_event_unref(H.d.loop);
	config_free(H.d.cfg);
}

/*
 * Tests wait for the state or event they are about, never for a time: the
 * loop runs until @cond holds. WAIT_USEC only keeps a broken build from
 * hanging (the tcase timeout is 20 s).
 */
#define WAIT_USEC 15000000ull

#define WAIT_UNTIL(cond)                                            \
	do {                                                        \
		uint64_t end_ = now_usec() + WAIT_USEC;             \
		while (!(cond)) {                                   \
			ck_assert_msg(now_usec() < end_,            \
				      "waited in vain for " #cond); \
			sd_event_run(H.d.loop, 50000);              \
		}                                                   \
	} while (0)

/* Event @t for @vm published after index @from, or NULL. */
static const struct event *find_event(enum event_type t, const char *vm,
				      size_t from)
{
	for (size_t i = from; i < H.n_evs; i++) {
		if (H.evs[i].type == t && (!vm || strcmp(H.evs[i].vm, vm) == 0))
			return &H.evs[i];
	}
	return NULL;
}

/* Run the loop until event @t for @vm arrives after index @from. */
static const struct event *wait_event(enum event_type t, const char *vm,
				      size_t from)
{
	WAIT_UNTIL(find_event(t, vm, from));
	return find_event(t, vm, from);
}

static struct vm *vm_get(const char *id)
{
	return vm_registry_find(&H.d.vms, id);
}

static virConnectPtr conn(void)
{
	return H.d.libvirt->conn;
}

/* The libvirt state the tracker last learnt for @vm (virDomainState). */
static int lv_state(const struct vm *vm)
{
	return ((const struct lv_domain *)vm->backend)->lv_state;
}

/*
 * Wait until the tracker has handled every event of running domain @dom
 * sent so far: libvirt delivers a connection's events in order, so once
 * the tracker has seen a pause and a resume sent now, it has seen what
 * came before them.
 */
static void barrier(virDomainPtr dom)
{
	struct vm *vm = lv_domain_of(H.d.libvirt, dom)->vm;

	ck_assert_int_eq(virDomainSuspend(dom), 0);
	WAIT_UNTIL(lv_state(vm) == VIR_DOMAIN_PAUSED);
	ck_assert_int_eq(virDomainResume(dom), 0);
	WAIT_UNTIL(lv_state(vm) == VIR_DOMAIN_RUNNING);
}

static const struct ctl_caller root = {
	.authenticated = true,
	.credentials_given = true,
	.who = "test",
};

/* ---- libvirt's event loop on sd-event ---- */

static int fired[4];
static int freed[4];

static void timer_cb(int timer, void *opaque)
{
	(void)timer;
	fired[(intptr_t)opaque]++;
}

static void free_cb(void *opaque)
{
	freed[(intptr_t)opaque]++;
}

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	char c;

	(void)watch;
	if (events & VIR_EVENT_HANDLE_READABLE)
		ck_assert_int_eq(read(fd, &c, 1), 1);
	fired[(intptr_t)opaque]++;
}

START_TEST(test_loop_timers)
{
	int a, b, c;

	ck_assert_int_ge(sd_event_new(&H.d.loop), 0);
	ck_assert_int_eq(libvirt_loop_register(H.d.loop), 0);
	a = virEventAddTimeout(20, timer_cb, (void *)0, free_cb);
	b = virEventAddTimeout(-1, timer_cb, (void *)1, free_cb);
	c = virEventAddTimeout(3600000, timer_cb, (void *)2, free_cb);
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	ck_assert_int_gt(c, 0);
	ck_assert_uint_eq(libvirt_loop_timers(), 3);
	/* Periodic: fires again and again; a disabled one never fires,
	 * nor one whose period (an hour) has not come round. */
	WAIT_UNTIL(fired[0] >= 5);
	ck_assert_int_eq(fired[1], 0);
	ck_assert_int_eq(fired[2], 0);

	/* Removal stops at once; the free callback comes from the loop. */
	ck_assert_int_eq(virEventRemoveTimeout(a), 0);
	ck_assert_int_eq(freed[0], 0);
	int seen = fired[0];

	WAIT_UNTIL(freed[0] == 1);
	ck_assert_int_eq(fired[0], seen);
	ck_assert_int_eq(virEventRemoveTimeout(a), -1);

	/* 0: on every iteration; -1: off again. */
	virEventUpdateTimeout(b, 0);
	for (int i = 0; i < 5; i++)
		sd_event_run(H.d.loop, 0);
	ck_assert_int_ge(fired[1], 3);
	virEventUpdateTimeout(b, -1);
	seen = fired[1];
	for (int i = 0; i < 5; i++)
		sd_event_run(H.d.loop, 0);
	ck_assert_int_eq(fired[1], seen);

	ck_assert_int_eq(virEventRemoveTimeout(b), 0);
	ck_assert_int_eq(virEventRemoveTimeout(c), 0);
	WAIT_UNTIL(freed[1] == 1 && freed[2] == 1);
	ck_assert_int_eq(fired[2], 0);
	ck_assert_uint_eq(libvirt_loop_timers(), 0);
	libvirt_loop_flush();
	sd_event_unref(H.d.loop);
}
END_TEST

START_TEST(test_loop_handles)
{
	int p[2], r1, r2, w;

	ck_assert_int_ge(sd_event_new(&H.d.loop), 0);
	ck_assert_int_eq(libvirt_loop_register(H.d.loop), 0);
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	r1 = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, handle_cb,
			       (void *)0, free_cb);
	ck_assert_int_gt(r1, 0);
	/* The same fd twice (libvirt allows disjoint event sets). */
	r2 = virEventAddHandle(p[0], 0, handle_cb, (void *)1, free_cb);
	ck_assert_int_gt(r2, 0);
	w = virEventAddHandle(p[1], VIR_EVENT_HANDLE_WRITABLE, handle_cb,
			      (void *)2, free_cb);
	ck_assert_int_gt(w, 0);
	ck_assert_uint_eq(libvirt_loop_watches(), 3);

	WAIT_UNTIL(fired[2] >= 1); /* a pipe is writable */
	ck_assert_int_eq(fired[0], 0); /* nothing to read yet */
	virEventUpdateHandle(w, 0);
	int seen = fired[2];

	ck_assert_int_eq(write(p[1], "xy", 2), 2);
	WAIT_UNTIL(fired[0] >= 1);
	ck_assert_int_eq(fired[2], seen); /* no events asked: no callback */
	ck_assert_int_eq(fired[1], 0);

	/* Hand reading over to the second watch. */
	virEventUpdateHandle(r1, 0);
	virEventUpdateHandle(r2, VIR_EVENT_HANDLE_READABLE);
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	WAIT_UNTIL(fired[1] >= 1);

	ck_assert_int_eq(virEventRemoveHandle(r1), 0);
	ck_assert_int_eq(virEventRemoveHandle(r2), 0);
	ck_assert_int_eq(virEventRemoveHandle(w), 0);
	ck_assert_int_eq(virEventRemoveHandle(w), -1);
	ck_assert_int_eq(freed[0] + freed[1] + freed[2], 0);
	sd_event_run(H.d.loop, 0);
	ck_assert_int_eq(freed[0] + freed[1] + freed[2], 3);
	ck_assert_uint_eq(libvirt_loop_watches(), 0);
	libvirt_loop_flush();
	close(p[0]);
	close(p[1]);
	sd_event_unref(H.d.loop);
}
END_TEST

/* ---- discovery and mechanisms ---- */

START_TEST(test_discover_default)
{
	struct vm *vm;

	start("test:///default");
	ck_assert_uint_eq(H.d.libvirt->connects, 1);
	vm = vm_get("test");
	ck_assert_ptr_nonnull(vm);
	ck_assert_str_eq(vm->uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
	ck_assert_int_eq(vm->mechanism, VM_MECH_BALLOON);
	ck_assert_int_eq(vm->state, VM_STATE_RUNNING);
	ck_assert_uint_eq(vm->ram_bytes, 8192 * MiB);
	ck_assert_uint_eq(vm->mem.max_bytes, 8192 * MiB);
	ck_assert_uint_eq(vm->mem.current_bytes, 2048 * MiB);
	ck_assert_ptr_nonnull(vm->ops->apply_target);
	ck_assert_ptr_nonnull(find_event(EV_VM_ADDED, "test", 0));
	/* The stats poll reads the size (here: the driver's fallback). */
	WAIT_UNTIL(((struct lv_domain *)vm->backend)->st.has_current);
	stop();
}
END_TEST

START_TEST(test_discover_fixture)
{
	struct vm *bal, *vmem, *none, *off;

	start(FIXTURE_URI);
	ck_assert_uint_eq(H.d.vms.count, 4);
	bal = vm_get("ha-bal");
	vmem = vm_get("ha-vmem");
	none = vm_get("ha-none");
	off = vm_get("ha-off");
	ck_assert(bal && vmem && none && off);

	ck_assert_int_eq(bal->mechanism, VM_MECH_BALLOON);
	ck_assert(((struct lv_domain *)bal->backend)->x.free_page_reporting);
	ck_assert_uint_eq(bal->ram_bytes, 512 * MiB);
	ck_assert_uint_eq(bal->mem.current_bytes, 384 * MiB);
	/* Limits from <hyperalloc:memory min='128M' max=… shares='500'/> */
	ck_assert_uint_eq(bal->mem.min_bytes, 128 * MiB);
	ck_assert_uint_eq(bal->mem.max_bytes, 384 * MiB);
	ck_assert_uint_eq(bal->mem.shares, 500);

	/* virtio-mem: 256 MiB boot RAM + a 768 MiB device. */
	ck_assert_int_eq(vmem->mechanism, VM_MECH_VIRTIO_MEM);
	ck_assert_uint_eq(vmem->ram_bytes, 1024 * MiB);
	ck_assert_uint_eq(vmem->mem.max_bytes, 1024 * MiB);
	ck_assert_uint_eq(vmem->mem.min_bytes, 256 * MiB);
	ck_assert_uint_ge(vmem->mem.current_bytes, 256 * MiB);

	ck_assert_int_eq(none->mechanism, VM_MECH_NONE);
	ck_assert_ptr_null(none->ops->apply_target);
	ck_assert_int_eq(none->state, VM_STATE_RUNNING);

	ck_assert_int_eq(off->mechanism, VM_MECH_BALLOON);
	ck_assert_int_eq(off->state, VM_STATE_STOPPED);
	stop();
}
END_TEST

START_TEST(test_none_is_read_only)
{
	struct ctl_memory_update u = { .has_target = true,
				       .target_bytes = 200 * MiB };
	struct error err;

	start(FIXTURE_URI);
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-none", &u, &err),
			 -EOPNOTSUPP);
	ck_assert_int_eq(err.status, ERROR_CONFLICT);
	ck_assert_int_eq(error_status_http(err.status), 409);
	ck_assert_ptr_nonnull(strstr(err.reason, "none"));
	stop();
}
END_TEST

/* ---- lifecycle ---- */

static const char new_domain[] =
	"<domain type='test'><name>ha-new</name>"
	"<memory unit='MiB'>300</memory><vcpu>1</vcpu>"
	"<os><type arch='x86_64'>hvm</type></os>"
	"<devices><memballoon model='virtio'/></devices></domain>";

START_TEST(test_lifecycle)
{
	virConnectPtr other = virConnectOpen("test:///default");
	virDomainPtr dom;
	struct vm *vm;
	size_t mark;

	start("test:///default");
	ck_assert_ptr_nonnull(other);

	/* Defined through another connection: tracked, stopped. */
	dom = virDomainDefineXML(other, new_domain);
	ck_assert_ptr_nonnull(dom);
	ck_assert_ptr_nonnull(wait_event(EV_VM_ADDED, "ha-new", 0));
	vm = vm_get("ha-new");
	ck_assert_int_eq(vm->state, VM_STATE_STOPPED);
	ck_assert_int_eq(vm->mechanism, VM_MECH_BALLOON);

	ck_assert_int_eq(virDomainCreate(dom), 0);
	WAIT_UNTIL(vm_get("ha-new")->state == VM_STATE_RUNNING);
	ck_assert_int_eq(virDomainSuspend(dom), 0);
	WAIT_UNTIL(vm_get("ha-new")->state == VM_STATE_PAUSED);
	ck_assert_int_eq(virDomainResume(dom), 0);
	WAIT_UNTIL(vm_get("ha-new")->state == VM_STATE_RUNNING);
	/* A persistent domain that stops stays, as stopped. */
	ck_assert_int_eq(virDomainDestroy(dom), 0);
	WAIT_UNTIL(vm_get("ha-new")->state == VM_STATE_STOPPED);
	ck_assert_ptr_null(find_event(EV_VM_REMOVED, "ha-new", 0));
	/* Undefined: it leaves. */
	mark = H.n_evs;
	ck_assert_int_eq(virDomainUndefine(dom), 0);
	ck_assert_ptr_nonnull(wait_event(EV_VM_REMOVED, "ha-new", mark));
	ck_assert_ptr_null(vm_get("ha-new"));
	virDomainFree(dom);

	/* A transient domain leaves when it stops. */
	dom = virDomainCreateXML(other, new_domain, 0);
	ck_assert_ptr_nonnull(dom);
	mark = H.n_evs;
	ck_assert_ptr_nonnull(wait_event(EV_VM_ADDED, "ha-new", mark));
	ck_assert_int_eq(vm_get("ha-new")->state, VM_STATE_RUNNING);
	ck_assert_int_eq(virDomainDestroy(dom), 0);
	const struct event *ev = wait_event(EV_VM_REMOVED, "ha-new", mark);

	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(strstr(ev->message, "destroyed"));
	ck_assert_ptr_null(vm_get("ha-new"));
	virDomainFree(dom);
	virConnectClose(other);
	stop();
}
END_TEST

/* A target set while the domain is shut off is the VM's target at once
 * (the API shows it) and reaches libvirt when the domain starts. */
START_TEST(test_target_while_stopped)
{
	struct ctl_memory_update u = { .has_target = true,
				       .target_bytes = 200 * MiB };
	virConnectPtr other = virConnectOpen("test:///default");
	struct error err;
	virDomainInfo info;
	virDomainPtr dom;
	struct vm *vm;

	start("test:///default");
	ck_assert_ptr_nonnull(other);
	dom = virDomainDefineXML(other, new_domain);
	ck_assert_ptr_nonnull(dom);
	ck_assert_ptr_nonnull(wait_event(EV_VM_ADDED, "ha-new", 0));
	vm = vm_get("ha-new");
	ck_assert_int_eq(vm->state, VM_STATE_STOPPED);

	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-new", &u, &err), 0);
	ck_assert_uint_eq(vm->mem.target_bytes, 200 * MiB);
	ck_assert_int_eq(vm->mem.target_source, VM_TARGET_MANUAL);
	ck_assert_uint_eq(vm->counters.apply_errors, 0);
	/* Nothing asked of the shut-off domain. */
	ck_assert_int_eq(virDomainGetInfo(dom, &info), 0);
	ck_assert_uint_eq(info.memory, 300 * 1024);

	ck_assert_int_eq(virDomainCreate(dom), 0);
	WAIT_UNTIL(vm_get("ha-new")->state == VM_STATE_RUNNING &&
		   virDomainGetInfo(dom, &info) == 0 &&
		   info.memory == 200 * 1024);
	vm = vm_get("ha-new");
	ck_assert_uint_eq(vm->mem.target_bytes, 200 * MiB);

	ck_assert_int_eq(virDomainDestroy(dom), 0);
	ck_assert_int_eq(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(other);
	stop();
}
END_TEST

/* ---- limits in the metadata ---- */

static char *metadata(virDomainPtr dom, unsigned flags)
{
	return virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
				    LV_META_NS, flags);
}

static bool metadata_is(virDomainPtr dom, const char *want)
{
	char *live = metadata(dom, VIR_DOMAIN_AFFECT_LIVE);
	bool same = live && strcmp(live, want) == 0;

	free(live);
	return same;
}

START_TEST(test_metadata_written_through_api)
{
	struct ctl_memory_update u = { .has_min = true,
				       .min_bytes = 160 * MiB,
				       .has_max = true,
				       .max_bytes = 448 * MiB,
				       .has_shares = true,
				       .shares = 2000 };
	struct error err;
	virDomainPtr dom;
	char *live, *config;

	start(FIXTURE_URI);
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-bal", &u, &err), 0);
	dom = virDomainLookupByName(conn(), "ha-bal");
	/* The write runs on the worker: wait for it to land. */
	WAIT_UNTIL(metadata_is(dom, "<memory min=\"167772160\" "
				    "max=\"469762048\" shares=\"2000\"/>"));
	live = metadata(dom, VIR_DOMAIN_AFFECT_LIVE);
	config = metadata(dom, VIR_DOMAIN_AFFECT_CONFIG);
	ck_assert_ptr_nonnull(live);
	ck_assert_ptr_nonnull(config);
	ck_assert_str_eq(live, "<memory min=\"167772160\" max=\"469762048\" "
			       "shares=\"2000\"/>");
	ck_assert_str_eq(config, live);
	free(live);
	free(config);

	/* A stopped persistent domain: written to its definition. */
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-off", &u, &err), 0);
	virDomainFree(dom);
	dom = virDomainLookupByName(conn(), "ha-off");
	/* A stopped domain's write goes through the worker too. */
	WAIT_UNTIL((config = metadata(dom, VIR_DOMAIN_AFFECT_CONFIG)));
	ck_assert_ptr_nonnull(config);
	ck_assert_ptr_nonnull(strstr(config, "shares=\"2000\""));
	free(config);
	virDomainFree(dom);
	stop();
}
END_TEST

START_TEST(test_metadata_changed_outside)
{
	virDomainPtr dom;
	struct vm *vm;

	start(FIXTURE_URI);
	dom = virDomainLookupByName(conn(), "ha-bal");
	ck_assert_int_eq(
		virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
				     "<memory shares='42' max='300M'/>",
				     LV_META_PREFIX, LV_META_NS,
				     VIR_DOMAIN_AFFECT_LIVE),
		0);
	vm = vm_get("ha-bal");
	WAIT_UNTIL(vm->mem.shares == 42);
	ck_assert_uint_eq(vm->mem.max_bytes, 300 * MiB);
	/* Nonsense is ignored, the limits stay. */
	ck_assert_int_eq(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
					      "<memory shares='0'/>",
					      LV_META_PREFIX, LV_META_NS,
					      VIR_DOMAIN_AFFECT_LIVE),
			 0);
	barrier(dom);
	ck_assert_uint_eq(vm_get("ha-bal")->mem.shares, 42);
	virDomainFree(dom);
	stop();
}
END_TEST

/* ---- steering ---- */

START_TEST(test_balloon_target_reached)
{
	struct ctl_memory_update u = { .has_target = true,
				       .target_bytes = 256 * MiB };
	const struct event *ev;
	struct error err;
	virDomainInfo info;
	virDomainPtr dom;

	start(FIXTURE_URI);
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-bal", &u, &err), 0);
	ev = wait_event(EV_RECLAIM_DONE, "ha-bal", 0);
	ck_assert_ptr_nonnull(ev);
	ck_assert_uint_eq(ev->target_bytes, 256 * MiB);
	ck_assert_uint_eq(ev->bytes, 128 * MiB);
	ck_assert_uint_eq(vm_get("ha-bal")->mem.current_bytes, 256 * MiB);
	ck_assert_uint_eq(vm_get("ha-bal")->mem.reclaimed_bytes, 256 * MiB);
	dom = virDomainLookupByName(conn(), "ha-bal");
	ck_assert_int_eq(virDomainGetInfo(dom, &info), 0);
	ck_assert_uint_eq(info.memory, 256 * 1024);
	virDomainFree(dom);
	stop();
}
END_TEST

START_TEST(test_refused_target_not_retried_every_tick)
{
	struct ctl_memory_update u = { .has_target = true,
				       .target_bytes = 512 * MiB };
	struct error err;
	struct vm *vm;

	uint64_t errors;
	size_t mark;

	start(FIXTURE_URI);
	vm = vm_get("ha-vmem");
	errors = vm->counters.apply_errors;
	mark = H.n_evs;
	/* The test driver cannot resize memory devices: refused. */
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-vmem", &u, &err),
			 0);
	/* The call runs on the worker: its refusal arrives on the loop. */
	WAIT_UNTIL(find_event(EV_ERROR, "ha-vmem", mark));
	WAIT_UNTIL(lv_worker_pending(H.d.libvirt->worker, vm->uuid) == 0);
	ck_assert_uint_gt(vm->counters.apply_errors, errors);
	errors = vm->counters.apply_errors;
	/* The engine asks every tick; libvirt is not asked again yet. */
	daemon_vm_steer(&H.d, vm);
	daemon_vm_steer(&H.d, vm);
	ck_assert_uint_eq(lv_worker_pending(H.d.libvirt->worker, vm->uuid), 0);
	ck_assert_uint_eq(vm->counters.apply_errors, errors);
	stop();
}
END_TEST

/* Every command to QEMU goes through the tracker's monitor table: a
 * test's own table sees the balloon target and can refuse it. */
static struct {
	unsigned long balloon_kib;
	int balloon_calls;
	int refuse;
} mon;

/* Called on the worker thread: the fields are atomic. */
static int fake_set_balloon(virDomainPtr dom, unsigned long kib)
{
	(void)dom;
	__atomic_store_n(&mon.balloon_kib, kib, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&mon.balloon_calls, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&mon.refuse, __ATOMIC_SEQ_CST) ? -1 : 0;
}

static int balloon_calls(void)
{
	return __atomic_load_n(&mon.balloon_calls, __ATOMIC_SEQ_CST);
}

START_TEST(test_monitor_seam)
{
	struct ctl_memory_update u = { .has_target = true,
				       .target_bytes = 256 * MiB };
	virDomainPtr dom;
	struct error err;
	char *reply = NULL;
	struct vm *vm;
	struct lv_monitor_ops fake = lv_monitor_libvirt;
	size_t mark;

	fake.set_balloon = fake_set_balloon;
	start(FIXTURE_URI);
	vm = vm_get("ha-bal");
	H.d.libvirt->monitor = &fake;
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-bal", &u, &err), 0);
	WAIT_UNTIL(balloon_calls() == 1);
	ck_assert_uint_eq(__atomic_load_n(&mon.balloon_kib, __ATOMIC_SEQ_CST),
			  256 * 1024);

	/* Refused by "QEMU": counted and published, not retried at once. */
	__atomic_store_n(&mon.refuse, 1, __ATOMIC_SEQ_CST);
	mark = H.n_evs;
	u.target_bytes = 200 * MiB;
	ck_assert_int_eq(ctl_vm_set_memory(&H.d, &root, "ha-bal", &u, &err), 0);
	WAIT_UNTIL(vm->counters.apply_errors == 1);
	ck_assert_int_eq(balloon_calls(), 2);
	ck_assert_ptr_nonnull(find_event(EV_ERROR, "ha-bal", mark));

	/* The real table asks libvirt; the test driver has no QEMU monitor. */
	dom = virDomainLookupByName(conn(), "ha-bal");
	ck_assert_ptr_nonnull(dom);
	ck_assert_int_eq(
		lv_monitor_libvirt.qmp(dom, "{\"execute\": \"query-status\"}",
				       &reply),
		-1);
	ck_assert_ptr_null(reply);
	ck_assert_int_lt(lv_errno("qmp", "ha-bal"), 0);
	virDomainFree(dom);
	stop();
}
END_TEST

/* "Stuck" is the engine's verdict (daemon/safety.h): lifecycle events
 * must not wipe it, and it goes when the engine lets go. */
START_TEST(test_engine_stuck_kept)
{
	virDomainPtr dom;
	struct vm *vm;

	start(FIXTURE_URI);
	vm = vm_get("ha-bal");
	dom = virDomainLookupByName(conn(), "ha-bal");
	vm->state = VM_STATE_STUCK;
	vm->safety.stuck_until_ms = now_usec() / 1000 + 60000;
	snprintf(vm->state_reason, sizeof(vm->state_reason), "no progress");

	ck_assert_int_eq(virDomainSuspend(dom), 0);
	WAIT_UNTIL(vm->state == VM_STATE_PAUSED);
	ck_assert_int_eq(virDomainResume(dom), 0);
	WAIT_UNTIL(lv_state(vm) == VIR_DOMAIN_RUNNING);
	ck_assert_int_eq(vm->state, VM_STATE_STUCK);
	ck_assert_str_eq(vm->state_reason, "no progress");

	engine_unstick(&H.d, vm);
	ck_assert_int_eq(vm->state, VM_STATE_RUNNING);
	barrier(dom);
	ck_assert_int_eq(vm->state, VM_STATE_RUNNING);
	ck_assert_str_eq(vm->state_reason, "");
	virDomainFree(dom);
	stop();
}
END_TEST

/* ---- reconnect ---- */

START_TEST(test_reconnect_resync)
{
	struct libvirt_tracker *t;
	virDomainPtr dom;
	size_t mark;

	/* Every open of a test:///FILE URI is a fresh host from the file:
	 * a reconnect finds the file's domains, not what we changed. */
	start(FIXTURE_URI);
	t = H.d.libvirt;
	dom = virDomainCreateXML(conn(), new_domain, 0);
	ck_assert_ptr_nonnull(dom);
	virDomainFree(dom);
	ck_assert_ptr_nonnull(wait_event(EV_VM_ADDED, "ha-new", 0));
	ck_assert_uint_eq(H.d.vms.count, 5);

	mark = H.n_evs;
	sd_event_source_set_enabled(t->lost, SD_EVENT_ONESHOT);
	sd_event_run(H.d.loop, 0);
	ck_assert_ptr_null(t->conn);
	/* The VMs stay while disconnected; steering waits. */
	ck_assert_uint_eq(H.d.vms.count, 5);
	ck_assert_int_eq(vm_get("ha-bal")->ops->apply_target(vm_get("ha-bal"),
							     300 * MiB),
			 0);

	const struct event *ev = wait_event(EV_VM_REMOVED, "ha-new", mark);

	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(strstr(ev->message, "unreachable"));
	ck_assert_uint_eq(t->connects, 2);
	ck_assert_uint_eq(H.d.vms.count, 4);
	ck_assert_ptr_null(find_event(EV_VM_REMOVED, "ha-bal", mark));
	ck_assert_ptr_null(find_event(EV_VM_ADDED, "ha-bal", mark));
	/* The target asked for while away reached libvirt. */
	ck_assert_ptr_nonnull(wait_event(EV_RECLAIM_DONE, "ha-bal", mark));
	stop();
}
END_TEST

START_TEST(test_unreachable_retries)
{
	struct libvirt_tracker *t;

	/* libvirtd not there at start: not an error, retried with backoff */
	start("qemu+unix:///system?socket=/nonexistent/ha-test/libvirt-sock");
	t = H.d.libvirt;
	ck_assert_ptr_null(t->conn);
	ck_assert_uint_eq(t->connects, 0);
	ck_assert_uint_eq(t->backoff_ms, LV_BACKOFF_MIN_MS);
	/* The first retry fails too and doubles the backoff. */
	WAIT_UNTIL(t->backoff_ms == 2 * LV_BACKOFF_MIN_MS);
	ck_assert_ptr_null(t->conn);
	ck_assert_uint_eq(H.d.vms.count, 0);
	stop();
}
END_TEST

/* ---- direct access to guest RAM ---- */

START_TEST(test_find_qemu)
{
	char dir[] = "/tmp/ha-lvproc-XXXXXX", path[256];
	static const char cmdline[] =
		"qemu-system-x86_64\0-name\0guest=g\0-uuid\0"
		"6b7c1a4e-0001-4d3e-9a51-000000000001\0-m\0512";
	pid_t pid = 0;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/4242", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/cmdline", dir);
	f = fopen(path, "w");
	fwrite(cmdline, 1, sizeof(cmdline), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/77", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);

	/* By scanning the processes. */
	ck_assert_int_eq(
		lv_mem_find_qemu(dir, NULL, "g",
				 "6B7C1A4E-0001-4d3e-9a51-000000000001", &pid),
		0);
	ck_assert_int_eq(pid, 4242);
	ck_assert_int_eq(
		lv_mem_find_qemu(dir, NULL, "g",
				 "6b7c1a4e-0009-4d3e-9a51-000000000001", &pid),
		-ENOENT);
	/* A pid file naming a process that is not the guest is ignored. */
	snprintf(path, sizeof(path), "%s/g.pid", dir);
	f = fopen(path, "w");
	fputs("77\n", f);
	fclose(f);
	pid = 0;
	ck_assert_int_eq(
		lv_mem_find_qemu(dir, dir, "g",
				 "6b7c1a4e-0001-4d3e-9a51-000000000001", &pid),
		0);
	ck_assert_int_eq(pid, 4242);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(test_mem_attach)
{
	const uint64_t size = 8 * MiB;
	int ram = memfd_create("memory-backend-memfd",
			       MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int other = memfd_create("something-else", MFD_CLOEXEC);
	struct lv_mem m;
	char *p;

	ck_assert_int_ge(ram, 0);
	ck_assert_int_eq(ftruncate(ram, (off_t)size), 0);
	ck_assert_int_eq(ftruncate(other, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p + MiB, 0xa5, 2 * MiB);
	memset(p + 4 * MiB, 0x5a, 1);

	/* A backing that may still shrink is opened (its resident size is
	 * known) but never mapped: a truncation would make a read of the
	 * mapping SIGBUS. */
	ck_assert_int_eq(lv_mem_attach(&m, "/proc", getpid(), size), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_ptr_null(m.ram);
	ck_assert(!lv_mem_sealed(&m));
	ck_assert_ptr_nonnull(strstr(m.unmapped, "F_SEAL_SHRINK"));
	ck_assert_int_ge(lv_mem_resident(&m), (int64_t)(2 * MiB));
	lv_mem_detach(&m);

	/* Sealed as QEMU seals its memfds: mapped. */
	ck_assert_int_eq(fcntl(ram, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	ck_assert_int_eq(lv_mem_attach(&m, "/proc", getpid(), size), 0);
	ck_assert_uint_eq(m.n, 1); /* only QEMU's memory backend */
	ck_assert_uint_eq(m.ram_bytes, size);
	ck_assert(lv_mem_sealed(&m));
	ck_assert_int_eq(ftruncate(ram, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	/* The mapping shows the guest's bytes, and is read-only. */
	ck_assert_uint_eq(((const unsigned char *)m.ram)[MiB + 5], 0xa5);
	ck_assert_uint_eq(((const unsigned char *)m.ram)[4 * MiB], 0x5a);
	ck_assert_int_ge(lv_mem_resident(&m), (int64_t)(2 * MiB));
	ck_assert_int_le(lv_mem_resident(&m), (int64_t)(4 * MiB));
	/* Discarding shows at once. */
	ck_assert_int_eq(fallocate(ram,
				   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   0, (off_t)(4 * MiB)),
			 0);
	ck_assert_int_le(lv_mem_resident(&m), (int64_t)MiB);
	lv_mem_detach(&m);
	ck_assert_uint_eq(m.n, 0);
	lv_mem_detach(&m);
	lv_mem_detach(NULL);
	munmap(p, size);
	close(ram);
	close(other);

	/* A process without shared guest RAM. */
	ck_assert_int_eq(lv_mem_attach(&m, "/proc", getpid(), size), -ENOENT);
}
END_TEST

static Suite *libvirt_suite(void)
{
	Suite *s = suite_create("libvirt");
	TCase *loop = tcase_create("loop");
	TCase *tracker = tcase_create("tracker");
	TCase *mem = tcase_create("mem");

	tcase_add_test(loop, test_loop_timers);
	tcase_add_test(loop, test_loop_handles);
	suite_add_tcase(s, loop);

	tcase_set_timeout(tracker, 20);
	tcase_add_test(tracker, test_discover_default);
	tcase_add_test(tracker, test_discover_fixture);
	tcase_add_test(tracker, test_none_is_read_only);
	tcase_add_test(tracker, test_lifecycle);
	tcase_add_test(tracker, test_target_while_stopped);
	tcase_add_test(tracker, test_metadata_written_through_api);
	tcase_add_test(tracker, test_metadata_changed_outside);
	tcase_add_test(tracker, test_balloon_target_reached);
	tcase_add_test(tracker, test_refused_target_not_retried_every_tick);
	tcase_add_test(tracker, test_monitor_seam);
	tcase_add_test(tracker, test_engine_stuck_kept);
	tcase_add_test(tracker, test_reconnect_resync);
	tcase_add_test(tracker, test_unreachable_retries);
	suite_add_tcase(s, tracker);

	tcase_add_test(mem, test_find_qemu);
	tcase_add_test(mem, test_mem_attach);
	suite_add_tcase(s, mem);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(libvirt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
