/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sim backend: simulated guests (tools/ha-simguest) connect to a unix
 * socket, hand over their RAM memfd, and the daemon acts as their
 * hypervisor with lib/'s host operations. The daemon can also spawn the
 * guests listed in the config (sim/spawn.c).
 */
#ifndef HA_SIM_H
#define HA_SIM_H

#include "vm_source.h"

/*
 * The sim VM source:
 * start       listen on cfg->sim.socket (or a socket-activated fd named
 *             "sim"; no socket configured: nothing) and spawn the
 *             configured guests. 0 or -errno (logged).
 * stop        disconnect every guest, stop spawned ones (SIGTERM), close
 *             the socket.
 * reconfigure spawn guests that are new in the reloaded configuration,
 *             stop the ones that left it.
 */
extern const struct vm_source sim_source;

#endif
