# SPDX-License-Identifier: GPL-2.0-or-later
"""hyperallocd on a real libvirt host: its own libvirtd (and virtlogd) in a
private mount namespace, two real TCG guests (Debian's cloud kernel and a
busybox initramfs, memfd shared RAM), one with virtio-balloon and one with
virtio-mem, and the real daemon tracking them through qemu+unix:// .

Checked through the daemon's HTTP API, the guest's own MemTotal on its
serial console, libvirt (virsh), and the host kernel's account of the
guest RAM memfds (st_blocks through /proc/PID/fd): discovery, shrinking
and growing with PUT /vms/{id}/memory, limits written to the domain
metadata, a libvirtd restart, and a destroyed domain leaving /vms.

The tests run in order on one pair of guests (booting them is most of the
time); each checks its own effect. Everything started here is stopped by
pid and removed, also when a test fails.
"""

import os
import re
import signal
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import lvenv  # noqa: E402
from harness import MIB, Daemon, SSE, wait_for, main  # noqa: E402

KIB = 1024
TAG = uuid.uuid4().hex[:6]
BAL = "ha-test-bal-" + TAG
VMEM = "ha-test-vmem-" + TAG
META_NS = "urn:hyperalloc:libvirt:1"


class LibvirtHost(unittest.TestCase):
    env = None
    daemon = None

    @classmethod
    def setUpClass(cls):
        kernel, initrd = lvenv.build_guest()
        cls.env = lvenv.Libvirtd(prefix="ha-test-lv-")
        try:
            cls.env.start()
            # 512 MiB, balloon without a stats period (the daemon sets
            # one); 256 MiB + a 512 MiB virtio-mem device. Both touch
            # most of their memory once, as a guest that ran something.
            cls.bal = lvenv.Guest(cls.env, "balloon", BAL, kernel, initrd,
                                  memory_mib=512, fill_mib=350).start()
            cls.vmem = lvenv.Guest(cls.env, "vmem", VMEM, kernel, initrd,
                                   memory_mib=768, base_mib=256,
                                   fill_mib=400).start()
            cls.bal.wait_ready()
            cls.vmem.wait_ready()
            cls.daemon = Daemon(extra={"libvirt": {
                "enabled": True, "uri": cls.env.uri}}).start()
            wait_for(lambda: {BAL, VMEM} <= set(cls.daemon.vms()), 30,
                     what="both domains in /vms")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.daemon:
                cls.daemon.cleanup()
        finally:
            cls.env.cleanup()

    # ---- helpers ----

    def mem(self, vm):
        return self.daemon.memory(vm)

    def put(self, vm, body):
        r = self.daemon.put("/vms/%s/memory" % vm, body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_current(self, vm, size, timeout=90):
        return wait_for(
            lambda: (lambda m: m if m["current_bytes"] == size else None)(
                self.mem(vm)),
            timeout, what="%s current_bytes == %d MiB" % (vm, size >> 20),
            interval=0.2)

    def wait_memtotal(self, guest, pred, what, timeout=30):
        return wait_for(lambda: (lambda t: t if t and pred(t) else None)(
            guest.memtotal_kib()), timeout, what=what, interval=0.2)

    def balloon_actual_kib(self, name):
        out = self.env.virsh("dommemstat", name)
        return int(re.search(r"^actual (\d+)", out, re.M).group(1))

    def vmem_kib(self, name, tag):
        xml = self.env.virsh("dumpxml", name)
        dev = xml[xml.index("model='virtio-mem'"):]
        return int(re.search(r"<%s unit='KiB'>(\d+)</%s>" % (tag, tag),
                             dev).group(1))

    def assert_resident_close(self, vm, guest):
        """The daemon's host_resident_bytes is the kernel's account of
        the guest RAM memfds."""
        ours = guest.resident()
        theirs = self.mem(vm)["host_resident_bytes"]
        self.assertLess(abs(ours - theirs), 16 * MIB, (ours, theirs))

    # ---- tests, in order ----

    def test_1_discovered(self):
        vms = self.daemon.vms()
        b, v = vms[BAL], vms[VMEM]
        self.assertEqual(b["mechanism"], "virtio-balloon")
        self.assertEqual(b["state"], "running")
        self.assertEqual(b["memory"]["max_bytes"], 512 * MIB)
        self.assertEqual(b["memory"]["current_bytes"], 512 * MIB)
        self.assertEqual(v["mechanism"], "virtio-mem")
        self.assertEqual(v["state"], "running")
        self.assertEqual(v["memory"]["max_bytes"], 768 * MIB)
        # never below the boot memory: virtio-mem cannot unplug that
        self.assertGreaterEqual(v["memory"]["min_bytes"], 256 * MIB)
        self.assertEqual(v["memory"]["current_bytes"], 768 * MIB)
        # Direct access: memfd backings found, resident bytes counted.
        self.assertGreater(self.mem(BAL)["host_resident_bytes"], 300 * MIB)
        self.assert_resident_close(BAL, self.bal)
        self.assert_resident_close(VMEM, self.vmem)
        # The daemon set a stats period, so the guest reports free memory.
        wait_for(lambda: self.mem(BAL)["guest_free_bytes"] > 100 * MIB, 20,
                 what="guest free memory from the balloon stats")

    def shrink_and_grow(self, vm, guest, full, small, host_size,
                        libvirt_check):
        sse = SSE(self.daemon)
        try:
            total0 = guest.memtotal_kib()
            res0 = guest.resident(host_size)
            m = self.put(vm, {"target_bytes": small})
            self.assertEqual(m["target_bytes"], small)
            self.assertEqual(m["target_source"], "manual")

            self.wait_current(vm, small)
            ev = sse.wait(lambda e: e.get("type") == "reclaim_done" and
                          e.get("vm") == vm, timeout=30)
            self.assertEqual(ev["target_bytes"], small)
            gone_kib = (full - small) // KIB
            # The guest sees it ...
            self.wait_memtotal(guest, lambda t: abs(total0 - gone_kib - t)
                               <= 4 * KIB, "%s MemTotal down by %d MiB"
                               % (vm, gone_kib // KIB))
            # ... libvirt sees it ...
            libvirt_check(small)
            # ... and the host got the memory back: most of what the
            # guest gave up had been touched (the fill at boot).
            released = wait_for(
                lambda: (lambda d: d if d >= (full - small) // 2 else None)(
                    res0 - guest.resident(host_size)),
                30, what="%s memory released on the host" % vm)
            self.assertLessEqual(released, full - small + 4 * MIB)
            self.assert_resident_close(vm, guest)

            # Grow back.
            self.put(vm, {"target_bytes": full})
            self.wait_current(vm, full)
            self.wait_memtotal(guest, lambda t: abs(t - total0) <= 4 * KIB,
                               "%s MemTotal back" % vm)
            libvirt_check(full)
        finally:
            sse.close()

    def test_2_balloon_shrink_grow(self):
        def libvirt_check(size):
            wait_for(lambda: self.balloon_actual_kib(BAL) == size // KIB,
                     20, what="balloon actual %d MiB" % (size >> 20))
        self.shrink_and_grow(BAL, self.bal, 512 * MIB, 256 * MIB,
                             512 * MIB, libvirt_check)

    def test_3_virtio_mem_shrink_grow(self):
        def libvirt_check(size):
            plugged = (size - 256 * MIB) // KIB
            self.assertEqual(self.vmem_kib(VMEM, "requested"), plugged)
            wait_for(lambda: self.vmem_kib(VMEM, "current") == plugged, 20,
                     what="virtio-mem current %d KiB" % plugged)
        # 768 -> 384 MiB: 384 of the device's 512 MiB unplugged; the
        # host side is the device's own memfd.
        self.shrink_and_grow(VMEM, self.vmem, 768 * MIB, 384 * MIB,
                             512 * MIB, libvirt_check)

    def test_4_limits_in_domain_metadata(self):
        self.put(BAL, {"min_bytes": 128 * MIB, "max_bytes": 480 * MIB,
                       "shares": 700})
        live = self.env.virsh("metadata", BAL, "--uri", META_NS, "--live")
        self.assertIn('min="134217728"', live)
        self.assertIn('max="503316480"', live)
        self.assertIn('shares="700"', live)
        # Changed by an operator with virsh: the daemon follows.
        self.env.virsh("metadata", BAL, "--uri", META_NS, "--key",
                       "hyperalloc", "--set",
                       "<memory min='64M' max='512M' shares='321'/>",
                       "--live")
        m = wait_for(lambda: (lambda m: m if m["shares"] == 321 else None)(
            self.mem(BAL)), 10, what="shares from the metadata")
        self.assertEqual(m["min_bytes"], 64 * MIB)
        self.assertEqual(m["max_bytes"], 512 * MIB)

    def test_5_libvirtd_restart(self):
        self.env.stop_libvirtd()
        wait_for(lambda: "connection to" in self.daemon.read_log() and
                 "lost" in self.daemon.read_log(), 20,
                 what="the daemon to notice")
        # The VMs stay while libvirtd is away.
        self.assertTrue({BAL, VMEM} <= set(self.daemon.vms()))
        self.env.start()
        wait_for(lambda: "resynchronising" in self.daemon.read_log(), 60,
                 what="the daemon to reconnect")
        vms = self.daemon.vms()
        self.assertEqual(vms[BAL]["state"], "running")
        self.assertEqual(vms[VMEM]["state"], "running")
        # Still steerable.
        self.put(BAL, {"target_bytes": 320 * MIB})
        self.wait_current(BAL, 320 * MIB)
        wait_for(lambda: self.balloon_actual_kib(BAL) == 320 * 1024, 20,
                 what="balloon actual 320 MiB after the restart")

    def test_6_destroyed_domain_leaves(self):
        sse = SSE(self.daemon)
        try:
            self.env.destroy(BAL)
            ev = sse.wait(lambda e: e.get("type") == "vm_removed" and
                          e.get("vm") == BAL, timeout=30)
            self.assertIn("destroyed", ev["message"])
        finally:
            sse.close()
        vms = self.daemon.vms()
        self.assertNotIn(BAL, vms)
        self.assertIn(VMEM, vms)


if __name__ == "__main__":
    # SIGTERM (a CI timeout) still stops libvirtd and the guests: exit
    # runs lvenv's atexit cleanup.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    main()
