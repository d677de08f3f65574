/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's top-level state: one instance, owned by the event loop.
 */
#ifndef HA_DAEMON_H
#define HA_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "events.h"
#include "vm.h"

struct http_server;
struct sim_backend;
struct engine;
struct state_store;
struct commit;
struct grpcd;
struct libvirt_tracker;

struct daemon {
	sd_event *loop;
	struct config *cfg; /* current; replaced whole on reload */
	struct vm_registry vms;
	struct event_bus bus;

	char api_token[257]; /* AUTH_TOKEN_MAX + 1; "" = no TCP mutations */

	struct http_server *http;
	struct sim_backend *sim;
	struct engine *engine;
	struct state_store *state;
	struct commit *commit; /* group commit of state (commit.h) */
	struct grpcd *grpc;
	struct libvirt_tracker *libvirt;

	uint64_t started_usec; /* CLOCK_MONOTONIC */
	uint64_t started_realtime_usec; /* CLOCK_REALTIME, the same moment */
	uint64_t errors_total; /* errors logged since start (metrics) */
	bool shutting_down;
};

/* Add a VM to the registry, restore its persisted settings, publish
 * VM_ADDED and steer it. Ownership of @vm passes to the daemon on success
 * (0); -EEXIST if its id or uuid is taken (the caller keeps @vm). */
int daemon_vm_add(struct daemon *d, struct vm *vm);

/* Move @vm to its effective target now: the manual target if pinned,
 * else the policy's (the VM's max before the policy spoke), clamped to
 * [min, max]. A change publishes EV_TARGET_CHANGED. A VM that cannot be
 * steered now (migrating, stopped) keeps the target for later (its
 * backend steers again when it runs); a quarantined one or one without
 * apply_target is left alone. A backend's refusal is counted and
 * published as an error. */
void daemon_vm_steer(struct daemon *d, struct vm *vm);

/* The operator's automatic soft reclaim setting of @vm: through its
 * backend's set_auto, or recorded in vm->mem.auto_reclaim if it has none.
 * 0, or the backend's -errno with nothing changed. */
int daemon_vm_set_auto(struct vm *vm, bool enabled);

/* Remove a VM (backend detach, VM_REMOVED event, free). */
void daemon_vm_remove(struct daemon *d, struct vm *vm, const char *why);

/* Publish an error event and log it. */
void daemon_error(struct daemon *d, const struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Microseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t now_usec(void);
uint64_t realtime_usec(void);

#endif
