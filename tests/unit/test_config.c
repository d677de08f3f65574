// SPDX-License-Identifier: GPL-2.0-or-later
/* Configuration parsing: values, defaults, and errors naming the line. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static struct config *load_ok(const char *text)
{
	struct config_error err;
	struct config *c = NULL;
	int r = config_load_string(text, "test.json", &c, &err);

	ck_assert_msg(r == 0, "unexpected error: line %d %s: %s", err.line,
		      err.field, err.message);
	return c;
}

START_TEST(test_defaults)
{
	struct config *c = load_ok("{}");

	ck_assert_str_eq(c->api.tcp, "127.0.0.1:8080");
	ck_assert_str_eq(c->policy.name, "static");
	ck_assert_str_eq(c->policy.plugin_dir, "/usr/lib/hyperalloc/policies");
	ck_assert_uint_eq(c->policy.tick_ms, 1000);
	ck_assert_uint_eq(c->api.max_body_bytes, 65536);
	ck_assert_uint_eq(c->api.idle_timeout_s, 60);
	ck_assert_uint_eq(c->api.header_timeout_s, 30);
	ck_assert_uint_eq(c->api.connections_max, 256);
	ck_assert_uint_eq(c->api.connections_per_client, 32);
	ck_assert_uint_eq(c->grpc.connections_max, 256);
	ck_assert_uint_eq(c->grpc.connections_per_client, 32);
	ck_assert_uint_eq(c->defaults.min_bytes, 256ull << 20);
	ck_assert_uint_eq(c->sim.n_guests, 0);
	ck_assert_uint_eq(c->sim.restart_window_ms, 60000);
	config_free(c);
}
END_TEST

/* The gRPC listeners' limits: given, and the per-client default
 * following a smaller connections_max (as api.*'s does). */
START_TEST(test_grpc_limits)
{
	struct config *c = load_ok("{\"grpc\": {\"connections_max\": 16,\n"
				   "  \"connections_per_client\": 4}}");

	ck_assert_uint_eq(c->grpc.connections_max, 16);
	ck_assert_uint_eq(c->grpc.connections_per_client, 4);
	/* the api.* ones stay theirs */
	ck_assert_uint_eq(c->api.connections_max, 256);
	ck_assert_uint_eq(c->api.connections_per_client, 32);
	config_free(c);

	c = load_ok("{\"grpc\": {\"connections_max\": 8}}");
	ck_assert_uint_eq(c->grpc.connections_max, 8);
	ck_assert_uint_eq(c->grpc.connections_per_client, 8);
	config_free(c);

	c = load_ok("{\"grpc\": {\"connections_per_client\": 2,\n"
		    "  \"connections_max\": 2}}");
	ck_assert_uint_eq(c->grpc.connections_max, 2);
	ck_assert_uint_eq(c->grpc.connections_per_client, 2);
	config_free(c);
}
END_TEST

START_TEST(test_full)
{
	struct config *c = load_ok(
		"{\n"
		" \"log_level\": \"debug\",\n"
		" \"api\": {\"tcp\": null, \"unix\": \"/tmp/x.sock\",\n"
		"          \"max_body_bytes\": 1024},\n"
		" \"sim\": {\"guests\": [\n"
		"   {\"name\": \"a\", \"memory\": \"1G\", \"trace\": \"bursty\",\n"
		"    \"vcpus\": 4, \"time_scale\": 2.5, \"fpr\": true},\n"
		"   {\"name\": \"b\", \"memory\": 134217728}],\n"
		"  \"restart_window_ms\": 5000},\n"
		" \"policy\": {\"name\": \"shares\", \"params\": {\"x\": 1},\n"
		"             \"plugin_dir\": \"/opt/ha/policies/\",\n"
		"             \"host_reserve\": \"512M\", \"overcommit_ratio\": 1.5},\n"
		" \"defaults\": {\"min_memory\": \"128M\", \"shares\": 10}\n"
		"}\n");

	ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);
	ck_assert_ptr_null(c->api.tcp);
	ck_assert_str_eq(c->api.unix_path, "/tmp/x.sock");
	ck_assert_uint_eq(c->sim.n_guests, 2);
	ck_assert_str_eq(c->sim.guests[0].name, "a");
	ck_assert_uint_eq(c->sim.guests[0].memory_bytes, 1ull << 30);
	ck_assert_uint_eq(c->sim.guests[0].vcpus, 4);
	ck_assert(c->sim.guests[0].fpr);
	ck_assert_double_eq(c->sim.guests[0].time_scale, 2.5);
	ck_assert_uint_eq(c->sim.guests[1].memory_bytes, 128ull << 20);
	ck_assert_uint_eq(c->sim.guests[1].vcpus, 2);
	ck_assert_uint_eq(c->sim.restart_window_ms, 5000);
	ck_assert_str_eq(c->policy.params_json, "{\"x\":1}");
	ck_assert_str_eq(c->policy.plugin_dir, "/opt/ha/policies/");
	ck_assert_uint_eq(c->policy.host_reserve_bytes, 512ull << 20);
	ck_assert_uint_eq(c->defaults.min_bytes, 128ull << 20);
	ck_assert_uint_eq(c->defaults.shares, 10);
	config_free(c);
}
END_TEST

/* Each bad file must fail with the right field and line. */
static const struct {
	const char *text;
	const char *field;
	int line;
	const char *message_part;
} bad[] = {
	{ "{\n\"api\": {\n \"tcp\": 8080\n}}", "api.tcp", 3, "string" },
	{ "{\n\"api\": {\"tcp\": \"localhost\"}}", "api.tcp", 2, "host:port" },
	{ "{\n\n\"nope\": 1}", "nope", 3, "unknown" },
	{ "{\"policy\": {\n\"tick_ms\": 5}}", "policy.tick_ms", 2, "outside" },
	{ "{\"policy\": {\"tick_ms\": 1.5}}", "policy.tick_ms", 1, "integer" },
	{ "{\"policy\": {\n\"host_reserve\": \"12Q\"}}", "policy.host_reserve",
	  2, "not a size" },
	{ "{\"sim\": {\"guests\": [\n{\"name\": \"a\", \"memory\": \"1G\"},\n"
	  "{\"name\": \"b c\", \"memory\": \"1G\"}]}}",
	  "sim.guests[1].name", 3, "A-Z" },
	{ "{\"sim\": {\"guests\": [{\"name\": \"a\"}]}}", "sim.guests[0]", 1,
	  "memory" },
	{ "{\"sim\": {\"guests\": [{\"name\": \"a\", \"memory\": \"1G\"},"
	  "{\"name\": \"a\", \"memory\": \"1G\"}]}}",
	  "sim.guests[1].name", 1, "duplicate" },
	{ "{\"log_level\": \"loud\"}", "log_level", 1, "one of" },
	{ "{\"policy\": {\n\"plugin_dir\": \"policies\"}}", "policy.plugin_dir",
	  2, "plugin_dir \"policies\" is not an absolute path" },
	{ "{\"policy\": {\"plugin_dir\": \"/usr/lib/../tmp\"}}",
	  "policy.plugin_dir", 1, "\"/usr/lib/../tmp\" has a \".\" or \"..\"" },
	{ "{\"policy\": {\"plugin_dir\": \"/a/./b\"}}", "policy.plugin_dir", 1,
	  "component" },
	{ "{\"policy\": {\"plugin_dir\": \"\"}}", "policy.plugin_dir", 1,
	  "not an absolute path" },
	{ "{\"policy\": {\"plugin_dir\": 7}}", "policy.plugin_dir", 1,
	  "string" },
	{ "{\"sim\": {\n\"restart_window_ms\": 99}}", "sim.restart_window_ms",
	  2, "outside" },
	{ "{\"sim\": {\"restart_window_ms\": 86400001}}",
	  "sim.restart_window_ms", 1, "outside" },
	{ "{\"api\": {\"max_body_bytes\": -5}}", "api.max_body_bytes", 1,
	  "outside" },
	{ "{\"api\": {\"idle_timeout_s\": 0}}", "api.idle_timeout_s", 1,
	  "outside 1..3600" },
	{ "{\"api\": {\"header_timeout_s\": \"5\"}}", "api.header_timeout_s", 1,
	  "integer" },
	{ "{\"api\": {\"connections_max\": 1}}", "api.connections_max", 1,
	  "outside" },
	{ "{\"api\": {\"connections_max\": 8, \"connections_per_client\": 9}}",
	  "api.connections_per_client", 1, "above api.connections_max" },
	{ "{\"grpc\": {\n\"connections_max\": 1}}", "grpc.connections_max", 2,
	  "1 is outside 2..65536" },
	{ "{\"grpc\": {\"connections_max\": 65537}}", "grpc.connections_max", 1,
	  "outside" },
	{ "{\"grpc\": {\"connections_max\": \"8\"}}", "grpc.connections_max", 1,
	  "integer" },
	{ "{\"grpc\": {\"connections_per_client\": 0}}",
	  "grpc.connections_per_client", 1, "0 is outside 1..65536" },
	{ "{\"grpc\": {\"connections_per_client\": -1}}",
	  "grpc.connections_per_client", 1, "outside" },
	{ "{\"grpc\": {\"connections_max\": 8,\n"
	  "\"connections_per_client\": 9}}",
	  "grpc.connections_per_client", 2,
	  "9 is above grpc.connections_max (8): one client could take every "
	  "connection" },
	/* above the default connections_max */
	{ "{\"grpc\": {\"connections_per_client\": 300}}",
	  "grpc.connections_per_client", 1,
	  "above grpc.connections_max (256)" },
	{ "{\"grpc\": {\"connections\": 8}}", "grpc.connections", 1,
	  "unknown" },
	{ "{\n\"api\": [1]}", "api", 2, "object" },
	{ "[]", "(top level)", 0, "object" },
	{ "{\"a\": 1,\n\"a\": 2}", "(syntax)", 2, "duplicate" },
	{ "{\n\"api\": {\n", "(syntax)", 3, "" },
};

START_TEST(test_errors)
{
	struct config_error err;
	struct config *c = NULL;
	int r = config_load_string(bad[_i].text, "bad.json", &c, &err);

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strcmp(err.field, bad[_i].field) == 0,
		      "case %d: field %s, want %s (%s)", _i, err.field,
		      bad[_i].field, err.message);
	if (bad[_i].line)
		ck_assert_msg(err.line == bad[_i].line,
			      "case %d: line %d, want %d", _i, err.line,
			      bad[_i].line);
	ck_assert_msg(strstr(err.message, bad[_i].message_part),
		      "case %d: message \"%s\" lacks \"%s\"", _i, err.message,
		      bad[_i].message_part);
}
END_TEST

START_TEST(test_load_file)
{
	char path[] = "/tmp/ha-config-XXXXXX";
	int fd = mkstemp(path);
	struct config_error err;
	struct config *c = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{\"log_level\": \"err\"}", 20), 20);
	close(fd);
	ck_assert_int_eq(config_load(path, &c, &err), 0);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_ERR);
	ck_assert_str_eq(c->path, path);
	config_free(c);
	unlink(path);
	ck_assert_int_eq(config_load(path, &c, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_grpc_limits);
	tcase_add_loop_test(tc, test_errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_load_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
