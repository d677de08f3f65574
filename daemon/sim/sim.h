/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sim backend: simulated guests (tools/ha-simguest) connect to a unix
 * socket, hand over their RAM memfd, and the daemon acts as their
 * hypervisor with lib/'s host operations. The daemon can also spawn the
 * guests listed in the config (sim/spawn.c).
 */
#ifndef HA_SIM_H
#define HA_SIM_H

struct daemon;

/* Listen on cfg->sim.socket (or a socket-activated fd named "sim") and
 * spawn the configured guests. 0 or -errno (logged). */
int sim_backend_start(struct daemon *d);

/* Disconnect every guest, stop spawned ones (SIGTERM), close the socket. */
void sim_backend_stop(struct daemon *d);

/* After a config reload: spawn guests that are new in the config, stop
 * the ones that left it. */
void sim_backend_reconfigure(struct daemon *d);

#endif
