// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of built-in policies and helpers shared by policies. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

extern const struct ha_policy_ops ha_policy_static;
extern const struct ha_policy_ops ha_policy_auto_reclaim;
extern const struct ha_policy_ops ha_policy_shares;
extern const struct ha_policy_ops ha_policy_working_set;
extern const struct ha_policy_ops ha_policy_pressure;

const struct ha_policy_ops *const ha_policy_builtins[] = {
	&ha_policy_static,
	&ha_policy_auto_reclaim,
	&ha_policy_shares,
	&ha_policy_working_set,
	&ha_policy_pressure,
	NULL,
};

const struct ha_policy_ops *ha_policy_builtin(const char *name)
{
	for (size_t i = 0; ha_policy_builtins[i]; i++)
		if (strcmp(ha_policy_builtins[i]->name, name) == 0)
			return ha_policy_builtins[i];
	return NULL;
}

const char *ha_policy_reason_str(enum ha_policy_reason r)
{
	static const char *const names[HA_REASON_COUNT] = {
		[HA_REASON_NONE] = "none",
		[HA_REASON_STATIC] = "static",
		[HA_REASON_SHARES] = "shares",
		[HA_REASON_WORKING_SET] = "working_set",
		[HA_REASON_PRESSURE_PROBE] = "pressure_probe",
		[HA_REASON_PRESSURE_BACKOFF] = "pressure_backoff",
		[HA_REASON_HOST_PRESSURE] = "host_pressure",
		[HA_REASON_IDLE] = "idle",
		[HA_REASON_AUTO_RECLAIM] = "auto_reclaim",
	};

	if ((unsigned)r >= HA_REASON_COUNT)
		return "unknown";
	return names[r];
}

const char *ha_policy_param(const struct ha_policy_param *p, size_t n,
			    const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].key, key) == 0)
			return p[i].value;
	return NULL;
}

int ha_policy_param_double(const struct ha_policy_param *p, size_t n,
			   const char *key, double lo, double hi, double *ret,
			   char *err, size_t err_len)
{
	const char *v = ha_policy_param(p, n, key);
	char *end;
	double d;

	if (!v)
		return -ENOENT;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d)) {
		snprintf(err, err_len, "parameter %s: \"%s\" is not a number",
			 key, v);
		return -EINVAL;
	}
	if (d < lo || d > hi) {
		snprintf(err, err_len,
			 "parameter %s: %g is outside %g..%g", key, d, lo, hi);
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

int ha_policy_param_u64(const struct ha_policy_param *p, size_t n,
			const char *key, uint64_t lo, uint64_t hi,
			uint64_t *ret, char *err, size_t err_len)
{
	const char *v = ha_policy_param(p, n, key);
	unsigned long long u;
	char *end;

	if (!v)
		return -ENOENT;
	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-') {
		snprintf(err, err_len,
			 "parameter %s: \"%s\" is not a non-negative integer",
			 key, v);
		return -EINVAL;
	}
	if (u < lo || u > hi) {
		snprintf(err, err_len, "parameter %s: %llu is outside %llu..%llu",
			 key, u, (unsigned long long)lo,
			 (unsigned long long)hi);
		return -EINVAL;
	}
	*ret = u;
	return 0;
}

int ha_policy_params_known(const struct ha_policy_param *p, size_t n,
			   const char *const *known, char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; known[k]; k++)
			if (strcmp(p[i].key, known[k]) == 0)
				break;
		if (!known[k]) {
			int off = snprintf(err, err_len,
					   "unknown parameter \"%s\"", p[i].key);

			if (known[0] && off > 0 && (size_t)off < err_len) {
				off += snprintf(err + off, err_len - (size_t)off,
						" (known:");
				for (k = 0; known[k] && off > 0 &&
					    (size_t)off < err_len;
				     k++)
					off += snprintf(err + off,
							err_len - (size_t)off,
							" %s", known[k]);
				if (off > 0 && (size_t)off < err_len)
					snprintf(err + off, err_len - (size_t)off,
						 ")");
			}
			return -EINVAL;
		}
	}
	return 0;
}
