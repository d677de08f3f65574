// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gRPC server reflection (grpc.reflection.v1 and v1alpha.ServerReflection,
 * proto/grpc/reflection/): what a generic client (grpcurl, grpc_cli, a
 * language library) asks to learn the services without their .proto
 * files. The answers come from the FileDescriptorSet protoc-c made of
 * proto/ at build time (mk/grpc.mk), embedded below and read by
 * grpc/descriptors.c. v1alpha and v1 share the messages' field numbers,
 * so one handler serves both. A question that cannot be answered (an
 * unknown file or symbol) is an ErrorResponse on the stream, as the
 * protocol says, not the end of the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/descriptors.h"
#include "grpc/internal.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

#ifndef GRPCD_DESCRIPTORS_FILE
#error "GRPCD_DESCRIPTORS_FILE (the descriptor set) comes from mk/grpc.mk"
#endif

/* The descriptor set, embedded at build time. */
extern const uint8_t grpcd_descriptor_set[];
extern const uint64_t grpcd_descriptor_set_len;
__asm__(".pushsection .rodata\n"
	".global grpcd_descriptor_set\n"
	".type grpcd_descriptor_set, @object\n"
	".balign 16\n"
	"grpcd_descriptor_set:\n"
	".incbin \"" GRPCD_DESCRIPTORS_FILE "\"\n"
	"grpcd_descriptor_set_end:\n"
	".size grpcd_descriptor_set, . - grpcd_descriptor_set\n"
	".global grpcd_descriptor_set_len\n"
	".type grpcd_descriptor_set_len, @object\n"
	".balign 8\n"
	"grpcd_descriptor_set_len:\n"
	".quad grpcd_descriptor_set_end - grpcd_descriptor_set\n"
	".size grpcd_descriptor_set_len, 8\n"
	".popsection\n");

#define CODE_INVALID_ARGUMENT 3
#define CODE_NOT_FOUND	      5

typedef Grpc__Reflection__V1__ServerReflectionRequest request_t;
typedef Grpc__Reflection__V1__ServerReflectionResponse response_t;

/* What one answer points to until it is packed. */
struct answer {
	response_t r;
	Grpc__Reflection__V1__FileDescriptorResponse files;
	ProtobufCBinaryData file[GRPCD_DESC_FILES_MAX];
	Grpc__Reflection__V1__ListServiceResponse list;
	Grpc__Reflection__V1__ServiceResponse service[GRPCD_DESC_FILES_MAX * 4];
	Grpc__Reflection__V1__ServiceResponse
		*service_ptr[GRPCD_DESC_FILES_MAX * 4];
	char service_name[GRPCD_DESC_FILES_MAX * 4][GRPCD_DESC_NAME_MAX];
	Grpc__Reflection__V1__ExtensionNumberResponse ext;
	Grpc__Reflection__V1__ErrorResponse error;
	char message[GRPCD_DESC_NAME_MAX + 64];
};

static void answer_error(struct answer *a, int code, const char *fmt,
			 const char *what)
{
	grpc__reflection__v1__error_response__init(&a->error);
	snprintf(a->message, sizeof(a->message), fmt, what);
	a->error.error_code = code;
	a->error.error_message = a->message;
	a->r.message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
	a->r.error_response = &a->error;
}

/* File @i of @d with its dependencies, @i first. */
static void answer_files(struct answer *a, const struct grpcd_descs *d, int i,
			 const char *what)
{
	size_t idx[GRPCD_DESC_FILES_MAX];
	int n = i < 0 ? i :
			grpcd_descs_closure(d, (size_t)i, idx,
					    GRPCD_DESC_FILES_MAX);

	if (n < 0) {
		answer_error(a, CODE_NOT_FOUND,
			     "%s is not known to this server", what);
		return;
	}
	grpc__reflection__v1__file_descriptor_response__init(&a->files);
	for (int k = 0; k < n; k++) {
		a->file[k].data = (uint8_t *)d->files[idx[k]].proto.data;
		a->file[k].len = d->files[idx[k]].proto.len;
	}
	a->files.n_file_descriptor_proto = (size_t)n;
	a->files.file_descriptor_proto = a->file;
	a->r.message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
	a->r.file_descriptor_response = &a->files;
}

static void add_service(const char *name, void *userdata)
{
	struct answer *a = userdata;
	size_t k = a->list.n_service;

	if (k == sizeof(a->service) / sizeof(a->service[0]))
		return;
	/* Only what this server really serves (the set could hold more). */
	if (!grpcd_service_served(name))
		return;
	snprintf(a->service_name[k], sizeof(a->service_name[k]), "%s", name);
	grpc__reflection__v1__service_response__init(&a->service[k]);
	a->service[k].name = a->service_name[k];
	a->service_ptr[k] = &a->service[k];
	a->list.n_service++;
}

static void answer_services(struct answer *a, const struct grpcd_descs *d)
{
	grpc__reflection__v1__list_service_response__init(&a->list);
	a->list.service = a->service_ptr;
	if (grpcd_descs_services(d, add_service, a) < 0) {
		answer_error(a, CODE_NOT_FOUND, "%s", "no services");
		return;
	}
	a->r.message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
	a->r.list_services_response = &a->list;
}

static void answer(struct answer *a, const struct grpcd_descs *d,
		   const request_t *q)
{
	switch (q->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		answer_files(a, d, grpcd_descs_by_name(d, q->file_by_filename),
			     q->file_by_filename);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		answer_files(a, d,
			     grpcd_descs_by_symbol(d,
						   q->file_containing_symbol),
			     q->file_containing_symbol);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		/* Our files declare no extensions. */
		answer_error(
			a, CODE_NOT_FOUND, "%s has no extensions",
			q->file_containing_extension &&
					q->file_containing_extension
						->containing_type ?
				q->file_containing_extension->containing_type :
				"the type");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		if (grpcd_descs_by_symbol(d, q->all_extension_numbers_of_type) <
		    0) {
			answer_error(a, CODE_NOT_FOUND,
				     "%s is not known to this server",
				     q->all_extension_numbers_of_type);
			break;
		}
		grpc__reflection__v1__extension_number_response__init(&a->ext);
		a->ext.base_type_name = q->all_extension_numbers_of_type;
		a->r.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
		a->r.all_extension_numbers_response = &a->ext;
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		answer_services(a, d);
		break;
	default:
		answer_error(a, CODE_INVALID_ARGUMENT, "%s",
			     "the request asks for nothing");
		break;
	}
}

int grpcd_reflection_info(struct daemon *d, const uint8_t *req, size_t len,
			  struct grpcd_buf *resp, struct error *err)
{
	struct grpcd_descs descs;
	struct answer *a;
	request_t *q;
	int r;

	(void)d;
	q = (void *)grpcd_unpack_message(
		&grpc__reflection__v1__server_reflection_request__descriptor,
		req, len, err);
	if (!q)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		r = -ENOMEM;
		goto cleanup;
	}
	r = grpcd_descs_parse(grpcd_descriptor_set,
			      (size_t)grpcd_descriptor_set_len, &descs);
	if (r < 0) {
		error_set(err, ERROR_INTERNAL, NULL, NULL,
			  "the embedded descriptors do not parse: %s",
			  strerror(-r));
		goto cleanup;
	}
	grpc__reflection__v1__server_reflection_response__init(&a->r);
	a->r.valid_host = q->host;
	a->r.original_request = q;
	answer(a, &descs, q);
	r = grpcd_pack_message(&a->r.base, resp);
cleanup:
	free(a);
	protobuf_c_message_free_unpacked(&q->base, NULL);
	return r;
}
