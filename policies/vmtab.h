/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-VM memory of a policy across ticks, keyed by VM id. A decide()
 * call brackets its lookups with policy_vmtab_begin() and
 * policy_vmtab_sweep(): entries not looked up in between belong to VMs
 * that are gone and are forgotten. Pure: heap only, no I/O.
 */
#ifndef HA_POLICY_VMTAB_H
#define HA_POLICY_VMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_vmtab_entry;

struct policy_vmtab {
	struct policy_vmtab_entry **e;
	size_t n, cap;
	size_t payload; /* bytes of per-VM data */
	uint64_t gen; /* current decide() round */
};

/* An empty table whose entries carry @payload bytes each. */
void policy_vmtab_init(struct policy_vmtab *t, size_t payload);
/* Free every entry; the table is empty (and reusable) afterwards. */
void policy_vmtab_free(struct policy_vmtab *t);

/* Start a round: every entry counts as unseen. */
void policy_vmtab_begin(struct policy_vmtab *t);
/*
 * The data of VM @id, marked seen in this round. A VM not in the table
 * gets zeroed data and *ret_new = true. Returns NULL (and the caller acts
 * without history) when @id is NULL, when memory is short, or when @id
 * was already looked up in this round (duplicate ids in one snapshot
 * must not share one history).
 */
void *policy_vmtab_get(struct policy_vmtab *t, const char *id, bool *ret_new);
/* End a round: forget the entries not looked up since begin. */
void policy_vmtab_sweep(struct policy_vmtab *t);

size_t policy_vmtab_count(const struct policy_vmtab *t);

#endif
