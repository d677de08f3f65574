// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for lib/ha_scan.c, the pure read-only scan: on the same
 * metadata it agrees with the host's own scan (ha_host_scan) and with the
 * host's state, through every kind of frame (installed, soft, hard,
 * pending and partial installs, returned); it reads a read-only mapping,
 * writes nothing, takes no lock, and reports a corrupt child without
 * quarantining anything.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ha_scan.h"
#include "host_fixture.h"

/* ha_scan() of @f's metadata, through the layout a reader validates. */
static struct ha_scan scan_of(const struct hfix *f)
{
	struct ha_layout l;
	struct ha_scan s;
	struct ha_bad bad;

	ck_assert_int_eq(ha_validate_header(f->meta, f->meta_len, &l, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_scan(f->meta, &l, &s, &bad), HA_OK);
	ck_assert_int_eq(bad.reason, HA_BAD_NONE);
	return s;
}

/* Both scans of @f, field by field, and the host's own state. */
static void assert_agree(const struct hfix *f)
{
	struct ha_scan s = scan_of(f);
	struct ha_host_scan h;
	struct ha_host_counters k = hfix_counters(f);

	ck_assert_int_eq(ha_host_scan((struct ha_host *)&f->h, &h), HA_OK);
	ck_assert_uint_eq(s.free_frames, h.free_frames);
	ck_assert_uint_eq(s.free_huge, h.free_huge);
	ck_assert_uint_eq(s.free_huge_installed, h.free_huge_installed);
	ck_assert_uint_eq(s.installing, h.installing);
	ck_assert_uint_eq(s.hard, h.hard);
	ck_assert_uint_eq(s.soft, h.soft);
	ck_assert_uint_eq(s.hard, k.hard_now);
	ck_assert_uint_eq(s.soft, k.soft_now);
	ck_assert_uint_eq(s.installed, hfix_count_state(f, HA_HS_INSTALLED));
	ck_assert_uint_eq(s.installed + s.soft + s.hard, f->children);
	ck_assert_uint_eq(s.free_frames, ha_guest_free_frames(&f->g));
}

START_TEST(test_fresh)
{
	struct hfix f;
	struct ha_scan s;

	hfix_init(&f, 45, 1);
	s = scan_of(&f);
	ck_assert_uint_eq(s.free_frames, 45 * 512);
	ck_assert_uint_eq(s.free_huge, 45);
	ck_assert_uint_eq(s.free_huge_installed, 45);
	ck_assert_uint_eq(s.installed, 45);
	ck_assert_uint_eq(s.soft + s.hard + s.installing, 0);
	assert_agree(&f);
	hfix_fini(&f);
}
END_TEST

/* Every kind of frame at once, step by step; both scans agree at every
 * step, and with a host restarted on the same metadata. */
START_TEST(test_agrees_with_host_scan)
{
	struct hfix f;
	ha_frame_t fr[4];
	bool rec[4];
	struct ha_scan s;

	hfix_init(&f, 40, 1);
	assert_agree(&f);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 7), 7);
	assert_agree(&f);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 33);
	assert_agree(&f);
	/* Everything free is soft: what the guest takes is reclaimed. Two
	 * huge allocations wait for their install, a small one and a pair
	 * of pages take pieces of soft children. */
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr[0],
				      &rec[0]),
			 HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr[1],
				      &rec[1]),
			 HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr[2], &rec[2]), HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 1, 0, &fr[3], &rec[3]), HA_OK);
	ck_assert(rec[0] && rec[1] && rec[2] && rec[3]);
	assert_agree(&f);
	s = scan_of(&f);
	ck_assert_uint_eq(s.hard, 7);
	ck_assert_uint_eq(s.soft, 33);
	ck_assert_uint_ge(s.installing, 3);
	ck_assert_uint_eq(s.free_huge_installed, 0);
	/* One huge frame installed, two hard ones returned (soft now). */
	ck_assert_int_eq(ha_host_install(&f.h, ha_frame_to_huge(fr[0])), HA_OK);
	ck_assert_int_eq(ha_host_return(&f.h, 2), 2);
	assert_agree(&f);
	s = scan_of(&f);
	ck_assert_uint_eq(s.hard, 5);
	ck_assert_uint_eq(s.installed, 1);
	/* A host restarted on this metadata sees what the scan sees. */
	memset(f.state, 0, ha_host_state_size(HFIX_BASE + f.frames));
	hfix_attach(&f);
	assert_agree(&f);
	hfix_fini(&f);
}
END_TEST

/* A reader with only a read-only mapping: same result, nothing written. */
START_TEST(test_read_only_mapping)
{
	struct hfix f;
	struct ha_layout l;
	struct ha_scan want, got;
	struct ha_bad bad;
	unsigned char *copy;
	void *ro;

	hfix_init(&f, 24, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 3), 3);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 5), 5);
	want = scan_of(&f);

	ro = mmap(NULL, f.meta_len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	memcpy(ro, f.meta, f.meta_len);
	ck_assert_int_eq(mprotect(ro, f.meta_len, PROT_READ), 0);
	ck_assert_int_eq(ha_validate_header(ro, f.meta_len, &l, &bad), HA_OK);
	ck_assert_int_eq(ha_scan(ro, &l, &got, &bad), HA_OK);
	ck_assert_mem_eq(&got, &want, sizeof(got));
	ck_assert_int_eq(munmap(ro, f.meta_len), 0);

	/* On the live metadata: no byte changes, no lock is taken. */
	copy = malloc(f.meta_len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, f.meta, f.meta_len);
	unsigned locks = f.rec->locks;

	got = scan_of(&f);
	ck_assert_mem_eq(f.meta, copy, f.meta_len);
	ck_assert_uint_eq(f.rec->locks, locks);
	free(copy);
	hfix_fini(&f);
}
END_TEST

/* A child word no guest can write: the first one is named, the result
 * left as it was, and nothing is quarantined (the scan has no host). */
START_TEST(test_corrupt_child)
{
	struct hfix f;
	struct ha_layout l;
	struct ha_scan s, before;
	struct ha_bad bad;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_validate_header(f.meta, f.meta_len, &l, &bad),
			 HA_OK);
	f.g.children[11] = (ha_child_word)600; /* more than 512 free */
	f.g.children[13] = (ha_child_word)(HA_CHILD_HUGE | 3);
	memset(&s, 0x5a, sizeof(s));
	before = s;
	ck_assert_int_eq(ha_scan(f.meta, &l, &s, &bad), HA_EBADMSG);
	ck_assert_int_eq(bad.reason, HA_BAD_CHILD);
	ck_assert_uint_eq(bad.index, 11);
	ck_assert_uint_eq(bad.value, 600);
	ck_assert_mem_eq(&s, &before, sizeof(s));
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(ha_scan(NULL, &l, &s, &bad), HA_EINVAL);
	ck_assert_int_eq(ha_scan(f.meta, NULL, &s, &bad), HA_EINVAL);
	hfix_fini(&f);
}
END_TEST

static Suite *scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("scan");

	tcase_add_test(tc, test_fresh);
	tcase_add_test(tc, test_agrees_with_host_scan);
	tcase_add_test(tc, test_read_only_mapping);
	tcase_add_test(tc, test_corrupt_child);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scan_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
