// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * jansson mapping of the API resources and strict parsers of request
 * bodies. See json.h for the contracts and docs/api.md for the format.
 */
#include "http/json.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

/*
 * jansson integers are signed 64-bit. Sizes above INT64_MAX (8 EiB) do not
 * occur; clamp rather than wrap to a negative number if one ever does.
 */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX :
						      (json_int_t)v);
}

/* json_object_set_new that remembers a failure: builders set all fields,
 * then check once. */
static void set(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		*ok = false;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *json_vm_memory(const struct vm *vm)
{
	const struct vm_memory *m = &vm->mem;
	json_t *o = json_object();
	char when[32];
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "max_bytes", json_u64(m->max_bytes), &ok);
	set(o, "min_bytes", json_u64(m->min_bytes), &ok);
	set(o, "target_bytes", json_u64(m->target_bytes), &ok);
	set(o, "current_bytes", json_u64(m->current_bytes), &ok);
	set(o, "host_resident_bytes", json_u64(m->host_resident_bytes), &ok);
	set(o, "guest_free_bytes", json_u64(m->guest_free_bytes), &ok);
	set(o, "reclaimed_bytes", json_u64(m->reclaimed_bytes), &ok);
	set(o, "soft_reclaimed_bytes", json_u64(m->soft_reclaimed_bytes), &ok);
	set(o, "shares", json_integer(m->shares), &ok);
	set(o, "target_source",
	    json_string(vm_target_source_to_string(m->target_source)), &ok);
	set(o, "auto_reclaim", json_boolean(m->auto_reclaim), &ok);
	set(o, "mechanism", json_string(vm_mechanism_to_string(vm->mechanism)),
	    &ok);
	/* Never refreshed yet: there is no time to report. */
	set(o, "updated_at",
	    m->updated_at_usec ?
		    json_string(event_format_time(m->updated_at_usec, when,
						  sizeof(when))) :
		    json_null(),
	    &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *json_vm_item(const struct vm *vm)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "id", json_string(vm->id), &ok);
	set(o, "name", json_string(vm->id), &ok);
	set(o, "uuid", str_or_null(vm->uuid), &ok);
	set(o, "mechanism", json_string(vm_mechanism_to_string(vm->mechanism)),
	    &ok);
	set(o, "state", json_string(vm_state_to_string(vm->state)), &ok);
	set(o, "memory", json_vm_memory(vm), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_vm_counters(const struct vm_counters *c)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "reclaimed_hard_frames", json_u64(c->reclaimed_hard_frames),
	    &ok);
	set(o, "reclaimed_soft_frames", json_u64(c->reclaimed_soft_frames),
	    &ok);
	set(o, "returned_frames", json_u64(c->returned_frames), &ok);
	set(o, "installed_frames", json_u64(c->installed_frames), &ok);
	set(o, "discard_ns", json_u64(c->discard_ns), &ok);
	set(o, "apply_errors", json_u64(c->apply_errors), &ok);
	set(o, "guest_ops", json_u64(c->guest_ops), &ok);
	set(o, "guest_installs", json_u64(c->guest_installs), &ok);
	set(o, "guest_install_ns", json_u64(c->guest_install_ns), &ok);
	set(o, "canary_checks", json_u64(c->canary_checks), &ok);
	set(o, "canary_mismatches", json_u64(c->canary_mismatches), &ok);
	set(o, "alloc_failures", json_u64(c->alloc_failures), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_vm_guest(const struct vm_guest_status *g)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "trace_pos_ms", json_u64(g->trace_pos_ms), &ok);
	set(o, "trace_len_ms", json_u64(g->trace_len_ms), &ok);
	set(o, "trace_done", json_boolean(g->trace_done), &ok);
	set(o, "allocated_bytes", json_u64(g->allocated_bytes), &ok);
	set(o, "workload_target_bytes", json_u64(g->target_bytes), &ok);
	set(o, "reported_frames", json_u64(g->reported), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_vm_device(const struct vm_device *d)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "state", json_string(d->state), &ok);
	set(o, "reason", json_string(d->reason), &ok);
	set(o, "last_refusal", json_string(d->last_refusal), &ok);
	set(o, "last_error", json_string(d->last_error), &ok);
	set(o, "backend", json_string(d->backend), &ok);
	set(o, "direct_reads", json_boolean(d->direct_reads), &ok);
	set(o, "regions", json_u64(d->regions), &ok);
	set(o, "install_requests", json_u64(d->install_requests), &ok);
	set(o, "install_ns_avg", json_u64(d->install_ns_avg), &ok);
	set(o, "install_ns_max", json_u64(d->install_ns_max), &ok);
	set(o, "installs_per_s", json_real(d->installs_per_s), &ok);
	set(o, "auto_reclaim", json_boolean(d->auto_reclaim), &ok);
	set(o, "auto_interval_ms", json_u64(d->auto_interval_ms), &ok);
	set(o, "auto_keep_bytes", json_u64(d->auto_keep_bytes), &ok);
	set(o, "last_reclaim_ns", json_u64(d->last_reclaim_ns), &ok);
	set(o, "monitor_timeouts", json_u64(d->monitor_timeouts), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *json_vm_detail(const struct vm *vm)
{
	json_t *o = json_vm_item(vm);
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "state_reason", json_string(vm->state_reason), &ok);
	set(o, "policy_reason", json_string(vm->policy_reason), &ok);
	set(o, "counters", json_vm_counters(&vm->counters), &ok);
	if (vm->guest.valid)
		set(o, "guest", json_vm_guest(&vm->guest), &ok);
	if (vm->mechanism == VM_MECH_HYPERALLOC)
		set(o, "device", json_vm_device(&vm->device), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *json_vm_list(const struct vm_registry *r)
{
	json_t *o = json_object(), *a = json_array(), *ret = NULL;

	if (!o || !a)
		goto cleanup;
	vm_foreach(vm, r) {
		if (json_array_append_new(a, json_vm_item(vm)) < 0)
			goto cleanup;
	}
	if (json_object_set(o, "vms", a) < 0)
		goto cleanup;
	ret = json_incref(o);
cleanup:
	json_decref(a);
	json_decref(o);
	return ret;
}

json_t *json_host(const struct ctl_host *h)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "total_bytes", json_u64(h->total_bytes), &ok);
	set(o, "available_bytes", json_u64(h->available_bytes), &ok);
	set(o, "committed_bytes", json_u64(h->committed_bytes), &ok);
	set(o, "max_committed_bytes", json_u64(h->max_committed_bytes), &ok);
	set(o, "reserve_bytes", json_u64(h->reserve_bytes), &ok);
	set(o, "overcommit_ratio", json_real(h->overcommit_ratio), &ok);
	set(o, "overcommit_now", json_real(h->overcommit_now), &ok);
	set(o, "vms", json_u64(h->vms), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *policy_params(const char *text)
{
	json_t *params;

	if (!text[0])
		return json_object();
	params = json_loads(text, 0, NULL);
	if (params && !json_is_object(params)) {
		json_decref(params);
		params = NULL;
	}
	return params ? params : json_null();
}

static json_t *policy_available(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (a && *p) {
		size_t n;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n && json_array_append_new(a, json_stringn(p, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		p += n;
	}
	return a;
}

json_t *json_policy(const struct engine_policy *p)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "name", json_string(p->name), &ok);
	set(o, "params", policy_params(p->params_json), &ok);
	set(o, "overcommit_ratio", json_real(p->overcommit_ratio), &ok);
	set(o, "host_reserve_bytes", json_u64(p->host_reserve_bytes), &ok);
	set(o, "tick_ms", json_u64(p->tick_ms), &ok);
	set(o, "available", policy_available(p->available), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *json_event(const struct event *ev)
{
	json_t *o = json_object();
	char when[32];
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "seq", json_u64(ev->seq), &ok);
	set(o, "run", json_string(ev->run), &ok);
	set(o, "time",
	    json_string(event_format_time(ev->time_usec, when, sizeof(when))),
	    &ok);
	set(o, "type", json_string(event_type_to_string(ev->type)), &ok);
	set(o, "vm", str_or_null(ev->vm), &ok);
	switch (ev->type) {
	case EV_TARGET_CHANGED:
		set(o, "target_bytes", json_u64(ev->target_bytes), &ok);
		set(o, "source", json_string(ev->source), &ok);
		break;
	case EV_RECLAIM_DONE:
		set(o, "target_bytes", json_u64(ev->target_bytes), &ok);
		set(o, "current_bytes", json_u64(ev->current_bytes), &ok);
		set(o, "bytes", json_u64(ev->bytes), &ok);
		set(o, "duration_us", json_u64(ev->duration_us), &ok);
		break;
	default:
		break;
	}
	set(o, "message", json_string(ev->message), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A JSON string of @s made valid UTF-8 (texts that quote a client's
 * bytes, or were cut inside a character). */
static json_t *json_text(const char *s)
{
	char *copy = strdup(s ? s : "");
	json_t *j;

	if (!copy)
		return NULL;
	j = json_string(text_utf8_fix(copy));
	free(copy);
	return j;
}

json_t *json_problem(int status, const char *title, const char *detail,
		     const char *field, const char *value)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "type", json_string("about:blank"), &ok);
	set(o, "title", json_text(title), &ok);
	set(o, "status", json_integer(status), &ok);
	set(o, "detail", json_text(detail), &ok);
	if (field && *field)
		set(o, "field", json_text(field), &ok);
	if (value && *value)
		set(o, "value", json_text(value), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *json_dump_free(json_t *j, size_t *ret_len)
{
	char *s;

	if (!j)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (s && ret_len)
		*ret_len = strlen(s);
	return s;
}

/* ---- parsers ---- */

/* The value of @v as short text for error messages. */
static void value_text(const json_t *v, char *buf, size_t len)
{
	char *s;

	if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* An unsigned integer no larger than @max: not a string, a real, a
 * boolean, null or a negative number. */
static int get_uint(const char *key, const json_t *v, uint64_t max,
		    uint64_t *ret, struct error *err)
{
	char text[128];
	json_int_t i;

	value_text(v, text, sizeof(text));
	if (!json_is_integer(v)) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be an integer, not %s", key, type_name(v));
		return -EINVAL;
	}
	i = json_integer_value(v);
	if (i < 0) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must not be negative", key);
		return -EINVAL;
	}
	if ((uint64_t)i > max) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be at most %llu", key,
			  (unsigned long long)max);
		return -EINVAL;
	}
	*ret = (uint64_t)i;
	return 0;
}

static int get_bool(const char *key, const json_t *v, bool *ret,
		    struct error *err)
{
	char text[128];

	if (!json_is_boolean(v)) {
		value_text(v, text, sizeof(text));
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be true or false, not %s", key,
			  type_name(v));
		return -EINVAL;
	}
	*ret = json_is_true(v);
	return 0;
}

/*
 * jansson refuses integers outside int64 (and reals outside double) while
 * parsing, without naming the member. Recover the number's text (it ends
 * at the error position) and the key in front of it, so the client learns
 * which field was out of range.
 */
static void overflow_error(const char *body, size_t len, size_t pos,
			   struct error *err)
{
	char key[64] = "", num[128] = "";
	size_t end = pos < len ? pos : len, start = end, k;

	while (start > 0 && strchr("0123456789+-.eE", body[start - 1]) &&
	       body[start - 1])
		start--;
	snprintf(num, sizeof(num), "%.*s", (int)(end - start), body + start);

	k = start;
	while (k > 0 && strchr(" \t\r\n", body[k - 1]) && body[k - 1])
		k--;
	if (k > 0 && body[k - 1] == ':') {
		size_t kend;

		k--;
		while (k > 0 && strchr(" \t\r\n", body[k - 1]) && body[k - 1])
			k--;
		if (k > 0 && body[k - 1] == '"') {
			kend = --k;
			while (k > 0 && body[k - 1] != '"')
				k--;
			if (k > 0 && kend - k < sizeof(key))
				snprintf(key, sizeof(key), "%.*s",
					 (int)(kend - k), body + k);
		}
	}
	if (key[0])
		error_set(err, ERROR_BAD_REQUEST, key, num,
			  "%s is out of range", key);
	else
		error_set(err, ERROR_BAD_REQUEST, "", num,
			  "number %s is out of range", num);
}

/* Parse @body into an object, or explain why not. */
static json_t *load_object(const char *body, size_t len, struct error *err)
{
	json_error_t e;
	json_t *o;

	if (!body || len == 0) {
		error_set(err, ERROR_BAD_REQUEST, "", "",
			  "request body is empty; expected a JSON object");
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!o) {
		if (json_error_code(&e) == json_error_numeric_overflow)
			overflow_error(body, len, (size_t)e.position, err);
		else if (json_error_code(&e) == json_error_duplicate_key)
			error_set(err, ERROR_BAD_REQUEST, "", "",
				  "body is not valid: %s", e.text);
		else
			error_set(err, ERROR_BAD_REQUEST, "", "",
				  "body is not JSON: %s at line %d column %d",
				  e.text, e.line, e.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		error_set(err, ERROR_BAD_REQUEST, "", "",
			  "body must be a JSON object, not %s", type_name(o));
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *const memory_read_only[] = {
	"current_bytes",   "host_resident_bytes",  "guest_free_bytes",
	"reclaimed_bytes", "soft_reclaimed_bytes", "target_source",
	"mechanism",	   "updated_at",
};

static const char *const policy_read_only[] = { "available" };

static bool in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

static void unknown_field(const char *key, const char *const *ro, size_t n,
			  struct error *err)
{
	if (in_list(key, ro, n))
		error_set(err, ERROR_BAD_REQUEST, key, "",
			  "%s is read-only and cannot be set", key);
	else
		error_set(err, ERROR_BAD_REQUEST, key, "", "unknown field %s",
			  key);
}

int json_parse_memory_update(const char *body, size_t len,
			     struct ctl_memory_update *ret, struct error *err)
{
	struct ctl_memory_update u;
	const char *key;
	json_t *o, *v;
	int r = 0;

	memset(&u, 0, sizeof(u));
	o = load_object(body, len, err);
	if (!o)
		return -EINVAL;
	json_object_foreach(o, key, v) {
		uint64_t x;

		if (strcmp(key, "target_bytes") == 0) {
			r = get_uint(key, v, INT64_MAX, &u.target_bytes, err);
			u.has_target = true;
		} else if (strcmp(key, "min_bytes") == 0) {
			r = get_uint(key, v, INT64_MAX, &u.min_bytes, err);
			u.has_min = true;
		} else if (strcmp(key, "max_bytes") == 0) {
			r = get_uint(key, v, INT64_MAX, &u.max_bytes, err);
			u.has_max = true;
		} else if (strcmp(key, "shares") == 0) {
			r = get_uint(key, v, UINT32_MAX, &x, err);
			u.shares = (uint32_t)x;
			u.has_shares = true;
		} else if (strcmp(key, "auto_reclaim") == 0) {
			r = get_bool(key, v, &u.auto_reclaim, err);
			u.has_auto = true;
		} else {
			unknown_field(key, memory_read_only,
				      sizeof(memory_read_only) /
					      sizeof(memory_read_only[0]),
				      err);
			r = -EINVAL;
		}
		if (r < 0)
			goto cleanup;
	}
	*ret = u;
cleanup:
	json_decref(o);
	return r;
}

static int get_string(const char *key, const json_t *v, char *buf, size_t size,
		      struct error *err)
{
	char text[128];

	value_text(v, text, sizeof(text));
	if (!json_is_string(v)) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be a string, not %s", key, type_name(v));
		return -EINVAL;
	}
	if (json_string_length(v) == 0) {
		error_set(err, ERROR_BAD_REQUEST, key, "",
			  "%s must not be empty", key);
		return -EINVAL;
	}
	if (json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s is longer than %zu bytes", key, size - 1);
		return -EINVAL;
	}
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_params(const char *key, const json_t *v, char *buf, size_t size,
		      struct error *err)
{
	char text[128];
	size_t n;

	if (!json_is_object(v)) {
		value_text(v, text, sizeof(text));
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be an object, not %s", key, type_name(v));
		return -EINVAL;
	}
	n = json_dumpb(v, buf, size, JSON_COMPACT | JSON_SORT_KEYS);
	if (n == 0 || n >= size) {
		error_set(err, ERROR_BAD_REQUEST, key, "",
			  "%s is larger than %zu bytes", key, size - 1);
		return -EINVAL;
	}
	buf[n] = '\0';
	return 0;
}

static int get_ratio(const char *key, const json_t *v, double *ret,
		     struct error *err)
{
	char text[128];

	value_text(v, text, sizeof(text));
	if (!json_is_number(v)) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must be a number, not %s", key, type_name(v));
		return -EINVAL;
	}
	if (json_number_value(v) < 0) {
		error_set(err, ERROR_BAD_REQUEST, key, text,
			  "%s must not be negative", key);
		return -EINVAL;
	}
	*ret = json_number_value(v);
	return 0;
}

int json_parse_policy_update(const char *body, size_t len,
			     struct engine_policy_update *ret,
			     struct error *err)
{
	struct engine_policy_update *u;
	const char *key;
	json_t *o, *v;
	int r = 0;

	/* ~8 KiB: keep it off the (fiber-sized in future) stack */
	u = calloc(1, sizeof(*u));
	if (!u) {
		memset(err, 0, sizeof(*err));
		err->status = ERROR_INTERNAL;
		snprintf(err->reason, sizeof(err->reason), "out of memory");
		return -ENOMEM;
	}
	o = load_object(body, len, err);
	if (!o) {
		r = -EINVAL;
		goto cleanup;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") == 0) {
			r = get_string(key, v, u->name, sizeof(u->name), err);
			u->has_name = true;
		} else if (strcmp(key, "params") == 0) {
			r = get_params(key, v, u->params_json,
				       sizeof(u->params_json), err);
			u->has_params = true;
		} else if (strcmp(key, "overcommit_ratio") == 0) {
			r = get_ratio(key, v, &u->overcommit_ratio, err);
			u->has_ratio = true;
		} else if (strcmp(key, "host_reserve_bytes") == 0) {
			r = get_uint(key, v, INT64_MAX, &u->host_reserve_bytes,
				     err);
			u->has_reserve = true;
		} else if (strcmp(key, "tick_ms") == 0) {
			r = get_uint(key, v, INT64_MAX, &u->tick_ms, err);
			u->has_tick = true;
		} else {
			unknown_field(key, policy_read_only,
				      sizeof(policy_read_only) /
					      sizeof(policy_read_only[0]),
				      err);
			r = -EINVAL;
		}
		if (r < 0)
			goto cleanup;
	}
	*ret = *u;
cleanup:
	json_decref(o);
	free(u);
	return r;
}
