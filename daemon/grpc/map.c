// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * protobuf-c mapping of the API resources and strict decoders of request
 * messages. See grpc/map.h for the contracts and proto/hyperalloc.proto
 * for the messages.
 *
 * Encoders fill stack messages whose strings borrow from the daemon's
 * structs (protobuf-c's string fields are not const, hence the casts)
 * and pack them at once; nothing outlives the call but the packed bytes.
 */
#include "grpc/map.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyperalloc.pb-c.h"
#include "http/json.h" /* json_format_time */

#define AVAILABLE_MAX 64 /* policy names in engine_policy.available */

void grpcd_buf_clear(struct grpcd_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

int grpcd_pack_message(const ProtobufCMessage *m, struct grpcd_buf *ret)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *data = malloc(n ? n : 1);

	if (!data)
		return -ENOMEM;
	ret->len = protobuf_c_message_pack(m, data);
	ret->data = data;
	return 0;
}

/* protobuf-c wants char * for strings it only reads when packing. */
static char *str(const char *s)
{
	return (char *)(s ? s : "");
}

/* @when must hold 32 bytes; "" for a VM never refreshed. */
static void fill_memory(Hyperalloc__V1__VMMemory *m, const struct vm *vm,
			char *when)
{
	const struct vm_memory *mem = &vm->mem;

	hyperalloc__v1__vmmemory__init(m);
	m->max_bytes = mem->max_bytes;
	m->min_bytes = mem->min_bytes;
	m->target_bytes = mem->target_bytes;
	m->current_bytes = mem->current_bytes;
	m->host_resident_bytes = mem->host_resident_bytes;
	m->guest_free_bytes = mem->guest_free_bytes;
	m->reclaimed_bytes = mem->reclaimed_bytes;
	m->soft_reclaimed_bytes = mem->soft_reclaimed_bytes;
	m->shares = mem->shares;
	m->target_source = str(vm_target_source_to_string(mem->target_source));
	m->auto_reclaim = mem->auto_reclaim;
	m->mechanism = str(vm_mechanism_to_string(vm->mechanism));
	when[0] = '\0';
	if (mem->updated_at_usec)
		event_format_time(mem->updated_at_usec, when, 32);
	m->updated_at = when;
}

static void fill_vm(Hyperalloc__V1__VM *m, Hyperalloc__V1__VMMemory *mem,
		    const struct vm *vm, char *when)
{
	hyperalloc__v1__vm__init(m);
	fill_memory(mem, vm, when);
	m->id = str(vm->id);
	m->name = str(vm->id);
	m->uuid = str(vm->uuid);
	m->mechanism = str(vm_mechanism_to_string(vm->mechanism));
	m->state = str(vm_state_to_string(vm->state));
	m->memory = mem;
}

int grpcd_pack_vm_memory(const struct vm *vm, struct grpcd_buf *ret)
{
	Hyperalloc__V1__VMMemory m;
	char when[32];

	fill_memory(&m, vm, when);
	return grpcd_pack_message(&m.base, ret);
}

int grpcd_pack_vm(const struct vm *vm, struct grpcd_buf *ret)
{
	const struct vm_counters *c = &vm->counters;
	Hyperalloc__V1__VMCounters cm;
	Hyperalloc__V1__VMGuest gm;
	Hyperalloc__V1__VMDevice dm;
	Hyperalloc__V1__VMMemory mem;
	Hyperalloc__V1__VM m;
	char when[32];

	fill_vm(&m, &mem, vm, when);
	hyperalloc__v1__vmcounters__init(&cm);
	cm.reclaimed_hard_frames = c->reclaimed_hard_frames;
	cm.reclaimed_soft_frames = c->reclaimed_soft_frames;
	cm.returned_frames = c->returned_frames;
	cm.installed_frames = c->installed_frames;
	cm.discard_ns = c->discard_ns;
	cm.apply_errors = c->apply_errors;
	cm.guest_ops = c->guest_ops;
	cm.guest_installs = c->guest_installs;
	cm.guest_install_ns = c->guest_install_ns;
	cm.canary_checks = c->canary_checks;
	cm.canary_mismatches = c->canary_mismatches;
	cm.alloc_failures = c->alloc_failures;
	m.state_reason = str(vm->state_reason);
	m.counters = &cm;
	m.policy_reason = str(vm->policy_reason);
	if (vm->guest.valid) {
		hyperalloc__v1__vmguest__init(&gm);
		gm.trace_pos_ms = vm->guest.trace_pos_ms;
		gm.trace_len_ms = vm->guest.trace_len_ms;
		gm.trace_done = vm->guest.trace_done;
		gm.allocated_bytes = vm->guest.allocated_bytes;
		gm.workload_target_bytes = vm->guest.target_bytes;
		gm.reported_frames = vm->guest.reported;
		m.guest = &gm;
	}
	if (vm->mechanism == VM_MECH_HYPERALLOC) {
		const struct vm_device *d = &vm->device;

		hyperalloc__v1__vmdevice__init(&dm);
		dm.state = str(d->state);
		dm.reason = str(d->reason);
		dm.last_refusal = str(d->last_refusal);
		dm.last_error = str(d->last_error);
		dm.backend = str(d->backend);
		dm.direct_reads = d->direct_reads;
		dm.regions = d->regions;
		dm.install_requests = d->install_requests;
		dm.install_ns_avg = d->install_ns_avg;
		dm.install_ns_max = d->install_ns_max;
		dm.installs_per_s = d->installs_per_s;
		dm.auto_reclaim = d->auto_reclaim;
		dm.auto_interval_ms = d->auto_interval_ms;
		dm.auto_keep_bytes = d->auto_keep_bytes;
		dm.last_reclaim_ns = d->last_reclaim_ns;
		dm.monitor_timeouts = d->monitor_timeouts;
		m.device = &dm;
	}
	return grpcd_pack_message(&m.base, ret);
}

/* Per VM of a list: the messages and the time text they point to. */
struct vm_item {
	Hyperalloc__V1__VM vm;
	Hyperalloc__V1__VMMemory mem;
	char when[32];
};

int grpcd_pack_vm_list(const struct vm_registry *r, struct grpcd_buf *ret)
{
	Hyperalloc__V1__ListVMsResponse m;
	Hyperalloc__V1__VM **ptrs = NULL;
	struct vm_item *items = NULL;
	size_t n = 0;
	int rc = -ENOMEM;

	hyperalloc__v1__list_vms_response__init(&m);
	vm_foreach(vm, r)
		n++;
	if (n) {
		items = calloc(n, sizeof(*items));
		ptrs = calloc(n, sizeof(*ptrs));
		if (!items || !ptrs)
			goto cleanup;
	}
	n = 0;
	vm_foreach(vm, r) {
		fill_vm(&items[n].vm, &items[n].mem, vm, items[n].when);
		ptrs[n] = &items[n].vm;
		n++;
	}
	m.n_vms = n;
	m.vms = ptrs;
	rc = grpcd_pack_message(&m.base, ret);
cleanup:
	free(ptrs);
	free(items);
	return rc;
}

int grpcd_pack_host(const struct ctl_host *h, struct grpcd_buf *ret)
{
	Hyperalloc__V1__Host m;

	hyperalloc__v1__host__init(&m);
	m.total_bytes = h->total_bytes;
	m.available_bytes = h->available_bytes;
	m.committed_bytes = h->committed_bytes;
	m.max_committed_bytes = h->max_committed_bytes;
	m.reserve_bytes = h->reserve_bytes;
	m.overcommit_ratio = h->overcommit_ratio;
	m.overcommit_now = h->overcommit_now;
	m.vms = h->vms;
	return grpcd_pack_message(&m.base, ret);
}

int grpcd_pack_policy(const struct engine_policy *p, struct grpcd_buf *ret)
{
	char names[sizeof(p->available)], *avail[AVAILABLE_MAX];
	Hyperalloc__V1__Policy m;
	size_t n = 0;

	hyperalloc__v1__policy__init(&m);
	m.name = str(p->name);
	m.params = str(p->params_json[0] ? p->params_json : "{}");
	m.overcommit_ratio = p->overcommit_ratio;
	m.host_reserve_bytes = p->host_reserve_bytes;
	m.tick_ms = p->tick_ms;
	/* Split a copy of the space-separated list in place. */
	snprintf(names, sizeof(names), "%s", p->available);
	for (char *s = names; *s && n < AVAILABLE_MAX;) {
		size_t len;

		s += strspn(s, " ");
		len = strcspn(s, " ");
		if (!len)
			break;
		avail[n++] = s;
		s += len;
		if (*s)
			*s++ = '\0';
	}
	m.n_available = n;
	m.available = avail;
	return grpcd_pack_message(&m.base, ret);
}

int grpcd_pack_event(const struct event *ev, uint64_t lost,
		     struct grpcd_buf *ret)
{
	Hyperalloc__V1__Event m;
	char when[32];

	hyperalloc__v1__event__init(&m);
	m.seq = ev->seq;
	m.time = str(event_format_time(ev->time_usec, when, sizeof(when)));
	m.type = str(event_type_to_string(ev->type));
	m.vm = str(ev->vm);
	/* The same fields per type as the JSON event. */
	switch (ev->type) {
	case EV_TARGET_CHANGED:
		m.target_bytes = ev->target_bytes;
		m.source = str(ev->source);
		break;
	case EV_RECLAIM_DONE:
		m.target_bytes = ev->target_bytes;
		m.current_bytes = ev->current_bytes;
		m.bytes = ev->bytes;
		m.duration_us = ev->duration_us;
		break;
	default:
		break;
	}
	m.message = str(ev->message);
	m.events_lost = lost;
	m.run = str(ev->run);
	return grpcd_pack_message(&m.base, ret);
}

/* ---- decoders ---- */

ProtobufCMessage *grpcd_unpack_message(const ProtobufCMessageDescriptor *desc,
				       const uint8_t *data, size_t len,
				       struct error *err)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, data);

	if (!m)
		error_set(err, ERROR_BAD_REQUEST, "", "",
			  "the request is not a valid %s message", desc->name);
	return m;
}

int grpcd_parse_empty(const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len, struct error *err)
{
	ProtobufCMessage *m = grpcd_unpack_message(desc, data, len, err);

	if (!m)
		return -EINVAL;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

static int copy_id(const char *s, char *id, size_t size, struct error *err)
{
	size_t n = strlen(s);

	if (n == 0) {
		error_set(err, ERROR_BAD_REQUEST, "id", "",
			  "id is required: a VM's name or UUID");
		return -EINVAL;
	}
	if (n >= size) {
		error_set(err, ERROR_BAD_REQUEST, "id", "",
			  "id is longer than %zu bytes", size - 1);
		return -EINVAL;
	}
	memcpy(id, s, n + 1);
	return 0;
}

int grpcd_parse_id(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		   size_t len, char *id, size_t size, struct error *err)
{
	const ProtobufCFieldDescriptor *f;
	ProtobufCMessage *m;
	int r;

	f = protobuf_c_message_descriptor_get_field_by_name(desc, "id");
	if (!f || f->type != PROTOBUF_C_TYPE_STRING) {
		error_set(err, ERROR_INTERNAL, "", "",
			  "%s has no string field id", desc->name);
		return -EINVAL;
	}
	m = grpcd_unpack_message(desc, data, len, err);
	if (!m)
		return -EINVAL;
	r = copy_id(*(char **)(void *)((char *)m + f->offset), id, size, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

/* A size field: at most INT64_MAX, like the JSON API. */
static int get_size(const char *key, uint64_t v, uint64_t *ret,
		    struct error *err)
{
	char text[32];

	if (v > (uint64_t)INT64_MAX) {
		snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be at most %lld", key, (long long)INT64_MAX);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int grpcd_parse_memory_update(const uint8_t *data, size_t len, char *id,
			      size_t size, struct ctl_memory_update *ret,
			      struct error *err)
{
	Hyperalloc__V1__SetVMMemoryRequest *m;
	struct ctl_memory_update u;
	int r;

	memset(&u, 0, sizeof(u));
	m = (void *)grpcd_unpack_message(
		&hyperalloc__v1__set_vmmemory_request__descriptor, data, len,
		err);
	if (!m)
		return -EINVAL;
	r = copy_id(m->id, id, size, err);
	if (r == 0 && m->target_bytes_opt_case) {
		u.has_target = true;
		r = get_size("target_bytes", m->target_bytes, &u.target_bytes,
			     err);
	}
	if (r == 0 && m->min_bytes_opt_case) {
		u.has_min = true;
		r = get_size("min_bytes", m->min_bytes, &u.min_bytes, err);
	}
	if (r == 0 && m->max_bytes_opt_case) {
		u.has_max = true;
		r = get_size("max_bytes", m->max_bytes, &u.max_bytes, err);
	}
	if (m->shares_opt_case) {
		u.has_shares = true;
		u.shares = m->shares;
	}
	if (m->auto_reclaim_opt_case) {
		u.has_auto = true;
		u.auto_reclaim = m->auto_reclaim;
	}
	if (r == 0)
		*ret = u;
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

/* The JSON object @text, re-serialised compact with sorted keys. */
static int get_params(const char *text, char *buf, size_t size,
		      struct error *err)
{
	json_error_t e;
	json_t *o;
	size_t n;
	int r = 0;

	o = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (!o || !json_is_object(o)) {
		if (o)
			error_set(err, ERROR_BAD_REQUEST, "params", "",
				  "params must be a JSON object");
		else
			error_set(err, ERROR_BAD_REQUEST, "params", "",
				  "params is not JSON: %s at line %d column %d",
				  e.text, e.line, e.column);
		r = -EINVAL;
		goto cleanup;
	}
	n = json_dumpb(o, buf, size, JSON_COMPACT | JSON_SORT_KEYS);
	if (n == 0 || n >= size) {
		error_set(err, ERROR_BAD_REQUEST, "params", "",
			  "params is larger than %zu bytes", size - 1);
		r = -EINVAL;
		goto cleanup;
	}
	buf[n] = '\0';
cleanup:
	json_decref(o);
	return r;
}

static int policy_fields(const Hyperalloc__V1__SetPolicyRequest *m,
			 struct engine_policy_update *u, struct error *err)
{
	char text[64];
	int r;

	if (m->name_opt_case) {
		u->has_name = true;
		if (!m->name[0]) {
			error_set(err, ERROR_BAD_REQUEST, "name", "",
				  "name must not be empty");
			return -EINVAL;
		}
		if (strlen(m->name) >= sizeof(u->name)) {
			error_set(err, ERROR_BAD_REQUEST, "name", "",
				  "name is longer than %zu bytes",
				  sizeof(u->name) - 1);
			return -EINVAL;
		}
		snprintf(u->name, sizeof(u->name), "%s", m->name);
	}
	if (m->params_opt_case) {
		u->has_params = true;
		r = get_params(m->params, u->params_json,
			       sizeof(u->params_json), err);
		if (r < 0)
			return r;
	}
	if (m->overcommit_ratio_opt_case) {
		u->has_ratio = true;
		/* JSON cannot carry NaN or infinity; protobuf can. */
		if (!isfinite(m->overcommit_ratio) || m->overcommit_ratio < 0) {
			snprintf(text, sizeof(text), "%g", m->overcommit_ratio);
			error_set(
				err, ERROR_BAD_REQUEST, "overcommit_ratio",
				text,
				"overcommit_ratio must be a finite number >= 0");
			return -EINVAL;
		}
		u->overcommit_ratio = m->overcommit_ratio;
	}
	if (m->host_reserve_bytes_opt_case) {
		u->has_reserve = true;
		r = get_size("host_reserve_bytes", m->host_reserve_bytes,
			     &u->host_reserve_bytes, err);
		if (r < 0)
			return r;
	}
	if (m->tick_ms_opt_case) {
		u->has_tick = true;
		r = get_size("tick_ms", m->tick_ms, &u->tick_ms, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int grpcd_parse_policy_update(const uint8_t *data, size_t len,
			      struct engine_policy_update *ret,
			      struct error *err)
{
	Hyperalloc__V1__SetPolicyRequest *m;
	struct engine_policy_update *u;
	int r;

	/* ~8 KiB: keep it off the stack, like json_parse_policy_update */
	u = calloc(1, sizeof(*u));
	if (!u) {
		error_set(err, ERROR_INTERNAL, "", "", "out of memory");
		return -ENOMEM;
	}
	m = (void *)grpcd_unpack_message(
		&hyperalloc__v1__set_policy_request__descriptor, data, len,
		err);
	if (!m) {
		free(u);
		return -EINVAL;
	}
	r = policy_fields(m, u, err);
	if (r == 0)
		*ret = *u;
	protobuf_c_message_free_unpacked(&m->base, NULL);
	free(u);
	return r;
}

int grpcd_parse_watch(const uint8_t *data, size_t len, char *ret_resume,
		      size_t resume_len, struct error *err)
{
	Hyperalloc__V1__WatchEventsRequest *m;
	size_t n;
	int r = 0;

	m = (void *)grpcd_unpack_message(
		&hyperalloc__v1__watch_events_request__descriptor, data, len,
		err);
	if (!m)
		return -EINVAL;
	n = m->run ? strlen(m->run) : 0;
	if (n && (n != EVENT_RUN_LEN - 1 ||
		  strspn(m->run, "0123456789abcdef") != n)) {
		error_set(err, ERROR_BAD_REQUEST, "run", NULL,
			  "run must be 16 lower-case hex digits (an "
			  "Event.run)");
		r = -EINVAL;
	} else if (m->last_event_id_opt_case == 0) {
		snprintf(ret_resume, resume_len, "%s", "");
	} else if (n) {
		snprintf(ret_resume, resume_len, "%s-%llu", m->run,
			 (unsigned long long)m->last_event_id);
	} else {
		snprintf(ret_resume, resume_len, "%llu",
			 (unsigned long long)m->last_event_id);
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

/* ---- status ---- */

grpc_status_code grpcd_status(enum error_status s)
{
	switch (s) {
	case ERROR_OK:
		return GRPC_STATUS_OK;
	case ERROR_BAD_REQUEST:
	case ERROR_UNPROCESSABLE:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case ERROR_UNAUTHENTICATED:
		return GRPC_STATUS_UNAUTHENTICATED;
	case ERROR_FORBIDDEN:
		return GRPC_STATUS_PERMISSION_DENIED;
	case ERROR_NOT_FOUND:
		return GRPC_STATUS_NOT_FOUND;
	case ERROR_CONFLICT:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case ERROR_TOO_LARGE:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case ERROR_UNAVAILABLE:
		return GRPC_STATUS_UNAVAILABLE;
	case ERROR_INTERNAL:
		break;
	}
	return GRPC_STATUS_INTERNAL;
}

void grpcd_status_message(const struct error *err, char *buf, size_t len)
{
	const char *reason = err->reason[0] ? err->reason : "request failed";

	if (!len)
		return;
	if (err->field[0] && err->value[0])
		snprintf(buf, len, "%s (field %s, value %s)", reason,
			 err->field, err->value);
	else if (err->field[0])
		snprintf(buf, len, "%s (field %s)", reason, err->field);
	else
		snprintf(buf, len, "%s", reason);
}
