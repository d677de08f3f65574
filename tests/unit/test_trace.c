// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for ha-simguest's workload traces (tools/ha-simguest/trace.c):
 * parsing, the error messages for bad lines (with line numbers),
 * interpolation, the replay clock, file lookup, and the shipped traces.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ha-simguest/trace.h"

#ifndef SIMGUEST_TRACE_DIR
#define SIMGUEST_TRACE_DIR "tools/traces"
#endif

#define EPS 1e-9

static int parse(const char *text, struct trace *t, char *err, size_t len)
{
	return trace_parse(text, strlen(text), t, err, len);
}

/* ---- well-formed traces ---- */

static const struct {
	const char *text;
	size_t count;
	double last_t, last_fraction, last_churn;
} good[] = {
	{ "0 0.5 0.1\n", 1, 0, 0.5, 0.1 },
	/* no final newline */
	{ "0 0.5 0.1", 1, 0, 0.5, 0.1 },
	/* comments, blank lines, indentation, tabs, CRLF */
	{ "# a comment\n\n  0\t0.1  0 # trailing comment\r\n"
	  "\t\n10 1 2.5\r\n",
	  2, 10, 1, 2.5 },
	/* exponents, and a step: equal times are allowed */
	{ "0 1e-1 0\n5 0.5 0\n5 0.25 0\n1e1 0.25 0\n", 4, 10, 0.25, 0 },
	/* the bounds of fraction and churn */
	{ "0 0 0\n1 1 1000\n", 2, 1, 1, 1000 },
	/* a trace may start late: the first values hold before */
	{ "30 0.3 0.1\n60 0.6 0.1\n", 2, 60, 0.6, 0.1 },
};

START_TEST(test_parse_good)
{
	struct trace t;
	char err[256] = "";

	ck_assert_msg(parse(good[_i].text, &t, err, sizeof(err)) == 0,
		      "case %d: %s", _i, err);
	ck_assert_uint_eq(t.count, good[_i].count);
	ck_assert_double_eq_tol(trace_length(&t), good[_i].last_t, EPS);
	ck_assert_double_eq_tol(t.points[t.count - 1].fraction,
				good[_i].last_fraction, EPS);
	ck_assert_double_eq_tol(t.points[t.count - 1].churn,
				good[_i].last_churn, EPS);
	trace_free(&t);
	ck_assert_ptr_null(t.points);
}
END_TEST

/* ---- malformed traces: the exact message a user sees ---- */

static const struct {
	const char *text;
	const char *message;
} bad[] = {
	{ "", "no points (want lines \"time_s fraction churn_per_s\")" },
	{ "# only a comment\n\n", "no points" },
	{ "0 0.5\n", "line 1: expected 3 numbers \"time_s fraction "
		     "churn_per_s\", got 2" },
	{ "# header\n\n0 0.5 0.1\n10 0.6\n",
	  "line 4: expected 3 numbers \"time_s fraction churn_per_s\", got 2" },
	{ "0 abc 0.1\n", "line 1: fraction is not a finite number: \"abc\"" },
	{ "x 0.5 0.1\n", "line 1: time_s is not a finite number: \"x\"" },
	{ "0 0.5 0.1x\n", "line 1: churn_per_s is not a finite number: "
			  "\"0.1x\"" },
	{ "0 nan 0\n", "line 1: fraction is not a finite number: \"nan\"" },
	{ "0 0.5 inf\n", "line 1: churn_per_s is not a finite number: "
			 "\"inf\"" },
	{ "0 0.5 0.1 7\n", "line 1: trailing text \"7\" after \"time_s "
			   "fraction churn_per_s\"" },
	{ "-1 0.5 0.1\n", "line 1: time -1 is negative" },
	{ "0 0.5 0.1\n10 0.5 0.1\n5 0.5 0.1\n",
	  "line 3: time 5 is before the previous point's 10" },
	{ "0 1.5 0.1\n", "line 1: fraction 1.5 is outside [0, 1]" },
	{ "0 -0.1 0.1\n", "line 1: fraction -0.1 is outside [0, 1]" },
	{ "0 0.5 -2\n", "line 1: churn -2 is negative" },
	{ "0 0.5 0.1\n1e999 0.5 0\n",
	  "line 2: time_s is not a finite number: \"1e999\"" },
};

START_TEST(test_parse_bad)
{
	struct trace t = { 0 };
	char err[256] = "";

	ck_assert_int_eq(parse(bad[_i].text, &t, err, sizeof(err)), -EINVAL);
	ck_assert_msg(
		strncmp(err, bad[_i].message, strlen(bad[_i].message)) == 0,
		"case %d: got \"%s\", want \"%s\"", _i, err, bad[_i].message);
	ck_assert_ptr_null(t.points);
}
END_TEST

START_TEST(test_parse_long_line_and_nul)
{
	char text[2100];
	struct trace t;
	char err[256];

	memset(text, ' ', sizeof(text));
	memcpy(text, "0 0.5 0.1\n", 10);
	text[sizeof(text) - 1] = '\n';
	ck_assert_int_eq(trace_parse(text, sizeof(text), &t, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 2: longer than 1024 bytes");

	static const char nul[] = "0 0.5 0.1\n1 0.5\0 0.1\n";

	ck_assert_int_eq(trace_parse(nul, sizeof(nul) - 1, &t, err,
				     sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 2: contains a NUL byte");
}
END_TEST

/* ---- interpolation ---- */

static const char interp_text[] = "0 0.1 0\n"
				  "10 0.5 1\n"
				  "10 0.2 0\n" /* a step down at 10 s */
				  "20 0.2 0\n"
				  "30 0.8 3\n";

static const struct {
	double pos, fraction, churn;
} interp[] = {
	{ -5, 0.1, 0 }, /* before the first point */
	{ 0, 0.1, 0 },	 { 2.5, 0.2, 0.25 },
	{ 5, 0.3, 0.5 }, { 9.999999, 0.4999996, 0.9999999 },
	{ 10, 0.2, 0 }, /* at a step the later point wins */
	{ 15, 0.2, 0 },	 { 25, 0.5, 1.5 },
	{ 30, 0.8, 3 },	 { 1000, 0.8, 3 }, /* after the last point */
};

START_TEST(test_interpolate)
{
	struct trace t;
	char err[256];
	struct trace_sample s;

	ck_assert_int_eq(parse(interp_text, &t, err, sizeof(err)), 0);
	s = trace_at(&t, interp[_i].pos);
	ck_assert_msg(fabs(s.fraction - interp[_i].fraction) < 1e-6 &&
			      fabs(s.churn - interp[_i].churn) < 1e-6,
		      "at %g s: got %g/%g, want %g/%g", interp[_i].pos,
		      s.fraction, s.churn, interp[_i].fraction,
		      interp[_i].churn);
	trace_free(&t);
}
END_TEST

START_TEST(test_single_point)
{
	struct trace t;
	char err[256];
	struct trace_clock c = { .trace = &t, .start_ns = 0, .scale = 1 };
	bool done;

	ck_assert_int_eq(parse("0 0.3 0.2\n", &t, err, sizeof(err)), 0);
	ck_assert_double_eq_tol(trace_at(&t, 50).fraction, 0.3, EPS);
	c.loop = true;
	ck_assert_double_eq_tol(trace_clock_pos(&c, 5000000000ull, &done), 0,
				EPS);
	ck_assert(!done);
	trace_free(&t);
}
END_TEST

/* ---- the replay clock ---- */

static const struct {
	double scale;
	bool loop;
	uint64_t now_ns;
	double pos;
	bool done;
} clock_cases[] = {
	{ 1, false, 0, 0, false }, /* before the start */
	{ 1, false, 1000000000ull + 2500000000ull, 2.5, false },
	{ 10, false, 1000000000ull + 2500000000ull, 25, false },
	{ 10, false, 1000000000ull + 4000000000ull, 30, true }, /* clamped */
	{ 10, true, 1000000000ull + 4000000000ull, 10, false }, /* wraps */
	{ 0.5, true, 1000000000ull + 100000000000ull, 20, false },
};

START_TEST(test_clock)
{
	struct trace t;
	char err[256];
	bool done = !clock_cases[_i].done;

	ck_assert_int_eq(parse("0 0 0\n30 1 0\n", &t, err, sizeof(err)), 0);

	struct trace_clock c = { .trace = &t,
				 .start_ns = 1000000000ull,
				 .scale = clock_cases[_i].scale,
				 .loop = clock_cases[_i].loop };
	double pos = trace_clock_pos(&c, clock_cases[_i].now_ns, &done);
	uint64_t now = clock_cases[_i].now_ns;
	double played = now > c.start_ns ?
				(double)(now - c.start_ns) / 1e9 * c.scale :
				0;
	bool wrap_done = !done;

	ck_assert_double_eq_tol(pos, clock_cases[_i].pos, 1e-6);
	ck_assert_int_eq(done, clock_cases[_i].done);
	/* A clock that counts trace time itself (paced by the workload)
	 * wraps and ends the same way. */
	ck_assert_double_eq_tol(trace_clock_wrap(&c, played, &wrap_done), pos,
				1e-6);
	ck_assert_int_eq(wrap_done, done);
	trace_free(&t);
}
END_TEST

/* ---- files ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_trace.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void remove_tmp(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

START_TEST(test_load_and_resolve)
{
	char path[512], want[512], err[512];
	struct trace t;

	make_tmpdir();
	write_file("ok.trace", "0 0.5 0.1\n20 0.25 0\n");
	write_file("plain", "0 0.5 0.1\n");
	write_file("broken.trace", "# x\n0 0.5 0.1\n10 2 0\n");

	/* A name is looked up as DIR/NAME.trace, then DIR/NAME. */
	ck_assert_int_eq(trace_resolve("ok", tmpdir, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/ok.trace", tmpdir);
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(trace_resolve("plain", tmpdir, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/plain", tmpdir);
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(trace_resolve("missing", tmpdir, path, sizeof(path)),
			 -ENOENT);
	/* A name with a slash is a path, whatever the directory. */
	ck_assert_int_eq(
		trace_resolve(want, "/nonexistent", path, sizeof(path)), 0);
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(trace_resolve("ok", tmpdir, path, 8), -ENAMETOOLONG);

	snprintf(path, sizeof(path), "%s/ok.trace", tmpdir);
	ck_assert_int_eq(trace_load(path, &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_double_eq_tol(trace_length(&t), 20, EPS);
	trace_free(&t);

	/* Errors name the file and the line like a compiler does. */
	snprintf(path, sizeof(path), "%s/broken.trace", tmpdir);
	ck_assert_int_eq(trace_load(path, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/broken.trace:3: fraction 2 is outside [0, 1]", tmpdir);
	ck_assert_str_eq(err, want);

	snprintf(path, sizeof(path), "%s/missing.trace", tmpdir);
	ck_assert_int_eq(trace_load(path, &t, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/missing.trace: %s", tmpdir,
		 strerror(ENOENT));
	ck_assert_str_eq(err, want);

	remove_tmp("ok.trace");
	remove_tmp("plain");
	remove_tmp("broken.trace");
	rmdir(tmpdir);
}
END_TEST

/* ---- the shipped traces have the shapes their comments promise ---- */

struct shape {
	const char *name;
	double min_len, max_len; /* seconds */
	double min_peak; /* highest fraction at least */
	double max_final; /* fraction at the end at most */
	double min_mean, max_mean; /* time-weighted mean fraction */
};

static const struct shape shapes[] = {
	/* 40.8 min of build plus 200 s idle; plateau 40-70 %, link peak,
     * low idle level at the end. */
	{ "clang-build", 2500, 2800, 0.75, 0.25, 0.40, 0.60 },
	{ "bursty", 600, 1200, 0.55, 0.15, 0.10, 0.40 },
	{ "idle", 60, 3600, 0.0, 0.10, 0.02, 0.10 },
	{ "steady", 60, 3600, 0.45, 0.60, 0.45, 0.55 },
};

START_TEST(test_shipped_traces)
{
	const struct shape *s = &shapes[_i];
	char path[512], err[512];
	struct trace t;
	double peak = 0, area = 0;

	ck_assert_int_eq(trace_resolve(s->name, SIMGUEST_TRACE_DIR, path,
				       sizeof(path)),
			 0);
	ck_assert_msg(trace_load(path, &t, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < t.count; i++) {
		if (t.points[i].fraction > peak)
			peak = t.points[i].fraction;
		if (i)
			area += (t.points[i].t_s - t.points[i - 1].t_s) *
				(t.points[i].fraction +
				 t.points[i - 1].fraction) /
				2;
	}
	ck_assert_msg(trace_length(&t) >= s->min_len &&
			      trace_length(&t) <= s->max_len,
		      "%s: length %g s", s->name, trace_length(&t));
	ck_assert_msg(peak >= s->min_peak, "%s: peak %g", s->name, peak);
	ck_assert_msg(t.points[t.count - 1].fraction <= s->max_final,
		      "%s: final %g", s->name, t.points[t.count - 1].fraction);
	area /= trace_length(&t);
	ck_assert_msg(area >= s->min_mean && area <= s->max_mean, "%s: mean %g",
		      s->name, area);
	trace_free(&t);
}
END_TEST

START_TEST(test_clang_build_phases)
{
	char path[512], err[512];
	struct trace t;

	ck_assert_int_eq(trace_resolve("clang-build", SIMGUEST_TRACE_DIR, path,
				       sizeof(path)),
			 0);
	ck_assert_msg(trace_load(path, &t, err, sizeof(err)) == 0, "%s", err);
	/* Starts low, rises within the first minutes. */
	ck_assert_double_lt(trace_at(&t, 0).fraction, 0.15);
	ck_assert_double_gt(trace_at(&t, 240).fraction, 0.40);
	/* The compile plateau stays within 35-80 %. */
	for (double x = 300; x < 2000; x += 5) {
		double f = trace_at(&t, x).fraction;

		ck_assert_msg(f >= 0.35 && f <= 0.80, "%g at %g s", f, x);
	}
	/* The link phase peak is the highest point of the build. */
	double link_peak = 0;

	for (double x = 2040; x < 2330; x += 5)
		link_peak = fmax(link_peak, trace_at(&t, x).fraction);
	ck_assert_double_ge(link_peak, 0.75);
	/* Then 200 s of low idle. */
	for (double x = trace_length(&t) - 200; x <= trace_length(&t); x += 5)
		ck_assert_double_lt(trace_at(&t, x).fraction, 0.25);
	trace_free(&t);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_good, 0,
			    (int)(sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, test_parse_bad, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_parse_long_line_and_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_loop_test(tc, test_interpolate, 0,
			    (int)(sizeof(interp) / sizeof(interp[0])));
	tcase_add_test(tc, test_single_point);
	tcase_add_loop_test(
		tc, test_clock, 0,
		(int)(sizeof(clock_cases) / sizeof(clock_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load_and_resolve);
	tcase_add_loop_test(tc, test_shipped_traces, 0,
			    (int)(sizeof(shapes) / sizeof(shapes[0])));
	tcase_add_test(tc, test_clang_build_phases);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
