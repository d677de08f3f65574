// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/grpc/map.c: daemon structs to protobuf messages
 * (every field, and the field names are the JSON API's), request messages
 * to ctl structs (presence, limits, errors naming the field), and ctl
 * statuses to gRPC codes.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/map.h"
#include "hyperalloc.pb-c.h"
#include "http/json.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct vm *make_vm(const char *id)
{
	struct vm *vm =
		vm_new(id, "6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b", VM_MECH_SIM);

	ck_assert_ptr_nonnull(vm);
	vm->state = VM_STATE_QUARANTINED;
	strcpy(vm->state_reason, "tree 3: free count 9999 above 4096");
	vm->mem.max_bytes = 1073741824;
	vm->mem.min_bytes = 268435456;
	vm->mem.target_bytes = 805306368;
	vm->mem.current_bytes = 805306368;
	vm->mem.host_resident_bytes = 512000000;
	vm->mem.guest_free_bytes = 400000000;
	vm->mem.reclaimed_bytes = 268435456;
	vm->mem.soft_reclaimed_bytes = 100663296;
	vm->mem.shares = 1234;
	vm->mem.target_source = VM_TARGET_MANUAL;
	vm->mem.auto_reclaim = true;
	vm->mem.updated_at_usec = 1795687200123456ull;
	vm->counters.reclaimed_hard_frames = 1;
	vm->counters.reclaimed_soft_frames = 2;
	vm->counters.returned_frames = 3;
	vm->counters.installed_frames = 4;
	vm->counters.discard_ns = 5;
	vm->counters.apply_errors = 6;
	vm->counters.guest_ops = 7;
	vm->counters.guest_installs = 8;
	vm->counters.guest_install_ns = 9;
	vm->counters.canary_checks = 10;
	vm->counters.canary_mismatches = 11;
	vm->counters.alloc_failures = 12;
	return vm;
}

static void assert_memory(const Hyperalloc__V1__VMMemory *m,
			  const struct vm *vm)
{
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->max_bytes, vm->mem.max_bytes);
	ck_assert_uint_eq(m->min_bytes, vm->mem.min_bytes);
	ck_assert_uint_eq(m->target_bytes, vm->mem.target_bytes);
	ck_assert_uint_eq(m->current_bytes, vm->mem.current_bytes);
	ck_assert_uint_eq(m->host_resident_bytes, vm->mem.host_resident_bytes);
	ck_assert_uint_eq(m->guest_free_bytes, vm->mem.guest_free_bytes);
	ck_assert_uint_eq(m->reclaimed_bytes, vm->mem.reclaimed_bytes);
	ck_assert_uint_eq(m->soft_reclaimed_bytes,
			  vm->mem.soft_reclaimed_bytes);
	ck_assert_uint_eq(m->shares, vm->mem.shares);
	ck_assert_str_eq(m->target_source,
			 vm_target_source_to_string(vm->mem.target_source));
	ck_assert(m->auto_reclaim == vm->mem.auto_reclaim);
	ck_assert_str_eq(m->mechanism, vm_mechanism_to_string(vm->mechanism));
}

/* The message's field names are exactly the keys of @o. */
static void assert_same_names(const ProtobufCMessageDescriptor *desc, json_t *o)
{
	const char *key;
	json_t *v;

	ck_assert_ptr_nonnull(o);
	json_object_foreach(o, key, v) {
		(void)v;
		ck_assert_msg(protobuf_c_message_descriptor_get_field_by_name(
				      desc, key),
			      "%s has no field %s", desc->name, key);
	}
	for (unsigned i = 0; i < desc->n_fields; i++)
		ck_assert_msg(json_object_get(o, desc->fields[i].name),
			      "%s.%s is not a JSON field", desc->name,
			      desc->fields[i].name);
	json_decref(o);
}

/* ---- encoders ---- */

START_TEST(test_vm_memory)
{
	struct vm *vm = make_vm("sim-1");
	struct grpcd_buf b = { 0 };
	Hyperalloc__V1__VMMemory *m;

	ck_assert_int_eq(grpcd_pack_vm_memory(vm, &b), 0);
	m = hyperalloc__v1__vmmemory__unpack(NULL, b.len, b.data);
	assert_memory(m, vm);
	ck_assert_str_eq(m->updated_at, "2026-11-26T10:00:00.123Z");
	hyperalloc__v1__vmmemory__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
	ck_assert_ptr_null(b.data);

	/* Never refreshed: no time (JSON says null). */
	vm->mem.updated_at_usec = 0;
	vm->mem.target_source = VM_TARGET_POLICY;
	vm->mem.auto_reclaim = false;
	ck_assert_int_eq(grpcd_pack_vm_memory(vm, &b), 0);
	m = hyperalloc__v1__vmmemory__unpack(NULL, b.len, b.data);
	assert_memory(m, vm);
	ck_assert_str_eq(m->updated_at, "");
	hyperalloc__v1__vmmemory__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
	vm_free(vm);
}
END_TEST

START_TEST(test_vm_detail)
{
	struct vm *vm = make_vm("sim-1");
	struct grpcd_buf b = { 0 };
	Hyperalloc__V1__VM *m;

	ck_assert_int_eq(grpcd_pack_vm(vm, &b), 0);
	m = hyperalloc__v1__vm__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->id, "sim-1");
	ck_assert_str_eq(m->name, "sim-1");
	ck_assert_str_eq(m->uuid, vm->uuid);
	ck_assert_str_eq(m->mechanism, "sim");
	ck_assert_str_eq(m->state, "quarantined");
	ck_assert_str_eq(m->state_reason, vm->state_reason);
	assert_memory(m->memory, vm);
	ck_assert_ptr_nonnull(m->counters);
	ck_assert_uint_eq(m->counters->reclaimed_hard_frames, 1);
	ck_assert_uint_eq(m->counters->reclaimed_soft_frames, 2);
	ck_assert_uint_eq(m->counters->returned_frames, 3);
	ck_assert_uint_eq(m->counters->installed_frames, 4);
	ck_assert_uint_eq(m->counters->discard_ns, 5);
	ck_assert_uint_eq(m->counters->apply_errors, 6);
	ck_assert_uint_eq(m->counters->guest_ops, 7);
	ck_assert_uint_eq(m->counters->guest_installs, 8);
	ck_assert_uint_eq(m->counters->guest_install_ns, 9);
	ck_assert_uint_eq(m->counters->canary_checks, 10);
	ck_assert_uint_eq(m->counters->canary_mismatches, 11);
	ck_assert_uint_eq(m->counters->alloc_failures, 12);
	hyperalloc__v1__vm__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
	vm_free(vm);
}
END_TEST

START_TEST(test_vm_list)
{
	struct vm_registry reg = { 0 };
	Hyperalloc__V1__ListVMsResponse *m;
	struct grpcd_buf b = { 0 };
	struct vm *a = make_vm("alpha"), *z = make_vm("zeta");

	/* Empty: a valid message without VMs. */
	ck_assert_int_eq(grpcd_pack_vm_list(&reg, &b), 0);
	ck_assert_ptr_nonnull(b.data);
	m = hyperalloc__v1__list_vms_response__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n_vms, 0);
	hyperalloc__v1__list_vms_response__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);

	strcpy(z->uuid, "");
	z->mem.max_bytes = 42;
	ck_assert_int_eq(vm_registry_add(&reg, a), 0);
	ck_assert_int_eq(vm_registry_add(&reg, z), 0);
	ck_assert_int_eq(grpcd_pack_vm_list(&reg, &b), 0);
	m = hyperalloc__v1__list_vms_response__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n_vms, 2);
	/* Registry order, whatever it is. */
	for (size_t i = 0; i < 2; i++) {
		const struct vm *vm = vm_registry_find(&reg, m->vms[i]->id);

		ck_assert_ptr_nonnull(vm);
		ck_assert_ptr_eq(vm, i == 0 ? reg.head : reg.head->next);
		ck_assert_str_eq(m->vms[i]->uuid, vm->uuid);
		assert_memory(m->vms[i]->memory, vm);
		/* The list leaves the detail fields out. */
		ck_assert_ptr_null(m->vms[i]->counters);
		ck_assert_str_eq(m->vms[i]->state_reason, "");
	}
	hyperalloc__v1__list_vms_response__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
	while (reg.head) {
		struct vm *vm = reg.head;

		vm_registry_remove(&reg, vm);
		vm_free(vm);
	}
}
END_TEST

START_TEST(test_host)
{
	struct ctl_host h = {
		.total_bytes = 17179869184ull,
		.available_bytes = 12884901888ull,
		.committed_bytes = 3,
		.max_committed_bytes = 4,
		.reserve_bytes = 1073741824,
		.overcommit_ratio = 1.5,
		.overcommit_now = 0.42,
		.vms = 7,
	};
	struct grpcd_buf b = { 0 };
	Hyperalloc__V1__Host *m;

	ck_assert_int_eq(grpcd_pack_host(&h, &b), 0);
	m = hyperalloc__v1__host__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->total_bytes, h.total_bytes);
	ck_assert_uint_eq(m->available_bytes, h.available_bytes);
	ck_assert_uint_eq(m->committed_bytes, 3);
	ck_assert_uint_eq(m->max_committed_bytes, 4);
	ck_assert_uint_eq(m->reserve_bytes, h.reserve_bytes);
	ck_assert_double_eq(m->overcommit_ratio, 1.5);
	ck_assert_double_eq(m->overcommit_now, 0.42);
	ck_assert_uint_eq(m->vms, 7);
	hyperalloc__v1__host__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
}
END_TEST

START_TEST(test_policy)
{
	struct engine_policy p = {
		.name = "shares",
		.params_json = "{\"floor\":3}",
		.overcommit_ratio = 2.0,
		.host_reserve_bytes = 1073741824,
		.tick_ms = 500,
		.available = " static  shares pace ",
	};
	struct grpcd_buf b = { 0 };
	Hyperalloc__V1__Policy *m;

	ck_assert_int_eq(grpcd_pack_policy(&p, &b), 0);
	m = hyperalloc__v1__policy__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "shares");
	ck_assert_str_eq(m->params, "{\"floor\":3}");
	ck_assert_double_eq(m->overcommit_ratio, 2.0);
	ck_assert_uint_eq(m->host_reserve_bytes, 1073741824);
	ck_assert_uint_eq(m->tick_ms, 500);
	ck_assert_uint_eq(m->n_available, 3);
	ck_assert_str_eq(m->available[0], "static");
	ck_assert_str_eq(m->available[1], "shares");
	ck_assert_str_eq(m->available[2], "pace");
	hyperalloc__v1__policy__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);

	/* No parameters: an empty object, as in JSON. */
	p.params_json[0] = '\0';
	p.available[0] = '\0';
	ck_assert_int_eq(grpcd_pack_policy(&p, &b), 0);
	m = hyperalloc__v1__policy__unpack(NULL, b.len, b.data);
	ck_assert_str_eq(m->params, "{}");
	ck_assert_uint_eq(m->n_available, 0);
	hyperalloc__v1__policy__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
}
END_TEST

START_TEST(test_event)
{
	struct event ev = {
		.seq = 42,
		.time_usec = 1795687200123456ull,
		.type = EV_RECLAIM_DONE,
		.vm = "sim-1",
		.target_bytes = 1,
		.current_bytes = 2,
		.bytes = 3,
		.duration_us = 4,
		.source = "manual",
		.message = "done",
	};
	struct grpcd_buf b = { 0 };
	Hyperalloc__V1__Event *m;

	ck_assert_int_eq(grpcd_pack_event(&ev, 0, &b), 0);
	m = hyperalloc__v1__event__unpack(NULL, b.len, b.data);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->seq, 42);
	ck_assert_str_eq(m->time, "2026-11-26T10:00:00.123Z");
	ck_assert_str_eq(m->type, "reclaim_done");
	ck_assert_str_eq(m->vm, "sim-1");
	ck_assert_uint_eq(m->target_bytes, 1);
	ck_assert_uint_eq(m->current_bytes, 2);
	ck_assert_uint_eq(m->bytes, 3);
	ck_assert_uint_eq(m->duration_us, 4);
	ck_assert_str_eq(m->source, ""); /* not a reclaim_done field */
	ck_assert_str_eq(m->message, "done");
	ck_assert_uint_eq(m->events_lost, 0);
	hyperalloc__v1__event__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);

	/* target_changed: target and source only, like the JSON event. */
	ev.type = EV_TARGET_CHANGED;
	ck_assert_int_eq(grpcd_pack_event(&ev, 0, &b), 0);
	m = hyperalloc__v1__event__unpack(NULL, b.len, b.data);
	ck_assert_str_eq(m->type, "target_changed");
	ck_assert_uint_eq(m->target_bytes, 1);
	ck_assert_str_eq(m->source, "manual");
	ck_assert_uint_eq(m->current_bytes, 0);
	ck_assert_uint_eq(m->bytes, 0);
	hyperalloc__v1__event__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);

	/* Host-wide, after a gap. */
	ev.type = EV_POLICY_CHANGED;
	ev.vm[0] = '\0';
	ck_assert_int_eq(grpcd_pack_event(&ev, 17, &b), 0);
	m = hyperalloc__v1__event__unpack(NULL, b.len, b.data);
	ck_assert_str_eq(m->type, "policy_changed");
	ck_assert_str_eq(m->vm, "");
	ck_assert_uint_eq(m->target_bytes, 0);
	ck_assert_uint_eq(m->events_lost, 17);
	hyperalloc__v1__event__free_unpacked(m, NULL);
	grpcd_buf_clear(&b);
}
END_TEST

/* Field names are the JSON API's: same sets, both ways. */
START_TEST(test_names_are_json_names)
{
	struct vm *vm = make_vm("sim-1");
	struct engine_policy p = { .name = "static", .available = "static" };
	struct ctl_host h = { 0 };
	struct event ev = { .seq = 1, .type = EV_RECLAIM_DONE, .vm = "a" };
	json_t *o;

	vm->guest.valid = true; /* a sim guest that has reported */
	/* ... and, to have every field of a VM at once, a HyperAlloc VM's
	 * device object too. */
	vm->mechanism = VM_MECH_HYPERALLOC;
	assert_same_names(&hyperalloc__v1__vmmemory__descriptor,
			  json_vm_memory(vm));
	assert_same_names(&hyperalloc__v1__vm__descriptor, json_vm_detail(vm));
	o = json_vm_detail(vm);
	assert_same_names(&hyperalloc__v1__vmcounters__descriptor,
			  json_incref(json_object_get(o, "counters")));
	assert_same_names(&hyperalloc__v1__vmguest__descriptor,
			  json_incref(json_object_get(o, "guest")));
	assert_same_names(&hyperalloc__v1__vmdevice__descriptor,
			  json_incref(json_object_get(o, "device")));
	json_decref(o);
	assert_same_names(&hyperalloc__v1__host__descriptor, json_host(&h));
	assert_same_names(&hyperalloc__v1__policy__descriptor, json_policy(&p));
	/* reclaim_done has every event field but source; events_lost is
	 * the stream's own (SSE says it in a comment line). */
	o = json_event(&ev);
	json_object_set_new(o, "source", json_string(""));
	json_object_set_new(o, "events_lost", json_integer(0));
	assert_same_names(&hyperalloc__v1__event__descriptor, o);
	vm_free(vm);
}
END_TEST

/* ---- decoders ---- */

static struct grpcd_buf pack_msg(const ProtobufCMessage *m)
{
	struct grpcd_buf b;

	b.len = protobuf_c_message_get_packed_size(m);
	b.data = malloc(b.len + 1);
	ck_assert_ptr_nonnull(b.data);
	protobuf_c_message_pack(m, b.data);
	return b;
}

static const uint8_t garbage[] = { 0x0a, 0x7f, 'x' }; /* length past end */

START_TEST(test_parse_id)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&hyperalloc__v1__get_vmrequest__descriptor,
		&hyperalloc__v1__get_vmmemory_request__descriptor,
		&hyperalloc__v1__release_vmtarget_request__descriptor,
	};
	const ProtobufCMessageDescriptor *desc = descs[_i];
	Hyperalloc__V1__GetVMRequest m = HYPERALLOC__V1__GET_VMREQUEST__INIT;
	char long_id[200], id[128];
	struct error err;
	struct grpcd_buf b;

	/* All three are {string id = 1}: packing one, parsing as another. */
	m.id = "6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b";
	b = pack_msg(&m.base);
	ck_assert_int_eq(
		grpcd_parse_id(desc, b.data, b.len, id, sizeof(id), &err), 0);
	ck_assert_str_eq(id, m.id);
	grpcd_buf_clear(&b);

	m.id = "";
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_id(desc, b.data, b.len, id, sizeof(id),
					&err),
			 -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_str_eq(err.field, "id");
	grpcd_buf_clear(&b);

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	m.id = long_id;
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_id(desc, b.data, b.len, id, sizeof(id),
					&err),
			 -EINVAL);
	ck_assert_str_eq(err.field, "id");
	grpcd_buf_clear(&b);

	ck_assert_int_eq(grpcd_parse_id(desc, garbage, sizeof(garbage), id,
					sizeof(id), &err),
			 -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(err.reason, "not a valid"));
}
END_TEST

START_TEST(test_parse_empty)
{
	Hyperalloc__V1__ListVMsRequest m =
		HYPERALLOC__V1__LIST_VMS_REQUEST__INIT;
	struct error err;
	struct grpcd_buf b = pack_msg(&m.base);

	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(
		grpcd_parse_empty(&hyperalloc__v1__list_vms_request__descriptor,
				  b.data, b.len, &err),
		0);
	ck_assert_int_eq(
		grpcd_parse_empty(&hyperalloc__v1__get_host_request__descriptor,
				  garbage, sizeof(garbage), &err),
		-EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	grpcd_buf_clear(&b);
}
END_TEST

static int parse_memory(const Hyperalloc__V1__SetVMMemoryRequest *m, char *id,
			struct ctl_memory_update *u, struct error *err)
{
	struct grpcd_buf b = pack_msg(&m->base);
	int r = grpcd_parse_memory_update(b.data, b.len, id, 128, u, err);

	grpcd_buf_clear(&b);
	return r;
}

START_TEST(test_parse_memory)
{
	Hyperalloc__V1__SetVMMemoryRequest m =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__INIT;
	struct ctl_memory_update u;
	struct error err;
	char id[128];

	/* Nothing but the id: nothing changes. */
	m.id = "sim-1";
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), 0);
	ck_assert_str_eq(id, "sim-1");
	ck_assert(!u.has_target && !u.has_min && !u.has_max && !u.has_shares &&
		  !u.has_auto);

	/* Present with its zero value is present: presence, not value. */
	m.target_bytes_opt_case =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__TARGET_BYTES_OPT_TARGET_BYTES;
	m.target_bytes = 0;
	m.auto_reclaim_opt_case =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__AUTO_RECLAIM_OPT_AUTO_RECLAIM;
	m.auto_reclaim = false;
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), 0);
	ck_assert(u.has_target && u.target_bytes == 0);
	ck_assert(u.has_auto && !u.auto_reclaim);
	ck_assert(!u.has_min && !u.has_max && !u.has_shares);

	/* Everything. */
	m.target_bytes = 805306368;
	m.min_bytes_opt_case =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__MIN_BYTES_OPT_MIN_BYTES;
	m.min_bytes = 268435456;
	m.max_bytes_opt_case =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__MAX_BYTES_OPT_MAX_BYTES;
	m.max_bytes = 1073741824;
	m.shares_opt_case =
		HYPERALLOC__V1__SET_VMMEMORY_REQUEST__SHARES_OPT_SHARES;
	m.shares = 0; /* out of range, but ranges are ctl's business */
	m.auto_reclaim = true;
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), 0);
	ck_assert(u.has_target && u.target_bytes == 805306368);
	ck_assert(u.has_min && u.min_bytes == 268435456);
	ck_assert(u.has_max && u.max_bytes == 1073741824);
	ck_assert(u.has_shares && u.shares == 0);
	ck_assert(u.has_auto && u.auto_reclaim);

	/* Sizes above INT64_MAX, like the JSON API: 400 naming the field. */
	m.max_bytes = UINT64_MAX;
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_str_eq(err.field, "max_bytes");
	ck_assert_str_eq(err.value, "18446744073709551615");
	m.max_bytes = (uint64_t)INT64_MAX;
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), 0);
	m.target_bytes = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), -EINVAL);
	ck_assert_str_eq(err.field, "target_bytes");

	/* No id. */
	m.target_bytes = 1;
	m.id = "";
	ck_assert_int_eq(parse_memory(&m, id, &u, &err), -EINVAL);
	ck_assert_str_eq(err.field, "id");

	ck_assert_int_eq(grpcd_parse_memory_update(garbage, sizeof(garbage), id,
						   sizeof(id), &u, &err),
			 -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
}
END_TEST

static int parse_policy(const Hyperalloc__V1__SetPolicyRequest *m,
			struct engine_policy_update *u, struct error *err)
{
	struct grpcd_buf b = pack_msg(&m->base);
	int r = grpcd_parse_policy_update(b.data, b.len, u, err);

	grpcd_buf_clear(&b);
	return r;
}

#define P(field, FIELD)       \
	(m.field##_opt_case = \
		 HYPERALLOC__V1__SET_POLICY_REQUEST__##FIELD##_OPT_##FIELD)

START_TEST(test_parse_policy)
{
	Hyperalloc__V1__SetPolicyRequest m =
		HYPERALLOC__V1__SET_POLICY_REQUEST__INIT;
	struct engine_policy_update u;
	struct error err;

	ck_assert_int_eq(parse_policy(&m, &u, &err), 0);
	ck_assert(!u.has_name && !u.has_params && !u.has_ratio &&
		  !u.has_reserve && !u.has_tick);

	P(name, NAME);
	m.name = "shares";
	P(params, PARAMS);
	m.params = "{ \"b\": 1, \"a\": {\"y\": 2, \"x\": 1} }";
	P(overcommit_ratio, OVERCOMMIT_RATIO);
	m.overcommit_ratio = 1.5;
	P(host_reserve_bytes, HOST_RESERVE_BYTES);
	m.host_reserve_bytes = 1073741824;
	P(tick_ms, TICK_MS);
	m.tick_ms = 0; /* present; ctl refuses it */
	ck_assert_int_eq(parse_policy(&m, &u, &err), 0);
	ck_assert(u.has_name && strcmp(u.name, "shares") == 0);
	/* Stored like the JSON API stores it: compact, keys sorted. */
	ck_assert(u.has_params);
	ck_assert_str_eq(u.params_json, "{\"a\":{\"x\":1,\"y\":2},\"b\":1}");
	ck_assert(u.has_ratio && u.overcommit_ratio == 1.5);
	ck_assert(u.has_reserve && u.host_reserve_bytes == 1073741824);
	ck_assert(u.has_tick && u.tick_ms == 0);
}
END_TEST

/* Each bad value: 400 naming its field. */
START_TEST(test_parse_policy_bad)
{
	Hyperalloc__V1__SetPolicyRequest m =
		HYPERALLOC__V1__SET_POLICY_REQUEST__INIT;
	struct engine_policy_update u;
	struct error err;
	char name[200];
	const char *field = NULL;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	switch (_i) {
	case 0:
		P(name, NAME), m.name = "", field = "name";
		break;
	case 1:
		P(name, NAME), m.name = name, field = "name";
		break;
	case 2:
		P(params, PARAMS), m.params = "{not json", field = "params";
		break;
	case 3:
		P(params, PARAMS), m.params = "[1, 2]", field = "params";
		break;
	case 4:
		P(params, PARAMS), m.params = "{\"a\": 1, \"a\": 2}";
		field = "params";
		break;
	case 5:
		P(overcommit_ratio, OVERCOMMIT_RATIO);
		m.overcommit_ratio = -1, field = "overcommit_ratio";
		break;
	case 6:
		P(overcommit_ratio, OVERCOMMIT_RATIO);
		m.overcommit_ratio = NAN, field = "overcommit_ratio";
		break;
	case 7:
		P(overcommit_ratio, OVERCOMMIT_RATIO);
		m.overcommit_ratio = INFINITY, field = "overcommit_ratio";
		break;
	case 8:
		P(host_reserve_bytes, HOST_RESERVE_BYTES);
		m.host_reserve_bytes = UINT64_MAX, field = "host_reserve_bytes";
		break;
	case 9:
		P(tick_ms, TICK_MS), m.tick_ms = UINT64_MAX, field = "tick_ms";
		break;
	}
	ck_assert_int_eq(parse_policy(&m, &u, &err), -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_str_eq(err.field, field);
	ck_assert(err.reason[0]);
}
END_TEST

START_TEST(test_parse_watch)
{
	Hyperalloc__V1__WatchEventsRequest m =
		HYPERALLOC__V1__WATCH_EVENTS_REQUEST__INIT;
	char resume[EVENT_ID_LEN];
	struct error err;
	struct grpcd_buf b;

	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_watch(b.data, b.len, resume,
					   sizeof(resume), &err),
			 0);
	ck_assert_str_eq(resume, "");
	grpcd_buf_clear(&b);

	/* 0 given is not 0 absent: "everything still in the ring". */
	m.last_event_id_opt_case =
		HYPERALLOC__V1__WATCH_EVENTS_REQUEST__LAST_EVENT_ID_OPT_LAST_EVENT_ID;
	m.last_event_id = 0;
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_watch(b.data, b.len, resume,
					   sizeof(resume), &err),
			 0);
	ck_assert_str_eq(resume, "0");
	grpcd_buf_clear(&b);

	m.last_event_id = 42;
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_watch(b.data, b.len, resume,
					   sizeof(resume), &err),
			 0);
	ck_assert_str_eq(resume, "42");
	grpcd_buf_clear(&b);

	/* With the event's run: the SSE id of that event. */
	m.run = "0123456789abcdef";
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_watch(b.data, b.len, resume,
					   sizeof(resume), &err),
			 0);
	ck_assert_str_eq(resume, "0123456789abcdef-42");
	grpcd_buf_clear(&b);

	/* A run that no daemon ever had is refused, not taken as "all". */
	m.run = "0123456789ABCDEF";
	b = pack_msg(&m.base);
	ck_assert_int_eq(grpcd_parse_watch(b.data, b.len, resume,
					   sizeof(resume), &err),
			 -EINVAL);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_str_eq(err.field, "run");
	grpcd_buf_clear(&b);

	ck_assert_int_eq(grpcd_parse_watch(garbage, sizeof(garbage), resume,
					   sizeof(resume), &err),
			 -EINVAL);
}
END_TEST

/* ---- status ---- */

START_TEST(test_status)
{
	static const struct {
		enum error_status ctl;
		grpc_status_code grpc;
	} map[] = {
		{ ERROR_OK, GRPC_STATUS_OK },
		{ ERROR_BAD_REQUEST, GRPC_STATUS_INVALID_ARGUMENT },
		{ ERROR_UNPROCESSABLE, GRPC_STATUS_INVALID_ARGUMENT },
		{ ERROR_UNAUTHENTICATED, GRPC_STATUS_UNAUTHENTICATED },
		{ ERROR_FORBIDDEN, GRPC_STATUS_PERMISSION_DENIED },
		{ ERROR_NOT_FOUND, GRPC_STATUS_NOT_FOUND },
		{ ERROR_CONFLICT, GRPC_STATUS_FAILED_PRECONDITION },
		{ ERROR_TOO_LARGE, GRPC_STATUS_RESOURCE_EXHAUSTED },
		{ ERROR_UNAVAILABLE, GRPC_STATUS_UNAVAILABLE },
		{ ERROR_INTERNAL, GRPC_STATUS_INTERNAL },
		{ (enum error_status)1000, GRPC_STATUS_INTERNAL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		ck_assert_int_eq(grpcd_status(map[i].ctl), map[i].grpc);
}
END_TEST

START_TEST(test_status_message)
{
	struct error err = {
		.status = ERROR_UNPROCESSABLE,
		.field = "target_bytes",
		.value = "1048576",
		.reason = "target_bytes 1048576 is below min_bytes 268435456",
	};
	char buf[512], small[16];

	grpcd_status_message(&err, buf, sizeof(buf));
	ck_assert_str_eq(buf, "target_bytes 1048576 is below min_bytes "
			      "268435456 (field target_bytes, value 1048576)");
	err.value[0] = '\0';
	grpcd_status_message(&err, buf, sizeof(buf));
	ck_assert_str_eq(buf, "target_bytes 1048576 is below min_bytes "
			      "268435456 (field target_bytes)");
	err.field[0] = '\0';
	grpcd_status_message(&err, buf, sizeof(buf));
	ck_assert_str_eq(buf, err.reason);
	grpcd_status_message(&err, small, sizeof(small));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	err.reason[0] = '\0';
	grpcd_status_message(&err, buf, sizeof(buf));
	ck_assert(buf[0]);
}
END_TEST

static Suite *grpc_map_suite(void)
{
	Suite *s = suite_create("grpc_map");
	TCase *tc = tcase_create("encode");

	tcase_add_test(tc, test_vm_memory);
	tcase_add_test(tc, test_vm_detail);
	tcase_add_test(tc, test_vm_list);
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_event);
	tcase_add_test(tc, test_names_are_json_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_parse_id, 0, 3);
	tcase_add_test(tc, test_parse_empty);
	tcase_add_test(tc, test_parse_memory);
	tcase_add_test(tc, test_parse_policy);
	tcase_add_loop_test(tc, test_parse_policy_bad, 0, 10);
	tcase_add_test(tc, test_parse_watch);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_status_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(grpc_map_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
