// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/commit.c on a real sd-event loop and a real state
 * file: a change is on disk before its waiter hears of it; the changes of
 * one loop iteration cost one write; a failed write is reported to every
 * waiter and the change is written by the next flush; a change made while
 * the writer thread writes goes with the next write; a waiter that was
 * forgotten is not called.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "commit.h"
#include "daemon.h"
#include "state.h"

static char dir[] = "/tmp/ha-test-commit-XXXXXX";
static char path[256];
static struct daemon d;

/* What a waiter saw when it was called. */
struct seen {
	int calls;
	int result;
	bool on_disk; /* the file held its VM's target at that moment */
	const char *vm; /* "vm-N" */
	uint64_t target;
};

static void setup(void)
{
	char warning[512];

	strcpy(dir, "/tmp/ha-test-commit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	memset(&d, 0, sizeof(d));
	event_bus_init(&d.bus);
	ck_assert_int_ge(sd_event_new(&d.loop), 0);
	ck_assert_int_eq(state_open(path, &d.state, warning, sizeof(warning)),
			 0);
	ck_assert_int_eq(commit_new(&d, &d.commit), 0);
}

static void teardown(void)
{
	char cmd[512];

	commit_free(d.commit);
	state_close(d.state);
	sd_event_unref(d.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Does the state file on disk (not the store) give @vm @target? */
static bool file_has(const char *vm, uint64_t target)
{
	struct state_store *s = NULL;
	struct vm_saved v;
	char warning[512];
	bool ok;

	if (access(path, F_OK) != 0)
		return false;
	ck_assert_int_eq(state_open(path, &s, warning, sizeof(warning)), 0);
	ok = state_lookup(s, vm, &v) == 0 && v.has_target &&
	     v.target_bytes == target;
	state_close(s);
	return ok;
}

static void on_done(void *userdata, int result)
{
	struct seen *w = userdata;

	w->calls++;
	w->result = result;
	w->on_disk = file_has(w->vm, w->target);
}

static void change(const char *vm, uint64_t target)
{
	struct vm_saved v = { .has_target = true, .target_bytes = target };

	ck_assert_int_eq(state_save(d.state, vm, &v), 0);
	commit_changed(d.commit);
}

/* Run the loop until @w has been called @calls times (the writer is a
 * thread: its end arrives on the loop when it arrives). */
static void run_until(const struct seen *w, int calls)
{
	for (int i = 0; w->calls < calls; i++) {
		ck_assert_int_lt(i, 1000);
		ck_assert_int_ge(sd_event_run(d.loop, UINT64_MAX), 0);
	}
}

START_TEST(test_waiter_hears_after_the_write)
{
	struct seen w = { .vm = "vm-1", .target = 1u << 30 };

	change("vm-1", 1u << 30);
	ck_assert(commit_pending(d.commit));
	ck_assert_int_eq(commit_wait(d.commit, on_done, &w), 0);
	ck_assert(!file_has("vm-1", 1u << 30)); /* not before the loop */
	ck_assert_int_eq(w.calls, 0);
	run_until(&w, 1);
	ck_assert_int_eq(w.result, 0);
	ck_assert(w.on_disk);
	ck_assert(!commit_pending(d.commit));
}
END_TEST

START_TEST(test_one_write_for_many_changes)
{
	struct seen w[100];
	struct commit_stats st;
	char names[100][16];

	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "vm-%d", i);
		w[i] = (struct seen){ .vm = names[i],
				      .target = 4096u * (unsigned)i };
		change(names[i], 4096u * (unsigned)i);
		ck_assert_int_eq(commit_wait(d.commit, on_done, &w[i]), 0);
	}
	run_until(&w[99], 1);
	commit_get_stats(d.commit, &st);
	ck_assert_uint_eq(st.flushes, 1);
	ck_assert_uint_eq(st.waiters, 100);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(w[i].calls, 1);
		ck_assert(w[i].on_disk);
	}
}
END_TEST

START_TEST(test_failed_write_is_told_and_retried)
{
	struct seen w = { .vm = "vm-1", .target = 8192 };
	char moved[300];

	/* The directory goes away: the temporary file cannot be made. */
	snprintf(moved, sizeof(moved), "%s.away", dir);
	ck_assert_int_eq(rename(dir, moved), 0);
	change("vm-1", 8192);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &w), 0);
	run_until(&w, 1);
	ck_assert_int_eq(rename(moved, dir), 0);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.result, -ENOENT);
	ck_assert(!w.on_disk);
	ck_assert(commit_pending(d.commit)); /* still to be written */

	/* The next flush writes it. */
	ck_assert_int_eq(commit_now(d.commit), 0);
	ck_assert(file_has("vm-1", 8192));
	ck_assert(!commit_pending(d.commit));
}
END_TEST

START_TEST(test_forgotten_waiter_is_not_called)
{
	struct seen a = { .vm = "vm-1", .target = 1 }, b = a;

	change("vm-1", 1);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &a), 0);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &b), 0);
	commit_forget(d.commit, &a);
	run_until(&b, 1);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 1);
	ck_assert(b.on_disk);
}
END_TEST

START_TEST(test_waiter_without_changes_is_answered)
{
	struct seen w = { .vm = "vm-1", .target = 1 };

	ck_assert(!commit_pending(d.commit));
	ck_assert_int_eq(commit_wait(d.commit, on_done, &w), 0);
	run_until(&w, 1);
	ck_assert_int_eq(w.result, 0);
}

/* A change made while a write is under way goes with the next write, and
 * its waiter hears after that one. */
START_TEST(test_change_during_a_write_waits_for_the_next)
{
	struct seen a = { .vm = "vm-1", .target = 4096 };
	struct seen b = { .vm = "vm-2", .target = 8192 };
	struct commit_stats st;

	change("vm-1", 4096);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &a), 0);
	/* One dispatch: the deferred start hands vm-1 to the writer. */
	ck_assert_int_eq(sd_event_run(d.loop, 0), 1);
	ck_assert(commit_pending(d.commit));
	change("vm-2", 8192);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &b), 0);
	run_until(&b, 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(a.on_disk);
	ck_assert(b.on_disk);
	commit_get_stats(d.commit, &st);
	ck_assert_uint_eq(st.flushes, 2);
	ck_assert(!commit_pending(d.commit));
}
END_TEST

/* commit_now waits for the write under way and writes the rest. */
START_TEST(test_now_writes_everything)
{
	struct seen a = { .vm = "vm-1", .target = 4096 };

	change("vm-1", 4096);
	ck_assert_int_eq(commit_wait(d.commit, on_done, &a), 0);
	ck_assert_int_eq(sd_event_run(d.loop, 0), 1); /* write under way */
	change("vm-2", 8192);
	ck_assert_int_eq(commit_now(d.commit), 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(a.on_disk);
	ck_assert(file_has("vm-2", 8192));
	ck_assert(!commit_pending(d.commit));
}
END_TEST

START_TEST(test_free_writes_what_is_pending)
{
	change("vm-7", 12288);
	commit_free(d.commit);
	d.commit = NULL;
	ck_assert(file_has("vm-7", 12288));
}
END_TEST

static Suite *commit_suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("group");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_waiter_hears_after_the_write);
	tcase_add_test(tc, test_one_write_for_many_changes);
	tcase_add_test(tc, test_failed_write_is_told_and_retried);
	tcase_add_test(tc, test_forgotten_waiter_is_not_called);
	tcase_add_test(tc, test_waiter_without_changes_is_answered);
	tcase_add_test(tc, test_free_writes_what_is_pending);
	tcase_add_test(tc, test_change_during_a_write_waits_for_the_next);
	tcase_add_test(tc, test_now_writes_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(commit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
