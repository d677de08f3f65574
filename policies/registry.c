// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of built-in policies and their reason codes. */
#include <stdio.h>
#include <string.h>

#include "policy.h"

extern const struct ha_policy_ops ha_policy_static;
extern const struct ha_policy_ops ha_policy_auto_reclaim;
extern const struct ha_policy_ops ha_policy_shares;
extern const struct ha_policy_ops ha_policy_working_set;
extern const struct ha_policy_ops ha_policy_pressure;

const struct ha_policy_ops *const ha_policy_builtins[] = {
	&ha_policy_static,	&ha_policy_auto_reclaim, &ha_policy_shares,
	&ha_policy_working_set, &ha_policy_pressure,	 NULL,
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

const char *ha_policy_builtin_names(char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; ha_policy_builtins[i] && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
				 ha_policy_builtins[i]->name);

		off += w > 0 ? (size_t)w : 0;
	}
	return buf;
}
