// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/http/metrics.c: the exposition is valid Prometheus
 * text format 0.0.4 (one HELP and TYPE per family, every sample under its
 * own family, numeric values, escaped label values) and carries the
 * numbers of the daemon's state (real ctl, stub engine and host).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "http/metrics.h"

static struct daemon *d;
static struct vm vms[2];

static void setup(void)
{
	d = calloc(1, sizeof(*d));
	ck_assert_ptr_nonnull(d);
	event_bus_init(&d->bus);
	memset(vms, 0, sizeof(vms));
	strcpy(vms[0].id, "a");
	strcpy(vms[1].id, "b.2");
	vms[0].mechanism = VM_MECH_SIM;
	vms[1].mechanism = VM_MECH_VIRTIO_MEM;
	vms[1].state = VM_STATE_STUCK;
	vms[0].mem.max_bytes = 1ull << 30;
	vms[0].mem.target_bytes = 3ull << 28;
	vms[1].mem.max_bytes = 2ull << 30;
	vms[0].counters.reclaimed_hard_frames = 5;
	vms[0].counters.reclaimed_soft_frames = 7;
	vms[0].counters.discard_ns = 1500000000;
	vms[1].counters.canary_mismatches = 3;
	vms[0].next = &vms[1];
	d->vms.head = &vms[0];
	d->vms.count = 2;
	d->errors_total = 4;
}

static void teardown(void)
{
	free(d);
}

/* The value of the sample line that starts with @prefix, as text. */
static const char *sample(const char *text, const char *prefix, char *buf,
			  size_t len)
{
	size_t n = strlen(prefix);

	for (const char *l = text; l && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (strncmp(l, prefix, n) == 0 && l[n] == ' ') {
			snprintf(buf, len, "%.*s",
				 (int)strcspn(l + n + 1, "\n"), l + n + 1);
			return buf;
		}
	}
	return NULL;
}

START_TEST(test_format_valid)
{
	char family[128] = "", seen[64][128];
	size_t n_seen = 0, len, samples = 0;
	char *text = metrics_render(d, &len), *save = NULL, *line;

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), len);
	ck_assert(len > 0 && text[len - 1] == '\n');
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32], *end;
		size_t nl;

		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", name), 1);
			for (size_t i = 0; i < n_seen; i++)
				ck_assert_msg(strcmp(seen[i], name) != 0,
					      "family %s twice", name);
			ck_assert_uint_lt(n_seen, 64);
			strcpy(seen[n_seen++], name);
			strcpy(family, name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(
				sscanf(line + 7, "%127s %31s", name, type), 2);
			ck_assert_str_eq(name, family); /* right after HELP */
			ck_assert_msg(strcmp(type, "gauge") == 0 ||
					      strcmp(type, "counter") == 0,
				      "%s", line);
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment: %s", line);
		/* a sample of the current family, with a number */
		nl = strcspn(line, "{ ");
		ck_assert_msg(nl == strlen(family) &&
				      strncmp(line, family, nl) == 0,
			      "%s outside its family (%s)", line, family);
		if (line[nl] == '{') {
			char *close = strstr(line, "} ");

			ck_assert_ptr_nonnull(close);
			nl = (size_t)(close + 1 - line);
		}
		ck_assert_int_eq(line[nl], ' ');
		strtod(line + nl + 1, &end);
		ck_assert_msg(end != line + nl + 1 && *end == '\0', "%s", line);
		samples++;
	}
	ck_assert_uint_gt(n_seen, 20);
	ck_assert_uint_gt(samples, n_seen);
	free(text);
}
END_TEST

START_TEST(test_values)
{
	char *text, buf[64];
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TARGET_CHANGED;
	for (int i = 0; i < 3; i++)
		event_publish(&d->bus, &ev);
	vms[0].mem.target_source = VM_TARGET_MANUAL;
	strcpy(vms[0].policy_reason, "host_fit");
	d->started_realtime_usec = 1700000000250000ull;
	text = metrics_render(d, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(sample(text, "hyperalloc_vm_max_bytes{vm=\"b.2\"}",
				buf, sizeof(buf)),
			 "2147483648");
	ck_assert_str_eq(sample(text, "hyperalloc_vm_target_bytes{vm=\"a\"}",
				buf, sizeof(buf)),
			 "805306368");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_reclaimed_frames_total{vm=\"a\","
				"kind=\"hard\"}",
				buf, sizeof(buf)),
			 "5");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_reclaimed_frames_total{vm=\"a\","
				"kind=\"soft\"}",
				buf, sizeof(buf)),
			 "7");
	ck_assert_double_eq_tol(
		strtod(sample(text,
			      "hyperalloc_vm_discard_seconds_total{vm=\"a\"}",
			      buf, sizeof(buf)),
		       NULL),
		1.5, 1e-9);
	ck_assert_str_eq(
		sample(text,
		       "hyperalloc_vm_canary_mismatches_total{vm=\"b.2\"}", buf,
		       sizeof(buf)),
		"3");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_info{vm=\"b.2\",mechanism="
				"\"virtio-mem\"}",
				buf, sizeof(buf)),
			 "1");
	/* one series per state, reason and source: 1 for the current */
	ck_assert_str_eq(
		sample(text, "hyperalloc_vm_state{vm=\"b.2\",state=\"stuck\"}",
		       buf, sizeof(buf)),
		"1");
	ck_assert_str_eq(
		sample(text,
		       "hyperalloc_vm_state{vm=\"b.2\",state=\"running\"}", buf,
		       sizeof(buf)),
		"0");
	ck_assert_str_eq(
		sample(text, "hyperalloc_vm_state{vm=\"a\",state=\"running\"}",
		       buf, sizeof(buf)),
		"1");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_target_source{vm=\"a\","
				"source=\"manual\"}",
				buf, sizeof(buf)),
			 "1");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_target_source{vm=\"b.2\","
				"source=\"manual\"}",
				buf, sizeof(buf)),
			 "0");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_policy_reason{vm=\"a\","
				"reason=\"host_fit\"}",
				buf, sizeof(buf)),
			 "1");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_policy_reason{vm=\"a\","
				"reason=\"none\"}",
				buf, sizeof(buf)),
			 "0");
	/* no reason yet counts as none */
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_policy_reason{vm=\"b.2\","
				"reason=\"none\"}",
				buf, sizeof(buf)),
			 "1");
	ck_assert_str_eq(sample(text,
				"hyperalloc_vm_policy_reason{vm=\"b.2\","
				"reason=\"working_set\"}",
				buf, sizeof(buf)),
			 "0");
	ck_assert_str_eq(sample(text, "hyperalloc_up", buf, sizeof(buf)), "1");
	ck_assert_str_eq(sample(text, "hyperalloc_vms", buf, sizeof(buf)), "2");
	ck_assert_str_eq(
		sample(text, "hyperalloc_errors_total", buf, sizeof(buf)), "4");
	ck_assert_str_eq(
		sample(text, "hyperalloc_events_total{type=\"target_changed\"}",
		       buf, sizeof(buf)),
		"3");
	ck_assert_str_eq(
		sample(text, "hyperalloc_events_total{type=\"daemon_error\"}",
		       buf, sizeof(buf)),
		"0");
	ck_assert_str_eq(sample(text, "hyperalloc_start_time_seconds", buf,
				sizeof(buf)),
			 "1700000000.250");
	ck_assert_ptr_nonnull(
		sample(text, "hyperalloc_host_total_bytes", buf, sizeof(buf)));
	ck_assert_ptr_nonnull(
		sample(text, "hyperalloc_policy_info{policy=\"static\"}", buf,
		       sizeof(buf)));
	free(text);
}
END_TEST

/* No VMs: the families are still declared, with no samples. */
START_TEST(test_no_vms)
{
	char *text;

	d->vms.head = NULL;
	d->vms.count = 0;
	text = metrics_render(d, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE hyperalloc_vm_max_bytes "
					   "gauge\n# HELP"));
	ck_assert_ptr_null(strstr(text, "{vm="));
	ck_assert_ptr_nonnull(strstr(text, "\nhyperalloc_vms 0\n"));
	free(text);
}
END_TEST

START_TEST(test_escape)
{
	char buf[64];

	ck_assert_str_eq(metrics_escape_label("plain-1.x", buf, sizeof(buf)),
			 "plain-1.x");
	ck_assert_str_eq(metrics_escape_label("a\"b\\c\nd", buf, sizeof(buf)),
			 "a\\\"b\\\\c\\nd");
	/* cut at a whole escape, never half of one */
	ck_assert_str_eq(metrics_escape_label("ab\"", buf, 4), "ab");
	ck_assert_str_eq(metrics_escape_label("abc", buf, 1), "");
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_format_valid);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_no_vms);
	tcase_add_test(tc, test_escape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
