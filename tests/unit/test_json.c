// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/http/json.c: the JSON shape of every resource (the
 * field names are public API) and the strict request body parsers.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The object's keys are exactly @keys (any order). */
static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	ck_assert_ptr_nonnull(o);
	ck_assert(json_is_object(o));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(json_object_get(o, keys[i]), "key %s missing",
			      keys[i]);
	ck_assert_uint_eq(json_object_size(o), n);
}

static struct vm *make_vm(void)
{
	static struct vm vm;

	memset(&vm, 0, sizeof(vm));
	strcpy(vm.id, "sim-1");
	strcpy(vm.uuid, "6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b");
	vm.mechanism = VM_MECH_SIM;
	vm.state = VM_STATE_QUARANTINED;
	strcpy(vm.state_reason, "tree 3: free count 9999 above 4096");
	vm.mem.max_bytes = 1073741824;
	vm.mem.min_bytes = 268435456;
	vm.mem.target_bytes = 805306368;
	vm.mem.current_bytes = 805306368;
	vm.mem.host_resident_bytes = 512000000;
	vm.mem.guest_free_bytes = 400000000;
	vm.mem.reclaimed_bytes = 268435456;
	vm.mem.soft_reclaimed_bytes = 100663296;
	vm.mem.shares = 1000;
	vm.mem.target_source = VM_TARGET_MANUAL;
	vm.mem.auto_reclaim = true;
	vm.mem.updated_at_usec = 1795687200123456ull;
	vm.counters.reclaimed_hard_frames = 128;
	vm.counters.canary_mismatches = 0;
	vm.counters.discard_ns = 42;
	return &vm;
}

/* ---- resources ---- */

START_TEST(test_memory_object)
{
	static const char *const keys[] = {
		"max_bytes",
		"min_bytes",
		"target_bytes",
		"current_bytes",
		"host_resident_bytes",
		"guest_free_bytes",
		"reclaimed_bytes",
		"soft_reclaimed_bytes",
		"shares",
		"target_source",
		"auto_reclaim",
		"mechanism",
		"updated_at",
	};
	struct vm *vm = make_vm();
	json_t *o = json_vm_memory(vm);

	assert_keys(o, keys, ARRAY_SIZE(keys));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "max_bytes")),
			 1073741824);
	ck_assert_int_eq(
		json_integer_value(json_object_get(o, "soft_reclaimed_bytes")),
		100663296);
	ck_assert_int_eq(
		json_integer_value(json_object_get(o, "host_resident_bytes")),
		512000000);
	ck_assert_str_eq(json_string_value(json_object_get(o, "target_source")),
			 "manual");
	ck_assert(json_is_true(json_object_get(o, "auto_reclaim")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "mechanism")),
			 "sim");
	ck_assert_str_eq(json_string_value(json_object_get(o, "updated_at")),
			 "2026-11-26T10:00:00.123Z");
	json_decref(o);

	/* never refreshed: no time to show */
	vm->mem.updated_at_usec = 0;
	vm->mem.target_source = VM_TARGET_POLICY;
	o = json_vm_memory(vm);
	ck_assert(json_is_null(json_object_get(o, "updated_at")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "target_source")),
			 "policy");
	json_decref(o);
}
END_TEST

START_TEST(test_vm_item_and_detail)
{
	static const char *const item_keys[] = {
		"id", "name", "uuid", "mechanism", "state", "memory"
	};
	static const char *const detail_keys[] = {
		"id",	  "name",	  "uuid",	   "mechanism", "state",
		"memory", "state_reason", "policy_reason", "counters"
	};
	static const char *const guest_keys[] = {
		"trace_pos_ms",	   "trace_len_ms",	    "trace_done",
		"allocated_bytes", "workload_target_bytes", "reported_frames",
	};
	static const char *const counter_keys[] = {
		"reclaimed_hard_frames",
		"reclaimed_soft_frames",
		"returned_frames",
		"installed_frames",
		"discard_ns",
		"apply_errors",
		"guest_ops",
		"guest_installs",
		"guest_install_ns",
		"canary_checks",
		"canary_mismatches",
		"alloc_failures",
	};
	struct vm *vm = make_vm();
	json_t *o = json_vm_item(vm);

	assert_keys(o, item_keys, ARRAY_SIZE(item_keys));
	ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "sim-1");
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")),
			 "sim-1");
	ck_assert_str_eq(json_string_value(json_object_get(o, "uuid")),
			 vm->uuid);
	ck_assert_str_eq(json_string_value(json_object_get(o, "state")),
			 "quarantined");
	ck_assert(json_is_object(json_object_get(o, "memory")));
	json_decref(o);

	o = json_vm_detail(vm);
	assert_keys(o, detail_keys, ARRAY_SIZE(detail_keys));
	ck_assert_str_eq(json_string_value(json_object_get(o, "state_reason")),
			 vm->state_reason);
	assert_keys(json_object_get(o, "counters"), counter_keys,
		    ARRAY_SIZE(counter_keys));
	ck_assert_int_eq(json_integer_value(
				 json_object_get(json_object_get(o, "counters"),
						 "reclaimed_hard_frames")),
			 128);
	/* no guest status reported yet: no "guest" object */
	ck_assert_ptr_null(json_object_get(o, "guest"));
	json_decref(o);

	/* a sim guest that reported its workload status */
	vm->guest.valid = true;
	vm->guest.trace_pos_ms = 1500;
	vm->guest.trace_len_ms = 60000;
	vm->guest.trace_done = true;
	vm->guest.allocated_bytes = 4194304;
	o = json_vm_detail(vm);
	assert_keys(json_object_get(o, "guest"), guest_keys,
		    ARRAY_SIZE(guest_keys));
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(o, "guest"), "trace_pos_ms")),
			 1500);
	ck_assert(json_is_true(
		json_object_get(json_object_get(o, "guest"), "trace_done")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(o, "guest"),
						   "allocated_bytes")),
		4194304);
	json_decref(o);
	vm->guest.valid = false;

	/* a VM without a uuid (sim guests may have none) */
	vm->uuid[0] = '\0';
	o = json_vm_item(vm);
	ck_assert(json_is_null(json_object_get(o, "uuid")));
	json_decref(o);
}
END_TEST

START_TEST(test_vm_list)
{
	struct vm a, b;
	struct vm_registry r = { 0 };
	json_t *o, *vms;

	o = json_vm_list(&r);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "vms")), 0);
	json_decref(o);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	strcpy(a.id, "a");
	strcpy(b.id, "b");
	b.mechanism = VM_MECH_BALLOON;
	a.next = &b;
	r.head = &a;
	r.count = 2;
	o = json_vm_list(&r);
	vms = json_object_get(o, "vms");
	ck_assert_uint_eq(json_object_size(o), 1);
	ck_assert_uint_eq(json_array_size(vms), 2);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_array_get(vms, 0), "id")),
			 "a");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(vms, 1), "mechanism")),
			 "virtio-balloon");
	json_decref(o);
}
END_TEST

START_TEST(test_host)
{
	static const char *const keys[] = {
		"total_bytes",	   "available_bytes",
		"committed_bytes", "max_committed_bytes",
		"reserve_bytes",   "overcommit_ratio",
		"overcommit_now",  "vms",
	};
	struct ctl_host h = { .total_bytes = 16ull << 30,
			      .available_bytes = 8ull << 30,
			      .committed_bytes = 3ull << 30,
			      .max_committed_bytes = 6ull << 30,
			      .reserve_bytes = 1ull << 30,
			      .overcommit_ratio = 1.5,
			      .overcommit_now = 0.42,
			      .vms = 3 };
	json_t *o = json_host(&h);

	assert_keys(o, keys, ARRAY_SIZE(keys));
	ck_assert(json_is_real(json_object_get(o, "overcommit_ratio")));
	ck_assert_double_eq(
		json_real_value(json_object_get(o, "overcommit_ratio")), 1.5);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "total_bytes")),
			 16ll << 30);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "vms")), 3);
	json_decref(o);
}
END_TEST

START_TEST(test_policy)
{
	static const char *const keys[] = {
		"name",	   "params",   "overcommit_ratio", "host_reserve_bytes",
		"tick_ms", "available"
	};
	struct engine_policy p = { .name = "shares",
				   .params_json = "{\"keep_free_bytes\":1024}",
				   .overcommit_ratio = 1.0,
				   .host_reserve_bytes = 1073741824,
				   .tick_ms = 1000,
				   .available = "static  shares" };
	json_t *o = json_policy(&p), *avail;

	assert_keys(o, keys, ARRAY_SIZE(keys));
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(o, "params"),
						   "keep_free_bytes")),
		1024);
	avail = json_object_get(o, "available");
	ck_assert_uint_eq(json_array_size(avail), 2);
	ck_assert_str_eq(json_string_value(json_array_get(avail, 0)), "static");
	ck_assert_str_eq(json_string_value(json_array_get(avail, 1)), "shares");
	json_decref(o);

	p.params_json[0] = '\0';
	o = json_policy(&p);
	ck_assert(json_is_object(json_object_get(o, "params")));
	ck_assert_uint_eq(json_object_size(json_object_get(o, "params")), 0);
	json_decref(o);

	strcpy(p.params_json, "[1]");
	o = json_policy(&p);
	ck_assert(json_is_null(json_object_get(o, "params")));
	json_decref(o);
}
END_TEST

START_TEST(test_event)
{
	struct event ev = { .seq = 42,
			    .time_usec = 1795687200000000ull,
			    .type = EV_TARGET_CHANGED,
			    .vm = "sim-1",
			    .target_bytes = 805306368,
			    .source = "manual",
			    .message = "set by uid 0" };
	json_t *o = json_event(&ev);

	ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(o, "time")),
			 "2026-11-26T10:00:00.000Z");
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")),
			 "target_changed");
	ck_assert_str_eq(json_string_value(json_object_get(o, "vm")), "sim-1");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "target_bytes")),
			 805306368);
	ck_assert_str_eq(json_string_value(json_object_get(o, "source")),
			 "manual");
	ck_assert_str_eq(json_string_value(json_object_get(o, "message")),
			 "set by uid 0");
	json_decref(o);

	memset(&ev, 0, sizeof(ev));
	ev.seq = 7;
	ev.type = EV_RECLAIM_DONE;
	strcpy(ev.vm, "sim-2");
	ev.bytes = 2097152;
	ev.duration_us = 350;
	o = json_event(&ev);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "bytes")),
			 2097152);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "duration_us")),
			 350);
	ck_assert_ptr_nonnull(json_object_get(o, "current_bytes"));
	ck_assert_ptr_null(json_object_get(o, "source"));
	json_decref(o);

	/* host-wide events name no VM */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_POLICY_CHANGED;
	o = json_event(&ev);
	ck_assert(json_is_null(json_object_get(o, "vm")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")),
			 "policy_changed");
	ck_assert_ptr_null(json_object_get(o, "target_bytes"));
	json_decref(o);
}
END_TEST

START_TEST(test_problem)
{
	static const char *const full[] = { "type",   "title", "status",
					    "detail", "field", "value" };
	static const char *const bare[] = { "type", "title", "status",
					    "detail" };
	json_t *o = json_problem(422, "Unprocessable Content",
				 "target_bytes 1 is below min_bytes 2",
				 "target_bytes", "1");
	size_t len;
	char *s;

	assert_keys(o, full, ARRAY_SIZE(full));
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")),
			 "about:blank");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "status")), 422);
	ck_assert_str_eq(json_string_value(json_object_get(o, "value")), "1");
	json_decref(o);

	o = json_problem(404, "Not Found", "no VM named x", "", NULL);
	assert_keys(o, bare, ARRAY_SIZE(bare));
	s = json_dump_free(o, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	ck_assert_ptr_null(strchr(s, '\n'));
	free(s);
	ck_assert_ptr_null(json_dump_free(NULL, &len));
}
END_TEST

START_TEST(test_format_time)
{
	char buf[32];

	ck_assert_str_eq(event_format_time(0, buf, sizeof(buf)),
			 "1970-01-01T00:00:00.000Z");
	ck_assert_str_eq(event_format_time(1795687200999999ull, buf,
					   sizeof(buf)),
			 "2026-11-26T10:00:00.999Z");
}
END_TEST

/* ---- PUT/PATCH /vms/{id}/memory bodies ---- */

#define I64MAX "9223372036854775807"
#define BAD(body, field, value)              \
	{                                    \
		body, -EINVAL, field, value, \
		{                            \
			0                    \
		}                            \
	}

static const struct {
	const char *body;
	int rc;
	const char *field; /* on error: the field named; "" for the body */
	const char *value; /* on error: the value named, NULL: don't care */
	struct ctl_memory_update want; /* on success */
} mem_cases[] = {
	{ "{}", 0, NULL, NULL, { 0 } },
	{ " \n{ \"target_bytes\" : 805306368 }\n",
	  0,
	  NULL,
	  NULL,
	  { .has_target = true, .target_bytes = 805306368 } },
	{ "{\"target_bytes\": 0}", 0, NULL, NULL, { .has_target = true } },
	{ "{\"target_bytes\": " I64MAX "}",
	  0,
	  NULL,
	  NULL,
	  { .has_target = true, .target_bytes = INT64_MAX } },
	{ "{\"min_bytes\": 1, \"max_bytes\": 2, \"shares\": 100000, "
	  "\"auto_reclaim\": true}",
	  0,
	  NULL,
	  NULL,
	  { .has_min = true,
	    .min_bytes = 1,
	    .has_max = true,
	    .max_bytes = 2,
	    .has_shares = true,
	    .shares = 100000,
	    .has_auto = true,
	    .auto_reclaim = true } },
	{ "{\"auto_reclaim\": false}", 0, NULL, NULL, { .has_auto = true } },
	/* shares: the type is checked here, 1..100000 by ctl (422) */
	{ "{\"shares\": 4294967295}",
	  0,
	  NULL,
	  NULL,
	  { .has_shares = true, .shares = 4294967295u } },
	{ "{\"shares\": 0}", 0, NULL, NULL, { .has_shares = true } },

	/* wrong numbers */
	BAD("{\"target_bytes\": -1}", "target_bytes", "-1"),
	BAD("{\"target_bytes\": 1.5}", "target_bytes", "1.5"),
	BAD("{\"target_bytes\": 1.0}", "target_bytes", NULL),
	BAD("{\"target_bytes\": 1e9}", "target_bytes", NULL),
	BAD("{\"target_bytes\": 18446744073709551616}", "target_bytes",
	    "18446744073709551616"),
	BAD("{\"target_bytes\": 18446744073709551615}", "target_bytes",
	    "18446744073709551615"),
	BAD("{\"target_bytes\": 9223372036854775808}", "target_bytes",
	    "9223372036854775808"),
	BAD("{\"shares\": 1, \"max_bytes\":123456789012345678901234567890}",
	    "max_bytes", "123456789012345678901234567890"),
	BAD("{\"min_bytes\": -99999999999999999999}", "min_bytes",
	    "-99999999999999999999"),
	BAD("{\"target_bytes\": 1e400}", "target_bytes", "1e400"),
	BAD("{\"shares\": 4294967296}", "shares", "4294967296"),
	BAD("{\"shares\": -5}", "shares", "-5"),
	BAD("{\"shares\": 10.5}", "shares", NULL),
	/* wrong types */
	BAD("{\"target_bytes\": \"1G\"}", "target_bytes", "1G"),
	BAD("{\"target_bytes\": \"1073741824\"}", "target_bytes", NULL),
	BAD("{\"target_bytes\": null}", "target_bytes", NULL),
	BAD("{\"target_bytes\": true}", "target_bytes", NULL),
	BAD("{\"target_bytes\": [1]}", "target_bytes", NULL),
	BAD("{\"target_bytes\": {}}", "target_bytes", NULL),
	BAD("{\"auto_reclaim\": 1}", "auto_reclaim", "1"),
	BAD("{\"auto_reclaim\": \"true\"}", "auto_reclaim", "true"),
	BAD("{\"auto_reclaim\": null}", "auto_reclaim", NULL),
	/* unknown and read-only fields */
	BAD("{\"target_bytes\": 1, \"bogus\": 1}", "bogus", NULL),
	BAD("{\"Target_Bytes\": 1}", "Target_Bytes", NULL),
	BAD("{\"current_bytes\": 1}", "current_bytes", NULL),
	BAD("{\"target_source\": \"manual\"}", "target_source", NULL),
	/* not a JSON object */
	BAD("", "", NULL),
	BAD("   \n", "", NULL),
	BAD("[]", "", NULL),
	BAD("42", "", NULL),
	BAD("null", "", NULL),
	BAD("\"target_bytes\"", "", NULL),
	BAD("{\"target_bytes\": 1", "", NULL),
	BAD("{\"target_bytes\": 1} x", "", NULL),
	BAD("{\"target_bytes\": 1}{}", "", NULL),
	BAD("{\"target_bytes\": 1, \"target_bytes\": 2}", "", NULL),
	BAD("{\"target_bytes\": 0x10}", "", NULL),
	BAD("{'target_bytes': 1}", "", NULL),
	BAD("{\"target_bytes\": NaN}", "", NULL),
	BAD("{target_bytes: 1}", "", NULL),
};

START_TEST(test_parse_memory)
{
	const char *body = mem_cases[_i].body;
	struct ctl_memory_update u;
	struct error err;
	int r;

	memset(&u, 0xa5, sizeof(u));
	memset(&err, 0, sizeof(err));
	r = json_parse_memory_update(body, strlen(body), &u, &err);
	ck_assert_msg(r == mem_cases[_i].rc, "%s: rc %d, want %d (%s)", body, r,
		      mem_cases[_i].rc, err.reason);
	if (r == 0) {
		const struct ctl_memory_update *w = &mem_cases[_i].want;

		ck_assert_int_eq(u.has_target, w->has_target);
		ck_assert_int_eq(u.has_min, w->has_min);
		ck_assert_int_eq(u.has_max, w->has_max);
		ck_assert_int_eq(u.has_shares, w->has_shares);
		ck_assert_int_eq(u.has_auto, w->has_auto);
		if (w->has_target)
			ck_assert_uint_eq(u.target_bytes, w->target_bytes);
		if (w->has_min)
			ck_assert_uint_eq(u.min_bytes, w->min_bytes);
		if (w->has_max)
			ck_assert_uint_eq(u.max_bytes, w->max_bytes);
		if (w->has_shares)
			ck_assert_uint_eq(u.shares, w->shares);
		if (w->has_auto)
			ck_assert_int_eq(u.auto_reclaim, w->auto_reclaim);
		return;
	}
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_msg(strcmp(err.field, mem_cases[_i].field) == 0,
		      "%s: field '%s', want '%s'", body, err.field,
		      mem_cases[_i].field);
	if (mem_cases[_i].value)
		ck_assert_str_eq(err.value, mem_cases[_i].value);
	ck_assert_msg(strlen(err.reason) > 5, "%s: no reason", body);
	/* the reason names the field, so the message stands alone */
	if (mem_cases[_i].field[0])
		ck_assert_ptr_nonnull(strstr(err.reason, mem_cases[_i].field));
}
END_TEST

/* json_loadb takes a length: bytes after it are not part of the body,
 * and a NUL inside it is not the end of it. */
START_TEST(test_parse_memory_lengths)
{
	const char body[] = "{\"target_bytes\": 5}garbage";
	const char nul[] = "{\"target_bytes\": 5}\0{}";
	struct ctl_memory_update u;
	struct error err;

	ck_assert_int_eq(json_parse_memory_update(body, 19, &u, &err), 0);
	ck_assert_uint_eq(u.target_bytes, 5);
	ck_assert_int_eq(json_parse_memory_update(body, sizeof(body) - 1, &u,
						  &err),
			 -EINVAL);
	ck_assert_int_eq(json_parse_memory_update(nul, sizeof(nul) - 1, &u,
						  &err),
			 -EINVAL);
	ck_assert_int_eq(json_parse_memory_update(NULL, 0, &u, &err), -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
}
END_TEST

/* A huge but well-formed body: parsed, and the unknown field named. */
START_TEST(test_parse_memory_huge)
{
	size_t n = 1 << 20;
	char *body = malloc(n + 64);
	struct ctl_memory_update u;
	struct error err;

	ck_assert_ptr_nonnull(body);
	strcpy(body, "{\"x\": \"");
	memset(body + 7, 'a', n);
	strcpy(body + 7 + n, "\"}");
	ck_assert_int_eq(json_parse_memory_update(body, strlen(body), &u, &err),
			 -EINVAL);
	ck_assert_str_eq(err.field, "x");
	free(body);
}
END_TEST

/* ---- PUT /policy bodies ---- */

static const struct {
	const char *body;
	int rc;
	const char *field;
} policy_cases[] = {
	{ "{}", 0, NULL },
	{ "{\"name\": \"static\"}", 0, NULL },
	{ "{\"params\": {}}", 0, NULL },
	{ "{\"overcommit_ratio\": 1.5}", 0, NULL },
	{ "{\"overcommit_ratio\": 2}", 0, NULL },
	{ "{\"overcommit_ratio\": 0}", 0, NULL }, /* ctl says 422 */
	{ "{\"host_reserve_bytes\": 1073741824, \"tick_ms\": 500}", 0, NULL },
	{ "{\"name\": \"\"}", -EINVAL, "name" },
	{ "{\"name\": 5}", -EINVAL, "name" },
	{ "{\"name\": null}", -EINVAL, "name" },
	{ "{\"params\": []}", -EINVAL, "params" },
	{ "{\"params\": \"{}\"}", -EINVAL, "params" },
	{ "{\"overcommit_ratio\": \"1.5\"}", -EINVAL, "overcommit_ratio" },
	{ "{\"overcommit_ratio\": -1}", -EINVAL, "overcommit_ratio" },
	{ "{\"overcommit_ratio\": true}", -EINVAL, "overcommit_ratio" },
	{ "{\"host_reserve_bytes\": -1}", -EINVAL, "host_reserve_bytes" },
	{ "{\"host_reserve_bytes\": 1.5}", -EINVAL, "host_reserve_bytes" },
	{ "{\"tick_ms\": 18446744073709551616}", -EINVAL, "tick_ms" },
	{ "{\"tick_ms\": \"1s\"}", -EINVAL, "tick_ms" },
	{ "{\"available\": [\"static\"]}", -EINVAL, "available" },
	{ "{\"policy\": \"static\"}", -EINVAL, "policy" },
	{ "", -EINVAL, "" },
	{ "[]", -EINVAL, "" },
};

START_TEST(test_parse_policy)
{
	const char *body = policy_cases[_i].body;
	struct engine_policy_update u;
	struct error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = json_parse_policy_update(body, strlen(body), &u, &err);
	ck_assert_msg(r == policy_cases[_i].rc, "%s: rc %d, want %d (%s)", body,
		      r, policy_cases[_i].rc, err.reason);
	if (r < 0) {
		ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
		ck_assert_str_eq(err.field, policy_cases[_i].field);
	}
}
END_TEST

START_TEST(test_parse_policy_values)
{
	const char *body = "{\"name\": \"shares\", \"params\": {\"b\": 1, "
			   "\"a\": \"x\"}, \"overcommit_ratio\": 2, "
			   "\"host_reserve_bytes\": 1024, \"tick_ms\": 250}";
	struct engine_policy_update u;
	struct error err;

	ck_assert_int_eq(json_parse_policy_update(body, strlen(body), &u, &err),
			 0);
	ck_assert(u.has_name && u.has_params && u.has_ratio && u.has_reserve &&
		  u.has_tick);
	ck_assert_str_eq(u.name, "shares");
	ck_assert_str_eq(u.params_json, "{\"a\":\"x\",\"b\":1}");
	ck_assert_double_eq(u.overcommit_ratio, 2.0);
	ck_assert_uint_eq(u.host_reserve_bytes, 1024);
	ck_assert_uint_eq(u.tick_ms, 250);

	body = "{\"tick_ms\": 100}";
	ck_assert_int_eq(json_parse_policy_update(body, strlen(body), &u, &err),
			 0);
	ck_assert(!u.has_name && !u.has_params && !u.has_ratio &&
		  !u.has_reserve && u.has_tick);
}
END_TEST

/* Strings and params that do not fit their ctl buffers are refused, not
 * truncated. */
START_TEST(test_parse_policy_too_long)
{
	struct engine_policy_update u;
	struct error err;
	char body[16384];
	int n;

	n = snprintf(body, sizeof(body), "{\"name\": \"%0*d\"}", 200, 0);
	ck_assert_int_eq(json_parse_policy_update(body, (size_t)n, &u, &err),
			 -EINVAL);
	ck_assert_str_eq(err.field, "name");

	/* 127 bytes is the longest name that fits */
	n = snprintf(body, sizeof(body), "{\"name\": \"%0*d\"}", 127, 0);
	ck_assert_int_eq(json_parse_policy_update(body, (size_t)n, &u, &err),
			 0);
	ck_assert_uint_eq(strlen(u.name), 127);

	n = snprintf(body, sizeof(body), "{\"params\": {\"k\": \"%0*d\"}}",
		     5000, 0);
	ck_assert_int_eq(json_parse_policy_update(body, (size_t)n, &u, &err),
			 -EINVAL);
	ck_assert_str_eq(err.field, "params");
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("resources");
	tcase_add_test(tc, test_memory_object);
	tcase_add_test(tc, test_vm_item_and_detail);
	tcase_add_test(tc, test_vm_list);
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_event);
	tcase_add_test(tc, test_problem);
	tcase_add_test(tc, test_format_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_memory, 0,
			    (int)ARRAY_SIZE(mem_cases));
	tcase_add_test(tc, test_parse_memory_lengths);
	tcase_add_test(tc, test_parse_memory_huge);
	tcase_add_loop_test(tc, test_parse_policy, 0,
			    (int)ARRAY_SIZE(policy_cases));
	tcase_add_test(tc, test_parse_policy_values);
	tcase_add_test(tc, test_parse_policy_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
