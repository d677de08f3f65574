/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Configuration: one struct, filled from one JSON file. A reload builds a
 * fresh struct and swaps it in; the live one is never edited.
 * The file format is documented in docs/configuration.md and the default
 * file is systemd/hyperallocd.json.
 */
#ifndef HA_CONFIG_H
#define HA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "vm.h"

#define CONFIG_SIM_GUESTS_MAX 1024
/* policy.plugin_dir unless configured */
#define CONFIG_PLUGIN_DIR "/usr/lib/hyperalloc/policies"

struct config_sim_guest {
	char name[VM_ID_MAX];
	uint64_t memory_bytes; /* guest RAM */
	char trace[64]; /* trace name or path */
	unsigned vcpus;
	double time_scale; /* trace seconds per real second */
	bool loop; /* restart the trace at its end */
	bool fpr; /* free page reporting emulation */
	bool thp; /* ask for shmem THP backing */
};

struct config {
	char *path; /* file it came from (NULL: built-in defaults) */
	enum log_level log_level;
	char *state_file;
	char *runtime_dir; /* sockets etc. */

	struct {
		char *tcp; /* "127.0.0.1:8080", NULL = no TCP */
		char *unix_path; /* NULL = no unix socket */
		char *token_file; /* bearer token for TCP mutations */
		char *unix_group; /* group allowed to mutate over unix */
		uint64_t max_body_bytes;
		/* connection limits, per listener; 0 = built-in default */
		uint64_t idle_timeout_s; /* idle keep-alive connection */
		uint64_t header_timeout_s; /* connect to complete head */
		uint64_t connections_max;
		uint64_t connections_per_client; /* per IP, per unix uid */
	} api;

	struct {
		char *tcp; /* "127.0.0.1:8081", NULL = off */
		char *unix_path;
		/* connection limits, per listener; 0 = built-in default */
		uint64_t connections_max;
		uint64_t connections_per_client; /* per IP, per unix uid */
	} grpc;

	struct {
		char *socket; /* where sim guests connect */
		char *simguest; /* ha-simguest binary for spawned guests */
		char *trace_dir; /* where trace names are looked up */
		struct config_sim_guest *guests;
		size_t n_guests;
		/* a spawned guest that fails more than SIM_RESTART_MAX times
		 * within this window is not restarted */
		uint64_t restart_window_ms;
	} sim;

	struct {
		bool enabled;
		char *uri;
	} libvirt;

	struct {
		char *name; /* "static", ..., a plugin of plugin_dir or a path */
		char *plugin_dir; /* where plugins named by name are found */
		char *params_json; /* policy parameters, serialised JSON */
		uint64_t tick_ms;
		double overcommit_ratio; /* sum of max over host memory */
		uint64_t host_reserve_bytes;
		uint64_t max_step_bytes; /* per VM per tick, 0 = unlimited */
		uint64_t stuck_after_ms; /* no progress this long: stuck */
		uint64_t stuck_holdoff_ms; /* then left alone this long */
	} policy;

	struct {
		uint64_t min_bytes; /* default VM floor */
		uint32_t shares;
	} defaults;
};

/* Where a problem in the file is: "path:line: field: reason". */
struct config_error {
	int line; /* 0 if unknown */
	char field[128]; /* JSON path, e.g. "api.tcp" */
	char message[512];
};

/* Built-in defaults (what an empty file gives). NULL on ENOMEM. */
struct config *config_new_default(void);

/*
 * Load @path into a fresh config. Returns 0 and *ret; or -errno with
 * *err filled (-ENOENT, -EINVAL for syntax or semantic errors).
 */
int config_load(const char *path, struct config **ret,
		struct config_error *err);

/* Same from a string (tests). @name is used in messages. */
int config_load_string(const char *text, const char *name, struct config **ret,
		       struct config_error *err);

void config_free(struct config *c);

#endif
