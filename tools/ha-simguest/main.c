// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ha-simguest: a process that is a VM for everything the host can
 * observe. See DESIGN.md "Simulated guests" and proto/sim_proto.h.
 *
 * Threads: main (options, signals, STATUS, shutdown), one per vCPU
 * (vcpu.c), the free page reporter (fpr.c, optional) and the link's
 * reader (link.c). SIGTERM and SIGINT are blocked everywhere and taken
 * by main with sigtimedwait().
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpr.h"
#include "user/ident.h"
#include "link.h"
#include "log.h"
#include "options.h"
#include "ram.h"
#include "trace.h"
#include "vcpu.h"

#define EXIT_MISMATCH 3
#define STOP_GRACE_MS 3000 /* wait for replies to installs in flight */
#define TICK_NS	      100000000ull /* main loop checks flags this often */

struct simguest {
	struct options opt;
	struct trace trace;
	char trace_path[PATH_MAX];
	struct ram ram;
	bool ram_open;
	struct link link;
	bool link_open;
	struct fpr fpr;
	bool fpr_started;
	struct workload wl;
	struct workload_pace pace; /* with --trace-clock workload */
	struct vcpu *vcpus;
	atomic_bool stop;
};

struct totals {
	uint64_t ops, allocated_bytes, installs, install_ns, install_errors,
		dropped, canary_checks, canary_mismatches, alloc_failures,
		errors, reported;
};

static uint64_t get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void sum_totals(struct simguest *sg, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; sg->vcpus && i < sg->opt.vcpus; i++) {
		struct vcpu_stats *s = &sg->vcpus[i].stats;

		t->ops += get(&s->ops);
		t->allocated_bytes += get(&s->allocated_bytes);
		t->installs += get(&s->installs);
		t->install_ns += get(&s->install_ns);
		t->install_errors += get(&s->install_errors);
		t->dropped += get(&s->dropped);
		t->canary_checks += get(&s->canary_checks);
		t->canary_mismatches += get(&s->canary_mismatches);
		t->alloc_failures += get(&s->alloc_failures);
		t->errors += get(&s->errors);
	}
	if (sg->fpr_started)
		t->reported = get(&sg->fpr.reported_frames);
}

static void send_status(struct simguest *sg)
{
	struct sim_status st;
	struct totals t;
	double pos;
	bool done;
	int r;

	sum_totals(sg, &t);
	memset(&st, 0, sizeof(st));
	st.ops = t.ops;
	st.allocated_bytes = t.allocated_bytes;
	st.target_bytes = workload_target(&sg->wl, vcpu_now_ns(), &pos, &done);
	st.installs = t.installs;
	st.install_ns = t.install_ns;
	st.canary_checks = t.canary_checks;
	st.canary_mismatches = t.canary_mismatches;
	st.alloc_failures = t.alloc_failures;
	st.reported = t.reported;
	st.trace_pos_ms = (uint64_t)(pos * 1000);
	st.trace_len_ms = (uint64_t)(trace_length(&sg->trace) * 1000);
	st.trace_done = done;
	r = link_send_status(&sg->link, &st);
	if (r < 0 && r != -ENOTCONN)
		sg_debug("STATUS not sent: %s", strerror(-r));
}

/* Trace name for HELLO: the file name without ".trace". */
static void trace_label(const char *path, char *out, size_t len)
{
	char tmp[PATH_MAX];
	char *base, *dot;

	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	dot = strrchr(base, '.');
	if (dot && strcmp(dot, ".trace") == 0)
		*dot = '\0';
	snprintf(out, len, "%.*s", (int)len - 1, base);
}

static int setup(struct simguest *sg)
{
	const struct options *o = &sg->opt;
	struct sim_hello hello;
	char err[512];
	int r;

	r = trace_resolve(o->trace, o->trace_dir, sg->trace_path,
			  sizeof(sg->trace_path));
	if (r < 0) {
		sg_err("trace \"%s\" not found (looked in %s and as a path)",
		       o->trace, o->trace_dir);
		return r;
	}
	r = trace_load(sg->trace_path, &sg->trace, err, sizeof(err));
	if (r < 0) {
		sg_err("trace %s", err);
		return r;
	}

	/* Cores: one per vCPU plus the reporting thread's. */
	r = ram_open(&sg->ram, o->memory, o->vcpus + 1, o->thp);
	if (r < 0) {
		sg_err("guest RAM of %" PRIu64 " bytes: %s", o->memory,
		       strerror(-r));
		return r;
	}
	sg->ram_open = true;
	if (o->thp && !sg->ram.thp)
		sg_warn("--thp: shmem THP is disabled in "
			"/sys/kernel/mm/transparent_hugepage/shmem_enabled; "
			"guest RAM stays in 4 KiB pages");
	/* Before the daemon sees the guest: nothing is reclaimed yet, so
	 * every managed frame may be written. */
	if (o->prefault)
		memset(ram_frame(&sg->ram, 0), 0,
		       sg->ram.geo.frames << HA_FRAME_SHIFT);

	memset(&hello, 0, sizeof(hello));
	snprintf(hello.name, sizeof(hello.name), "%s", o->name);
	memcpy(hello.uuid, o->uuid, sizeof(hello.uuid));
	trace_label(sg->trace_path, hello.trace, sizeof(hello.trace));
	hello.vcpus = o->vcpus;
	hello.pid = (uint32_t)getpid();
	hello.ram_bytes = sg->ram.geo.ram_bytes;
	hello.meta_offset = 0;
	hello.meta_len = sg->ram.geo.meta_len;
	hello.flags = (o->fpr_enabled ? SIM_HELLO_F_FPR : 0) |
		      (sg->ram.thp ? SIM_HELLO_F_THP : 0);

	r = link_open(&sg->link, o->socket, sg->ram.fd, &hello, o->reconnect,
		      o->connect_timeout_ms, err, sizeof(err));
	if (r < 0) {
		sg_err("%s", err);
		return r;
	}
	sg->link_open = true;
	sg_info("connected to %s as VM \"%s\" (uuid %s): %" PRIu64
		" MiB RAM, %" PRIu64 " MiB managed from frame %" PRIu64
		", %u vCPUs, trace %s, frees %s%s",
		o->socket, sg->link.id, o->uuid, o->memory >> 20,
		(sg->ram.geo.frames << HA_FRAME_SHIFT) >> 20,
		sg->ram.geo.base_frame, o->vcpus, sg->trace_path,
		o->free_pattern == WORKLOAD_FREE_JOBS ? "whole jobs" :
							"random allocations",
		o->fpr_enabled ? ", free page reporting" : "");
	return 0;
}

static int start(struct simguest *sg)
{
	const struct options *o = &sg->opt;
	int r;

	if (o->paced)
		workload_pace_init(&sg->pace);
	sg->wl = (struct workload){
		.ram = &sg->ram,
		.link = &sg->link,
		.fpr = NULL,
		.clock = { .trace = &sg->trace,
			   .start_ns = vcpu_now_ns(),
			   .scale = o->time_scale,
			   .loop = o->loop },
		.pace = o->paced ? &sg->pace : NULL,
		.vcpus = o->vcpus,
		.bytes = o->workload_memory,
		.seed = o->seed,
		.free = o->free_pattern,
		.sizes = o->alloc_sizes,
		.stop = &sg->stop,
	};
	if (o->fpr_enabled) {
		r = fpr_start(&sg->fpr, &o->fpr, &sg->ram, &sg->link, o->vcpus,
			      &sg->stop);
		if (r < 0) {
			sg_err("starting free page reporting: %s",
			       strerror(-r));
			return r;
		}
		sg->fpr_started = true;
		sg->wl.fpr = &sg->fpr;
	}
	sg->vcpus = aligned_alloc(64, sizeof(*sg->vcpus) * o->vcpus);
	if (!sg->vcpus) {
		sg_err("out of memory");
		return -ENOMEM;
	}
	memset(sg->vcpus, 0, sizeof(*sg->vcpus) * o->vcpus);
	for (unsigned i = 0; i < o->vcpus; i++) {
		r = vcpu_start(&sg->vcpus[i], &sg->wl, i);
		if (r < 0) {
			sg_err("starting vCPU %u: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Run until a signal, the duration or a lost link. Returns 0 or -errno
 * (the link failed for good). */
static int run(struct simguest *sg, const sigset_t *sigs)
{
	const struct options *o = &sg->opt;
	uint64_t interval = (uint64_t)o->status_interval_ms * 1000000ull;
	uint64_t now = vcpu_now_ns(), next_status = now + interval;
	uint64_t end = o->duration_s > 0 ?
			       now + (uint64_t)(o->duration_s * 1e9) :
			       UINT64_MAX;
	bool told_done = false;

	send_status(sg);
	for (;;) {
		uint64_t wake = now + TICK_NS;
		struct timespec ts;
		double pos;
		bool done;
		int sig;

		if (next_status < wake)
			wake = next_status;
		if (end < wake)
			wake = end;
		ts.tv_sec = (time_t)((wake - now) / 1000000000ull);
		ts.tv_nsec = (long)((wake - now) % 1000000000ull);
		sig = sigtimedwait(sigs, NULL, &ts);
		if (sig > 0) {
			sg_info("%s: stopping", strsignal(sig));
			return 0;
		}
		now = vcpu_now_ns();
		if (now >= end) {
			sg_info("duration of %g s reached: stopping",
				o->duration_s);
			return 0;
		}
		if (link_failed(&sg->link)) {
			sg_err("connection to the daemon lost "
			       "(--no-reconnect): stopping");
			return -ENOTCONN;
		}
		if (now >= next_status) {
			send_status(sg);
			next_status += interval;
			if (next_status <= now)
				next_status = now + interval;
		}
		workload_target(&sg->wl, now, &pos, &done);
		if (done && !told_done) {
			sg_info("trace finished after %g s of trace time; "
				"holding its final level",
				pos);
			told_done = true;
		}
	}
}

/* Stop everything, verify every held frame, say goodbye. */
static void finish(struct simguest *sg)
{
	atomic_store(&sg->stop, true);
	if (sg->link_open)
		link_begin_stop(&sg->link, STOP_GRACE_MS);
	for (unsigned i = 0; sg->vcpus && i < sg->opt.vcpus; i++)
		vcpu_join(&sg->vcpus[i]);
	if (sg->fpr_started) {
		sg_info("free page reporting: %" PRIu64
			" frames reported in %" PRIu64 " rounds, %" PRIu64
			" discarded by the host, %" PRIu64 " failed REPORTs",
			get(&sg->fpr.reported_frames), get(&sg->fpr.rounds),
			get(&sg->fpr.discarded), get(&sg->fpr.report_errors));
		fpr_join(&sg->fpr);
	}
	for (unsigned i = 0; sg->vcpus && i < sg->opt.vcpus; i++)
		vcpu_verify_all(&sg->vcpus[i]);
	if (sg->link_open) {
		send_status(sg);
		link_send_bye(&sg->link);
	}
}

static void print_summary(struct simguest *sg)
{
	struct totals t;

	sum_totals(sg, &t);
	printf("ha-simguest %s: ops %" PRIu64 ", installs %" PRIu64
	       ", mismatches %" PRIu64 ", alloc failures %" PRIu64
	       ", reported %" PRIu64 " (canary checks %" PRIu64
	       ", install errors %" PRIu64 ", dropped %" PRIu64
	       ", errors %" PRIu64 ", reconnects %" PRIu64 ")\n",
	       sg->opt.name, t.ops, t.installs, t.canary_mismatches,
	       t.alloc_failures, t.reported, t.canary_checks, t.install_errors,
	       t.dropped, t.errors,
	       sg->link_open ? (uint64_t)atomic_load(&sg->link.reconnects) : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct simguest sg;
	sigset_t sigs;
	struct totals t;
	bool ran = false;
	int r;

	switch (options_parse(argc, argv, &sg.opt)) {
	case OPTIONS_EXIT_OK:
		return 0;
	case OPTIONS_ERROR:
		return 1;
	case OPTIONS_RUN:
		break;
	}
	sg_log_setup(sg.opt.name, sg.opt.quiet	 ? SG_LOG_WARNING :
				  sg.opt.verbose ? SG_LOG_DEBUG :
						   SG_LOG_INFO);
	if (!sg.opt.uuid_given) {
		r = ident_uuid_random(sg.opt.uuid);
		if (r < 0) {
			sg_err("getrandom: %s", strerror(-r));
			return 1;
		}
	}
	if (!sg.opt.seed_given)
		sg.opt.seed = (uint64_t)time(NULL) ^
			      ((uint64_t)getpid() << 32) ^ vcpu_now_ns();
	sg_debug("seed %" PRIu64, sg.opt.seed);

	/* Block the stop signals before any thread exists: they all
	 * inherit the mask, and main takes them with sigtimedwait(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = setup(&sg);
	if (r == 0)
		r = start(&sg);
	if (r == 0) {
		ran = true;
		r = run(&sg, &sigs);
	}
	finish(&sg);
	if (ran)
		print_summary(&sg);
	sum_totals(&sg, &t);

	if (sg.link_open)
		link_close(&sg.link);
	for (unsigned i = 0; sg.vcpus && i < sg.opt.vcpus; i++)
		vcpu_destroy(&sg.vcpus[i]);
	free(sg.vcpus);
	if (sg.wl.pace)
		workload_pace_destroy(sg.wl.pace);
	if (sg.ram_open)
		ram_close(&sg.ram);
	trace_free(&sg.trace);

	if (t.canary_mismatches)
		return EXIT_MISMATCH;
	if (r < 0 || t.errors)
		return 1;
	return 0;
}
