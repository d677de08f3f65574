#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/stream: does taking memory from a running guest slow it down?
(the paper's section 5.4, on real VMs.)

Per mechanism (HyperAlloc with our kernel; virtio-balloon and virtio-mem
with Debian's), two fresh guests of --memory-mib (bench/_vm.py: shared
memfd RAM, MTTCG, two vCPUs) each first write 70 % of their memory and
free it (ha-membench touch), then run a STREAM-like triad
(ha-membench stream: three arrays, --stream-mib in all, one bandwidth
figure per second) for --seconds:

  untouched   nothing else happens
  resized     a third into the run the host shrinks the guest to
              --small-mib (most of its free memory), a third later it
              grows it back to its full size

The figure is the mean of the per-second bandwidths over the middle third
of the run, where the resize happens (and over the whole run), resized
over untouched, per mechanism: 1.0 is no slowdown. The shrink's own
duration is printed beside it (for the balloon and virtio-mem the guest
works during it; for HyperAlloc only the host does). TCG: the guest's
bandwidth is the emulator's, far below the machine's, and noisy; the
ratios of one run are what to compare.

Summary:
  stream: ha_ratio=... balloon_ratio=... virtiomem_ratio=...
    ha_ratio_all=... balloon_ratio_all=... virtiomem_ratio_all=...
"""

import argparse
import re
import subprocess
import time

import _benchutil as bu
import _vm
from _benchutil import BenchError

NAME = "stream"
MECHS = ("hyperalloc", "balloon", "virtiomem")
SAMPLE = re.compile(r"ha-membench: stream t=([\d.]+) mibps=([\d.]+)")


def one(mech, p, args, resized, tag):
    """Per-second bandwidths of one run, and the shrink's seconds."""
    g = _vm.Guest(mech, p, args.memory_mib, "memfd", tag).start()
    shrink_s = None
    try:
        g.touch(args.memory_mib * 7 // 10)
        since = len(g.vm.console)
        g.vm.type("ha-membench stream -m %d -s %d -r 1"
                  % (args.stream_mib, args.seconds))
        g.vm.wait_console(r"ha-membench: stream t=", 120, since)
        t_start = time.time()
        if resized:
            third = args.seconds / 3.0
            time.sleep(max(0.0, t_start + third - time.time()))
            t0, t1 = g.resize(args.small_mib * bu.MIB)
            shrink_s = t1 - t0
            time.sleep(max(0.0, t_start + 2 * third - time.time()))
            g.resize(args.memory_mib * bu.MIB)
        _, m = g.vm.wait_console(r"ha-membench: stream done .*check=(\S+)",
                                 args.seconds * 4 + 120, since)
        if m.group(1) != "ok":
            raise BenchError("%s: %s" % (g.vm.name, m.group(0)))
        samples = [(float(a), float(b)) for a, b in
                   (SAMPLE.match(l).groups() for l in g.vm.console[since:]
                    if SAMPLE.match(l))]
    finally:
        g.stop()
    return samples, shrink_s


def mean(samples, lo, hi):
    v = [b for t, b in samples if lo <= t < hi]
    if not v:
        raise BenchError("no bandwidth samples in [%g, %g) s" % (lo, hi))
    return sum(v) / len(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory-mib", type=int, default=2048)
    ap.add_argument("--small-mib", type=int, default=512)
    ap.add_argument("--stream-mib", type=int, default=96)
    ap.add_argument("--seconds", type=int, default=30)
    args = ap.parse_args()
    if args.small_mib < _vm.BASE_MIB + args.stream_mib or \
            args.small_mib >= args.memory_mib or args.seconds < 9:
        bu.fail(NAME, "--small-mib must hold the stream and the virtio-mem "
                "guest's boot RAM and be below --memory-mib; --seconds >= 9")
    bu.trap_signals()
    res = {}
    try:
        p = _vm.paths()
        print("guests: %d MiB memfd, TCG -smp 2; stream %d MiB for %d s, "
              "shrink to %d MiB at 1/3, grow at 2/3"
              % (args.memory_mib, args.stream_mib, args.seconds,
                 args.small_mib), flush=True)
        third = args.seconds / 3.0
        for m in MECHS:
            base, _ = one(m, p, args, False, "stream-%s-base" % m)
            rs, shrink_s = one(m, p, args, True, "stream-%s-resized" % m)
            r = dict(mid=mean(rs, third, 2 * third) /
                     mean(base, third, 2 * third),
                     all=mean(rs, 0, args.seconds + 1) /
                     mean(base, 0, args.seconds + 1),
                     base=mean(base, 0, args.seconds + 1),
                     shrink_s=shrink_s)
            res[m] = r
            print("%-10s untouched %.0f MiB/s; resized/untouched %.3f "
                  "(middle third) %.3f (all); shrink took %.0f ms"
                  % (m, r["base"], r["mid"], r["all"], shrink_s * 1e3),
                  flush=True)
    except (BenchError, OSError, subprocess.CalledProcessError,
            AssertionError) as e:
        bu.fail(NAME, str(e))
    print("| mechanism | untouched MiB/s | resized/untouched (middle third) "
          "| (whole run) | shrink ms |")
    print("|---|---|---|---|---|")
    for m in MECHS:
        r = res[m]
        print("| %s | %.0f | %.3f | %.3f | %.0f |"
              % (m, r["base"], r["mid"], r["all"], r["shrink_s"] * 1e3))
    print("%s: ha_ratio=%.3f balloon_ratio=%.3f virtiomem_ratio=%.3f "
          "ha_ratio_all=%.3f balloon_ratio_all=%.3f virtiomem_ratio_all=%.3f"
          % (NAME, res["hyperalloc"]["mid"], res["balloon"]["mid"],
             res["virtiomem"]["mid"], res["hyperalloc"]["all"],
             res["balloon"]["all"], res["virtiomem"]["all"]))


if __name__ == "__main__":
    main()
