// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A FileDescriptorSet read field by field (see descriptors.h). The field
 * numbers are those of google/protobuf/descriptor.proto:
 *   FileDescriptorSet      1 file
 *   FileDescriptorProto    1 name, 2 package, 3 dependency,
 *                          4 message_type, 5 enum_type, 6 service
 *   DescriptorProto        1 name, 2 field, 3 nested_type, 4 enum_type
 *   FieldDescriptorProto, EnumDescriptorProto, MethodDescriptorProto
 *                          1 name
 *   ServiceDescriptorProto 1 name, 2 method
 */
#include "grpc/descriptors.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WIRE_VARINT 0
#define WIRE_I64    1
#define WIRE_LEN    2
#define WIRE_I32    5
#define DEPTH_MAX   32 /* nested messages followed */

/* A cursor over the fields of one message. */
struct pb {
	const uint8_t *p, *end;
};

static bool read_varint(struct pb *b, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (b->p == b->end)
			return false;
		byte = *b->p++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/*
 * The next field: its number in *ret_field and, for a length-delimited
 * one, its bytes in *ret_val (others are skipped, *ret_val empty).
 * 1: a field, 0: the end of the message, -1: malformed.
 */
static int next_field(struct pb *b, uint32_t *ret_field,
		      struct grpcd_bytes *ret_val)
{
	uint64_t key, n;

	if (b->p == b->end)
		return 0;
	if (!read_varint(b, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return -1;
	*ret_field = (uint32_t)(key >> 3);
	ret_val->data = NULL;
	ret_val->len = 0;
	switch (key & 7) {
	case WIRE_VARINT:
		return read_varint(b, &n) ? 1 : -1;
	case WIRE_I64:
		n = 8;
		break;
	case WIRE_I32:
		n = 4;
		break;
	case WIRE_LEN:
		if (!read_varint(b, &n))
			return -1;
		ret_val->data = b->p;
		ret_val->len = (size_t)n;
		break;
	default:
		return -1; /* groups: not in descriptors */
	}
	if (n > (uint64_t)(b->end - b->p))
		return -1;
	b->p += n;
	return 1;
}

static struct pb cursor(struct grpcd_bytes m)
{
	return (struct pb){ .p = m.data, .end = m.data + m.len };
}

static bool bytes_eq(struct grpcd_bytes b, const char *s, size_t n)
{
	return b.len == n && (n == 0 || memcmp(b.data, s, n) == 0);
}

/* Field 1 (name) of message @m; false if it has none or is malformed. */
static bool name_of(struct grpcd_bytes m, struct grpcd_bytes *ret)
{
	struct pb b = cursor(m);
	struct grpcd_bytes v;
	uint32_t f;
	int r;

	while ((r = next_field(&b, &f, &v)) > 0)
		if (f == 1 && v.data) {
			*ret = v;
			return true;
		}
	return false;
}

int grpcd_descs_parse(const uint8_t *set, size_t len, struct grpcd_descs *ret)
{
	struct pb b = { .p = set, .end = set + len };
	struct grpcd_bytes v;
	uint32_t f;
	int r;

	memset(ret, 0, sizeof(*ret));
	while ((r = next_field(&b, &f, &v)) > 0) {
		struct grpcd_desc_file *file;
		struct pb fb;
		struct grpcd_bytes fv;
		uint32_t ff;
		int fr;

		if (f != 1 || !v.data)
			continue;
		if (ret->n == GRPCD_DESC_FILES_MAX)
			return -E2BIG;
		file = &ret->files[ret->n];
		file->proto = v;
		fb = cursor(v);
		while ((fr = next_field(&fb, &ff, &fv)) > 0) {
			if (ff == 1 && fv.data)
				file->name = fv;
			else if (ff == 2 && fv.data)
				file->package = fv;
		}
		if (fr < 0 || !file->name.len)
			return -EINVAL;
		ret->n++;
	}
	return r < 0 ? -EINVAL : 0;
}

int grpcd_descs_by_name(const struct grpcd_descs *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (bytes_eq(d->files[i].name, name, strlen(name)))
			return (int)i;
	return -ENOENT;
}

/*
 * Does element @m (a message, enum or service: kind tells which of its
 * fields hold children) define @rest, a name relative to its parent?
 * @rest is "Name" for @m itself, "Name.child..." below it.
 */
enum elem_kind {
	ELEM_MESSAGE,
	ELEM_ENUM,
	ELEM_SERVICE,
	ELEM_LEAF
};

static bool defines(struct grpcd_bytes m, enum elem_kind kind, const char *rest,
		    int depth)
{
	struct grpcd_bytes name, v;
	size_t n = strcspn(rest, ".");
	struct pb b;
	uint32_t f;
	int r;

	if (depth > DEPTH_MAX || !name_of(m, &name) || !bytes_eq(name, rest, n))
		return false;
	if (rest[n] == '\0')
		return true;
	rest += n + 1;
	b = cursor(m);
	while ((r = next_field(&b, &f, &v)) > 0) {
		if (!v.data)
			continue;
		if (kind == ELEM_MESSAGE &&
		    ((f == 2 && defines(v, ELEM_LEAF, rest, depth + 1)) ||
		     (f == 3 && defines(v, ELEM_MESSAGE, rest, depth + 1)) ||
		     (f == 4 && defines(v, ELEM_ENUM, rest, depth + 1))))
			return true;
		if (kind == ELEM_SERVICE && f == 2 &&
		    defines(v, ELEM_LEAF, rest, depth + 1))
			return true;
	}
	return false;
}

static bool file_defines(const struct grpcd_desc_file *file, const char *symbol)
{
	const char *rest = symbol;
	struct grpcd_bytes v;
	struct pb b;
	uint32_t f;
	int r;

	if (file->package.len) {
		if (strncmp(symbol, (const char *)file->package.data,
			    file->package.len) != 0 ||
		    symbol[file->package.len] != '.')
			return false;
		rest = symbol + file->package.len + 1;
	}
	b = cursor(file->proto);
	while ((r = next_field(&b, &f, &v)) > 0) {
		if (!v.data)
			continue;
		if ((f == 4 && defines(v, ELEM_MESSAGE, rest, 0)) ||
		    (f == 5 && defines(v, ELEM_ENUM, rest, 0)) ||
		    (f == 6 && defines(v, ELEM_SERVICE, rest, 0)))
			return true;
	}
	return false;
}

int grpcd_descs_by_symbol(const struct grpcd_descs *d, const char *symbol)
{
	for (size_t i = 0; i < d->n; i++)
		if (file_defines(&d->files[i], symbol))
			return (int)i;
	return -ENOENT;
}

int grpcd_descs_services(const struct grpcd_descs *d,
			 void (*fn)(const char *name, void *userdata),
			 void *userdata)
{
	int count = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct grpcd_desc_file *file = &d->files[i];
		struct pb b = cursor(file->proto);
		struct grpcd_bytes v, name;
		uint32_t f;
		int r;

		while ((r = next_field(&b, &f, &v)) > 0) {
			char full[GRPCD_DESC_NAME_MAX];
			int w;

			if (f != 6 || !v.data)
				continue;
			if (!name_of(v, &name))
				return -EINVAL;
			w = snprintf(full, sizeof(full), "%.*s%s%.*s",
				     (int)file->package.len,
				     (const char *)file->package.data,
				     file->package.len ? "." : "",
				     (int)name.len, (const char *)name.data);
			if (w < 0 || (size_t)w >= sizeof(full))
				return -EINVAL;
			fn(full, userdata);
			count++;
		}
		if (r < 0)
			return -EINVAL;
	}
	return count;
}

int grpcd_descs_closure(const struct grpcd_descs *d, size_t i, size_t *ret,
			size_t max)
{
	size_t n = 0;

	if (i >= d->n || max == 0)
		return -EINVAL;
	ret[n++] = i;
	/* Breadth first over the list itself: each file once. */
	for (size_t k = 0; k < n; k++) {
		struct pb b = cursor(d->files[ret[k]].proto);
		struct grpcd_bytes v;
		uint32_t f;
		int r;

		while ((r = next_field(&b, &f, &v)) > 0) {
			char dep[GRPCD_DESC_NAME_MAX];
			bool seen = false;
			int j;

			if (f != 3 || !v.data)
				continue;
			if (v.len >= sizeof(dep))
				return -EINVAL;
			memcpy(dep, v.data, v.len);
			dep[v.len] = '\0';
			j = grpcd_descs_by_name(d, dep);
			if (j < 0)
				return -ENOENT;
			for (size_t s = 0; s < n; s++)
				seen |= ret[s] == (size_t)j;
			if (seen)
				continue;
			if (n == max)
				return -E2BIG;
			ret[n++] = (size_t)j;
		}
		if (r < 0)
			return -EINVAL;
	}
	return (int)n;
}
