// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prometheus text format 0.0.4 (see metrics.h). Each family is written
 * once with its HELP and TYPE lines followed by all its samples, as the
 * format requires; the per-VM families come from tables so adding one is
 * one line.
 */
#include "http/metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit.h"
#include "ctl.h"
#include "daemon.h"
#include "policy.h" /* the reason codes */

#define METRICS_REASONS (HA_REASON_COUNT + 1) /* + the engine's host_fit */

const char *metrics_escape_label(const char *value, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (const char *p = value; *p; p++) {
		const char *rep = NULL;
		char one[2] = { *p, '\0' };
		size_t n;

		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '"')
			rep = "\\\"";
		else if (*p == '\n')
			rep = "\\n";
		else
			rep = one;
		n = strlen(rep);
		if (o + n >= len)
			break;
		memcpy(buf + o, rep, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

/* Reason @i of the METRICS_REASONS a VM's policy target can have. */
static const char *metrics_reason(size_t i)
{
	/* The policies' reasons, then the engine's own. */
	if (i < HA_REASON_COUNT)
		return ha_policy_reason_str((enum ha_policy_reason)i);
	return i == HA_REASON_COUNT ? "host_fit" : "unknown";
}

struct vm_gauge {
	const char *name, *help;
	size_t offset; /* of a uint64_t in struct vm_memory */
};

#define MEM(field) offsetof(struct vm_memory, field)

static const struct vm_gauge vm_gauges[] = {
	{ "hyperalloc_vm_max_bytes", "Largest logical size of the VM.",
	  MEM(max_bytes) },
	{ "hyperalloc_vm_min_bytes", "Smallest logical size policy may set.",
	  MEM(min_bytes) },
	{ "hyperalloc_vm_target_bytes", "Logical size being steered to.",
	  MEM(target_bytes) },
	{ "hyperalloc_vm_current_bytes",
	  "Logical size now (max minus hard-reclaimed).", MEM(current_bytes) },
	{ "hyperalloc_vm_host_resident_bytes",
	  "Memory of the VM resident on the host.", MEM(host_resident_bytes) },
	{ "hyperalloc_vm_guest_free_bytes", "Free memory in the guest.",
	  MEM(guest_free_bytes) },
	{ "hyperalloc_vm_reclaimed_bytes",
	  "Hard-reclaimed memory (unusable by the guest).",
	  MEM(reclaimed_bytes) },
	{ "hyperalloc_vm_soft_reclaimed_bytes",
	  "Free guest memory whose backing is discarded.",
	  MEM(soft_reclaimed_bytes) },
};

struct vm_counter {
	const char *name, *help;
	size_t offset; /* of a uint64_t in struct vm_counters */
};

#define CNT(field) offsetof(struct vm_counters, field)

static const struct vm_counter vm_counters[] = {
	{ "hyperalloc_vm_returned_frames_total",
	  "Reclaimed 2 MiB frames given back to the guest.",
	  CNT(returned_frames) },
	{ "hyperalloc_vm_installed_frames_total",
	  "2 MiB frames installed on the guest's request.",
	  CNT(installed_frames) },
	{ "hyperalloc_vm_canary_mismatches_total",
	  "Data corruption detected by the simulated guest (must stay 0).",
	  CNT(canary_mismatches) },
	{ "hyperalloc_vm_install_replies_dropped_total",
	  "Answers to install requests a simulated guest's socket had no "
	  "room for.",
	  CNT(install_replies_dropped) },
	{ "hyperalloc_vm_apply_errors_total",
	  "Failed attempts to steer the VM.", CNT(apply_errors) },
	{ "hyperalloc_vm_monitor_timeouts_total",
	  "Monitor commands the VM's QEMU did not answer in time "
	  "(HyperAlloc VMs).",
	  CNT(monitor_timeouts) },
	{ "hyperalloc_vm_stuck_total",
	  "Times the VM made no progress toward its target and was left "
	  "alone for a while.",
	  CNT(stuck_total) },
};

static uint64_t field_u64(const void *base, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)base + offset, sizeof(v));
	return v;
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void render_vms(FILE *f, struct daemon *d)
{
	char id[2 * VM_ID_MAX];

	for (size_t i = 0; i < sizeof(vm_gauges) / sizeof(vm_gauges[0]); i++) {
		const struct vm_gauge *g = &vm_gauges[i];

		family(f, g->name, "gauge", g->help);
		vm_foreach(vm, &d->vms) {
			fprintf(f, "%s{vm=\"%s\"} %" PRIu64 "\n", g->name,
				metrics_escape_label(vm->id, id, sizeof(id)),
				field_u64(&vm->mem, g->offset));
		}
	}

	family(f, "hyperalloc_vm_shares", "gauge",
	       "Weight of the VM in the shares policy.");
	vm_foreach(vm, &d->vms) {
		fprintf(f, "hyperalloc_vm_shares{vm=\"%s\"} %u\n",
			metrics_escape_label(vm->id, id, sizeof(id)),
			vm->mem.shares);
	}

	family(f, "hyperalloc_vm_info", "gauge",
	       "The VM and how it is steered (always 1).");
	vm_foreach(vm, &d->vms) {
		fprintf(f, "hyperalloc_vm_info{vm=\"%s\",mechanism=\"%s\"} 1\n",
			metrics_escape_label(vm->id, id, sizeof(id)),
			vm_mechanism_to_string(vm->mechanism));
	}

	/*
	 * What changes (state, who set the target, why the policy chose
	 * it) is one series per possible value, 1 for the current one and
	 * 0 for the others: a change moves a value, it starts no series.
	 */
	family(f, "hyperalloc_vm_state", "gauge",
	       "1 for the state the VM is in, 0 for the others.");
	vm_foreach(vm, &d->vms) {
		metrics_escape_label(vm->id, id, sizeof(id));
		for (int s = 0; s < VM_STATE_COUNT; s++)
			fprintf(f,
				"hyperalloc_vm_state{vm=\"%s\",state=\"%s\"} "
				"%d\n",
				id, vm_state_to_string((enum vm_state)s),
				vm->state == (enum vm_state)s);
	}

	family(f, "hyperalloc_vm_target_source", "gauge",
	       "1 for who set the VM's target (manual or policy), 0 for the "
	       "other.");
	vm_foreach(vm, &d->vms) {
		metrics_escape_label(vm->id, id, sizeof(id));
		for (int s = VM_TARGET_POLICY; s <= VM_TARGET_MANUAL; s++)
			fprintf(f,
				"hyperalloc_vm_target_source{vm=\"%s\","
				"source=\"%s\"} %d\n",
				id,
				vm_target_source_to_string(
					(enum vm_target_source)s),
				vm->mem.target_source ==
					(enum vm_target_source)s);
	}

	family(f, "hyperalloc_vm_policy_reason", "gauge",
	       "1 for why the policy chose the VM's policy target, 0 for the "
	       "other reasons.");
	vm_foreach(vm, &d->vms) {
		const char *now = vm->policy_reason[0] ? vm->policy_reason :
							 "none";

		metrics_escape_label(vm->id, id, sizeof(id));
		for (size_t r = 0; r < METRICS_REASONS; r++) {
			const char *reason = metrics_reason(r);

			fprintf(f,
				"hyperalloc_vm_policy_reason{vm=\"%s\","
				"reason=\"%s\"} %d\n",
				id, reason, strcmp(now, reason) == 0);
		}
	}

	family(f, "hyperalloc_vm_reclaimed_frames_total", "counter",
	       "2 MiB frames reclaimed, by kind (hard: the VM shrank; "
	       "soft: free memory discarded).");
	vm_foreach(vm, &d->vms) {
		metrics_escape_label(vm->id, id, sizeof(id));
		fprintf(f,
			"hyperalloc_vm_reclaimed_frames_total{vm=\"%s\","
			"kind=\"hard\"} %" PRIu64 "\n"
			"hyperalloc_vm_reclaimed_frames_total{vm=\"%s\","
			"kind=\"soft\"} %" PRIu64 "\n",
			id, vm->counters.reclaimed_hard_frames, id,
			vm->counters.reclaimed_soft_frames);
	}

	for (size_t i = 0; i < sizeof(vm_counters) / sizeof(vm_counters[0]);
	     i++) {
		const struct vm_counter *c = &vm_counters[i];

		family(f, c->name, "counter", c->help);
		vm_foreach(vm, &d->vms) {
			fprintf(f, "%s{vm=\"%s\"} %" PRIu64 "\n", c->name,
				metrics_escape_label(vm->id, id, sizeof(id)),
				field_u64(&vm->counters, c->offset));
		}
	}

	family(f, "hyperalloc_vm_discard_seconds_total", "counter",
	       "Time spent discarding the VM's backing memory.");
	vm_foreach(vm, &d->vms) {
		fprintf(f,
			"hyperalloc_vm_discard_seconds_total{vm=\"%s\"} "
			"%.9f\n",
			metrics_escape_label(vm->id, id, sizeof(id)),
			(double)vm->counters.discard_ns / 1e9);
	}
}

static void render_host(FILE *f, struct daemon *d)
{
	struct engine_policy *p = calloc(1, sizeof(*p));
	struct ctl_host h;
	char name[2 * sizeof(p->name)];

	ctl_host_get(d, &h);
	family(f, "hyperalloc_host_total_bytes", "gauge", "Host RAM.");
	fprintf(f, "hyperalloc_host_total_bytes %" PRIu64 "\n", h.total_bytes);
	family(f, "hyperalloc_host_available_bytes", "gauge",
	       "Host memory available (MemAvailable).");
	fprintf(f, "hyperalloc_host_available_bytes %" PRIu64 "\n",
		h.available_bytes);
	family(f, "hyperalloc_host_committed_bytes", "gauge",
	       "Sum of the VMs' logical sizes.");
	fprintf(f, "hyperalloc_host_committed_bytes %" PRIu64 "\n",
		h.committed_bytes);
	family(f, "hyperalloc_host_max_committed_bytes", "gauge",
	       "Sum of the VMs' largest sizes.");
	fprintf(f, "hyperalloc_host_max_committed_bytes %" PRIu64 "\n",
		h.max_committed_bytes);
	family(f, "hyperalloc_host_reserve_bytes", "gauge",
	       "Memory kept free for the host.");
	fprintf(f, "hyperalloc_host_reserve_bytes %" PRIu64 "\n",
		h.reserve_bytes);
	family(f, "hyperalloc_host_overcommit_ratio", "gauge",
	       "Allowed overcommit: sum of max over host memory less reserve.");
	fprintf(f, "hyperalloc_host_overcommit_ratio %.6g\n",
		h.overcommit_ratio);
	family(f, "hyperalloc_host_overcommit_current_ratio", "gauge",
	       "Current overcommit: committed over host memory less reserve.");
	fprintf(f, "hyperalloc_host_overcommit_current_ratio %.6g\n",
		h.overcommit_now);

	if (!p)
		return;
	ctl_policy_get(d, p);
	family(f, "hyperalloc_policy_info", "gauge",
	       "The active policy (always 1).");
	fprintf(f, "hyperalloc_policy_info{policy=\"%s\"} 1\n",
		metrics_escape_label(p->name, name, sizeof(name)));
	family(f, "hyperalloc_policy_tick_seconds", "gauge",
	       "Period of the policy engine.");
	fprintf(f, "hyperalloc_policy_tick_seconds %.3f\n",
		(double)p->tick_ms / 1e3);
	family(f, "hyperalloc_policy_ticks_total", "counter",
	       "Policy engine ticks run.");
	fprintf(f, "hyperalloc_policy_ticks_total %" PRIu64 "\n", p->ticks);
	family(f, "hyperalloc_policy_tick_duration_seconds", "gauge",
	       "How long the last policy tick took (refresh, decide, act).");
	fprintf(f, "hyperalloc_policy_tick_duration_seconds %.6f\n",
		(double)p->last_tick_us / 1e6);
	family(f, "hyperalloc_policy_tick_duration_max_seconds", "gauge",
	       "The longest policy tick since start.");
	fprintf(f, "hyperalloc_policy_tick_duration_max_seconds %.6f\n",
		(double)p->max_tick_us / 1e6);
	free(p);
}

static void render_daemon(FILE *f, struct daemon *d)
{
	uint64_t start = d->started_realtime_usec;

	if (!start) {
		struct timespec ts;
		uint64_t now = mono_usec(), up;

		/* Started without the realtime clock noted: work it out. */
		clock_gettime(CLOCK_REALTIME, &ts);
		up = d->started_usec && now > d->started_usec ?
			     now - d->started_usec :
			     0;
		start = (uint64_t)ts.tv_sec * 1000000 +
			(uint64_t)ts.tv_nsec / 1000 - up;
	}
	family(f, "hyperalloc_up", "gauge",
	       "The daemon is serving (always 1).");
	fprintf(f, "hyperalloc_up 1\n");
	family(f, "hyperalloc_start_time_seconds", "gauge",
	       "When the daemon started, in seconds since the Unix epoch.");
	fprintf(f, "hyperalloc_start_time_seconds %.3f\n", (double)start / 1e6);
	family(f, "hyperalloc_vms", "gauge", "VMs in the registry.");
	fprintf(f, "hyperalloc_vms %zu\n", d->vms.count);
	family(f, "hyperalloc_errors_total", "counter",
	       "Errors logged since the daemon started.");
	fprintf(f, "hyperalloc_errors_total %" PRIu64 "\n", d->errors_total);
	struct commit_stats cs;

	commit_get_stats(d->commit, &cs);
	family(f, "hyperalloc_state_writes_total", "counter",
	       "Writes of the state file (each one fsync for all the changes "
	       "made since the previous).");
	fprintf(f, "hyperalloc_state_writes_total %" PRIu64 "\n", cs.flushes);
	family(f, "hyperalloc_state_write_failures_total", "counter",
	       "Writes of the state file that failed.");
	fprintf(f, "hyperalloc_state_write_failures_total %" PRIu64 "\n",
		cs.failures);
	family(f, "hyperalloc_state_acks_total", "counter",
	       "Answers to changes that waited for the state file's write.");
	fprintf(f, "hyperalloc_state_acks_total %" PRIu64 "\n", cs.waiters);
	family(f, "hyperalloc_events_total", "counter",
	       "Events published since the daemon started, by type.");
	for (int t = 0; t < EV_TYPE_COUNT; t++)
		fprintf(f, "hyperalloc_events_total{type=\"%s\"} %" PRIu64 "\n",
			event_type_to_string((enum event_type)t),
			d->bus.published[t]);
}

char *metrics_render(struct daemon *d, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	render_vms(f, d);
	render_host(f, d);
	render_daemon(f, d);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (ret_len)
		*ret_len = len;
	return buf;
}
