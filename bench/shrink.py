#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/shrink: how long shrinking a real guest takes through
virtio-balloon and through virtio-mem, side by side on this machine.

A private libvirtd (tests/e2e/lvenv.py) boots two TCG guests of the same
logical size (Debian's cloud kernel, busybox initramfs, memfd shared RAM):
one with a virtio-balloon, one with 256 MiB of boot RAM plus a virtio-mem
device. Each guest first writes most of its memory once and frees it
again (a guest that ran something), so that what it gives up is resident
on the host. A real hyperallocd tracks both through libvirt. For each
mechanism: PUT /vms/{id}/memory with a target --gib smaller, then watch
the host kernel's account of the guest RAM (st_blocks of QEMU's memfd,
sampled every few ms) until the guest has reached the target and the
memory stopped moving. The time is from the request to 95 % of the
memory that was released being gone from the host. Fresh guests for
every run; the summary gives medians over --runs.

This is the baseline column that the HyperAlloc device will join.
Summary:
  shrink: balloon_ms=... virtiomem_ms=... gib=...
"""

import argparse
import os
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


def measure(daemon, vm, host, small, timeout=120.0):
    """Request @small for @vm; (ms to 95 % released, bytes released)."""
    res0 = host.resident()
    t0 = time.monotonic()
    r = daemon.put("/vms/%s/memory" % vm, {"target_bytes": small})
    if r.status != 200:
        raise BenchError("PUT %s: %r" % (vm, r))
    samples = [(0.0, res0)]
    reached = None
    last_change = 0.0
    next_api = 0.0
    while True:
        now = time.monotonic() - t0
        cur = host.resident()
        if cur != samples[-1][1]:
            last_change = now
        samples.append((now, cur))
        if reached is None and now >= next_api:
            next_api = now + 0.05
            if daemon.memory(vm)["current_bytes"] <= small:
                reached = now
        if reached is not None and now - max(reached, last_change) >= \
                SETTLE_S:
            break
        if now > timeout:
            raise BenchError("%s did not reach %d MiB in %.0f s"
                             % (vm, small >> 20, timeout))
        time.sleep(0.002)
    released = res0 - samples[-1][1]
    if released <= 0:
        raise BenchError("%s released nothing on the host" % vm)
    t = next(t for t, v in samples if res0 - v >= 0.95 * released)
    return t * 1000.0, released


def run_once(env, daemon, kernel, initrd, i, mib, small_mib, fill_mib):
    tag = "%s-%d" % (uuid.uuid4().hex[:4], i)
    bal = lvenv.Guest(env, "balloon", "ha-test-shrink-bal-" + tag, kernel,
                      initrd, memory_mib=mib, fill_mib=fill_mib,
                      stats_period=1)
    vmem = lvenv.Guest(env, "vmem", "ha-test-shrink-vmem-" + tag, kernel,
                       initrd, memory_mib=mib, base_mib=BASE_MIB,
                       fill_mib=fill_mib)
    try:
        bal.start()
        vmem.start()
        bal.wait_ready(timeout=300)
        vmem.wait_ready(timeout=300)
        lvenv.wait_for(lambda: {bal.name, vmem.name} <= set(daemon.vms()),
                       30, "the daemon to track the guests")
        small = small_mib * bu.MIB
        b_ms, b_rel = measure(daemon, bal.name,
                              Host(bal.qemu_pid(), mib * bu.MIB), small)
        v_ms, v_rel = measure(daemon, vmem.name,
                              Host(vmem.qemu_pid(),
                                   (mib - BASE_MIB) * bu.MIB), small)
    finally:
        env.destroy(bal.name)
        env.destroy(vmem.name)
    print("run %d: balloon %.0f ms (%d MiB released), virtio-mem %.0f ms "
          "(%d MiB released)" % (i + 1, b_ms, b_rel >> 20, v_ms,
                                 v_rel >> 20), flush=True)
    return b_ms, v_ms


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
    balloon, virtiomem = [], []
    try:
        bu.require_built(harness.HYPERALLOCD)
        kernel, initrd = lvenv.build_guest()
        try:
            with open("/sys/kernel/mm/transparent_hugepage/"
                      "shmem_enabled") as f:
                thp = f.read().split("[")[1].split("]")[0]
        except OSError:
            thp = "unknown"
        print("guests: %d MiB, TCG, memfd shared RAM (shmem THP: %s); "
              "shrinking by %d MiB to %d MiB, %d runs"
              % (args.memory_mib, thp, args.memory_mib - small_mib,
                 small_mib, args.runs), flush=True)
        env = lvenv.Libvirtd(prefix="ha-bench-lv-").start()
        daemon = harness.Daemon(extra={"libvirt": {
            "enabled": True, "uri": env.uri}})
        daemon.config["log_level"] = "info"
        daemon.write_config()
        daemon.start()
        for i in range(args.runs):
            b, v = run_once(env, daemon, kernel, initrd, i,
                            args.memory_mib, small_mib, fill_mib)
            balloon.append(b)
            virtiomem.append(v)
    except BenchError as e:
        bu.fail(NAME, str(e))
    finally:
        if daemon:
            daemon.cleanup(check=False)
        if env:
            env.cleanup()
    print("%s: balloon_ms=%.0f virtiomem_ms=%.0f gib=%g"
          % (NAME, bu.median(balloon), bu.median(virtiomem), args.gib))


if __name__ == "__main__":
    main()
