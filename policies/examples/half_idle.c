// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * half-idle: an example of an out-of-tree policy plugin. Build it as a
 * shared object exporting `ha_policy_ops` and load it by path:
 *
 *   cc -std=c11 -fPIC -shared -I.../policies -o half_idle.so half_idle.c
 *   PUT /policy {"name": "/path/to/half_idle.so", "params": {"share": 0.5}}
 *
 * Each VM's target is its max minus `share` (default one half) of the
 * memory free in the guest, so a VM with much idle memory gives part of
 * it back and keeps the rest as room to grow. Repeated every tick this
 * settles where target = (max + share x used) / (1 + share).
 *
 * A plugin sees only policy.h: the daemon does not export the built-ins'
 * parameter table (policies/params.h), so a plugin parses its parameters
 * itself.
 *
 * The -D switches below build the deliberately broken variants the tests
 * load (mk/policies.mk): a wrong ABI version, no ha_policy_ops symbol, an
 * init that always fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct half_idle {
	double share;
};

#ifdef HALF_IDLE_INIT_FAILS
static int half_idle_init(const struct ha_policy_param *params, size_t n,
			  void **ret_state, char *err, size_t err_len)
{
	(void)params;
	(void)n;
	*ret_state = NULL;
	snprintf(err, err_len, "half-idle: this build always refuses to start");
	return -EINVAL;
}
#else
static int half_idle_init(const struct ha_policy_param *params, size_t n,
			  void **ret_state, char *err, size_t err_len)
{
	struct half_idle *h;

	*ret_state = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->share = 0.5;
	for (size_t i = 0; i < n; i++) {
		char *end;
		double d;

		if (strcmp(params[i].key, "share") != 0) {
			snprintf(err, err_len,
				 "unknown parameter \"%s\" (known: share)",
				 params[i].key);
			free(h);
			return -EINVAL;
		}
		errno = 0;
		d = strtod(params[i].value, &end);
		if (errno || end == params[i].value || *end || !(d >= 0) ||
		    d > 1) {
			snprintf(err, err_len,
				 "parameter share: \"%s\" is not a number in "
				 "0..1",
				 params[i].value);
			free(h);
			return -EINVAL;
		}
		h->share = d;
	}
	*ret_state = h;
	return 0;
}
#endif

static void half_idle_decide(void *state, const struct ha_policy_host *host,
			     const struct ha_policy_vm *vms, size_t n,
			     struct ha_policy_target *targets)
{
	const struct half_idle *h = state;

	(void)host;
	for (size_t i = 0; i < n; i++) {
		uint64_t max = vms[i].max_bytes;
		uint64_t free_b = vms[i].guest_free_bytes;
		double give = (double)(free_b < max ? free_b : max) * h->share;

		targets[i].target_bytes = max - (uint64_t)give;
		targets[i].reason = HA_REASON_IDLE;
	}
}

static void half_idle_fini(void *state)
{
	free(state);
}

#ifdef HALF_IDLE_NO_SYMBOL
#define HALF_IDLE_SYMBOL half_idle_ops /* not what the daemon looks up */
#else
#define HALF_IDLE_SYMBOL ha_policy_ops
#endif
#ifdef HALF_IDLE_BAD_ABI
#define HALF_IDLE_ABI (HA_POLICY_ABI_VERSION + 41u)
#else
#define HALF_IDLE_ABI HA_POLICY_ABI_VERSION
#endif

/* The one symbol a plugin exports (built with -fvisibility=hidden). */
extern const struct ha_policy_ops HALF_IDLE_SYMBOL;
__attribute__((visibility("default")))
const struct ha_policy_ops HALF_IDLE_SYMBOL = {
	.abi_version = HALF_IDLE_ABI,
	.name = "half-idle",
	.description = "max minus half of the guest's free memory",
	.init = half_idle_init,
	.decide = half_idle_decide,
	.fini = half_idle_fini,
};
