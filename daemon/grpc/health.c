// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The standard gRPC health service (grpc.health.v1.Health,
 * proto/grpc/health/v1/health.proto): Check here, Watch's stream in
 * grpc/calls.c. The daemon is SERVING while it runs and NOT_SERVING once
 * it stops; "" stands for the whole daemon, and every service of the
 * method table (grpc/methods.c) is known by its full name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/internal.h"

int grpcd_health_parse(const uint8_t *req, size_t len, char *service,
		       struct error *err)
{
	Grpc__Health__V1__HealthCheckRequest *m;
	int r = 0;

	m = (void *)grpcd_unpack_message(
		&grpc__health__v1__health_check_request__descriptor, req, len,
		err);
	if (!m)
		return -EINVAL;
	if (strlen(m->service) >= GRPCD_SERVICE_LEN) {
		error_set(err, ERROR_BAD_REQUEST, "service", NULL,
			  "service names are shorter than %d bytes",
			  GRPCD_SERVICE_LEN);
		r = -EINVAL;
	} else {
		snprintf(service, GRPCD_SERVICE_LEN, "%s", m->service);
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return r;
}

int grpcd_health_status(const struct daemon *d, const char *service,
			bool stopping)
{
	if (service[0] && !grpcd_service_served(service))
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
	if (stopping || d->shutting_down)
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

int grpcd_health_pack(int status, struct grpcd_buf *resp)
{
	Grpc__Health__V1__HealthCheckResponse m =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	m.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	return grpcd_pack_message(&m.base, resp);
}

int grpcd_health_check(struct daemon *d, const struct ctl_caller *caller,
		       const uint8_t *req, size_t len, struct grpcd_buf *resp,
		       struct error *err)
{
	char service[GRPCD_SERVICE_LEN];
	int status;

	(void)caller;
	if (grpcd_health_parse(req, len, service, err) < 0)
		return -EINVAL;
	status = grpcd_health_status(d, service, false);
	if (status ==
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN) {
		/* The protocol's answer for Check: NOT_FOUND, no message. */
		error_set(err, ERROR_NOT_FOUND, "service", service,
			  "unknown service %s", service);
		return -ENOENT;
	}
	return grpcd_health_pack(status, resp);
}

/* Every service of the method table, once each, "" first. */
#define LIST_MAX 16

int grpcd_health_list(struct daemon *d, const struct ctl_caller *caller,
		      const uint8_t *req, size_t len, struct grpcd_buf *resp,
		      struct error *err)
{
	Grpc__Health__V1__HealthListResponse m =
		GRPC__HEALTH__V1__HEALTH_LIST_RESPONSE__INIT;
	Grpc__Health__V1__HealthListResponse__StatusesEntry entry[LIST_MAX];
	Grpc__Health__V1__HealthListResponse__StatusesEntry *ptr[LIST_MAX];
	Grpc__Health__V1__HealthCheckResponse status[LIST_MAX];
	char names[LIST_MAX][GRPCD_SERVICE_LEN];
	size_t n;

	(void)caller;
	if (grpcd_parse_empty(&grpc__health__v1__health_list_request__descriptor,
			      req, len, err) < 0)
		return -EINVAL;
	n = grpcd_services(names, LIST_MAX);
	for (size_t i = 0; i < n; i++) {
		grpc__health__v1__health_list_response__statuses_entry__init(
			&entry[i]);
		grpc__health__v1__health_check_response__init(&status[i]);
		status[i].status =
			(Grpc__Health__V1__HealthCheckResponse__ServingStatus)
				grpcd_health_status(d, names[i], false);
		entry[i].key = names[i];
		entry[i].value = &status[i];
		ptr[i] = &entry[i];
	}
	m.n_statuses = n;
	m.statuses = ptr;
	return grpcd_pack_message(&m.base, resp);
}
