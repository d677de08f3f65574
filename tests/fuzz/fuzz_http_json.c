// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: HTTP request bodies into typed structs
 * (daemon/http/json.c). The first byte picks the parser: PUT/PATCH
 * /vms/{id}/memory (json_parse_memory_update) or PUT /policy with its
 * overcommit ratio, reserve, tick and params
 * (json_parse_policy_update); the rest is the body, in a buffer of
 * exactly its length and not NUL-terminated, as libmicrohttpd hands it
 * over. On success the struct must be consistent (strings terminated);
 * on failure the error must say 400 and be terminated.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "errors.h"
#include "http/json.h"

static void check_error(const struct error *err)
{
	if (err->status != ERROR_BAD_REQUEST ||
	    !memchr(err->field, 0, sizeof(err->field)) ||
	    !memchr(err->value, 0, sizeof(err->value)) ||
	    !memchr(err->reason, 0, sizeof(err->reason)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	char *body;
	int r;

	if (size < 1)
		return 0;
	body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	memset(&err, 0, sizeof(err));
	if (data[0] & 1) {
		struct engine_policy_update u;

		memset(&u, 0, sizeof(u));
		r = json_parse_policy_update(body, size - 1, &u, &err);
		if (r == 0) {
			if (!memchr(u.name, 0, sizeof(u.name)) ||
			    !memchr(u.params_json, 0, sizeof(u.params_json)))
				__builtin_trap();
			if (u.has_name && !u.name[0])
				__builtin_trap();
			if (u.has_ratio && !(u.overcommit_ratio >= 0))
				__builtin_trap();
		} else if (r == -EINVAL) {
			check_error(&err);
		}
	} else {
		struct ctl_memory_update u;

		memset(&u, 0, sizeof(u));
		r = json_parse_memory_update(body, size - 1, &u, &err);
		if (r == 0) {
			if ((u.has_target && u.target_bytes > INT64_MAX) ||
			    (u.has_min && u.min_bytes > INT64_MAX) ||
			    (u.has_max && u.max_bytes > INT64_MAX))
				__builtin_trap();
		} else if (r == -EINVAL) {
			check_error(&err);
		}
	}
	free(body);
	return 0;
}
