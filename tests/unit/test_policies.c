// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The built-in policies (policies/), table by table: snapshot in,
 * targets and reasons out, over single ticks and tick sequences, plus
 * inputs no sane host produces.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pace.h"
#include "policy.h"
#include "policy_util.h"
#include "vmtab.h"

#define MIB  (1ull << 20)
#define GIB  (1ull << 30)
#define MAXP 16

/* ---- helpers ---- */

struct params {
	char buf[512];
	struct ha_policy_param p[MAXP];
	size_t n;
};

/* "a=1 b=2" -> key/value pairs (pointing into ps->buf). */
static void params_from(struct params *ps, const char *text)
{
	char *save = NULL, *tok;

	ps->n = 0;
	snprintf(ps->buf, sizeof(ps->buf), "%s", text ? text : "");
	for (tok = strtok_r(ps->buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		ck_assert_msg(eq && ps->n < MAXP, "bad test params %s", text);
		*eq = '\0';
		ps->p[ps->n].key = tok;
		ps->p[ps->n].value = eq + 1;
		ps->n++;
	}
}

struct pol {
	const struct ha_policy_ops *ops;
	void *state;
};

static struct pol pol_open(const char *name, const char *params)
{
	struct params ps;
	struct pol p = { .ops = ha_policy_builtin(name) };
	char err[256] = "";
	int r;

	ck_assert_msg(p.ops, "no built-in %s", name);
	params_from(&ps, params);
	r = p.ops->init(ps.p, ps.n, &p.state, err, sizeof(err));
	ck_assert_msg(r == 0, "%s init(%s): %d %s", name, params, r, err);
	return p;
}

static void pol_close(struct pol *p)
{
	p->ops->fini(p->state);
}

/* A VM as the sim backend reports one: 8 GiB, 2 GiB used. */
static struct ha_policy_vm vm_default(const char *id)
{
	return (struct ha_policy_vm){
		.id = id,
		.mechanism = HA_POLICY_MECH_SIM,
		.can_soft_reclaim = true,
		.max_bytes = 8 * GIB,
		.min_bytes = 0,
		.shares = 1000,
		.target_bytes = 8 * GIB,
		.current_bytes = 8 * GIB,
		.host_resident_bytes = 2 * GIB,
		.guest_free_bytes = 6 * GIB,
		.guest_used_bytes = 2 * GIB,
	};
}

static const struct ha_policy_host host_default = {
	.total_bytes = 64 * GIB,
	.available_bytes = 48 * GIB,
	.reserve_bytes = 0,
	.overcommit_ratio = 1.0,
	.psi_some_avg10 = 0,
	.psi_full_avg10 = 0,
	.now_ms = 1000,
	.tick_ms = 1000,
};

/* The engine's pre-fill: the last decision (max for a VM never seen). */
static void prefill(const struct ha_policy_vm *vms, size_t n,
		    struct ha_policy_target *t)
{
	for (size_t i = 0; i < n; i++)
		t[i] = (struct ha_policy_target){
			.target_bytes = vms[i].max_bytes,
		};
}

static uint64_t g(double gib)
{
	return (uint64_t)(gib * (double)GIB);
}

/* ---- registry ---- */

START_TEST(test_registry)
{
	static const char *const names[] = { "static", "auto-reclaim", "shares",
					     "working-set", "pressure" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct ha_policy_ops *o = ha_policy_builtin(names[i]);

		ck_assert_msg(o, "%s not registered", names[i]);
		ck_assert_str_eq(o->name, names[i]);
		ck_assert_uint_eq(o->abi_version, HA_POLICY_ABI_VERSION);
		ck_assert(o->init && o->decide && o->fini && o->description);
		o->fini(NULL); /* destructors accept NULL */
	}
	for (size_t i = 0; ha_policy_builtins[i]; i++)
		for (size_t k = i + 1; ha_policy_builtins[k]; k++)
			ck_assert_str_ne(ha_policy_builtins[i]->name,
					 ha_policy_builtins[k]->name);
	ck_assert_ptr_null(ha_policy_builtin("no-such-policy"));
	for (int r = 0; r < HA_REASON_COUNT; r++)
		ck_assert_str_ne(ha_policy_reason_str((enum ha_policy_reason)r),
				 "unknown");
}
END_TEST

/* ---- init: parameters are validated, with a message naming them ---- */

/* clang-format off */
static const struct {
	const char *policy, *params;
	int expect;
	const char *msg; /* substring of the error */
} inits[] = {
	{ "static", "", 0, NULL },
	{ "static", "x=1", -EINVAL, "unknown parameter \"x\"" },
	{ "auto-reclaim", "", 0, NULL },
	{ "auto-reclaim", "interval_ms=100 keep_free=67108864 hysteresis=0",
	  0, NULL },
	{ "auto-reclaim", "interval_ms=-1", -EINVAL, "interval_ms" },
	{ "auto-reclaim", "interval_ms=1.5", -EINVAL, "interval_ms" },
	{ "auto-reclaim", "interval_ms=86400001", -EINVAL, "outside" },
	{ "auto-reclaim", "keep_free=lots", -EINVAL, "keep_free" },
	{ "auto-reclaim", "auto_reclaim=true", -EINVAL, "unknown parameter" },
	{ "shares", "fill=0.5 budget=4294967296 max_step=0", 0, NULL },
	{ "shares", "fill=0", -EINVAL, "fill" },
	{ "shares", "fill=1.5", -EINVAL, "outside" },
	{ "shares", "fill=nan", -EINVAL, "fill" },
	{ "shares", "budget=-5", -EINVAL, "budget" },
	{ "shares", "auto_reclaim=maybe", -EINVAL, "not true or false" },
	{ "shares", "auto_reclaim=true interval_ms=500", 0, NULL },
	{ "working-set", "decay=0.125 headroom=0.2 headroom_min=0", 0, NULL },
	{ "working-set", "decay=2", -EINVAL, "decay" },
	{ "working-set", "idle_tax=-0.1", -EINVAL, "idle_tax" },
	{ "working-set", "headroom=", -EINVAL, "headroom" },
	{ "working-set", "window=5", -EINVAL, "unknown parameter \"window\"" },
	{ "pressure", "max_probe=0.02 max_backoff=2 host_psi=0", 0, NULL },
	{ "pressure", "max_probe=1.5", -EINVAL, "max_probe" },
	{ "pressure", "install_target=-1", -EINVAL, "install_target" },
	{ "pressure", "min_free=1e9", -EINVAL, "min_free" },
	{ "pressure", "host_psi=101", -EINVAL, "host_psi" },
	/* One parameter table for every policy: the same sentences. */
	{ "auto-reclaim", "every=1", -EINVAL, "unknown parameter \"every\" "
	  "(known: interval_ms keep_free hysteresis)" },
	{ "shares", "colour=red fill=0.5", -EINVAL, "unknown parameter "
	  "\"colour\" (known: fill budget max_step auto_reclaim interval_ms "
	  "keep_free hysteresis)" },
	{ "shares", "max_step=x", -EINVAL,
	  "parameter max_step: \"x\" is not a non-negative integer" },
	{ "working-set", "resize=1", -EINVAL,
	  "parameter resize: \"1\" is not true or false" },
	{ "working-set", "idle_window_ms=86400001", -EINVAL,
	  "parameter idle_window_ms: 86400001 is outside 0..86400000" },
	{ "pressure", "coeff_probe=inf", -EINVAL,
	  "parameter coeff_probe: \"inf\" is not a number" },
	{ "pressure", "max_backoff=11", -EINVAL,
	  "parameter max_backoff: 11 is outside 0..10" },
	{ "pressure", "resize=false keep_free=0 hysteresis=0 auto_reclaim=true",
	  0, NULL },
};
/* clang-format on */

START_TEST(test_init)
{
	const struct ha_policy_ops *o = ha_policy_builtin(inits[_i].policy);
	struct params ps;
	char err[256] = "";
	void *state = (void *)&ps; /* must be reset by init */
	int r;

	params_from(&ps, inits[_i].params);
	r = o->init(ps.p, ps.n, &state, err, sizeof(err));
	ck_assert_msg(r == inits[_i].expect, "%s(%s): %d (%s)",
		      inits[_i].policy, inits[_i].params, r, err);
	if (r < 0) {
		ck_assert_ptr_null(state);
		ck_assert_msg(strstr(err, inits[_i].msg), "%s(%s): \"%s\"",
			      inits[_i].policy, inits[_i].params, err);
	}
	o->fini(r == 0 ? state : NULL);
}
END_TEST

/* ---- static ---- */

START_TEST(test_static)
{
	struct pol p = pol_open("static", "");
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_target t = { .target_bytes = GIB,
				      .auto_reclaim = true };

	p.ops->decide(p.state, &host_default, &v, 1, &t);
	ck_assert_uint_eq(t.target_bytes, 8 * GIB);
	ck_assert(!t.auto_reclaim);
	ck_assert_int_eq(t.reason, HA_REASON_STATIC);
	pol_close(&p);
}
END_TEST

/* ---- auto-reclaim: tick sequences ---- */

#define TICKS 8

/* clang-format off */
static const struct {
	const char *name, *params;
	bool can_soft;
	size_t n;
	uint64_t now[TICKS];
	uint64_t free_installed[TICKS]; /* MiB */
	int reclaim[TICKS];
	uint64_t keep; /* expected keep_free_bytes when reclaiming */
} ar[] = {
	{ "default: every 5 s, no threshold", "", true, 7,
	  { 1000, 2000, 3000, 4000, 5000, 6000, 7000 },
	  { 0, 0, 0, 0, 0, 0, 0 },
	  { 1, 0, 0, 0, 0, 1, 0 }, 0 },
	{ "interval 3 s", "interval_ms=3000", true, 7,
	  { 1000, 2000, 3000, 4000, 5000, 6000, 7000 },
	  { 9, 9, 9, 9, 9, 9, 9 },
	  { 1, 0, 0, 1, 0, 0, 1 }, 0 },
	{ "late and early timers", "interval_ms=3000", true, 5,
	  { 1000, 2003, 3010, 3999, 6400 },
	  { 9, 9, 9, 9, 9 },
	  { 1, 0, 0, 1, 0 }, 0 },
	{ "every tick", "interval_ms=0 keep_free=67108864", true, 3,
	  { 1000, 2000, 3000 },
	  { 1, 1, 1 },
	  { 1, 1, 1 }, 64 * MIB },
	{ "hysteresis",
	  "interval_ms=0 keep_free=67108864 hysteresis=134217728", true, 5,
	  { 1000, 2000, 3000, 4000, 5000 },
	  { 300, 150, 192, 193, 0 },
	  { 1, 0, 0, 1, 0 }, 64 * MIB },
	{ "clock goes back", "interval_ms=3000", true, 4,
	  { 50000, 51000, 1000, 2000 },
	  { 9, 9, 9, 9 },
	  { 1, 0, 1, 0 }, 0 },
	{ "mechanism without soft reclaim", "interval_ms=0", false, 3,
	  { 1000, 2000, 3000 },
	  { 500, 500, 500 },
	  { 0, 0, 0 }, 0 },
};
/* clang-format on */

START_TEST(test_auto_reclaim)
{
	struct pol p = pol_open("auto-reclaim", ar[_i].params);
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;

	v.can_soft_reclaim = ar[_i].can_soft;
	v.target_bytes = v.current_bytes = 6 * GIB; /* logical size down */
	for (size_t k = 0; k < ar[_i].n; k++) {
		struct ha_policy_target t;

		h.now_ms = ar[_i].now[k];
		v.free_huge_installed_bytes = ar[_i].free_installed[k] * MIB;
		prefill(&v, 1, &t);
		t.auto_reclaim = true; /* must be decided, not kept */
		p.ops->decide(p.state, &h, &v, 1, &t);
		ck_assert_msg(t.auto_reclaim == (ar[_i].reclaim[k] != 0),
			      "%s: tick %zu: auto_reclaim %d", ar[_i].name, k,
			      t.auto_reclaim);
		ck_assert_uint_eq(t.keep_free_bytes,
				  t.auto_reclaim ? ar[_i].keep : 0);
		/* soft reclaim only: the logical size goes back to max */
		ck_assert_uint_eq(t.target_bytes, v.max_bytes);
		ck_assert_int_eq(t.reason, HA_REASON_AUTO_RECLAIM);
	}
	pol_close(&p);
}
END_TEST

/* ---- shares: one tick, several VMs ---- */

#define VMS 3

struct svm {
	double min, max, target, current; /* GiB */
	uint32_t shares;
	bool manual;
};

/* clang-format off */
static const struct {
	const char *name, *params;
	double total, reserve, ratio; /* GiB, GiB, factor */
	size_t n;
	struct svm vm[VMS];
	double expect[VMS]; /* GiB; < 0: untouched (pre-fill kept) */
	enum ha_policy_reason reason;
} sh[] = {
	{ "1:3 above the mins", "budget=4294967296 max_step=0",
	  16, 1, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	{ "fill of host memory", "fill=0.8 max_step=0",
	  5, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	{ "host reserve bounds the budget", "fill=1 max_step=0",
	  5, 1, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	{ "overcommit ratio bounds the budget", "fill=1 max_step=0",
	  8, 0, 0.5, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	{ "NaN ratio reads as 1", "fill=1 max_step=0",
	  4, 0, NAN, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	{ "capped at max, rest shared again", "budget=6442450944 max_step=0",
	  16, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 2, 4 }, HA_REASON_SHARES },
	{ "mins do not fit: all at min", "budget=805306368 max_step=0",
	  16, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 0.5, 0.5 }, HA_REASON_SHARES },
	{ "step limit", "budget=4294967296 max_step=1073741824",
	  16, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { 3, 3 }, HA_REASON_SHARES },
	{ "donor first: no room, receiver waits",
	  "budget=4294967296 max_step=0", 16, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 0.5, 0.5, 3000, false } },
	  { 1.25, 0.5 }, HA_REASON_SHARES },
	{ "donor has shrunk: receiver grows",
	  "budget=4294967296 max_step=0", 16, 0, 1.0, 2,
	  { { 0.5, 4, 1.25, 1.25, 1000, false },
	    { 0.5, 4, 0.5, 0.5, 3000, false } },
	  { 1.25, 2.75 }, HA_REASON_SHARES },
	/* want 1.75/1.125/1.125; room 4 - 2.5 - 1 = 0.5 for 1.25 asked */
	{ "receivers share the room by what they ask",
	  "budget=4294967296 max_step=0", 16, 0, 1.0, 3,
	  { { 0.5, 4, 2.5, 2.5, 2000, false },
	    { 0.5, 4, 0.5, 0.5, 1000, false },
	    { 0.5, 4, 0.5, 0.5, 1000, false } },
	  { 1.75, 0.75, 0.75 }, HA_REASON_SHARES },
	{ "manual target comes off the budget",
	  "budget=5368709120 max_step=0", 16, 0, 1.0, 3,
	  { { 0.5, 4, 4, 4, 1000, false },
	    { 0.5, 4, 4, 4, 3000, false },
	    { 0.5, 4, 1, 1, 1000, true } },
	  { 1.25, 2.75, -1 }, HA_REASON_SHARES },
	{ "zero shares: min only", "budget=4294967296 max_step=0",
	  16, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 0, false }, { 0.5, 4, 4, 4, 1000, false } },
	  { 0.5, 3.5 }, HA_REASON_SHARES },
	{ "min above max: max wins", "budget=4294967296 max_step=0",
	  16, 0, 1.0, 2,
	  { { 6, 3, 3, 3, 1000, false }, { 0.5, 4, 4, 4, 1000, false } },
	  { 3, 1 }, HA_REASON_SHARES },
	{ "max 0: left alone", "budget=4294967296 max_step=0",
	  16, 0, 1.0, 2,
	  { { 0, 0, 0, 0, 1000, false }, { 0.5, 4, 4, 4, 1000, false } },
	  { -1, 4 }, HA_REASON_SHARES },
	{ "host size unknown: nothing moves", "max_step=0",
	  0, 0, 1.0, 2,
	  { { 0.5, 4, 4, 4, 1000, false }, { 0.5, 4, 4, 4, 3000, false } },
	  { -1, -1 }, HA_REASON_NONE },
};
/* clang-format on */

START_TEST(test_shares)
{
	struct pol p = pol_open("shares", sh[_i].params);
	struct ha_policy_vm v[VMS];
	struct ha_policy_target t[VMS];
	struct ha_policy_host h = host_default;
	static const char *const ids[VMS] = { "a", "b", "c" };
	size_t n = sh[_i].n;

	h.total_bytes = g(sh[_i].total);
	h.reserve_bytes = g(sh[_i].reserve);
	h.overcommit_ratio = sh[_i].ratio;
	for (size_t k = 0; k < n; k++) {
		const struct svm *s = &sh[_i].vm[k];

		v[k] = vm_default(ids[k]);
		v[k].min_bytes = g(s->min);
		v[k].max_bytes = g(s->max);
		v[k].target_bytes = g(s->target);
		v[k].current_bytes = g(s->current);
		v[k].shares = s->shares;
		v[k].manual = s->manual;
		t[k] = (struct ha_policy_target){ .target_bytes = 777 * MIB };
	}
	p.ops->decide(p.state, &h, v, n, t);
	for (size_t k = 0; k < n; k++) {
		double e = sh[_i].expect[k];
		uint64_t want = e < 0 ? 777 * MIB : g(e);

		/* exact to a few bytes of rounding in the division */
		ck_assert_msg(t[k].target_bytes + 4 >= want &&
				      t[k].target_bytes <= want,
			      "%s: vm %zu: %llu, want %llu", sh[_i].name, k,
			      (unsigned long long)t[k].target_bytes,
			      (unsigned long long)want);
		if (e >= 0)
			ck_assert_int_eq(t[k].reason, sh[_i].reason);
		ck_assert(!t[k].auto_reclaim); /* off by default */
	}
	pol_close(&p);
}
END_TEST

/* Free-then-allocate over ticks: the receiver only grows once the donor
 * has given its memory back. */
START_TEST(test_shares_two_phase)
{
	struct pol p = pol_open("shares", "budget=4294967296 max_step=0");
	struct ha_policy_vm v[2] = { vm_default("donor"),
				     vm_default("receiver") };
	struct ha_policy_target t[2];

	v[0].max_bytes = v[1].max_bytes = 4 * GIB;
	v[0].min_bytes = v[1].min_bytes = GIB / 2;
	v[0].target_bytes = v[0].current_bytes = 4 * GIB;
	v[1].target_bytes = v[1].current_bytes = GIB / 2;
	v[1].shares = 3000;

	prefill(v, 2, t);
	p.ops->decide(p.state, &host_default, v, 2, t);
	ck_assert_uint_eq(t[0].target_bytes, g(1.25));
	ck_assert_uint_eq(t[1].target_bytes, g(0.5));

	/* The engine applied it, the donor is shrinking: half way. */
	v[0].target_bytes = g(1.25);
	v[0].current_bytes = g(2.5);
	p.ops->decide(p.state, &host_default, v, 2, t);
	ck_assert_uint_eq(t[0].target_bytes, g(1.25));
	ck_assert_uint_eq(t[1].target_bytes, g(1.5)); /* room 4 - 2.5 - 0.5 */

	v[0].current_bytes = g(1.25);
	v[1].target_bytes = v[1].current_bytes = g(1.5);
	p.ops->decide(p.state, &host_default, v, 2, t);
	ck_assert_uint_eq(t[1].target_bytes, g(2.75));
	pol_close(&p);
}
END_TEST

/* ---- working-set: tick sequences ---- */

/* clang-format off */
static const struct {
	const char *name, *params;
	size_t n;
	double used[TICKS];   /* GiB */
	double expect[TICKS]; /* GiB */
	int idle[TICKS];      /* reason IDLE expected */
} ws[] = {
	{ "grows at once, shrinks 1/2 of the gap per tick",
	  "decay=0.5 headroom=0.25 headroom_min=0 idle_window_ms=0", 6,
	  { 1, 2, 1, 1, 1, 3 },
	  { 1.25, 2.5, 1.875, 1.5625, 1.40625, 3.75 },
	  { 0 } },
	{ "vcmmd's 1/8", "decay=0.125 headroom=0 headroom_min=0", 3,
	  { 4, 2, 2 },
	  { 4, 3.75, 3.53125 },
	  { 0 } },
	{ "headroom_min, rounded to huge frames",
	  "decay=1 headroom=0.01 headroom_min=1048576", 2,
	  { 1, 0.5 },
	  { 1 + 12.0 / 1024, 0.5 + 6.0 / 1024 },
	  { 0 } },
	{ "idle headroom taxed after the window",
	  "decay=1 headroom=0 headroom_min=536870912 idle_window_ms=3000 "
	  "idle_tax=0.5", 6,
	  { 1, 1, 1, 1, 1.25, 1.25 },
	  { 1.5, 1.5, 1.5, 1.25, 1.75, 1.75 },
	  { 0, 0, 0, 1, 0, 0 } },
	{ "churn around the estimate is not activity",
	  "decay=1 headroom=0 headroom_min=536870912 idle_window_ms=2000 "
	  "idle_tax=1", 4,
	  { 1, 1.0625, 1, 1.0625 },
	  { 1.5, 1.5625, 1, 1.0625 },
	  { 0, 0, 1, 1 } },
	{ "used above max: max", "decay=0.5 headroom=0.5 headroom_min=0", 2,
	  { 100, 7 },
	  { 8, 8 },
	  { 0 } },
};
/* clang-format on */

START_TEST(test_working_set)
{
	struct pol p = pol_open("working-set", ws[_i].params);
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;

	for (size_t k = 0; k < ws[_i].n; k++) {
		struct ha_policy_target t;

		h.now_ms = 1000 * (k + 1);
		v.guest_used_bytes = g(ws[_i].used[k]);
		prefill(&v, 1, &t);
		p.ops->decide(p.state, &h, &v, 1, &t);
		ck_assert_msg(t.target_bytes == g(ws[_i].expect[k]),
			      "%s: tick %zu: %llu, want %llu", ws[_i].name, k,
			      (unsigned long long)t.target_bytes,
			      (unsigned long long)g(ws[_i].expect[k]));
		ck_assert_int_eq(t.reason, ws[_i].idle[k] ?
						   HA_REASON_IDLE :
						   HA_REASON_WORKING_SET);
	}
	pol_close(&p);
}
END_TEST

/* A VM that leaves is forgotten; one that comes back starts afresh. */
START_TEST(test_working_set_forgets)
{
	struct pol p = pol_open("working-set",
				"decay=0.125 headroom=0 headroom_min=0");
	struct ha_policy_vm v[2] = { vm_default("a"), vm_default("b") };
	struct ha_policy_host h = host_default;
	struct ha_policy_target t[2];

	v[0].guest_used_bytes = 6 * GIB;
	v[1].guest_used_bytes = GIB;
	prefill(v, 2, t);
	p.ops->decide(p.state, &h, v, 2, t);
	ck_assert_uint_eq(t[0].target_bytes, 6 * GIB);

	/* a is gone for a tick */
	h.now_ms += 1000;
	prefill(&v[1], 1, &t[1]);
	p.ops->decide(p.state, &h, &v[1], 1, &t[1]);
	ck_assert_uint_eq(t[1].target_bytes, GIB);

	/* a is back using 1 GiB: no memory of the old 6 GiB estimate
	 * (remembered, it would decay to 5.375 GiB) */
	h.now_ms += 1000;
	v[0].guest_used_bytes = GIB;
	prefill(v, 2, t);
	p.ops->decide(p.state, &h, v, 2, t);
	ck_assert_uint_eq(t[0].target_bytes, GIB);
	pol_close(&p);
}
END_TEST

/* Two VMs with one id share no history: the second keeps its pre-fill. */
START_TEST(test_duplicate_ids)
{
	static const char *const names[] = { "working-set", "pressure" };

	for (size_t i = 0; i < 2; i++) {
		struct pol p = pol_open(names[i], "");
		struct ha_policy_vm v[2] = { vm_default("same"),
					     vm_default("same") };
		struct ha_policy_target t[2];

		struct ha_policy_host h = host_default;

		v[0].guest_used_bytes = GIB;
		for (int tick = 0; tick < 2; tick++) {
			h.now_ms += 1000;
			prefill(v, 2, t);
			t[1].target_bytes = 5 * GIB;
			p.ops->decide(p.state, &h, v, 2, t);
			ck_assert_uint_eq(t[1].target_bytes, 5 * GIB);
			ck_assert_int_eq(t[1].reason, HA_REASON_NONE);
		}
		ck_assert_uint_lt(t[0].target_bytes, 8 * GIB);
		pol_close(&p);
	}
}
END_TEST

/* ---- soft reclaim steered by the estimate (resize on or off) ---- */

/* clang-format off */
static const struct {
	const char *name, *policy, *params;
	size_t n;
	double used[TICKS];   /* GiB */
	double target[TICKS]; /* GiB, logical size */
	double keep[TICKS];   /* GiB, keep_free_bytes */
} buf[] = {
	{ "working-set, resize off: logical size stays max", "working-set",
	  "resize=false auto_reclaim=true interval_ms=0 decay=0.5 "
	  "headroom=0.25 headroom_min=0 idle_window_ms=0", 3,
	  { 1, 2, 1 },
	  { 8, 8, 8 },
	  { 0.25, 0.5, 0.875 } },
	{ "working-set, resize on: the same buffer inside the target",
	  "working-set",
	  "auto_reclaim=true interval_ms=0 decay=0.5 headroom=0.25 "
	  "headroom_min=0 idle_window_ms=0", 3,
	  { 1, 2, 1 },
	  { 1.25, 2.5, 1.875 },
	  { 0.25, 0.5, 0.875 } },
	{ "keep_free is a floor under the buffer", "working-set",
	  "resize=false auto_reclaim=true interval_ms=0 decay=0.5 "
	  "headroom=0.25 headroom_min=0 idle_window_ms=0 "
	  "keep_free=536870912", 2,
	  { 1, 4 },
	  { 8, 8 },
	  { 0.5, 1 } },
	{ "pressure, resize off: probing shrinks the buffer", "pressure",
	  "resize=false auto_reclaim=true interval_ms=0 max_probe=0.25 "
	  "min_free=0", 3,
	  { 2, 2, 2 },
	  { 8, 8, 8 },
	  { 6, 4, 2.5 } },
	{ "soft reclaim off: no buffer asked", "working-set",
	  "resize=false decay=0.5 headroom=0.25 headroom_min=0", 2,
	  { 1, 2 },
	  { 8, 8 },
	  { -1, -1 } },
};
/* clang-format on */

START_TEST(test_buffer)
{
	struct pol p = pol_open(buf[_i].policy, buf[_i].params);
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;

	for (size_t k = 0; k < buf[_i].n; k++) {
		struct ha_policy_target t;

		h.now_ms = 1000 * (k + 1);
		v.guest_used_bytes = g(buf[_i].used[k]);
		prefill(&v, 1, &t);
		p.ops->decide(p.state, &h, &v, 1, &t);
		ck_assert_msg(t.target_bytes == g(buf[_i].target[k]),
			      "%s: tick %zu: target %llu", buf[_i].name, k,
			      (unsigned long long)t.target_bytes);
		if (buf[_i].keep[k] < 0) {
			ck_assert(!t.auto_reclaim);
			ck_assert_uint_eq(t.keep_free_bytes, 0);
			continue;
		}
		ck_assert_msg(t.auto_reclaim, "%s: tick %zu", buf[_i].name, k);
		ck_assert_msg(t.keep_free_bytes == g(buf[_i].keep[k]),
			      "%s: tick %zu: keep %llu, want %llu",
			      buf[_i].name, k,
			      (unsigned long long)t.keep_free_bytes,
			      (unsigned long long)g(buf[_i].keep[k]));
	}
	pol_close(&p);
}
END_TEST

/* ---- pressure: tick sequences ---- */

/* clang-format off */
static const struct pr_tick {
	uint64_t installs, failures;
	double used; /* GiB */
	double psi;
	double expect; /* GiB */
	enum ha_policy_reason reason;
} pr_seq[] = {
	{ 0, 0, 1, 0, 16, HA_REASON_NONE }, /* first sight: no deltas */
	{ 0, 0, 1, 0, 12, HA_REASON_PRESSURE_PROBE },
	{ 10, 0, 1, 0, 9, HA_REASON_PRESSURE_PROBE }, /* 10/s: fine */
	{ 10, 1, 1, 0, 13.5, HA_REASON_PRESSURE_BACKOFF }, /* a failure */
	{ 160, 1, 1, 0, 15.1875, HA_REASON_PRESSURE_BACKOFF }, /* 150/s */
	{ 210, 1, 1, 0, 11.390625, HA_REASON_PRESSURE_PROBE }, /* 50/s */
	{ 210, 1, 1, 20, 5.6953125, HA_REASON_HOST_PRESSURE }, /* psi 2x */
	{ 210, 1, 1, -1, 4.271484375, HA_REASON_PRESSURE_PROBE },
	{ 210, 1, 4.5, 0, 4.5, HA_REASON_PRESSURE_PROBE }, /* floor */
	{ 0, 0, 4.5, 0, 4.5, HA_REASON_PRESSURE_PROBE }, /* counters reset */
	{ 0, 0, 40, 0, 16, HA_REASON_PRESSURE_PROBE }, /* used > max */
};
/* clang-format on */

START_TEST(test_pressure)
{
	struct pol p = pol_open("pressure",
				"max_probe=0.25 max_backoff=0.5 coeff_probe=10 "
				"coeff_backoff=0.25 install_target=100 "
				"min_free=0 host_psi=10");
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;

	v.max_bytes = v.target_bytes = v.current_bytes = 16 * GIB;
	for (size_t k = 0; k < sizeof(pr_seq) / sizeof(pr_seq[0]); k++) {
		const struct pr_tick *s = &pr_seq[k];
		struct ha_policy_target t;

		h.now_ms = 1000 * (k + 1);
		h.psi_some_avg10 = s->psi;
		v.installs = s->installs;
		v.alloc_failures = s->failures;
		v.guest_used_bytes = g(s->used);
		prefill(&v, 1, &t);
		p.ops->decide(p.state, &h, &v, 1, &t);
		ck_assert_msg(t.target_bytes == g(s->expect),
			      "tick %zu: %llu, want %llu", k,
			      (unsigned long long)t.target_bytes,
			      (unsigned long long)g(s->expect));
		ck_assert_msg(t.reason == s->reason, "tick %zu: reason %s", k,
			      ha_policy_reason_str(t.reason));
	}
	pol_close(&p);
}
END_TEST

/* The install rate is per second: the same count over a longer tick is
 * less pressure, and a tick that takes no time divides by nothing. */
START_TEST(test_pressure_rate)
{
	struct pol p = pol_open("pressure",
				"max_probe=0.25 max_backoff=0.5 "
				"coeff_backoff=0.25 install_target=100 "
				"min_free=0");
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;
	struct ha_policy_target t;

	prefill(&v, 1, &t);
	h.now_ms = 1000;
	p.ops->decide(p.state, &h, &v, 1, &t); /* 8 GiB */
	h.now_ms = 3000; /* 2 s, 150 installs: 75/s, probe */
	v.installs = 150;
	p.ops->decide(p.state, &h, &v, 1, &t);
	ck_assert_uint_eq(t.target_bytes, 6 * GIB);
	ck_assert_int_eq(t.reason, HA_REASON_PRESSURE_PROBE);
	/* same now_ms: dt reads as one tick (1 s), 150/s: back off */
	v.installs = 300;
	p.ops->decide(p.state, &h, &v, 1, &t);
	ck_assert_uint_eq(t.target_bytes, g(6.75));
	ck_assert_int_eq(t.reason, HA_REASON_PRESSURE_BACKOFF);
	pol_close(&p);
}
END_TEST

/* Host pressure with a backoff above 1 still probes down, to the floor. */
START_TEST(test_pressure_host_psi_huge)
{
	struct pol p = pol_open("pressure", "max_backoff=10 max_probe=1 "
					    "host_psi=1 min_free=0");
	struct ha_policy_vm v = vm_default("a");
	struct ha_policy_host h = host_default;
	struct ha_policy_target t;

	prefill(&v, 1, &t);
	p.ops->decide(p.state, &h, &v, 1, &t);
	ck_assert_uint_eq(t.target_bytes, 8 * GIB);
	h.now_ms += 1000;
	h.psi_some_avg10 = INFINITY;
	p.ops->decide(p.state, &h, &v, 1, &t);
	ck_assert_uint_eq(t.target_bytes, 2 * GIB); /* used + 0 */
	ck_assert_int_eq(t.reason, HA_REASON_HOST_PRESSURE);
	pol_close(&p);
}
END_TEST

/* policy_scale never returns more than v for a factor below 1. */
START_TEST(test_scale)
{
	static const uint64_t vs[] = { 0,
				       1,
				       3,
				       1ull << 53,
				       (1ull << 63) + 1025,
				       UINT64_MAX - 1,
				       UINT64_MAX };
	static const double fs[] = {
		0, 1e-300, 0.125, 0.5, 0.9999999999999999, 1 - 1e-17
	};

	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
		for (size_t k = 0; k < sizeof(fs) / sizeof(fs[0]); k++)
			ck_assert_uint_le(policy_scale(vs[i], fs[k]), vs[i]);
	ck_assert_uint_eq(policy_scale(UINT64_MAX, 1.0), UINT64_MAX);
	ck_assert_uint_eq(policy_scale(UINT64_MAX, 2.0), UINT64_MAX);
	ck_assert_uint_eq(policy_scale(5, NAN), 0);
	ck_assert_uint_eq(policy_scale(5, -1), 0);
	ck_assert_uint_eq(policy_mul_div(UINT64_MAX, UINT64_MAX, 1),
			  UINT64_MAX);
	ck_assert_uint_eq(policy_mul_div(UINT64_MAX, 3, 3), UINT64_MAX);
	ck_assert_uint_eq(policy_mul_div(7, 0, 0), 0);
	ck_assert_uint_eq(policy_mul_div(7, 1, 0), UINT64_MAX);
	ck_assert_uint_eq(policy_clamp(5, 9, 3), 3);
}
END_TEST

/* ---- every policy: inputs no sane host produces ---- */

START_TEST(test_hostile_inputs)
{
	const struct ha_policy_ops *o = ha_policy_builtins[_i];
	static const struct ha_policy_host hosts[] = {
		{ .total_bytes = 0, .psi_some_avg10 = -1, .now_ms = 0 },
		{ .total_bytes = UINT64_MAX,
		  .available_bytes = UINT64_MAX,
		  .reserve_bytes = UINT64_MAX,
		  .overcommit_ratio = INFINITY,
		  .psi_some_avg10 = NAN,
		  .now_ms = UINT64_MAX,
		  .tick_ms = UINT64_MAX },
		{ .total_bytes = 1,
		  .reserve_bytes = 2,
		  .overcommit_ratio = -3,
		  .psi_some_avg10 = INFINITY,
		  .now_ms = 5,
		  .tick_ms = 0 },
		{ .total_bytes = 64ull << 30,
		  .overcommit_ratio = 1e300,
		  .psi_some_avg10 = 1e300,
		  .now_ms = 4,
		  .tick_ms = 1 },
	};
	struct ha_policy_vm v[6];
	struct ha_policy_target t[6];
	char err[256];
	void *state = NULL;

	ck_assert_int_eq(o->init(NULL, 0, &state, err, sizeof(err)), 0);
	for (size_t i = 0; i < 6; i++)
		v[i] = vm_default("x");
	v[0].id = "max-0";
	v[0].max_bytes = 0;
	v[1].id = "min-above-max";
	v[1].min_bytes = 16 * GIB;
	v[1].target_bytes = 0;
	v[2].id = "all-max";
	v[2].max_bytes = v[2].min_bytes = v[2].target_bytes = UINT64_MAX;
	v[2].current_bytes = v[2].guest_free_bytes = UINT64_MAX;
	v[2].guest_used_bytes = v[2].free_huge_installed_bytes = UINT64_MAX;
	v[2].installs = v[2].alloc_failures = UINT64_MAX;
	v[2].shares = UINT32_MAX;
	v[3].id = NULL; /* no id: no history, still bounded */
	v[4].id = "used-above-max";
	v[4].guest_used_bytes = UINT64_MAX;
	v[4].shares = 0;
	v[5].id = "tiny";
	v[5].max_bytes = 1;
	v[5].min_bytes = 1;
	for (size_t round = 0; round < 3; round++) {
		for (size_t k = 0; k < sizeof(hosts) / sizeof(hosts[0]); k++) {
			prefill(v, 6, t);
			o->decide(state, &hosts[k], v, 6, t);
			o->decide(state, &hosts[k], v, 0, t); /* n = 0 */
			for (size_t i = 1; i < 6; i++) {
				uint64_t lo = v[i].min_bytes < v[i].max_bytes ?
						      v[i].min_bytes :
						      v[i].max_bytes;

				ck_assert_msg(
					t[i].target_bytes >= lo &&
						t[i].target_bytes <=
							v[i].max_bytes,
					"%s: vm %zu host %zu: %llu", o->name, i,
					k,
					(unsigned long long)t[i].target_bytes);
				ck_assert_int_lt(t[i].reason, HA_REASON_COUNT);
			}
		}
		/* Every counter drops (a guest restarted): no wrap-around. */
		v[2].installs = v[2].alloc_failures = 0;
	}
	o->fini(state);
}
END_TEST

/* ---- building blocks ---- */

START_TEST(test_vmtab)
{
	struct policy_vmtab t;
	bool fresh;
	uint64_t *a, *b;

	policy_vmtab_init(&t, sizeof(uint64_t));
	policy_vmtab_begin(&t);
	a = policy_vmtab_get(&t, "a", &fresh);
	ck_assert(a && fresh && *a == 0);
	*a = 42;
	b = policy_vmtab_get(&t, "b", &fresh);
	ck_assert(b && fresh);
	ck_assert_ptr_null(policy_vmtab_get(&t, "a", &fresh)); /* twice */
	ck_assert_ptr_null(policy_vmtab_get(&t, NULL, &fresh));
	policy_vmtab_sweep(&t);
	ck_assert_uint_eq(policy_vmtab_count(&t), 2);

	policy_vmtab_begin(&t);
	a = policy_vmtab_get(&t, "a", &fresh);
	ck_assert(a && !fresh && *a == 42);
	policy_vmtab_sweep(&t); /* b not seen: forgotten */
	ck_assert_uint_eq(policy_vmtab_count(&t), 1);

	policy_vmtab_begin(&t);
	for (int i = 0; i < 100; i++) {
		char id[8];

		snprintf(id, sizeof(id), "v%d", i);
		ck_assert_ptr_nonnull(policy_vmtab_get(&t, id, &fresh));
	}
	policy_vmtab_sweep(&t);
	ck_assert_uint_eq(policy_vmtab_count(&t), 100);
	policy_vmtab_free(&t);
	ck_assert_uint_eq(policy_vmtab_count(&t), 0);
	policy_vmtab_free(&t); /* twice is fine */
}
END_TEST

static Suite *policies_suite(void)
{
	Suite *s = suite_create("policies");
	TCase *tc = tcase_create("builtins");
	size_t nb = 0;

	while (ha_policy_builtins[nb])
		nb++;
	tcase_add_test(tc, test_registry);
	tcase_add_loop_test(tc, test_init, 0, sizeof(inits) / sizeof(inits[0]));
	tcase_add_test(tc, test_static);
	tcase_add_loop_test(tc, test_auto_reclaim, 0,
			    sizeof(ar) / sizeof(ar[0]));
	tcase_add_loop_test(tc, test_shares, 0, sizeof(sh) / sizeof(sh[0]));
	tcase_add_test(tc, test_shares_two_phase);
	tcase_add_loop_test(tc, test_working_set, 0,
			    sizeof(ws) / sizeof(ws[0]));
	tcase_add_test(tc, test_working_set_forgets);
	tcase_add_test(tc, test_duplicate_ids);
	tcase_add_loop_test(tc, test_buffer, 0, sizeof(buf) / sizeof(buf[0]));
	tcase_add_test(tc, test_pressure);
	tcase_add_test(tc, test_pressure_rate);
	tcase_add_test(tc, test_pressure_host_psi_huge);
	tcase_add_test(tc, test_scale);
	tcase_add_loop_test(tc, test_hostile_inputs, 0, (int)nb);
	tcase_add_test(tc, test_vmtab);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policies_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
