// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/grpc/descriptors.c on the descriptor set the
 * daemon embeds for server reflection (GRPCD_DESCRIPTORS_FILE, made by
 * protoc-c from proto/): the files by name, the file of each kind of
 * symbol, the services, dependencies, and bytes that are not a valid set.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/descriptors.h"

#ifndef GRPCD_DESCRIPTORS_FILE
#error "GRPCD_DESCRIPTORS_FILE comes from mk/grpc.mk"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *blob;
static size_t blob_len;
static struct grpcd_descs descs;

static void setup(void)
{
	FILE *f = fopen(GRPCD_DESCRIPTORS_FILE, "rb");
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	blob = malloc((size_t)n);
	ck_assert_ptr_nonnull(blob);
	ck_assert_uint_eq(fread(blob, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	blob_len = (size_t)n;
	ck_assert_int_eq(grpcd_descs_parse(blob, blob_len, &descs), 0);
}

static void teardown(void)
{
	free(blob);
}

static const char *const files[] = {
	"hyperalloc.proto",
	"grpc/health/v1/health.proto",
	"grpc/reflection/v1/reflection.proto",
	"grpc/reflection/v1alpha/reflection.proto",
};

START_TEST(test_files)
{
	ck_assert_uint_eq(descs.n, ARRAY_SIZE(files));
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		ck_assert_int_ge(grpcd_descs_by_name(&descs, files[i]), 0);
	ck_assert_int_eq(grpcd_descs_by_name(&descs, "nope.proto"), -ENOENT);
	ck_assert_int_eq(grpcd_descs_by_name(&descs, "hyperalloc"), -ENOENT);
	ck_assert_int_eq(grpcd_descs_by_name(&descs, ""), -ENOENT);
}
END_TEST

static const struct {
	const char *symbol;
	const char *file; /* NULL: not defined anywhere */
} symbols[] = {
	{ "hyperalloc.v1.HyperAlloc", "hyperalloc.proto" }, /* service */
	{ "hyperalloc.v1.HyperAlloc.ListVMs", "hyperalloc.proto" }, /* method */
	{ "hyperalloc.v1.HyperAlloc.WatchEvents", "hyperalloc.proto" },
	{ "hyperalloc.v1.VMMemory", "hyperalloc.proto" }, /* message */
	{ "hyperalloc.v1.VMMemory.target_bytes",
	  "hyperalloc.proto" }, /* field */
	{ "grpc.health.v1.Health", "grpc/health/v1/health.proto" },
	{ "grpc.health.v1.HealthCheckResponse.ServingStatus", /* nested enum */
	  "grpc/health/v1/health.proto" },
	{ "grpc.reflection.v1.ServerReflection",
	  "grpc/reflection/v1/reflection.proto" },
	{ "grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
	  "grpc/reflection/v1alpha/reflection.proto" },
	{ "hyperalloc.v1.Nope", NULL },
	{ "hyperalloc.v1.HyperAlloc.Nope", NULL },
	{ "hyperalloc.v1.VMMemory.target_bytes.x", NULL }, /* below a field */
	{ "hyperalloc.v1", NULL }, /* a package is no symbol */
	{ "hyperalloc.v1.", NULL },
	{ "hyperalloc.v1HyperAlloc", NULL },
	{ "HyperAlloc", NULL }, /* not qualified */
	{ "grpc.health.v1.HealthCheckResponse.SERVING", NULL }, /* value */
	{ "", NULL },
};

START_TEST(test_symbols)
{
	for (size_t i = 0; i < ARRAY_SIZE(symbols); i++) {
		int r = grpcd_descs_by_symbol(&descs, symbols[i].symbol);

		if (!symbols[i].file) {
			ck_assert_msg(r == -ENOENT, "%s found",
				      symbols[i].symbol);
			continue;
		}
		ck_assert_msg(r >= 0, "%s not found", symbols[i].symbol);
		ck_assert_msg(r == grpcd_descs_by_name(&descs, symbols[i].file),
			      "%s in the wrong file", symbols[i].symbol);
	}
}
END_TEST

struct names {
	char s[8][GRPCD_DESC_NAME_MAX];
	size_t n;
};

static void collect(const char *name, void *userdata)
{
	struct names *n = userdata;

	ck_assert_uint_lt(n->n, ARRAY_SIZE(n->s));
	snprintf(n->s[n->n++], sizeof(n->s[0]), "%s", name);
}

START_TEST(test_services)
{
	static const char *const want[] = {
		"hyperalloc.v1.HyperAlloc",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
	};
	struct names got = { 0 };

	ck_assert_int_eq(grpcd_descs_services(&descs, collect, &got),
			 (int)ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		bool found = false;

		for (size_t j = 0; j < got.n; j++)
			found |= strcmp(got.s[j], want[i]) == 0;
		ck_assert_msg(found, "%s not listed", want[i]);
	}
}
END_TEST

START_TEST(test_closure)
{
	size_t idx[GRPCD_DESC_FILES_MAX];
	int i = grpcd_descs_by_name(&descs, "hyperalloc.proto");

	/* Our files import nothing: a file alone. */
	ck_assert_int_eq(grpcd_descs_closure(&descs, (size_t)i, idx, 4), 1);
	ck_assert_uint_eq(idx[0], (size_t)i);
	ck_assert_int_eq(grpcd_descs_closure(&descs, descs.n, idx, 4), -EINVAL);
}
END_TEST

/* A set of one file by hand: "a.proto" importing "b.proto", then b. */
START_TEST(test_closure_of_imports)
{
	static const uint8_t set[] = {
		0x0a, 0x12, /* file, 18 bytes */
		0x0a, 0x07, 'a', '.', 'p', 'r', 'o', 't', 'o', /* name */
		0x1a, 0x07, 'b', '.', 'p', 'r', 'o', 't', 'o', /* dependency */
		0x0a, 0x09, /* file, 9 bytes */
		0x0a, 0x07, 'b', '.', 'p', 'r', 'o', 't', 'o',
	};
	struct grpcd_descs d;
	size_t idx[4];

	ck_assert_int_eq(grpcd_descs_parse(set, sizeof(set), &d), 0);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_int_eq(grpcd_descs_closure(&d, 0, idx, 4), 2);
	ck_assert_uint_eq(idx[0], 0);
	ck_assert_uint_eq(idx[1], 1);
	ck_assert_int_eq(grpcd_descs_closure(&d, 1, idx, 4), 1);
	/* without b, a's closure cannot be complete */
	ck_assert_int_eq(grpcd_descs_parse(set, 20, &d), 0);
	ck_assert_int_eq(grpcd_descs_closure(&d, 0, idx, 4), -ENOENT);
}
END_TEST

/* Every prefix of the set, and the set with each byte flipped: an error
 * or a parse, never a read out of bounds (the sanitizer builds watch). */
START_TEST(test_malformed)
{
	struct grpcd_descs d;
	size_t idx[GRPCD_DESC_FILES_MAX];
	struct names got;
	uint8_t *copy;

	for (size_t n = 0; n < blob_len; n++) {
		copy = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, blob, n);
		if (grpcd_descs_parse(copy, n, &d) == 0) {
			got.n = 0;
			(void)grpcd_descs_by_symbol(&d, "hyperalloc.v1.VM");
			for (size_t i = 0; i < d.n; i++)
				(void)grpcd_descs_closure(&d, i, idx,
							  ARRAY_SIZE(idx));
			if (d.n <= ARRAY_SIZE(got.s))
				(void)grpcd_descs_services(&d, collect, &got);
		}
		free(copy);
	}
	copy = malloc(blob_len);
	ck_assert_ptr_nonnull(copy);
	for (size_t i = 0; i < blob_len; i += 7) {
		memcpy(copy, blob, blob_len);
		copy[i] ^= 0xff;
		if (grpcd_descs_parse(copy, blob_len, &d) == 0)
			(void)grpcd_descs_by_symbol(&d,
						    "grpc.health.v1.Health");
	}
	free(copy);
	/* a truncated length is an error */
	ck_assert_int_eq(grpcd_descs_parse((const uint8_t *)"\x0a\x05\x0a", 3,
					   &d),
			 -EINVAL);
}
END_TEST

static Suite *descriptors_suite(void)
{
	Suite *s = suite_create("grpc_descriptors");
	TCase *tc = tcase_create("descriptors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_symbols);
	tcase_add_test(tc, test_services);
	tcase_add_test(tc, test_closure);
	tcase_add_test(tc, test_closure_of_imports);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(descriptors_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
