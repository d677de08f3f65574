# SPDX-License-Identifier: GPL-2.0-or-later
"""hyperallocd steering HyperAlloc VMs through a real libvirtd: the patched
QEMU (make qemu) as the domains' emulator with the virtio-hyperalloc
device on their command line, Debian's cloud kernel and the driver's test
mode, whose threads allocate from a memmap= pool with lib/'s allocator
and check canaries in every frame they hold.

Two HyperAlloc domains (A, B) and one stock balloon domain: the daemon
tracks A and B as mechanism "hyperalloc", reads their allocator state
directly from the shared memfd, steers them through QEMU's monitor on its
worker, and keeps answering for the others while one QEMU is stopped.
A third HyperAlloc domain registers hostile metadata and is quarantined.

Every wait is on a state or an event, bounded only against hanging.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import lvenv  # noqa: E402
from harness import MIB, Daemon, SSE, wait_for  # noqa: E402
from lvenv import HaDomain, ha_paths  # noqa: E402

HUGE = 2 * MIB
TAG = uuid.uuid4().hex[:6]
HA_A = "ha-test-ha-a-" + TAG
HA_B = "ha-test-ha-b-" + TAG
HA_BAD = "ha-test-ha-bad-" + TAG
BOOT_S = 300
WORK_S = 300
RAM_MIB = 768


class LibvirtHyperAlloc(unittest.TestCase):
    env = daemon = None

    @classmethod
    def setUpClass(cls):
        cls.paths = ha_paths()
        kernel, initrd = lvenv.build_guest()
        cls.env = lvenv.Libvirtd(prefix="ha-test-lvha-")
        try:
            cls.env.start()
            cls.a = HaDomain(cls.env, HA_A, cls.paths, RAM_MIB).start()
            cls.b = HaDomain(cls.env, HA_B, cls.paths, RAM_MIB).start()
            cls.bal = lvenv.Guest(cls.env, "balloon", "ha-test-bal-" + TAG,
                                  kernel, initrd, memory_mib=256).start()
            cls.a.wait_ready()
            cls.b.wait_ready()
            cls.bal.wait_ready()
            cls.daemon = Daemon(extra={"libvirt": {
                "enabled": True, "uri": cls.env.uri}})
            cls.daemon.config["log_level"] = "debug"
            cls.daemon.write_config()
            cls.daemon.start()
            wait_for(lambda: {HA_A, HA_B, cls.bal.name} <=
                     set(cls.daemon.vms()), 60, what="the domains in /vms")
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

    def detail(self, vm):
        r = self.daemon.get("/vms/%s" % vm)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def mem(self, vm):
        return self.daemon.memory(vm)

    def put(self, vm, body):
        r = self.daemon.put("/vms/%s/memory" % vm, body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_device(self, vm, pred, what, timeout=WORK_S):
        try:
            return wait_for(lambda: (lambda d: d if pred(d) else None)(
                self.detail(vm)), timeout, what=what, interval=0.2)
        except AssertionError as e:
            log = [l for l in self.daemon.read_log().splitlines()
                   if vm in l][-40:]
            raise AssertionError("%s; now %r; daemon log:\n%s"
                                 % (e, self.detail(vm), "\n".join(log)))

    def test_1_tracked_and_read_directly(self):
        for vm in (HA_A, HA_B):
            d = self.wait_device(
                vm, lambda d: d.get("device", {}).get("state") == "active"
                and d["device"]["direct_reads"],
                "%s: device active, read directly" % vm)
            self.assertEqual(d["mechanism"], "hyperalloc")
            self.assertEqual(d["device"]["regions"], 1)
            self.assertEqual(d["device"]["backend"], "memory-backend-memfd")
            self.assertEqual(d["memory"]["max_bytes"], RAM_MIB * MIB)
            self.assertEqual(d["memory"]["current_bytes"], RAM_MIB * MIB)
            # The guest's free memory, read from the pool's metadata.
            self.assertGreater(d["memory"]["guest_free_bytes"], 64 * MIB)
        self.assertEqual(self.detail(self.bal.name)["mechanism"],
                         "virtio-balloon")

    def test_2_shrink_and_grow(self):
        a = self.a
        a.fill()
        before = a.pool_resident()
        target = (RAM_MIB - 256) * MIB
        sse = SSE(self.daemon)
        try:
            self.put(HA_A, {"target_bytes": target})
            ev = sse.wait(lambda e: e.get("type") == "reclaim_done" and
                          e.get("vm") == HA_A, timeout=WORK_S)
        finally:
            sse.close()
        m = wait_for(lambda: (lambda m: m if m["current_bytes"] == target
                              else None)(self.mem(HA_A)), WORK_S,
                     what="current_bytes at the target")
        self.assertEqual(m["reclaimed_bytes"], 256 * MIB)
        self.assertGreaterEqual(before - a.pool_resident(), 0.9 * 256 * MIB)
        self.assertIn("reclaimed", ev.get("message", ""))
        # The driver applied the device's count (config space).
        seen = []

        def hard_applied():
            seen[:] = [a.stats()]
            return seen[0].get("region0_hard_frames") == 256 * MIB // HUGE
        try:
            wait_for(hard_applied, WORK_S, what="the guest's hard count")
        except AssertionError as e:
            raise AssertionError("%s; guest %r; daemon %r"
                                 % (e, seen, self.detail(HA_A)))
        # Grow back: the returned frames are installed when used.
        self.put(HA_A, {"target_bytes": RAM_MIB * MIB})
        wait_for(lambda: self.mem(HA_A)["current_bytes"] == RAM_MIB * MIB,
                 WORK_S, what="grown back")
        installs0 = self.detail(HA_A)["device"]["install_requests"]
        a.set("test_run", 1)
        a.fill()
        d = self.wait_device(
            HA_A, lambda d: d["device"]["install_requests"] > installs0,
            "installs after the return")
        s = a.stats()
        self.assertEqual(s["test_canary_errors"], 0)
        self.assertEqual(s["test_install_errors"], 0)
        self.assertEqual(d["memory"]["reclaimed_bytes"], 0)

    def test_3_auto_reclaim(self):
        b = self.b
        b.set("test_run", 1)
        # The auto-reclaim policy: passes of soft reclaim on the device.
        soft0 = self.detail(HA_B)["counters"]["reclaimed_soft_frames"]
        r = self.daemon.put("/policy", {"name": "auto-reclaim"})
        self.assertEqual(r.status, 200, r)
        try:
            wait_for(lambda: (lambda m: m if m["soft_reclaimed_bytes"]
                              >= 64 * MIB else None)(self.mem(HA_B)),
                     WORK_S, what="soft reclaim by the policy")
            self.wait_device(
                HA_B, lambda d: d["counters"]["reclaimed_soft_frames"] >
                soft0, "the device's soft-reclaim counter")
            # The threads keep running on the memory meanwhile.
            allocs = b.stats()["test_allocs"]
            wait_for(lambda: b.stats()["test_allocs"] > allocs + 1000,
                     WORK_S, what="the guest threads to go on")
            self.assertEqual(b.stats()["test_canary_errors"], 0)
        finally:
            r = self.daemon.put("/policy", {"name": "static"})
            self.assertEqual(r.status, 200, r)
        # The operator's switch is the device's own timer.
        self.put(HA_B, {"auto_reclaim": True})
        self.wait_device(HA_B, lambda d: d["device"]["auto_reclaim"],
                         "the device's automatic reclaim switched on")
        self.put(HA_B, {"auto_reclaim": False})
        self.wait_device(HA_B, lambda d: not d["device"]["auto_reclaim"],
                         "the device's automatic reclaim switched off")
        self.assertEqual(b.stats()["test_canary_errors"], 0)

    def test_4_stopped_qemu(self):
        """A SIGSTOPped QEMU: the API keeps answering for the others, and
        the stopped VM's monitor call fails with a clear timeout."""
        pid = self.b.pid()
        timeouts0 = self.detail(HA_B)["device"]["monitor_timeouts"]
        os.kill(pid, signal.SIGSTOP)
        try:
            self.put(HA_B, {"target_bytes": (RAM_MIB - 64) * MIB})
            # Meanwhile the others answer, reads and writes.
            for _ in range(5):
                self.assertEqual(self.detail(HA_A)["mechanism"],
                                 "hyperalloc")
                self.put(HA_A, {"target_bytes": (RAM_MIB - 32) * MIB})
                self.put(HA_A, {"target_bytes": RAM_MIB * MIB})
            d = self.wait_device(
                HA_B, lambda d: d["device"]["monitor_timeouts"] > timeouts0,
                "the stopped VM's call to time out", timeout=60)
            self.assertIn("no answer in time", d["device"]["last_error"])
            wait_for(lambda: self.mem(HA_A)["current_bytes"] ==
                     RAM_MIB * MIB, WORK_S, what="A steered meanwhile")
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: self.mem(HA_B)["current_bytes"] ==
                 (RAM_MIB - 64) * MIB, WORK_S,
                 what="B reaches its target once QEMU runs again")

    def test_5_libvirtd_restart(self):
        self.env.stop_libvirtd()
        self.env.start()
        self.put(HA_A, {"target_bytes": (RAM_MIB - 128) * MIB})
        m = wait_for(lambda: (lambda m: m if m["current_bytes"] ==
                              (RAM_MIB - 128) * MIB else None)(
            self.mem(HA_A)), WORK_S, what="steering after the restart")
        self.assertEqual(m["reclaimed_bytes"], 128 * MIB)
        self.assertTrue(self.detail(HA_A)["device"]["direct_reads"])
        self.put(HA_A, {"target_bytes": RAM_MIB * MIB})

    def test_6_hostile_guest_quarantined(self):
        bad = HaDomain(self.env, HA_BAD, self.paths, RAM_MIB,
                       ha_args="ha.test_hostile=child", auto=True).start()
        bad.wait_ready()
        wait_for(lambda: HA_BAD in self.daemon.vms(), 60,
                 what="the hostile domain tracked")
        d = wait_for(lambda: (lambda d: d if d["state"] == "quarantined"
                              else None)(self.detail(HA_BAD)), WORK_S,
                     what="the hostile VM quarantined")
        self.assertIn("child", d["state_reason"])
        self.assertEqual(d["memory"]["reclaimed_bytes"], 0)
        r = self.daemon.put("/vms/%s/memory" % HA_BAD,
                            {"target_bytes": (RAM_MIB - 64) * MIB})
        self.assertEqual(r.status, 409, r)
        # The others are not affected.
        self.assertEqual(self.detail(HA_A)["state"], "running")
        self.env.destroy(HA_BAD)

    def test_7_qemu_killed(self):
        pid = self.b.pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: HA_B not in self.daemon.vms(), WORK_S,
                 what="the killed domain to leave /vms")
        self.assertEqual(self.detail(HA_A)["state"], "running")
        self.assertTrue(self.daemon.healthy())


if __name__ == "__main__":
    unittest.main()
