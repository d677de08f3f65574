// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-hyperalloc: the guest driver of the HyperAlloc device.
 *
 * The guest's page-frame allocator (libhyperalloc, lib/ in this project)
 * keeps its state words in guest RAM. The driver registers each region of
 * that state with the device on the control queue; from then on the host
 * reclaims free huge frames (2 MiB) by compare-and-swapping those words,
 * without asking the guest. Before the guest uses a frame its allocator
 * reports as reclaimed, it asks the device to install the frame again:
 * virtio_hyperalloc_install(), one install queue per CPU, busy-waiting
 * with interrupts off, callable from any context. Hard reclaim makes free
 * frames look allocated; the device publishes how many frames of each
 * region it holds that way in its configuration space, and the driver
 * applies every change to the guest's accounting.
 *
 * Test mode (test_pool=SIZE@START) exercises the device on real guest
 * physical memory: it takes a range the kernel was booted with
 * memmap=SIZE$START (reserved, outside every zone) as a pool, formats the
 * allocator's metadata for it outside the pool, registers it, and runs
 * one kernel thread per online CPU that allocates and frees frames of
 * orders 0..10 from the pool, installs what is reclaimed, and keeps a
 * canary in every 4 KiB page it holds. It is a test of the device and of
 * the protocol, not a way to run guests: no memory of the pool is ever
 * used by anything else. test_hostile= makes it register broken metadata
 * instead, for the tests of the device's validation.
 *
 * Zone mode, in a kernel whose page allocator runs on libhyperalloc
 * (CONFIG_HYPERALLOC, mm/hyperalloc/): the driver registers the region of
 * every managed zone of every node, installs reclaimed frames for the
 * allocator through the hook it registers (struct hyperalloc_ops), and
 * applies the host's hard-reclaimed counts to the zones' free and managed
 * page counters.
 *
 * The protocol (device ID, queues, messages, config space) is
 * lib/ha_virtio.h; the allocator's shared format is lib/ha_layout.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#if IS_ENABLED(CONFIG_HYPERALLOC)
#include <linux/hyperalloc.h>
#endif
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/timekeeping.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <asm/unaligned.h>

#include "ha_guest.h"
#include "ha_validate.h"
#include "ha_virtio.h"
#include "virtio_hyperalloc.h"

/* ---- parameters ---- */

static unsigned int install_timeout_ms = 10000;
module_param(install_timeout_ms, uint, 0644);
MODULE_PARM_DESC(install_timeout_ms,
		 "Longest wait for an install answer, ms (the queue is marked broken after it)");

static unsigned int ctrl_timeout_ms = 10000;
module_param(ctrl_timeout_ms, uint, 0644);
MODULE_PARM_DESC(ctrl_timeout_ms, "Longest wait for a control answer, ms");

static char *test_pool;
module_param(test_pool, charp, 0444);
MODULE_PARM_DESC(test_pool,
		 "Test mode: SIZE@START of a range reserved with memmap=SIZE$START");

static char *test_hostile;
module_param(test_hostile, charp, 0444);
MODULE_PARM_DESC(test_hostile,
		 "Test mode: register broken metadata: header, version, gpa, range, meta-inside, overlap, child, slot, short");

static unsigned int test_hold_pct = 50;
module_param(test_hold_pct, uint, 0644);
MODULE_PARM_DESC(test_hold_pct,
		 "Test mode: at most this % of the pool held by the threads together");

static unsigned int test_report_s = 5;
module_param(test_report_s, uint, 0644);
MODULE_PARM_DESC(test_report_s,
		 "Test mode: seconds between console reports (0: none)");

static bool test_run = true;
module_param(test_run, bool, 0444);
MODULE_PARM_DESC(test_run,
		 "Test mode: start the threads running (else paused until hyperalloc/test_run is 1)");

/* ---- device state ---- */

/* One install queue: its buffers are used by one request at a time. */
struct vha_iq {
	raw_spinlock_t lock;
	struct virtqueue *vq;
	bool broken; /* timed out: the device may still write the buffers */
	struct ha_virtio_install req;
	struct ha_virtio_install_status st;
	/* counters, under @lock */
	u64 installs;
	u64 errors;
	u64 timeouts;
	u64 ns_total;
	u64 ns_max;
	char name[16];
} ____cacheline_aligned_in_smp;

/* One registration slot. */
struct vha_region {
	bool registered;
	u32 zone; /* enum ha_virtio_zone */
	struct zone *kzone; /* zone mode: the zone it backs */
	unsigned long base_pfn; /* zone mode: first frame of the range */
	u64 huge_frames; /* size of the managed range */
	u64 hard_applied; /* hard_frames last applied to the accounting */
	u64 hard_changes;
};

struct vha_test;

struct vha_dev {
	struct virtio_device *vdev;
	unsigned int max_regions;
	unsigned int nq; /* install queues in use */
	struct vha_iq *iqs;

	/* control queue: one request in flight, under @ctrl_lock */
	struct mutex ctrl_lock;
	struct virtqueue *ctrl_vq;
	struct completion ctrl_done;
	bool ctrl_broken;
	struct ha_virtio_register *ctrl_req;
	struct ha_virtio_status *ctrl_st;
	char ctrl_name[16];

	/* regions and the configuration-change work, under @region_lock */
	struct mutex region_lock;
	struct vha_region regions[HA_VIRTIO_MAX_REGIONS];
	spinlock_t config_lock; /* config_enabled vs. the interrupt */
	bool config_enabled;
	struct work_struct config_work;

	struct vha_test *test;
	unsigned int nzones; /* zone mode: regions 0 .. nzones - 1 */
};

/* The bound device, for virtio_hyperalloc_install(). */
static struct vha_dev __rcu *vha_current;
static DEFINE_MUTEX(vha_probe_lock);
static DEFINE_PER_CPU(bool, vha_installing);
static atomic_long_t vha_install_nested = ATOMIC_LONG_INIT(0);

static const char * const vha_refusal_names[HA_VIRTIO_REF_COUNT] = {
	[HA_VIRTIO_REF_NONE] = "none",
	[HA_VIRTIO_REF_REQUEST] = "request",
	[HA_VIRTIO_REF_SLOT] = "slot",
	[HA_VIRTIO_REF_NOT_RAM] = "not-ram",
	[HA_VIRTIO_REF_RANGE] = "range",
	[HA_VIRTIO_REF_OVERLAP] = "overlap",
	[HA_VIRTIO_REF_METADATA] = "metadata",
	[HA_VIRTIO_REF_QUARANTINED] = "quarantined",
};

static const char * const vha_bad_names[HA_BAD_REASON_COUNT] = {
	[HA_BAD_NONE] = "none",
	[HA_BAD_TRUNCATED] = "truncated",
	[HA_BAD_ALIGNMENT] = "alignment",
	[HA_BAD_MAGIC] = "magic",
	[HA_BAD_VERSION] = "version",
	[HA_BAD_GEOMETRY] = "geometry",
	[HA_BAD_FRAMES] = "frames",
	[HA_BAD_BASE] = "base",
	[HA_BAD_RANGE] = "range",
	[HA_BAD_OVERLAP] = "overlap",
	[HA_BAD_LAYOUT] = "layout",
	[HA_BAD_TREE] = "tree",
	[HA_BAD_CHILD] = "child",
	[HA_BAD_STATE] = "state",
};

static const char *vha_name(const char * const *names, unsigned int n,
			    unsigned int i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

/* The device's status words are negative errno values (enum ha_err). */
static int vha_errno(s32 status)
{
	switch (status) {
	case HA_OK:
		return 0;
	case HA_EPERM:
		return -EPERM;
	case HA_EAGAIN:
		return -EAGAIN;
	case HA_ENOMEM:
		return -ENOMEM;
	case HA_EFAULT:
		return -EFAULT;
	case HA_EINVAL:
		return -EINVAL;
	case HA_ERANGE:
		return -ERANGE;
	case HA_EPROTO:
		return -EPROTO;
	case HA_EBADMSG:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

/* ---- install requests ---- */

static int vha_install_on(struct vha_iq *q, unsigned int region, u64 huge,
			  unsigned int count)
{
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	unsigned long flags;
	u64 start, limit, ns;
	unsigned int len;
	void *buf;
	int r;

	raw_spin_lock_irqsave(&q->lock, flags);
	if (q->broken) {
		r = -EIO;
		goto out_count;
	}
	put_unaligned_le32(region, &q->req.region);
	put_unaligned_le32(count, &q->req.count);
	put_unaligned_le64(huge, &q->req.huge);
	memset(&q->st, 0, sizeof(q->st));
	sg_init_one(&out, &q->req, sizeof(q->req));
	sg_init_one(&in, &q->st, sizeof(q->st));

	start = ktime_get_mono_fast_ns();
	limit = (u64)READ_ONCE(install_timeout_ms) * NSEC_PER_MSEC;
	/* Direct descriptors only (see vha_validate()): this cannot allocate. */
	r = virtqueue_add_sgs(q->vq, sgs, 1, 1, q, GFP_ATOMIC);
	if (r) {
		q->broken = true;
		pr_err("%s: cannot queue an install (%d): queue disabled\n",
		       q->name, r);
		r = -EIO;
		goto out_count;
	}
	virtqueue_kick(q->vq);
	while (!(buf = virtqueue_get_buf(q->vq, &len))) {
		if (virtqueue_is_broken(q->vq)) {
			q->broken = true;
			r = -EIO;
			goto out_count;
		}
		if (ktime_get_mono_fast_ns() - start > limit) {
			/* The buffers stay with the device: never reuse them. */
			q->broken = true;
			q->timeouts++;
			pr_err("%s: no answer to install region=%u huge=%llu count=%u within %u ms: queue disabled\n",
			       q->name, region, huge, count,
			       READ_ONCE(install_timeout_ms));
			r = -ETIMEDOUT;
			goto out_count;
		}
		cpu_relax();
	}
	ns = ktime_get_mono_fast_ns() - start;
	q->ns_total += ns;
	if (ns > q->ns_max)
		q->ns_max = ns;
	if (buf != q || len < sizeof(q->st))
		r = -EIO;
	else
		r = vha_errno((s32)get_unaligned_le32(&q->st.status));
out_count:
	q->installs++;
	if (r)
		q->errors++;
	raw_spin_unlock_irqrestore(&q->lock, flags);
	return r;
}

int virtio_hyperalloc_install(unsigned int region, u64 huge,
			      unsigned int count)
{
	struct vha_dev *d;
	unsigned long flags;
	int r;

	if (!count || count > HA_VIRTIO_INSTALL_MAX_COUNT)
		return -EINVAL;

	/*
	 * Interrupts stay off from the guard to the end, so the CPU (and so
	 * its queue and flag) cannot change under us, and nothing that runs
	 * on this CPU meanwhile can wait for our own queue lock.
	 */
	local_irq_save(flags);
	if (this_cpu_read(vha_installing)) {
		local_irq_restore(flags);
		atomic_long_inc(&vha_install_nested);
		return -EDEADLK;
	}
	this_cpu_write(vha_installing, true);

	rcu_read_lock();
	d = rcu_dereference(vha_current);
	if (d)
		r = vha_install_on(&d->iqs[smp_processor_id() % d->nq],
				   region, huge, count);
	else
		r = -ENODEV;
	rcu_read_unlock();

	this_cpu_write(vha_installing, false);
	local_irq_restore(flags);
	return r;
}
EXPORT_SYMBOL_GPL(virtio_hyperalloc_install);

/* ---- control requests ---- */

static void vha_ctrl_done(struct virtqueue *vq)
{
	struct vha_dev *d = vq->vdev->priv;

	complete(&d->ctrl_done);
}

/*
 * Send d->ctrl_req (@req_len bytes of it) and wait for the answer in
 * *@ret. Returns 0 when the device answered (whatever it said), -ETIMEDOUT
 * (the control queue is then disabled), -EIO or a virtqueue error.
 */
static int vha_ctrl(struct vha_dev *d, size_t req_len,
		    struct ha_virtio_status *ret)
{
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	unsigned long deadline = jiffies + msecs_to_jiffies(ctrl_timeout_ms);
	unsigned int len;
	void *buf;
	int r;

	lockdep_assert_held(&d->ctrl_lock);
	if (d->ctrl_broken)
		return -EIO;
	memset(d->ctrl_st, 0, sizeof(*d->ctrl_st));
	sg_init_one(&out, d->ctrl_req, req_len);
	sg_init_one(&in, d->ctrl_st, sizeof(*d->ctrl_st));
	reinit_completion(&d->ctrl_done);
	r = virtqueue_add_sgs(d->ctrl_vq, sgs, 1, 1, d, GFP_KERNEL);
	if (r)
		return r;
	virtqueue_kick(d->ctrl_vq);

	while (!(buf = virtqueue_get_buf(d->ctrl_vq, &len))) {
		long left = (long)(deadline - jiffies);

		if (virtqueue_is_broken(d->ctrl_vq)) {
			d->ctrl_broken = true;
			return -EIO;
		}
		if (left <= 0 ||
		    !wait_for_completion_timeout(&d->ctrl_done, left)) {
			if (virtqueue_get_buf(d->ctrl_vq, &len))
				break;
			d->ctrl_broken = true;
			pr_err("no answer on the control queue within %u ms: queue disabled\n",
			       ctrl_timeout_ms);
			return -ETIMEDOUT;
		}
	}
	if (len < sizeof(*d->ctrl_st)) {
		pr_err("control answer of %u bytes, expected %zu\n", len,
		       sizeof(*d->ctrl_st));
		return -EIO;
	}
	ret->status = (s32)get_unaligned_le32(&d->ctrl_st->status);
	ret->refusal = get_unaligned_le16(&d->ctrl_st->refusal);
	ret->bad_reason = get_unaligned_le16(&d->ctrl_st->bad_reason);
	ret->index = get_unaligned_le64(&d->ctrl_st->index);
	ret->value = get_unaligned_le64(&d->ctrl_st->value);
	return 0;
}

static void vha_config_changed(struct virtio_device *vdev);

/*
 * Register a metadata region in @slot. @req_len is normally the size of
 * the request; the test mode shortens it on purpose. Logs the outcome in
 * one line either way. Returns 0, the device's refusal as -errno, or an
 * error of the control queue.
 */
static int vha_register(struct vha_dev *d, unsigned int slot, u64 meta_gpa,
			u64 meta_len, u64 frames, u32 node, u32 zone,
			size_t req_len)
{
	struct ha_virtio_register *req = d->ctrl_req;
	struct ha_virtio_status st;
	int r;

	mutex_lock(&d->ctrl_lock);
	memset(req, 0, sizeof(*req));
	put_unaligned_le32(HA_VIRTIO_CMD_REGISTER, &req->cmd);
	put_unaligned_le32(slot, &req->region);
	put_unaligned_le64(meta_gpa, &req->meta_gpa);
	put_unaligned_le64(meta_len, &req->meta_len);
	put_unaligned_le32(node, &req->node);
	put_unaligned_le32(zone, &req->zone);
	r = vha_ctrl(d, req_len, &st);
	mutex_unlock(&d->ctrl_lock);

	if (r) {
		pr_err("register slot=%u failed: error=%d\n", slot, r);
		return r;
	}
	if (st.status == HA_OK && st.refusal == HA_VIRTIO_REF_NONE) {
		pr_info("register slot=%u ok\n", slot);
		if (slot < HA_VIRTIO_MAX_REGIONS) {
			struct vha_region *reg = &d->regions[slot];

			/* Zone mode set kzone and base_pfn already. */
			mutex_lock(&d->region_lock);
			reg->registered = true;
			reg->zone = zone;
			reg->huge_frames = frames / HA_CHILD_FRAMES;
			reg->hard_applied = 0;
			reg->hard_changes = 0;
			mutex_unlock(&d->region_lock);
			/* Catch up with what the device holds already. */
			vha_config_changed(d->vdev);
		}
		return 0;
	}
	pr_info("register slot=%u refused: status=%d refusal=%s bad_reason=%s index=%llu value=%#llx\n",
		slot, st.status,
		vha_name(vha_refusal_names, HA_VIRTIO_REF_COUNT, st.refusal),
		vha_name(vha_bad_names, HA_BAD_REASON_COUNT, st.bad_reason),
		st.index, st.value);
	return st.status < 0 ? vha_errno(st.status) : -EPROTO;
}

/* ---- configuration changes: hard-reclaimed frames ---- */

/*
 * A region that backs a zone of the in-kernel allocator: frames the host
 * holds hard-reclaimed look allocated to the allocator (the host took
 * them from its words), while the zone's counters still count them as
 * free and managed. Take @delta huge frames off both (or give them back):
 * MemFree and MemTotal then show the VM's logical size.
 */
static void vha_zone_apply_hard(struct vha_dev *d, unsigned int slot,
				s64 delta)
{
	const struct vha_region *r = &d->regions[slot];
	long pages = (long)delta << HA_HUGE_ORDER;

	if (!r->kzone)
		return;
	mod_zone_page_state(r->kzone, NR_FREE_PAGES, -pages);
	adjust_managed_page_count(pfn_to_page(r->base_pfn), -pages);
	pr_debug("region %u: hard_frames %+lld -> %llu\n", slot, delta,
		 r->hard_applied + delta);
}

/*
 * A test pool lies outside every zone: nothing in the kernel counts its
 * frames, so a change is recorded (vha_region.hard_applied) and logged.
 */
static void vha_pool_apply_hard(struct vha_dev *d, unsigned int slot,
				s64 delta)
{
	pr_info_ratelimited("region %u: hard_frames %+lld -> %llu\n", slot,
			    delta, d->regions[slot].hard_applied + delta);
}

static void vha_config_work(struct work_struct *work)
{
	struct vha_dev *d = container_of(work, struct vha_dev, config_work);
	unsigned int i;

	mutex_lock(&d->region_lock);
	for (i = 0; i < d->max_regions; i++) {
		struct vha_region *r = &d->regions[i];
		u64 hard;
		s64 delta;

		if (!r->registered)
			continue;
		hard = virtio_cread64(d->vdev,
				      offsetof(struct ha_virtio_config,
					       hard_frames) + i * sizeof(u64));
		if (hard == r->hard_applied)
			continue;
		if (hard > r->huge_frames) {
			pr_err_ratelimited("region %u: device says %llu hard frames of %llu: ignored\n",
					   i, hard, r->huge_frames);
			continue;
		}
		delta = (s64)(hard - r->hard_applied);
		if (r->zone == HA_VIRTIO_ZONE_POOL)
			vha_pool_apply_hard(d, i, delta);
		else
			vha_zone_apply_hard(d, i, delta);
		r->hard_applied = hard;
		r->hard_changes++;
	}
	mutex_unlock(&d->region_lock);
}

static void vha_config_changed(struct virtio_device *vdev)
{
	struct vha_dev *d = vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&d->config_lock, flags);
	if (d->config_enabled)
		queue_work(system_freezable_wq, &d->config_work);
	spin_unlock_irqrestore(&d->config_lock, flags);
}

static void vha_config_enable(struct vha_dev *d, bool on)
{
	spin_lock_irq(&d->config_lock);
	d->config_enabled = on;
	spin_unlock_irq(&d->config_lock);
	if (!on)
		cancel_work_sync(&d->config_work);
}

/* ---- zone mode ---- */

#if IS_ENABLED(CONFIG_HYPERALLOC)
static u32 vha_zone_kind(unsigned int zone_idx)
{
	switch (zone_idx) {
#ifdef CONFIG_ZONE_DMA32
	case ZONE_DMA32:
		return HA_VIRTIO_ZONE_DMA32;
#endif
	case ZONE_MOVABLE:
		return HA_VIRTIO_ZONE_MOVABLE;
	default:
		return HA_VIRTIO_ZONE_NORMAL;
	}
}

/* The allocator's hook: a zone's region is the slot of its id. */
static int vha_zone_install(const struct hyperalloc_zone *hz, u64 huge,
			    unsigned int count)
{
	return virtio_hyperalloc_install(hz->id, huge, count);
}

static const struct hyperalloc_ops vha_zone_ops = {
	.install = vha_zone_install,
};

/*
 * Register every zone the allocator manages, in the slot of its id. The
 * install hook goes first: the host may reclaim as soon as a region is
 * registered. A zone the device refuses keeps all of its memory; the
 * host just cannot reclaim from it.
 */
static int vha_zones_start(struct vha_dev *d)
{
	unsigned int i, n = hyperalloc_nr_zones();
	int r;

	if (!n)
		return 0;
	if (n > d->max_regions) {
		pr_warn("%u zones but %u slots: zones %u.. are not registered\n",
			n, d->max_regions, d->max_regions);
		n = d->max_regions;
	}
	r = hyperalloc_register_ops(&vha_zone_ops);
	if (r) {
		pr_err("cannot set the allocator's install hook: %d\n", r);
		return r;
	}
	d->nzones = n;
	for (i = 0; i < n; i++) {
		const struct hyperalloc_zone *hz = hyperalloc_get_zone(i);

		mutex_lock(&d->region_lock);
		d->regions[i].kzone = hz->zone;
		d->regions[i].base_pfn = hz->base_pfn;
		mutex_unlock(&d->region_lock);
		pr_info("zone: slot=%u node=%d zone=%s pfn=%#lx pages=%lu\n", i,
			hz->nid, hz->zone->name, hz->base_pfn, hz->nr_pages);
		vha_register(d, i, hz->meta_phys, hz->meta_size, hz->nr_pages,
			     hz->nid, vha_zone_kind(hz->zone_idx),
			     sizeof(struct ha_virtio_register));
	}
	return 0;
}

static void vha_zones_stop(struct vha_dev *d)
{
	if (d->nzones)
		hyperalloc_unregister_ops(&vha_zone_ops);
}
#else
static int vha_zones_start(struct vha_dev *d)
{
	return 0;
}

static void vha_zones_stop(struct vha_dev *d)
{
}
#endif

/* ---- test mode ---- */

enum vha_hostile {
	VHA_HOSTILE_NONE,
	VHA_HOSTILE_HEADER, /* corrupt magic */
	VHA_HOSTILE_VERSION, /* a version the device does not speak */
	VHA_HOSTILE_GPA, /* meta_gpa 1 TiB, far outside RAM */
	VHA_HOSTILE_RANGE, /* managed range at 1 TiB, outside RAM */
	VHA_HOSTILE_META_INSIDE, /* metadata inside the range it manages */
	VHA_HOSTILE_OVERLAP, /* slot 1 overlaps the valid slot 0 */
	VHA_HOSTILE_CHILD, /* an illegal child word after a few seconds */
	VHA_HOSTILE_SLOT, /* slot number >= max_regions */
	VHA_HOSTILE_SHORT, /* request shorter than its struct */
	VHA_HOSTILE_COUNT,
};

static const char * const vha_hostile_names[VHA_HOSTILE_COUNT] = {
	[VHA_HOSTILE_NONE] = "none",
	[VHA_HOSTILE_HEADER] = "header",
	[VHA_HOSTILE_VERSION] = "version",
	[VHA_HOSTILE_GPA] = "gpa",
	[VHA_HOSTILE_RANGE] = "range",
	[VHA_HOSTILE_META_INSIDE] = "meta-inside",
	[VHA_HOSTILE_OVERLAP] = "overlap",
	[VHA_HOSTILE_CHILD] = "child",
	[VHA_HOSTILE_SLOT] = "slot",
	[VHA_HOSTILE_SHORT] = "short",
};

#define VHA_HOLD_MAX 8192 /* allocations one thread holds at most */
#define VHA_CANARY_LOG 8 /* canary errors logged in full */
#define VHA_CHILD_DELAY_S 5
/* The illegal child word of test_hostile=child: free=600 on a huge child. */
#define VHA_ILLEGAL_CHILD ((ha_child_word)(HA_CHILD_HUGE | 600u))

struct vha_alloc {
	u64 frame; /* relative to the pool's base frame */
	u32 order;
	u32 seq;
};

/* Counters of one thread, written by it alone. */
struct vha_counts {
	u64 allocs;
	u64 frees;
	u64 enomem;
	u64 installs;
	u64 install_errors;
	u64 canary_errors;
	u64 lib_errors;
	u64 held_frames;
};

struct vha_worker {
	struct vha_test *t;
	struct task_struct *task;
	unsigned int cpu;
	unsigned int index;
	struct vha_alloc *held;
	unsigned int nheld;
	u32 seq;
	u64 rnd;
	struct vha_counts c;
};

/* Allocator metadata kept in ordinary kernel memory (outside the pool). */
struct vha_meta {
	void *meta;
	size_t meta_alloc; /* bytes allocated; 0 if @meta is not ours */
	u64 meta_len;
	struct ha_local *locals;
	size_t locals_alloc;
	struct ha_guest g;
};

struct vha_test {
	struct vha_dev *d;
	enum vha_hostile hostile;
	phys_addr_t start;
	u64 size;
	u64 base_frame;
	u64 frames;
	void *pool;
	struct vha_meta m; /* the pool's metadata, slot 0 */
	struct vha_meta m2; /* test_hostile=overlap: slot 1 */
	unsigned int aux_core; /* core index of the driver's own allocations */

	struct vha_worker *workers;
	unsigned int nworkers;
	bool run;
	wait_queue_head_t wq;
	atomic_t canary_logged;

	struct delayed_work report_work;
	struct delayed_work child_work;
	bool child_written;

	struct mutex fill_lock; /* one test_fill at a time */
	struct vha_counts fill; /* what test_fill did */
};

static void vha_inc(u64 *p, u64 n)
{
	WRITE_ONCE(*p, *p + n);
}

/* Two canary words per 4 KiB page: the frame number and the allocation. */
static u64 vha_canary(u64 pfn, u32 seq)
{
	return ((u64)(seq & 0xffffff) << 40) | (pfn & GENMASK_ULL(39, 0));
}

static u64 *vha_page(struct vha_test *t, u64 frame)
{
	return t->pool + (frame << PAGE_SHIFT);
}

static void vha_canary_fill(struct vha_test *t, const struct vha_alloc *a)
{
	u64 n = 1ull << a->order, i;

	for (i = 0; i < n; i++) {
		u64 *p = vha_page(t, a->frame + i);
		u64 v = vha_canary(t->base_frame + a->frame + i, a->seq);

		WRITE_ONCE(p[0], v);
		WRITE_ONCE(p[PAGE_SIZE / sizeof(u64) - 1], ~v);
	}
}

static void vha_canary_error(struct vha_test *t, u64 pfn, unsigned int word,
			     u64 want, u64 got)
{
	if (atomic_inc_return(&t->canary_logged) <= VHA_CANARY_LOG)
		pr_err("test: canary error: pfn=%#llx word=%u expected=%#llx actual=%#llx\n",
		       pfn, word, want, got);
}

/* Returns the number of pages whose canary was wrong. */
static u64 vha_canary_check(struct vha_test *t, const struct vha_alloc *a)
{
	u64 n = 1ull << a->order, i, bad = 0;
	const unsigned int last = PAGE_SIZE / sizeof(u64) - 1;

	for (i = 0; i < n; i++) {
		u64 *p = vha_page(t, a->frame + i);
		u64 pfn = t->base_frame + a->frame + i;
		u64 v = vha_canary(pfn, a->seq);
		u64 first = READ_ONCE(p[0]), end = READ_ONCE(p[last]);

		if (first != v)
			vha_canary_error(t, pfn, 0, v, first);
		if (end != ~v)
			vha_canary_error(t, pfn, last, ~v, end);
		if (first != v || end != ~v)
			bad++;
	}
	return bad;
}

static u64 vha_rand(struct vha_worker *w)
{
	/* xorshift64: cheap, and good enough to pick orders and victims */
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return w->rnd;
}

/* Mostly small orders, but every order up to 10 (4 MiB) appears. */
static unsigned int vha_pick_order(struct vha_worker *w)
{
	static const u8 weight[HA_MAX_ORDER + 1] = {
		30, 15, 10, 10, 8, 7, 5, 4, 3, 5, 3,
	};
	unsigned int x = vha_rand(w) % 100, o;

	for (o = 0; o < HA_MAX_ORDER; o++) {
		if (x < weight[o])
			return o;
		x -= weight[o];
	}
	return HA_MAX_ORDER;
}

static u64 vha_budget(const struct vha_test *t)
{
	unsigned int pct = min(READ_ONCE(test_hold_pct), 100u);

	return t->frames * pct / 100 / t->nworkers;
}

/* Return a frame to the allocator (a free fails only on a bug). */
static int vha_put(struct vha_test *t, unsigned int core, u64 frame,
		   unsigned int order)
{
	int r = ha_guest_put(&t->m.g, core, ha_frame(frame), order);

	if (r)
		pr_err_ratelimited("test: put frame=%llu order=%u: %d\n",
				   frame, order, r);
	return r;
}

static void vha_worker_free(struct vha_worker *w, unsigned int i)
{
	struct vha_test *t = w->t;
	struct vha_alloc a = w->held[i];

	w->held[i] = w->held[--w->nheld];
	vha_inc(&w->c.canary_errors, vha_canary_check(t, &a));
	if (vha_put(t, w->cpu, a.frame, a.order))
		vha_inc(&w->c.lib_errors, 1);
	vha_inc(&w->c.frees, 1);
	vha_inc(&w->c.held_frames, -(1ull << a.order));
}

static void vha_worker_release(struct vha_worker *w)
{
	while (w->nheld) {
		vha_worker_free(w, w->nheld - 1);
		cond_resched();
	}
}

/* Install every huge frame an allocation covers; 0 or -errno. */
static int vha_install_alloc(u64 frame, unsigned int order)
{
	unsigned int count = order > HA_HUGE_ORDER ?
			     1u << (order - HA_HUGE_ORDER) : 1;

	return virtio_hyperalloc_install(0, frame >> HA_HUGE_ORDER, count);
}

static void vha_worker_step(struct vha_worker *w)
{
	struct vha_test *t = w->t;
	unsigned int order = vha_pick_order(w);
	u64 n = 1ull << order, budget = vha_budget(t);
	struct vha_alloc *a;
	bool reclaimed;
	ha_frame_t f;
	int r;

	while (w->nheld &&
	       (w->nheld == VHA_HOLD_MAX || w->c.held_frames + n > budget))
		vha_worker_free(w, vha_rand(w) % w->nheld);
	if (n > budget) {
		usleep_range(1000, 2000);
		return;
	}

	r = ha_guest_get(&t->m.g, w->cpu, order, 0, &f, &reclaimed);
	if (r == HA_ENOMEM) {
		vha_inc(&w->c.enomem, 1);
		if (w->nheld)
			vha_worker_free(w, vha_rand(w) % w->nheld);
		else
			usleep_range(1000, 2000);
		return;
	}
	if (r) {
		vha_inc(&w->c.lib_errors, 1);
		pr_err_ratelimited("test: get order=%u: %d\n", order, r);
		return;
	}
	if (reclaimed) {
		vha_inc(&w->c.installs, 1);
		r = vha_install_alloc(f.v, order);
		if (r) {
			/* Not installed: give it back untouched. */
			vha_inc(&w->c.install_errors, 1);
			pr_err_ratelimited("test: install frame=%llu order=%u: %d\n",
					   f.v, order, r);
			vha_put(t, w->cpu, f.v, order);
			return;
		}
	}

	a = &w->held[w->nheld++];
	a->frame = f.v;
	a->order = order;
	a->seq = ++w->seq * t->nworkers + w->index;
	vha_canary_fill(t, a);
	vha_inc(&w->c.allocs, 1);
	vha_inc(&w->c.held_frames, n);
}

static int vha_worker_fn(void *arg)
{
	struct vha_worker *w = arg;
	struct vha_test *t = w->t;

	while (!kthread_should_stop()) {
		if (!READ_ONCE(t->run)) {
			vha_worker_release(w);
			wait_event_interruptible(t->wq, READ_ONCE(t->run) ||
						 kthread_should_stop());
			continue;
		}
		vha_worker_step(w);
		cond_resched();
	}
	vha_worker_release(w);
	return 0;
}

static void vha_test_sum(const struct vha_test *t, struct vha_counts *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < t->nworkers; i++) {
		const struct vha_counts *c = &t->workers[i].c;

		s->allocs += READ_ONCE(c->allocs);
		s->frees += READ_ONCE(c->frees);
		s->enomem += READ_ONCE(c->enomem);
		s->installs += READ_ONCE(c->installs);
		s->install_errors += READ_ONCE(c->install_errors);
		s->canary_errors += READ_ONCE(c->canary_errors);
		s->lib_errors += READ_ONCE(c->lib_errors);
		s->held_frames += READ_ONCE(c->held_frames);
	}
	s->allocs += READ_ONCE(t->fill.allocs);
	s->frees += READ_ONCE(t->fill.frees);
	s->installs += READ_ONCE(t->fill.installs);
	s->install_errors += READ_ONCE(t->fill.install_errors);
	s->canary_errors += READ_ONCE(t->fill.canary_errors);
	s->lib_errors += READ_ONCE(t->fill.lib_errors);
}

static void vha_report_work(struct work_struct *work)
{
	struct vha_test *t = container_of(to_delayed_work(work),
					  struct vha_test, report_work);
	unsigned int period = READ_ONCE(test_report_s);
	struct vha_counts s;

	vha_test_sum(t, &s);
	pr_info("test: allocs=%llu frees=%llu held_frames=%llu installs=%llu install_errors=%llu canary_errors=%llu enomem=%llu\n",
		s.allocs, s.frees, s.held_frames, s.installs,
		s.install_errors, s.canary_errors, s.enomem);
	schedule_delayed_work(&t->report_work, (period ? period : 1) * HZ);
}

/*
 * test_hostile=child: take one huge frame of the pool for the driver
 * (so that no thread uses it), then overwrite its child word with one no
 * legal guest writes. The host finds it at its next look at the region
 * and quarantines it; the guest's allocator skips a huge child, so the
 * threads are not affected.
 */
static void vha_child_work(struct work_struct *work)
{
	struct vha_test *t = container_of(to_delayed_work(work),
					  struct vha_test, child_work);
	bool reclaimed;
	ha_frame_t f;
	u64 c;
	int r;

	r = ha_guest_get(&t->m.g, t->aux_core, HA_HUGE_ORDER, 0, &f,
			 &reclaimed);
	if (r) {
		pr_err("test: hostile child: no huge frame free (%d)\n", r);
		return;
	}
	if (reclaimed) {
		r = vha_install_alloc(f.v, HA_HUGE_ORDER);
		if (r)
			pr_warn("test: hostile child: install: %d\n", r);
	}
	c = f.v >> HA_HUGE_ORDER;
	WRITE_ONCE(t->m.g.children[c], VHA_ILLEGAL_CHILD);
	t->child_written = true;
	pr_info("test: hostile child: wrote child=%llu word=%#x\n", c,
		VHA_ILLEGAL_CHILD);
}

/* SIZE@START: START 4 MiB aligned, SIZE a non-zero multiple of 2 MiB. */
static int vha_parse_pool(const char *s, phys_addr_t *ret_start,
			  u64 *ret_size)
{
	char *end;
	u64 size, start;

	size = memparse(s, &end);
	if (*end != '@')
		goto out_bad;
	start = memparse(end + 1, &end);
	if (*end && *end != '\n')
		goto out_bad;
	if (!size || size % HA_HUGE_SIZE) {
		pr_err("test_pool: size %#llx is not a non-zero multiple of 2 MiB\n",
		       size);
		return -EINVAL;
	}
	if (start % ((u64)HA_BASE_ALIGN_FRAMES << HA_FRAME_SHIFT)) {
		pr_err("test_pool: start %#llx is not 4 MiB aligned\n", start);
		return -EINVAL;
	}
	if ((size >> HA_FRAME_SHIFT) > HA_MAX_FRAMES || start + size < start) {
		pr_err("test_pool: %#llx@%#llx is too large\n", size, start);
		return -EINVAL;
	}
	*ret_start = start;
	*ret_size = size;
	return 0;

out_bad:
	pr_err("test_pool: '%s' is not SIZE@START (e.g. 512M@0x40000000)\n", s);
	return -EINVAL;
}

static void vha_meta_free(struct vha_meta *m)
{
	if (m->locals_alloc)
		free_pages_exact(m->locals, m->locals_alloc);
	if (m->meta_alloc)
		free_pages_exact(m->meta, m->meta_alloc);
	memset(m, 0, sizeof(*m));
}

/*
 * Format fresh metadata (every frame free) for @frames frames at guest
 * frame @base, in physically contiguous kernel memory, or at @at if it is
 * not NULL (test_hostile=meta-inside).
 */
static int vha_meta_init(struct vha_meta *m, void *at, unsigned int cores,
			 u64 base, u64 frames)
{
	int r;

	m->meta_len = ha_meta_size(frames);
	if (!m->meta_len)
		return -EINVAL;
	if (at) {
		m->meta = at;
	} else {
		m->meta_alloc = PAGE_ALIGN(m->meta_len);
		m->meta = alloc_pages_exact(m->meta_alloc,
					    GFP_KERNEL | __GFP_ZERO);
		if (!m->meta) {
			m->meta_alloc = 0;
			goto out_nomem;
		}
	}
	m->locals_alloc = PAGE_ALIGN(ha_local_size(cores));
	m->locals = alloc_pages_exact(m->locals_alloc, GFP_KERNEL | __GFP_ZERO);
	if (!m->locals) {
		m->locals_alloc = 0;
		goto out_nomem;
	}
	r = ha_guest_init(&m->g, m->meta, m->meta_len, m->locals, cores, base,
			  frames, HA_INIT_FREE);
	if (r) {
		pr_err("test: cannot format metadata for %llu frames at %#llx: %d\n",
		       frames, base, r);
		vha_meta_free(m);
		return -EINVAL;
	}
	return 0;

out_nomem:
	pr_err("test: no memory for %llu bytes of metadata\n", m->meta_len);
	vha_meta_free(m);
	return -ENOMEM;
}

static u64 vha_meta_gpa(const struct vha_test *t, const struct vha_meta *m)
{
	if (!m->meta_alloc)
		return t->start + ((char *)m->meta - (char *)t->pool);
	return virt_to_phys(m->meta);
}

static void vha_test_stop_threads(struct vha_test *t)
{
	unsigned int i;

	for (i = 0; i < t->nworkers; i++) {
		if (t->workers[i].task)
			kthread_stop(t->workers[i].task);
		kvfree(t->workers[i].held);
	}
	kfree(t->workers);
	t->workers = NULL;
	t->nworkers = 0;
}

static int vha_test_start_threads(struct vha_test *t)
{
	unsigned int cpu, i = 0;
	int r = 0;

	cpus_read_lock();
	t->workers = kcalloc(num_online_cpus(), sizeof(*t->workers),
			     GFP_KERNEL);
	if (!t->workers) {
		r = -ENOMEM;
		goto out_unlock;
	}
	for_each_online_cpu(cpu) {
		struct vha_worker *w = &t->workers[i];

		w->t = t;
		w->cpu = cpu;
		w->index = i;
		w->rnd = get_random_u64() | 1;
		w->held = kvmalloc_array(VHA_HOLD_MAX, sizeof(*w->held),
					 GFP_KERNEL);
		t->nworkers = ++i;
		if (!w->held) {
			r = -ENOMEM;
			goto out_unlock;
		}
		w->task = kthread_create_on_cpu(vha_worker_fn, w, cpu,
						"vha_test/%u");
		if (IS_ERR(w->task)) {
			r = PTR_ERR(w->task);
			w->task = NULL;
			goto out_unlock;
		}
	}
out_unlock:
	cpus_read_unlock();
	if (r) {
		pr_err("test: cannot start the threads: %d\n", r);
		vha_test_stop_threads(t);
		return r;
	}
	for (i = 0; i < t->nworkers; i++)
		wake_up_process(t->workers[i].task);
	pr_info("test: %u threads, %llu frames at pfn %#llx, hold at most %u%%\n",
		t->nworkers, t->frames, t->base_frame, test_hold_pct);
	return 0;
}

/* Register what test_hostile asks for; 0 if the threads should start. */
static int vha_test_register(struct vha_test *t)
{
	struct vha_dev *d = t->d;
	struct ha_header *hdr = t->m.meta;
	size_t len = sizeof(struct ha_virtio_register);
	u64 gpa = vha_meta_gpa(t, &t->m);
	unsigned int slot = 0;
	int r;

	switch (t->hostile) {
	case VHA_HOSTILE_HEADER:
		hdr->magic ^= 0x5a5a5a5au;
		break;
	case VHA_HOSTILE_VERSION:
		hdr->version = HA_VERSION + 1;
		break;
	case VHA_HOSTILE_GPA:
		gpa = 1ull << 40;
		break;
	case VHA_HOSTILE_SLOT:
		slot = d->max_regions;
		break;
	case VHA_HOSTILE_SHORT:
		len -= sizeof(u64);
		break;
	default:
		break;
	}
	r = vha_register(d, slot, gpa, t->m.meta_len, t->frames, 0,
			 HA_VIRTIO_ZONE_POOL, len);
	if (t->hostile == VHA_HOSTILE_OVERLAP && !r)
		vha_register(d, 1, vha_meta_gpa(t, &t->m2), t->m2.meta_len,
			     t->m2.g.layout.frames, 0, HA_VIRTIO_ZONE_POOL, len);
	if (r)
		return r;
	switch (t->hostile) {
	case VHA_HOSTILE_NONE:
	case VHA_HOSTILE_OVERLAP:
	case VHA_HOSTILE_CHILD:
		return 0;
	default:
		pr_warn("test: hostile %s registered: threads not started\n",
			vha_hostile_names[t->hostile]);
		return -EINVAL;
	}
}

static void vha_test_free(struct vha_test *t)
{
	if (!t)
		return;
	vha_meta_free(&t->m2);
	vha_meta_free(&t->m);
	if (t->pool)
		memunmap(t->pool);
	kfree(t);
}

/* Stop everything that uses the device; the memory stays until reset. */
static void vha_test_stop(struct vha_test *t)
{
	if (!t)
		return;
	cancel_delayed_work_sync(&t->child_work);
	cancel_delayed_work_sync(&t->report_work);
	vha_test_stop_threads(t);
}

/*
 * Set up test mode as the parameters ask. Whatever it returns, d->test
 * holds what it set up: the caller stops it and frees it after the
 * device's reset (the device may use the metadata and the pool until
 * then). Returns 0 also when the device refused a registration.
 */
static int vha_test_start(struct vha_dev *d)
{
	struct vha_test *t;
	u64 base;
	int r;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	d->test = t;
	t->d = d;
	t->run = test_run;
	init_waitqueue_head(&t->wq);
	INIT_DELAYED_WORK(&t->report_work, vha_report_work);
	INIT_DELAYED_WORK(&t->child_work, vha_child_work);

	r = match_string(vha_hostile_names, VHA_HOSTILE_COUNT,
			 test_hostile ? test_hostile : "none");
	if (r < 0) {
		pr_err("test_hostile: unknown mode '%s'\n", test_hostile);
		return -EINVAL;
	}
	t->hostile = r;
	r = vha_parse_pool(test_pool, &t->start, &t->size);
	if (r)
		return r;
	t->base_frame = t->start >> HA_FRAME_SHIFT;
	t->frames = t->size >> HA_FRAME_SHIFT;

	if (region_intersects(t->start, t->size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("test_pool: %#llx@%#llx is (partly) kernel RAM: boot with memmap=%#llx$%#llx\n",
		       t->size, (u64)t->start, t->size, (u64)t->start);
		return -EINVAL;
	}
	t->pool = memremap(t->start, t->size, MEMREMAP_WB);
	if (!t->pool) {
		pr_err("test_pool: cannot map %#llx@%#llx\n", t->size,
		       (u64)t->start);
		return -ENOMEM;
	}

	/* One core index per possible CPU, and one for the driver. */
	t->aux_core = nr_cpu_ids;
	mutex_init(&t->fill_lock);
	base = t->base_frame;
	if (t->hostile == VHA_HOSTILE_RANGE)
		base = (1ull << 40) >> HA_FRAME_SHIFT;
	r = vha_meta_init(&t->m,
			  t->hostile == VHA_HOSTILE_META_INSIDE ? t->pool : NULL,
			  nr_cpu_ids + 1, base, t->frames);
	if (r)
		return r;
	if (t->hostile == VHA_HOSTILE_OVERLAP) {
		r = vha_meta_init(&t->m2, NULL, 1, t->base_frame,
				  min_t(u64, t->frames, HA_BASE_ALIGN_FRAMES));
		if (r)
			return r;
	}

	if (vha_test_register(t))
		return 0; /* refused (as asked, or not): the log says why */
	r = vha_test_start_threads(t);
	if (r)
		return r;
	if (test_report_s)
		schedule_delayed_work(&t->report_work, test_report_s * HZ);
	if (t->hostile == VHA_HOSTILE_CHILD)
		schedule_delayed_work(&t->child_work, VHA_CHILD_DELAY_S * HZ);
	return 0;
}

/* ---- sysfs: /sys/bus/virtio/devices/virtioN/hyperalloc/ ---- */

static struct vha_dev *vha_of(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vha_dev *d = vha_of(dev);
	u64 installs = 0, errors = 0, timeouts = 0, ns = 0, ns_max = 0;
	unsigned int i, broken = 0;
	int n = 0;

	for (i = 0; i < d->nq; i++) {
		const struct vha_iq *q = &d->iqs[i];

		installs += READ_ONCE(q->installs);
		errors += READ_ONCE(q->errors);
		timeouts += READ_ONCE(q->timeouts);
		ns += READ_ONCE(q->ns_total);
		ns_max = max(ns_max, READ_ONCE(q->ns_max));
		broken += READ_ONCE(q->broken);
	}
	n += sysfs_emit_at(buf, n, "installs=%llu\ninstall_errors=%llu\n",
			   installs, errors);
	n += sysfs_emit_at(buf, n, "install_timeouts=%llu\n", timeouts);
	n += sysfs_emit_at(buf, n, "install_nested=%ld\n",
			   atomic_long_read(&vha_install_nested));
	n += sysfs_emit_at(buf, n, "install_ns_total=%llu\n", ns);
	n += sysfs_emit_at(buf, n, "install_ns_max=%llu\n", ns_max);
	n += sysfs_emit_at(buf, n, "install_queues=%u\nqueues_broken=%u\n",
			   d->nq, broken);
	n += sysfs_emit_at(buf, n, "control_broken=%d\n", d->ctrl_broken);
	n += sysfs_emit_at(buf, n, "zones=%u\n", d->nzones);

	mutex_lock(&d->region_lock);
	for (i = 0; i < d->max_regions; i++) {
		const struct vha_region *r = &d->regions[i];

		if (!r->registered)
			continue;
		n += sysfs_emit_at(buf, n,
				   "region%u_hard_frames=%llu\nregion%u_hard_changes=%llu\n",
				   i, r->hard_applied, i, r->hard_changes);
	}
	mutex_unlock(&d->region_lock);

	if (d->test && d->test->workers) {
		struct vha_test *t = d->test;
		struct vha_counts s;

		vha_test_sum(t, &s);
		n += sysfs_emit_at(buf, n, "test_running=%d\n",
				   READ_ONCE(t->run));
		n += sysfs_emit_at(buf, n, "test_threads=%u\n", t->nworkers);
		n += sysfs_emit_at(buf, n, "test_pool_frames=%llu\n",
				   t->frames);
		n += sysfs_emit_at(buf, n, "test_allocs=%llu\n", s.allocs);
		n += sysfs_emit_at(buf, n, "test_frees=%llu\n", s.frees);
		n += sysfs_emit_at(buf, n, "test_held_frames=%llu\n",
				   s.held_frames);
		n += sysfs_emit_at(buf, n, "test_installs=%llu\n", s.installs);
		n += sysfs_emit_at(buf, n, "test_install_errors=%llu\n",
				   s.install_errors);
		n += sysfs_emit_at(buf, n, "test_canary_errors=%llu\n",
				   s.canary_errors);
		n += sysfs_emit_at(buf, n, "test_enomem=%llu\n", s.enomem);
		n += sysfs_emit_at(buf, n, "test_lib_errors=%llu\n",
				   s.lib_errors);
		n += sysfs_emit_at(buf, n, "test_free_frames=%llu\n",
				   ha_guest_free_frames(&t->m.g));
		n += sysfs_emit_at(buf, n, "test_child_written=%d\n",
				   t->child_written);
	}
	return n;
}
static DEVICE_ATTR_RO(stats);

static ssize_t test_run_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	struct vha_test *t = vha_of(dev)->test;

	return sysfs_emit(buf, "%d\n", t ? READ_ONCE(t->run) : 0);
}

static ssize_t test_run_store(struct device *dev,
			      struct device_attribute *attr, const char *buf,
			      size_t count)
{
	struct vha_test *t = vha_of(dev)->test;
	bool on;
	int r;

	if (!t || !t->workers)
		return -ENODEV;
	r = kstrtobool(buf, &on);
	if (r)
		return r;
	WRITE_ONCE(t->run, on);
	wake_up_all(&t->wq);
	return count;
}
static DEVICE_ATTR_RW(test_run);

static ssize_t test_hold_pct_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(test_hold_pct));
}

static ssize_t test_hold_pct_store(struct device *dev,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int pct;
	int r;

	r = kstrtouint(buf, 0, &pct);
	if (r)
		return r;
	if (pct > 100)
		return -EINVAL;
	WRITE_ONCE(test_hold_pct, pct);
	return count;
}
static DEVICE_ATTR_RW(test_hold_pct);

/*
 * "REGION HUGE COUNT": one install request from the writing CPU, for the
 * tests (latency, the device's answers to bad requests). The outcome is
 * logged and is the write's result.
 */
static ssize_t install_store(struct device *dev,
			     struct device_attribute *attr, const char *buf,
			     size_t count)
{
	unsigned int region, n;
	u64 huge, t0;
	int r;

	if (sscanf(buf, "%u %llu %u", &region, &huge, &n) != 3)
		return -EINVAL;
	t0 = ktime_get_ns();
	r = virtio_hyperalloc_install(region, huge, n);
	pr_info("install region=%u huge=%llu count=%u: result=%d ns=%llu\n",
		region, huge, n, r, ktime_get_ns() - t0);
	return r ? r : count;
}
static DEVICE_ATTR_WO(install);

/*
 * Any write: allocate every free huge frame of the pool on the driver's
 * own core, installing those the host reclaimed, write a canary into each
 * page, then verify and free them all. Afterwards every frame the guest
 * could use has been written once, so the host holds it: the tests start
 * from a guest that used all of its memory.
 */
static ssize_t test_fill_store(struct device *dev,
			       struct device_attribute *attr,
			       const char *buf, size_t count)
{
	struct vha_test *t = vha_of(dev)->test;
	u64 max, n = 0, i, installs = 0;
	struct vha_alloc *held;
	bool reclaimed;
	ha_frame_t f;
	int r = 0;

	if (!t || !t->workers)
		return -ENODEV;
	max = t->frames >> HA_HUGE_ORDER;
	held = kvmalloc_array(max, sizeof(*held), GFP_KERNEL);
	if (!held)
		return -ENOMEM;
	mutex_lock(&t->fill_lock);
	while (n < max) {
		r = ha_guest_get(&t->m.g, t->aux_core, HA_HUGE_ORDER, 0, &f,
				 &reclaimed);
		if (r)
			break;
		if (reclaimed) {
			installs++;
			if (vha_install_alloc(f.v, HA_HUGE_ORDER)) {
				vha_inc(&t->fill.install_errors, 1);
				vha_put(t, t->aux_core, f.v, HA_HUGE_ORDER);
				continue;
			}
		}
		held[n].frame = f.v;
		held[n].order = HA_HUGE_ORDER;
		held[n].seq = 0xf00000 | (u32)n;
		vha_canary_fill(t, &held[n]);
		n++;
		cond_resched();
	}
	vha_inc(&t->fill.allocs, n);
	vha_inc(&t->fill.installs, installs);
	for (i = 0; i < n; i++) {
		vha_inc(&t->fill.canary_errors,
			vha_canary_check(t, &held[i]));
		if (vha_put(t, t->aux_core, held[i].frame, HA_HUGE_ORDER))
			vha_inc(&t->fill.lib_errors, 1);
		cond_resched();
	}
	vha_inc(&t->fill.frees, n);
	mutex_unlock(&t->fill_lock);
	kvfree(held);
	pr_info("test: fill: %llu huge frames written, %llu installed\n", n,
		installs);
	return r && r != HA_ENOMEM ? -EIO : count;
}
static DEVICE_ATTR_WO(test_fill);

static struct attribute *vha_attrs[] = {
	&dev_attr_stats.attr,
	&dev_attr_install.attr,
	&dev_attr_test_fill.attr,
	&dev_attr_test_run.attr,
	&dev_attr_test_hold_pct.attr,
	NULL,
};

static const struct attribute_group vha_attr_group = {
	.name = "hyperalloc",
	.attrs = vha_attrs,
};

/* ---- probe and remove ---- */

static int vha_validate(struct virtio_device *vdev)
{
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		pr_err("the device does not offer VIRTIO_F_VERSION_1\n");
		return -ENODEV;
	}
	/*
	 * Indirect descriptors would make virtqueue_add_sgs() allocate, and
	 * the install path must never allocate.
	 */
	__virtio_clear_bit(vdev, VIRTIO_RING_F_INDIRECT_DESC);
	return 0;
}

static int vha_find_vqs(struct vha_dev *d)
{
	unsigned int i, n = 1 + d->nq;
	struct virtqueue **vqs;
	vq_callback_t **cbs;
	const char **names;
	int r = -ENOMEM;

	vqs = kcalloc(n, sizeof(*vqs), GFP_KERNEL);
	cbs = kcalloc(n, sizeof(*cbs), GFP_KERNEL);
	names = kcalloc(n, sizeof(*names), GFP_KERNEL);
	if (!vqs || !cbs || !names)
		goto out_free;

	snprintf(d->ctrl_name, sizeof(d->ctrl_name), "control");
	cbs[HA_VIRTIO_VQ_CONTROL] = vha_ctrl_done;
	names[HA_VIRTIO_VQ_CONTROL] = d->ctrl_name;
	for (i = 0; i < d->nq; i++) {
		struct vha_iq *q = &d->iqs[i];

		snprintf(q->name, sizeof(q->name), "install%u", i);
		names[HA_VIRTIO_VQ_INSTALL_FIRST + i] = q->name;
	}
	r = virtio_find_vqs(d->vdev, n, vqs, cbs, names, NULL);
	if (r)
		goto out_free;
	d->ctrl_vq = vqs[HA_VIRTIO_VQ_CONTROL];
	for (i = 0; i < d->nq; i++) {
		d->iqs[i].vq = vqs[HA_VIRTIO_VQ_INSTALL_FIRST + i];
		/* Installs poll for their answer: no interrupts. */
		virtqueue_disable_cb(d->iqs[i].vq);
	}
out_free:
	kfree(names);
	kfree(cbs);
	kfree(vqs);
	return r;
}

static int vha_probe(struct virtio_device *vdev)
{
	struct vha_dev *d;
	unsigned int i, nq_dev;
	int r;

	mutex_lock(&vha_probe_lock);
	if (rcu_access_pointer(vha_current)) {
		pr_err("%s: only one device is supported\n",
		       dev_name(&vdev->dev));
		r = -EBUSY;
		goto out_unlock;
	}

	r = -ENOMEM;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		goto out_unlock;
	d->vdev = vdev;
	vdev->priv = d;
	mutex_init(&d->ctrl_lock);
	mutex_init(&d->region_lock);
	init_completion(&d->ctrl_done);
	spin_lock_init(&d->config_lock);
	INIT_WORK(&d->config_work, vha_config_work);

	nq_dev = virtio_cread32(vdev, offsetof(struct ha_virtio_config,
					       num_install_queues));
	d->max_regions = min(virtio_cread32(vdev,
					    offsetof(struct ha_virtio_config,
						     max_regions)),
			     HA_VIRTIO_MAX_REGIONS);
	d->nq = min3(nq_dev, nr_cpu_ids, HA_VIRTIO_MAX_INSTALL_QUEUES);
	if (!d->nq || !d->max_regions) {
		pr_err("%s: device offers %u install queues, %u regions\n",
		       dev_name(&vdev->dev), nq_dev, d->max_regions);
		r = -ENODEV;
		goto out_free_d;
	}

	d->ctrl_req = kzalloc(sizeof(*d->ctrl_req), GFP_KERNEL);
	if (!d->ctrl_req)
		goto out_free_d;
	d->ctrl_st = kzalloc(sizeof(*d->ctrl_st), GFP_KERNEL);
	if (!d->ctrl_st)
		goto out_free_req;
	d->iqs = kcalloc(d->nq, sizeof(*d->iqs), GFP_KERNEL);
	if (!d->iqs)
		goto out_free_st;
	for (i = 0; i < d->nq; i++)
		raw_spin_lock_init(&d->iqs[i].lock);

	r = vha_find_vqs(d);
	if (r) {
		pr_err("%s: cannot set up %u virtqueues: %d\n",
		       dev_name(&vdev->dev), 1 + d->nq, r);
		goto out_free_iqs;
	}
	vha_config_enable(d, true);
	virtio_device_ready(vdev);
	rcu_assign_pointer(vha_current, d);

	r = vha_zones_start(d);
	if (r)
		goto out_stop_test;
	if (test_pool && d->nzones) {
		pr_err("test_pool: not with zones registered (they use slots 0..%u)\n",
		       d->nzones - 1);
	} else if (test_pool) {
		r = vha_test_start(d);
		if (r)
			goto out_stop_test;
	}
	r = sysfs_create_group(&vdev->dev.kobj, &vha_attr_group);
	if (r)
		goto out_stop_test;

	pr_info("%s: install_queues=%u max_regions=%u sysfs=/sys/bus/virtio/devices/%s/hyperalloc\n",
		dev_name(&vdev->dev), d->nq, d->max_regions,
		dev_name(&vdev->dev));
	mutex_unlock(&vha_probe_lock);
	return 0;

out_stop_test:
	vha_test_stop(d->test);
	vha_zones_stop(d);
	RCU_INIT_POINTER(vha_current, NULL);
	synchronize_rcu();
	vha_config_enable(d, false);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	/* After the reset the device no longer uses the test memory. */
	vha_test_free(d->test);
out_free_iqs:
	kfree(d->iqs);
out_free_st:
	kfree(d->ctrl_st);
out_free_req:
	kfree(d->ctrl_req);
out_free_d:
	kfree(d);
out_unlock:
	mutex_unlock(&vha_probe_lock);
	return r;
}

static void vha_remove(struct virtio_device *vdev)
{
	struct vha_dev *d = vdev->priv;

	mutex_lock(&vha_probe_lock);
	sysfs_remove_group(&vdev->dev.kobj, &vha_attr_group);
	vha_test_stop(d->test);
	vha_zones_stop(d);
	RCU_INIT_POINTER(vha_current, NULL);
	synchronize_rcu(); /* no install is running any more */
	vha_config_enable(d, false);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	/* The reset made the device forget every region: free the memory. */
	vha_test_free(d->test);
	kfree(d->iqs);
	kfree(d->ctrl_st);
	kfree(d->ctrl_req);
	kfree(d);
	mutex_unlock(&vha_probe_lock);
}

static const struct virtio_device_id vha_id_table[] = {
	{ HA_VIRTIO_ID, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vha_id_table);

static unsigned int vha_features[] = {
	VIRTIO_F_VERSION_1,
};

static struct virtio_driver vha_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	/*
	 * With zones registered, an unbind would reset the device: frames
	 * the host holds would stay lost to the guest. No unbind then.
	 */
	.driver.suppress_bind_attrs = IS_ENABLED(CONFIG_HYPERALLOC),
	.id_table = vha_id_table,
	.feature_table = vha_features,
	.feature_table_size = ARRAY_SIZE(vha_features),
	.validate = vha_validate,
	.probe = vha_probe,
	.remove = vha_remove,
	.config_changed = vha_config_changed,
};
module_virtio_driver(vha_driver);

MODULE_AUTHOR("The hyperalloc authors");
MODULE_DESCRIPTION("virtio-hyperalloc: host-reclaimable guest memory");
MODULE_LICENSE("GPL");
