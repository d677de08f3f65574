// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pressure: Senpai's feedback loop on the stall signals a HyperAlloc host
 * can see. Per VM and tick:
 *  - an allocation failure (alloc_failures grew) is a stall: back off by
 *    max_backoff of the target at once;
 *  - installs (the guest taking back frames the host discarded) are
 *    pressure p = install rate / install_target; above 1 the target backs
 *    off by min(max_backoff, coeff_backoff x (p - 1));
 *  - otherwise the target probes down by min(max_probe,
 *    coeff_probe x (1 - p)), and faster while the host itself is short
 *    of memory (PSI some avg10 at or above host_psi): max_probe x
 *    psi / host_psi, at most max_backoff.
 * The target never goes below what the guest uses plus min_free (the
 * host cannot take used memory anyway) nor outside [min, max].
 *
 * With resize (the default) the target is the VM's logical size. With
 * soft reclaim on, each pass leaves installed only the free memory the
 * target allows above what is used; with resize false the logical size
 * stays at max and the loop steers soft reclaim alone: probing shrinks
 * the installed buffer until the guest starts installing frames back.
 */
#include <stdlib.h>

#include "pace.h"
#include "params.h"
#include "policy.h"
#include "policy_util.h"
#include "vmtab.h"

#define PR_DEFAULT_MAX_PROBE	  0.01 /* Senpai */
#define PR_DEFAULT_MAX_BACKOFF	  1.0 /* Senpai */
#define PR_DEFAULT_COEFF_PROBE	  10.0 /* Senpai */
#define PR_DEFAULT_COEFF_BACKOFF  20.0 /* Senpai */
#define PR_DEFAULT_INSTALL_TARGET 64.0 /* installs per second */
#define PR_DEFAULT_MIN_FREE	  (64ull << 20)
#define PR_DEFAULT_HOST_PSI	  10.0 /* % */
#define PR_DEFAULT_INTERVAL_MS	  1000u

struct pr_cfg {
	bool resize; /* logical size = target; else only soft reclaim */
	double max_probe, max_backoff, coeff_probe, coeff_backoff;
	double install_target; /* installs/s at target; 0: ignore installs */
	uint64_t min_free;
	double host_psi; /* 0: ignore the host */
};

struct pr_vm {
	uint64_t target; /* this policy's own target */
	uint64_t installs, failures; /* counters at the last tick */
	uint64_t ms; /* now_ms of the last tick */
};

struct pr_state {
	struct pr_cfg cfg;
	struct policy_pace pace;
	struct policy_vmtab vms;
};

static const struct pr_state pr_defaults = {
	.cfg = {
		.resize = true,
		.max_probe = PR_DEFAULT_MAX_PROBE,
		.max_backoff = PR_DEFAULT_MAX_BACKOFF,
		.coeff_probe = PR_DEFAULT_COEFF_PROBE,
		.coeff_backoff = PR_DEFAULT_COEFF_BACKOFF,
		.install_target = PR_DEFAULT_INSTALL_TARGET,
		.min_free = PR_DEFAULT_MIN_FREE,
		.host_psi = PR_DEFAULT_HOST_PSI,
	},
	.pace = { .interval_ms = PR_DEFAULT_INTERVAL_MS },
};

static const struct policy_param_spec pr_params[] = {
	POLICY_PARAM_BOOL_OF("resize", struct pr_state, cfg.resize),
	POLICY_PARAM_DOUBLE_OF("max_probe", struct pr_state, cfg.max_probe, 0,
			       1),
	POLICY_PARAM_DOUBLE_OF("max_backoff", struct pr_state, cfg.max_backoff,
			       0, 10),
	POLICY_PARAM_DOUBLE_OF("coeff_probe", struct pr_state, cfg.coeff_probe,
			       0, 1000),
	POLICY_PARAM_DOUBLE_OF("coeff_backoff", struct pr_state,
			       cfg.coeff_backoff, 0, 1000),
	POLICY_PARAM_DOUBLE_OF("install_target", struct pr_state,
			       cfg.install_target, 0, 1e9),
	POLICY_PARAM_U64_OF("min_free", struct pr_state, cfg.min_free, 0,
			    POLICY_PACE_MAX_BYTES),
	POLICY_PARAM_DOUBLE_OF("host_psi", struct pr_state, cfg.host_psi, 0,
			       100),
	POLICY_PACE_PARAMS(struct pr_state, pace),
};

static int pr_init(const struct ha_policy_param *params, size_t n,
		   void **ret_state, char *err, size_t err_len)
{
	int r = policy_params_init(params, n, pr_params,
				   POLICY_PARAMS_N(pr_params), &pr_defaults,
				   sizeof(pr_defaults), ret_state, err,
				   err_len);

	if (r == 0)
		policy_vmtab_init(&((struct pr_state *)*ret_state)->vms,
				  sizeof(struct pr_vm));
	return r;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

/* Grow @t by the fraction @f of itself, at least one huge frame. */
static uint64_t backoff(uint64_t t, double f)
{
	return policy_sat_add(t, policy_max(policy_scale(t, f),
					    POLICY_HUGE_BYTES));
}

/* One VM and tick; returns the new target. */
static uint64_t pr_step(const struct pr_cfg *c, struct pr_vm *p, bool fresh,
			const struct ha_policy_vm *vm,
			const struct ha_policy_host *host,
			enum ha_policy_reason *ret_reason)
{
	uint64_t lo, hi, floor, d_inst, d_fail, dt;
	uint64_t now = host->now_ms;

	policy_limits(vm, &lo, &hi);
	if (fresh) {
		p->target = policy_current_target(vm);
		*ret_reason = HA_REASON_NONE;
	} else {
		/* A counter going backwards is a guest that started over:
		 * no delta this tick. */
		d_inst = vm->installs >= p->installs ?
				 vm->installs - p->installs :
				 0;
		d_fail = vm->alloc_failures >= p->failures ?
				 vm->alloc_failures - p->failures :
				 0;
		dt = now > p->ms ? now - p->ms : host->tick_ms;
		if (dt == 0)
			dt = 1000;
		double rate = (double)d_inst * 1000.0 / (double)dt;
		double pr = c->install_target > 0 ? rate / c->install_target :
						    0.0;
		bool host_short = c->host_psi > 0 &&
				  host->psi_some_avg10 >= c->host_psi;

		if (d_fail) {
			p->target = backoff(p->target, c->max_backoff);
			*ret_reason = HA_REASON_PRESSURE_BACKOFF;
		} else if (pr > 1.0) {
			p->target = backoff(
				p->target, dmin(c->max_backoff,
						c->coeff_backoff * (pr - 1.0)));
			*ret_reason = HA_REASON_PRESSURE_BACKOFF;
		} else if (host_short) {
			/* at most all of it: max_backoff may exceed 1 */
			double f = dmin(dmin(c->max_backoff, 1.0),
					c->max_probe * host->psi_some_avg10 /
						c->host_psi);

			p->target -= policy_scale(p->target, f);
			*ret_reason = HA_REASON_HOST_PRESSURE;
		} else {
			double f =
				dmin(c->max_probe, c->coeff_probe * (1.0 - pr));

			p->target -= policy_scale(p->target, f);
			*ret_reason = HA_REASON_PRESSURE_PROBE;
		}
	}
	p->installs = vm->installs;
	p->failures = vm->alloc_failures;
	p->ms = now;

	floor = policy_sat_add(policy_min(vm->guest_used_bytes, hi),
			       c->min_free);
	p->target = policy_clamp(policy_max(p->target, floor), lo, hi);
	return p->target;
}

static void pr_decide(void *state, const struct ha_policy_host *host,
		      const struct ha_policy_vm *vms, size_t n,
		      struct ha_policy_target *targets)
{
	struct pr_state *s = state;
	bool due = policy_pace_due(&s->pace, host);

	policy_vmtab_begin(&s->vms);
	for (size_t i = 0; i < n; i++) {
		bool fresh;
		struct pr_vm *p = policy_vmtab_get(&s->vms, vms[i].id, &fresh);

		uint64_t t;

		if (!p || vms[i].max_bytes == 0) {
			targets[i].reason = HA_REASON_NONE;
			continue;
		}
		t = pr_step(&s->cfg, p, fresh, &vms[i], host,
			    &targets[i].reason);
		policy_pace_target(&s->pace, due, s->cfg.resize, &vms[i], t,
				   &targets[i]);
	}
	policy_vmtab_sweep(&s->vms);
}

static void pr_fini(void *state)
{
	struct pr_state *s = state;

	if (!s)
		return;
	policy_vmtab_free(&s->vms);
	free(s);
}

const struct ha_policy_ops ha_policy_pressure = {
	.abi_version = HA_POLICY_ABI_VERSION,
	.name = "pressure",
	.description = "Senpai-style feedback: probe down slowly without "
		       "stalls, back off fast on installs and failed "
		       "allocations",
	.init = pr_init,
	.decide = pr_decide,
	.fini = pr_fini,
};
