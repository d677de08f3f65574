// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/plugin.c: the policy names an API caller may
 * give, and the checked open of a plugin (owner, mode, no symbolic link,
 * checked on the descriptor that is loaded).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

static const char *const good_names[] = {
	"static", "half_idle", "half-idle", "v1.2", "half_idle.so",
};

static const char *const bad_names[] = {
	"",	     "/tmp/evil.so",
	"./evil.so", "evil/x",
	"../evil",   "..",
	"a..b",	     "/usr/lib/hyperalloc/policies/half_idle.so",
	"evil so",   "evil\n",
	"ev\\il",
};

START_TEST(test_name_good)
{
	struct error err = { 0 };

	ck_assert_msg(plugin_name_ok(good_names[_i], &err), "%s: %s",
		      good_names[_i], err.reason);
}
END_TEST

START_TEST(test_name_bad)
{
	struct error err = { 0 };

	ck_assert_msg(!plugin_name_ok(bad_names[_i], &err), "%s accepted",
		      bad_names[_i]);
	ck_assert_int_eq(err.status, ERROR_BAD_REQUEST);
	ck_assert_str_eq(err.field, "name");
	ck_assert_ptr_nonnull(strstr(err.reason, "name"));
}
END_TEST

static char dir[64];
static char file[128];

static void write_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_plugin.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/p.so", dir);
	write_file(file, 0644);
}

static void teardown(void)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/link.so", dir);
	unlink(path);
	unlink(file);
	rmdir(dir);
}

START_TEST(test_open_trusted)
{
	struct error err = { 0 };
	struct stat a, b;
	int fd = plugin_open(dir, "p.so", "p", &err);

	ck_assert_msg(fd >= 0, "%s", err.reason);
	/* the descriptor is the file that was checked */
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(stat(file, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* read-only and executable modes are fine */
	ck_assert_int_eq(chmod(file, 0555), 0);
	fd = plugin_open(dir, "p.so", "p", &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

START_TEST(test_open_writable_file)
{
	static const mode_t bad[] = { 0664, 0646, 0666, 0775, 0757 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err = { 0 };
		char want[16];

		ck_assert_int_eq(chmod(file, bad[i]), 0);
		ck_assert_int_eq(plugin_open(dir, "p.so", "p", &err), -EPERM);
		ck_assert_int_eq(err.status, ERROR_UNPROCESSABLE);
		ck_assert_str_eq(err.field, "name");
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		ck_assert_msg(strstr(err.reason, want), "%s", err.reason);
	}
}
END_TEST

/* A directory anyone may write to (like /tmp, sticky or not). */
START_TEST(test_open_writable_dir)
{
	static const mode_t bad[] = { 01777, 0777, 0775 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error err = { 0 };

		ck_assert_int_eq(chmod(dir, bad[i]), 0);
		ck_assert_int_eq(plugin_open(dir, "p.so", "p", &err), -EPERM);
		ck_assert_ptr_nonnull(strstr(err.reason, "directory"));
		ck_assert_ptr_nonnull(strstr(err.reason, dir));
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
}
END_TEST

START_TEST(test_open_symlink)
{
	struct error err = { 0 };
	char path[160];

	snprintf(path, sizeof(path), "%s/link.so", dir);
	ck_assert_int_eq(symlink(file, path), 0);
	ck_assert_int_eq(plugin_open(dir, "link.so", "link", &err), -ELOOP);
	ck_assert_ptr_nonnull(strstr(err.reason, "symbolic link"));
}
END_TEST

START_TEST(test_open_missing_and_not_regular)
{
	struct error err = { 0 };
	char sub[160];

	ck_assert_int_eq(plugin_open(dir, "none.so", "none", &err), -ENOENT);
	ck_assert_int_eq(err.status, ERROR_UNPROCESSABLE);
	ck_assert_int_lt(
		plugin_open("/nonexistent-plugin-dir", "p.so", "p", &err), 0);
	ck_assert_ptr_nonnull(strstr(err.reason, "/nonexistent-plugin-dir"));
	snprintf(sub, sizeof(sub), "%s/d.so", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(plugin_open(dir, "d.so", "d", &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.reason, "not a regular file"));
	rmdir(sub);
}
END_TEST

/* Owned by someone else than root and the daemon's user: needs root to
 * set up. */
START_TEST(test_open_foreign_owner)
{
	struct error err = { 0 };

	if (geteuid() != 0)
		return;
	ck_assert_int_eq(chown(file, 4242, 4242), 0);
	ck_assert_int_eq(plugin_open(dir, "p.so", "p", &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.reason, "uid 4242"));
	ck_assert_int_eq(chown(file, 0, 0), 0);
	ck_assert_int_eq(chown(dir, 4242, 4242), 0);
	ck_assert_int_eq(plugin_open(dir, "p.so", "p", &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.reason, "directory"));
	ck_assert_int_eq(chown(dir, 0, 0), 0);
}
END_TEST

static Suite *plugin_suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *names = tcase_create("names");
	TCase *open = tcase_create("open");

	tcase_add_loop_test(names, test_name_good, 0,
			    sizeof(good_names) / sizeof(good_names[0]));
	tcase_add_loop_test(names, test_name_bad, 0,
			    sizeof(bad_names) / sizeof(bad_names[0]));
	suite_add_tcase(s, names);
	tcase_add_checked_fixture(open, setup, teardown);
	tcase_add_test(open, test_open_trusted);
	tcase_add_test(open, test_open_writable_file);
	tcase_add_test(open, test_open_writable_dir);
	tcase_add_test(open, test_open_symlink);
	tcase_add_test(open, test_open_missing_and_not_regular);
	tcase_add_test(open, test_open_foreign_owner);
	suite_add_tcase(s, open);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plugin_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
