# SPDX-License-Identifier: GPL-2.0-or-later
"""Real guests for the benchmarks on real VMs (bench/inflate,
bench/footprint-vm, bench/stream; not a benchmark itself).

Every guest runs on the patched QEMU (make qemu; the stock guests use
only its upstream devices), MTTCG with two vCPUs. The HyperAlloc guest
is the kernel and initramfs of make guest (guestmod/linux/), with the
device; the stock guests boot Debian's cloud kernel
(tests/e2e/build-guest.sh) with the same initramfs plus the kernel's
virtio-balloon and virtio-mem modules, and a virtio-balloon or a
virtio-mem device (256 MiB of boot RAM, the rest on the device). The
workloads in the guest are those of guestmod/workloads/.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time

import _benchutil as bu
from _benchutil import BenchError

sys.path.insert(0, os.path.join(bu.TOP, "tests", "e2e"))
from qemu_vm import (QemuVM, SerialConsole, build_outputs,  # noqa: E402
                     wait_for)

FATAL = re.compile(r"Kernel panic|Oops|BUG:|general protection fault|"
                   r"Out of memory: Killed process")
BASE_MIB = 256  # boot RAM of the virtio-mem guest
BOOT_S = 300
WORK_S = 1200
OUT = os.path.join(bu.harness.BUILD, "bench")
# The stock kernel's virtio modules, in load order
# (tests/e2e/build-guest.sh copies them from the package).
MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev",
           "virtio_pci_modern_dev", "virtio_pci", "virtio_balloon",
           "virtio_mem")


def paths():
    """The patched QEMU, our kernel and initramfs, the stock kernel, and
    an initramfs for it: ours plus the stock modules (a second cpio
    archive appended, which the kernel unpacks over the first)."""
    p = build_outputs(
        [os.path.join(bu.TOP, "qemu-patches", "build.sh")],
        [os.path.join(bu.TOP, "guestmod", "linux", "build-guest.sh")])
    stock = build_outputs(
        ["sh", os.path.join(bu.TOP, "tests", "e2e", "build-guest.sh")])
    p["stock_kernel"] = stock["kernel"]
    mods = os.path.join(os.path.dirname(stock["kernel"]), "modules")
    os.makedirs(OUT, exist_ok=True)
    out = os.path.join(OUT, "initrd-stock.gz")
    tmp = os.path.join(OUT, "initrd-stock.d")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "lib", "modules"))
    for f in sorted(os.listdir(mods)):
        shutil.copy(os.path.join(mods, f), os.path.join(tmp, "lib", "modules"))
    cpio = subprocess.run("cd %s && find lib | LC_ALL=C sort | "
                          "cpio -o -H newc --quiet | gzip -1" % tmp,
                          shell=True, check=True,
                          stdout=subprocess.PIPE).stdout
    shutil.rmtree(tmp)
    with open(p["initrd"], "rb") as f:
        base = f.read()
    with open(out + ".tmp", "wb") as f:
        f.write(base + cpio)
    os.rename(out + ".tmp", out)
    p["stock_initrd"] = out
    return p


def find_memfd(pid, size):
    """/proc/PID/fd/N of QEMU's memfd of @size bytes."""
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        p = os.path.join(fddir, fd)
        try:
            if os.readlink(p).startswith("/memfd:") and \
                    os.stat(p).st_size == size:
                return p
        except OSError:
            continue
    raise BenchError("QEMU pid %d has no memfd of %d MiB"
                     % (pid, size >> 20))


class Sampler:
    """Host memory of one guest, sampled every @period s in a thread:
    the sum of st_blocks of QEMU's guest-RAM memfds, or QEMU's RssAnon.
    .samples holds (time.time(), bytes), only changes unless @every."""

    def __init__(self, pid, memfd_sizes=None, period=0.001, every=False):
        self.samples = []
        self.period = period
        self.every = every
        self._stop = threading.Event()
        if not memfd_sizes:
            self._status = open("/proc/%d/status" % pid, "rb")
            self.read = self._anon
        else:
            fds = [find_memfd(pid, s) for s in memfd_sizes]
            self.read = lambda: sum(os.stat(f).st_blocks for f in fds) * 512

    def _anon(self):
        self._status.seek(0)
        for line in self._status.read().split(b"\n"):
            if line.startswith(b"RssAnon:"):
                return int(line.split()[1]) * 1024
        raise BenchError("no RssAnon for QEMU")

    def start(self):
        self.samples = [(time.time(), self.read())]
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(self.period):
            try:
                v = self.read()
            except OSError:
                return  # QEMU is gone
            if self.every or v != self.samples[-1][1]:
                self.samples.append((time.time(), v))

    def last_change(self):
        return self.samples[-1][0]

    def stop(self):
        self._stop.set()
        self._t.join()
        self.samples.append((time.time(), self.samples[-1][1]))

    def window(self, t0, t1):
        """(average, peak) bytes over [t0, t1], the samples as steps."""
        s = self.samples
        area, peak = 0.0, 0
        for i, (t, v) in enumerate(s):
            nxt = s[i + 1][0] if i + 1 < len(s) else t1
            a, b = max(t, t0), min(nxt, t1)
            if b > a:
                area += v * (b - a)
                peak = max(peak, v)
        return area / (t1 - t0), peak


def qemu_time(ev):
    """The time QEMU stamped on an event, as time.time() counts."""
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


class Guest:
    """One guest of one mechanism: hyperalloc, balloon, virtiomem, or
    none (the stock kernel with no device).

    @backing: anon (QEMU's private RAM, transparent huge pages) or memfd
    (shared memfd RAM, 4 KiB pages). @fpr: the balloon's free page
    reporting on, at the paper's order 9 (its delay, 2 s, and capacity,
    32, are the kernel's own). @stats: a virtio-balloon only for guest
    statistics. @agent: a second serial console (ttyS1) with a shell of
    its own, from which the host reads the guest's state while the first
    console runs a workload (for the virtio-mem guest, whose controller
    needs the guest's free huge pages: guest_free_huge())."""

    def __init__(self, mech, p, mib, backing="memfd", tag="0", fpr=False,
                 stats=False, smp=2, agent=False):
        self.mech = mech
        self.mib = mib
        self.backing = backing
        shared = backing == "memfd"
        append = ["console=ttyS0", "loglevel=4", "panic=-1"]
        machine = "q35,memory-backend=mem"
        args = ["-accel", "tcg,thread=multi", "-smp", str(smp)]

        def backend(oid, size):
            if shared:
                return ["-object", "memory-backend-memfd,id=%s,size=%dM,"
                        "share=on" % (oid, size)]
            return ["-object", "memory-backend-ram,id=%s,size=%dM"
                    % (oid, size)]
        if mech == "virtiomem":
            dev = mib - BASE_MIB
            self.device_mib = dev
            self.memfd_sizes = [BASE_MIB * bu.MIB, dev * bu.MIB]
            args += ["-m", "%dM,maxmem=%dM,slots=2" % (BASE_MIB, mib * 2)]
            args += backend("mem", BASE_MIB) + backend("vmem0", dev)
            args += ["-device", "virtio-mem-pci,id=vm0,memdev=vmem0,"
                     "block-size=2M,requested-size=%dM" % dev]
            append.append("memhp_default_state=online_movable")
        else:
            self.memfd_sizes = [mib * bu.MIB]
            args += ["-m", "%dM" % mib] + backend("mem", mib)
        args += ["-machine", machine]
        if mech == "hyperalloc":
            kernel, initrd = p["kernel"], p["initrd"]
            args += ["-object", "iothread,id=io0", "-device",
                     "virtio-hyperalloc-pci,id=ha,iothread=io0"]
        else:
            kernel, initrd = p["stock_kernel"], p["stock_initrd"]
            if mech == "balloon" or stats:
                args += ["-device", "virtio-balloon-pci,id=bal%s"
                         % (",free-page-reporting=on" if fpr else "")]
            if fpr:
                append.append("page_reporting.page_reporting_order=9")
        self.has_balloon = mech == "balloon" or stats
        args += ["-kernel", kernel, "-initrd", initrd,
                 "-append", " ".join(append)]
        name = "%s-%s" % (mech, tag)
        self.vm = QemuVM(p["qemu"], args, name=name,
                         keep_console=os.path.join(OUT, name + ".console"))
        # Lines after which what is awaited will not come: every wait
        # ends at once (an oops, or the OOM killer taking the workload).
        self.vm.serial.fatal = FATAL
        self.agent = None
        if agent:
            self._agent_path = os.path.join(self.vm.dir, "agent.sock")
            self.vm.args += ["-chardev", "socket,id=ser1,path=%s,server=on,"
                             "wait=off" % self._agent_path,
                             "-serial", "chardev:ser1"]
            self.agent = SerialConsole(alive=self.vm.alive)

    def start(self):
        """Boot and wait until the guest is ready; a guest that does not
        get there is stopped again."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        self.vm.start()
        self.vm.wait_console("ha-guest: ready", BOOT_S)
        if self.mech != "hyperalloc":
            out = self.vm.run(" && ".join(
                "insmod /lib/modules/%s.ko*" % m for m in MODULES) +
                " && echo modules-ok", 120)
            if "modules-ok" not in out:
                raise BenchError("insmod: %s" % out)
        if self.mech == "virtiomem":
            # The device's memory is plugged and onlined.
            wait_for(lambda: self.vm.qmp("qom-get", path="vm0",
                                         property="size")
                     == self.device_mib * bu.MIB, BOOT_S,
                     "virtio-mem to plug its memory")
            wait_for(lambda: self.memtotal_mib() > self.mib - 200, BOOT_S,
                     "the guest to online virtio-mem's memory")
        if self.mech == "hyperalloc":
            wait_for(lambda: self.vm.qmp("query-hyperalloc")["state"]
                     == "active", BOOT_S, "the device to be active")
        if self.has_balloon:
            self.vm.qmp("qom-set", path="bal",
                        property="guest-stats-polling-interval", value=1)
        if self.agent:
            self.agent.connect(self._agent_path)
            # No echo, no prompt: only what the commands print.
            self.vm.run("(PS1= setsid sh -c 'stty -echo; exec sh' "
                        "</dev/ttyS1 >/dev/ttyS1 2>&1 &)")
            wait_for(self._agent_answers, 60,
                     "the shell on the second console")
        return self

    def stop(self):
        if self.agent:
            self.agent.close()
        self.vm.stop()

    def pid(self):
        return self.vm.pid()

    def memtotal_mib(self):
        out = self.vm.run("grep MemTotal /proc/meminfo")
        for line in out:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
        return 0

    def guest_free(self):
        """The guest's free memory as its balloon's statistics say, and
        when the guest sent them (time.time())."""
        st = self.vm.qmp("qom-get", path="bal", property="guest-stats")
        return st["stats"].get("stat-free-memory", -1), st["last-update"]

    def _agent_answers(self):
        # What is typed before the shell opened ttyS1 is lost: ask again.
        try:
            return self.agent.run("echo ok", 2) == ["ok"]
        except AssertionError:
            return False

    def guest_free_huge(self, timeout=30):
        """The guest's free memory in whole free 2 MiB blocks of its
        page allocator (/proc/buddyinfo, orders 9 and up), bytes; read
        on the second console, so it is fresh."""
        total = 0
        for line in self.agent.run("cat /proc/buddyinfo", timeout):
            w = line.split()
            if len(w) > 4 and w[0] == "Node" and w[2] == "zone":
                counts = [int(c) for c in w[4:]]
                total += sum(n << (order - 9) for order, n in
                             enumerate(counts) if order >= 9)
        return total * 2 * bu.MIB

    def sampler(self, **kw):
        if self.backing == "anon":
            return Sampler(self.pid(), **kw)
        return Sampler(self.pid(), self.memfd_sizes, **kw)

    def touch(self, mib):
        """ha-membench touch in the guest: GiB/s."""
        since = len(self.vm.console)
        self.vm.type("ha-membench touch %d" % mib)
        _, m = self.vm.wait_console(
            r"ha-membench: touch mib=\d+ (ns=\S+ gibps=(\S+)|failed.*)",
            WORK_S, since)
        if not m.group(2):
            raise BenchError("%s: %s" % (self.mech, m.group(0)))
        return float(m.group(2))

    def request(self, size):
        """Ask for @size bytes of guest memory; returns the time.time()
        just before the request and the event that says it is done."""
        vm = self.vm
        since = len(vm.events)
        t0 = time.time()
        if self.mech == "hyperalloc":
            vm.qmp("hyperalloc-set-target", size=size)
            return t0, ("HYPERALLOC_TARGET_REACHED", since,
                        lambda e: e["data"]["target"] == size)
        if self.mech == "balloon":
            vm.qmp("balloon", value=size)
            return t0, ("BALLOON_CHANGE", since,
                        lambda e: e["data"]["actual"] == size)
        dev = size - BASE_MIB * bu.MIB
        vm.qmp("qom-set", path="vm0", property="requested-size", value=dev)
        return t0, ("MEMORY_DEVICE_SIZE_CHANGE", since,
                    lambda e: e["data"]["size"] == dev)

    def resize(self, size, timeout=WORK_S):
        """request(), then wait for the device's event: (time of the
        request, QEMU's time of the event)."""
        t0, (name, since, pred) = self.request(size)
        _, ev = self.vm.wait_event(name, timeout, since, pred=pred)
        return t0, qemu_time(ev)
