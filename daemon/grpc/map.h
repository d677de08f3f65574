/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The protobuf face of the API (proto/hyperalloc.proto): daemon structs to
 * packed messages, request messages to ctl structs, ctl errors to gRPC
 * status codes. Pure like http/json.h: no gRPC core calls, no I/O, no logging,
 * no daemon state; grpc/server.c and the unit tests call these directly.
 *
 * Field names and values (mechanism, state, ...) are those of the JSON
 * API. Symbols carry the prefix grpcd_ ("the daemon's gRPC"): grpc_ is
 * gRPC core's namespace.
 */
#ifndef HA_GRPC_MAP_H
#define HA_GRPC_MAP_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "events.h"
#include "vm.h"

/* A packed message: malloc'd bytes (never NULL after success, even for an
 * empty message). */
struct grpcd_buf {
	uint8_t *data;
	size_t len;
};

/* Free @b's bytes and empty it. Accepts NULL. */
void grpcd_buf_clear(struct grpcd_buf *b);

/* Any message packed into *ret: 0 or -ENOMEM. */
int grpcd_pack_message(const ProtobufCMessage *m, struct grpcd_buf *ret);

/* @data unpacked as a @desc message (free it with
 * protobuf_c_message_free_unpacked), or NULL with *err a 400 that says
 * the request is not a valid message of that type. */
ProtobufCMessage *grpcd_unpack_message(const ProtobufCMessageDescriptor *desc,
				       const uint8_t *data, size_t len,
				       struct error *err);

/*
 * Encoders. Each returns 0 with *ret filled, or -ENOMEM.
 * - VMMemory of GET /vms/{id}/memory;
 * - VM of GET /vms/{id} (with state_reason and counters);
 * - ListVMsResponse of GET /vms, in registry order, without the
 *   detail fields;
 * - Host, Policy (params is the JSON text, "{}" when empty; available is
 *   split at spaces);
 * - Event, with @lost events skipped just before it.
 */
int grpcd_pack_vm_memory(const struct vm *vm, struct grpcd_buf *ret);
int grpcd_pack_vm(const struct vm *vm, struct grpcd_buf *ret);
int grpcd_pack_vm_list(const struct vm_registry *r, struct grpcd_buf *ret);
int grpcd_pack_host(const struct ctl_host *h, struct grpcd_buf *ret);
int grpcd_pack_policy(const struct engine_policy *p, struct grpcd_buf *ret);
int grpcd_pack_event(const struct event *ev, uint64_t lost,
		     struct grpcd_buf *ret);

/*
 * Decoders of request messages. Only the wire format, types and the
 * limits of the internal structs are checked here (as http/json.h does for
 * HTTP bodies); ranges are ctl's business. Each returns 0 with the
 * result filled, or -EINVAL with *err set to ERROR_BAD_REQUEST naming the
 * field and value at fault, or -ENOMEM (ERROR_INTERNAL).
 */

/* A request without fields (ListVMsRequest, ...): it must still be a
 * well-formed @desc message. */
int grpcd_parse_empty(const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len, struct error *err);

/* A request whose field "id" (a VM's name or UUID) is all it carries:
 * GetVMRequest, GetVMMemoryRequest, ReleaseVMTargetRequest (@desc says
 * which). The id must be 1..@size-1 bytes. */
int grpcd_parse_id(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		   size_t len, char *id, size_t size, struct error *err);

/* SetVMMemoryRequest: the id as above; has_* for each field present;
 * sizes at most INT64_MAX (the JSON API's limit). */
int grpcd_parse_memory_update(const uint8_t *data, size_t len, char *id,
			      size_t size, struct ctl_memory_update *ret,
			      struct error *err);

/* SetPolicyRequest: name non-empty and short enough; params a JSON
 * object (stored re-serialised, compact with sorted keys, like the JSON
 * API); overcommit_ratio finite and >= 0; sizes at most INT64_MAX. */
int grpcd_parse_policy_update(const uint8_t *data, size_t len,
			      struct engine_policy_update *ret,
			      struct error *err);

/* WatchEventsRequest as the Last-Event-ID it stands for, into
 * @ret_resume (at least EVENT_ID_LEN bytes): "" without last_event_id,
 * "SEQ" with it, "RUN-SEQ" with run too (see sse_first_seq). A run that
 * is not 16 lower-case hex digits is refused (-EINVAL, *err). */
int grpcd_parse_watch(const uint8_t *data, size_t len, char *ret_resume,
		      size_t resume_len, struct error *err);

/* The gRPC status of a ctl status: INVALID_ARGUMENT (400 and 422),
 * UNAUTHENTICATED (401), PERMISSION_DENIED (403), NOT_FOUND (404),
 * FAILED_PRECONDITION (409), RESOURCE_EXHAUSTED (413), UNAVAILABLE (503),
 * INTERNAL (500 and anything unknown); ERROR_OK is OK. */
grpc_status_code grpcd_status(enum error_status s);

/* The status message of @err: its reason, then "(field F, value V)" when
 * it names a field. Always NUL-terminated. */
void grpcd_status_message(const struct error *err, char *buf, size_t len);

#endif
