#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/inflate: how fast a real guest gives memory to the host and gets
it back, through the HyperAlloc device (our guest kernel) and through
virtio-balloon and virtio-mem (Debian's stock kernel), one guest size,
side by side in one run on this machine (the paper's section 5.2).

The guests (bench/_vm.py) have --memory-mib of RAM each, MTTCG with two
vCPUs, on the patched QEMU: the HyperAlloc guest boots our kernel, the
stock ones Debian's with the same initramfs; the virtio-mem guest has
256 MiB of boot RAM and the rest on the device. The guest side of every
step is guestmod/workloads/ha-membench.

Per mechanism, on fresh guests:
  shrink touched    the guest first writes 85 % of its memory and frees
                    it again (a guest that ran something), then the host
                    asks for --gib less
  shrink untouched  the same request right after boot
  grow              the request for the full size again (after the
                    touched shrink)
  install           the guest writes the same 85 % again after the grow
                    (ha-membench touch): the HyperAlloc guest installs the
                    frames the host took, the stock guests fault the
                    pages in again; the first touch after boot (memory
                    the host never had) is printed beside it

Shrink time is from the request (QMP: hyperalloc-set-target, balloon,
qom-set requested-size) until the device reported the target reached
and 95 % of what was released is gone from the host (sampled every
millisecond); for an untouched guest nothing was resident, and the time
is the request to the target reached. Grow time is the request to the
target reached (the event of each device: HYPERALLOC_TARGET_REACHED,
BALLOON_CHANGE, MEMORY_DEVICE_SIZE_CHANGE, stamped by QEMU). GiB/s is
--gib over the time.

--backing anon (default) gives the guests QEMU's private RAM, for which
QEMU asks for transparent huge pages (host memory is RssAnon); memfd
gives them shared memfd RAM on 4 KiB pages (host memory is the memfd's
st_blocks); both runs both.

TCG makes everything the guest does slower (the balloon's page lists,
virtio-mem's unplug, the install loop); what the host does (discarding
memory) runs at native speed, which favours HyperAlloc, whose reclaim is
host-only.

Summary (touched shrink, first backing run):
  inflate: ha_reclaim_gibps=... balloon_reclaim_gibps=...
    virtiomem_reclaim_gibps=... vs_balloon=... vs_virtiomem=...
    ha_return_gibps=... ha_install_gibps=... ...
"""

import argparse
import subprocess
import time

import _benchutil as bu
import _vm
from _benchutil import BenchError

NAME = "inflate"
SETTLE_S = 1.0  # no change of host memory for this long: done


def shrink(g, small, touched):
    """(seconds, bytes released on the host) for one shrink."""
    s = g.sampler()
    s.start()
    try:
        t0, t_reached = g.resize(small)
        # The host side settles: no change for SETTLE_S.
        while time.time() - max(s.last_change(), t_reached) < SETTLE_S:
            time.sleep(0.05)
    finally:
        s.stop()
    res0, res1 = s.samples[0][1], s.samples[-1][1]
    released = res0 - res1
    t_gone = t0
    if touched:
        if released < 0.5 * (g.mib * bu.MIB - small):
            raise BenchError("%s released only %d MiB on the host"
                             % (g.mech, released >> 20))
        t_gone = next(t for t, v in s.samples
                      if res0 - v >= 0.95 * released)
    return max(t_reached, t_gone) - t0, released


def installs(g):
    """Bytes the HyperAlloc device installed so far (0 for the others)."""
    if g.mech != "hyperalloc":
        return 0
    return g.vm.qmp("query-hyperalloc")["installs"] * 2 * bu.MIB


def run_mech(mech, p, args, backing, i):
    """One mechanism, both shrinks, grow and install: a dict."""
    mib = args.memory_mib
    small = (mib - int(args.gib * 1024)) * bu.MIB
    r = {}
    g = _vm.Guest(mech, p, mib, backing, "inflate-u%d" % i).start()
    try:
        t, _ = shrink(g, small, touched=False)
        r["untouched_s"] = t
    finally:
        g.stop()
    g = _vm.Guest(mech, p, mib, backing, "inflate-t%d" % i).start()
    try:
        fill = mib * 85 // 100
        r["first_gibps"] = g.touch(fill)
        t, released = shrink(g, small, touched=True)
        r["touched_s"], r["released"] = t, released
        t0, t1 = g.resize(mib * bu.MIB)
        r["grow_s"] = t1 - t0
        inst0 = installs(g)
        r["install_gibps"] = g.touch(fill)
        r["installed"] = installs(g) - inst0
    finally:
        g.stop()
    print("run %d %s %s: shrink touched %.1f ms (%d MiB released), "
          "untouched %.1f ms, grow %.1f ms, first touch %.2f GiB/s, "
          "touch after grow %.2f GiB/s%s"
          % (i + 1, backing, mech, r["touched_s"] * 1e3,
             r["released"] >> 20, r["untouched_s"] * 1e3, r["grow_s"] * 1e3,
             r["first_gibps"], r["install_gibps"],
             " (%d MiB installed)" % (r["installed"] >> 20)
             if mech == "hyperalloc" else ""), flush=True)
    return r


MECHS = ("hyperalloc", "balloon", "virtiomem")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--gib", type=float, default=1.0,
                    help="how much to shrink by (default 1)")
    ap.add_argument("--memory-mib", type=int, default=2048,
                    help="size of each guest (default 2048)")
    ap.add_argument("--backing", choices=("anon", "memfd", "both"),
                    default="both")
    args = ap.parse_args()
    if args.memory_mib - args.gib * 1024 < _vm.BASE_MIB + 256 or args.runs < 1 \
            or args.gib * 1024 > args.memory_mib * 6 // 10:
        bu.fail(NAME, "--gib must stay within 60 %% of --memory-mib and "
                "leave %d MiB; --runs >= 1" % (_vm.BASE_MIB + 256))
    backings = ("anon", "memfd") if args.backing == "both" else \
        (args.backing,)
    bu.trap_signals()
    res = {}
    try:
        p = _vm.paths()
        print("guests: %d MiB, TCG -smp 2, shrinking by %g GiB; %d run(s)"
              % (args.memory_mib, args.gib, args.runs), flush=True)
        for b in backings:
            for m in MECHS:
                runs = [run_mech(m, p, args, b, i) for i in range(args.runs)]
                res[b, m] = {k: bu.median([r[k] for r in runs])
                             for k in runs[0]}
    except (BenchError, OSError, subprocess.CalledProcessError,
            AssertionError) as e:
        bu.fail(NAME, str(e))
    gib = args.gib
    print("| backing | mechanism | shrink touched ms | GiB/s | shrink "
          "untouched ms | GiB/s | grow ms | GiB/s | install GiB/s | "
          "first touch GiB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b in backings:
        for m in MECHS:
            r = res[b, m]
            print("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | "
                  "%.2f | %.2f |" % (b, m, r["touched_s"] * 1e3,
                                     gib / r["touched_s"],
                                     r["untouched_s"] * 1e3,
                                     gib / r["untouched_s"],
                                     r["grow_s"] * 1e3, gib / r["grow_s"],
                                     r["install_gibps"], r["first_gibps"]))
    b = backings[0]
    ha, bal, vm = (res[b, m] for m in MECHS)
    line = ("%s: ha_reclaim_gibps=%.1f balloon_reclaim_gibps=%.2f "
            "virtiomem_reclaim_gibps=%.2f vs_balloon=%.1f vs_virtiomem=%.1f "
            "ha_return_gibps=%.1f ha_install_gibps=%.2f "
            "ha_untouched_gibps=%.1f balloon_install_gibps=%.2f "
            "virtiomem_install_gibps=%.2f backing=%s gib=%g"
            % (NAME, gib / ha["touched_s"], gib / bal["touched_s"],
               gib / vm["touched_s"], bal["touched_s"] / ha["touched_s"],
               vm["touched_s"] / ha["touched_s"], gib / ha["grow_s"],
               ha["install_gibps"], gib / ha["untouched_s"],
               bal["install_gibps"], vm["install_gibps"], b, gib))
    if len(backings) > 1:
        b2 = backings[1]
        ha2, bal2, vm2 = (res[b2, m] for m in MECHS)
        line += (" %s_ha_reclaim_gibps=%.1f %s_vs_balloon=%.1f "
                 "%s_vs_virtiomem=%.1f"
                 % (b2, gib / ha2["touched_s"], b2,
                    bal2["touched_s"] / ha2["touched_s"], b2,
                    vm2["touched_s"] / ha2["touched_s"]))
    print(line)


if __name__ == "__main__":
    main()
