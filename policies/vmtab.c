// SPDX-License-Identifier: GPL-2.0-or-later
/* Per-VM policy state keyed by id (see vmtab.h). */
#include "vmtab.h"

#include <stdlib.h>
#include <string.h>

struct policy_vmtab_entry {
	char *id;
	uint64_t gen; /* round of the last lookup */
	max_align_t data[]; /* payload bytes, suitably aligned */
};

void policy_vmtab_init(struct policy_vmtab *t, size_t payload)
{
	memset(t, 0, sizeof(*t));
	t->payload = payload;
}

static void entry_free(struct policy_vmtab_entry *e)
{
	if (!e)
		return;
	free(e->id);
	free(e);
}

void policy_vmtab_free(struct policy_vmtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		entry_free(t->e[i]);
	free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
}

void policy_vmtab_begin(struct policy_vmtab *t)
{
	t->gen++;
}

static struct policy_vmtab_entry *entry_new(const char *id, size_t payload)
{
	size_t len = strlen(id);
	struct policy_vmtab_entry *e;

	if (payload > SIZE_MAX - sizeof(*e))
		return NULL;
	e = calloc(1, sizeof(*e) + payload);
	if (!e)
		return NULL;
	e->id = malloc(len + 1);
	if (!e->id) {
		free(e);
		return NULL;
	}
	memcpy(e->id, id, len + 1);
	return e;
}

void *policy_vmtab_get(struct policy_vmtab *t, const char *id, bool *ret_new)
{
	struct policy_vmtab_entry *e;

	*ret_new = false;
	if (!id)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		e = t->e[i];
		if (strcmp(e->id, id) != 0)
			continue;
		if (e->gen == t->gen)
			return NULL; /* duplicate id in this round */
		e->gen = t->gen;
		return e->data;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct policy_vmtab_entry **ne;

		if (cap > SIZE_MAX / sizeof(*ne))
			return NULL;
		ne = realloc(t->e, cap * sizeof(*ne));
		if (!ne)
			return NULL;
		t->e = ne;
		t->cap = cap;
	}
	e = entry_new(id, t->payload);
	if (!e)
		return NULL;
	e->gen = t->gen;
	t->e[t->n++] = e;
	*ret_new = true;
	return e->data;
}

void policy_vmtab_sweep(struct policy_vmtab *t)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i]->gen == t->gen)
			t->e[k++] = t->e[i];
		else
			entry_free(t->e[i]);
	}
	t->n = k;
}

size_t policy_vmtab_count(const struct policy_vmtab *t)
{
	return t->n;
}
