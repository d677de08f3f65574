// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: gRPC request messages into typed structs
 * (daemon/grpc/map.c: protobuf-c unpack, then the mapping). The first
 * byte picks the request type (a message without fields, one with an id,
 * SetVMMemoryRequest, SetPolicyRequest, WatchEventsRequest); the rest is
 * the serialised message, in a buffer of exactly its length. Results must
 * be terminated strings; errors must be INVALID_ARGUMENT or ENOMEM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "errors.h"
#include "events.h"
#include "grpc/map.h"
#include "hyperalloc.pb-c.h"
#include "vm.h"

static void check(int r, const struct error *err)
{
	if (r == 0 || r == -ENOMEM)
		return;
	if (r != -EINVAL || err->status != ERROR_BAD_REQUEST ||
	    !memchr(err->field, 0, sizeof(err->field)) ||
	    !memchr(err->value, 0, sizeof(err->value)) ||
	    !memchr(err->reason, 0, sizeof(err->reason)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	uint8_t *msg;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	len = size - 1;
	msg = malloc(len ? len : 1);
	if (!msg)
		return 0;
	memcpy(msg, data + 1, len);
	memset(&err, 0, sizeof(err));
	switch (data[0] % 5) {
	case 0:
		r = grpcd_parse_empty(
			&hyperalloc__v1__list_vms_request__descriptor, msg, len,
			&err);
		check(r, &err);
		break;
	case 1: {
		char id[VM_ID_MAX];

		r = grpcd_parse_id(&hyperalloc__v1__get_vmrequest__descriptor,
				   msg, len, id, sizeof(id), &err);
		check(r, &err);
		if (r == 0 && (!memchr(id, 0, sizeof(id)) || !id[0]))
			__builtin_trap();
		break;
	}
	case 2: {
		char id[VM_ID_MAX];
		struct ctl_memory_update u;

		r = grpcd_parse_memory_update(msg, len, id, sizeof(id), &u,
					      &err);
		check(r, &err);
		if (r == 0 && (!memchr(id, 0, sizeof(id)) ||
			       (u.has_target && u.target_bytes > INT64_MAX) ||
			       (u.has_min && u.min_bytes > INT64_MAX) ||
			       (u.has_max && u.max_bytes > INT64_MAX)))
			__builtin_trap();
		break;
	}
	case 3: {
		struct engine_policy_update u;

		memset(&u, 0, sizeof(u));
		r = grpcd_parse_policy_update(msg, len, &u, &err);
		check(r, &err);
		if (r == 0 &&
		    (!memchr(u.name, 0, sizeof(u.name)) ||
		     !memchr(u.params_json, 0, sizeof(u.params_json)) ||
		     (u.has_ratio && !(u.overcommit_ratio >= 0))))
			__builtin_trap();
		break;
	}
	default: {
		char resume[EVENT_ID_LEN];

		r = grpcd_parse_watch(msg, len, resume, sizeof(resume), &err);
		check(r, &err);
		if (r == 0 && !memchr(resume, 0, sizeof(resume)))
			__builtin_trap();
		break;
	}
	}
	free(msg);
	return 0;
}
