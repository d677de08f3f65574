/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging of ha-simguest: the one place it writes messages. Lines go to
 * stderr as "ha-simguest[NAME]: message"; --quiet drops everything below
 * warnings. The one-line summary at exit goes to stdout, not through here.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdbool.h>

enum sg_log_level {
	SG_LOG_ERR = 3,
	SG_LOG_WARNING = 4,
	SG_LOG_INFO = 6,
	SG_LOG_DEBUG = 7,
};

/* Set the name shown in every line and the most verbose level printed. */
void sg_log_setup(const char *name, enum sg_log_level max_level);

void sg_log(enum sg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sg_err(...)   sg_log(SG_LOG_ERR, __VA_ARGS__)
#define sg_warn(...)  sg_log(SG_LOG_WARNING, __VA_ARGS__)
#define sg_info(...)  sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)

#endif
