// SPDX-License-Identifier: GPL-2.0-or-later
/* The built-in policies' parameter table (see params.h). */
#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *param(const struct ha_policy_param *p, size_t n,
			 const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].key, key) == 0)
			return p[i].value;
	return NULL;
}

static int parse_bool(const char *key, const char *v, bool *ret, char *err,
		      size_t err_len)
{
	if (strcmp(v, "true") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(v, "false") == 0) {
		*ret = false;
		return 0;
	}
	snprintf(err, err_len, "parameter %s: \"%s\" is not true or false", key,
		 v);
	return -EINVAL;
}

static int parse_u64(const char *key, const char *v, uint64_t lo, uint64_t hi,
		     uint64_t *ret, char *err, size_t err_len)
{
	unsigned long long u;
	char *end;

	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-') {
		snprintf(err, err_len,
			 "parameter %s: \"%s\" is not a non-negative integer",
			 key, v);
		return -EINVAL;
	}
	if (u < lo || u > hi) {
		snprintf(err, err_len,
			 "parameter %s: %llu is outside %llu..%llu", key, u,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -EINVAL;
	}
	*ret = u;
	return 0;
}

static int parse_double(const char *key, const char *v, double lo, double hi,
			double *ret, char *err, size_t err_len)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d)) {
		snprintf(err, err_len, "parameter %s: \"%s\" is not a number",
			 key, v);
		return -EINVAL;
	}
	if (d < lo || d > hi) {
		snprintf(err, err_len, "parameter %s: %g is outside %g..%g",
			 key, d, lo, hi);
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

/* "unknown parameter "k" (known: a b c)", cut to @err_len. */
static int unknown(const char *key, const struct policy_param_spec *specs,
		   size_t n_specs, char *err, size_t err_len)
{
	int w = snprintf(err, err_len, "unknown parameter \"%s\"", key);
	size_t off = w > 0 ? (size_t)w : 0;

	for (size_t k = 0; k < n_specs && off < err_len; k++) {
		w = snprintf(err + off, err_len - off, "%s%s",
			     k ? " " : " (known: ", specs[k].key);
		off += w > 0 ? (size_t)w : 0;
	}
	if (n_specs && off < err_len)
		snprintf(err + off, err_len - off, ")");
	return -EINVAL;
}

int policy_params_parse(const struct ha_policy_param *params, size_t n,
			const struct policy_param_spec *specs, size_t n_specs,
			void *dst, char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < n_specs && strcmp(params[i].key, specs[k].key))
			k++;
		if (k == n_specs)
			return unknown(params[i].key, specs, n_specs, err,
				       err_len);
	}
	for (size_t k = 0; k < n_specs; k++) {
		const struct policy_param_spec *s = &specs[k];
		const char *v = param(params, n, s->key);
		void *field = (char *)dst + s->offset;
		int r = 0;

		if (!v)
			continue; /* the default stays */
		switch (s->kind) {
		case POLICY_PARAM_BOOL:
			r = parse_bool(s->key, v, field, err, err_len);
			break;
		case POLICY_PARAM_U64:
			r = parse_u64(s->key, v, s->ulo, s->uhi, field, err,
				      err_len);
			break;
		case POLICY_PARAM_DOUBLE:
			r = parse_double(s->key, v, s->dlo, s->dhi, field, err,
					 err_len);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int policy_params_init(const struct ha_policy_param *params, size_t n,
		       const struct policy_param_spec *specs, size_t n_specs,
		       const void *defaults, size_t size, void **ret_state,
		       char *err, size_t err_len)
{
	void *s;
	int r;

	*ret_state = NULL;
	s = malloc(size);
	if (!s)
		return -ENOMEM;
	memcpy(s, defaults, size);
	r = policy_params_parse(params, n, specs, n_specs, s, err, err_len);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}
