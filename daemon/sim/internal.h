/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between sim/sim.c (connections) and sim/spawn.c (child processes). */
#ifndef HA_SIM_INTERNAL_H
#define HA_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"

struct daemon;
struct sim_conn;

/* A guest the daemon started itself. */
struct sim_child {
	struct sim_backend *sb;
	struct config_sim_guest cfg;
	pid_t pid; /* 0 when not running */
	sd_event_source *child_src;
	sd_event_source *restart_timer;
	unsigned restarts; /* consecutive failures */
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
	struct sim_child *children;
	struct sim_conn *conns;
};

int sim_spawn_all(struct sim_backend *sb);
void sim_spawn_stop_all(struct sim_backend *sb);
void sim_spawn_reconfigure(struct sim_backend *sb);

#endif
