// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy engine: collect (refresh every VM), decide (the policy, a pure
 * function), act (steer the backends). Safety rules that hold whatever the
 * policy says live here, not in the policies.
 */
#include "engine.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "daemon.h"
#include "host.h"
#include "log.h"
#include "plugin.h"
#include "policy.h"
#include "safety.h"

#define ENGINE_PARAMS_MAX 64
#define DEAD_BAND_BYTES	  (2ull << 20) /* one huge frame */

struct engine {
	const struct ha_policy_ops *ops;
	void *state;
	void *dl; /* dlopen handle of an out-of-tree policy */
	char name[128];
	char params_json[4096];
	double overcommit_ratio;
	uint64_t reserve_bytes;
	uint64_t tick_ms;
	sd_event_source *timer;
	uint64_t ticks;
	uint64_t last_tick_us; /* how long the last tick took */
	uint64_t max_tick_us;
};

/* ---- parameters: JSON object -> key/value text ---- */

struct params {
	struct ha_policy_param p[ENGINE_PARAMS_MAX]; /* key/value owned */
	size_t n;
};

static void params_free(struct params *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free((char *)ps->p[i].key);
		free((char *)ps->p[i].value);
	}
	ps->n = 0;
}

static int params_parse(const char *json, struct params *ps, struct error *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json, 0, &jerr);
	const char *key;
	json_t *v;
	int r = 0;

	ps->n = 0;
	if (!json_is_object(o)) {
		json_decref(o);
		error_set(err, ERROR_BAD_REQUEST, "params", json,
			  "policy parameters must be a JSON object");
		return -EINVAL;
	}
	json_object_foreach(o, key, v) {
		char *text = NULL, *k;

		if (ps->n == ENGINE_PARAMS_MAX) {
			error_set(err, ERROR_UNPROCESSABLE, "params", "",
				  "more than %d parameters", ENGINE_PARAMS_MAX);
			r = -E2BIG;
			break;
		}
		if (json_is_string(v)) {
			text = strdup(json_string_value(v));
		} else if (json_is_number(v) || json_is_boolean(v)) {
			text = json_dumps(v, JSON_ENCODE_ANY);
		} else {
			error_set(err, ERROR_UNPROCESSABLE, "params", key,
				  "parameter %s must be a number, string "
				  "or boolean",
				  key);
			r = -EINVAL;
			break;
		}
		k = strdup(key);
		if (!text || !k) {
			free(text);
			free(k);
			r = -ENOMEM;
			break;
		}
		ps->p[ps->n].key = k;
		ps->p[ps->n].value = text;
		ps->n++;
	}
	json_decref(o);
	if (r < 0)
		params_free(ps);
	return r;
}

/* ---- loading a policy ---- */

/*
 * @name: a built-in; else a plugin "<name>.so" (or "<name>" ending in
 * ".so") in @plugin_dir; else, only when @allow_path (the configuration
 * file), the absolute path of a plugin.
 */
static const struct ha_policy_ops *policy_load(const char *name,
					       const char *plugin_dir,
					       bool allow_path, void **ret_dl,
					       struct error *err)
{
	const struct ha_policy_ops *ops;
	char dir[4096], file[256], fdpath[64];
	size_t n = strlen(name);
	void *dl;
	int fd;

	*ret_dl = NULL;
	if (!strchr(name, '/')) {
		ops = ha_policy_builtin(name);
		if (ops)
			return ops;
		if (!plugin_name_ok(name, err))
			return NULL;
		snprintf(dir, sizeof(dir), "%s", plugin_dir);
		if (n > 3 && strcmp(name + n - 3, ".so") == 0)
			snprintf(file, sizeof(file), "%s", name);
		else
			snprintf(file, sizeof(file), "%.200s.so", name);
	} else {
		const char *slash = strrchr(name, '/');

		if (!allow_path) {
			plugin_name_ok(name, err);
			return NULL;
		}
		if (name[0] != '/' || !slash[1] ||
		    (size_t)(slash - name) >= sizeof(dir) ||
		    strlen(slash + 1) >= sizeof(file)) {
			error_set(err, ERROR_UNPROCESSABLE, "name", name,
				  "a plugin named by path needs an absolute "
				  "path to a file");
			return NULL;
		}
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name), name);
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
		snprintf(file, sizeof(file), "%s", slash + 1);
	}
	fd = plugin_open(dir, file, name, err);
	if (fd == -ENOENT && !allow_path) {
		char avail[256];

		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "no such policy (built in: %s; plugins: <name>.so "
			  "in %s)",
			  ha_policy_builtin_names(avail, sizeof(avail)), dir);
	}
	if (fd < 0)
		return NULL;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!dl) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "cannot load plugin: %s", dlerror());
		return NULL;
	}
	ops = dlsym(dl, HA_POLICY_SYMBOL);
	if (!ops) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "plugin has no symbol %s", HA_POLICY_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (ops->abi_version != HA_POLICY_ABI_VERSION) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "plugin ABI version %u, this daemon speaks %u",
			  ops->abi_version, HA_POLICY_ABI_VERSION);
		dlclose(dl);
		return NULL;
	}
	if (!ops->name || !ops->init || !ops->decide || !ops->fini) {
		error_set(err, ERROR_UNPROCESSABLE, "name", name,
			  "plugin leaves a required operation NULL");
		dlclose(dl);
		return NULL;
	}
	*ret_dl = dl;
	return ops;
}

/* Build a ready policy (ops + state) without touching the running one. */
static int policy_prepare(const char *name, const char *plugin_dir,
			  bool allow_path, const char *params_json,
			  const struct ha_policy_ops **ret_ops,
			  void **ret_state, void **ret_dl, struct error *err)
{
	struct params ps;
	char msg[256] = "";
	void *dl;
	int r;

	const struct ha_policy_ops *ops =
		policy_load(name, plugin_dir, allow_path, &dl, err);

	if (!ops)
		return -EINVAL;
	r = params_parse(params_json, &ps, err);
	if (r < 0)
		goto fail;
	r = ops->init(ps.p, ps.n, ret_state, msg, sizeof(msg));
	params_free(&ps);
	if (r < 0) {
		error_set(err, ERROR_UNPROCESSABLE, "params", params_json,
			  "policy %s refused its parameters: %s", ops->name,
			  msg[0] ? msg : strerror(-r));
		goto fail;
	}
	*ret_ops = ops;
	*ret_dl = dl;
	return 0;
fail:
	if (dl)
		dlclose(dl);
	return r < 0 ? r : -EINVAL;
}

static void policy_release(struct engine *e)
{
	if (e->ops)
		e->ops->fini(e->state);
	if (e->dl)
		dlclose(e->dl);
	e->ops = NULL;
	e->state = NULL;
	e->dl = NULL;
}

void engine_unstick(struct daemon *d, struct vm *vm)
{
	(void)d;
	vm->safety.stuck_until_ms = 0;
	vm->safety.progress_ms = 0;
	if (vm->state == VM_STATE_STUCK) {
		vm->state = VM_STATE_RUNNING;
		vm->state_reason[0] = '\0';
		log_info("%s: settings changed, no longer stuck", vm->id);
	}
}

/* ---- the tick ---- */

static enum ha_policy_mech mech_of(const struct vm *vm)
{
	switch (vm->mechanism) {
	case VM_MECH_SIM:
		return HA_POLICY_MECH_SIM;
	case VM_MECH_HYPERALLOC:
		return HA_POLICY_MECH_HYPERALLOC;
	case VM_MECH_BALLOON:
		return HA_POLICY_MECH_BALLOON;
	case VM_MECH_VIRTIO_MEM:
		return HA_POLICY_MECH_VIRTIO_MEM;
	case VM_MECH_NONE:
		break;
	}
	return HA_POLICY_MECH_NONE;
}

/* Stuck or not stuck any more: state, event, log. */
static void stuck_change(struct daemon *d, struct vm *vm,
			 const struct safety_vm *sv, uint64_t holdoff_ms)
{
	if (sv->became_stuck) {
		vm->state = VM_STATE_STUCK;
		vm->counters.stuck_total++;
		snprintf(vm->state_reason, sizeof(vm->state_reason),
			 "no progress toward target %llu bytes (now %llu); "
			 "left alone for %llu s",
			 (unsigned long long)vm->mem.target_bytes,
			 (unsigned long long)vm->mem.current_bytes,
			 (unsigned long long)(holdoff_ms / 1000));
		log_warn("%s: stuck: %s", vm->id, vm->state_reason);
		event_vm(&d->bus, EV_VM_STUCK, vm, "%s", vm->state_reason);
	} else if (sv->became_unstuck && vm->state == VM_STATE_STUCK) {
		vm->state = VM_STATE_RUNNING;
		vm->state_reason[0] = '\0';
		log_info("%s: retrying its target", vm->id);
	}
}

static void tick(struct daemon *d)
{
	struct engine *e = d->engine;
	const struct config *c = d->cfg;
	struct ha_policy_vm *snap = NULL;
	struct ha_policy_target *out = NULL;
	struct safety_vm *sv = NULL;
	struct vm **vms = NULL;
	struct host_mem hm = { 0 };
	uint64_t t0 = now_usec();
	size_t n = 0;

	e->ticks++;
	vm_foreach(vm, &d->vms) {
		if (vm->ops && vm->ops->refresh && vm->ops->refresh(vm) < 0)
			log_debug("refresh of %s failed", vm->id);
	}
	if (d->vms.count == 0)
		goto cleanup;
	snap = calloc(d->vms.count, sizeof(*snap));
	out = calloc(d->vms.count, sizeof(*out));
	sv = calloc(d->vms.count, sizeof(*sv));
	vms = calloc(d->vms.count, sizeof(*vms));
	if (!snap || !out || !sv || !vms)
		goto cleanup;

	host_read(&hm);
	struct ha_policy_host host = {
		.total_bytes = hm.total_bytes,
		.available_bytes = hm.available_bytes,
		.reserve_bytes = e->reserve_bytes,
		.overcommit_ratio = e->overcommit_ratio,
		.psi_some_avg10 = hm.psi_some_avg10,
		.psi_full_avg10 = hm.psi_full_avg10,
		.now_ms = t0 / 1000,
		.tick_ms = e->tick_ms,
	};

	vm_foreach(vm, &d->vms) {
		if (!vm_steerable(vm))
			continue;
		const struct vm_memory *m = &vm->mem;

		snap[n] = (struct ha_policy_vm){
			.id = vm->id,
			.mechanism = mech_of(vm),
			.can_soft_reclaim = vm->ops->reclaim_free != NULL,
			.manual = m->target_source == VM_TARGET_MANUAL,
			.max_bytes = m->max_bytes,
			.min_bytes = m->min_bytes,
			.shares = m->shares,
			.target_bytes = m->target_bytes,
			.current_bytes = m->current_bytes,
			.host_resident_bytes = m->host_resident_bytes,
			.guest_free_bytes = m->guest_free_bytes,
			.guest_used_bytes =
				m->current_bytes > m->guest_free_bytes ?
					m->current_bytes - m->guest_free_bytes :
					0,
			.free_huge_installed_bytes =
				vm->free_huge_installed_bytes,
			.soft_reclaimed_bytes = m->soft_reclaimed_bytes,
			.installs = vm->counters.guest_installs,
			.alloc_failures = vm->counters.alloc_failures,
		};
		out[n] = (struct ha_policy_target){
			.target_bytes = vm->policy_target ? vm->policy_target :
							    m->max_bytes,
			.auto_reclaim = false,
		};
		vms[n] = vm;
		n++;
	}
	if (n)
		e->ops->decide(e->state, &host, snap, n, out);

	uint64_t reserve = e->reserve_bytes;
	struct safety_params sp = {
		.dead_band = DEAD_BAND_BYTES,
		.max_step = c->policy.max_step_bytes,
		.usable_bytes =
			hm.total_bytes > reserve ? hm.total_bytes - reserve : 0,
		.grow_budget = hm.available_bytes > reserve ?
				       hm.available_bytes - reserve :
				       0,
		.now_ms = t0 / 1000,
		.stuck_after_ms = c->policy.stuck_after_ms,
		.stuck_holdoff_ms = c->policy.stuck_holdoff_ms,
	};

	for (size_t i = 0; i < n; i++) {
		struct vm *vm = vms[i];
		bool manual = vm->mem.target_source == VM_TARGET_MANUAL;

		sv[i] = (struct safety_vm){
			.min = vm->mem.min_bytes,
			.max = vm->mem.max_bytes,
			.target = vm->mem.target_bytes,
			.current = vm->mem.current_bytes,
			.want = manual ? vm->manual_target :
					 out[i].target_bytes,
			.manual = manual,
			.last_gap = vm->safety.last_gap,
			.progress_ms = vm->safety.progress_ms,
			.stuck_until_ms = vm->safety.stuck_until_ms,
		};
		/* A VM that just arrived (a guest still booting its balloon
		 * or virtio-mem driver) gets one stuck period of grace. */
		if ((t0 - vm->added_usec) / 1000 < c->policy.stuck_after_ms)
			sv[i].progress_ms = t0 / 1000;
	}
	safety_apply(&sp, sv, n);

	for (size_t i = 0; i < n; i++) {
		struct vm *vm = vms[i];

		vm->safety.last_gap = sv[i].last_gap;
		vm->safety.progress_ms = sv[i].progress_ms;
		vm->safety.stuck_until_ms = sv[i].stuck_until_ms;
		if (!sv[i].manual) {
			vm->policy_target = sv[i].target;
			snprintf(vm->policy_reason, sizeof(vm->policy_reason),
				 "%s",
				 sv[i].squeezed ?
					 "host_fit" :
					 ha_policy_reason_str(out[i].reason));
		}
		stuck_change(d, vm, &sv[i], sp.stuck_holdoff_ms);
		if (safety_stuck(&sv[i]))
			continue;
		/* Steer every VM, manual ones too: a target the guest could
		 * not reach yet (its memory was in use) is retried. */
		daemon_vm_steer(d, vm);
		if ((out[i].auto_reclaim || vm->mem.auto_reclaim) && vm->ops &&
		    vm->ops->reclaim_free)
			vm->ops->reclaim_free(vm, out[i].keep_free_bytes);
	}
cleanup:
	free(snap);
	free(out);
	free(sv);
	free(vms);
	e->last_tick_us = now_usec() - t0;
	if (e->last_tick_us > e->max_tick_us)
		e->max_tick_us = e->last_tick_us;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	tick(d);
	sd_event_source_set_time(s, usec + d->engine->tick_ms * 1000);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

void engine_tick_now(struct daemon *d)
{
	if (d->engine)
		tick(d);
}

int engine_start(struct daemon *d, struct error *err)
{
	struct engine *e = calloc(1, sizeof(*e));
	const struct config *c = d->cfg;
	int r;

	if (!e)
		return -ENOMEM;
	r = policy_prepare(c->policy.name, c->policy.plugin_dir, true,
			   c->policy.params_json, &e->ops, &e->state, &e->dl,
			   err);
	if (r < 0) {
		free(e);
		return r;
	}
	snprintf(e->name, sizeof(e->name), "%s", c->policy.name);
	snprintf(e->params_json, sizeof(e->params_json), "%s",
		 c->policy.params_json);
	e->overcommit_ratio = c->policy.overcommit_ratio;
	e->reserve_bytes = c->policy.host_reserve_bytes;
	e->tick_ms = c->policy.tick_ms;
	r = sd_event_add_time_relative(d->loop, &e->timer, CLOCK_MONOTONIC,
				       e->tick_ms * 1000, 1000, on_timer, d);
	if (r < 0) {
		policy_release(e);
		free(e);
		error_set(err, ERROR_INTERNAL, "", "", "timer: %s",
			  strerror(-r));
		return r;
	}
	sd_event_source_set_enabled(e->timer, SD_EVENT_ON);
	d->engine = e;
	return 0;
}

void engine_stop(struct daemon *d)
{
	struct engine *e = d->engine;

	if (!e)
		return;
	sd_event_source_disable_unref(e->timer);
	policy_release(e);
	free(e);
	d->engine = NULL;
}

void engine_policy_get(struct daemon *d, struct engine_policy *ret)
{
	struct engine *e = d->engine;

	memset(ret, 0, sizeof(*ret));
	if (!e)
		return;
	snprintf(ret->name, sizeof(ret->name), "%s", e->name);
	snprintf(ret->params_json, sizeof(ret->params_json), "%s",
		 e->params_json);
	ret->overcommit_ratio = e->overcommit_ratio;
	ret->host_reserve_bytes = e->reserve_bytes;
	ret->tick_ms = e->tick_ms;
	ret->ticks = e->ticks;
	ret->last_tick_us = e->last_tick_us;
	ret->max_tick_us = e->max_tick_us;
	ha_policy_builtin_names(ret->available, sizeof(ret->available));
}

int engine_policy_prepare(struct daemon *d,
			  const struct engine_policy_update *u,
			  struct engine_prepared *ret, struct error *err)
{
	struct engine *e = d->engine;
	const struct ha_policy_ops *ops = NULL;
	void *state = NULL, *dl = NULL;
	char *name = ret->name, *params = ret->params_json;

	memset(ret, 0, sizeof(*ret));
	ret->u = *u;
	snprintf(name, sizeof(ret->name), "%s",
		 u->has_name ? u->name : e->name);
	snprintf(params, sizeof(ret->params_json), "%s",
		 u->has_params ? u->params_json :
		 u->has_name   ? "{}" :
				 e->params_json);
	struct host_mem hm = { 0 };
	int r;

	if (u->has_ratio &&
	    !(u->overcommit_ratio >= 0.1 && u->overcommit_ratio <= 100)) {
		char v[32];

		snprintf(v, sizeof(v), "%g", u->overcommit_ratio);
		error_set(err, ERROR_UNPROCESSABLE, "overcommit_ratio", v,
			  "must be between 0.1 and 100");
		return -EINVAL;
	}
	if (u->has_tick && (u->tick_ms < 100 || u->tick_ms > 3600000)) {
		char v[32];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)u->tick_ms);
		error_set(err, ERROR_UNPROCESSABLE, "tick_ms", v,
			  "must be between 100 and 3600000");
		return -EINVAL;
	}
	if (u->has_reserve && host_read(&hm) == 0 &&
	    u->host_reserve_bytes >= hm.total_bytes) {
		char v[32];

		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)u->host_reserve_bytes);
		error_set(err, ERROR_UNPROCESSABLE, "host_reserve_bytes", v,
			  "must be below the host's memory (%llu bytes)",
			  (unsigned long long)hm.total_bytes);
		return -EINVAL;
	}
	if (u->has_name || u->has_params) {
		/* A path comes from the configuration file, now or when
		 * the running policy (kept by a parameters-only change)
		 * was chosen. */
		r = policy_prepare(name, d->cfg->policy.plugin_dir,
				   u->from_config || !u->has_name, params, &ops,
				   &state, &dl, err);
		if (r < 0)
			return r;
		ret->has_policy = true;
		ret->ops = ops;
		ret->state = state;
		ret->dl = dl;
	}
	ret->ready = true;
	return 0;
}

void engine_prepared_discard(struct engine_prepared *p)
{
	const struct ha_policy_ops *ops = p->ops;

	if (p->ready && p->has_policy) {
		ops->fini(p->state);
		if (p->dl)
			dlclose(p->dl);
	}
	p->ready = false;
	p->has_policy = false;
}

void engine_policy_commit(struct daemon *d, struct engine_prepared *p)
{
	struct engine *e = d->engine;
	const struct engine_policy_update *u = &p->u;

	if (!p->ready)
		return;
	if (p->has_policy) {
		policy_release(e);
		e->ops = p->ops;
		e->state = p->state;
		e->dl = p->dl;
		snprintf(e->name, sizeof(e->name), "%s", p->name);
		snprintf(e->params_json, sizeof(e->params_json), "%s",
			 p->params_json);
	}
	p->ready = false;
	p->has_policy = false;
	if (u->has_ratio)
		e->overcommit_ratio = u->overcommit_ratio;
	if (u->has_reserve)
		e->reserve_bytes = u->host_reserve_bytes;
	if (u->has_tick) {
		e->tick_ms = u->tick_ms;
		sd_event_source_set_time_relative(e->timer, e->tick_ms * 1000);
	}
	struct event ev = { .type = EV_POLICY_CHANGED };

	snprintf(ev.message, sizeof(ev.message),
		 "policy %.64s, overcommit %.2f, reserve %llu, tick %llu ms",
		 e->name, e->overcommit_ratio,
		 (unsigned long long)e->reserve_bytes,
		 (unsigned long long)e->tick_ms);
	event_publish(&d->bus, &ev);
	log_info("%s, params %s", ev.message, e->params_json);
	tick(d);
}

int engine_policy_set(struct daemon *d, const struct engine_policy_update *u,
		      struct error *err)
{
	struct engine_prepared p;
	int r = engine_policy_prepare(d, u, &p, err);

	if (r < 0)
		return r;
	engine_policy_commit(d, &p);
	return 0;
}
