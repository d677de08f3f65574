// SPDX-License-Identifier: GPL-2.0-or-later
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "user/ident.h"

struct vm *vm_new(const char *id, const char *uuid, enum vm_mechanism mechanism)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid ? uuid : "");
	vm->mechanism = mechanism;
	vm->state = VM_STATE_RUNNING;
	vm->mem.shares = 1000;
	vm->mem.target_source = VM_TARGET_POLICY;
	return vm;
}

bool vm_steerable(const struct vm *vm)
{
	return vm->ops && vm->state != VM_STATE_QUARANTINED &&
	       vm->state != VM_STATE_STOPPED && vm->state != VM_STATE_MIGRATING;
}

void vm_free(struct vm *vm)
{
	free(vm);
}

int vm_registry_add(struct vm_registry *r, struct vm *vm)
{
	if (vm_registry_find(r, vm->id) ||
	    (vm->uuid[0] && vm_registry_find(r, vm->uuid)))
		return -EEXIST;
	/* Append, so listings keep the order VMs arrived in. */
	struct vm **p = &r->head;

	while (*p)
		p = &(*p)->next;
	vm->next = NULL;
	*p = vm;
	r->count++;
	return 0;
}

void vm_registry_remove(struct vm_registry *r, struct vm *vm)
{
	for (struct vm **p = &r->head; *p; p = &(*p)->next) {
		if (*p == vm) {
			*p = vm->next;
			vm->next = NULL;
			r->count--;
			return;
		}
	}
}

struct vm *vm_registry_find(const struct vm_registry *r, const char *key)
{
	if (!key || !*key)
		return NULL;
	vm_foreach(vm, r) {
		if (strcmp(vm->id, key) == 0)
			return vm;
		if (vm->uuid[0] && strcasecmp(vm->uuid, key) == 0)
			return vm;
	}
	return NULL;
}

const char *vm_mechanism_to_string(enum vm_mechanism m)
{
	switch (m) {
	case VM_MECH_SIM:
		return "sim";
	case VM_MECH_HYPERALLOC:
		return "hyperalloc";
	case VM_MECH_BALLOON:
		return "virtio-balloon";
	case VM_MECH_VIRTIO_MEM:
		return "virtio-mem";
	case VM_MECH_NONE:
		break;
	}
	return "none";
}

const char *vm_state_to_string(enum vm_state s)
{
	switch (s) {
	case VM_STATE_RUNNING:
		return "running";
	case VM_STATE_PAUSED:
		return "paused";
	case VM_STATE_STOPPED:
		return "stopped";
	case VM_STATE_MIGRATING:
		return "migrating";
	case VM_STATE_QUARANTINED:
		return "quarantined";
	case VM_STATE_STUCK:
		return "stuck";
	case VM_STATE_COUNT:
		break;
	}
	return "unknown";
}

const char *vm_target_source_to_string(enum vm_target_source s)
{
	return s == VM_TARGET_MANUAL ? "manual" : "policy";
}

bool vm_id_valid(const char *name)
{
	return ident_name_valid(name);
}
