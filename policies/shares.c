// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * shares: divide a host budget between the VMs by their shares, above
 * each VM's min (Proxmox's alg1, ESXi's shares, squeezed's proportional
 * policy). The budget is the smaller of the target fill (a fraction of
 * host memory, or an absolute budget) and overcommit_ratio x (host memory
 * - reserve); memory pinned by operators (manual targets) comes off it
 * first. A VM whose share would take it past its max stops at max and
 * the rest is divided again among the others (water-filling).
 *
 * Moves are free-then-allocate, as squeezed does: donors shrink first
 * (at most max_step per tick); receivers grow only into the room the
 * budget has left after what every VM holds now, a donor counting at
 * its old size until its memory is really gone.
 */
#include <stdlib.h>

#include "pace.h"
#include "params.h"
#include "policy.h"
#include "policy_util.h"

#define SHARES_DEFAULT_FILL	   0.8
#define SHARES_DEFAULT_MAX_STEP	   (256ull << 20)
#define SHARES_DEFAULT_INTERVAL_MS 1000u

struct shares {
	double fill; /* fraction of host memory for the VMs */
	uint64_t budget; /* bytes; 0: fill x host memory */
	uint64_t max_step; /* bytes per VM per tick; 0: unlimited */
	struct policy_pace pace;
};

struct share_vm {
	uint64_t lo, hi, cur, want, next;
	bool part; /* divided by this policy */
	bool active; /* still being filled */
};

static const struct shares shares_defaults = {
	.fill = SHARES_DEFAULT_FILL,
	.max_step = SHARES_DEFAULT_MAX_STEP,
	.pace = { .interval_ms = SHARES_DEFAULT_INTERVAL_MS },
};

static const struct policy_param_spec shares_params[] = {
	POLICY_PARAM_DOUBLE_OF("fill", struct shares, fill, 0.01, 1.0),
	POLICY_PARAM_U64_OF("budget", struct shares, budget, 0,
			    POLICY_PACE_MAX_BYTES),
	POLICY_PARAM_U64_OF("max_step", struct shares, max_step, 0,
			    POLICY_PACE_MAX_BYTES),
	POLICY_PACE_PARAMS(struct shares, pace),
};

static int shares_init(const struct ha_policy_param *params, size_t n,
		       void **ret_state, char *err, size_t err_len)
{
	return policy_params_init(params, n, shares_params,
				  POLICY_PARAMS_N(shares_params),
				  &shares_defaults, sizeof(shares_defaults),
				  ret_state, err, err_len);
}

/* Bytes the VMs may have in all: min(fill or budget, ratio x usable). */
static uint64_t shares_budget(const struct shares *s,
			      const struct ha_policy_host *h)
{
	double ratio = h->overcommit_ratio > 0 ? h->overcommit_ratio : 1.0;
	uint64_t want = s->budget ? s->budget :
				    policy_scale(h->total_bytes, s->fill);
	uint64_t usable = policy_sat_sub(h->total_bytes, h->reserve_bytes);

	return policy_min(want, policy_scale(usable, ratio));
}

/* Water-filling: @avail above the mins divided by shares, capped at max. */
static void divide(struct share_vm *sv, const struct ha_policy_vm *vms,
		   size_t n, uint64_t avail)
{
	uint64_t sum_lo = 0;

	for (size_t i = 0; i < n; i++) {
		sv[i].want = sv[i].lo;
		sv[i].active = sv[i].part && vms[i].shares > 0 &&
			       sv[i].hi > sv[i].lo;
		if (sv[i].part)
			sum_lo = policy_sat_add(sum_lo, sv[i].lo);
	}
	if (avail <= sum_lo)
		return; /* not even the mins fit: everyone at min */
	avail -= sum_lo;

	while (avail > 0) {
		uint64_t total = 0, used = 0;
		bool capped = false;

		for (size_t i = 0; i < n; i++)
			if (sv[i].active)
				total += vms[i].shares;
		if (total == 0)
			return;
		for (size_t i = 0; i < n; i++) {
			if (!sv[i].active)
				continue;
			uint64_t give =
				policy_mul_div(avail, vms[i].shares, total);

			if (give >= sv[i].hi - sv[i].lo) {
				sv[i].want = sv[i].hi;
				sv[i].active = false;
				used = policy_sat_add(used,
						      sv[i].hi - sv[i].lo);
				capped = true;
			}
		}
		if (!capped) {
			for (size_t i = 0; i < n; i++)
				if (sv[i].active)
					sv[i].want =
						sv[i].lo +
						policy_mul_div(avail,
							       vms[i].shares,
							       total);
			return;
		}
		avail = policy_sat_sub(avail, used);
	}
}

/* Donors shrink by up to max_step; receivers grow into the room left. */
static void move(const struct shares *s, struct share_vm *sv,
		 const struct ha_policy_vm *vms, size_t n, uint64_t avail)
{
	uint64_t held = 0, asked = 0, room;

	for (size_t i = 0; i < n; i++) {
		if (!sv[i].part)
			continue;
		sv[i].next = sv[i].cur;
		if (sv[i].want < sv[i].cur) {
			uint64_t floor =
				s->max_step ?
					policy_sat_sub(sv[i].cur, s->max_step) :
					0;

			sv[i].next = policy_max(sv[i].want, floor);
		}
		/* Memory is only free once the VM has really shrunk. */
		held = policy_sat_add(
			held,
			policy_max(sv[i].next,
				   policy_min(vms[i].current_bytes, sv[i].hi)));
		if (sv[i].want > sv[i].cur) {
			uint64_t ask = sv[i].want - sv[i].cur;

			if (s->max_step)
				ask = policy_min(ask, s->max_step);
			asked = policy_sat_add(asked, ask);
		}
	}
	room = policy_sat_sub(avail, held);
	for (size_t i = 0; i < n; i++) {
		if (!sv[i].part || sv[i].want <= sv[i].cur)
			continue;
		uint64_t ask = sv[i].want - sv[i].cur;

		if (s->max_step)
			ask = policy_min(ask, s->max_step);
		if (asked > room)
			ask = policy_mul_div(ask, room, asked);
		sv[i].next = sv[i].cur + ask;
	}
}

static void shares_decide(void *state, const struct ha_policy_host *host,
			  const struct ha_policy_vm *vms, size_t n,
			  struct ha_policy_target *targets)
{
	struct shares *s = state;
	bool due = policy_pace_due(&s->pace, host);
	struct share_vm *sv;
	uint64_t avail;

	for (size_t i = 0; i < n; i++) {
		policy_pace_apply(&s->pace, due, &vms[i], 0, &targets[i]);
		targets[i].reason = HA_REASON_NONE;
	}
	/* Without the host's size there is nothing to divide: keep every
	 * target rather than squeeze VMs on a failed read. */
	if (host->total_bytes == 0 || n == 0)
		return;
	sv = calloc(n, sizeof(*sv));
	if (!sv)
		return;

	avail = shares_budget(s, host);
	for (size_t i = 0; i < n; i++) {
		policy_limits(&vms[i], &sv[i].lo, &sv[i].hi);
		sv[i].cur = policy_current_target(&vms[i]);
		sv[i].part = !vms[i].manual && vms[i].max_bytes > 0;
		if (vms[i].manual)
			avail = policy_sat_sub(
				avail,
				policy_max(sv[i].cur,
					   policy_min(vms[i].current_bytes,
						      sv[i].hi)));
	}
	divide(sv, vms, n, avail);
	move(s, sv, vms, n, avail);
	for (size_t i = 0; i < n; i++) {
		if (!sv[i].part)
			continue;
		targets[i].target_bytes = sv[i].next;
		targets[i].reason = HA_REASON_SHARES;
	}
	free(sv);
}

static void shares_fini(void *state)
{
	free(state);
}

const struct ha_policy_ops ha_policy_shares = {
	.abi_version = HA_POLICY_ABI_VERSION,
	.name = "shares",
	.description = "host budget divided by shares above each VM's min; "
		       "donors shrink before receivers grow",
	.init = shares_init,
	.decide = shares_decide,
	.fini = shares_fini,
};
