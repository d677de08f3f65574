// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum sg_log_level max_level = SG_LOG_INFO;
static char prefix[96] = "ha-simguest";

void sg_log_setup(const char *name, enum sg_log_level level)
{
	max_level = level;
	if (name && *name)
		snprintf(prefix, sizeof(prefix), "ha-simguest[%s]", name);
}

void sg_log(enum sg_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line: stdio's lock keeps lines of different
	 * threads apart. */
	fprintf(stderr, "%s: %s%s\n", prefix,
		level == SG_LOG_ERR	? "error: " :
		level == SG_LOG_WARNING ? "warning: " :
					  "",
		line);
}
