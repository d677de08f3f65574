/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging: the one place the daemon writes messages. Lines go to stderr;
 * under systemd (JOURNAL_STREAM set, or forced) each line starts with a
 * syslog priority prefix "<N>" that journald understands. Library-like
 * modules do not log: they return errors and their callers log them.
 */
#ifndef HA_LOG_H
#define HA_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log_setup(enum log_level max_level, bool journal_prefix);
void log_set_level(enum log_level max_level);
enum log_level log_get_level(void);

/* Parse "err", "warning", "notice", "info", "debug". Returns 0 or -EINVAL. */
int log_level_from_string(const char *s, enum log_level *ret_level);
const char *log_level_to_string(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
