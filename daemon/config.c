// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration file parsing (JSON, jansson). Strict: unknown keys and
 * wrong types are errors that name the field and, where it can be found,
 * the line.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user/size.h"

struct parser {
	const char *text; /* raw file, for line numbers */
	struct config_error *err;
	char path[128]; /* JSON path of the value being parsed */
};

/* Line of the value at @path ("a.b[2].c") in @text, best effort: find
 * each key in turn after the previous one; for an index, skip that many
 * occurrences of the next key. 0 when not found. */
static int find_line(const char *text, const char *path)
{
	const char *pos = text;
	char key[128];
	const char *p = path;

	if (!text)
		return 0;
	while (*p) {
		size_t n = strcspn(p, ".[");
		unsigned skip = 0;

		snprintf(key, sizeof(key), "\"%.*s\"", (int)n, p);
		p += n;
		if (*p == '[') {
			skip = (unsigned)strtoul(p + 1, NULL, 10);
			p = strchr(p, ']');
			if (!p)
				return 0;
			p++;
		}
		if (*p == '.')
			p++;
		if (n == 0)
			continue;
		pos = strstr(pos, key);
		if (!pos)
			return 0;
		pos += strlen(key);
		if (skip && *p) {
			/* Element @skip of an array of objects: skip that
			 * many occurrences of the next key. */
			size_t m = strcspn(p, ".[");

			snprintf(key, sizeof(key), "\"%.*s\"", (int)m, p);
			for (unsigned i = 0; i < skip && pos; i++) {
				pos = strstr(pos, key);
				if (pos)
					pos += strlen(key);
			}
			if (!pos)
				return 0;
		}
	}
	int line = 1;

	for (const char *c = text; c < pos; c++)
		if (*c == '\n')
			line++;
	return line;
}

__attribute__((format(printf, 2, 3))) static int perr(struct parser *ps,
						      const char *fmt, ...)
{
	va_list ap;

	snprintf(ps->err->field, sizeof(ps->err->field), "%s", ps->path);
	ps->err->line = find_line(ps->text, ps->path);
	va_start(ap, fmt);
	vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Set ps->path to "<prefix>.<key>" for the duration of a field parse. */
static void path_push(struct parser *ps, const char *prefix, const char *key)
{
	if (prefix[0])
		snprintf(ps->path, sizeof(ps->path), "%s.%s", prefix, key);
	else
		snprintf(ps->path, sizeof(ps->path), "%s", key);
}

static int get_string(struct parser *ps, json_t *v, char **ret, bool nullable)
{
	if (json_is_null(v) && nullable) {
		free(*ret);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return perr(ps, "expected a string%s",
			    nullable ? " or null" : "");
	char *s = strdup(json_string_value(v));

	if (!s)
		return -ENOMEM;
	free(*ret);
	*ret = s;
	return 0;
}

static int get_buf(struct parser *ps, json_t *v, char *buf, size_t len)
{
	if (!json_is_string(v))
		return perr(ps, "expected a string");
	if (strlen(json_string_value(v)) >= len)
		return perr(ps, "longer than %zu characters", len - 1);
	snprintf(buf, len, "%s", json_string_value(v));
	return 0;
}

static int get_bool(struct parser *ps, json_t *v, bool *ret)
{
	if (!json_is_boolean(v))
		return perr(ps, "expected true or false");
	*ret = json_is_true(v);
	return 0;
}

static int get_uint(struct parser *ps, json_t *v, uint64_t lo, uint64_t hi,
		    uint64_t *ret)
{
	if (!json_is_integer(v))
		return perr(ps, "expected an integer");
	json_int_t i = json_integer_value(v);

	if (i < 0 || (uint64_t)i < lo || (uint64_t)i > hi)
		return perr(ps, "%lld is outside %llu..%llu", (long long)i,
			    (unsigned long long)lo, (unsigned long long)hi);
	*ret = (uint64_t)i;
	return 0;
}

static int get_double(struct parser *ps, json_t *v, double lo, double hi,
		      double *ret)
{
	if (!json_is_number(v))
		return perr(ps, "expected a number");
	double d = json_number_value(v);

	if (!(d >= lo && d <= hi))
		return perr(ps, "%g is outside %g..%g", d, lo, hi);
	*ret = d;
	return 0;
}

/* A size: an integer (bytes) or a string like "1.5G". */
static int get_size(struct parser *ps, json_t *v, uint64_t *ret)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return perr(ps, "size must not be negative");
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return perr(ps, "expected a size (bytes, or a string like "
				"\"512M\")");
	if (ha_parse_size(json_string_value(v), ret) < 0)
		return perr(ps,
			    "\"%s\" is not a size (examples: 4096, "
			    "\"512M\", \"1.5G\")",
			    json_string_value(v));
	return 0;
}

static int check_object(struct parser *ps, json_t *v)
{
	if (!json_is_object(v))
		return perr(ps, "expected an object");
	return 0;
}

static int unknown_key(struct parser *ps, const char *prefix, const char *key)
{
	path_push(ps, prefix, key);
	return perr(ps, "unknown setting");
}

/*
 * @section's connections_per_client against its connections_max: the
 * default follows a smaller connections_max; a value given explicitly
 * must fit.
 */
static int check_share(struct parser *ps, const char *section,
		       bool per_client_set, uint64_t max, uint64_t *per_client)
{
	if (!per_client_set && *per_client > max)
		*per_client = max;
	if (*per_client > max) {
		path_push(ps, section, "connections_per_client");
		return perr(ps,
			    "%llu is above %s.connections_max (%llu): one "
			    "client could take every connection",
			    (unsigned long long)*per_client, section,
			    (unsigned long long)max);
	}
	return 0;
}

static int parse_api(struct parser *ps, json_t *o, struct config *c)
{
	bool per_client_set = false;
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "api", key);
		if (strcmp(key, "tcp") == 0)
			r = get_string(ps, v, &c->api.tcp, true);
		else if (strcmp(key, "unix") == 0)
			r = get_string(ps, v, &c->api.unix_path, true);
		else if (strcmp(key, "token_file") == 0)
			r = get_string(ps, v, &c->api.token_file, false);
		else if (strcmp(key, "unix_group") == 0)
			r = get_string(ps, v, &c->api.unix_group, true);
		else if (strcmp(key, "max_body_bytes") == 0)
			r = get_uint(ps, v, 256, 64ull << 20,
				     &c->api.max_body_bytes);
		else if (strcmp(key, "idle_timeout_s") == 0)
			r = get_uint(ps, v, 1, 3600, &c->api.idle_timeout_s);
		else if (strcmp(key, "header_timeout_s") == 0)
			r = get_uint(ps, v, 1, 3600, &c->api.header_timeout_s);
		else if (strcmp(key, "connections_max") == 0)
			r = get_uint(ps, v, 2, 65536, &c->api.connections_max);
		else if (strcmp(key, "connections_per_client") == 0) {
			r = get_uint(ps, v, 1, 65536,
				     &c->api.connections_per_client);
			per_client_set = true;
		} else
			r = unknown_key(ps, "api", key);
		if (r < 0)
			return r;
	}
	r = check_share(ps, "api", per_client_set, c->api.connections_max,
			&c->api.connections_per_client);
	if (r < 0)
		return r;
	if (c->api.tcp && !strchr(c->api.tcp, ':')) {
		path_push(ps, "api", "tcp");
		return perr(ps, "\"%s\" is not host:port", c->api.tcp);
	}
	return 0;
}

static int parse_grpc(struct parser *ps, json_t *o, struct config *c)
{
	bool per_client_set = false;
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "grpc", key);
		if (strcmp(key, "tcp") == 0)
			r = get_string(ps, v, &c->grpc.tcp, true);
		else if (strcmp(key, "unix") == 0)
			r = get_string(ps, v, &c->grpc.unix_path, true);
		else if (strcmp(key, "connections_max") == 0)
			r = get_uint(ps, v, 2, 65536, &c->grpc.connections_max);
		else if (strcmp(key, "connections_per_client") == 0) {
			r = get_uint(ps, v, 1, 65536,
				     &c->grpc.connections_per_client);
			per_client_set = true;
		} else
			r = unknown_key(ps, "grpc", key);
		if (r < 0)
			return r;
	}
	return check_share(ps, "grpc", per_client_set, c->grpc.connections_max,
			   &c->grpc.connections_per_client);
}

static int parse_guest(struct parser *ps, json_t *o, size_t idx,
		       struct config_sim_guest *g)
{
	char prefix[64];
	const char *key;
	json_t *v;
	uint64_t u;
	int r;

	snprintf(prefix, sizeof(prefix), "sim.guests[%zu]", idx);
	snprintf(ps->path, sizeof(ps->path), "%s", prefix);
	if ((r = check_object(ps, o)) < 0)
		return r;
	*g = (struct config_sim_guest){ .vcpus = 2,
					.time_scale = 1.0,
					.loop = true };
	snprintf(g->trace, sizeof(g->trace), "steady");
	json_object_foreach(o, key, v) {
		path_push(ps, prefix, key);
		if (strcmp(key, "name") == 0) {
			r = get_buf(ps, v, g->name, sizeof(g->name));
			if (r == 0 && !vm_id_valid(g->name))
				r = perr(
					ps,
					"\"%s\": use 1-63 of A-Z a-z 0-9 . _ -",
					g->name);
		} else if (strcmp(key, "memory") == 0) {
			r = get_size(ps, v, &g->memory_bytes);
			if (r == 0 && (g->memory_bytes < (32ull << 20) ||
				       g->memory_bytes > (1ull << 40)))
				r = perr(ps, "must be between 32M and 1T");
		} else if (strcmp(key, "trace") == 0) {
			r = get_buf(ps, v, g->trace, sizeof(g->trace));
		} else if (strcmp(key, "vcpus") == 0) {
			r = get_uint(ps, v, 1, 256, &u);
			g->vcpus = (unsigned)u;
		} else if (strcmp(key, "time_scale") == 0) {
			r = get_double(ps, v, 0.001, 10000, &g->time_scale);
		} else if (strcmp(key, "loop") == 0) {
			r = get_bool(ps, v, &g->loop);
		} else if (strcmp(key, "fpr") == 0) {
			r = get_bool(ps, v, &g->fpr);
		} else if (strcmp(key, "thp") == 0) {
			r = get_bool(ps, v, &g->thp);
		} else {
			r = unknown_key(ps, prefix, key);
		}
		if (r < 0)
			return r;
	}
	if (!g->name[0]) {
		snprintf(ps->path, sizeof(ps->path), "%s", prefix);
		return perr(ps, "\"name\" is required");
	}
	if (!g->memory_bytes) {
		snprintf(ps->path, sizeof(ps->path), "%s", prefix);
		return perr(ps, "\"memory\" is required");
	}
	return 0;
}

static int parse_sim(struct parser *ps, json_t *o, struct config *c)
{
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "sim", key);
		if (strcmp(key, "socket") == 0) {
			r = get_string(ps, v, &c->sim.socket, true);
		} else if (strcmp(key, "simguest") == 0) {
			r = get_string(ps, v, &c->sim.simguest, false);
		} else if (strcmp(key, "trace_dir") == 0) {
			r = get_string(ps, v, &c->sim.trace_dir, false);
		} else if (strcmp(key, "restart_window_ms") == 0) {
			r = get_uint(ps, v, 100, 86400000,
				     &c->sim.restart_window_ms);
		} else if (strcmp(key, "guests") == 0) {
			if (!json_is_array(v))
				return perr(ps, "expected an array");
			size_t n = json_array_size(v);

			if (n > CONFIG_SIM_GUESTS_MAX)
				return perr(ps, "at most %d guests",
					    CONFIG_SIM_GUESTS_MAX);
			free(c->sim.guests);
			c->sim.guests =
				calloc(n ? n : 1, sizeof(*c->sim.guests));
			if (!c->sim.guests)
				return -ENOMEM;
			c->sim.n_guests = n;
			for (size_t i = 0; i < n; i++) {
				r = parse_guest(ps, json_array_get(v, i), i,
						&c->sim.guests[i]);
				if (r < 0)
					return r;
				for (size_t j = 0; j < i; j++) {
					if (strcmp(c->sim.guests[j].name,
						   c->sim.guests[i].name))
						continue;
					snprintf(ps->path, sizeof(ps->path),
						 "sim.guests[%zu].name", i);
					return perr(ps, "duplicate name \"%s\"",
						    c->sim.guests[i].name);
				}
			}
			r = 0;
		} else {
			r = unknown_key(ps, "sim", key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_libvirt(struct parser *ps, json_t *o, struct config *c)
{
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "libvirt", key);
		if (strcmp(key, "enabled") == 0)
			r = get_bool(ps, v, &c->libvirt.enabled);
		else if (strcmp(key, "uri") == 0)
			r = get_string(ps, v, &c->libvirt.uri, false);
		else
			r = unknown_key(ps, "libvirt", key);
		if (r < 0)
			return r;
	}
	return 0;
}

/* An absolute, normalised directory path (no "." or ".." component). */
static int check_plugin_dir(struct parser *ps, const char *dir)
{
	if (dir[0] != '/')
		return perr(ps,
			    "policy.plugin_dir \"%s\" is not an absolute path",
			    dir);
	for (const char *p = dir; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return perr(ps,
				    "policy.plugin_dir \"%s\" has a \".\" or "
				    "\"..\" component",
				    dir);
		p += n;
	}
	if (strlen(dir) > 1024)
		return perr(ps,
			    "policy.plugin_dir \"%.64s...\" is longer than "
			    "1024 characters",
			    dir);
	return 0;
}

static int parse_policy(struct parser *ps, json_t *o, struct config *c)
{
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "policy", key);
		if (strcmp(key, "name") == 0) {
			r = get_string(ps, v, &c->policy.name, false);
		} else if (strcmp(key, "plugin_dir") == 0) {
			r = get_string(ps, v, &c->policy.plugin_dir, false);
			if (r == 0)
				r = check_plugin_dir(ps, c->policy.plugin_dir);
		} else if (strcmp(key, "params") == 0) {
			if (!json_is_object(v))
				return perr(ps, "expected an object");
			char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

			if (!s)
				return -ENOMEM;
			free(c->policy.params_json);
			c->policy.params_json = s;
			r = 0;
		} else if (strcmp(key, "tick_ms") == 0) {
			r = get_uint(ps, v, 100, 3600000, &c->policy.tick_ms);
		} else if (strcmp(key, "overcommit_ratio") == 0) {
			r = get_double(ps, v, 0.1, 100,
				       &c->policy.overcommit_ratio);
		} else if (strcmp(key, "host_reserve") == 0) {
			r = get_size(ps, v, &c->policy.host_reserve_bytes);
		} else if (strcmp(key, "max_step") == 0) {
			r = get_size(ps, v, &c->policy.max_step_bytes);
		} else if (strcmp(key, "stuck_after_ms") == 0) {
			r = get_uint(ps, v, 0, 86400000,
				     &c->policy.stuck_after_ms);
		} else if (strcmp(key, "stuck_holdoff_ms") == 0) {
			r = get_uint(ps, v, 0, 86400000,
				     &c->policy.stuck_holdoff_ms);
		} else {
			r = unknown_key(ps, "policy", key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_defaults(struct parser *ps, json_t *o, struct config *c)
{
	const char *key;
	json_t *v;
	uint64_t u;
	int r;

	json_object_foreach(o, key, v) {
		path_push(ps, "defaults", key);
		if (strcmp(key, "min_memory") == 0) {
			r = get_size(ps, v, &c->defaults.min_bytes);
		} else if (strcmp(key, "shares") == 0) {
			r = get_uint(ps, v, 1, 100000, &u);
			c->defaults.shares = (uint32_t)u;
		} else {
			r = unknown_key(ps, "defaults", key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

typedef int (*section_fn)(struct parser *ps, json_t *o, struct config *c);

static const struct {
	const char *name;
	section_fn parse;
} sections[] = {
	{ .name = "api", .parse = parse_api },
	{ .name = "grpc", .parse = parse_grpc },
	{ .name = "sim", .parse = parse_sim },
	{ .name = "libvirt", .parse = parse_libvirt },
	{ .name = "policy", .parse = parse_policy },
	{ .name = "defaults", .parse = parse_defaults },
};

static int parse_root(struct parser *ps, json_t *root, struct config *c)
{
	const char *key;
	json_t *v;
	int r;

	snprintf(ps->path, sizeof(ps->path), "(top level)");
	if ((r = check_object(ps, root)) < 0)
		return r;
	json_object_foreach(root, key, v) {
		size_t i;

		path_push(ps, "", key);
		if (strcmp(key, "log_level") == 0) {
			if (!json_is_string(v) ||
			    log_level_from_string(json_string_value(v),
						  &c->log_level) < 0)
				return perr(ps, "expected one of err, warning, "
						"notice, info, debug");
			continue;
		}
		if (strcmp(key, "state_file") == 0) {
			r = get_string(ps, v, &c->state_file, true);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(key, "runtime_dir") == 0) {
			r = get_string(ps, v, &c->runtime_dir, false);
			if (r < 0)
				return r;
			continue;
		}
		for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
			if (strcmp(key, sections[i].name) == 0)
				break;
		if (i == sizeof(sections) / sizeof(sections[0]))
			return unknown_key(ps, "", key);
		if ((r = check_object(ps, v)) < 0)
			return r;
		if ((r = sections[i].parse(ps, v, c)) < 0)
			return r;
	}
	return 0;
}

struct config *config_new_default(void)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->log_level = LOG_LEVEL_INFO;
	c->state_file = strdup("/var/lib/hyperalloc/state.json");
	c->runtime_dir = strdup("/run/hyperalloc");
	c->api.tcp = strdup("127.0.0.1:8080");
	c->api.unix_path = strdup("/run/hyperalloc/hyperallocd.sock");
	c->api.token_file = strdup("/var/lib/hyperalloc/api-token");
	c->api.max_body_bytes = 64 * 1024;
	c->api.idle_timeout_s = 60;
	c->api.header_timeout_s = 30;
	c->api.connections_max = 256;
	c->api.connections_per_client = 32;
	c->grpc.tcp = strdup("127.0.0.1:8081");
	c->grpc.unix_path = strdup("/run/hyperalloc/grpc.sock");
	c->grpc.connections_max = 256;
	c->grpc.connections_per_client = 32;
	c->sim.socket = strdup("/run/hyperalloc/sim.sock");
	c->sim.simguest = strdup("/usr/libexec/hyperalloc/ha-simguest");
	c->sim.trace_dir = strdup("/usr/share/hyperalloc/traces");
	c->sim.restart_window_ms = 60000;
	c->libvirt.enabled = false;
	c->libvirt.uri = strdup("qemu:///system");
	c->policy.name = strdup("static");
	c->policy.params_json = strdup("{}");
	c->policy.plugin_dir = strdup(CONFIG_PLUGIN_DIR);
	c->policy.tick_ms = 1000;
	c->policy.overcommit_ratio = 1.0;
	c->policy.host_reserve_bytes = 1ull << 30;
	c->policy.max_step_bytes = 1ull << 30;
	c->policy.stuck_after_ms = 10000;
	c->policy.stuck_holdoff_ms = 60000;
	c->defaults.min_bytes = 256ull << 20;
	c->defaults.shares = 1000;
	if (!c->state_file || !c->runtime_dir || !c->api.tcp ||
	    !c->api.unix_path || !c->api.token_file || !c->grpc.tcp ||
	    !c->grpc.unix_path || !c->sim.socket || !c->sim.simguest ||
	    !c->sim.trace_dir || !c->libvirt.uri || !c->policy.name ||
	    !c->policy.params_json || !c->policy.plugin_dir) {
		config_free(c);
		return NULL;
	}
	return c;
}

int config_load_string(const char *text, const char *name, struct config **ret,
		       struct config_error *err)
{
	struct parser ps = { .text = text, .err = err };
	struct config *c;
	json_error_t jerr;
	json_t *root;
	int r;

	memset(err, 0, sizeof(*err));
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err->line = jerr.line;
		snprintf(err->field, sizeof(err->field), "(syntax)");
		snprintf(err->message, sizeof(err->message),
			 "%s: %s (column %d)", name, jerr.text, jerr.column);
		return -EINVAL;
	}
	c = config_new_default();
	if (!c) {
		json_decref(root);
		return -ENOMEM;
	}
	r = parse_root(&ps, root, c);
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err->message, sizeof(err->message),
				 "out of memory");
		config_free(c);
		return r;
	}
	c->path = strdup(name);
	*ret = c;
	return 0;
}

int config_load(const char *path, struct config **ret, struct config_error *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	memset(err, 0, sizeof(*err));
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err->message, sizeof(err->message),
			 "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	FILE *mem = open_memstream(&text, &len);
	char buf[4096];
	size_t n;

	if (!mem) {
		fclose(f);
		return -ENOMEM;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	fclose(mem);
	if (len > 16u << 20) {
		free(text);
		snprintf(err->message, sizeof(err->message),
			 "%s is larger than 16 MiB", path);
		return -EFBIG;
	}
	r = config_load_string(text, path, ret, err);
	free(text);
	return r;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->state_file);
	free(c->runtime_dir);
	free(c->api.tcp);
	free(c->api.unix_path);
	free(c->api.token_file);
	free(c->api.unix_group);
	free(c->grpc.tcp);
	free(c->grpc.unix_path);
	free(c->sim.socket);
	free(c->sim.simguest);
	free(c->sim.trace_dir);
	free(c->sim.guests);
	free(c->libvirt.uri);
	free(c->policy.name);
	free(c->policy.params_json);
	free(c->policy.plugin_dir);
	free(c);
}
