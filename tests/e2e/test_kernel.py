# SPDX-License-Identifier: GPL-2.0-or-later
"""The HyperAlloc guest kernel end to end: Linux 6.1 whose page allocator
runs on libhyperalloc in every zone but ZONE_DMA (make guest:
guestmod/linux/), with the virtio-hyperalloc driver built in, under the
patched QEMU (make qemu), MTTCG with two vCPUs, guest RAM in a shared
memfd. The initramfs has the workloads ha-stress and ha-replay
(guestmod/workloads/), which print a verdict line on the console.

Every wait is on a state or an event (QMP, the console, the guest's
sysfs), bounded only so that a broken build fails instead of hanging.

Run: /usr/bin/python3 tests/e2e/test_kernel.py [-v] [TestClass.test_name]
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

from qemu_vm import QemuVM, build_outputs, wait_for  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
HUGE = 2 * MIB
PAGE = 4096
# Generous bounds: TCG is slow and the machine is shared.
BOOT_S = 300
WORK_S = 900
SYSFS = "/sys/kernel/mm/hyperalloc"
OUT = os.path.join(TOP, os.environ.get("BUILD", "build"), "e2e")
# Lines after which the guest cannot go on: a wait for anything else
# fails at once.
FATAL_CONSOLE = re.compile(r"Kernel panic|Oops|BUG:|general protection fault|"
                           r"invalid opcode|kernel BUG at")
# Lines that must never appear on a guest's console.
BAD_CONSOLE = re.compile(r"Out of memory|oom-kill|invoked oom-killer|"
                         r"BUG:|WARNING:|Oops|Kernel panic|hyperalloc: .*"
                         r"refused|canary error|bad_frees=[1-9]")


_paths = {}


def paths():
    """The patched QEMU and the guest kernel (built or from the cache)."""
    if not _paths:
        _paths.update(build_outputs(
            [os.path.join(TOP, "qemu-patches", "build.sh")],
            [os.path.join(TOP, "guestmod", "linux", "build-guest.sh")]))
    return _paths




def kv(line):
    """Parse the key=value words of a verdict or progress line."""
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


class Guest:
    """A HyperAlloc guest: RAM in a shared memfd, the device, the kernel
    and initramfs of make guest. @numa: a list of node sizes in bytes
    (the legacy -numa node,mem= of pc-q35-5.0, which keeps guest RAM one
    memory backend the device can manage)."""

    def __init__(self, name, ram=3 * GIB, numa=None, append="",
                 reboot=False, kernel=None):
        p = paths()
        cmdline = ["console=ttyS0", "loglevel=4", "panic=-1"] + \
            append.split()
        machine = "q35" if not numa else "pc-q35-5.0"
        args = ["-accel", "tcg,thread=multi", "-smp", "2",
                "-m", "%dM" % (ram // MIB),
                "-object", "memory-backend-memfd,id=mem,size=%dM,share=on"
                % (ram // MIB),
                "-machine", "%s,memory-backend=mem" % machine,
                "-kernel", kernel or p["kernel"], "-initrd", p["initrd"],
                "-append", " ".join(cmdline),
                "-object", "iothread,id=io0",
                "-device", "virtio-hyperalloc-pci,id=ha,iothread=io0"]
        for i, size in enumerate(numa or []):
            args += ["-numa", "node,nodeid=%d,cpus=%d,mem=%dM"
                     % (i, i, size // MIB)]
        os.makedirs(OUT, exist_ok=True)
        self.ram = ram
        self.vm = QemuVM(p["qemu"], args, name=name,
                         keep_console=os.path.join(OUT, name + ".console"),
                         no_reboot=not reboot)
        self.vm.serial.fatal = FATAL_CONSOLE

    def __enter__(self):
        self.vm.start()
        self.vm.wait_console("ha-guest: ready", BOOT_S)
        return self

    def __exit__(self, *exc):
        self.vm.stop()

    def query(self):
        return self.vm.qmp("query-hyperalloc")

    def regions(self):
        return {r["slot"]: r for r in self.query()["regions"]}

    def wait_registered(self, n):
        """Wait until the device shows the @n zones of this boot registered
        (the driver is built in: it registers them before init runs), and
        check the driver's word for each in the kernel log."""
        q = wait_for(lambda: (lambda q: q if q["state"] == "active" and
                              len(q["regions"]) == n else None)(
                                  self.query()),
                     BOOT_S, "%d regions registered" % n)
        log = self.vm.run("dmesg | grep 'virtio_hyperalloc: register'")
        for slot in range(n):
            assert any("register slot=%d ok" % slot in l for l in log), log
        return q

    def zones(self):
        """The guest's /sys/kernel/mm/hyperalloc/*/stats, by directory,
        read with shell builtins only (nothing forks, nothing allocates
        much)."""
        out = self.vm.run(
            "for d in %s/node*; do echo \"dir=${d##*/}\"; "
            "while read -r l; do echo \"$l\"; done < $d/stats; done"
            % SYSFS)
        zones, cur = {}, None
        for line in out:
            m = re.match(r"^([a-z_]+)=(\S+)$", line.strip())
            if not m:
                continue
            k, v = m.groups()
            if k == "dir":
                cur = zones.setdefault(v, {})
            elif cur is not None:
                cur[k] = int(v) if re.match(r"^-?\d+$", v) else v
        return zones

    def meminfo(self):
        out = self.vm.run("while read -r k v u; do echo \"$k $v\"; done "
                          "< /proc/meminfo")
        return {k.rstrip(":"): int(v) * 1024 for k, v in
                (l.split()[:2] for l in out if len(l.split()) >= 2)}

    def set_target(self, size, timeout=WORK_S):
        """hyperalloc-set-target, then wait for the target to be reached."""
        since = len(self.vm.events)
        self.vm.qmp("hyperalloc-set-target", size=size)
        _, ev = self.vm.wait_event(
            "HYPERALLOC_TARGET_REACHED", timeout, since,
            pred=lambda e: e["data"]["target"] == size)
        return ev["data"]

    def managed(self):
        return sum(z["zone_managed_pages"] for z in self.zones().values())

    def wait_managed(self, pages, what):
        """Wait until the driver applied the host's hard frames: the zones'
        managed pages add up to @pages."""
        return wait_for(lambda: self.managed() == pages, WORK_S, what)

    def bad_console(self):
        return [l for l in self.vm.console if BAD_CONSOLE.search(l)]


class Boot(unittest.TestCase):
    """Boot to the workload: every zone but ZONE_DMA managed and
    registered, all guest RAM but ZONE_DMA in the regions; a reboot
    registers again and the target applies again."""

    def test_boot_and_reboot(self):
        with Guest("kernel-boot", reboot=True) as g:
            vm = g.vm
            _, m = vm.wait_console(r"ha-guest: kernel=(\S+) zones=(\S*)", 5)
            self.assertEqual(m.group(2), "node0_dma32,node0_normal")
            q = g.wait_registered(2)
            zones = g.zones()
            regions = g.regions()
            self.assertEqual(sorted(r["zone"] for r in regions.values()),
                             ["dma32", "normal"])
            total = 0
            for z in zones.values():
                r = regions[z["id"]]
                self.assertEqual(r["gpa"], z["base_pfn"] * PAGE)
                self.assertEqual(r["size"], z["nr_pages"] * PAGE)
                self.assertEqual(r["meta-gpa"], z["meta_phys"])
                self.assertEqual(r["node"], 0)
                self.assertEqual(z["bad_frees"], 0)
                total += r["size"]
            # The kernel's own memory came from them.
            self.assertGreater(sum(z["allocs"] for z in zones.values()),
                               0)
            # All RAM but ZONE_DMA (16 MiB), less a few MiB at the zones'
            # edges (4 MiB alignment, the firmware's top of low RAM).
            self.assertGreater(total, g.ram - 16 * MIB - 8 * MIB)
            self.assertEqual(q["actual"], q["ram-size"])

            # A target, then a reboot: the new kernel registers again and
            # the device applies the target to it.
            target = g.ram // 2
            g.set_target(target)
            since = len(vm.console)
            ev_since = len(vm.events)
            vm.type("reboot -f")
            vm.wait_console("ha-guest: ready", BOOT_S, since)
            g.wait_registered(2)
            _, ev = vm.wait_event("HYPERALLOC_TARGET_REACHED", WORK_S,
                                  ev_since,
                                  pred=lambda e: e["data"]["target"] ==
                                  target)
            self.assertEqual(ev["data"]["actual"], target)
            hard = sum(r["hard"] for r in g.regions().values())
            self.assertEqual(hard * HUGE, g.ram - target)
            self.assertEqual(g.bad_console(), [])


class Stress(unittest.TestCase):
    """ha-stress runs while the host shrinks the VM to 25 % and grows it
    back several times: no canary error, no OOM kill (the stress uses far
    less than a quarter of the VM), and the guest sees its size change."""

    CYCLES = 3

    def test_stress_while_resizing(self):
        with Guest("kernel-stress") as g:
            vm = g.vm
            g.wait_registered(2)
            managed0 = g.managed()
            since = len(vm.console)
            vm.type("ha-stress -t 2 -m 128 -f 32 -d /tmp -s 100000 -r 10 "
                    "& echo stress-pid=$!")
            _, m = vm.wait_console(r"^stress-pid=(\d+)", 60, since)
            pid = m.group(1)
            vm.wait_console(r"ha-stress: progress .*ops=[1-9]", WORK_S,
                            since)
            for cycle in range(self.CYCLES):
                small = g.set_target(g.ram // 4)
                self.assertEqual(small["actual"], g.ram // 4)
                g.wait_managed(managed0 - (g.ram - g.ram // 4) // PAGE,
                               "the guest to apply the shrink")
                self.assertLess(g.meminfo()["MemTotal"], g.ram // 4)
                big = g.set_target(g.ram)
                self.assertEqual(big["actual"], g.ram)
                g.wait_managed(managed0, "the guest to apply the return")
                # The stress keeps going through every cycle.
                n = len(vm.console)
                vm.wait_console(r"ha-stress: progress", WORK_S, n)
            vm.type("kill -TERM %s" % pid)
            _, m = vm.wait_console(r"ha-stress: verdict=\S+.*", WORK_S,
                                   since)
            v = kv(m.group(0))
            self.assertEqual(v["verdict"], "pass", m.group(0))
            self.assertEqual(v["canary_errors"], "0")
            self.assertEqual(v["child_errors"], "0")
            self.assertGreater(int(v["ops"]), 0)
            self.assertGreater(int(v["forks"]), 0)
            self.assertEqual(g.bad_console(), [])
            installs = sum(z["installs"] for z in g.zones().values())
            self.assertGreater(installs, 0,
                               "the guest reused returned frames")


class Agree(unittest.TestCase):
    """The guest's free and managed counts and the host's view agree after
    a reclaim and after the return: per zone, libhyperalloc's free frames
    are the host's free-frames of the region, the zone's NR_FREE_PAGES is
    that plus its buddy-managed edges, and MemTotal shrinks by exactly
    what the host holds hard-reclaimed."""

    # The guest is idle but not frozen (timers, the shell): a little slack.
    SLACK = 256

    def check(self, g, total_managed0):
        zones = g.zones()
        regions = g.regions()
        hard = 0
        for name, z in zones.items():
            r = regions[z["id"]]
            self.assertLessEqual(abs(r["free-frames"] - z["free_pages"]),
                                 self.SLACK, name)
            self.assertLessEqual(
                abs(z["zone_free_pages"] - z["free_pages"] -
                    z["buddy_free_pages"]), self.SLACK, name)
            self.assertEqual(r["hard"], z["hard"], name)
            hard += r["hard"]
        managed = sum(z["zone_managed_pages"] for z in zones.values())
        self.assertEqual(managed, total_managed0 - hard * 512)
        return hard

    def test_memfree_agrees(self):
        with Guest("kernel-agree") as g:
            g.wait_registered(2)
            managed0 = g.managed()
            mem0 = g.meminfo()
            self.assertEqual(self.check(g, managed0), 0)

            g.set_target(g.ram // 2)
            g.wait_managed(managed0 - (g.ram // 2) // PAGE,
                           "the guest to apply the reclaim")
            self.assertEqual(self.check(g, managed0) * HUGE, g.ram // 2)
            mem = g.meminfo()
            self.assertEqual(mem0["MemTotal"] - mem["MemTotal"], g.ram // 2)
            self.assertLessEqual(abs((mem0["MemFree"] - mem["MemFree"]) -
                                     g.ram // 2), self.SLACK * PAGE * 4)

            g.set_target(g.ram)
            g.wait_managed(managed0, "the guest to apply the return")
            self.assertEqual(self.check(g, managed0), 0)
            mem = g.meminfo()
            self.assertEqual(mem["MemTotal"], mem0["MemTotal"])
            self.assertLessEqual(abs(mem["MemFree"] - mem0["MemFree"]),
                                 self.SLACK * PAGE * 4)
            self.assertEqual(g.bad_console(), [])


class Numa(unittest.TestCase):
    """A guest with two NUMA nodes registers both: node 0's DMA32 zone and
    node 1's NORMAL zone, and the host reclaims from both."""

    def test_two_nodes(self):
        with Guest("kernel-numa", ram=4 * GIB,
                   numa=[2 * GIB, 2 * GIB]) as g:
            _, m = g.vm.wait_console(r"ha-guest: kernel=\S+ zones=(\S*)", 5)
            self.assertEqual(m.group(1), "node0_dma32,node1_normal")
            g.wait_registered(2)
            regions = g.regions()
            self.assertEqual(sorted((r["node"], r["zone"])
                                    for r in regions.values()),
                             [(0, "dma32"), (1, "normal")])
            g.set_target(g.ram // 4)
            regions = g.regions()
            self.assertTrue(all(r["hard"] > 0 for r in regions.values()),
                            regions)
            zones = g.zones()
            for z in zones.values():
                self.assertEqual(z["hard"], regions[z["id"]]["hard"])
            g.set_target(g.ram)
            self.assertEqual(g.bad_console(), [])


class Replay(unittest.TestCase):
    """ha-replay plays the clang-build trace (the sim guest's) with real
    memory, at 60 trace seconds per second, while the host reclaims
    automatically: every canary holds, and the host both reclaims and
    installs again as the workload rises and falls."""

    def test_clang_trace(self):
        with Guest("kernel-replay", ram=2 * GIB) as g:
            vm = g.vm
            g.wait_registered(1)
            vm.qmp("hyperalloc-set-auto", enabled=True, interval_ms=1000)
            since = len(vm.console)
            vm.type("ha-replay -m 1024 -x 60 -r 5 /traces/clang-build.trace")
            _, m = vm.wait_console(r"ha-replay: verdict=\S+.*", WORK_S,
                                   since)
            v = kv(m.group(0))
            self.assertEqual(v["verdict"], "pass", m.group(0))
            self.assertEqual(v["canary_errors"], "0")
            self.assertEqual(v["map_failures"], "0")
            self.assertGreater(int(v["peak_mib"]), 512)
            q = g.query()
            self.assertGreater(q["reclaimed-soft"], 0)
            self.assertGreater(q["installs"], 0)
            self.assertEqual(g.bad_console(), [])


if __name__ == "__main__":
    unittest.main()
