// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sim backend, steering side: the backend_ops of a connected simulated
 * guest, with lib/'s host operations on its metadata. Reclaim and return
 * run in slices on the event loop so that install requests and API calls
 * are served in between; a corrupt region quarantines the VM.
 */
#include <errno.h>
#include <stdio.h>

#include "backend.h"
#include "daemon.h"
#include "log.h"
#include "sim/internal.h"

/* Huge frames per slice of reclaim/return work on the loop. */
#define SIM_SLICE_FRAMES 32

/* ---- quarantine ---- */

void sim_quarantine(struct sim_conn *c)
{
	struct daemon *d = c->sb->d;
	const struct ha_bad *bad = ha_host_bad(&c->host);
	struct vm *vm = c->vm;

	if (!vm || vm->state == VM_STATE_QUARANTINED)
		return;
	vm->state = VM_STATE_QUARANTINED;
	snprintf(
		vm->state_reason, sizeof(vm->state_reason),
		"allocator metadata is corrupt: %s (index %llu, value 0x%llx); "
		"all memory was given back and no more reclaim is done",
		ha_bad_str(bad->reason), (unsigned long long)bad->index,
		(unsigned long long)bad->value);
	sd_event_source_set_enabled(c->work, SD_EVENT_OFF);
	log_err("%s: quarantined: %s", vm->id, vm->state_reason);
	event_vm(&d->bus, EV_VM_QUARANTINED, vm, "%s", vm->state_reason);
}

/* A lib/ result: quarantine on corruption. */
static void check_result(struct sim_conn *c, int64_t r, const char *what)
{
	if (r == HA_EBADMSG || r == HA_EPERM)
		sim_quarantine(c);
	else if (r < 0)
		daemon_error(c->sb->d, c->vm, "%s: %s failed: %s",
			     c->vm ? c->vm->id : "?", what,
			     ha_strerror((int)r));
}

/* ---- backend operations ---- */

static int sim_refresh(struct vm *vm)
{
	struct sim_conn *c = vm->backend;
	struct ha_host_counters hc;
	struct ha_host_scan s;
	int64_t resident;
	int r;

	/* A quarantined region is not read any more (its words may be
	 * anything); the host's own counters and the kernel's account of
	 * the memfd still are. */
	r = ha_host_quarantined(&c->host) ? HA_EPERM :
					    ha_host_scan(&c->host, &s);
	if (r == HA_EBADMSG)
		sim_quarantine(c);
	ha_host_counters(&c->host, &hc);
	resident = memfd_resident_bytes(c->memfd);

	vm->mem.current_bytes = c->ram_bytes - hc.hard_now * HA_HUGE_SIZE;
	vm->mem.host_resident_bytes = resident > 0 ? (uint64_t)resident : 0;
	if (r == HA_OK) {
		vm->mem.guest_free_bytes = s.free_frames * HA_FRAME_SIZE;
		vm->free_huge_installed_bytes =
			s.free_huge_installed * HA_HUGE_SIZE;
	}
	vm->mem.reclaimed_bytes = hc.hard_now * HA_HUGE_SIZE;
	vm->mem.soft_reclaimed_bytes = hc.soft_now * HA_HUGE_SIZE;
	vm->mem.updated_at_usec = realtime_usec();
	vm->counters.reclaimed_hard_frames = hc.reclaimed_hard;
	vm->counters.reclaimed_soft_frames = hc.reclaimed_soft;
	vm->counters.returned_frames = hc.returned;
	vm->counters.installed_frames = hc.installed;
	vm->counters.discard_ns = hc.discard_ns;
	return r == HA_OK ? 0 : -EBADMSG;
}

/* One slice of reclaim or return toward want_hard. */
int sim_work(sd_event_source *s, void *userdata)
{
	struct sim_conn *c = userdata;
	struct ha_host_counters hc;
	int64_t n = 0;

	(void)s;
	ha_host_counters(&c->host, &hc);
	if (hc.hard_now == c->want_hard && c->want_soft) {
		/* Soft reclaim only once the logical size is right. */
		uint64_t k = c->want_soft < SIM_SLICE_FRAMES ? c->want_soft :
							       SIM_SLICE_FRAMES;

		n = ha_host_reclaim_soft(&c->host, k);
		if (n < 0) {
			check_result(c, n, "soft reclaim");
			c->want_soft = 0;
		} else {
			c->want_soft = (uint64_t)n < k ? 0 : c->want_soft - k;
		}
		if (!c->want_soft && !c->op_start_usec)
			sd_event_source_set_enabled(c->work, SD_EVENT_OFF);
		return 0;
	}
	if (hc.hard_now < c->want_hard) {
		uint64_t k = c->want_hard - hc.hard_now;

		n = ha_host_reclaim_hard(
			&c->host, k < SIM_SLICE_FRAMES ? k : SIM_SLICE_FRAMES);
	} else if (hc.hard_now > c->want_hard) {
		uint64_t k = hc.hard_now - c->want_hard;

		n = ha_host_return(&c->host,
				   k < SIM_SLICE_FRAMES ? k : SIM_SLICE_FRAMES);
	}
	if (n < 0) {
		check_result(c, n, "reclaim");
		sd_event_source_set_enabled(c->work, SD_EVENT_OFF);
		return 0;
	}
	ha_host_counters(&c->host, &hc);
	if (hc.hard_now != c->want_hard && n > 0)
		return 0; /* more slices to come */
	if (hc.hard_now == c->want_hard && c->want_soft)
		return 0; /* soft reclaim follows */

	/* Target reached, or no progress possible now (the guest has no
	 * free huge frame outside its reserved trees): stop until the next
	 * steer. */
	sd_event_source_set_enabled(c->work, SD_EVENT_OFF);
	uint64_t moved = hc.hard_now > c->op_from_hard ?
				 hc.hard_now - c->op_from_hard :
				 c->op_from_hard - hc.hard_now;

	/* Report when the target is reached, or when a slice of progress
	 * ends short of it; a retry that moves nothing stays quiet. */
	if (c->op_start_usec && (moved || hc.hard_now == c->want_hard)) {
		struct event ev = { .type = EV_RECLAIM_DONE };

		sim_refresh(c->vm);
		snprintf(ev.vm, sizeof(ev.vm), "%s", c->vm->id);
		ev.target_bytes = c->vm->mem.target_bytes;
		ev.current_bytes = c->vm->mem.current_bytes;
		ev.bytes = moved * HA_HUGE_SIZE;
		ev.duration_us = now_usec() - c->op_start_usec;
		snprintf(ev.message, sizeof(ev.message),
			 "%s %llu MiB in %.1f ms%s",
			 hc.hard_now >= c->op_from_hard ? "reclaimed" :
							  "returned",
			 (unsigned long long)(ev.bytes >> 20),
			 (double)ev.duration_us / 1000.0,
			 hc.hard_now == c->want_hard ?
				 "" :
				 "; target not reached (guest memory in use)");
		event_publish(&c->sb->d->bus, &ev);
		c->op_start_usec = 0;
	}
	return 0;
}

static int sim_apply_target(struct vm *vm, uint64_t target_bytes)
{
	struct sim_conn *c = vm->backend;
	uint64_t gap =
		target_bytes < c->ram_bytes ? c->ram_bytes - target_bytes : 0;
	uint64_t want = (gap + HA_HUGE_SIZE - 1) / HA_HUGE_SIZE;
	struct ha_host_counters hc;

	if (ha_host_quarantined(&c->host))
		return -EPERM;
	if (want > c->host.layout.children)
		want = c->host.layout.children;
	ha_host_counters(&c->host, &hc);
	if (want != c->want_hard ||
	    (hc.hard_now != want && !c->op_start_usec)) {
		/* A new target, or a retry of one not reached yet. */
		c->op_start_usec = now_usec();
		c->op_from_hard = hc.hard_now;
	}
	c->want_hard = want;
	if (hc.hard_now != want)
		sd_event_source_set_enabled(c->work, SD_EVENT_ON);
	else
		c->op_start_usec = 0;
	return 0;
}

/* The daemon's engine does the sim guest's soft reclaim (reclaim_free on
 * every tick): nothing to switch, only the setting to record. */
static int sim_set_auto(struct vm *vm, bool enabled)
{
	vm->mem.auto_reclaim = enabled;
	return 0;
}

static int64_t sim_reclaim_free(struct vm *vm, uint64_t keep_free_bytes)
{
	struct sim_conn *c = vm->backend;
	struct ha_host_scan s;
	uint64_t keep = (keep_free_bytes + HA_HUGE_SIZE - 1) / HA_HUGE_SIZE;
	int64_t n;

	if (ha_host_quarantined(&c->host))
		return -EPERM;
	if (ha_host_scan(&c->host, &s) < 0) {
		sim_quarantine(c);
		return -EBADMSG;
	}
	if (s.free_huge_installed <= keep)
		return 0;
	/* In slices on the loop, like hard reclaim: installs and API
	 * calls are served in between. */
	n = (int64_t)(s.free_huge_installed - keep);
	c->want_soft = (uint64_t)n;
	sd_event_source_set_enabled(c->work, SD_EVENT_ON);
	return n * (int64_t)HA_HUGE_SIZE;
}

static void sim_detach(struct vm *vm)
{
	struct sim_conn *c = vm->backend;

	if (c)
		c->vm = NULL;
}

const struct backend_ops sim_ops = {
	.name = "sim",
	.refresh = sim_refresh,
	.apply_target = sim_apply_target,
	.set_auto = sim_set_auto,
	.reclaim_free = sim_reclaim_free,
	.detach = sim_detach,
};
