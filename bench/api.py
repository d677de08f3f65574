#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/api: throughput and tail latency of GET /vms/{id}/memory, and
of changes (PATCH) flooding it.

A real hyperallocd (own config, runtime directory and ports, as the
integration tests start it) with a few simulated guests; wrk (Debian's,
installed by tools/install-deps.sh) hammers GET /vms/{id}/memory over
loopback TCP for --seconds, --runs times, with --latency. Requests/sec and
the 99th percentile of each run are printed; the summary gives the medians.
Each run is followed by the same load on GET /healthz, the cheapest route
(no VM, a constant body): the ratio says what the memory resource costs on
top of the HTTP plumbing, and the healthz tail shows the machine's own
scheduling noise (on a shared 2-core VM it dominates the p99).

If bench/grpc_client.py exists, it measures the gRPC GetMemory of the same
VM against the same daemon (the config's grpc tcp port) and its
grpc_rps/grpc_p99_ms join the summary; otherwise they are 0 and the line
before the summary says why.

Then the PUT flood: wrk sends PATCH /vms/{id}/memory with a new target
each time (the token, --put-connections connections) for --seconds while
a second wrk runs the GET load beside it. Every change is durable before
it is answered (the state file's group commit: one write and fsync for
the changes of a loop iteration), so the flood measures that, and the
GETs' p99 meanwhile says what it costs the readers; the quiet GET p99
above is the reference.

Goals (issue 3): >= 20k req/s and p99 < 2 ms on 2 cores; (issue 14)
>= 5,000 changes/s. Printed, never asserted. Summary:
  api: http_rps=... http_p99_ms=... grpc_rps=... grpc_p99_ms=...
    put_rps=... put_p99_ms=... get_p99_during_put_ms=...
"""

import argparse
import os
import re
import shutil
import subprocess
import time

import _benchutil as bu
from _benchutil import BenchError, harness

NAME = "api"
GRPC_CLIENT = os.path.join(bu.TOP, "bench", "grpc_client.py")
PYTHON = "/usr/bin/python3"

# Guests: what a small host runs, light enough to leave the CPU to the
# daemon and wrk. The measured VM is the one whose numbers move.
GUESTS = (("api-steady", "steady"), ("api-bursty", "bursty"),
          ("api-idle", "idle"))
TARGET_VM = "api-steady"

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_args():
    ap = argparse.ArgumentParser(
        description="GET /vms/{id}/memory throughput and p99 latency "
        "(wrk) against a real hyperallocd with simulated guests.")
    ap.add_argument("--seconds", type=int, default=10,
                    help="length of one wrk run (default 10)")
    ap.add_argument("--runs", type=int, default=3,
                    help="wrk runs; the summary gives medians (default 3)")
    ap.add_argument("--threads", type=int, default=2,
                    help="wrk threads (default 2)")
    ap.add_argument("--connections", type=int, default=8,
                    help="open connections (default 8)")
    ap.add_argument("--guest-memory", default="256M",
                    help="RAM of each simulated guest (default 256M)")
    ap.add_argument("--put-connections", type=int, default=64,
                    help="connections of the PUT flood (default 64)")
    ap.add_argument("--grpc-threads", type=int, default=2,
                    help="threads of bench/grpc_client.py (default 2)")
    a = ap.parse_args()
    if a.seconds < 1 or a.runs < 1 or a.threads < 1 or \
            a.connections < a.threads:
        ap.error("need --seconds >= 1, --runs >= 1, --threads >= 1 and "
                 "--connections >= --threads")
    return a


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError("wrk: cannot read the latency %r" % text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out):
    """Requests/sec, p50/p99 in ms and the error counts of wrk's output."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    if not (rps and p50 and p99 and total):
        raise BenchError("wrk: unexpected output:\n" + out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:\s+(.*)", out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": to_ms(p50.group(1)),
        "p99_ms": to_ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
    }


def run_wrk(wrk, url, a, seconds, daemon_pid):
    cmd = [wrk, "-t%d" % a.threads, "-c%d" % a.connections,
           "-d%ds" % seconds, "--latency", url]
    cpu0 = bu.proc_cpu_seconds(daemon_pid)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=seconds + 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    wall = time.monotonic() - t0
    cpu = bu.proc_cpu_seconds(daemon_pid) - cpu0
    if p.returncode != 0:
        raise BenchError("wrk exited %d:\n%s" % (p.returncode, out))
    r = parse_wrk(out)
    r["daemon_cpu_pct"] = 100.0 * cpu / wall
    return r


# A PATCH per request, each with another target: 16 values from half the
# guest's memory up, in MiB, so every change moves the target.
PUT_SCRIPT = """
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local n = 0
request = function()
  n = n + 1
  local mib = %(base_mib)d + (n %% 16) * %(step_mib)d
  return wrk.format(nil, nil, nil,
                    '{"target_bytes": ' .. (mib * 1048576) .. '}')
end
"""


def run_put_flood(wrk, url, a, d, guest_mib):
    """The PATCH flood and, beside it, the GET load on the same URL:
    (put result, get result) as run_wrk's."""
    script = os.path.join(d.dir, "put.lua")
    with open(script, "w") as f:
        f.write(PUT_SCRIPT % {"token": d.token, "base_mib": guest_mib // 2,
                              "step_mib": max(1, guest_mib // 32)})
    put_cmd = [wrk, "-t1", "-c%d" % a.put_connections, "-d%ds" % a.seconds,
               "--latency", "-s", script, url]
    get_cmd = [wrk, "-t1", "-c%d" % max(1, a.connections // 2),
               "-d%ds" % a.seconds, "--latency", url]
    m0 = state_counters(d)
    cpu0 = bu.proc_cpu_seconds(d.proc.pid)
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for c in (put_cmd, get_cmd)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=a.seconds + 30)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.monotonic() - t0
    cpu = bu.proc_cpu_seconds(d.proc.pid) - cpu0
    for p, out in zip(procs, outs):
        if p.returncode != 0:
            raise BenchError("wrk exited %d:\n%s" % (p.returncode, out))
    put, get = parse_wrk(outs[0]), parse_wrk(outs[1])
    put["daemon_cpu_pct"] = get["daemon_cpu_pct"] = 100.0 * cpu / wall
    m1 = state_counters(d)
    put["writes"] = m1[0] - m0[0]
    put["acks"] = m1[1] - m0[1]
    return put, get


def state_counters(d):
    """(state file writes, answers that waited for one) of the metrics."""
    r = d.get("/metrics")
    if r.status != 200:
        raise BenchError("GET /metrics -> %d" % r.status)
    text = r.body.decode()
    vals = []
    for name in ("hyperalloc_state_writes_total",
                 "hyperalloc_state_acks_total"):
        m = re.search(r"^%s (\d+)$" % name, text, re.M)
        if not m:
            raise BenchError("/metrics has no %s" % name)
        vals.append(int(m.group(1)))
    return vals


def guest_mib(text):
    m = re.fullmatch(r"(\d+)([MG])", text)
    if not m:
        raise BenchError("--guest-memory %r: want NM or NG" % text)
    return int(m.group(1)) * (1024 if m.group(2) == "G" else 1)


def run_grpc(d, a):
    """(rps, p99_ms, None) from bench/grpc_client.py, or (0, 0, why)."""
    if not os.path.exists(GRPC_CLIENT):
        return 0, 0, "bench/grpc_client.py does not exist (yet)"
    cmd = [PYTHON, GRPC_CLIENT, "--seconds", str(a.seconds), "--threads",
           str(a.grpc_threads), "--target", "127.0.0.1:%d" % d.grpc_port,
           "--vm", TARGET_VM, "--token-file", d.token_file]
    print("grpc: %s" % " ".join(cmd[1:]))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=a.seconds + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return 0, 0, "bench/grpc_client.py did not finish in %d s" % (
            a.seconds + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for line in out.splitlines():
        print("grpc:   " + line)
    rps = re.findall(r"grpc_rps=([0-9.]+)", out)
    p99 = re.findall(r"grpc_p99_ms=([0-9.]+)", out)
    if p.returncode != 0 or not rps or not p99:
        last = out.strip().splitlines()[-1:] or ["(no output)"]
        return 0, 0, "bench/grpc_client.py failed (exit %d): %s" % (
            p.returncode, last[0])
    return float(rps[-1]), float(p99[-1]), None


def bench(a):
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is not installed: run `make deps` "
                         "(tools/install-deps.sh)")
    bu.require_built(harness.HYPERALLOCD, harness.SIMGUEST)

    d = harness.Daemon(extra={"log_level": "info"},
                       policy={"name": "static", "tick_ms": 1000,
                               "host_reserve": "256M"})
    # One client address opens all the flood's connections: above the
    # per-client cap of a production config (api.connections_per_client).
    d.config["api"]["connections_per_client"] = \
        a.put_connections + a.connections + 8
    d.write_config()
    guests = []
    try:
        d.start()
        for name, trace in GUESTS:
            guests.append(harness.SimGuest(d, name, memory=a.guest_memory,
                                           trace=trace, vcpus=1))
        harness.wait_for(lambda: len(d.vms()) == len(GUESTS), timeout=30,
                         what="the guests to register")
        url = "http://127.0.0.1:%d/vms/%s/memory" % (d.port, TARGET_VM)
        r = d.get("/vms/%s/memory" % TARGET_VM)
        print("setup: hyperallocd pid %d (log level info, static policy, "
              "tick 1000 ms), %d sim guests of %s (%s), 1 vCPU each"
              % (d.proc.pid, len(GUESTS), a.guest_memory,
                 ", ".join("%s: %s" % g for g in GUESTS)))
        print("setup: GET %s -> %d, %d bytes of JSON" % (url, r.status,
                                                         len(r.body)))
        print("setup: wrk -t%d -c%d -d%ds --latency, %d run(s), %d CPUs, "
              "load average %.2f" % (a.threads, a.connections, a.seconds,
                                     a.runs, os.cpu_count(),
                                     os.getloadavg()[0]))

        healthz = "http://127.0.0.1:%d/healthz" % d.port
        run_wrk(wrk, url, a, 1, d.proc.pid)  # warm-up, not counted
        runs, refs = [], []
        for i in range(a.runs):
            r = run_wrk(wrk, url, a, a.seconds, d.proc.pid)
            h = run_wrk(wrk, healthz, a, a.seconds, d.proc.pid)
            runs.append(r)
            refs.append(h)
            print("run %d: memory %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
                  "%d requests, daemon CPU %.0f%% of one core%s%s"
                  % (i + 1, r["rps"], r["p50_ms"], r["p99_ms"],
                     r["requests"], r["daemon_cpu_pct"],
                     ", %d non-2xx" % r["non2xx"] if r["non2xx"] else "",
                     ", socket errors: " + r["socket_errors"]
                     if r["socket_errors"] else ""))
            print("       healthz %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
                  "daemon CPU %.0f%% (reference)"
                  % (h["rps"], h["p50_ms"], h["p99_ms"],
                     h["daemon_cpu_pct"]))
        if any(r["non2xx"] for r in runs + refs):
            raise BenchError("the daemon answered errors under load; "
                             "the end of its log:\n" + d.read_log()[-2000:])
        http_rps = bu.median([r["rps"] for r in runs])
        http_p99 = bu.median([r["p99_ms"] for r in runs])
        ref_rps = bu.median([h["rps"] for h in refs])
        ref_p99 = bu.median([h["p99_ms"] for h in refs])
        print("median: memory %.0f req/s, p99 %.3f ms (goal: >= 20000 "
              "req/s, p99 < 2 ms)" % (http_rps, http_p99))
        print("median: healthz %.0f req/s, p99 %.3f ms; memory/healthz "
              "throughput ratio %.2f" % (ref_rps, ref_p99,
                                         http_rps / ref_rps))

        puts, gets = [], []
        for i in range(a.runs):
            put, get = run_put_flood(wrk, url, a, d,
                                     guest_mib(a.guest_memory))
            puts.append(put)
            gets.append(get)
            print("put %d: PATCH %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
                  "%d changes in %d state file writes (%.1f acks per "
                  "write)%s; GET beside it %.0f req/s, p99 %.3f ms; "
                  "daemon CPU %.0f%%"
                  % (i + 1, put["rps"], put["p50_ms"], put["p99_ms"],
                     put["requests"], put["writes"],
                     put["acks"] / max(1, put["writes"]),
                     ", %d non-2xx" % put["non2xx"] if put["non2xx"]
                     else "", get["rps"], get["p99_ms"],
                     put["daemon_cpu_pct"]))
        if any(r["non2xx"] for r in puts + gets):
            raise BenchError("the daemon refused changes under the flood; "
                             "the end of its log:\n" + d.read_log()[-2000:])
        put_rps = bu.median([r["rps"] for r in puts])
        put_p99 = bu.median([r["p99_ms"] for r in puts])
        get_p99_put = bu.median([r["p99_ms"] for r in gets])
        st = d.memory(TARGET_VM)
        print("median: PATCH %.0f req/s (goal >= 5000), p99 %.3f ms; GET "
              "p99 %.3f ms during it, %.3f ms quiet; last target %s"
              % (put_rps, put_p99, get_p99_put, http_p99,
                 st.get("target_bytes")))

        grpc_rps, grpc_p99, why = run_grpc(d, a)
        if why:
            print("grpc: not measured: %s; grpc_rps=0 grpc_p99_ms=0" % why)
        else:
            print("grpc: %.0f req/s, p99 %.3f ms" % (grpc_rps, grpc_p99))

        bad = [g.name for g in guests if g.proc.poll() is not None]
        if bad:
            raise BenchError("guest(s) %s exited during the run"
                             % ", ".join(bad))
    finally:
        rcs = [(g.name, g.stop()) for g in guests]
        d.cleanup(check=False)
    bad = ["%s exited %s" % (n, rc) for n, rc in rcs if rc != 0]
    if bad:
        raise BenchError("; ".join(bad) + " (3: canary mismatch)")
    print("%s: http_rps=%s http_p99_ms=%s grpc_rps=%s grpc_p99_ms=%s "
          "put_rps=%s put_p99_ms=%s get_p99_during_put_ms=%s"
          % (NAME, bu.fmt(http_rps, 0), bu.fmt(http_p99),
             bu.fmt(grpc_rps, 0), bu.fmt(grpc_p99), bu.fmt(put_rps, 0),
             bu.fmt(put_p99), bu.fmt(get_p99_put)))


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
