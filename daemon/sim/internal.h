/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between the files of the sim backend: sim/sim.c (the socket,
 * connections, messages), sim/backend.c (backend_ops of a connected
 * guest: refresh, steering in slices, soft reclaim, quarantine) and
 * sim/spawn.c (guests the daemon starts itself). Loop thread only.
 */
#ifndef HA_SIM_INTERNAL_H
#define HA_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "ha_host.h"
#include "ratelimit.h"
#include "user/memfd_env.h"

struct daemon;
struct vm;

/* One connected guest. */
struct sim_conn {
	struct sim_backend *sb;
	int fd;
	sd_event_source *io;
	sd_event_source *work; /* reclaim/return slices */
	struct vm *vm; /* set after HELLO */
	sd_event_source *hello_timer; /* closes it if no HELLO comes */

	int memfd;
	char *ram;
	uint64_t ram_bytes;
	bool thp;
	struct memfd_env env;
	bool env_ready;
	struct ha_host host;
	uint8_t *hstate;

	struct sim_conn *next; /* in sb->conns */

	uint64_t want_hard; /* hard-reclaimed frames wanted */
	uint64_t want_soft; /* frames still to soft-reclaim in this pass */
	uint64_t op_start_usec; /* 0: no operation being timed */
	uint64_t op_from_hard;

	/* warnings about this guest: SIM_WARN_BURST per SIM_WARN_INTERVAL,
	 * then one summary line per interval (conn_warn) */
	struct ratelimit warn_rl;
	sd_event_source *warn_timer; /* prints the summary */
	/* the guest's reports of canary mismatches: an error event at most
	 * once per SIM_CANARY_NOTE_USEC (the counters always follow) */
	struct ratelimit canary_rl;
};

#define SIM_WARN_BURST	       10
#define SIM_WARN_INTERVAL_USEC (5 * 1000000ull)
#define SIM_CANARY_NOTE_USEC   (10 * 1000000ull)

/* A guest the daemon started itself. */
/* The restart budget of a spawned guest: more failures than this within
 * sim.restart_window_ms and it is not restarted. */
#define SIM_RESTART_MAX 5

struct sim_child {
	struct sim_backend *sb;
	struct config_sim_guest cfg;
	pid_t pid; /* 0 when not running */
	sd_event_source *child_src;
	sd_event_source *restart_timer;
	/* monotonic µs of the last SIM_RESTART_MAX + 1 failures, a ring;
	 * 0: none */
	uint64_t failed_usec[SIM_RESTART_MAX + 1];
	unsigned failed_next; /* where the next failure goes */
	bool stopping; /* we sent SIGTERM */
	bool keep; /* still in the config (reconfigure mark) */
	struct sim_child *next;
};

struct sim_backend {
	struct daemon *d;
	int listen_fd;
	bool listen_fd_owned; /* we created (and unlink) the socket */
	char *socket_path; /* copy: the config may be reloaded */
	sd_event_source *listen_src;
	sd_event_source *backoff_timer; /* accept() lacked fds */
	unsigned backoff_ms;
	uint64_t accept_note_usec; /* last log line of a failing accept() */
	uint64_t accept_note_skipped;
	struct sim_child *children;
	struct sim_conn *conns;
};

/* ---- sim/backend.c ---- */

/* How the daemon steers a connected guest (vm->backend is its conn). */
extern const struct backend_ops sim_ops;

/* The deferred source of @c's reclaim and return slices (c->work); runs
 * while there is work toward want_hard / want_soft and turns itself off
 * when done. */
int sim_work(sd_event_source *s, void *userdata);

/* lib/ found @c's metadata corrupt: quarantine the VM (state, reason,
 * event, log; no more reclaim). Idempotent. */
void sim_quarantine(struct sim_conn *c);

/* ---- sim/spawn.c ---- */

/* Start the guests of the configuration, stop them all, or start and stop
 * the ones a reloaded configuration added or dropped. 0 or -errno. */
int sim_spawn_all(struct sim_backend *sb);
void sim_spawn_stop_all(struct sim_backend *sb);
void sim_spawn_reconfigure(struct sim_backend *sb);

#endif
