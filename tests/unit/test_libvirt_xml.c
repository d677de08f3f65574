// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pure parts of the libvirt tracker: what it reads from domain XML
 * (mechanism, sizes and units, balloon options, backing), the metadata
 * element, the virtio-mem request it writes, the block rounding of
 * virtio-mem targets, and the progress bookkeeping behind reclaim_done.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt/progress.h"
#include "libvirt/xml.h"

#define MiB (1ull << 20)

#define DOMAIN(mem, extra, devices)                                   \
	"<domain type='kvm'><name>d</name>"                           \
	"<uuid>6b7c1a4e-0001-4d3e-9a51-000000000001</uuid>" mem extra \
	"<devices>" devices "</devices></domain>"

static const char vmem_dev[] =
	"<memory model='virtio-mem'><target><size unit='MiB'>768</size>"
	"<node>0</node><block unit='KiB'>2048</block>"
	"<requested unit='KiB'>262144</requested>"
	"<current unit='KiB'>131072</current></target>"
	"<alias name='virtiomem0'/></memory>";

static const struct {
	const char *xml;
	enum vm_mechanism mech;
	uint64_t memory, current, base;
	bool balloon, fpr;
	unsigned period;
	enum lv_backing backing;
	bool shared;
} domains[] = {
	/* no unit: KiB; a balloon by default model name */
	{ DOMAIN("<memory>524288</memory>", "",
		 "<memballoon model='virtio'><stats period='2'/></memballoon>"),
	  VM_MECH_BALLOON, 512 * MiB, 512 * MiB, 512 * MiB, true, false, 2,
	  LV_BACKING_ANONYMOUS, false },
	/* free page reporting; decimal and binary units; memfd shared */
	{ DOMAIN("<memory unit='GiB'>1</memory>"
		 "<currentMemory unit='MB'>500</currentMemory>",
		 "<memoryBacking><source type='memfd'/>"
		 "<access mode='shared'/></memoryBacking>",
		 "<memballoon model='virtio-non-transitional' "
		 "freePageReporting='on'/>"),
	  VM_MECH_BALLOON, 1024 * MiB, 500000000, 1024 * MiB, true, true, 0,
	  LV_BACKING_MEMFD, true },
	/* virtio-mem wins over a balloon; base from the NUMA cells */
	{ DOMAIN("<memory unit='KiB'>1048576</memory>",
		 "<cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/>"
		 "</numa></cpu>",
		 "<memballoon model='virtio'/><memory model='virtio-mem'>"
		 "<target><size unit='MiB'>768</size><node>0</node>"
		 "<block unit='KiB'>2048</block></target></memory>"),
	  VM_MECH_VIRTIO_MEM, 1024 * MiB, 1024 * MiB, 256 * MiB, true, false, 0,
	  LV_BACKING_ANONYMOUS, false },
	/* no NUMA: base = memory - devices; shared through the cells */
	{ DOMAIN("<memory unit='M'>1024</memory>",
		 "<memoryBacking><source type='file'/></memoryBacking>"
		 "<cpu><numa><cell id='0' cpus='0' memory='1048576' "
		 "memAccess='shared'/></numa></cpu>",
		 "<memballoon model='none'/>"),
	  VM_MECH_NONE, 1024 * MiB, 1024 * MiB, 1024 * MiB, false, false, 0,
	  LV_BACKING_FILE, true },
	/* the HyperAlloc device wins over everything */
	{ "<domain type='kvm' "
	  "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
	  "<name>h</name><memory unit='GiB'>2</memory>"
	  "<devices><memballoon model='virtio'/></devices>"
	  "<qemu:commandline><qemu:arg value='-device'/>"
	  "<qemu:arg value='virtio-hyperalloc-pci,id=ha0,auto-reclaim=on,"
	  "auto-interval=500,iothread=io0'/>"
	  "</qemu:commandline></domain>",
	  VM_MECH_HYPERALLOC, 2048 * MiB, 2048 * MiB, 2048 * MiB, true, false,
	  0, LV_BACKING_ANONYMOUS, false },
	/* the JSON form of -device */
	{ "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
	  "<name>h</name><memory>1024</memory>"
	  "<qemu:commandline><qemu:arg value='-device'/>"
	  "<qemu:arg value='{\"driver\":\"virtio-hyperalloc-pci\",\"id\":\"ha0\"}'/>"
	  "</qemu:commandline></domain>",
	  VM_MECH_HYPERALLOC, MiB, MiB, MiB, false, false, 0,
	  LV_BACKING_ANONYMOUS, false },
	/* other qemu args are not the device */
	{ "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
	  "<name>h</name><memory>1024</memory>"
	  "<qemu:commandline><qemu:arg value='-device'/>"
	  "<qemu:arg value='virtio-rng-pci,id=virtio-hyperalloc-pci'/>"
	  "</qemu:commandline></domain>",
	  VM_MECH_NONE, MiB, MiB, MiB, false, false, 0, LV_BACKING_ANONYMOUS,
	  false },
};

START_TEST(test_parse_domain)
{
	struct lv_domain_xml x;
	char err[128];

	ck_assert_int_eq(
		lv_xml_parse_domain(domains[_i].xml, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(x.mechanism, domains[_i].mech);
	ck_assert_uint_eq(x.memory_bytes, domains[_i].memory);
	ck_assert_uint_eq(x.current_memory_bytes, domains[_i].current);
	ck_assert_uint_eq(lv_xml_base_bytes(&x), domains[_i].base);
	ck_assert_int_eq(x.balloon, domains[_i].balloon);
	ck_assert_int_eq(x.free_page_reporting, domains[_i].fpr);
	ck_assert_uint_eq(x.stats_period, domains[_i].period);
	ck_assert_int_eq(x.backing, domains[_i].backing);
	ck_assert_int_eq(x.shared, domains[_i].shared);
	lv_xml_domain_clear(&x);
	lv_xml_domain_clear(&x);
}
END_TEST

/* The device's automatic reclaim settings come from its -device argument;
 * a name that only starts like the device's is another device. */
START_TEST(test_parse_hyperalloc_settings)
{
	static const char *xml =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		"<name>h</name><memory>1024</memory>"
		"<qemu:commandline><qemu:arg value='-device'/>"
		"<qemu:arg value='virtio-hyperalloc-pci,id=ha0,auto-reclaim=on,"
		"auto-interval=500,iothread=io0'/>"
		"</qemu:commandline></domain>";
	static const char *plain =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		"<name>h</name><memory>1024</memory>"
		"<qemu:commandline><qemu:arg value='-device'/>"
		"<qemu:arg value='virtio-hyperalloc-pci'/>"
		"</qemu:commandline></domain>";
	static const char *other =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		"<name>h</name><memory>1024</memory>"
		"<qemu:commandline><qemu:arg value='-device'/>"
		"<qemu:arg value='virtio-hyperalloc-pcix,id=x'/>"
		"</qemu:commandline></domain>";
	struct lv_domain_xml x;
	char err[128];

	ck_assert_int_eq(lv_xml_parse_domain(xml, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(x.mechanism, VM_MECH_HYPERALLOC);
	ck_assert(x.hyperalloc.auto_reclaim);
	ck_assert_uint_eq(x.hyperalloc.auto_interval_ms, 500);
	ck_assert(x.hyperalloc.iothread);
	lv_xml_domain_clear(&x);

	ck_assert_int_eq(lv_xml_parse_domain(plain, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(x.mechanism, VM_MECH_HYPERALLOC);
	ck_assert(!x.hyperalloc.auto_reclaim);
	ck_assert_uint_eq(x.hyperalloc.auto_interval_ms, 0);
	ck_assert(!x.hyperalloc.iothread);
	lv_xml_domain_clear(&x);

	ck_assert_int_eq(lv_xml_parse_domain(other, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(x.mechanism, VM_MECH_NONE);
	lv_xml_domain_clear(&x);
}
END_TEST

START_TEST(test_parse_vmem_device)
{
	struct lv_domain_xml x;
	char err[128];
	char *req;

	ck_assert_int_eq(
		lv_xml_parse_domain(DOMAIN("<memory>1048576</memory>", "",
					   "<memballoon model='none'/>"
					   "<memory model='virtio-mem'>"
					   "<target><size>262144</size>"
					   "<block>2048</block></target>"
					   "</memory>"
					   "<memory model='virtio-mem'>"
					   "<target><size unit='MiB'>768</size>"
					   "<node>0</node>"
					   "<block unit='KiB'>2048</block>"
					   "<requested unit='KiB'>262144"
					   "</requested></target>"
					   "<alias name='virtiomem1'/>"
					   "</memory>"),
				    &x, err, sizeof(err)),
		0);
	/* Two devices: the first is steered, both count off the base. */
	ck_assert_uint_eq(x.n_vmem, 2);
	ck_assert_uint_eq(x.vmem_total_bytes, 1024 * MiB);
	ck_assert_uint_eq(x.vmem.size_bytes, 256 * MiB);
	ck_assert_uint_eq(x.vmem.block_bytes, 2 * MiB);
	ck_assert_uint_eq(lv_xml_base_bytes(&x), 0);
	lv_xml_domain_clear(&x);

	char doc[1024];

	snprintf(doc, sizeof(doc),
		 DOMAIN("<memory unit='MiB'>1024</memory>", "", "%s"),
		 vmem_dev);
	ck_assert_int_eq(lv_xml_parse_domain(doc, &x, err, sizeof(err)), 0);
	ck_assert_str_eq(x.vmem.alias, "virtiomem0");
	ck_assert_uint_eq(x.vmem.requested_bytes, 256 * MiB);
	ck_assert_uint_eq(x.vmem.current_bytes, 128 * MiB);
	ck_assert_ptr_nonnull(strstr(x.vmem.xml, "virtiomem0"));

	/* The request is the device as libvirt wrote it, new <requested>. */
	ck_assert_int_eq(lv_xml_vmem_request(x.vmem.xml, 64 * MiB, &req), 0);
	ck_assert_ptr_nonnull(strstr(req, "<requested unit=\"KiB\">65536"
					  "</requested>"));
	ck_assert_ptr_nonnull(strstr(req, "<alias name=\"virtiomem0\"/>"));
	ck_assert_ptr_nonnull(strstr(req, "<block unit=\"KiB\">2048</block>"));
	ck_assert_ptr_null(strstr(req, "262144"));
	free(req);
	lv_xml_domain_clear(&x);

	/* No <requested> yet: one is added. */
	ck_assert_int_eq(lv_xml_vmem_request("<memory model='virtio-mem'>"
					     "<target><size>8</size></target>"
					     "</memory>",
					     4 * MiB, &req),
			 0);
	ck_assert_ptr_nonnull(strstr(req, ">4096</requested>"));
	free(req);
	ck_assert_int_eq(lv_xml_vmem_request("<memory model='dimm'><target/>"
					     "</memory>",
					     MiB, &req),
			 -EINVAL);
	ck_assert_int_eq(lv_xml_vmem_request("<memory", MiB, &req), -EINVAL);
	ck_assert_ptr_null(req);
}
END_TEST

static const char *const bad_domains[] = {
	"",
	"<domain>",
	"<node><name>x</name></node>",
	"<domain><memory>1</memory></domain>", /* no name */
	"<domain><name>x</name></domain>", /* no memory */
	"<domain><name>x</name><memory>-5</memory></domain>",
	"<domain><name>x</name><memory unit='parsec'>5</memory></domain>",
	"<domain><name>x</name><memory unit='EiB'>99</memory></domain>",
	"<domain><name>x</name><memory>1</memory><devices>"
	"<memory model='virtio-mem'><target><size>8</size></target></memory>"
	"</devices></domain>", /* no block */
};

START_TEST(test_parse_domain_bad)
{
	struct lv_domain_xml x;
	char err[128];

	ck_assert_int_eq(lv_xml_parse_domain(bad_domains[_i], &x, err,
					     sizeof(err)),
			 -EINVAL);
	ck_assert_str_ne(err, "");
	ck_assert_ptr_null(x.vmem.xml);
}
END_TEST

/* ---- metadata ---- */

static const struct {
	const char *xml;
	int r;
	bool has_min, has_max, has_shares;
	uint64_t min, max;
	uint32_t shares;
	const char *err;
} limits[] = {
	{ "<memory min='268435456' max='1073741824' shares='1000'/>", 0, true,
	  true, true, 256 * MiB, 1024 * MiB, 1000, "" },
	{ "<hyperalloc:memory xmlns:hyperalloc='urn:hyperalloc:libvirt:1' "
	  "min='256M' max='1.5G'/>",
	  0, true, true, false, 256 * MiB, 1536 * MiB, 0, "" },
	{ "<memory/>", 0, false, false, false, 0, 0, 0, "" },
	{ "<memory shares='1'/>", 0, false, false, true, 0, 0, 1, "" },
	{ "<memory shares='0'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "shares" },
	{ "<memory shares='100001'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "shares" },
	{ "<memory shares='-3'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "shares" },
	{ "<memory min='lots'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "min" },
	{ "<memory max='-1'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "max" },
	{ "<memory min='2G' max='1G'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "above" },
	{ "<limits min='1'/>", -EINVAL, 0, 0, 0, 0, 0, 0, "<memory>" },
	{ "<memory", -EINVAL, 0, 0, 0, 0, 0, 0, "XML" },
};

START_TEST(test_parse_limits)
{
	struct lv_limits l;
	char err[128];

	ck_assert_int_eq(lv_xml_parse_limits(limits[_i].xml, &l, err,
					     sizeof(err)),
			 limits[_i].r);
	ck_assert_ptr_nonnull(strstr(err, limits[_i].err));
	if (limits[_i].r < 0)
		return;
	ck_assert_int_eq(l.has_min, limits[_i].has_min);
	ck_assert_int_eq(l.has_max, limits[_i].has_max);
	ck_assert_int_eq(l.has_shares, limits[_i].has_shares);
	ck_assert_uint_eq(l.min_bytes, limits[_i].min);
	ck_assert_uint_eq(l.max_bytes, limits[_i].max);
	ck_assert_uint_eq(l.shares, limits[_i].shares);
}
END_TEST

START_TEST(test_format_limits)
{
	struct lv_limits l = { .has_min = true,
			       .has_max = true,
			       .has_shares = true,
			       .min_bytes = 1,
			       .max_bytes = UINT64_MAX,
			       .shares = 100000 },
			 back;
	char buf[128], err[64];
	int n;

	n = lv_xml_format_limits(&l, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen(buf));
	ck_assert_str_eq(buf, "<memory min=\"1\" max=\"18446744073709551615\" "
			      "shares=\"100000\"/>");
	ck_assert_int_eq(lv_xml_parse_limits(buf, &back, err, sizeof(err)), 0);
	ck_assert(back.has_min && back.has_max && back.has_shares);
	ck_assert_uint_eq(back.min_bytes, l.min_bytes);
	ck_assert_uint_eq(back.max_bytes, l.max_bytes);
	ck_assert_uint_eq(back.shares, l.shares);
	ck_assert_int_eq(lv_xml_format_limits(&l, buf, 20), -ENOSPC);
	l.has_min = l.has_max = false;
	lv_xml_format_limits(&l, buf, sizeof(buf));
	ck_assert_str_eq(buf, "<memory shares=\"100000\"/>");
}
END_TEST

/* ---- virtio-mem: block rounding within the device ---- */

static const struct {
	uint64_t target, request;
} rounding[] = {
	{ 0, 0 }, /* below the base: nothing plugged */
	{ 256 * MiB, 0 }, /* the base itself */
	{ 256 * MiB + 1, 2 * MiB }, /* rounds up to a block */
	{ 384 * MiB, 128 * MiB }, /* exact */
	{ 385 * MiB, 130 * MiB }, /* up */
	{ 1024 * MiB, 768 * MiB }, /* the whole device */
	{ 4096 * MiB, 768 * MiB }, /* beyond: the device's size */
};

START_TEST(test_vmem_rounding)
{
	struct lv_domain_xml x = {
		.memory_bytes = 1024 * MiB,
		.numa_bytes = 256 * MiB,
		.n_vmem = 1,
		.vmem_total_bytes = 768 * MiB,
		.vmem = { .size_bytes = 768 * MiB, .block_bytes = 2 * MiB },
	};

	ck_assert_uint_eq(lv_xml_vmem_request_for(&x, rounding[_i].target),
			  rounding[_i].request);
}
END_TEST

/* ---- progress ---- */

START_TEST(test_progress)
{
	const uint64_t tol = MiB;
	struct lv_progress p = { 0 };

	ck_assert_int_eq(lv_progress_step(&p, 5, tol), LV_PROGRESS_IDLE);
	lv_progress_start(&p, 256 * MiB, 512 * MiB, 1000);
	ck_assert_uint_eq(p.from_bytes, 512 * MiB);
	ck_assert_uint_eq(p.start_usec, 1000);
	ck_assert_int_eq(lv_progress_step(&p, 512 * MiB, tol),
			 LV_PROGRESS_MOVING);
	ck_assert_int_eq(lv_progress_step(&p, 256 * MiB + tol + 1, tol),
			 LV_PROGRESS_MOVING);
	/* Within the tolerance on either side; reported once. */
	ck_assert_int_eq(lv_progress_step(&p, 256 * MiB + tol, tol),
			 LV_PROGRESS_REACHED);
	ck_assert(!p.active);
	ck_assert_uint_eq(lv_progress_moved(&p, 256 * MiB + tol),
			  256 * MiB - tol);
	ck_assert_uint_eq(lv_progress_moved(&p, 768 * MiB), 256 * MiB);
	ck_assert_int_eq(lv_progress_step(&p, 256 * MiB, tol),
			 LV_PROGRESS_IDLE);
	lv_progress_start(&p, 512 * MiB, 256 * MiB, 0);
	ck_assert_int_eq(lv_progress_step(&p, 512 * MiB - tol, tol),
			 LV_PROGRESS_REACHED);
	lv_progress_start(&p, 512 * MiB, 256 * MiB, 0);
	ck_assert_int_eq(lv_progress_step(&p, 512 * MiB + 2 * tol, tol),
			 LV_PROGRESS_MOVING);
}
END_TEST

static Suite *xml_suite(void)
{
	Suite *s = suite_create("libvirt_xml");
	TCase *tc = tcase_create("xml");

	tcase_add_loop_test(tc, test_parse_domain, 0,
			    sizeof(domains) / sizeof(domains[0]));
	tcase_add_test(tc, test_parse_vmem_device);
	tcase_add_test(tc, test_parse_hyperalloc_settings);
	tcase_add_loop_test(tc, test_parse_domain_bad, 0,
			    sizeof(bad_domains) / sizeof(bad_domains[0]));
	tcase_add_loop_test(tc, test_parse_limits, 0,
			    sizeof(limits) / sizeof(limits[0]));
	tcase_add_test(tc, test_format_limits);
	tcase_add_loop_test(tc, test_vmem_rounding, 0,
			    sizeof(rounding) / sizeof(rounding[0]));
	tcase_add_test(tc, test_progress);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xml_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
