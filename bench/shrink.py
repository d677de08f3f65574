#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/shrink: how long shrinking a real guest takes through
virtio-balloon, virtio-mem and the HyperAlloc device, side by side on this
machine, once on 4 KiB-page RAM and once with huge pages.

Every guest has the same logical size and runs under TCG (the HyperAlloc
guest with two vCPUs, as its protocol needs; the stock guests with one).
A private libvirtd (tests/e2e/lvenv.py) boots the stock guests (Debian's cloud kernel, busybox initramfs): one with
a virtio-balloon, one with 256 MiB of boot RAM plus a virtio-mem device;
each writes most of its memory once and frees it again (a guest that ran
something), so that what it gives up is resident on the host. The
HyperAlloc domain runs the patched QEMU (make qemu) as its emulator with
the device on its command line and the driver's test mode: its allocator
manages a memmap= pool of all but 256 MiB of the guest, which the driver
writes completely once and frees (test_fill). A real hyperallocd tracks
all three through the same libvirtd, and the request is the same for
each: a PUT /vms/{id}/memory with a target --gib smaller (for HyperAlloc
the daemon sends hyperalloc-set-target through libvirt on its worker).

For each mechanism the time is from the request to 95 % of the memory that
was released being gone from the host (st_blocks of QEMU's memfd, or its
RssAnon, sampled every few ms, after the guest reached the target and the
memory stopped moving). For HyperAlloc also: return (grow back to the
full size: the device's own time from the request to the target) and install (the device
populating the returned frames on the guest's request, timed by the
guest). Fresh guests for every run; medians over --runs.

The huge-page run gives every guest QEMU's default anonymous RAM, for
which QEMU asks for transparent huge pages (the machine's THP setting must
be madvise or always), and measures QEMU's RssAnon: a shared memfd gets no
huge pages from QEMU 7.2, whose memfd mappings are only 4 KiB aligned. The
4 KiB run uses shared memfd RAM with shmem THP switched off for the run.
On 4 KiB pages the kernel's own punch rate bounds every mechanism.
TCG slows everything the guest does (the balloon's page lists, virtio-mem's
unplug); the host's discards run at native speed.

Summary (ratios from the huge-page run, the 4 KiB run's beside them):
  shrink: balloon_ms=... virtiomem_ms=... hyperalloc_ms=... vs_balloon=...
    vs_virtiomem=... gib=... 4k_hyperalloc_ms=... 4k_vs_balloon=...
    4k_vs_virtiomem=... hyperalloc_return_ms=... hyperalloc_install_gibps=...
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

import _benchutil as bu
from _benchutil import BenchError, harness

sys.path.insert(0, os.path.join(bu.TOP, "tests", "e2e"))
import lvenv  # noqa: E402

NAME = "shrink"
BASE_MIB = 256  # boot RAM of the virtio-mem guest
SETTLE_S = 1.0  # no change for this long after the target: done


class HostAnon:
    """Anonymous memory of a QEMU process (RssAnon): its guest RAM when
    that is QEMU's default private RAM."""

    def __init__(self, pid):
        self.path = "/proc/%d/status" % pid

    def resident(self):
        with open(self.path) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        raise BenchError("no RssAnon in " + self.path)


def host_of(pid, size, shared):
    return Host(pid, size) if shared else HostAnon(pid)


class Host:
    """st_blocks of one memfd of a QEMU process, cheaply: the fd is found
    once, then only stat()ed."""

    def __init__(self, pid, size):
        fds = [fd for fd, (s, _) in lvenv.memfds(pid).items() if s == size]
        if not fds:
            raise BenchError("QEMU pid %d has no %d MiB memfd" %
                             (pid, size >> 20))
        self.path = "/proc/%d/fd/%d" % (pid, fds[0])

    def resident(self):
        return os.stat(self.path).st_blocks * 512


def measure(request, reached, host, what, timeout=120.0):
    """Call @request(), then sample @host until @reached() and the memory
    stopped moving: (ms to 95 % released, bytes released)."""
    res0 = host.resident()
    t0 = time.monotonic()
    request()
    samples = [(0.0, res0)]
    done = None
    last_change = 0.0
    next_check = 0.0
    while True:
        now = time.monotonic() - t0
        cur = host.resident()
        if cur != samples[-1][1]:
            last_change = now
        samples.append((now, cur))
        if done is None and now >= next_check:
            next_check = now + 0.05
            if reached():
                done = now
        if done is not None and now - max(done, last_change) >= SETTLE_S:
            break
        if now > timeout:
            raise BenchError("%s did not reach its target in %.0f s"
                             % (what, timeout))
        time.sleep(0.002)
    released = res0 - samples[-1][1]
    if released <= 0:
        raise BenchError("%s released nothing on the host" % what)
    t = next(t for t, v in samples if res0 - v >= 0.95 * released)
    return t * 1000.0, released


def measure_daemon(daemon, vm, host, small):
    def request():
        r = daemon.put("/vms/%s/memory" % vm, {"target_bytes": small})
        if r.status != 200:
            raise BenchError("PUT %s: %r" % (vm, r))
    return measure(request,
                   lambda: daemon.memory(vm)["current_bytes"] <= small,
                   host, vm)


def run_hyperalloc(env, daemon, paths, i, mib, small_mib, shared):
    """One HyperAlloc domain through libvirt and the daemon: (reclaim ms,
    return ms, install GiB/s)."""
    name = "ha-bench-shrink-ha-%s-%d" % (uuid.uuid4().hex[:4], i)
    g = lvenv.HaDomain(env, name, paths, mib, shared=shared)

    def detail():
        return daemon.get("/vms/%s" % name).json()
    try:
        g.start()
        g.wait_ready()
        lvenv.wait_for(lambda: (detail().get("device") or {}).get("state")
                       == "active", 300, "the daemon to see the device")
        # The guest uses all its memory once: the driver writes every free
        # huge frame of the pool, then frees it.
        g.fill()
        if shared and g.pool_resident() < 0.8 * g.pool_mib * bu.MIB:
            raise BenchError("only %d MiB of the %d MiB pool were written"
                             % (g.pool_resident() >> 20, g.pool_mib))
        small = small_mib * bu.MIB
        r_ms, released = measure_daemon(
            daemon, name, host_of(g.pid(), mib * bu.MIB, shared), small)
        # Return: the device's own time from the request to the target.
        r = daemon.put("/vms/%s/memory" % name, {"target_bytes": mib * bu.MIB})
        if r.status != 200:
            raise BenchError("PUT %s: %r" % (name, r))
        ret_ms = lvenv.wait_for(
            lambda: (lambda d: d["device"]["last_reclaim_ns"] / 1e6
                     if d["memory"]["current_bytes"] == mib * bu.MIB
                     else None)(detail()), 120, "the return")
        # Install: one request for every frame of the pool from the guest;
        # the device populates those it returned (the others are no-ops).
        lvenv.wait_for(lambda: daemon.memory(name)["soft_reclaimed_bytes"],
                       60, "the returned frames to show as soft")
        soft = daemon.memory(name)["soft_reclaimed_bytes"]
        out = g.console.run("echo 0 0 %d > %s/install; dmesg | grep "
                            "'install region=0 huge=0' | tail -n 1"
                            % (min(g.pool_mib // 2, 512), g.sysfs()), 120)
        ns = None
        for line in out:
            if "ns=" in line:
                ns = int(line.rsplit("ns=", 1)[1].split()[0])
        if not ns:
            raise BenchError("no install time in the guest's log")
        inst_gibps = soft / (ns / 1e9) / (1 << 30)
    finally:
        env.destroy(name)
    print("run %d: hyperalloc %.1f ms (%d MiB released), return %.2f ms, "
          "install %d MiB at %.2f GiB/s" % (i + 1, r_ms, released >> 20,
                                            ret_ms, soft >> 20, inst_gibps),
          flush=True)
    return r_ms, ret_ms, inst_gibps


def run_once(env, daemon, kernel, initrd, i, mib, small_mib, fill_mib,
             shared):
    tag = "%s-%d" % (uuid.uuid4().hex[:4], i)
    bal = lvenv.Guest(env, "balloon", "ha-test-shrink-bal-" + tag, kernel,
                      initrd, memory_mib=mib, fill_mib=fill_mib,
                      stats_period=1, shared=shared)
    vmem = lvenv.Guest(env, "vmem", "ha-test-shrink-vmem-" + tag, kernel,
                       initrd, memory_mib=mib, base_mib=BASE_MIB,
                       fill_mib=fill_mib, shared=shared)
    try:
        bal.start()
        vmem.start()
        bal.wait_ready(timeout=300)
        vmem.wait_ready(timeout=300)
        lvenv.wait_for(lambda: {bal.name, vmem.name} <= set(daemon.vms()),
                       30, "the daemon to track the guests")
        small = small_mib * bu.MIB
        b_ms, b_rel = measure_daemon(daemon, bal.name,
                                     host_of(bal.qemu_pid(), mib * bu.MIB,
                                             shared), small)
        v_ms, v_rel = measure_daemon(daemon, vmem.name,
                                     host_of(vmem.qemu_pid(),
                                             (mib - BASE_MIB) * bu.MIB,
                                             shared), small)
    finally:
        env.destroy(bal.name)
        env.destroy(vmem.name)
    print("run %d: balloon %.0f ms (%d MiB released), virtio-mem %.0f ms "
          "(%d MiB released)" % (i + 1, b_ms, b_rel >> 20, v_ms,
                                 v_rel >> 20), flush=True)
    return b_ms, v_ms


def anon_thp():
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        return f.read().split("[")[1].split("]")[0]


class ShmemThp:
    """Select @value in shmem_enabled for a with-block, restore after."""

    def __init__(self, value):
        self.value = value
        self.old = None

    def __enter__(self):
        cur = bu.thp_selected()
        if cur != self.value:
            with open(bu.THP_SHMEM, "w") as f:
                f.write(self.value)
            self.old = cur
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            with open(bu.THP_SHMEM, "w") as f:
                f.write(self.old)
        return False


def run_mode(label, env, daemon, kernel, initrd, paths, args, small_mib,
             fill_mib, shared):
    """--runs of all three mechanisms: medians (balloon, virtio-mem,
    hyperalloc, return, install)."""
    res = {k: [] for k in ("b", "v", "h", "r", "i")}
    print("-- %s" % label, flush=True)
    for i in range(args.runs):
        b, v = run_once(env, daemon, kernel, initrd, i, args.memory_mib,
                        small_mib, fill_mib, shared)
        h, r, inst = run_hyperalloc(env, daemon, paths, i, args.memory_mib,
                                    small_mib, shared)
        for k, x in zip("bvhri", (b, v, h, r, inst)):
            res[k].append(x)
    return {k: bu.median(x) for k, x in res.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gib", type=float, default=0.5,
                    help="how much to shrink by (default 0.5)")
    ap.add_argument("--memory-mib", type=int, default=1024,
                    help="logical size of each guest (default 1024)")
    args = ap.parse_args()
    small_mib = args.memory_mib - int(args.gib * 1024)
    if small_mib < BASE_MIB or args.runs < 1:
        bu.fail(NAME, "--gib must leave at least %d MiB, --runs >= 1"
                % BASE_MIB)
    fill_mib = args.memory_mib * 7 // 10
    bu.trap_signals()
    env = daemon = None
    try:
        bu.require_built(harness.HYPERALLOCD)
        kernel, initrd = lvenv.build_guest()
        paths = lvenv.ha_paths()
        print("guests: %d MiB, TCG -smp 2, memfd shared RAM; shrinking by "
              "%d MiB to %d MiB, %d runs per mode"
              % (args.memory_mib, args.memory_mib - small_mib, small_mib,
                 args.runs), flush=True)
        env = lvenv.Libvirtd(prefix="ha-bench-lv-").start()
        daemon = harness.Daemon(extra={"libvirt": {
            "enabled": True, "uri": env.uri}})
        daemon.config["log_level"] = "info"
        daemon.write_config()
        daemon.start()
        thp = anon_thp()
        if thp not in ("always", "madvise"):
            raise BenchError("anonymous THP is '%s' here: the huge-page run "
                             "needs madvise or always" % thp)
        huge = run_mode("huge pages: anonymous RAM, THP %s" % thp, env,
                        daemon, kernel, initrd, paths, args, small_mib,
                        fill_mib, False)
        with ShmemThp("never"):
            small = run_mode("4 KiB pages: shared memfd RAM, no shmem THP",
                             env, daemon, kernel, initrd, paths, args,
                             small_mib, fill_mib, True)
    except (BenchError, OSError, subprocess.CalledProcessError,
            AssertionError) as e:
        bu.fail(NAME, str(e))
    finally:
        if daemon:
            daemon.cleanup(check=False)
        if env:
            env.cleanup()
    print("| pages | balloon ms | virtio-mem ms | HyperAlloc ms | vs balloon "
          "| vs virtio-mem | HyperAlloc return ms | install GiB/s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, m in (("2 MiB (anonymous THP)", huge),
                     ("4 KiB (memfd)", small)):
        print("| %s | %.0f | %.0f | %.1f | %.0fx | %.1fx | %.2f | %.2f |"
              % (label, m["b"], m["v"], m["h"], m["b"] / m["h"],
                 m["v"] / m["h"], m["r"], m["i"]))
    print("%s: balloon_ms=%.0f virtiomem_ms=%.0f hyperalloc_ms=%.1f "
          "vs_balloon=%.1f vs_virtiomem=%.2f gib=%g 4k_hyperalloc_ms=%.1f "
          "4k_vs_balloon=%.1f 4k_vs_virtiomem=%.2f hyperalloc_return_ms=%.2f "
          "hyperalloc_install_gibps=%.2f"
          % (NAME, huge["b"], huge["v"], huge["h"], huge["b"] / huge["h"],
             huge["v"] / huge["h"], args.gib, small["h"],
             small["b"] / small["h"], small["v"] / small["h"], huge["r"],
             huge["i"]))


if __name__ == "__main__":
    main()
