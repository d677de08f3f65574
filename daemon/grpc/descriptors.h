/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a serialised google.protobuf.FileDescriptorSet (what protoc
 * writes with --descriptor_set_out) for server reflection: its files by
 * name, the file that defines a symbol, the services, a file's
 * dependencies. Only the few fields this needs are read (names, package,
 * dependencies, messages, fields, enums, services, methods); everything is
 * bounds-checked, so a malformed set is an error, never a crash. Pure: no
 * allocation, no I/O; the views point into the caller's bytes.
 */
#ifndef HA_GRPC_DESCRIPTORS_H
#define HA_GRPC_DESCRIPTORS_H

#include <stddef.h>
#include <stdint.h>

#define GRPCD_DESC_FILES_MAX 16
#define GRPCD_DESC_NAME_MAX  256 /* bytes of a full name, NUL included */

/* @len bytes at @data, not NUL-terminated. */
struct grpcd_bytes {
	const uint8_t *data;
	size_t len;
};

struct grpcd_desc_file {
	struct grpcd_bytes proto; /* the serialised FileDescriptorProto */
	struct grpcd_bytes name; /* "hyperalloc.proto" */
	struct grpcd_bytes package; /* "hyperalloc.v1", may be empty */
};

struct grpcd_descs {
	struct grpcd_desc_file files[GRPCD_DESC_FILES_MAX];
	size_t n;
};

/* Split @set into its files. 0, or -EINVAL when it is malformed (or a
 * file has no name), -E2BIG with more than GRPCD_DESC_FILES_MAX files. */
int grpcd_descs_parse(const uint8_t *set, size_t len, struct grpcd_descs *ret);

/* The index of the file named @name, or -ENOENT. */
int grpcd_descs_by_name(const struct grpcd_descs *d, const char *name);

/* The index of the file that defines the fully qualified @symbol — a
 * service, a method ("pkg.Service.Method"), a message at any depth, a
 * field of one, or an enum — or -ENOENT (also for a malformed file). */
int grpcd_descs_by_symbol(const struct grpcd_descs *d, const char *symbol);

/* Call @fn with the full name of every service ("hyperalloc.v1.HyperAlloc")
 * in file order. Returns how many there are, or -EINVAL when a file is
 * malformed (after calling @fn for those before it). */
int grpcd_descs_services(const struct grpcd_descs *d,
			 void (*fn)(const char *name, void *userdata),
			 void *userdata);

/* File @i and every file it depends on, directly or not, each once, @i
 * first: their indices in @ret (at most @max). Returns how many, or
 * -ENOENT when a dependency is not in the set, -EINVAL when malformed. */
int grpcd_descs_closure(const struct grpcd_descs *d, size_t i, size_t *ret,
			size_t max);

#endif
