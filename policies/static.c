// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * static: targets change only through the API. Every VM not pinned by an
 * operator stays at its max size; nothing is reclaimed automatically.
 */
#include "params.h"
#include "policy.h"

/* No parameters: any key is unknown. */
static int static_init(const struct ha_policy_param *params, size_t n,
		       void **ret_state, char *err, size_t err_len)
{
	*ret_state = NULL;
	return policy_params_parse(params, n, NULL, 0, NULL, err, err_len);
}

static void static_decide(void *state, const struct ha_policy_host *host,
			  const struct ha_policy_vm *vms, size_t n,
			  struct ha_policy_target *targets)
{
	(void)state;
	(void)host;
	for (size_t i = 0; i < n; i++) {
		targets[i].target_bytes = vms[i].max_bytes;
		targets[i].auto_reclaim = false;
		targets[i].reason = HA_REASON_STATIC;
	}
}

static void static_fini(void *state)
{
	(void)state;
}

const struct ha_policy_ops ha_policy_static = {
	.abi_version = HA_POLICY_ABI_VERSION,
	.name = "static",
	.description = "targets change only through the API",
	.init = static_init,
	.decide = static_decide,
	.fini = static_fini,
};
