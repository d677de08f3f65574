/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON face of the API (docs/api.md): daemon structs to jansson
 * values, and request bodies to ctl structs. Pure: no I/O, no logging, no
 * daemon state; the HTTP layer and tests call these directly.
 *
 * Field names here are public API: renaming one is a breaking change.
 */
#ifndef HA_HTTP_JSON_H
#define HA_HTTP_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "events.h"
#include "vm.h"

/* The memory object of GET /vms/{id}/memory. NULL on ENOMEM. */
json_t *json_vm_memory(const struct vm *vm);
/* One element of GET /vms: id, name, uuid, mechanism, state, memory. */
json_t *json_vm_item(const struct vm *vm);
/* GET /vms/{id}: the item plus state_reason and counters. */
json_t *json_vm_detail(const struct vm *vm);
/* GET /vms: {"vms": [item, ...]} in registry order. */
json_t *json_vm_list(const struct vm_registry *r);

json_t *json_host(const struct ctl_host *h);
/* GET /policy. params_json becomes an object ("" gives {}, text that is
 * not a JSON object gives null); available becomes an array. */
json_t *json_policy(const struct engine_policy *p);
/* One event as sent in SSE data lines and gRPC streams. */
json_t *json_event(const struct event *ev);

/* An RFC 9457 problem: type, title, status, detail, and field/value when
 * not NULL or empty. */
json_t *json_problem(int status, const char *title, const char *detail,
		     const char *field, const char *value);

/* Serialise compactly and release @j (which may be NULL). Returns a
 * malloc'd NUL-terminated string and its length in *ret_len, or NULL on
 * ENOMEM or when @j is NULL. */
char *json_dump_free(json_t *j, size_t *ret_len);

/*
 * Parse the body of PUT/PATCH /vms/{id}/memory: a JSON object with any of
 * target_bytes, min_bytes, max_bytes (integers 0..INT64_MAX), shares
 * (integer 0..UINT32_MAX) and auto_reclaim (boolean). Only syntax and
 * types are checked here; ranges are ctl's business.
 * Returns 0 with *ret filled (has_* for each field present), or -EINVAL
 * with *err set to ERROR_BAD_REQUEST naming the field and value at fault.
 */
int json_parse_memory_update(const char *body, size_t len,
			     struct ctl_memory_update *ret, struct error *err);

/*
 * Parse the body of PUT /policy: any of name (non-empty string), params
 * (object, re-serialised into params_json), overcommit_ratio (number >= 0),
 * host_reserve_bytes and tick_ms (integers >= 0).
 * Returns 0 or -EINVAL with *err set as above.
 */
int json_parse_policy_update(const char *body, size_t len,
			     struct engine_policy_update *ret,
			     struct error *err);

#endif
