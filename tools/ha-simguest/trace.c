// SPDX-License-Identifier: GPL-2.0-or-later
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACE_FILE_MAX (64u << 20) /* a trace is text: refuse giant files */
#define TRACE_LINE_MAX 1024u

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parse one number of a line starting at *p; on success advance *p. */
static bool parse_number(const char **p, double *ret)
{
	const char *s = *p;
	char *end;
	double v;

	while (is_space(*s))
		s++;
	if (!*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v))
		return false;
	if (*end && !is_space(*end))
		return false;
	*ret = v;
	*p = end;
	return true;
}

/* The word at @p, for error messages. */
static void word_at(const char *p, char *buf, size_t len)
{
	size_t n = 0;

	while (is_space(*p))
		p++;
	while (p[n] && !is_space(p[n]) && n + 1 < len)
		n++;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static const char *const field_names[3] = { "time_s", "fraction",
					    "churn_per_s" };

/* Parse the content of one line (comment already cut off) into @pt.
 * Returns 0 or -EINVAL with the reason in @err. */
static int parse_line(const char *line, const struct trace_point *prev,
		      struct trace_point *pt, char *err, size_t errlen)
{
	const char *p = line;
	double v[3];
	char word[32];

	for (int i = 0; i < 3; i++) {
		if (!parse_number(&p, &v[i])) {
			word_at(p, word, sizeof(word));
			if (!word[0])
				set_err(err, errlen,
					"expected 3 numbers \"time_s fraction "
					"churn_per_s\", got %d",
					i);
			else
				set_err(err, errlen,
					"%s is not a finite number: \"%s\"",
					field_names[i], word);
			return -EINVAL;
		}
	}
	while (is_space(*p))
		p++;
	if (*p) {
		word_at(p, word, sizeof(word));
		set_err(err, errlen,
			"trailing text \"%s\" after \"time_s fraction "
			"churn_per_s\"",
			word);
		return -EINVAL;
	}
	if (v[0] < 0) {
		set_err(err, errlen, "time %g is negative", v[0]);
		return -EINVAL;
	}
	if (prev && v[0] < prev->t_s) {
		set_err(err, errlen,
			"time %g is before the previous point's %g", v[0],
			prev->t_s);
		return -EINVAL;
	}
	if (v[1] < 0 || v[1] > 1) {
		set_err(err, errlen, "fraction %g is outside [0, 1]", v[1]);
		return -EINVAL;
	}
	if (v[2] < 0) {
		set_err(err, errlen, "churn %g is negative", v[2]);
		return -EINVAL;
	}
	*pt = (struct trace_point){ .t_s = v[0],
				    .fraction = v[1],
				    .churn = v[2] };
	return 0;
}

int trace_parse(const char *text, size_t len, struct trace *ret_trace,
		char *err, size_t errlen)
{
	struct trace t = { 0 };
	size_t cap = 0, pos = 0, lineno = 0;
	char line[TRACE_LINE_MAX + 1];
	int r;

	while (pos < len) {
		size_t end = pos, n;
		struct trace_point pt;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		n = end - pos;
		if (n > TRACE_LINE_MAX) {
			set_err(err, errlen, "line %zu: longer than %u bytes",
				lineno, TRACE_LINE_MAX);
			r = -EINVAL;
			goto cleanup;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos = end + 1;

		char *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		if (strlen(line) != n && !hash) {
			set_err(err, errlen, "line %zu: contains a NUL byte",
				lineno);
			r = -EINVAL;
			goto cleanup;
		}
		const char *p = line;

		while (is_space(*p))
			p++;
		if (!*p)
			continue;

		char why[160];

		r = parse_line(p, t.count ? &t.points[t.count - 1] : NULL, &pt,
			       why, sizeof(why));
		if (r < 0) {
			set_err(err, errlen, "line %zu: %s", lineno, why);
			goto cleanup;
		}
		if (t.count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct trace_point *np =
				realloc(t.points, ncap * sizeof(*np));

			if (!np) {
				set_err(err, errlen, "out of memory");
				r = -ENOMEM;
				goto cleanup;
			}
			t.points = np;
			cap = ncap;
		}
		t.points[t.count++] = pt;
	}
	if (t.count == 0) {
		set_err(err, errlen,
			"no points (want lines \"time_s fraction "
			"churn_per_s\")");
		r = -EINVAL;
		goto cleanup;
	}
	*ret_trace = t;
	return 0;

cleanup:
	free(t.points);
	return r;
}

int trace_load(const char *path, struct trace *ret_trace, char *err,
	       size_t errlen)
{
	char *buf = NULL;
	char why[256];
	struct stat st;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > TRACE_FILE_MAX) {
		set_err(err, errlen,
			"%s: not a regular file of at most %u "
			"bytes",
			path, TRACE_FILE_MAX);
		r = -EINVAL;
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		set_err(err, errlen, "%s: out of memory", path);
		r = -ENOMEM;
		goto cleanup;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(-r));
			goto cleanup;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	r = trace_parse(buf, got, ret_trace, why, sizeof(why));
	if (r < 0)
		set_err(err, errlen, "%s:%s%s", path,
			strncmp(why, "line ", 5) == 0 ? "" : " ",
			strncmp(why, "line ", 5) == 0 ? why + 5 : why);

cleanup:
	free(buf);
	close(fd);
	return r;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int trace_resolve(const char *name, const char *dir, char *ret_path, size_t len)
{
	int n;

	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if ((size_t)snprintf(ret_path, len, "%s", name) >= len)
			return -ENAMETOOLONG;
		return file_exists(ret_path) ? 0 : -ENOENT;
	}
	if (dir && *dir) {
		n = snprintf(ret_path, len, "%s/%s.trace", dir, name);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (file_exists(ret_path))
			return 0;
		n = snprintf(ret_path, len, "%s/%s", dir, name);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (file_exists(ret_path))
			return 0;
	}
	if ((size_t)snprintf(ret_path, len, "%s", name) >= len)
		return -ENAMETOOLONG;
	return file_exists(ret_path) ? 0 : -ENOENT;
}

void trace_free(struct trace *t)
{
	if (!t)
		return;
	free(t->points);
	t->points = NULL;
	t->count = 0;
}

double trace_length(const struct trace *t)
{
	return t->count ? t->points[t->count - 1].t_s : 0;
}

struct trace_sample trace_at(const struct trace *t, double pos_s)
{
	const struct trace_point *p = t->points;
	size_t lo = 0, hi = t->count - 1;

	if (pos_s <= p[0].t_s)
		return (struct trace_sample){ p[0].fraction, p[0].churn };
	if (pos_s >= p[hi].t_s)
		return (struct trace_sample){ p[hi].fraction, p[hi].churn };
	/* The last point at or before pos_s: p[lo].t_s <= pos < p[hi].t_s;
	 * with equal times (a step) the later point wins. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid].t_s <= pos_s)
			lo = mid;
		else
			hi = mid;
	}

	double span = p[hi].t_s - p[lo].t_s;
	double w = span > 0 ? (pos_s - p[lo].t_s) / span : 1;

	return (struct trace_sample){
		p[lo].fraction + w * (p[hi].fraction - p[lo].fraction),
		p[lo].churn + w * (p[hi].churn - p[lo].churn),
	};
}

double trace_clock_pos(const struct trace_clock *c, uint64_t now_ns,
		       bool *ret_done)
{
	double pos = 0;

	if (now_ns > c->start_ns)
		pos = (double)(now_ns - c->start_ns) / 1e9 * c->scale;
	return trace_clock_wrap(c, pos, ret_done);
}

double trace_clock_wrap(const struct trace_clock *c, double pos, bool *ret_done)
{
	double len = trace_length(c->trace);

	*ret_done = false;
	if (c->loop) {
		if (len > 0)
			pos = fmod(pos, len);
		else
			pos = 0;
		return pos;
	}
	if (pos >= len) {
		*ret_done = true;
		pos = len;
	}
	return pos;
}
