// SPDX-License-Identifier: GPL-2.0-or-later
#include "safety.h"

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	if (hi < lo)
		hi = lo;
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* a * b / c without overflow for the sizes we handle (c > 0). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	return (uint64_t)((unsigned __int128)a * b / c);
}

/* Rules 1-3 for one VM. */
static uint64_t shape(const struct safety_params *p, const struct safety_vm *v)
{
	uint64_t want = clamp(v->want, v->min, v->max);
	uint64_t old = clamp(v->target, v->min, v->max);

	if (v->manual)
		return want;
	if (absdiff(want, old) < p->dead_band)
		return old;
	if (p->max_step && absdiff(want, old) > p->max_step)
		want = want > old ? old + p->max_step : old - p->max_step;
	return want;
}

/* Rule 4: fit the sum of targets into usable_bytes. */
static void fit_host(const struct safety_params *p, struct safety_vm *vms,
		     size_t n)
{
	uint64_t sum = 0, room = 0;

	for (size_t i = 0; i < n; i++) {
		sum += vms[i].next;
		if (!vms[i].manual && vms[i].next > vms[i].min)
			room += vms[i].next - vms[i].min;
	}
	if (sum <= p->usable_bytes || room == 0)
		return;

	uint64_t excess = sum - p->usable_bytes;

	if (excess > room)
		excess = room; /* the rest cannot be helped: all at min */
	for (size_t i = 0; i < n; i++) {
		if (vms[i].manual || vms[i].next <= vms[i].min)
			continue;
		uint64_t above = vms[i].next - vms[i].min;
		/* round the cut up so the sum really fits */
		uint64_t cut = muldiv(excess, above, room);

		if (muldiv(cut, room, above) < excess && cut < above)
			cut++;
		vms[i].next -= cut;
		vms[i].squeezed = true;
	}
}

/* Rule 5: policy growth bounded by what the host has free now. */
static void bound_growth(const struct safety_params *p, struct safety_vm *vms,
			 size_t n)
{
	uint64_t growth = 0;

	for (size_t i = 0; i < n; i++)
		if (!vms[i].manual && vms[i].next > vms[i].target)
			growth += vms[i].next - vms[i].target;
	if (growth <= p->grow_budget)
		return;
	for (size_t i = 0; i < n; i++) {
		if (vms[i].manual || vms[i].next <= vms[i].target)
			continue;
		vms[i].next =
			vms[i].target + muldiv(vms[i].next - vms[i].target,
					       p->grow_budget, growth);
	}
}

/* Rule 6. */
static void track_progress(const struct safety_params *p, struct safety_vm *v,
			   uint64_t new_target)
{
	uint64_t gap = absdiff(new_target, v->current);

	v->became_stuck = v->became_unstuck = false;
	if (safety_stuck(v)) {
		if (p->now_ms < v->stuck_until_ms && new_target == v->target)
			return;
		/* holdoff over, or a new target: try again */
		v->stuck_until_ms = 0;
		v->became_unstuck = true;
		v->progress_ms = p->now_ms;
		v->last_gap = gap;
		return;
	}
	if (gap <= p->dead_band || new_target != v->target ||
	    gap + p->dead_band <= v->last_gap || v->progress_ms == 0) {
		v->progress_ms = p->now_ms;
		v->last_gap = gap;
		return;
	}
	if (p->stuck_after_ms &&
	    p->now_ms - v->progress_ms >= p->stuck_after_ms) {
		v->stuck_until_ms = p->now_ms + p->stuck_holdoff_ms;
		if (v->stuck_until_ms == 0)
			v->stuck_until_ms = 1;
		v->became_stuck = true;
	}
}

void safety_apply(const struct safety_params *p, struct safety_vm *vms,
		  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vms[i].squeezed = false;
		vms[i].next = shape(p, &vms[i]);
	}
	fit_host(p, vms, n);
	bound_growth(p, vms, n);
	for (size_t i = 0; i < n; i++) {
		track_progress(p, &vms[i], vms[i].next);
		vms[i].target = vms[i].next;
	}
}
