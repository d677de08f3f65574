// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The method table of the gRPC API and its unary handlers. Like the HTTP
 * handlers (http/routes.c) they only map: a request message to ctl_*
 * calls (grpc/map.c checks the wire format, ctl everything else) and the
 * result to the answer message. A mutation asks ctl_authorize before it
 * decodes its request, so an unauthenticated caller learns nothing about
 * it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "grpc/internal.h"
#include "hyperalloc.pb-c.h"

#define SERVICE "/hyperalloc.v1.HyperAlloc/"

/* The memory state of VM @id: the answer of every memory call. */
static int reply_memory(struct daemon *d, const char *id,
			struct grpcd_buf *resp, struct error *err)
{
	const struct vm *vm = ctl_vm_get(d, id, err);

	if (!vm)
		return -ENOENT;
	return grpcd_pack_vm_memory(vm, resp);
}

static int list_vms(struct daemon *d, const struct ctl_caller *caller,
		    const uint8_t *req, size_t len, struct grpcd_buf *resp,
		    struct error *err)
{
	(void)caller;
	if (grpcd_parse_empty(&hyperalloc__v1__list_vms_request__descriptor,
			      req, len, err) < 0)
		return -EINVAL;
	return grpcd_pack_vm_list(&d->vms, resp);
}

static int get_vm(struct daemon *d, const struct ctl_caller *caller,
		  const uint8_t *req, size_t len, struct grpcd_buf *resp,
		  struct error *err)
{
	char id[VM_ID_MAX * 2];
	const struct vm *vm;

	(void)caller;
	if (grpcd_parse_id(&hyperalloc__v1__get_vmrequest__descriptor, req, len,
			   id, sizeof(id), err) < 0)
		return -EINVAL;
	vm = ctl_vm_get(d, id, err);
	if (!vm)
		return -ENOENT;
	return grpcd_pack_vm(vm, resp);
}

static int get_memory(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err)
{
	char id[VM_ID_MAX * 2];

	(void)caller;
	if (grpcd_parse_id(&hyperalloc__v1__get_vmmemory_request__descriptor,
			   req, len, id, sizeof(id), err) < 0)
		return -EINVAL;
	return reply_memory(d, id, resp, err);
}

static int set_memory(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err)
{
	struct ctl_memory_update u;
	char id[VM_ID_MAX * 2];
	int r;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	r = grpcd_parse_memory_update(req, len, id, sizeof(id), &u, err);
	if (r < 0)
		return r;
	r = ctl_vm_set_memory(d, caller, id, &u, err);
	if (r < 0)
		return r;
	return reply_memory(d, id, resp, err);
}

static int release_target(struct daemon *d, const struct ctl_caller *caller,
			  const uint8_t *req, size_t len,
			  struct grpcd_buf *resp, struct error *err)
{
	char id[VM_ID_MAX * 2];
	int r;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	r = grpcd_parse_id(
		&hyperalloc__v1__release_vmtarget_request__descriptor, req, len,
		id, sizeof(id), err);
	if (r < 0)
		return r;
	r = ctl_vm_release_target(d, caller, id, err);
	if (r < 0)
		return r;
	return reply_memory(d, id, resp, err);
}

static int get_host(struct daemon *d, const struct ctl_caller *caller,
		    const uint8_t *req, size_t len, struct grpcd_buf *resp,
		    struct error *err)
{
	struct ctl_host h;

	(void)caller;
	if (grpcd_parse_empty(&hyperalloc__v1__get_host_request__descriptor,
			      req, len, err) < 0)
		return -EINVAL;
	ctl_host_get(d, &h);
	return grpcd_pack_host(&h, resp);
}

static int reply_policy(struct daemon *d, struct grpcd_buf *resp)
{
	struct engine_policy *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	ctl_policy_get(d, p);
	r = grpcd_pack_policy(p, resp);
	free(p);
	return r;
}

static int get_policy(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err)
{
	(void)caller;
	if (grpcd_parse_empty(&hyperalloc__v1__get_policy_request__descriptor,
			      req, len, err) < 0)
		return -EINVAL;
	return reply_policy(d, resp);
}

static int set_policy(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err)
{
	struct engine_policy_update *u;
	int r;

	if (!ctl_authorize(caller, err))
		return -EPERM;
	/* ~8 KiB: keep it off the stack */
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	r = grpcd_parse_policy_update(req, len, u, err);
	if (r < 0)
		goto cleanup;
	r = ctl_policy_set(d, caller, u, err);
	if (r < 0)
		goto cleanup;
	r = reply_policy(d, resp);
cleanup:
	free(u);
	return r;
}

#define HEALTH	    "/grpc.health.v1.Health/"
#define REFLECTION  "/grpc.reflection.v1.ServerReflection/"
#define REFLECTION0 "/grpc.reflection.v1alpha.ServerReflection/"

static const struct grpcd_method methods[] = {
	{ .path = SERVICE "ListVMs", .unary = list_vms },
	{ .path = SERVICE "GetVM", .unary = get_vm },
	{ .path = SERVICE "GetVMMemory", .unary = get_memory },
	{ .path = SERVICE "SetVMMemory", .unary = set_memory },
	{ .path = SERVICE "ReleaseVMTarget", .unary = release_target },
	{ .path = SERVICE "GetHost", .unary = get_host },
	{ .path = SERVICE "GetPolicy", .unary = get_policy },
	{ .path = SERVICE "SetPolicy", .unary = set_policy },
	{ .path = SERVICE "WatchEvents", .kind = GRPCD_EVENTS },
	/* the standard services, for probes and generic clients */
	{ .path = HEALTH "Check", .unary = grpcd_health_check },
	{ .path = HEALTH "Watch", .kind = GRPCD_HEALTH_WATCH },
	{ .path = HEALTH "List", .unary = grpcd_health_list },
	{ .path = REFLECTION "ServerReflectionInfo",
	  .kind = GRPCD_BIDI,
	  .each = grpcd_reflection_info },
	{ .path = REFLECTION0 "ServerReflectionInfo",
	  .kind = GRPCD_BIDI,
	  .each = grpcd_reflection_info },
};

const struct grpcd_method *grpcd_method_find(const char *path, size_t len)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].path) == len &&
		    memcmp(methods[i].path, path, len) == 0)
			return &methods[i];
	return NULL;
}

bool grpcd_service_served(const char *service)
{
	size_t n = strlen(service);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const char *p = methods[i].path;

		if (n && strncmp(p + 1, service, n) == 0 && p[n + 1] == '/')
			return true;
	}
	return false;
}

size_t grpcd_services(char (*names)[GRPCD_SERVICE_LEN], size_t max)
{
	size_t n = 0;

	if (max)
		names[n++][0] = '\0';
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const char *p = methods[i].path + 1;
		size_t len = strcspn(p, "/");
		bool seen = false;

		for (size_t k = 1; k < n; k++)
			seen |= strlen(names[k]) == len &&
				strncmp(names[k], p, len) == 0;
		if (seen || n == max || len >= GRPCD_SERVICE_LEN)
			continue;
		memcpy(names[n], p, len);
		names[n++][len] = '\0';
	}
	return n;
}
