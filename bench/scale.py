#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/scale: hyperallocd's memory and policy-tick time with 1,000 small
simulated VMs.

A thousand real ha-simguest processes do not fit on a 2-core machine next
to the daemon being measured (the --real probe at the end measures what
one costs and extrapolates). The VMs come from bench/scale_guest instead:
one connection to the sim socket per VM, each with its own 32 MiB memfd
holding freshly initialised allocator metadata (the layout ha-simguest
uses), HELLO with that memfd, then silence. The daemon sees exactly what
it sees with idle real guests (minus their STATUS messages), and keeps a
registry entry, a connection, a mapping and host state per VM.

The VMs are added in --steps equal steps; at every step (and at 0 VMs):
  - the daemon's VmRSS (and its anon/shmem parts) from /proc/PID/status,
    before and after it renders GET /vms and GET /metrics (the summary's
    rss_mib is the latter: what a daemon that is being watched holds);
  - the policy tick's CPU time: the daemon's utime + stime (from
    /proc/PID/stat; the kernel scales their sum to the scheduler's exact
    runtime, in 1/CLK_TCK steps) over --cpu-seconds with the engine's
    shortest tick (100 ms), divided by the ticks in that window, less the
    same figure with no VM. With idle guests the tick is all the daemon
    does, so this is the tick's cost (tick_ms);
  - the tick's wall time as the loop sees it: PUT /policy runs a tick
    synchronously on the daemon's loop (engine_policy_set), so its
    latency minus the same request's latency with no VM is one tick
    (median of --samples; tick_wall_ms, noisier);
  - the latency (and size) of GET /vms and GET /metrics, which render
    every VM on the loop.

Goal (issue 3): < 32 MiB RSS and < 10 ms per tick with 1,000 VMs. Printed,
never asserted. Summary:
  scale: vms=... rss_mib=... tick_ms=... tick_wall_ms=... get_vms_ms=...
"""

import argparse
import os
import resource
import subprocess
import time

import _benchutil as bu
from _benchutil import BenchError, harness

NAME = "scale"
SCALE_GUEST = os.path.join(harness.BUILD, "bench", "scale_guest")
TICK_MS = 100  # the engine's minimum: most ticks per CPU sample


def parse_args():
    ap = argparse.ArgumentParser(
        description="Daemon RSS and policy-tick time with many small "
        "simulated VMs (bench/scale_guest).")
    ap.add_argument("--vms", type=int, default=1000,
                    help="VMs at the end (default 1000)")
    ap.add_argument("--steps", type=int, default=4,
                    help="added in this many equal steps (default 4)")
    ap.add_argument("--memory", default="32M",
                    help="RAM of each VM (default 32M, the smallest)")
    ap.add_argument("--policy", default="static",
                    help="policy the daemon runs (default static)")
    ap.add_argument("--samples", type=int, default=21,
                    help="requests per latency figure (default 21)")
    ap.add_argument("--cpu-seconds", type=float, default=10.0,
                    help="CPU sampling window (default 10)")
    ap.add_argument("--real", type=int, default=20,
                    help="real ha-simguest processes started at the end "
                    "to measure what one costs (default 20, 0: skip)")
    a = ap.parse_args()
    if a.vms < 1 or a.steps < 1 or a.vms % a.steps or a.samples < 1 or \
            a.cpu_seconds < 1 or a.real < 0:
        ap.error("need --vms a multiple of --steps, --samples >= 1, "
                 "--cpu-seconds >= 1, --real >= 0")
    return a


def timed_ms(fn):
    t0 = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t0) * 1e3, r


def latency(d, fn, n):
    """Median latency in ms of @n calls of fn(), and the last answer."""
    times = []
    r = None
    for _ in range(n):
        ms, r = timed_ms(fn)
        if r.status != 200:
            raise BenchError("unexpected answer %r" % r)
        times.append(ms)
        time.sleep(0.01)
    return bu.median(times), r


def put_policy(d):
    return d.put("/policy", {"tick_ms": TICK_MS})


def cpu_per_tick_ms(d, seconds):
    """The daemon's CPU time per tick interval, in ms."""
    pid = d.proc.pid
    time.sleep(0.5)
    c0, t0 = bu.proc_cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = bu.proc_cpu_seconds(pid), time.monotonic()
    ticks = (t1 - t0) * 1e3 / TICK_MS
    return (c1 - c0) * 1e3 / ticks


def point(d, a, nvms, base):
    cpu = cpu_per_tick_ms(d, a.cpu_seconds)
    st = bu.proc_status(d.proc.pid)
    put_ms, _ = latency(d, lambda: put_policy(d), a.samples)
    vms_ms, vms = latency(d, lambda: d.get("/vms"), max(5, a.samples // 4))
    met_ms, met = latency(d, lambda: d.get("/metrics"),
                          max(5, a.samples // 4))
    after = bu.proc_status(d.proc.pid)
    got = len(vms.json()["vms"])
    if got != nvms:
        raise BenchError("GET /vms lists %d VMs, expected %d" % (got, nvms))
    return {
        "vms": nvms,
        "cpu_ms": cpu,
        "tick_ms": max(cpu - (base["cpu_ms"] if base else cpu), 0),
        "rss_kib": st["VmRSS"],
        "rss_after_kib": after["VmRSS"],
        "anon_kib": st.get("RssAnon", 0),
        "shmem_kib": st.get("RssShmem", 0),
        "file_kib": st.get("RssFile", 0),
        "threads": st.get("Threads", "?"),
        "put_ms": put_ms,
        "wall_ms": max(put_ms - (base["put_ms"] if base else put_ms), 0),
        "vms_ms": vms_ms,
        "vms_kib": len(vms.body) / 1024,
        "metrics_ms": met_ms,
        "metrics_kib": len(met.body) / 1024,
    }


def print_point(p, base):
    per_vm = ((p["rss_kib"] - base["rss_kib"]) / p["vms"]) if p["vms"] else 0
    print("%5d  %7.1f  %9.1f  %8.1f  %9.1f  %10.2f  %6.2f  %7.2f  %6.2f  "
          "%12.2f  %6.2f  %7.0f  %10.2f  %7.0f"
          % (p["vms"], p["rss_kib"] / 1024, p["rss_after_kib"] / 1024,
             p["anon_kib"] / 1024,
             p["shmem_kib"] / 1024, per_vm, p["cpu_ms"], p["tick_ms"],
             p["put_ms"], p["wall_ms"], p["vms_ms"], p["vms_kib"],
             p["metrics_ms"], p["metrics_kib"]))


def fd_limit_for(n):
    """Each sim VM costs the daemon two descriptors (its connection and
    its memfd). Raise our soft limit (the daemon inherits it) if needed;
    the daemon does not raise its own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + 256
    if soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        raise BenchError("%d VMs need %d open files; the hard limit is %d"
                         % (n, need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    print("setup: raised RLIMIT_NOFILE from %d to %d for the daemon "
          "(2 descriptors per sim VM)" % (soft, need))
    return need


def start_scale_guest(d, a, count, prefix):
    p = subprocess.Popen([SCALE_GUEST, "--socket", d.sim_sock, "--count",
                          str(count), "--prefix", prefix, "--memory",
                          a.memory], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if p.poll() is not None or not line:
        p.wait()
        raise BenchError("scale_guest exited %s before registering its "
                         "guests; daemon log:\n%s"
                         % (p.returncode, d.read_log()[-2000:]))
    print("step: " + line)
    return p


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return [p.returncode for p in procs]


def real_probe(d, a, have):
    """What one real, idle ha-simguest of --memory costs."""
    guests = []
    try:
        for i in range(a.real):
            guests.append(harness.SimGuest(d, "real-%02d" % i,
                                           memory=a.memory, trace="idle",
                                           vcpus=1))
        harness.wait_for(lambda: len(d.vms()) == have + a.real, timeout=60,
                         what="the real guests to register")
        time.sleep(1)
        pids = [g.proc.pid for g in guests]
        c0 = sum(bu.proc_cpu_seconds(p) for p in pids)
        d0, t0 = bu.proc_cpu_seconds(d.proc.pid), time.monotonic()
        time.sleep(5)
        c1 = sum(bu.proc_cpu_seconds(p) for p in pids)
        d1, t1 = bu.proc_cpu_seconds(d.proc.pid), time.monotonic()
        rss = sum(bu.proc_status(p)["VmRSS"] for p in pids) / len(pids)
        threads = len(os.listdir("/proc/%d/task" % pids[0]))
        cpu = (c1 - c0) / (t1 - t0) / len(pids)
        print("real: %d ha-simguest --memory %s --trace idle --vcpus 1: "
              "%.2f%% of a core and %.1f MiB RSS each (%d threads); daemon "
              "%.1f%% of a core meanwhile"
              % (a.real, a.memory, 100 * cpu, rss / 1024, threads,
                 100 * (d1 - d0) / (t1 - t0)))
        print("real: %d of them would need %.1f cores and %.1f GiB: "
              "hence bench/scale_guest" % (a.vms, a.vms * cpu,
                                           a.vms * rss / 1024 / 1024))
    finally:
        bad = [(g.name, g.stop()) for g in guests]
    bad = ["%s exited %s" % b for b in bad if b[1] != 0]
    if bad:
        raise BenchError("; ".join(bad))


def bench(a):
    bu.require_built(harness.HYPERALLOCD, harness.SIMGUEST, SCALE_GUEST)
    step = a.vms // a.steps
    limit = fd_limit_for(a.vms + a.real)
    d = harness.Daemon(extra={"log_level": "info"},
                       policy={"name": a.policy, "tick_ms": 1000,
                               "host_reserve": "256M"})
    procs = []
    try:
        d.start()
        r = put_policy(d)
        if r.status != 200:
            raise BenchError("PUT /policy: %r" % r)
        print("setup: hyperallocd pid %d, policy %s, tick %d ms, log level "
              "info, open-file limit %d; VMs of %s from bench/scale_guest "
              "in %d steps of %d; %d samples per latency; load average %.2f"
              % (d.proc.pid, a.policy, TICK_MS, limit, a.memory, a.steps,
                 step, a.samples, os.getloadavg()[0]))

        print("  vms  rss_mib  rss_after  anon_mib  shmem_mib  kib_per_vm  "
              "cpu_ms  "
              "tick_ms  put_ms  tick_wall_ms  vms_ms  vms_kib  metrics_ms  "
              "met_kib")
        base = point(d, a, 0, None)
        print_point(base, base)
        last = base
        for i in range(a.steps):
            procs.append(start_scale_guest(d, a, step, "scale-s%d" % i))
            harness.wait_for(lambda: len(d.vms()) == (i + 1) * step,
                             timeout=60, what="the VMs to show in /vms")
            last = point(d, a, (i + 1) * step, base)
            print_point(last, base)
        print("(rss: VmRSS before this step's API requests; rss_after: "
              "after rendering GET /vms and GET /metrics, whose buffers the "
              "allocator keeps; kib_per_vm from rss)")
        print("(cpu_ms: daemon CPU per %d ms tick interval; tick_ms: the "
              "same less the figure with no VM; put_ms: PUT /policy, which "
              "runs one tick; tick_wall_ms: put_ms less the figure with no "
              "VM; vms/metrics: GET latency in ms and body size in KiB)"
              % TICK_MS)
        print("tick: %.2f ms CPU (%.2f us per VM), %.2f ms wall (%.2f us "
              "per VM) with %d VMs"
              % (last["tick_ms"], last["tick_ms"] * 1e3 / a.vms,
                 last["wall_ms"], last["wall_ms"] * 1e3 / a.vms, a.vms))
        rss_mib = last["rss_after_kib"] / 1024
        print("rss: %.1f MiB with %d VMs (%.1f MiB after serving GET /vms "
              "and /metrics), %.1f MiB with none: %.2f KiB per VM, of which "
              "%.2f KiB shmem (guest metadata pages the daemon maps and "
              "reads)"
              % (last["rss_kib"] / 1024, a.vms, rss_mib,
                 base["rss_kib"] / 1024,
                 (last["rss_kib"] - base["rss_kib"]) / a.vms,
                 (last["shmem_kib"] - base["shmem_kib"]) / a.vms))
        print("rss: with %d VMs VmRSS = %.1f MiB file-backed (the daemon's "
              "and its shared libraries' code, %s threads) + %.1f MiB anon "
              "+ %.1f MiB shmem"
              % (a.vms, last["file_kib"] / 1024, last["threads"],
                 last["anon_kib"] / 1024, last["shmem_kib"] / 1024))
        print("goal: < 32 MiB RSS and < 10 ms per tick with 1000 VMs")
        if a.real:
            real_probe(d, a, a.vms)
    finally:
        rcs = stop(procs)
        d.cleanup(check=False)
    if any(rc != 0 for rc in rcs):
        raise BenchError("scale_guest exited %s" % rcs)
    print("%s: vms=%d rss_mib=%s tick_ms=%s tick_wall_ms=%s get_vms_ms=%s"
          % (NAME, a.vms, bu.fmt(rss_mib, 1), bu.fmt(last["tick_ms"], 2),
             bu.fmt(last["wall_ms"], 2), bu.fmt(last["vms_ms"], 2)))


def main():
    a = parse_args()
    bu.trap_signals()
    try:
        bench(a)
    except BenchError as e:
        bu.fail(NAME, str(e))
    except KeyboardInterrupt:
        bu.fail(NAME, "interrupted")


if __name__ == "__main__":
    main()
