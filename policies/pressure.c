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
#include "policy.h"
#include "policy_util.h"
#include "vmtab.h"

#define PR_DEFAULT_MAX_PROBE	  0.01 /* Senpai */
#define PR_DEFAULT_MAX_BACKOFF	  1.0  /* Senpai */
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
	uint64_t target;	     /* this policy's own target */
	uint64_t installs, failures; /* counters at the last tick */
	uint64_t ms;		     /* now_ms of the last tick */
};

struct pr_state {
	struct pr_cfg cfg;
	struct policy_pace pace;
	struct policy_vmtab vms;
};

static int pr_parse(const struct ha_policy_param *params, size_t n,
		    struct pr_cfg *c, char *err, size_t err_len)
{
	static const struct {
		const char *key;
		double lo, hi;
		size_t off;
	} dbl[] = {
	    {"max_probe", 0, 1, offsetof(struct pr_cfg, max_probe)},
	    {"max_backoff", 0, 10, offsetof(struct pr_cfg, max_backoff)},
	    {"coeff_probe", 0, 1000, offsetof(struct pr_cfg, coeff_probe)},
	    {"coeff_backoff", 0, 1000, offsetof(struct pr_cfg, coeff_backoff)},
	    {"install_target", 0, 1e9, offsetof(struct pr_cfg, install_target)},
	    {"host_psi", 0, 100, offsetof(struct pr_cfg, host_psi)},
	};
	int r;

	*c = (struct pr_cfg){
	    .resize = true,
	    .max_probe = PR_DEFAULT_MAX_PROBE,
	    .max_backoff = PR_DEFAULT_MAX_BACKOFF,
	    .coeff_probe = PR_DEFAULT_COEFF_PROBE,
	    .coeff_backoff = PR_DEFAULT_COEFF_BACKOFF,
	    .install_target = PR_DEFAULT_INSTALL_TARGET,
	    .min_free = PR_DEFAULT_MIN_FREE,
	    .host_psi = PR_DEFAULT_HOST_PSI,
	};
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		double *d = (double *)(void *)((char *)c + dbl[i].off);

		r = policy_param_opt(
		    ha_policy_param_double(params, n, dbl[i].key, dbl[i].lo,
					   dbl[i].hi, d, err, err_len));
		if (r < 0)
			return r;
	}
	r = policy_param_opt(
	    policy_param_bool(params, n, "resize", &c->resize, err, err_len));
	if (r < 0)
		return r;
	return policy_param_opt(
	    ha_policy_param_u64(params, n, "min_free", 0, POLICY_PACE_MAX_BYTES,
				&c->min_free, err, err_len));
}

static int pr_init(const struct ha_policy_param *params, size_t n,
		   void **ret_state, char *err, size_t err_len)
{
	static const char *const known[] = {
	    "resize",	   "max_probe",	    "max_backoff",
	    "coeff_probe", "coeff_backoff", "install_target",
	    "min_free",	   "host_psi",	    "auto_reclaim",
	    "interval_ms", "keep_free",	    "hysteresis",
	    NULL,
	};
	struct pr_state *s;
	int r;

	*ret_state = NULL;
	r = ha_policy_params_known(params, n, known, err, err_len);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = pr_parse(params, n, &s->cfg, err, err_len);
	if (!r)
		r = policy_pace_parse(params, n, true, false,
				      PR_DEFAULT_INTERVAL_MS, &s->pace, err,
				      err_len);
	if (r < 0) {
		free(s);
		return r;
	}
	policy_vmtab_init(&s->vms, sizeof(struct pr_vm));
	*ret_state = s;
	return 0;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

/* Grow @t by the fraction @f of itself, at least one huge frame. */
static uint64_t backoff(uint64_t t, double f)
{
	return policy_sat_add(
	    t, policy_max(policy_scale(t, f), POLICY_HUGE_BYTES));
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
		d_inst = vm->installs >= p->installs
			     ? vm->installs - p->installs
			     : 0;
		d_fail = vm->alloc_failures >= p->failures
			     ? vm->alloc_failures - p->failures
			     : 0;
		dt = now > p->ms ? now - p->ms : host->tick_ms;
		if (dt == 0)
			dt = 1000;
		double rate = (double)d_inst * 1000.0 / (double)dt;
		double pr =
		    c->install_target > 0 ? rate / c->install_target : 0.0;
		bool host_short =
		    c->host_psi > 0 && host->psi_some_avg10 >= c->host_psi;

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

	floor =
	    policy_sat_add(policy_min(vm->guest_used_bytes, hi), c->min_free);
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
