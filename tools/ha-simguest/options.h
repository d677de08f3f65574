/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command line of ha-simguest: one struct, filled and checked in one place. */
#ifndef SG_OPTIONS_H
#define SG_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "fpr.h"
#include "user/ident.h"
#include "vcpu.h"

#define SG_DEFAULT_SOCKET "/run/hyperalloc/sim.sock"
#define SG_SOCKET_ENV	  "HA_SIM_SOCKET"
#define SG_VCPUS_MAX	  256u
/* Guest RAM the daemon's sim backend accepts (daemon/sim/sim.c). */
#define SG_MEMORY_MIN (32ull << 20)
#define SG_MEMORY_MAX (4ull << 40)

struct options {
	uint64_t memory; /* bytes of guest RAM */
	unsigned vcpus;
	char name[64];
	char uuid[IDENT_UUID_LEN + 1];
	bool uuid_given;
	char socket[PATH_MAX];
	char trace[PATH_MAX]; /* name or path as given */
	char trace_dir[PATH_MAX];
	double time_scale; /* trace seconds per real second */
	bool paced; /* --trace-clock workload */
	uint64_t workload_memory; /* what fractions are of; 0: all managed */
	bool loop;
	enum workload_free free_pattern;
	enum workload_sizes alloc_sizes;
	double duration_s; /* 0: until a signal */
	bool fpr_enabled;
	struct fpr_config fpr;
	unsigned status_interval_ms;
	bool thp;
	bool prefault; /* touch all managed RAM once at start */
	uint64_t seed;
	bool seed_given;
	bool reconnect;
	unsigned connect_timeout_ms;
	bool quiet;
	bool verbose;
};

enum options_result {
	OPTIONS_RUN = 0, /* go */
	OPTIONS_EXIT_OK = 1, /* --help was printed */
	OPTIONS_ERROR = -1, /* message printed, exit 1 */
};

/* Fill @o from argv (defaults, then the environment, then options).
 * Prints the help or an error message itself. */
enum options_result options_parse(int argc, char **argv, struct options *o);

#endif
