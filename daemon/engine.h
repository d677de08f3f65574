/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine: every tick it refreshes each VM, hands a snapshot to
 * the active policy's decide(), applies the safety rules and steers the
 * VMs toward the targets (daemon_vm_steer).
 */
#ifndef HA_ENGINE_H
#define HA_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

struct daemon;
struct vm;

/* The policy resource (GET /policy). */
struct engine_policy {
	char name[128];
	char params_json[4096]; /* parameters as a JSON object */
	double overcommit_ratio;
	uint64_t host_reserve_bytes;
	uint64_t tick_ms;
	char available[512]; /* space-separated built-in names */
	/* engine health (read-only) */
	uint64_t ticks;
	uint64_t last_tick_us; /* duration of the last tick */
	uint64_t max_tick_us;
};

/* A change to it (PUT /policy); only fields with has_* apply. */
struct engine_policy_update {
	bool has_name, has_params, has_ratio, has_reserve, has_tick;
	/* from the configuration file (reload): the name may be the absolute
	 * path of a plugin. Never set for API callers. */
	bool from_config;
	char name[128];
	char params_json[4096];
	double overcommit_ratio;
	uint64_t host_reserve_bytes;
	uint64_t tick_ms;
};

/* Create the engine with the policy named in the config and start its
 * timer. 0, or -errno with *err saying why (unknown policy, parameters
 * its init refuses). */
int engine_start(struct daemon *d, struct error *err);
/* Stop the timer and release the policy. Accepts a daemon without an
 * engine. */
void engine_stop(struct daemon *d);

/* An operator changed @vm's settings: if it was stuck, it is not any
 * more; the stuck clock starts again. */
void engine_unstick(struct daemon *d, struct vm *vm);

/* The policy resource now: name, parameters, host-wide settings and the
 * engine's tick statistics; zeroed without an engine. */
void engine_policy_get(struct daemon *d, struct engine_policy *ret);

/*
 * Change the policy resource. Checks first, in order: overcommit ratio
 * within [0.1, 100], tick within [100 ms, 1 h], reserve below the host's
 * memory, the policy exists (a built-in name, a plugin <name>.so in
 * policy.plugin_dir owned by root or the daemon's user and not group- or
 * world-writable, or with from_config the absolute path of such a
 * plugin; with this daemon's ABI) and its init accepts the parameters. A new name
 * without parameters starts with {}. On success the change is applied,
 * EV_POLICY_CHANGED published and a tick run: 0. Otherwise -errno with
 * *err set (ERROR_UNPROCESSABLE, ERROR_BAD_REQUEST for parameters that
 * are not a JSON object) and the running policy stays.
 */
int engine_policy_set(struct daemon *d, const struct engine_policy_update *u,
		      struct error *err);

/*
 * engine_policy_set() in two steps, for a change that must succeed or
 * fail together with others (a reload): engine_policy_prepare() makes the
 * same checks and loads the policy (opens a plugin, runs its init) without
 * touching the running one; then either engine_policy_commit() applies it
 * (as engine_policy_set() does on success) or engine_prepared_discard()
 * releases it. On failure of prepare nothing needs discarding.
 */
struct engine_prepared {
	bool ready, has_policy;
	struct engine_policy_update u;
	const void *ops; /* const struct ha_policy_ops * */
	void *state, *dl;
	char name[128];
	char params_json[4096];
};

int engine_policy_prepare(struct daemon *d,
			  const struct engine_policy_update *u,
			  struct engine_prepared *ret, struct error *err);
void engine_policy_commit(struct daemon *d, struct engine_prepared *p);
void engine_prepared_discard(struct engine_prepared *p);

/* Run one tick now (tests, SIGHUP). */
void engine_tick_now(struct daemon *d);

#endif
