// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hactl: the command line of hyperallocd's HTTP API (docs/api.md).
 * Tables for people, --json for scripts. Exit status: 0 ok, 1 the daemon
 * refused or could not be reached, 2 usage. Here: the options, the
 * commands and their table; what they print is hactl_output.c, the
 * event stream of watch is parsed by hactl_sse.c.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hactl_output.h"
#include "hactl_sse.h"
#include "http_client.h"
#include "user/size.h"

#define EXIT_API       1
#define EXIT_USAGE     2
#define DEFAULT_SOCKET "/run/hyperalloc/hyperallocd.sock"
#define PARAMS_MAX     32

/* The daemon's ranges (daemon/ctl.c, daemon/engine.c), so that a value
 * it would refuse is refused here with the same range. */
#define SHARES_MIN  1
#define SHARES_MAX  100000
#define TICK_MS_MIN 100
#define TICK_MS_MAX 3600000
#define RATIO_MIN   0.1
#define RATIO_MAX   100.0

/* Options a command may take, besides the common ones. */
enum {
	O_TARGET = 1u << 0,
	O_MIN = 1u << 1,
	O_MAX = 1u << 2,
	O_SHARES = 1u << 3,
	O_AUTO = 1u << 4,
	O_NAME = 1u << 5,
	O_PARAM = 1u << 6,
	O_RATIO = 1u << 7,
	O_RESERVE = 1u << 8,
	O_TICK = 1u << 9,
	O_LAST_ID = 1u << 10,
};

struct opts {
	bool json, help;
	const char *socket, *url, *token_file;
	const char *target, *min, *max, *shares, *autor;
	const char *name, *ratio, *reserve, *tick, *last_id;
	const char *params[PARAMS_MAX];
	size_t n_params;
	unsigned used; /* O_* given */
};

struct ctx {
	struct opts o;
	struct http_client_target t;
	char **args; /* the command's positional arguments */
	int nargs;
};

struct command {
	const char *name; /* "policy set" */
	const char *usage; /* after the name */
	const char *summary;
	const char *help; /* the command's own options, or NULL */
	unsigned options; /* O_* allowed */
	int nargs; /* positional arguments after the name */
	int (*run)(struct ctx *c);
};

static void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die_option(const char *opt, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static bool json_mode; /* --json anywhere on the command line */

/* A usage error: say so (as JSON with --json) and exit with 2. */
static void vdie(const char *opt, const char *value, const char *fmt,
		 va_list ap) __attribute__((format(printf, 3, 0), noreturn));

static void vdie(const char *opt, const char *value, const char *fmt,
		 va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	hactl_error("usage", opt, value, "%s", msg);
	if (!json_mode)
		fputs("(see hactl --help)\n", stderr);
	exit(EXIT_USAGE);
}

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(NULL, NULL, fmt, ap);
}

/* The value @value of option @opt is wrong: the message names both,
 * and so do the "field" and "value" of the JSON. */
static void die_option(const char *opt, const char *value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(opt, value, fmt, ap);
}

/* ---- talking to the daemon ---- */

/* @method @path; on 2xx *ret holds the parsed JSON (unless @raw), else
 * the error is printed. Returns 0 or an exit status. */
static int call(struct ctx *c, const char *method, const char *path,
		json_t *body, bool raw, json_t **ret, char **ret_text)
{
	struct http_client_response r;
	char err[512], *text = NULL;
	int rc;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (!text) {
			hactl_error("no-memory", NULL, NULL, "out of memory");
			return EXIT_API;
		}
	}
	rc = http_client_request(&c->t, method, path, text, &r, err,
				 sizeof(err));
	free(text);
	if (rc < 0) {
		hactl_error("unreachable", NULL, NULL, "%s", err);
		return EXIT_API;
	}
	if (r.status < 200 || r.status > 299) {
		hactl_print_error(&r, !c->t.socket_path[0]);
		http_client_response_free(&r);
		return EXIT_API;
	}
	if (c->o.json || raw) {
		if (ret_text) {
			*ret_text = r.body;
			r.body = NULL;
		} else {
			fwrite(r.body, 1, r.body_len, stdout);
			if (r.body_len && r.body[r.body_len - 1] != '\n')
				putchar('\n');
		}
		http_client_response_free(&r);
		if (ret)
			*ret = NULL;
		return 0;
	}
	*ret = json_loadb(r.body, r.body_len, 0, NULL);
	http_client_response_free(&r);
	if (!*ret) {
		hactl_error("bad-answer", NULL, NULL,
			    "the daemon's answer is not JSON");
		return EXIT_API;
	}
	return 0;
}

/* "/vms/<id>/..." with @id percent-encoded. */
static void vm_path(char *buf, size_t len, const char *id, const char *rest)
{
	size_t o = (size_t)snprintf(buf, len, "/vms/");

	for (const unsigned char *p = (const unsigned char *)id;
	     *p && o + 4 < len; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			buf[o++] = (char)*p;
		else
			o += (size_t)snprintf(buf + o, len - o, "%%%02X", *p);
	}
	snprintf(buf + o, len - o, "%s", rest);
}

/* ---- commands ---- */

static int cmd_vms(struct ctx *c)
{
	static const char *const head[HACTL_COLS] = {
		"ID",  "MECHANISM", "STATE",	  "CURRENT", "TARGET",
		"MAX", "RESIDENT",  "GUEST FREE", "SOURCE",  "AUTO",
	};
	json_t *j = NULL, *vms, *vm;
	char(*cells)[HACTL_COLS][HACTL_CELL];
	char a[32];
	size_t i, n;
	int rc;

	rc = call(c, "GET", "/vms", NULL, false, &j, NULL);
	if (rc || !j)
		return rc;
	vms = json_object_get(j, "vms");
	n = json_array_size(vms);
	cells = calloc(n + 1, sizeof(*cells));
	if (!cells) {
		json_decref(j);
		return EXIT_API;
	}
	for (size_t k = 0; k < HACTL_COLS; k++)
		snprintf(cells[0][k], sizeof(cells[0][k]), "%s", head[k]);
	json_array_foreach(vms, i, vm) {
		static const char *const sizes[] = {
			"current_bytes",       "target_bytes",	   "max_bytes",
			"host_resident_bytes", "guest_free_bytes",
		};
		json_t *m = json_object_get(vm, "memory");
		char(*cl)[HACTL_CELL] = cells[i + 1];

		snprintf(cl[0], HACTL_CELL, "%s", hactl_get_str(vm, "id"));
		snprintf(cl[1], HACTL_CELL, "%s",
			 hactl_get_str(vm, "mechanism"));
		snprintf(cl[2], HACTL_CELL, "%s", hactl_get_str(vm, "state"));
		for (size_t k = 0; k < 5; k++)
			snprintf(cl[3 + k], HACTL_CELL, "%s",
				 hactl_get_size(m, sizes[k], a, sizeof(a)));
		snprintf(cl[8], HACTL_CELL, "%s",
			 hactl_get_str(m, "target_source"));
		snprintf(cl[9], HACTL_CELL, "%s",
			 json_is_true(json_object_get(m, "auto_reclaim")) ?
				 "on" :
				 "off");
	}
	if (n == 0)
		printf("no VMs\n");
	else
		hactl_print_table(cells, n + 1);
	free(cells);
	json_decref(j);
	return 0;
}

static int cmd_show(struct ctx *c)
{
	json_t *j = NULL, *counters, *device, *v;
	const char *key;
	char path[512];
	int rc;

	vm_path(path, sizeof(path), c->args[0], "");
	rc = call(c, "GET", path, NULL, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_row("id:", "%s", hactl_get_str(j, "id"));
	hactl_row("uuid:", "%s", hactl_get_str(j, "uuid"));
	hactl_row("mechanism:", "%s", hactl_get_str(j, "mechanism"));
	hactl_row("state:", "%s", hactl_get_str(j, "state"));
	if (json_string_length(json_object_get(j, "state_reason")))
		hactl_row("state reason:", "%s",
			  hactl_get_str(j, "state_reason"));
	printf("memory:\n");
	hactl_print_memory(json_object_get(j, "memory"), "  ");
	device = json_object_get(j, "device");
	if (json_is_object(device)) {
		printf("device:\n");
		hactl_row(
			"  state:", "%s%s%s", hactl_get_str(device, "state"),
			json_string_length(json_object_get(device, "reason")) ?
				": " :
				"",
			hactl_get_str(device, "reason"));
		hactl_row(
			"  reads:", "%s",
			json_is_true(json_object_get(device, "direct_reads")) ?
				"direct (shared guest RAM)" :
				"through QEMU's monitor");
		hactl_row("  installs:",
			  "%lld requests, %.0f us average, "
			  "%.1f frames/s",
			  (long long)json_integer_value(
				  json_object_get(device, "install_requests")),
			  (double)json_integer_value(
				  json_object_get(device, "install_ns_avg")) /
				  1000.0,
			  json_number_value(
				  json_object_get(device, "installs_per_s")));
		if (json_string_length(json_object_get(device, "last_error")))
			hactl_row("  last error:", "%s",
				  hactl_get_str(device, "last_error"));
	}
	counters = json_object_get(j, "counters");
	if (json_object_size(counters)) {
		printf("counters:\n");
		json_object_foreach(counters, key, v) {
			char label[64];

			snprintf(label, sizeof(label), "  %s:", key);
			printf("%-26s %lld\n", label,
			       (long long)json_integer_value(v));
		}
	}
	json_decref(j);
	return 0;
}

static json_t *size_field(const char *opt, const char *text)
{
	uint64_t v;
	int r = ha_parse_size(text, &v);

	if (r == 0 && v > INT64_MAX)
		r = -ERANGE;
	if (r < 0)
		die_option(opt, text, "%s %s: %s", opt, text,
			   r == -ERANGE ? "too large (at most 8 EiB)" :
					  "not a size (e.g. 4096, 512M, 1.5G)");
	return json_integer((json_int_t)v);
}

/* An integer in @min..@max, the range the daemon accepts. */
static json_t *uint_field(const char *opt, const char *text, uint64_t min,
			  uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (!text[0] || *end || errno || text[0] == '-' || v < min || v > max)
		die_option(opt, text,
			   "%s %s: expected an integer in %llu..%llu", opt,
			   text, (unsigned long long)min,
			   (unsigned long long)max);
	return json_integer((json_int_t)v);
}

static int cmd_set(struct ctx *c)
{
	json_t *body = json_object(), *j = NULL;
	char path[512];
	int rc;

	if (!c->o.used)
		die_usage("set: nothing to change (see hactl set --help)");
	if (c->o.target)
		json_object_set_new(body, "target_bytes",
				    size_field("--target", c->o.target));
	if (c->o.min)
		json_object_set_new(body, "min_bytes",
				    size_field("--min", c->o.min));
	if (c->o.max)
		json_object_set_new(body, "max_bytes",
				    size_field("--max", c->o.max));
	if (c->o.shares)
		json_object_set_new(body, "shares",
				    uint_field("--shares", c->o.shares,
					       SHARES_MIN, SHARES_MAX));
	if (c->o.autor) {
		const char *a = c->o.autor;
		bool on = !strcasecmp(a, "on") || !strcasecmp(a, "true") ||
			  !strcasecmp(a, "yes") || !strcmp(a, "1");
		bool off = !strcasecmp(a, "off") || !strcasecmp(a, "false") ||
			   !strcasecmp(a, "no") || !strcmp(a, "0");

		if (!on && !off)
			die_option("--auto", a, "--auto %s: expected on or off",
				   a);
		json_object_set_new(body, "auto_reclaim", json_boolean(on));
	}
	vm_path(path, sizeof(path), c->args[0], "/memory");
	rc = call(c, "PATCH", path, body, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_print_memory(j, "");
	json_decref(j);
	return 0;
}

static int cmd_release(struct ctx *c)
{
	json_t *j = NULL;
	char path[512];
	int rc;

	vm_path(path, sizeof(path), c->args[0], "/memory/target");
	rc = call(c, "DELETE", path, NULL, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_print_memory(j, "");
	json_decref(j);
	return 0;
}

static int cmd_host(struct ctx *c)
{
	json_t *j = NULL;
	char a[32];
	int rc;

	rc = call(c, "GET", "/host", NULL, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_row("total:", "%s",
		  hactl_get_size(j, "total_bytes", a, sizeof(a)));
	hactl_row("available:", "%s",
		  hactl_get_size(j, "available_bytes", a, sizeof(a)));
	hactl_row("committed:", "%s",
		  hactl_get_size(j, "committed_bytes", a, sizeof(a)));
	hactl_row("max committed:", "%s",
		  hactl_get_size(j, "max_committed_bytes", a, sizeof(a)));
	hactl_row("reserve:", "%s",
		  hactl_get_size(j, "reserve_bytes", a, sizeof(a)));
	hactl_row("overcommit:", "%.2f now, %.2f allowed",
		  json_number_value(json_object_get(j, "overcommit_now")),
		  json_number_value(json_object_get(j, "overcommit_ratio")));
	hactl_row("vms:", "%lld",
		  (long long)json_integer_value(json_object_get(j, "vms")));
	json_decref(j);
	return 0;
}

static int cmd_policy(struct ctx *c)
{
	json_t *j = NULL;
	int rc;

	rc = call(c, "GET", "/policy", NULL, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_print_policy(j);
	json_decref(j);
	return 0;
}

static int cmd_policy_set(struct ctx *c)
{
	json_t *body = json_object(), *j = NULL;
	int rc;

	if (!c->o.used)
		die_usage("policy set: nothing to change "
			  "(see hactl policy set --help)");
	if (c->o.name)
		json_object_set_new(body, "name", json_string(c->o.name));
	if (c->o.n_params) {
		json_t *params = json_object();

		for (size_t i = 0; i < c->o.n_params; i++) {
			const char *kv = c->o.params[i];
			const char *eq = strchr(kv, '=');
			char key[128];
			json_t *v;

			if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
				die_option("--param", kv,
					   "--param %s: expected key=value",
					   kv);
			snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
			/* JSON if it parses (numbers, true, {...}), else
			 * the text as a string */
			v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
			if (!v)
				v = json_string(eq + 1);
			json_object_set_new(params, key, v);
		}
		json_object_set_new(body, "params", params);
	}
	if (c->o.ratio) {
		char *end;
		double r = strtod(c->o.ratio, &end);

		if (!c->o.ratio[0] || *end || !isfinite(r) || r < RATIO_MIN ||
		    r > RATIO_MAX)
			die_option("--ratio", c->o.ratio,
				   "--ratio %s: expected a number in %g..%g, "
				   "e.g. 1.5",
				   c->o.ratio, RATIO_MIN, RATIO_MAX);
		json_object_set_new(body, "overcommit_ratio", json_real(r));
	}
	if (c->o.reserve)
		json_object_set_new(body, "host_reserve_bytes",
				    size_field("--reserve", c->o.reserve));
	if (c->o.tick)
		json_object_set_new(body, "tick_ms",
				    uint_field("--tick", c->o.tick, TICK_MS_MIN,
					       TICK_MS_MAX));
	rc = call(c, "PUT", "/policy", body, false, &j, NULL);
	if (rc || !j)
		return rc;
	hactl_print_policy(j);
	json_decref(j);
	return 0;
}

static int cmd_metrics(struct ctx *c)
{
	return call(c, "GET", "/metrics", NULL, true, NULL, NULL);
}

/* ---- watch: Server-Sent Events, one line per event ---- */

static void watch_event(const char *event, const char *data, void *ud)
{
	const struct ctx *c = ud;

	hactl_print_event(event, data, c->o.json);
}

static int cmd_watch(struct ctx *c)
{
	struct hactl_sse *s = calloc(1, sizeof(*s));
	bool connected_once = false;
	char err[512], headers[96];
	int rc = 0;

	if (!s)
		return EXIT_API;
	s->on_event = watch_event;
	s->userdata = c;
	s->retry_ms = 3000;
	if (c->o.last_id) {
		/* RUN-SEQ as the daemon sends it, or a bare SEQ */
		const char *id = c->o.last_id, *dash = strchr(id, '-');
		const char *seq = dash ? dash + 1 : id;
		bool run_ok = !dash || (dash - id == 16 &&
					strspn(id, "0123456789abcdef") == 16);

		if (!run_ok || !seq[0] ||
		    strspn(seq, "0123456789") != strlen(seq) ||
		    strlen(id) >= sizeof(s->last_id))
			die_option("--last-event-id", c->o.last_id,
				   "--last-event-id %s: expected an event id, "
				   "RUN-SEQ (16 hex digits, a dash, a number) "
				   "or SEQ",
				   c->o.last_id);
		snprintf(s->last_id, sizeof(s->last_id), "%s", c->o.last_id);
	}
	for (;;) {
		struct http_client_response r;

		memset(&r, 0, sizeof(r));
		headers[0] = '\0';
		if (s->last_id[0])
			snprintf(headers, sizeof(headers),
				 "Last-Event-ID: %s\r\n", s->last_id);
		s->len = 0;
		rc = http_client_stream(&c->t, "/events", headers,
					hactl_sse_data, s, &r, err,
					sizeof(err));
		if (rc == 0 && r.status != 200) {
			hactl_print_error(&r, !c->t.socket_path[0]);
			rc = EXIT_API;
			http_client_response_free(&r);
			break;
		}
		if (rc < 0 && !connected_once && r.status != 200) {
			hactl_error("unreachable", NULL, NULL, "%s", err);
			rc = EXIT_API;
			break;
		}
		connected_once = true;
		/* The daemon went away (restart, reload): catch up where we
		 * left off once it is back. */
		hactl_error("stream-ended", NULL, NULL,
			    "event stream ended%s%s; reconnecting",
			    rc < 0 ? ": " : "", rc < 0 ? err : "");
		usleep((useconds_t)s->retry_ms * 1000);
	}
	free(s->data);
	free(s);
	return rc;
}

/* ---- the command table ---- */

static const char help_set[] =
	"  --target SIZE   steer the VM to this logical size; the target is\n"
	"                  manual until 'hactl release ID'\n"
	"  --min SIZE      smallest size the policy may give the VM\n"
	"  --max SIZE      largest size (at most the VM's RAM)\n"
	"  --shares N      weight in the shares policy, 1..100000\n"
	"  --auto on|off   soft-reclaim the VM's free memory automatically\n";

static const char help_policy_set[] =
	"  --name NAME     a built-in policy, or a plugin of policy.plugin_dir\n"
	"  --param K=V     a policy parameter (repeatable); V is JSON if\n"
	"                  it parses as JSON (numbers, true, {...}), else\n"
	"                  a string\n"
	"  --ratio R       overcommit ratio: sum of max over host memory,\n"
	"                  0.1..100\n"
	"  --reserve SIZE  memory kept free for the host\n"
	"  --tick MS       period of the policy engine in milliseconds,\n"
	"                  100..3600000\n";

static const char help_watch[] =
	"  --last-event-id ID  first replay the events after ID (RUN-SEQ,\n"
	"                      the id of an event) that the daemon still\n"
	"                      keeps; all of them if it restarted since\n";

static const struct command commands[] = {
	{ .name = "vms",
	  .usage = "",
	  .summary = "list the VMs",
	  .run = cmd_vms },
	{ .name = "show",
	  .usage = " ID",
	  .nargs = 1,
	  .summary = "one VM in detail: memory and counters",
	  .run = cmd_show },
	{ .name = "set",
	  .usage = " ID [options]",
	  .nargs = 1,
	  .summary = "change a VM's memory settings",
	  .help = help_set,
	  .options = O_TARGET | O_MIN | O_MAX | O_SHARES | O_AUTO,
	  .run = cmd_set },
	{ .name = "release",
	  .usage = " ID",
	  .nargs = 1,
	  .summary = "hand a VM's target back to the policy",
	  .run = cmd_release },
	{ .name = "host",
	  .usage = "",
	  .summary = "host memory and overcommit",
	  .run = cmd_host },
	{ .name = "policy",
	  .usage = "",
	  .summary = "show the active policy",
	  .run = cmd_policy },
	{ .name = "policy set",
	  .usage = " [options]",
	  .summary = "change the policy (kept as it was on any error)",
	  .help = help_policy_set,
	  .options = O_NAME | O_PARAM | O_RATIO | O_RESERVE | O_TICK,
	  .run = cmd_policy_set },
	{ .name = "watch",
	  .usage = " [--last-event-id ID]",
	  .summary = "follow the daemon's events, one line each",
	  .help = help_watch,
	  .options = O_LAST_ID,
	  .run = cmd_watch },
	{ .name = "metrics",
	  .usage = "",
	  .summary = "print the Prometheus metrics",
	  .run = cmd_metrics },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char common_help[] =
	"  --socket PATH      the daemon's unix socket (default\n"
	"                     $HACTL_SOCKET, else " DEFAULT_SOCKET ")\n"
	"  --url URL          use TCP instead, e.g. http://127.0.0.1:8080\n"
	"                     (default $HACTL_URL)\n"
	"  --token-file FILE  bearer token for changes over TCP (default\n"
	"                     $HACTL_TOKEN); not needed on the unix socket\n"
	"  --json             print the daemon's JSON instead of a table,\n"
	"                     and errors as JSON problem objects on stderr\n"
	"  -h, --help         this help\n";

static void usage(FILE *f)
{
	fprintf(f, "usage: hactl [options] COMMAND [ARGS]\n\n"
		   "Steer the memory of VMs through hyperallocd.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s", commands[i].name,
			 commands[i].usage);
		fprintf(f, "  %-30s %s\n", left, commands[i].summary);
	}
	fprintf(f,
		"\nOptions (with any command):\n%s\n"
		"Sizes are bytes or take a binary suffix: 512M, 1.5G, 2GiB.\n"
		"'hactl COMMAND --help' explains a command.\n"
		"Exit status: 0 ok, 1 the daemon refused or could not be "
		"reached, 2 usage.\n",
		common_help);
}

static void command_help(const struct command *cmd)
{
	printf("usage: hactl %s%s\n\n%s.\n", cmd->name, cmd->usage,
	       cmd->summary);
	if (cmd->help)
		printf("\nOptions:\n%s", cmd->help);
	printf("\nCommon options:\n%s", common_help);
}

/* Every option with a value: its name, the O_* bit for options of
 * particular commands (0: any command) and where the value goes. */
static const struct opt_spec {
	const char *name;
	unsigned bit;
	size_t offset; /* of a const char * in struct opts */
} opt_specs[] = {
	{ "socket", 0, offsetof(struct opts, socket) },
	{ "url", 0, offsetof(struct opts, url) },
	{ "token-file", 0, offsetof(struct opts, token_file) },
	{ "target", O_TARGET, offsetof(struct opts, target) },
	{ "min", O_MIN, offsetof(struct opts, min) },
	{ "max", O_MAX, offsetof(struct opts, max) },
	{ "shares", O_SHARES, offsetof(struct opts, shares) },
	{ "auto", O_AUTO, offsetof(struct opts, autor) },
	{ "name", O_NAME, offsetof(struct opts, name) },
	{ "param", O_PARAM, 0 }, /* repeatable: o->params[] */
	{ "ratio", O_RATIO, offsetof(struct opts, ratio) },
	{ "reserve", O_RESERVE, offsetof(struct opts, reserve) },
	{ "tick", O_TICK, offsetof(struct opts, tick) },
	{ "last-event-id", O_LAST_ID, offsetof(struct opts, last_id) },
};

#define N_SPECS	      (sizeof(opt_specs) / sizeof(opt_specs[0]))
#define OPT_SPEC_BASE 256 /* getopt value of opt_specs[0] */

static const char *option_name(unsigned bit)
{
	for (size_t i = 0; i < N_SPECS; i++)
		if (opt_specs[i].bit == bit)
			return opt_specs[i].name;
	return "?";
}

static void parse_options(int argc, char **argv, struct opts *o)
{
	struct option lo[N_SPECS + 3] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
	};
	int ch;

	for (size_t i = 0; i < N_SPECS; i++)
		lo[2 + i] = (struct option){ opt_specs[i].name,
					     required_argument, NULL,
					     OPT_SPEC_BASE + (int)i };
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		const struct opt_spec *spec;

		if (ch == 'j') {
			o->json = true;
			continue;
		}
		if (ch == 'h') {
			o->help = true;
			continue;
		}
		if (ch < OPT_SPEC_BASE)
			die_usage("unknown option, or one missing its value: "
				  "%s",
				  argv[optind - 1]);
		spec = &opt_specs[ch - OPT_SPEC_BASE];
		o->used |= spec->bit;
		if (spec->bit == O_PARAM) {
			if (o->n_params == PARAMS_MAX)
				die_usage("at most %d --param", PARAMS_MAX);
			o->params[o->n_params++] = optarg;
		} else {
			memcpy((char *)o + spec->offset, &optarg,
			       sizeof(optarg));
		}
	}
}

static void read_token(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		die_usage("--token-file %s: %s", path, strerror(errno));
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n \t");
	buf[n] = '\0';
	if (!buf[0])
		die_usage("--token-file %s is empty", path);
}

static void setup_target(struct ctx *c)
{
	const char *url = c->o.url;
	const char *sock = c->o.socket;
	const char *token = getenv("HACTL_TOKEN");

	memset(&c->t, 0, sizeof(c->t));
	if (!sock && !url) {
		url = getenv("HACTL_URL");
		if (!url || !*url) {
			url = NULL;
			sock = getenv("HACTL_SOCKET");
			if (!sock || !*sock)
				sock = DEFAULT_SOCKET;
		}
	}
	if (sock && url)
		die_usage("--socket and --url exclude each other");
	if (sock) {
		if (strlen(sock) >= sizeof(c->t.socket_path))
			die_usage("--socket %s: path too long", sock);
		strcpy(c->t.socket_path, sock);
	} else if (http_client_target_url(url, &c->t) < 0) {
		die_usage("--url %s: expected http://HOST:PORT", url);
	}
	if (c->o.token_file)
		read_token(c->o.token_file, c->t.token, sizeof(c->t.token));
	else if (token && *token)
		snprintf(c->t.token, sizeof(c->t.token), "%s", token);
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct ctx c;
	int skip = 1;

	memset(&c, 0, sizeof(c));
	/* Before parsing: an error in an option before --json is JSON too. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		json_mode |= strcmp(argv[i], "--json") == 0;
	hactl_json_errors(json_mode);
	parse_options(argc, argv, &c.o);
	if (optind >= argc) {
		if (c.o.help) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "policy") == 0 && optind + 1 < argc &&
	    strcmp(argv[optind + 1], "set") == 0)
		skip = 2;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const char *want = skip == 2 ? "policy set" : argv[optind];

		if (strcmp(commands[i].name, want) == 0)
			cmd = &commands[i];
	}
	if (!cmd)
		die_usage("unknown command '%s'", argv[optind]);
	if (c.o.help) {
		command_help(cmd);
		return 0;
	}
	c.args = argv + optind + skip;
	c.nargs = argc - optind - skip;
	if (c.nargs != cmd->nargs)
		die_usage("%s: expected %s%s", cmd->name,
			  cmd->nargs ? "ID" : "no arguments",
			  c.nargs > cmd->nargs && cmd->nargs ? " only" : "");
	for (unsigned bit = 1; bit <= O_LAST_ID; bit <<= 1)
		if ((c.o.used & bit) && !(cmd->options & bit))
			die_usage("%s is not an option of '%s'",
				  option_name(bit), cmd->name);
	setup_target(&c);
	return cmd->run(&c);
}
