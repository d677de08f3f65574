/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The internal control API: the one place where requests from HTTP and
 * gRPC are validated, authorised and carried out. Transports only map
 * their wire format to these structs and ctl errors to their status codes.
 * Loop thread only.
 */
#ifndef HA_CTL_H
#define HA_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

struct daemon;

enum ctl_status {
	CTL_OK = 0,
	CTL_BAD_REQUEST, /* malformed or wrongly typed input   (HTTP 400) */
	CTL_UNAUTHENTICATED, /* no or wrong credentials            (401) */
	CTL_FORBIDDEN, /* credentials without the right       (403) */
	CTL_NOT_FOUND, /* unknown VM or resource              (404) */
	CTL_CONFLICT, /* state does not allow it now         (409) */
	CTL_TOO_LARGE, /* request body over the limit         (413) */
	CTL_UNPROCESSABLE, /* well-formed, but out of range       (422) */
	CTL_UNAVAILABLE, /* backend cannot act now              (503) */
	CTL_INTERNAL, /* bug or resource exhaustion          (500) */
};

/* What went wrong, for problem+json and gRPC status messages. */
struct ctl_error {
	enum ctl_status status;
	char field[64]; /* the request field at fault, "" if none */
	char value[128]; /* the offending value as text, "" if none */
	char reason[256]; /* a sentence for people */
};

/* Who is asking. Transports fill it; ctl decides. */
struct ctl_caller {
	bool authenticated; /* token matched or peer creds allowed */
	bool credentials_given; /* any token/creds were presented */
	char who[64]; /* "tcp", "uid 0", ... for logs */
};

/* A change to one VM's memory settings; only fields with has_* apply. */
struct ctl_memory_update {
	bool has_target, has_min, has_max, has_shares, has_auto;
	uint64_t target_bytes, min_bytes, max_bytes;
	uint32_t shares;
	bool auto_reclaim;
};

struct ctl_host {
	uint64_t total_bytes; /* host RAM (MemTotal) */
	uint64_t available_bytes; /* MemAvailable */
	uint64_t committed_bytes; /* sum of the VMs' logical sizes */
	uint64_t max_committed_bytes; /* sum of the VMs' max sizes */
	uint64_t reserve_bytes; /* kept free for the host */
	double overcommit_ratio; /* allowed: sum(max) / (total - reserve) */
	double overcommit_now; /* current: committed / (total - reserve) */
	uint64_t vms;
};

struct ctl_policy {
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

struct ctl_policy_update {
	bool has_name, has_params, has_ratio, has_reserve, has_tick;
	char name[128];
	char params_json[4096];
	double overcommit_ratio;
	uint64_t host_reserve_bytes;
	uint64_t tick_ms;
};

void ctl_error_set(struct ctl_error *err, enum ctl_status status,
		   const char *field, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* May @caller change settings? true, or false with 401/403 in *err.
 * Transports call it before parsing a mutation's body, so an
 * unauthenticated caller learns nothing about its request. */
bool ctl_authorize(const struct ctl_caller *caller, struct ctl_error *err);

/* Look up a VM by name or uuid. NULL + CTL_NOT_FOUND in *err. */
const struct vm *ctl_vm_get(struct daemon *d, const char *id,
			    struct ctl_error *err);

/* Validate and apply. Checks, in order: authorisation, VM exists, each
 * field's range (min <= max, max <= VM RAM, target within [min, max],
 * shares 1..100000). On success the VM's settings are updated, persisted
 * to the state file and the backend is steered. */
int ctl_vm_set_memory(struct daemon *d, const struct ctl_caller *caller,
		      const char *id, const struct ctl_memory_update *u,
		      struct ctl_error *err);

/* Hand the target back to the policy. */
int ctl_vm_release_target(struct daemon *d, const struct ctl_caller *caller,
			  const char *id, struct ctl_error *err);

void ctl_host_get(struct daemon *d, struct ctl_host *ret);

void ctl_policy_get(struct daemon *d, struct ctl_policy *ret);

/* Validate (policy exists, params accepted by its init, ratio > 0,
 * reserve < host RAM, tick in [100 ms, 1 h]) and switch; on any error the
 * running policy stays. */
int ctl_policy_set(struct daemon *d, const struct ctl_caller *caller,
		   const struct ctl_policy_update *u, struct ctl_error *err);

/* Map a status to HTTP. */
int ctl_status_http(enum ctl_status s);
const char *ctl_status_title(enum ctl_status s);

#endif
