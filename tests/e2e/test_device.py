# SPDX-License-Identifier: GPL-2.0-or-later
"""The virtio-hyperalloc device end to end: the patched QEMU (make qemu)
under MTTCG with two vCPUs, Debian's cloud kernel, and the driver
virtio_hyperalloc.ko in its test mode, which runs lib/'s allocator on a
memmap= reserved pool of real guest-physical memory with kernel threads
that keep canaries in every frame they hold.

Every wait is on a state or an event (QMP, the guest's sysfs), bounded
only so that a broken build fails instead of hanging.

Run: /usr/bin/python3 tests/e2e/test_device.py [-v] [TestClass.test_name]
"""

import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

from qemu_vm import (QemuVM, QMPError, build_outputs,  # noqa: E402
                     memfd_blocks, memfd_data_bytes, present_bytes,
                     rss_anon_bytes, wait_for)

MIB = 1 << 20
GIB = 1 << 30
HUGE = 2 * MIB
# Generous bounds: TCG is slow and the machine is shared.
BOOT_S = 300
WORK_S = 300
SYSFS = "/sys/bus/virtio/devices/virtio*/hyperalloc"
OUT = os.path.join(TOP, os.environ.get("BUILD", "build"), "e2e")


_paths = {}


def paths():
    """The patched QEMU and the test guest (built or from the cache)."""
    if not _paths:
        _paths.update(build_outputs(
            [os.path.join(TOP, "qemu-patches", "build.sh")],
            ["sh", os.path.join(HERE, "build-ha-guest.sh")]))
    return _paths




class Guest:
    """A test guest: RAM in a shared memfd, the device, the pool."""

    def __init__(self, name, ram=1 * GIB, pool=(512 * MIB, 0x20000000),
                 ha_args="", iothread=True, device="", reboot=False,
                 extra=()):
        p = paths()
        size, start = pool
        cmdline = ["console=ttyS0", "loglevel=4", "panic=-1",
                   "memmap=%dM$0x%x" % (size // MIB, start),
                   "ha.test_pool=%dM@0x%x" % (size // MIB, start),
                   "ha.test_report_s=0"] + ha_args.split()
        dev = "virtio-hyperalloc-pci,id=ha"
        args = ["-accel", "tcg,thread=multi", "-smp", "2",
                "-m", "%dM" % (ram // MIB),
                "-object", "memory-backend-memfd,id=mem,size=%dM,share=on"
                % (ram // MIB),
                "-machine", "q35,memory-backend=mem",
                "-kernel", p["kernel"], "-initrd", p["initrd"],
                "-append", " ".join(cmdline)]
        if iothread:
            args += ["-object", "iothread,id=io0"]
            dev += ",iothread=io0"
        if device:
            dev += "," + device
        args += ["-device", dev] + list(extra)
        os.makedirs(OUT, exist_ok=True)
        self.vm = QemuVM(p["qemu"], args, name=name,
                         keep_console=os.path.join(OUT, name + ".console"),
                         no_reboot=not reboot)
        self.size = size
        self.start = start

    def __enter__(self):
        self._sysfs = None
        self.vm.start()
        self.vm.wait_console("ha-guest: ready", BOOT_S)
        return self

    def __exit__(self, *exc):
        self.vm.stop()

    def query(self):
        return self.vm.qmp("query-hyperalloc")

    def wait_state(self, state, what=None):
        return wait_for(lambda: (lambda q: q if q["state"] == state
                                 else None)(self.query()),
                        BOOT_S, what or "device state %s" % state)

    def sysfs(self):
        """The driver's sysfs directory (the shell expands no glob in a
        redirection)."""
        if not getattr(self, "_sysfs", None):
            for line in self.vm.run("ls -d %s" % SYSFS):
                if line.startswith("/sys/") and line.endswith("/hyperalloc"):
                    self._sysfs = line.strip()
            assert self._sysfs, "no hyperalloc directory in sysfs"
        return self._sysfs

    def stats(self):
        """The driver's sysfs stats as a dict of ints."""
        out = {}
        for line in self.vm.run("cat %s/stats" % self.sysfs()):
            m = re.match(r"^([a-z0-9_]+)=(-?\d+)$", line.strip())
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def set(self, name, value):
        out = self.vm.run("echo %s > %s/%s && echo ha-set-ok"
                          % (value, self.sysfs(), name), timeout=WORK_S)
        assert "ha-set-ok" in [l.strip() for l in out], \
            "writing %s to %s failed: %s" % (value, name, out)

    def dmesg(self, pattern):
        return [l for l in self.vm.run("dmesg") if re.search(pattern, l)]

    def blocks(self):
        return memfd_blocks(self.vm.pid())

    def set_target(self, size, timeout=WORK_S):
        """hyperalloc-set-target, then wait for its outcome event."""
        since = len(self.vm.events)
        self.vm.qmp("hyperalloc-set-target", size=size)
        _, ev = self.vm.wait_event(
            "HYPERALLOC_TARGET_REACHED", timeout, since,
            pred=lambda e: e["data"]["target"] == size)
        return ev["data"]

    def quiesce(self):
        """Threads free everything and sleep; wait until they hold none."""
        self.set("test_run", 0)
        return wait_for(lambda: (lambda s: s if s.get("test_held_frames")
                                 == 0 else None)(self.stats()),
                        WORK_S, "test threads to free everything")

    def region(self):
        return self.query()["regions"][0]

    def pool_resident(self):
        """Bytes of the pool backed on the host right now: data in the
        memfd (shared RAM) or present pages (anonymous RAM)."""
        r = self.region()
        got = memfd_data_bytes(self.vm.pid(), r["ram-offset"], r["size"])
        if got is None:
            got = present_bytes(self.vm.pid(), r["host-addr"], r["size"])
        return got

    def fill(self):
        """Quiesce the threads, then have the driver allocate, write and
        free every free huge frame of the pool (installing the reclaimed
        ones): the guest has used all the memory it can use."""
        self.quiesce()
        self.set("test_fill", 1)
        return self.stats()


class DeviceLifecycle(unittest.TestCase):
    """One guest through registration, reclaim, return with installs,
    automatic reclaim and a reboot, with canaries checked throughout."""

    def test_lifecycle(self):
        with Guest("lifecycle", reboot=True) as g:
            vm = g.vm
            q = g.wait_state("active", "the pool to be registered")
            self.assertEqual(len(q["regions"]), 1)
            r = q["regions"][0]
            self.assertEqual(r["gpa"], g.start)
            self.assertEqual(r["size"], g.size)
            self.assertEqual(r["zone"], "pool")
            self.assertEqual(q["pid"], vm.pid())
            self.assertEqual(q["backend"], "memory-backend-memfd")
            # Below 4 GiB the RAM offset is the guest-physical address.
            self.assertEqual(r["ram-offset"], g.start)
            self.assertEqual(q["actual"], q["ram-size"])
            # The threads run for a while first.
            wait_for(lambda: g.stats().get("test_allocs", 0) > 10000,
                     WORK_S, "the test threads to allocate")

            # --- hard reclaim of touched memory ---
            g.fill()
            before = g.blocks()
            pool_before = g.pool_resident()
            take = 256 * MIB
            ev = g.set_target(q["ram-size"] - take)
            after = g.blocks()
            q = g.query()
            self.assertEqual(q["hard"] * HUGE, take)
            self.assertEqual(ev["actual"], q["ram-size"] - take)
            self.assertTrue(q["target-reached"])
            self.assertGreaterEqual(before - after, 0.9 * take,
                                    "memfd blocks %d -> %d for %d reclaimed"
                                    % (before, after, take))
            self.assertGreaterEqual(pool_before - g.pool_resident(),
                                    0.9 * take)
            # The guest hears of it through config space.
            wait_for(lambda: g.stats().get("region0_hard_frames") ==
                     take // HUGE, WORK_S, "the driver to apply the count")

            # --- return: frames come back unpopulated, installed on use ---
            installs0 = g.query()["installs"]
            g.set_target(q["ram-size"])
            q = g.query()
            self.assertEqual(q["hard"], 0)
            self.assertGreaterEqual(q["soft"] * HUGE, take,
                                    "returned frames stay unpopulated")
            wait_for(lambda: g.stats().get("region0_hard_frames") == 0,
                     WORK_S, "the driver to apply the return")
            g.fill()
            q = g.query()
            self.assertGreaterEqual(q["installs"] - installs0, take // HUGE)
            self.assertEqual(q["soft"], 0)
            self.assertGreaterEqual(g.blocks(), before - 0.1 * take)

            # --- automatic reclaim gives free memory back ---
            before = g.pool_resident()
            soft0 = q["reclaimed-soft"]
            vm.qmp("hyperalloc-set-auto", enabled=True, interval_ms=200)
            wait_for(lambda: g.query()["soft"] * HUGE >= g.size // 2,
                     WORK_S, "automatic reclaim of the free pool")
            vm.qmp("hyperalloc-set-auto", enabled=False)
            q = g.query()
            soft = (q["reclaimed-soft"] - soft0) * HUGE
            self.assertGreaterEqual(before - g.pool_resident(), 0.9 * soft)
            # ... and what the guest uses again is installed first.
            installs0 = q["installs"]
            g.set("test_run", 1)
            g.fill()
            self.assertGreater(g.query()["installs"], installs0)

            s = g.stats()
            self.assertEqual(s["test_canary_errors"], 0)
            self.assertEqual(s["test_install_errors"], 0)
            self.assertEqual(s["test_lib_errors"], 0)
            self.assertEqual(s["install_timeouts"], 0)
            self.assertGreater(s["test_allocs"], 10000)
            q = g.query()
            self.assertGreater(q["install-requests"], 0)
            self.assertGreater(q["install-ns-avg"], 0)
            print("\ninstall latency (device): avg %.0f us, max %.0f us over "
                  "%d requests" % (q["install-ns-avg"] / 1e3,
                                   q["install-ns-max"] / 1e3,
                                   q["install-requests"]), file=sys.stderr)

            # --- reboot: the regions are forgotten, the target stays ---
            target = q["ram-size"] - 128 * MIB
            g.set_target(target)
            since = len(vm.console)
            vm.type("reboot -f")
            vm.wait_console("ha-guest: ready", BOOT_S, since)
            g.wait_state("active", "re-registration after the reboot")
            # The target applies again once the new guest registered.
            wait_for(lambda: (lambda q: q["target-reached"] and
                              q["hard"] * HUGE == 128 * MIB)(g.query()),
                     WORK_S, "the kept target after the reboot")
            g.set_target(q["ram-size"])
            g.set("test_run", 1)
            g.fill()
            s = g.stats()
            self.assertGreater(s["test_installs"], 0)
            self.assertEqual(s["test_canary_errors"], 0)
            self.assertTrue(vm.alive())


class DeviceHighMemory(unittest.TestCase):
    """RAM above 4 GiB: guest-physical address and RAM offset differ. The
    install queues are served on the main loop here (no iothread)."""

    def test_pool_above_4g(self):
        # q35 puts 2 GiB below 4 GiB once RAM is 2.75 GiB or more.
        start = 4 * GIB + 256 * MIB
        with Guest("highmem", ram=3 * GIB, pool=(256 * MIB, start),
                   iothread=False) as g:
            q = g.wait_state("active")
            r = q["regions"][0]
            self.assertEqual(r["gpa"], start)
            self.assertEqual(r["ram-offset"], 2 * GIB + 256 * MIB)
            g.fill()
            before = g.pool_resident()
            g.set_target(q["ram-size"] - 128 * MIB)
            self.assertGreaterEqual(before - g.pool_resident(),
                                    0.9 * 128 * MIB)
            g.set_target(q["ram-size"])
            g.set("test_run", 1)
            g.fill()
            s = g.stats()
            self.assertEqual(s["test_canary_errors"], 0)
            self.assertEqual(s["test_install_errors"], 0)
            self.assertGreater(s["test_installs"], 0)


class DeviceAnonymousRam(unittest.TestCase):
    """Default (anonymous, private) guest RAM: reclaim lowers QEMU's RSS."""

    def test_anonymous_rss(self):
        p = paths()
        g = Guest("anon")
        # Replace the memfd backend by QEMU's default RAM.
        a = g.vm.args
        i = a.index("-object")
        del a[i:i + 2]
        a[a.index("q35,memory-backend=mem")] = "q35"
        with g:
            q = g.wait_state("active")
            self.assertEqual(q["backend"], "memory-backend-ram")
            g.fill()
            before = rss_anon_bytes(g.vm.pid())
            g.set_target(q["ram-size"] - 256 * MIB)
            self.assertGreaterEqual(before - rss_anon_bytes(g.vm.pid()),
                                    0.9 * 256 * MIB)
            self.assertEqual(g.stats()["test_canary_errors"], 0)


class DeviceHostile(unittest.TestCase):
    """A guest that registers broken metadata: QEMU and the guest keep
    running, the region is refused or quarantined, QMP says why."""

    def refused(self, mode, want_refusal, want_text):
        with Guest("hostile-" + mode, ha_args="ha.test_hostile=" + mode) as g:
            q = wait_for(lambda: (lambda q: q if q["refusals"] else None)(
                g.query()), BOOT_S, "a refusal")
            self.assertIn(want_text, q["last-refusal"])
            lines = g.dmesg("register slot=\\d+ refused")
            self.assertTrue(lines, "the guest prints the refusal")
            self.assertIn("refusal=" + want_refusal, lines[0])
            self.assertTrue(g.vm.alive())
            self.assertTrue(g.vm.run("echo alive"), "the guest still runs")
            return g.query()

    def test_corrupt_header(self):
        q = self.refused("header", "metadata", "bad magic")
        self.assertEqual(q["state"], "waiting")

    def test_version(self):
        self.refused("version", "metadata", "version")

    def test_gpa_outside_ram(self):
        self.refused("gpa", "not-ram", "metadata at 0x10000000000")

    def test_range_outside_ram(self):
        self.refused("range", "metadata", "range")

    def test_metadata_inside_pool(self):
        self.refused("meta-inside", "metadata", "inside")

    def test_bad_slot(self):
        self.refused("slot", "request", "slot out of range")

    def test_short_request(self):
        self.refused("short", "request", "request of 24 bytes")

    def test_overlap(self):
        q = self.refused("overlap", "overlap", "overlaps region 0")
        # The first region stays and works.
        self.assertEqual(q["state"], "active")
        self.assertEqual(len(q["regions"]), 1)

    def test_corrupt_child_quarantines(self):
        with Guest("hostile-child", ha_args="ha.test_hostile=child") as g:
            g.wait_state("active")
            # The driver writes an illegal child word a few seconds in;
            # automatic reclaim looks at the words often.
            g.vm.qmp("hyperalloc-set-auto", enabled=True, interval_ms=100)
            _, ev = g.vm.wait_event("HYPERALLOC_QUARANTINED", WORK_S)
            q = g.query()
            self.assertEqual(q["state"], "quarantined")
            self.assertIn("child", q["quarantine-reason"])
            self.assertEqual(q["hard"] + q["soft"], 0,
                             "everything is given back")
            with self.assertRaises(QMPError) as cm:
                g.vm.qmp("hyperalloc-set-target", size=q["ram-size"] - HUGE)
            self.assertIn("quarantined", cm.exception.desc)
            self.assertTrue(g.vm.run("echo alive"))


class DeviceQmpErrors(unittest.TestCase):
    """Bad QMP arguments get clear errors; no device, DeviceNotActive."""

    def test_arguments(self):
        p = paths()
        vm = QemuVM(p["qemu"], ["-accel", "tcg,thread=multi", "-smp", "2",
                                "-m", "512M", "-machine", "q35", "-S",
                                "-device", "virtio-hyperalloc-pci"],
                    name="qmp-args")
        with vm:
            ram = vm.qmp("query-hyperalloc")["ram-size"]
            cases = [
                (-1 * MIB, "size"),
                (ram + HUGE, "outside"),
                (ram - 4096, "multiple of 2 MiB"),
                (0, "outside"),
            ]
            for size, text in cases:
                with self.assertRaises(QMPError, msg=size) as cm:
                    vm.qmp("hyperalloc-set-target", size=size)
                self.assertIn(text, cm.exception.desc, size)
            with self.assertRaises(QMPError) as cm:
                vm.qmp("hyperalloc-set-auto", enabled=True, interval_ms=1)
            self.assertIn("interval", cm.exception.desc)
            with self.assertRaises(QMPError) as cm:
                vm.qmp("hyperalloc-set-auto", enabled=True, keep=ram * 2)
            self.assertIn("keep", cm.exception.desc)
            # A valid target while no guest registered yet is kept.
            vm.qmp("hyperalloc-set-target", size=ram - 64 * MIB)
            q = vm.qmp("query-hyperalloc")
            self.assertEqual(q["state"], "waiting")
            self.assertEqual(q["target"], ram - 64 * MIB)
            self.assertIn("hyperalloc: waiting", vm.hmp("info hyperalloc"))

    def test_no_device(self):
        p = paths()
        with QemuVM(p["qemu"], ["-accel", "tcg", "-m", "256M", "-S"],
                    name="qmp-nodev") as vm:
            for cmd, args in (("query-hyperalloc", {}),
                              ("hyperalloc-set-target", {"size": 2 * MIB}),
                              ("hyperalloc-set-auto", {"enabled": True})):
                with self.assertRaises(QMPError) as cm:
                    vm.qmp(cmd, **args)
                self.assertEqual(cm.exception.cls, "DeviceNotActive")

    def test_refused_configurations(self):
        p = paths()
        cases = [
            (["-object", "memory-backend-file,id=m,size=256M,mem-path=%s,"
              "share=off" % os.path.join(OUT, "ramfile"),
              "-machine", "q35,memory-backend=m"], "share=off"),
            (["-machine", "q35", "-device", "virtio-hyperalloc-pci"],
             "already has a discard manager"),
            (["-machine", "q35", "-global",
              "virtio-hyperalloc-device.auto-interval=1"], "interval"),
        ]
        os.makedirs(OUT, exist_ok=True)
        for extra, text in cases:
            vm = QemuVM(p["qemu"], ["-accel", "tcg", "-m", "256M", "-S"] +
                        extra + ["-device", "virtio-hyperalloc-pci"],
                        name="refused")
            with self.assertRaises(AssertionError) as cm:
                vm.start()
            vm.stop()
            self.assertIn(text, str(cm.exception))
        try:
            os.unlink(os.path.join(OUT, "ramfile"))
        except OSError:
            pass

    def test_single_threaded_tcg_warns(self):
        p = paths()
        vm = QemuVM(p["qemu"], ["-accel", "tcg,thread=single", "-smp", "2",
                                "-m", "256M", "-machine", "q35", "-S",
                                "-device", "virtio-hyperalloc-pci"],
                    name="st-tcg")
        with vm:
            vm.qmp("query-hyperalloc")
            self.assertIn("single-threaded TCG", vm.log())


class QemuCheckpatch(unittest.TestCase):
    """The series is clean by QEMU's own scripts/checkpatch.pl."""

    def test_checkpatch(self):
        paths()
        r = subprocess.run(["sh", os.path.join(HERE, "qemu-checkpatch.sh")],
                           cwd=TOP, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)


if __name__ == "__main__":
    unittest.main()
