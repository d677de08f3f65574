# SPDX-License-Identifier: GPL-2.0-or-later
"""A live migration between two real libvirt hosts, each with its own
hyperallocd: steering pauses while the VM moves, and its limits move with
it.

Two private libvirtds (tests/e2e/lvenv.py) with different host UUIDs
stand for two hosts; hyperallocd "A" tracks the source, "B" the
destination. A real TCG guest with virtio-balloon gets its limits set
through A (they go to the domain's live metadata), then migrates live to
B with `virsh migrate --live`, throttled until the test has acted during
the transfer. Checked:

- both daemons report the VM as "migrating" while the transfer runs;
- a target set through B during the migration is answered while the
  migration still runs (the daemon's loop never waits for libvirt's
  migration job) and accepted (200) but not applied to the guest until it
  runs on B: the balloon stays where it was, then moves to the target
  once the migration is done;
- the limits set through A (min, max, shares) are B's after the move:
  they travelled in the domain XML;
- A drops the VM with a vm_removed event that says where it went.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import lvenv  # noqa: E402
from harness import MIB, Daemon, SSE, free_port, wait_for, main  # noqa: E402

KIB = 1024
TAG = uuid.uuid4().hex[:6]
VM = "ha-test-mig-" + TAG
META_NS = "urn:hyperalloc:libvirt:1"
# The migration starts throttled so hard that the transfer of the guest's
# non-zero memory (kernel, initramfs, page cache: some tens of MiB) cannot
# end while the test acts during it; then the test lifts the throttle
# (virsh migrate-setspeed) and waits for the end.
BANDWIDTH_MIB_S = 1
FINISH_BANDWIDTH_MIB_S = 1024


class Migration(unittest.TestCase):
    src = dst = None
    a = b = None

    @classmethod
    def setUpClass(cls):
        kernel, initrd = lvenv.build_guest()
        cls.src = lvenv.Libvirtd(prefix="ha-test-mig-src-",
                                 host_uuid=str(uuid.uuid4()))
        cls.dst = lvenv.Libvirtd(prefix="ha-test-mig-dst-",
                                 host_uuid=str(uuid.uuid4()))
        try:
            cls.src.start()
            cls.dst.start()
            cls.guest = lvenv.Guest(cls.src, "balloon", VM, kernel, initrd,
                                    memory_mib=512, fill_mib=64).start()
            cls.guest.wait_ready()
            # The domain is B's to clean up once it moved (and A's if
            # the migration failed).
            cls.dst.domains.add(VM)
            cls.a = Daemon(extra={"libvirt": {
                "enabled": True, "uri": cls.src.uri}}).start()
            cls.b = Daemon(extra={"libvirt": {
                "enabled": True, "uri": cls.dst.uri}}).start()
            wait_for(lambda: VM in cls.a.vms(), 30, what="the VM on A")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for d in (cls.a, cls.b):
                if d:
                    d.cleanup()
        finally:
            cls.src.cleanup()
            cls.dst.cleanup()

    def run_logged(self, body):
        """Run @body; on a failure, show what both daemons said."""
        try:
            body()
        except BaseException:
            for name, d in (("A", self.a), ("B", self.b)):
                sys.stderr.write("---- hyperallocd %s log (tail):\n%s\n"
                                 % (name, d.read_log()[-4000:]))
            for name, env in (("source", self.src), ("destination",
                                                     self.dst)):
                sys.stderr.write("---- virsh dominfo, dommemstat on the "
                                 "%s:\n%s%s\n" % (
                                     name, env.virsh("dominfo", VM,
                                                     check=False),
                                     env.virsh("dommemstat", VM,
                                               check=False)))
            raise

    def put(self, daemon, body):
        r = daemon.put("/vms/%s/memory" % VM, body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def state(self, daemon):
        vm = daemon.vms().get(VM)
        return vm["state"] if vm else None

    def used_kib(self, env):
        """The memory libvirt has the domain use now (currentMemory)."""
        out = env.virsh("dominfo", VM)
        return int(re.search(r"^Used memory:\s+(\d+) KiB", out,
                             re.M).group(1))

    def balloon_actual_kib(self, env):
        out = env.virsh("dommemstat", VM)
        return int(re.search(r"^actual (\d+)", out, re.M).group(1))

    def test_live_migration(self):
        self.run_logged(self.live_migration)

    def live_migration(self):
        # Limits through A, written to the domain's live metadata (max
        # kept at the RAM: a lower one would move the balloon now).
        self.put(self.a, {"min_bytes": 192 * MIB, "max_bytes": 512 * MIB,
                          "shares": 640})
        self.assertIn('shares="640"', self.src.virsh(
            "metadata", VM, "--uri", META_NS, "--live"))
        self.assertEqual(self.balloon_actual_kib(self.src), 512 * KIB)

        sse = SSE(self.a)
        port = free_port()
        mig = subprocess.Popen(
            ["virsh", "-q", "-c", self.src.uri, "migrate", "--live",
             "--bandwidth", str(BANDWIDTH_MIB_S), VM, self.dst.uri,
             "--migrateuri", "tcp://127.0.0.1:%d" % port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # B sees the incoming VM, paused for the migration, with
            # the limits from A's metadata.
            wait_for(lambda: self.state(self.b) == "migrating", 60,
                     what="the VM migrating in on B", interval=0.05)
            m = self.b.memory(VM)
            self.assertEqual(m["min_bytes"], 192 * MIB)
            self.assertEqual(m["max_bytes"], 512 * MIB)
            self.assertEqual(m["shares"], 640)
            # A sees the outgoing one (migration iteration events).
            wait_for(lambda: self.state(self.a) == "migrating", 30,
                     what="the VM migrating out on A", interval=0.05)
            # A target through B while the VM moves: accepted, kept,
            # not applied to a guest that does not run here yet.
            self.assertIsNone(mig.poll(), "the migration ended before "
                              "the test could act during it")
            m = self.put(self.b, {"target_bytes": 320 * MIB})
            # Answered while the migration runs: the loop did not wait
            # for libvirt's migration job (which ends with it).
            self.assertIsNone(mig.poll(), "B answered only after the "
                              "migration ended")
            self.assertEqual(m["target_bytes"], 320 * MIB)
            self.assertEqual(m["target_source"], "manual")
            self.assertEqual(self.state(self.b), "migrating")
            self.assertEqual(self.state(self.a), "migrating")
            self.assertEqual(self.used_kib(self.dst), 512 * KIB)
            started = time.monotonic()
            self.src.virsh("migrate-setspeed", VM, "--bandwidth",
                           str(FINISH_BANDWIDTH_MIB_S))
            out, _ = mig.communicate(timeout=300)
            self.assertEqual(mig.returncode, 0, out)
            print("migration done %.1f s after the throttle was lifted"
                  % (time.monotonic() - started), file=sys.stderr)

            # A: the VM left, saying where.
            ev = sse.wait(lambda e: e.get("type") == "vm_removed" and
                          e.get("vm") == VM, timeout=30)
            self.assertIn("migrated to another host", ev["message"])
            self.assertNotIn(VM, self.a.vms())
        finally:
            if mig.poll() is None:
                mig.send_signal(signal.SIGINT)  # virsh aborts the job
                mig.wait(timeout=60)
            sse.close()
        # B: the VM runs, the target set during the move is applied now.
        wait_for(lambda: self.state(self.b) == "running", 30,
                 what="the VM running on B")
        wait_for(lambda: self.balloon_actual_kib(self.dst) == 320 * KIB,
                 60, what="balloon actual 320 MiB on B")
        m = wait_for(lambda: (lambda m: m if m["current_bytes"] ==
                              320 * MIB else None)(self.b.memory(VM)),
                     60, what="B's current_bytes at the target")
        self.assertEqual(m["shares"], 640)
        self.assertEqual(m["min_bytes"], 192 * MIB)
        # And it is B's to steer from now on.
        self.put(self.b, {"target_bytes": 448 * MIB})
        wait_for(lambda: self.balloon_actual_kib(self.dst) == 448 * KIB,
                 60, what="balloon actual 448 MiB on B")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    main()
