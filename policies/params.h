/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parameters of the built-in policies, parsed by one table. Each
 * policy lists its keys once: type, range, and where the value goes in
 * its state. policy_params_init() does the rest for every policy: unknown
 * keys, strict parsing, defaults, the state's allocation. Pure: no I/O.
 * (Plugins parse their own parameters: none of this is exported.)
 */
#ifndef HA_POLICY_PARAMS_H
#define HA_POLICY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

enum policy_param_kind {
	POLICY_PARAM_BOOL, /* "true" or "false" */
	POLICY_PARAM_U64, /* decimal, 0..2^64-1, within [ulo, uhi] */
	POLICY_PARAM_DOUBLE, /* a finite number within [dlo, dhi] */
};

struct policy_param_spec {
	const char *key;
	enum policy_param_kind kind;
	size_t offset; /* of the bool, uint64_t or double in the state */
	uint64_t ulo, uhi;
	double dlo, dhi;
};

/* The kind for @field of the state struct @type, from the field's type: a
 * field of another type does not compile. (clang-format would take the
 * associations of _Generic for labels.) */
/* clang-format off */
#define POLICY_PARAM_KIND(type, field)                                    \
	_Generic(((type *)0)->field,                                      \
		 bool: POLICY_PARAM_BOOL,                                 \
		 uint64_t: POLICY_PARAM_U64,                              \
		 double: POLICY_PARAM_DOUBLE)
/* clang-format on */

/* Table entries for @field of the state struct @type. */
#define POLICY_PARAM_BOOL_OF(k, type, field)                        \
	{                                                           \
		.key = (k), .kind = POLICY_PARAM_KIND(type, field), \
		.offset = offsetof(type, field),                    \
	}
#define POLICY_PARAM_U64_OF(k, type, field, lo, hi)                        \
	{                                                                  \
		.key = (k), .kind = POLICY_PARAM_KIND(type, field),        \
		.offset = offsetof(type, field), .ulo = (lo), .uhi = (hi), \
	}
#define POLICY_PARAM_DOUBLE_OF(k, type, field, lo, hi)                     \
	{                                                                  \
		.key = (k), .kind = POLICY_PARAM_KIND(type, field),        \
		.offset = offsetof(type, field), .dlo = (lo), .dhi = (hi), \
	}

/*
 * Parse @params (@n of them) into the struct at @dst by @specs (@n_specs
 * entries). Every key must be in the table, else -EINVAL with "unknown
 * parameter "k" (known: ...)" in @err; then every key of the table that
 * is given must be of its kind and in its range, else -EINVAL with a
 * sentence naming it; the first fault is reported, in the table's order.
 * Absent keys leave @dst's value (the default) alone. 0 on success.
 */
int policy_params_parse(const struct ha_policy_param *params, size_t n,
			const struct policy_param_spec *specs, size_t n_specs,
			void *dst, char *err, size_t err_len);

/*
 * The init() of a built-in policy: a state of @size bytes starting as a
 * copy of @defaults, with @params parsed into it as above. 0 and the state
 * (free() it) in *ret_state; -ENOMEM; or -EINVAL with *ret_state NULL and
 * a message in @err.
 */
int policy_params_init(const struct ha_policy_param *params, size_t n,
		       const struct policy_param_spec *specs, size_t n_specs,
		       const void *defaults, size_t size, void **ret_state,
		       char *err, size_t err_len);

#define POLICY_PARAMS_N(specs) (sizeof(specs) / sizeof((specs)[0]))

#endif
