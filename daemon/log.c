// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static bool journal;

static const char *const level_names[] = {
	[LOG_LEVEL_ERR] = "err",       [LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_setup(enum log_level level, bool journal_prefix)
{
	max_level = level;
	journal = journal_prefix || getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level level)
{
	max_level = level;
}

enum log_level log_get_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s, enum log_level *ret_level)
{
	for (int l = LOG_LEVEL_ERR; l <= LOG_LEVEL_DEBUG; l++) {
		if (strcmp(s, level_names[l]) == 0) {
			*ret_level = (enum log_level)l;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_to_string(enum log_level level)
{
	if (level < LOG_LEVEL_ERR || level > LOG_LEVEL_DEBUG)
		return "unknown";
	return level_names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char raw[2048], line[4 * sizeof(raw)];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Messages carry text from clients and guests: one message is one
	 * line, whatever they put in it. */
	text_log_escape(raw, line, sizeof(line));

	if (journal) {
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %-7s %s\n", stamp,
			ts.tv_nsec / 1000000, level_names[level], line);
	}
	fflush(stderr);
}
