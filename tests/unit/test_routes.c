// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the route table of daemon/http/routes.c: the pure
 * matcher, the Allow lists behind 405, and the promise of docs/api.md
 * that docs/openapi.yaml describes exactly the routes the daemon serves.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/routes.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *method, *path;
	const char *pattern; /* NULL: no match */
	const char *id; /* the value of its one {parameter}, if any */
} match_cases[] = {
	{ "GET", "/vms", "/vms", NULL },
	{ "HEAD", "/vms", "/vms", NULL },
	{ "GET", "/vms/sim-1", "/vms/{id}", "sim-1" },
	{ "GET", "/vms/6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b/memory",
	  "/vms/{id}/memory", "6a1d1a8e-5f7e-4d3c-9b2a-0c1d2e3f4a5b" },
	{ "PUT", "/vms/sim-1/memory", "/vms/{id}/memory", "sim-1" },
	{ "PATCH", "/vms/sim-1/memory", "/vms/{id}/memory", "sim-1" },
	{ "DELETE", "/vms/a.b_c-d/memory/target", "/vms/{id}/memory/target",
	  "a.b_c-d" },
	{ "GET", "/host", "/host", NULL },
	{ "GET", "/policy", "/policy", NULL },
	{ "PUT", "/policy", "/policy", NULL },
	{ "GET", "/events", "/events", NULL },
	{ "GET", "/metrics", "/metrics", NULL },
	{ "GET", "/healthz", "/healthz", NULL },
	{ "GET", "/openapi.yaml", "/openapi.yaml", NULL },
	{ "GET", "/", "/", NULL },
	{ "HEAD", "/", "/", NULL },
	{ "GET", "/ui/app.js", "/ui/{asset}", "app.js" },
	/* wrong method */
	{ "PUT", "/", NULL, NULL },
	{ "POST", "/vms", NULL, NULL },
	{ "DELETE", "/vms/sim-1/memory", NULL, NULL },
	{ "PUT", "/vms/sim-1", NULL, NULL },
	{ "GET", "/vms/sim-1/memory/target", NULL, NULL },
	{ "get", "/vms", NULL, NULL },
	/* wrong path */
	{ "GET", "", NULL, NULL },
	{ "GET", "/ui", NULL, NULL },
	{ "GET", "/ui/", NULL, NULL },
	{ "GET", "/ui/a/b", NULL, NULL },
	{ "GET", "vms", NULL, NULL },
	{ "GET", "/vms/", NULL, NULL },
	{ "GET", "/vms//memory", NULL, NULL },
	{ "GET", "/vms/sim-1/", NULL, NULL },
	{ "GET", "/vms/sim-1/memory/", NULL, NULL },
	{ "GET", "/vms/a/b", NULL, NULL },
	{ "GET", "/VMS", NULL, NULL },
	{ "GET", "/vmsx", NULL, NULL },
	{ "GET", "/host/x", NULL, NULL },
	{ "GET", "//vms", NULL, NULL },
};

START_TEST(test_match)
{
	struct http_params p;
	const struct http_route *rt;

	memset(&p, 0xa5, sizeof(p));
	rt = http_route_match(match_cases[_i].method, match_cases[_i].path, &p);
	if (!match_cases[_i].pattern) {
		ck_assert_msg(rt == NULL, "%s %s matched %s",
			      match_cases[_i].method, match_cases[_i].path,
			      rt ? rt->pattern : "");
		return;
	}
	ck_assert_msg(rt != NULL, "%s %s did not match", match_cases[_i].method,
		      match_cases[_i].path);
	ck_assert_str_eq(rt->pattern, match_cases[_i].pattern);
	if (strcmp(match_cases[_i].method, "HEAD") == 0)
		ck_assert_str_eq(rt->method, "GET");
	else
		ck_assert_str_eq(rt->method, match_cases[_i].method);
	if (match_cases[_i].id) {
		ck_assert_uint_eq(p.n, 1);
		ck_assert_str_eq(p.p[0].value, match_cases[_i].id);
	} else {
		ck_assert_uint_eq(p.n, 0);
		ck_assert_ptr_null(http_param(&p, "id"));
	}
}
END_TEST

/* An id longer than a parameter can hold is not found, never cut short
 * into another VM's name. */
START_TEST(test_match_long_id)
{
	char path[512];
	struct http_params p;

	snprintf(path, sizeof(path), "/vms/%0*d", HTTP_PARAM_LEN - 1, 7);
	ck_assert_ptr_nonnull(http_route_match("GET", path, &p));
	ck_assert_uint_eq(strlen(http_param(&p, "id")), HTTP_PARAM_LEN - 1);
	snprintf(path, sizeof(path), "/vms/%0*d", HTTP_PARAM_LEN, 7);
	ck_assert_ptr_null(http_route_match("GET", path, &p));
	ck_assert_ptr_null(http_route_match(NULL, "/vms", &p));
	ck_assert_ptr_null(http_route_match("GET", NULL, &p));
}
END_TEST

static const struct {
	const char *path;
	size_t n;
	const char *allow;
} allow_cases[] = {
	{ "/vms", 1, "GET, HEAD" },
	{ "/vms/x", 1, "GET, HEAD" },
	{ "/vms/x/memory", 3, "GET, HEAD, PUT, PATCH" },
	{ "/vms/x/memory/target", 1, "DELETE" },
	{ "/policy", 2, "GET, HEAD, PUT" },
	{ "/events", 1, "GET, HEAD" },
	{ "/nope", 0, "" },
	{ "/vms/", 0, "" },
};

START_TEST(test_allow)
{
	char buf[64];

	ck_assert_uint_eq(http_route_allow(allow_cases[_i].path, buf,
					   sizeof(buf)),
			  allow_cases[_i].n);
	ck_assert_str_eq(buf, allow_cases[_i].allow);
}
END_TEST

START_TEST(test_mutates)
{
	ck_assert(!http_method_mutates("GET"));
	ck_assert(!http_method_mutates("HEAD"));
	ck_assert(!http_method_mutates("OPTIONS"));
	ck_assert(http_method_mutates("PUT"));
	ck_assert(http_method_mutates("PATCH"));
	ck_assert(http_method_mutates("DELETE"));
	ck_assert(http_method_mutates("POST"));
}
END_TEST

/* Every entry is complete, and no two share a method and pattern (the
 * second would never be reached). */
START_TEST(test_table_sane)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH", "DELETE",
					       "POST" };

	ck_assert_uint_ge(http_routes_count, 13);
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *rt = &http_routes[i];
		bool known = false;

		ck_assert_ptr_nonnull(rt->handler);
		ck_assert_ptr_nonnull(rt->summary);
		ck_assert_msg(rt->pattern[0] == '/', "%s", rt->pattern);
		for (size_t m = 0; m < ARRAY_SIZE(methods); m++)
			known |= strcmp(rt->method, methods[m]) == 0;
		ck_assert_msg(known, "method %s", rt->method);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(rt->method,
					     http_routes[j].method) ||
					      strcmp(rt->pattern,
						     http_routes[j].pattern),
				      "%s %s twice", rt->method, rt->pattern);
	}
}
END_TEST

/* ---- docs/openapi.yaml against the table ---- */

struct op {
	char method[8];
	char path[128];
};

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s (run from the top directory)",
		      path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

/*
 * The operations of the document's `paths:` block, read as text: a path
 * is a two-space-indented key starting with '/', an operation a
 * four-space-indented HTTP method key below it. Returns how many.
 */
static size_t openapi_ops(const char *text, struct op *ops, size_t max)
{
	static const char *const verbs[] = { "get",	"put",	 "post",
					     "delete",	"patch", "head",
					     "options", "trace" };
	const char *line = text;
	char path[128] = "";
	bool in_paths = false;
	size_t n = 0;

	for (; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 :
						  line + strlen(line)) {
		size_t len = strcspn(line, "\n");
		char key[128];

		if (len == 0 || line[0] == '#')
			continue;
		if (!isspace((unsigned char)line[0])) {
			in_paths = strncmp(line, "paths:", 6) == 0;
			continue;
		}
		if (!in_paths)
			continue;
		if (sscanf(line, "  %127[^:\n]:", key) != 1)
			continue;
		if (line[2] == '/' && line[1] == ' ') {
			snprintf(path, sizeof(path), "%s", key);
			continue;
		}
		if (strncmp(line, "    ", 4) != 0 || line[4] == ' ' ||
		    sscanf(line, "    %127[^:\n]:", key) != 1)
			continue;
		for (size_t v = 0; v < ARRAY_SIZE(verbs); v++) {
			if (strcmp(key, verbs[v]) != 0)
				continue;
			ck_assert_msg(path[0], "operation %s before a path",
				      key);
			ck_assert_uint_lt(n, max);
			for (size_t c = 0; c <= strlen(key); c++)
				ops[n].method[c] =
					(char)toupper((unsigned char)key[c]);
			snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
			n++;
		}
	}
	return n;
}

static const char *openapi_path(void)
{
	const char *top = getenv("HA_TOP");
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/docs/openapi.yaml", top ? top : ".");
	return buf;
}

START_TEST(test_openapi_matches_table)
{
	struct op ops[64];
	size_t len, n, gets = 0;
	char *text = read_file(openapi_path(), &len);

	n = openapi_ops(text, ops, ARRAY_SIZE(ops));
	/* every route is documented ... */
	for (size_t i = 0; i < http_routes_count; i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found |= strcmp(ops[j].method, http_routes[i].method) ==
					 0 &&
				 strcmp(ops[j].path, http_routes[i].pattern) ==
					 0;
		ck_assert_msg(found, "%s %s is not in docs/openapi.yaml",
			      http_routes[i].method, http_routes[i].pattern);
	}
	/* ... with its HEAD when it is a GET (HEAD is routed like GET) ... */
	for (size_t i = 0; i < http_routes_count; i++) {
		bool found = false;

		if (strcmp(http_routes[i].method, "GET") != 0)
			continue;
		gets++;
		for (size_t j = 0; j < n; j++)
			found |= strcmp(ops[j].method, "HEAD") == 0 &&
				 strcmp(ops[j].path, http_routes[i].pattern) ==
					 0;
		ck_assert_msg(found, "HEAD %s is not in docs/openapi.yaml",
			      http_routes[i].pattern);
	}
	/* ... and every documented operation is served */
	for (size_t j = 0; j < n; j++) {
		const char *m = strcmp(ops[j].method, "HEAD") == 0 ?
					"GET" :
					ops[j].method;
		bool found = false;

		for (size_t i = 0; i < http_routes_count; i++)
			found |= strcmp(m, http_routes[i].method) == 0 &&
				 strcmp(ops[j].path, http_routes[i].pattern) ==
					 0;
		ck_assert_msg(found,
			      "docs/openapi.yaml has %s %s, the daemon does "
			      "not serve it",
			      ops[j].method, ops[j].path);
	}
	ck_assert_uint_eq(n, http_routes_count + gets);
	free(text);
}
END_TEST

/* The textual reader above finds what it should (so the test above
 * cannot pass by reading nothing). */
START_TEST(test_openapi_reader)
{
	const char *doc = "openapi: 3.0.3\n"
			  "info:\n"
			  "  title: x\n"
			  "paths:\n"
			  "  /a/{id}:\n"
			  "    parameters:\n"
			  "      - name: id\n"
			  "    get:\n"
			  "      responses:\n"
			  "        \"200\":\n"
			  "          description: get: not an op\n"
			  "    patch:\n"
			  "  /b:\n"
			  "    delete:\n"
			  "components:\n"
			  "  /c:\n"
			  "    get:\n";
	struct op ops[8];

	ck_assert_uint_eq(openapi_ops(doc, ops, ARRAY_SIZE(ops)), 3);
	ck_assert_str_eq(ops[0].method, "GET");
	ck_assert_str_eq(ops[0].path, "/a/{id}");
	ck_assert_str_eq(ops[1].method, "PATCH");
	ck_assert_str_eq(ops[2].method, "DELETE");
	ck_assert_str_eq(ops[2].path, "/b");
}
END_TEST

/* The copy embedded in the daemon is the file in the tree. */
START_TEST(test_openapi_embedded)
{
	size_t len;
	char *text = read_file(openapi_path(), &len);

	ck_assert_uint_eq(http_openapi_yaml_len, len);
	ck_assert_int_eq(memcmp(http_openapi_yaml, text, len), 0);
	ck_assert_int_eq(http_openapi_yaml[len], '\0');
	ck_assert_ptr_nonnull(strstr(http_openapi_yaml, "openapi: 3."));
	free(text);
}
END_TEST

static Suite *routes_suite(void)
{
	Suite *s = suite_create("routes");
	TCase *tc;

	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match, 0, (int)ARRAY_SIZE(match_cases));
	tcase_add_test(tc, test_match_long_id);
	tcase_add_loop_test(tc, test_allow, 0, (int)ARRAY_SIZE(allow_cases));
	tcase_add_test(tc, test_mutates);
	tcase_add_test(tc, test_table_sane);
	suite_add_tcase(s, tc);

	tc = tcase_create("openapi");
	tcase_add_test(tc, test_openapi_matches_table);
	tcase_add_test(tc, test_openapi_reader);
	tcase_add_test(tc, test_openapi_embedded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(routes_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
