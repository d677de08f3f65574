# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot time and stress throughput of the HyperAlloc guest kernel against
Debian's stock 6.1 cloud kernel, side by side in one run on the same
patched QEMU, the same initramfs (guestmod/linux/build-guest.sh) and the
same machine flags (MTTCG, two vCPUs, a shared memfd, the device):

  stock       Debian's cloud kernel (buddy allocator, no driver)
  buddy       the HyperAlloc kernel booted with hyperalloc=off
  hyperalloc  the HyperAlloc kernel

The kinds take turns, run after run, so that the noise of a shared
machine falls on all of them alike; the figures are medians.

  boot_s     QEMU start to the init's "ha-guest: ready" (wall clock)
  uptime_s   the guest's own uptime at that line
  mib_per_s  ha-stress's throughput (MiB written and verified per second,
             two threads, anonymous memory, tmpfs, fork/exec, THP)

Not a test: it asserts nothing and is not run by make check.

Run: /usr/bin/python3 tests/e2e/bench_kernel.py [RUNS] [STRESS_S]
"""

import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_kernel  # noqa: E402
from qemu_vm import QemuVM  # noqa: E402

GIB = 1 << 30


def stock_kernel():
    """Debian's cloud kernel, as tests/e2e/build-guest.sh caches it."""
    out = subprocess.run(["sh", os.path.join(HERE, "build-guest.sh")],
                         check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return dict(w.split("=", 1) for w in out.split() if "=" in w)["kernel"]


def one(kind, kernel, stress_s, ram=2 * GIB):
    p = test_kernel.paths()
    append = "console=ttyS0 loglevel=4 panic=-1"
    if kind == "buddy":
        append += " hyperalloc=off"
    args = ["-accel", "tcg,thread=multi", "-smp", "2",
            "-m", "%dM" % (ram >> 20),
            "-object", "memory-backend-memfd,id=mem,size=%dM,share=on"
            % (ram >> 20),
            "-machine", "q35,memory-backend=mem",
            "-kernel", kernel, "-initrd", p["initrd"], "-append", append,
            "-object", "iothread,id=io0",
            "-device", "virtio-hyperalloc-pci,id=ha,iothread=io0"]
    vm = QemuVM(p["qemu"], args, name="bench-" + kind)
    t0 = time.monotonic()
    vm.start()
    try:
        _, m = vm.wait_console(r"ha-guest: ready uptime=([\d.]+)", 300)
        boot = time.monotonic() - t0
        uptime = float(m.group(1))
        since = len(vm.console)
        vm.type("ha-stress -t 2 -m 128 -f 32 -d /tmp -s %d -r 1000"
                % stress_s)
        _, m = vm.wait_console(r"ha-stress: verdict=\S+.*", 600, since)
        v = test_kernel.kv(m.group(0))
        if v["verdict"] != "pass":
            raise AssertionError("%s: %s" % (kind, m.group(0)))
        return boot, uptime, float(v["mib_per_s"])
    finally:
        vm.stop()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    stress_s = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    kernels = {"stock": stock_kernel(),
               "buddy": test_kernel.paths()["kernel"],
               "hyperalloc": test_kernel.paths()["kernel"]}
    res = {k: [] for k in kernels}
    for i in range(runs):
        for kind, kernel in kernels.items():
            r = one(kind, kernel, stress_s)
            res[kind].append(r)
            print("run %d %-10s boot_s=%.2f uptime_s=%.2f mib_per_s=%.1f"
                  % (i + 1, kind, *r), flush=True)
    print()
    print("| kernel | boot_s (median) | uptime_s (median) | "
          "stress MiB/s (median) | vs stock |")
    print("|---|---|---|---|---|")
    base = statistics.median(r[2] for r in res["stock"])
    for kind in kernels:
        b = statistics.median(r[0] for r in res[kind])
        u = statistics.median(r[1] for r in res[kind])
        t = statistics.median(r[2] for r in res[kind])
        print("| %s | %.2f | %.2f | %.1f | %.2f |" % (kind, b, u, t,
                                                      t / base))
    print("\n%d runs each, %d s of stress per run, MTTCG -smp 2, 2 GiB"
          % (runs, stress_s))


if __name__ == "__main__":
    main()
