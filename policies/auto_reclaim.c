// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * auto-reclaim: HyperAlloc's automatic reclamation with knobs. Logical
 * sizes stay at max; every interval_ms the engine soft-reclaims the free
 * huge frames of each VM that can (their backing is discarded, the guest
 * installs them again when it allocates them), leaving keep_free bytes
 * installed as a buffer. With a hysteresis, a pass only runs once more
 * than keep_free + hysteresis is free and installed. The defaults are the
 * original's: every 5 s, no buffer, no threshold.
 */
#include <stdlib.h>

#include "pace.h"
#include "params.h"
#include "policy.h"

#define AUTO_RECLAIM_DEFAULT_INTERVAL_MS 5000u

struct auto_reclaim {
	struct policy_pace pace;
};

static const struct auto_reclaim auto_reclaim_defaults = {
	.pace = {
		.enabled = true,
		.interval_ms = AUTO_RECLAIM_DEFAULT_INTERVAL_MS,
	},
};

/* Soft reclaim is what this policy does: no auto_reclaim switch. */
static const struct policy_param_spec auto_reclaim_params[] = {
	POLICY_PACE_PARAMS_NO_SWITCH(struct auto_reclaim, pace),
};

static int auto_reclaim_init(const struct ha_policy_param *params, size_t n,
			     void **ret_state, char *err, size_t err_len)
{
	return policy_params_init(params, n, auto_reclaim_params,
				  POLICY_PARAMS_N(auto_reclaim_params),
				  &auto_reclaim_defaults,
				  sizeof(auto_reclaim_defaults), ret_state, err,
				  err_len);
}

static void auto_reclaim_decide(void *state, const struct ha_policy_host *host,
				const struct ha_policy_vm *vms, size_t n,
				struct ha_policy_target *targets)
{
	struct policy_pace *p = &((struct auto_reclaim *)state)->pace;
	bool due = policy_pace_due(p, host);

	for (size_t i = 0; i < n; i++) {
		targets[i].target_bytes = vms[i].max_bytes;
		targets[i].reason = HA_REASON_AUTO_RECLAIM;
		policy_pace_apply(p, due, &vms[i], 0, &targets[i]);
	}
}

static void auto_reclaim_fini(void *state)
{
	free(state);
}

const struct ha_policy_ops ha_policy_auto_reclaim = {
	.abi_version = HA_POLICY_ABI_VERSION,
	.name = "auto-reclaim",
	.description = "logical sizes at max; soft-reclaim free memory every "
		       "interval_ms, keeping keep_free installed",
	.init = auto_reclaim_init,
	.decide = auto_reclaim_decide,
	.fini = auto_reclaim_fini,
};
