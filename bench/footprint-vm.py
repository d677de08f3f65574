#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/footprint-vm: the memory a real guest costs its host over the
clang-build trace, per way of giving free memory back, side by side in
one run (the paper's sections 5.5 and 5.6, on real VMs; bench/footprint
is the same question on simulated guests).

Each mode boots a fresh guest (bench/_vm.py: --memory-mib of shared memfd
RAM, MTTCG, two vCPUs) that replays tools/traces/clang-build.trace with
ha-replay (guestmod/workloads/) holding up to --replay-mib, paced by work
(-w: the trace advances by work done, as a build does, so memory that is
slow to get back makes the run longer):

  none        Debian's kernel, no device: nothing is given back
  fpr         Debian's kernel, virtio-balloon with free page reporting at
              the paper's settings (order 9; 2 s delay and capacity 32
              are the kernel's own): THE BASELINE of the ratios
  virtiomem   Debian's kernel, virtio-mem resized by this script with the
              paper's rule, once a second, on the guest's free huge pages
              (/proc/buddyinfo, read on a second serial console): step
              1/32 of the VM's size; 2 steps more below half a step free,
              1 step more below one step, 1 step less above two steps
              (VirtioMemRule)
  ha-none     our kernel with the HyperAlloc device, nothing reclaimed:
              what the HyperAlloc modes' completion compares with (the
              stock kernel's runs differ in more than the mechanism)
  ha-auto     our kernel, the HyperAlloc device's automatic reclaim every
              --auto-ms (default 5000, the paper's)
  ha-auto-1s  the same every second

and the daemon's policies steering the same HyperAlloc guest: the guest
runs as a domain of a private libvirtd (bench/_lvvm.py), which
hyperallocd (build/daemon/hyperallocd) follows, ticking every --tick-ms
(default 1000, the daemon's own default); the policy is set through
PUT /policy when the replay starts, with the parameters bench/footprint
runs them with on simulated guests of the same size (logical size left
at max, soft reclaim on):

  ha-auto-reclaim  auto-reclaim, every tick (interval_ms 0)
  ha-working-set   working-set: the used memory's estimate plus 30 %
                   headroom (at least 256 MiB) stays installed, every
                   tick
  ha-pressure      pressure: Senpai's loop with the guest's installs as
                   the stall (install_target 150/s), every tick

(shares and static are left out: shares gives a single VM the host's
budget, 80 % of 23 GiB, so it is auto-reclaim; static is none.)

Footprint = the sum of st_blocks of the QEMU's guest-RAM memfds, sampled
every 250 ms and integrated over the replay (from its start line to its
verdict on the console): average and peak. Completion = the replay's own
seconds (guest clock); slowdown = completion over fpr's, and for the
HyperAlloc modes also over ha-none's (the same kernel). Every replay
must pass (all canaries intact).

Multi-VM (unless --no-multi): three guests of one mode on this host, the
second and third started a third and two thirds of a single replay's
time after the first; the host's memory is the sum of their footprints
from the first replay's start to the last one's end: peak and average
for none, fpr, ha-none and ha-auto (the paper: 40.7 / 36.0 / 28.1 GiB
peak for none, fpr and HyperAlloc).
The guests then share the machine's two cores, so their replays take
longer than alone. --multi-only SECONDS runs only that, for the --modes
among those four, every mode staggered by a third of SECONDS (a single
replay's time from an earlier run).

TCG runs the guest's work and its kernel much slower than hardware, and
the trace runs --scale times faster than the build it was taken from,
while free page reporting's 2 s delay and the device's interval are in
real time: per trace second both reclaim less often than in the paper.

Summary:
  footprint_vm: ha_vs_fpr=... best_policy=... best_vs_fpr=...
    best_slowdown=... virtiomem_vs_fpr=... multivm_peak_vs_fpr=...
    daemon_rank=...
(daemon_rank: the daemon's modes that ran, lowest average footprint
first; `make bench B=footprint BENCH_ARGS=--like-vm` ranks the same
policies on simulated guests set up like these.)
"""

import argparse
import subprocess
import threading
import time

import _benchutil as bu
import _lvvm
import _vm
from _benchutil import BenchError

NAME = "footprint-vm"
TRACE = "/traces/clang-build.trace"

MODES = {
    # name: (mechanism, Guest options, auto interval ms or None)
    "none": ("none", {}, None),
    "fpr": ("balloon", {"fpr": True}, None),
    "virtiomem": ("virtiomem", {"agent": True}, None),
    "ha-none": ("hyperalloc", {}, None),
    "ha-auto": ("hyperalloc", {}, "auto"),
    "ha-auto-1s": ("hyperalloc", {}, 1000),
}
GIB2 = 2 << 30  # the guest size the parameters are for (as bench/footprint)
# name: (policy, parameters); the guest is an _lvvm.LvGuest.
DAEMON_MODES = {
    "ha-auto-reclaim": ("auto-reclaim", {"interval_ms": 0}),
    "ha-working-set": ("working-set", {
        "resize": False, "auto_reclaim": True, "interval_ms": 0,
        "headroom": 0.3, "headroom_min": GIB2 // 8}),
    "ha-pressure": ("pressure", {
        "resize": False, "auto_reclaim": True, "interval_ms": 0,
        "install_target": 150}),
}
ALL_MODES = list(MODES) + list(DAEMON_MODES)
HA_MODES = ("ha-auto", "ha-auto-1s") + tuple(DAEMON_MODES)
MULTI_MODES = ("none", "fpr", "ha-none", "ha-auto")


class VirtioMemRule:
    """The paper's virtio-mem resize rule (its scripts/vm_resize.py),
    applied to one guest every @period s in a thread. It is driven by the
    guest's free huge pages (whole free 2 MiB blocks, the unit virtio-mem
    plugs and unplugs), read fresh on the guest's second console: step
    1/32 of the VM's maximum size; 2 steps more below half a step free,
    1 step more below one step, 1 step less above two steps.

    Steps count from what the device has plugged (its "size"), not from
    the last request, and a shrink waits until the device has carried out
    the change before: a guest slow to unplug is not asked for ever less
    while its free memory still counts what it has not yet given up."""

    def __init__(self, g, period=1.0):
        self.g = g
        self.period = period
        self.max = g.device_mib * bu.MIB
        self.step = g.mib // 32 * bu.MIB
        self.requested = self.max
        self.resizes = 0
        self.grows = 0
        self.min_free = None
        self._stop = threading.Event()

    def start(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def decide(self, free, plugged):
        """The request for @free bytes in free huge pages and @plugged
        bytes plugged (pure)."""
        if free < self.step // 2:
            want = max(plugged, self.requested) + 2 * self.step
        elif free < self.step:
            want = max(plugged, self.requested) + self.step
        elif free > 2 * self.step and plugged == self.requested:
            want = plugged - self.step
        else:
            want = self.requested
        return min(max(want, 0), self.max)

    def _run(self):
        vm = self.g.vm
        while not self._stop.wait(self.period):
            try:
                free = self.g.guest_free_huge()
                plugged = vm.qmp("qom-get", path="vm0", property="size")
            except (AssertionError, OSError):
                return  # the guest is gone
            if self.min_free is None or free < self.min_free:
                self.min_free = free
            want = self.decide(free, plugged)
            if want == self.requested:
                continue
            self.grows += want > self.requested
            self.requested = want
            self.resizes += 1
            try:
                vm.qmp("qom-set", path="vm0", property="requested-size",
                       value=want)
            except (AssertionError, OSError):
                return

    def stop(self):
        self._stop.set()
        self._t.join()


def boot(mode, p, args, tag, host=None):
    """A guest of @mode, ready for the replay; a daemon mode's guest is
    a domain of @host."""
    if mode in DAEMON_MODES:
        return _lvvm.LvGuest(host, p, args.memory_mib, tag).start()
    mech, opts, auto = MODES[mode]
    g = _vm.Guest(mech, p, args.memory_mib, "memfd", tag, **opts).start()
    if auto:
        ms = args.auto_ms if auto == "auto" else auto
        g.vm.qmp("hyperalloc-set-auto", enabled=True, interval_ms=ms)
    return g


def steer(mode, host):
    """Hand a daemon mode's guest to its policy (the replay starts)."""
    if mode in DAEMON_MODES:
        host.set_policy(*DAEMON_MODES[mode])


def replay_cmd(args):
    return ("ha-replay -m %d -x %g -w %g -r 30 %s"
            % (args.replay_mib, args.scale, args.mrounds, TRACE))


def start_replay(g, args):
    since = len(g.vm.console)
    g.vm.type(replay_cmd(args))
    g.vm.wait_console(r"ha-replay: start ", 120, since)
    return since, time.time()


def end_replay(g, since):
    _, m = g.vm.wait_console(r"ha-replay: verdict=\S+.*", _vm.WORK_S * 3,
                             since)
    t = time.time()
    v = dict(w.split("=", 1) for w in m.group(0).split() if "=" in w)
    if v["verdict"] != "pass" or v["map_failures"] != "0":
        raise BenchError("%s: %s" % (g.vm.name, m.group(0)))
    return t, v


def run_single(mode, p, args):
    host = None
    if mode in DAEMON_MODES:
        host = _lvvm.DaemonHost(args.tick_ms).start()
    rule = g = None
    try:
        g = boot(mode, p, args, "fpvm-" + mode, host)
        s = g.sampler(period=0.25, every=True).start()
        if mode == "virtiomem":
            rule = VirtioMemRule(g).start()
        steer(mode, host)
        since, t0 = start_replay(g, args)
        t1, v = end_replay(g, since)
        s.stop()
        avg, peak = s.window(t0, t1)
        extra = ""
        if g.mech == "hyperalloc":
            q = g.vm.qmp("query-hyperalloc")
            extra = " installs=%d" % q["installs"]
        if rule:
            extra = (" resizes=%d grows=%d least_free_huge=%d MiB"
                     % (rule.resizes, rule.grows, rule.min_free >> 20))
    finally:
        if rule:
            rule.stop()
        if g:
            g.stop()
        if host:
            host.stop()
    r = dict(avg=avg, peak=peak, seconds=float(v["seconds"]),
             guest_peak=int(v["peak_mib"]) * bu.MIB)
    print("%-11s avg %6.0f MiB  peak %6.0f MiB  completion %6.1f s  "
          "(replay peak %d MiB%s)" % (mode, avg / bu.MIB, peak / bu.MIB,
                                      r["seconds"], r["guest_peak"] >> 20,
                                      extra), flush=True)
    return r


def run_multi(mode, p, args, alone_s):
    """Three guests of @mode, staggered by a third of @alone_s: host
    (peak, average) bytes over the whole window."""
    gs, samplers, starts = [], [], []
    try:
        for i in range(3):
            g = boot(mode, p, args, "fpvm-multi-%s-%d" % (mode, i))
            gs.append(g)
            samplers.append(g.sampler(period=0.25, every=True).start())
        t_first = None
        for i, g in enumerate(gs):
            if i:
                wait = t_first + i * alone_s / 3 - time.time()
                if wait > 0:
                    time.sleep(wait)
            since, t0 = start_replay(g, args)
            t_first = t_first or t0
            starts.append(since)
        done = [end_replay(g, since) for g, since in zip(gs, starts)]
        for s in samplers:
            s.stop()
    finally:
        for g in gs:
            g.stop()
    t1 = max(t for t, _ in done)
    # The host's sum over time: every sampler's steps, summed on a grid.
    step = 0.25
    n = int((t1 - t_first) / step) + 1
    total = [0] * n
    for s in samplers:
        k = 0
        for j in range(n):
            t = t_first + j * step
            while k + 1 < len(s.samples) and s.samples[k + 1][0] <= t:
                k += 1
            total[j] += s.samples[k][1] if s.samples[k][0] <= t else 0
    peak, avg = max(total), sum(total) / len(total)
    print("multi %-9s host peak %6.0f MiB  avg %6.0f MiB  over %.0f s "
          "(replays %s s)" % (mode, peak / bu.MIB, avg / bu.MIB,
                              t1 - t_first, " / ".join(
                                  v["seconds"] for _, v in done)),
          flush=True)
    return peak, avg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory-mib", type=int, default=2048)
    ap.add_argument("--replay-mib", type=int, default=1280,
                    help="ha-replay -m: the trace's 100 %% (default 1280)")
    ap.add_argument("--scale", type=float, default=60,
                    help="trace seconds per step of 1/50 s (ha-replay -x)")
    ap.add_argument("--mrounds", type=float, default=0.15,
                    help="ha-replay -w: work per trace second")
    ap.add_argument("--auto-ms", type=int, default=5000)
    ap.add_argument("--tick-ms", type=int, default=1000,
                    help="the daemon's tick in its modes (default 1000)")
    ap.add_argument("--modes", default=",".join(ALL_MODES))
    ap.add_argument("--no-multi", action="store_true")
    ap.add_argument("--multi-only", type=float, metavar="SECONDS",
                    help="no single runs; the multi-VM guests staggered "
                    "by a third of SECONDS")
    args = ap.parse_args()
    modes = args.modes.split(",")
    for m in modes:
        if m not in ALL_MODES:
            bu.fail(NAME, "unknown mode %r: one of %s"
                    % (m, ", ".join(ALL_MODES)))
    if "fpr" not in modes:
        print("no fpr in --modes: no ratios (they are to fpr)", flush=True)
    bu.trap_signals()
    res, multi, failed = {}, {}, {}
    try:
        p = _vm.paths()
        print("guests: %d MiB memfd, TCG -smp 2; %s" % (args.memory_mib,
                                                         replay_cmd(args)),
              flush=True)
        for m in modes:
            if args.multi_only:
                break
            try:
                res[m] = run_single(m, p, args)
            except (BenchError, AssertionError) as e:
                # A mode whose guest cannot finish the trace (out of
                # memory) is reported as failed; the baseline must run
                # when it is asked for.
                if m == "fpr":
                    raise
                # The reason and, after a fatal line, that line.
                failed[m] = " ".join(str(e).splitlines()[:2])[:300]
                print("%-11s FAILED: %s" % (m, failed[m]), flush=True)
        if args.multi_only:
            for m in MULTI_MODES:
                if m in modes:
                    multi[m] = run_multi(m, p, args, args.multi_only)
        elif not args.no_multi:
            for m in MULTI_MODES:
                if m in res:
                    multi[m] = run_multi(m, p, args, res[m]["seconds"])
    except (BenchError, OSError, subprocess.CalledProcessError,
            AssertionError) as e:
        bu.fail(NAME, str(e))
    fpr = res.get("fpr")

    def ratio(m, key="avg"):
        """@m's @key over fpr's: text, "-" without either."""
        if m not in res or not fpr:
            return "-"
        return "%.3f" % (res[m][key] / fpr[key])
    def vs_ha_none(m):
        """@m's completion over ha-none's, for our kernel's modes."""
        if m not in HA_MODES or "ha-none" not in res:
            return "-"
        return "%.3f" % (res[m]["seconds"] / res["ha-none"]["seconds"])
    print("| mode | avg MiB | peak MiB | avg/fpr | completion s | slowdown "
          "| completion/ha-none |")
    print("|---|---|---|---|---|---|---|")
    for m in failed:
        print("| %s | failed: %s | | | | | |" % (m, failed[m]))
    for m in res:
        r = res[m]
        print("| %s | %.0f | %.0f | %s | %.1f | %s | %s |"
              % (m, r["avg"] / bu.MIB, r["peak"] / bu.MIB, ratio(m),
                 r["seconds"], ratio(m, "seconds"), vs_ha_none(m)))
    if multi:
        print("| multi-VM mode | host peak MiB | host avg MiB | peak/fpr |")
        print("|---|---|---|---|")
        for m, (pk, avg) in multi.items():
            print("| %s | %.0f | %.0f | %s |"
                  % (m, pk / bu.MIB, avg / bu.MIB,
                     "%.3f" % (pk / multi["fpr"][0]) if "fpr" in multi
                     else "-"))
    ha = [m for m in res if m in HA_MODES]
    ok = [m for m in ha
          if fpr and res[m]["seconds"] <= 1.01 * fpr["seconds"]]
    best = min(ok or ha, key=lambda m: res[m]["avg"]) if ha else None
    # The daemon's policies, lowest average first: what bench/footprint
    # --like-vm ranks on simulated guests (its rank=).
    rank = "<".join(sorted((m for m in res if m in DAEMON_MODES),
                           key=lambda m: res[m]["avg"])) or "-"
    print("%s: ha_vs_fpr=%s best_policy=%s best_vs_fpr=%s best_slowdown=%s "
          "virtiomem_vs_fpr=%s none_vs_fpr=%s multivm_peak_vs_fpr=%s "
          "multivm_avg_vs_fpr=%s daemon_rank=%s"
          % (NAME.replace("-", "_"), ratio("ha-auto"), best or "-",
             ratio(best) if best else "-",
             ratio(best, "seconds") if best else "-", ratio("virtiomem"),
             ratio("none"),
             "%.3f" % (multi["ha-auto"][0] / multi["fpr"][0])
             if {"ha-auto", "fpr"} <= set(multi) else "-",
             "%.3f" % (multi["ha-auto"][1] / multi["fpr"][1])
             if {"ha-auto", "fpr"} <= set(multi) else "-", rank))


if __name__ == "__main__":
    main()
