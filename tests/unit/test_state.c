// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/state.c: corrupt state files are kept aside, each
 * in a copy of its own, the newest STATE_CORRUPT_KEEP of them.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

static char dir[] = "/tmp/ha-test-state-XXXXXX";
static char path[256];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
}

static void teardown(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole content of @p, or NULL if it does not exist. */
static char *read_text(const char *p)
{
	static char buf[4096];
	FILE *f = fopen(p, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Start on a corrupt file holding @text; the warning names the copy. */
static void open_corrupt(const char *text, const char *want_copy)
{
	struct state_store *s = NULL;
	char warning[8192];

	write_text(path, text);
	ck_assert_int_eq(state_open(path, &s, warning, sizeof(warning)), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(warning, want_copy), "warning '%s' lacks '%s'",
		      warning, want_copy);
	ck_assert_int_ne(access(path, F_OK), 0);
	state_close(s);
}

static const char *copy(unsigned n)
{
	static char p[300];

	snprintf(p, sizeof(p), "%s.corrupt.%u", path, n);
	return p;
}

START_TEST(test_two_corrupt_starts_keep_two_copies)
{
	char want[300];

	snprintf(want, sizeof(want), "%s", copy(1));
	open_corrupt("{ first corrupt", want);
	snprintf(want, sizeof(want), "%s", copy(2));
	open_corrupt("{ second corrupt", want);
	ck_assert_str_eq(read_text(copy(1)), "{ first corrupt");
	ck_assert_str_eq(read_text(copy(2)), "{ second corrupt");
}
END_TEST

START_TEST(test_existing_copy_is_never_overwritten)
{
	/* A copy left by an earlier run, numbered above the others. */
	write_text(copy(7), "older");
	open_corrupt("{ new", copy(8));
	ck_assert_str_eq(read_text(copy(7)), "older");
	ck_assert_str_eq(read_text(copy(8)), "{ new");
}
END_TEST

START_TEST(test_only_the_newest_copies_are_kept)
{
	char text[64];

	for (unsigned i = 1; i <= STATE_CORRUPT_KEEP + 2; i++) {
		snprintf(text, sizeof(text), "{ corrupt %u", i);
		open_corrupt(text, copy(i));
	}
	ck_assert_ptr_null(read_text(copy(1)));
	ck_assert_ptr_null(read_text(copy(2)));
	for (unsigned i = 3; i <= STATE_CORRUPT_KEEP + 2; i++) {
		snprintf(text, sizeof(text), "{ corrupt %u", i);
		ck_assert_str_eq(read_text(copy(i)), text);
	}
}
END_TEST

START_TEST(test_valid_file_is_not_moved)
{
	struct state_store *s = NULL;
	struct vm_saved v = { 0 };
	char warning[8192];

	write_text(path, "{\"version\": 1, \"vms\": {}}");
	ck_assert_int_eq(state_open(path, &s, warning, sizeof(warning)), 0);
	ck_assert_str_eq(warning, "");
	ck_assert_int_eq(state_lookup(s, "x", &v), -ENOENT);
	state_close(s);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_ptr_null(read_text(copy(1)));
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("corrupt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_two_corrupt_starts_keep_two_copies);
	tcase_add_test(tc, test_existing_copy_is_never_overwritten);
	tcase_add_test(tc, test_only_the_newest_copies_are_kept);
	tcase_add_test(tc, test_valid_file_is_not_moved);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
