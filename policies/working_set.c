// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * working-set: size each VM to an estimate of its working set plus
 * headroom (vcmmd's WSS policy, ESXi's working-set estimate).
 *
 * The estimate follows the guest's used memory (guest_used_bytes) all
 * the way up at once and down by a fraction `decay` of the gap per tick:
 * growth is served at the next tick, a dip is believed only when it
 * lasts. The target is the estimate plus headroom (a fraction of it, at
 * least headroom_min), rounded up to whole huge frames. Idle memory is
 * taxed (ESXi's idle tax): a VM that has not reached into its headroom
 * for idle_window_ms keeps only (1 - idle_tax) of it.
 *
 * With resize (the default) the target is the VM's logical size. With
 * soft reclaim on, each pass leaves installed only the free memory the
 * target allows above what is used: with resize false the logical size
 * stays at max and the estimate steers soft reclaim alone, so a guest
 * that outgrows it installs frames instead of failing allocations.
 */
#include <stdlib.h>

#include "pace.h"
#include "params.h"
#include "policy.h"
#include "policy_util.h"
#include "vmtab.h"

#define WS_DEFAULT_DECAY	  0.125 /* vcmmd: 1/8 of the way down */
#define WS_DEFAULT_HEADROOM	  0.1
#define WS_DEFAULT_HEADROOM_MIN	  (64ull << 20)
#define WS_DEFAULT_IDLE_WINDOW_MS 60000u /* ESXi Mem.SamplePeriod */
#define WS_DEFAULT_IDLE_TAX	  0.75 /* ESXi Mem.IdleTax */
#define WS_DEFAULT_INTERVAL_MS	  1000u

struct ws_cfg {
	bool resize; /* logical size = target; else only soft reclaim */
	double decay;
	double headroom;
	uint64_t headroom_min;
	uint64_t idle_window_ms; /* 0: no idle tax */
	double idle_tax;
};

struct ws_vm {
	uint64_t ws; /* working-set estimate, bytes */
	uint64_t active_ms; /* last time the guest grew into its headroom */
};

struct ws_state {
	struct ws_cfg cfg;
	struct policy_pace pace;
	struct policy_vmtab vms;
};

static const struct ws_state ws_defaults = {
	.cfg = {
		.resize = true,
		.decay = WS_DEFAULT_DECAY,
		.headroom = WS_DEFAULT_HEADROOM,
		.headroom_min = WS_DEFAULT_HEADROOM_MIN,
		.idle_window_ms = WS_DEFAULT_IDLE_WINDOW_MS,
		.idle_tax = WS_DEFAULT_IDLE_TAX,
	},
	.pace = { .interval_ms = WS_DEFAULT_INTERVAL_MS },
};

static const struct policy_param_spec ws_params[] = {
	POLICY_PARAM_BOOL_OF("resize", struct ws_state, cfg.resize),
	POLICY_PARAM_DOUBLE_OF("decay", struct ws_state, cfg.decay, 0.0, 1.0),
	POLICY_PARAM_DOUBLE_OF("headroom", struct ws_state, cfg.headroom, 0.0,
			       10.0),
	POLICY_PARAM_U64_OF("headroom_min", struct ws_state, cfg.headroom_min,
			    0, POLICY_PACE_MAX_BYTES),
	POLICY_PARAM_U64_OF("idle_window_ms", struct ws_state,
			    cfg.idle_window_ms, 0, POLICY_PACE_MAX_INTERVAL_MS),
	POLICY_PARAM_DOUBLE_OF("idle_tax", struct ws_state, cfg.idle_tax, 0.0,
			       1.0),
	POLICY_PACE_PARAMS(struct ws_state, pace),
};

static int ws_init(const struct ha_policy_param *params, size_t n,
		   void **ret_state, char *err, size_t err_len)
{
	int r = policy_params_init(params, n, ws_params,
				   POLICY_PARAMS_N(ws_params), &ws_defaults,
				   sizeof(ws_defaults), ret_state, err,
				   err_len);

	if (r == 0)
		policy_vmtab_init(&((struct ws_state *)*ret_state)->vms,
				  sizeof(struct ws_vm));
	return r;
}

/* One VM: update its estimate from @used, return its target. */
static uint64_t ws_step(const struct ws_cfg *c, struct ws_vm *w, bool fresh,
			const struct ha_policy_vm *vm, uint64_t now,
			enum ha_policy_reason *ret_reason)
{
	uint64_t lo, hi, used, headroom, t;

	policy_limits(vm, &lo, &hi);
	used = policy_min(vm->guest_used_bytes, hi);
	headroom =
		policy_max(c->headroom_min, policy_scale(w->ws, c->headroom));

	if (fresh || now < w->active_ms) {
		/* first sight, or the clock went back: start afresh */
		w->ws = used;
		w->active_ms = now;
	} else {
		/* Growing into the headroom by more than a quarter of it
		 * is activity; churn around the estimate is not. */
		if (used > policy_sat_add(w->ws, headroom / 4))
			w->active_ms = now;
		if (used >= w->ws)
			w->ws = used;
		else
			w->ws -= policy_scale(w->ws - used, c->decay);
	}

	headroom =
		policy_max(c->headroom_min, policy_scale(w->ws, c->headroom));
	*ret_reason = HA_REASON_WORKING_SET;
	if (c->idle_window_ms && c->idle_tax > 0 &&
	    now - w->active_ms >= c->idle_window_ms) {
		headroom -= policy_scale(headroom, c->idle_tax);
		*ret_reason = HA_REASON_IDLE;
	}
	t = policy_sat_add(w->ws, headroom);
	/* whole huge frames: the unit in which memory moves */
	if (t % POLICY_HUGE_BYTES)
		t = policy_sat_add(t - t % POLICY_HUGE_BYTES,
				   POLICY_HUGE_BYTES);
	return policy_clamp(t, lo, hi);
}

static void ws_decide(void *state, const struct ha_policy_host *host,
		      const struct ha_policy_vm *vms, size_t n,
		      struct ha_policy_target *targets)
{
	struct ws_state *s = state;
	bool due = policy_pace_due(&s->pace, host);

	policy_vmtab_begin(&s->vms);
	for (size_t i = 0; i < n; i++) {
		bool fresh;
		struct ws_vm *w = policy_vmtab_get(&s->vms, vms[i].id, &fresh);

		uint64_t t;

		/* No history (no memory, a duplicate id) or no size: keep
		 * what was decided before. */
		if (!w || vms[i].max_bytes == 0) {
			targets[i].reason = HA_REASON_NONE;
			continue;
		}
		t = ws_step(&s->cfg, w, fresh, &vms[i], host->now_ms,
			    &targets[i].reason);
		policy_pace_target(&s->pace, due, s->cfg.resize, &vms[i], t,
				   &targets[i]);
	}
	policy_vmtab_sweep(&s->vms);
}

static void ws_fini(void *state)
{
	struct ws_state *s = state;

	if (!s)
		return;
	policy_vmtab_free(&s->vms);
	free(s);
}

const struct ha_policy_ops ha_policy_working_set = {
	.abi_version = HA_POLICY_ABI_VERSION,
	.name = "working-set",
	.description = "working-set estimate (up at once, down slowly) plus "
		       "headroom; idle headroom taxed",
	.init = ws_init,
	.decide = ws_decide,
	.fini = ws_fini,
};
