#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/soak: a bounded fault soak of hyperallocd.

A real hyperallocd (own config, runtime directory, state file, ports, as
the integration tests start it) spawns --guests busy simulated guests
(ha-simguest: vCPUs allocate and free, every held page carries a canary).
For --minutes, --clients threads keep the HTTP API busy over loopback TCP
and the unix socket: GETs of /vms, /vms/{id}, /vms/{id}/memory, /host,
/metrics, /healthz, and, with the token, PUTs of targets, limits, shares
and automatic reclaim and DELETEs of the manual target, each
acknowledged setting recorded per VM. At random points (a seeded
schedule, --seed) the soak kills with SIGKILL:

  guest     a spawned guest (the daemon restarts it after 2 s);
  daemon    hyperallocd itself, then starts it again with the same
            configuration and state file;
  libvirtd  the libvirtd the daemon tracks: only with --libvirtd private,
            which starts one of the soak's own (tests/e2e/lvenv.py) and
            starts it again after each kill. Without it no libvirtd is
            killed, and the report says so.

After each kill it waits for recovery (polling until the API answers and
the guests are back, never for a fixed time) and checks: every setting
acknowledged before the kill is what GET /vms/{id}/memory shows (a PUT
whose answer the kill cut off may have landed or not: both count as
restored); the daemon holds exactly one memfd open and mapped per live
guest (/proc/PID/fd, /proc/PID/maps); no guest of this daemon's socket
lives on without it. Canary mismatches are collected from the guests'
counters in the API and /metrics while the soak runs, from the exit
status of guests orphaned by a killed daemon (the soak is their
subreaper: status 3 is a mismatch) and from the summary line every guest
prints when it stops; --inject-loss destroys guest data once to show that
they are. An API error counts unless its request overlapped a window in
which the daemon (or, for a 404 of a VM, that VM's guest) was down by the
soak's own hand.

One table row per kill: when, what, up/ms (from the kill until the daemon
answers again, or the new libvirtd does), back/ms (until every guest is
registered again, or the daemon has reconnected to libvirtd), the VMs
whose acknowledged settings came back, and the fds, mappings and
processes found leaked at the settle after it.

Summary (non-zero exit if any count but kills, restarts and
libvirtd_kills is above 0):
  soak: kills=N restarts=N lost_targets=N mismatches=N leaked_fds=N
        api_errors=N leaked_maps=N leaked_procs=N libvirtd_kills=N
"""

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import sys
import threading
import time

import _benchutil as bu
import _soakproc as sp
import _soaksettings as ss
from _benchutil import BenchError, harness

NAME = "soak"
# Trace and time scale of the guests, in turn: a compiler-like build sped
# up, bursts, and a constant churn of half the RAM.
TRACES = (("clang-build", 20), ("bursty", 5), ("steady", 1))
KINDS = ("guest", "daemon", "libvirtd")
WEIGHTS = {"guest": 5, "daemon": 4, "libvirtd": 2}
# Connection errors that prove a request never reached the daemon.
NOT_SENT = (ConnectionRefusedError, FileNotFoundError)
METRIC_MISMATCHES = re.compile(
    r"^hyperalloc_vm_canary_mismatches_total\{[^}]*\} (\d+)$", re.M)


def parse_args():
    ap = argparse.ArgumentParser(
        description="Kill guests, the daemon and libvirtd at random under "
        "API load; check that nothing acknowledged is lost and nothing "
        "leaks.")
    ap.add_argument("--minutes", type=float, default=3,
                    help="length of the fault phase (default 3)")
    ap.add_argument("--seed", type=int,
                    help="seed of the kill schedule and of the clients' "
                    "choices (default: random, printed)")
    ap.add_argument("--kill-interval", type=float, default=10,
                    help="mean seconds from one recovery to the next "
                    "kill, drawn from 0.5x..1.5x (default 10)")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="what to kill, of %s (default all)"
                    % ",".join(KINDS))
    ap.add_argument("--guests", type=int, default=3,
                    help="spawned simulated guests (default 3)")
    ap.add_argument("--guest-memory", default="256M",
                    help="RAM of each guest (default 256M)")
    ap.add_argument("--clients", type=int, default=4,
                    help="API client threads (default 4)")
    ap.add_argument("--rate", type=float, default=40,
                    help="requests per second per client (default 40)")
    ap.add_argument("--settle-timeout", type=float, default=60,
                    help="longest wait for a recovery, in s (default 60)")
    ap.add_argument("--libvirtd", choices=("none", "private"),
                    default="none",
                    help="private: start a libvirtd of our own for the "
                    "daemon to track, and kill it too (default none)")
    ap.add_argument("--inject-loss", action="store_true",
                    help="check the checks: half-way, discard half of one "
                    "guest's RAM behind the daemon's back; the run must "
                    "then fail with mismatches above 0")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (daemon log, state)")
    a = ap.parse_args()
    a.kinds = [k for k in a.kinds.split(",") if k]
    bad = [k for k in a.kinds if k not in KINDS]
    if bad or not a.kinds:
        ap.error("--kinds: unknown %s" % ",".join(bad or ["(empty)"]))
    if a.minutes <= 0 or a.kill_interval <= 0 or a.guests < 1 or \
            a.clients < 1 or a.rate <= 0 or a.settle_timeout <= 0:
        ap.error("--minutes, --kill-interval, --guests, --clients, --rate "
                 "and --settle-timeout must be positive")
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    return a


def now():
    return time.monotonic()


class Windows:
    """The times the soak had something down: a request overlapping one
    of its scope is excused."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def open(self, scope):
        w = [scope, now(), None]
        with self.lock:
            self.items.append(w)
        return w

    def close(self, w):
        with self.lock:
            if w[2] is None:
                w[2] = now()

    def covers(self, scopes, t0, t1):
        with self.lock:
            return any(w[0] in scopes and w[1] <= t1 and
                       (w[2] is None or w[2] >= t0) for w in self.items)


# ---- the soak ----

class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.names = ["soak-%d-%s" % (i, TRACES[i % len(TRACES)][0])
                      for i in range(a.guests)]
        self.books = {n: ss.Book(n) for n in self.names}
        self.windows = Windows()
        self.stop = threading.Event()
        self.writes_ok = threading.Event()
        self.lock = threading.Lock()
        self.req = {"ok": 0, "excused": 0, "errors": 0, "writes_acked": 0,
                    "writes_cut": 0, "not_sent": 0}
        self.error_samples = []
        self.canary = {}  # (vm, uuid) -> most mismatches the API showed
        self.metric_mismatches = 0  # the most of all VMs' in /metrics
        self.exits = {}  # exit status of reaped orphan guests -> count
        self.leaks = {"fds": set(), "maps": set(), "procs": set()}
        self.lost = []
        self.failures = []
        self.rows = []
        self.kills = {k: 0 for k in KINDS}
        self.restarts = 0
        self.injected = False
        self.threads = []
        self.lv = None
        self.d = None
        self.t0 = now()

    # -- setup and teardown --

    def guest_config(self):
        out = []
        for i, name in enumerate(self.names):
            trace, scale = TRACES[i % len(TRACES)]
            out.append({"name": name, "memory": self.a.guest_memory,
                        "trace": trace, "vcpus": 1, "time_scale": scale,
                        "loop": True})
        return out

    def start(self):
        extra = {"log_level": "info"}
        if self.a.libvirtd == "private":
            sys.path.insert(0, os.path.join(bu.TOP, "tests", "e2e"))
            import lvenv
            self.lv = lvenv.Libvirtd(prefix="ha-soak-lv-").start()
            extra["libvirt"] = {"enabled": True, "uri": self.lv.uri}
        self.d = harness.Daemon(guests=self.guest_config(), extra=extra,
                                policy={"name": "static", "tick_ms": 200,
                                        "host_reserve": "256M"})
        # Every kill is a failure to the restart budget: with a window of
        # 1 s (restarts are 2 s apart) the soak never uses it up.
        self.d.config["sim"]["restart_window_ms"] = 1000
        self.d.write_config()
        self.d.start(wait=False)
        self.wait_ready("the first start")
        self.token = self.d.token
        self.wait_vms(self.names, {})
        for name in self.names:
            m = self.get_json("/vms/%s/memory" % name)
            b = self.books[name]
            b.ram = m["max_bytes"]
            b.acked = ss.setting_of(m)
        self.writes_ok.set()

    def cleanup(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        rc = self.d.stop() if self.d and self.d.proc else None
        left = []
        if self.d:
            try:
                harness.wait_for(lambda: (self.reap(), not sp.guests_of(
                    self.d.sim_sock))[1], timeout=20, interval=0.1,
                    what="the guests to stop with the daemon")
            except AssertionError:
                left = sp.guests_of(self.d.sim_sock)
            for g in left:
                self.leaks["procs"].add(g.pid)
                try:
                    os.kill(g.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.reap()
        if self.lv:
            self.lv.cleanup()
        return rc, left

    # -- the API --

    def request(self, method, path, body=None, unix=False, token=False):
        t0 = now()
        try:
            r = self.d.request(method, path, body=body, unix=unix,
                               token=self.token if token else None)
            return r, None, t0, now()
        except (OSError, http.client.HTTPException) as e:
            return None, e, t0, now()

    def get_json(self, path):
        r, err, _, _ = self.request("GET", path)
        if err or r.status != 200:
            raise BenchError("GET %s: %s" % (path, err or r))
        return r.json()

    def account(self, method, path, r, err, t0, t1):
        """Count one answer (or failure) of the load."""
        if r is not None and r.status < 400:
            with self.lock:
                self.req["ok"] += 1
            return
        scopes = {"daemon"}
        m = re.match(r"/vms/([^/]+)", path)
        if m and r is not None and r.status == 404:
            scopes.add("vm:" + m.group(1))
        elif r is not None and r.status < 500:
            scopes = set()  # a 4xx the soak did not provoke by a kill
        excused = self.windows.covers(scopes, t0, t1)
        with self.lock:
            self.req["excused" if excused else "errors"] += 1
            if not excused and len(self.error_samples) < 10:
                self.error_samples.append("%.1f s %s %s: %s" % (
                    t0 - self.t0, method, path,
                    repr(err) if err else "%d %s" % (r.status,
                                                     r.body[:160])))

    # -- the load --

    def client(self, i):
        rng = random.Random(self.a.seed * 1000 + i + 1)
        period = 1.0 / self.a.rate
        ops = (("vms", 2), ("memory", 3), ("vm", 2), ("host", 1),
               ("metrics", 1), ("healthz", 1), ("write", 3))
        pick = [op for op, w in ops for _ in range(w)]
        while not self.stop.is_set():
            t = now()
            op = rng.choice(pick)
            name = rng.choice(self.names)
            unix = rng.random() < 0.3
            if op == "write" and self.writes_ok.is_set():
                self.write(rng, name, unix)
            elif op in ("vms", "host", "metrics", "healthz", "write"):
                path = {"vms": "/vms", "host": "/host",
                        "metrics": "/metrics"}.get(op, "/healthz")
                r, err, t0, t1 = self.request("GET", path, unix=unix)
                self.account("GET", path, r, err, t0, t1)
                if op == "metrics" and r is not None and r.status == 200:
                    self.note_metrics(r.body.decode(errors="replace"))
            else:
                path = "/vms/" + name + ("/memory" if op == "memory"
                                         else "")
                r, err, t0, t1 = self.request("GET", path, unix=unix)
                self.account("GET", path, r, err, t0, t1)
                if op == "vm" and r is not None and r.status == 200:
                    self.note_canaries(r.json())
            self.stop.wait(max(0.0, period - (now() - t)))

    def write(self, rng, name, unix):
        b = self.books[name]
        with b.lock:
            if not self.writes_ok.is_set():
                return
            path = "/vms/%s/memory" % name
            if rng.random() < 0.1:
                method, body = "DELETE", None
                path += "/target"
                new = dict(b.acked, manual=None)
            else:
                method = "PATCH" if rng.random() < 0.2 else "PUT"
                body, new = ss.random_update(rng, b.acked, b.ram)
            r, err, t0, t1 = self.request(method, path, body=body,
                                          unix=unix, token=True)
            self.account(method, path, r, err, t0, t1)
            if r is not None and r.status == 200:
                diff = ss.differences(new, r.json())
                if diff:
                    self.lost.append("%s: the answer to %s %s shows %s"
                                     % (name, method, body,
                                        "; ".join(diff)))
                b.acked = new
                b.pending = None
                b.acks += 1
                with self.lock:
                    self.req["writes_acked"] += 1
            elif err is not None and not isinstance(err, NOT_SENT):
                b.pending = new  # it may have landed, or not
                with self.lock:
                    self.req["writes_cut"] += 1
            elif err is not None:
                with self.lock:
                    self.req["not_sent"] += 1

    def note_metrics(self, text):
        n = sum(int(v) for v in METRIC_MISMATCHES.findall(text))
        with self.lock:
            self.metric_mismatches = max(self.metric_mismatches, n)

    def note_canaries(self, vm):
        key = (vm["id"], vm.get("uuid"))
        n = vm.get("counters", {}).get("canary_mismatches", 0)
        with self.lock:
            self.canary[key] = max(self.canary.get(key, 0), n)

    # -- waiting for recovery --

    def wait_ready(self, what):
        """Poll /healthz until it answers 200; the time it did."""
        def ready():
            r, _, _, _ = self.request("GET", "/healthz")
            return r is not None and r.status == 200
        self.until(ready, "the API to answer after " + what)
        return now()

    def alive(self):
        """Raise BenchError if the daemon exited without the soak's kill."""
        if self.d.proc.poll() is not None:
            raise BenchError("hyperallocd exited by itself with %s; its "
                             "log:\n%s" % (self.d.proc.returncode,
                                            self.d.read_log()))

    def until(self, pred, what):
        def check():
            self.alive()
            return pred()
        try:
            return harness.wait_for(check, timeout=self.a.settle_timeout,
                                    interval=0.05, what=what)
        except AssertionError as e:
            raise BenchError(str(e))

    def wait_vms(self, names, windows, old_uuids=None):
        """Poll /vms until every VM of @names is registered (with a uuid
        other than its old one, if given); close its window then."""
        old_uuids = old_uuids or {}
        left = set(names)

        def back():
            r, _, _, _ = self.request("GET", "/vms")
            if r is None or r.status != 200:
                return False
            vms = {v["id"]: v for v in r.json()["vms"]}
            for n in list(left):
                if n in vms and vms[n]["uuid"] != old_uuids.get(n):
                    left.discard(n)
                    if n in windows:
                        self.windows.close(windows[n])
            return not left
        self.until(back, "%s to register" % ", ".join(sorted(left)))
        return now()

    def reap(self):
        for _, status in sp.reap_orphans():
            with self.lock:
                self.exits[status] = self.exits.get(status, 0) + 1

    # -- checks --

    def check_restored(self, name, why):
        """After a restart: what the last acknowledged PUT set is back."""
        b = self.books[name]
        with b.lock:
            m = self.get_json("/vms/%s/memory" % name)
            diff = ss.differences(b.acked, m)
            if diff and b.pending and not ss.differences(b.pending, m):
                b.acked, diff = b.pending, []
            b.pending = None
            b.checks += 1
            if diff:
                self.lost.append("%s after %s: %s (acked: %s)" % (
                    name, why, "; ".join(diff), ss.describe(b.acked)))
                b.acked = ss.setting_of(m)  # count the next loss afresh
            return not diff

    def settle(self):
        """Wait until exactly one guest per VM runs under the live daemon
        and no other guest of its socket lives; then count memfds open
        and mapped in the daemon that belong to no live guest, or twice
        to one. Returns (new leaked fds, maps, procs)."""
        before = {k: len(v) for k, v in self.leaks.items()}
        pid = self.d.proc.pid
        state = {}

        def settled():
            self.alive()
            self.reap()
            guests = sp.guests_of(self.d.sim_sock)
            mine = [g for g in guests if g.ppid == pid]
            state["mine"] = mine
            state["orphans"] = [g for g in guests if g.ppid != pid]
            return sorted(g.name for g in mine) == sorted(self.names) and \
                not state["orphans"]
        try:
            harness.wait_for(settled, timeout=self.a.settle_timeout,
                             interval=0.1, what="the guests to settle")
        except AssertionError:
            for g in state["orphans"]:
                self.leaks["procs"].add(g.pid)
            names = sorted(g.name for g in state["mine"])
            if names != sorted(self.names):
                self.failures.append("%.0f s: guests of the daemon: %s, "
                                     "configured %s" % (
                                         now() - self.t0, names,
                                         sorted(self.names)))
        for vm in self.get_json("/vms")["vms"]:
            self.note_canaries(self.get_json("/vms/" + vm["id"]))
        r, _, _, _ = self.request("GET", "/metrics")
        if r is not None and r.status == 200:
            self.note_metrics(r.body.decode(errors="replace"))
        live = {}
        for g in state["mine"]:
            ino = sp.guest_ram_inode(g.pid)
            if ino is not None:
                live[ino] = self.books[g.name].ram
        seen = set()
        for fd, ino in sorted(sp.memfd_fds(pid).items()):
            if ino not in live or ino in seen:
                self.leaks["fds"].add((pid, fd, ino))
            seen.add(ino)
        for ino, size in sp.memfd_maps(pid).items():
            if ino not in live or size > live[ino]:
                self.leaks["maps"].add((pid, ino))
        return tuple(len(self.leaks[k]) - before[k]
                     for k in ("fds", "maps", "procs"))

    # -- the kills --

    def kill_guest(self):
        pid = self.d.proc.pid
        mine = [g for g in sp.guests_of(self.d.sim_sock) if g.ppid == pid]
        g = self.rng.choice(sorted(mine, key=lambda g: g.name))
        old = self.get_json("/vms/" + g.name)["uuid"]
        w = {g.name: self.windows.open("vm:" + g.name)}
        t = now()
        os.kill(g.pid, signal.SIGKILL)
        self.writes_ok.clear()  # a PUT under way goes on, a new one waits
        back = self.wait_vms([g.name], w, {g.name: old})
        ok = self.check_restored(g.name, "its guest's restart")
        self.writes_ok.set()
        return "%s pid %d" % (g.name, g.pid), None, back - t, \
            "%d/1" % ok

    def kill_daemon(self):
        old = self.d.proc.pid
        wd = self.windows.open("daemon")
        wv = {n: self.windows.open("vm:" + n) for n in self.names}
        t = now()
        self.d.proc.send_signal(signal.SIGKILL)
        self.writes_ok.clear()
        self.d.proc.wait()
        self.d.log.close()
        self.d.start(wait=False)
        self.restarts += 1
        ready = self.wait_ready("a SIGKILL")
        self.windows.close(wd)
        back = self.wait_vms(self.names, wv)
        ok = sum(self.check_restored(n, "the daemon's restart")
                 for n in self.names)
        self.writes_ok.set()
        return "hyperallocd pid %d" % old, ready - t, back - t, \
            "%d/%d" % (ok, len(self.names))

    def kill_loss(self):
        """Not a kill: --inject-loss punches out the middle half of a
        guest's RAM (the allocator's metadata is at its start)."""
        pid = self.d.proc.pid
        g = self.rng.choice(sorted(
            (g for g in sp.guests_of(self.d.sim_sock) if g.ppid == pid),
            key=lambda g: g.name))
        ram = self.books[g.name].ram
        sp.punch_ram(g.pid, ram // 4, ram // 2)
        self.injected = True
        return "%s pid %d" % (g.name, g.pid), None, 0.0, "-"

    def connected_count(self):
        try:
            with open(self.d.log_path, "rb") as f:
                return f.read().count(b"libvirt: connected to")
        except OSError:
            return 0

    def kill_libvirtd(self):
        n = self.connected_count()
        pid = self.lv.libvirtd.pid
        t = now()
        os.kill(pid, signal.SIGKILL)
        self.lv.libvirtd.wait()
        self.lv.libvirtd = None
        self.lv.start()
        ready = now()
        self.until(lambda: self.connected_count() > n,
                   "the daemon to reconnect to libvirtd")
        return "libvirtd pid %d" % pid, ready - t, now() - t, "-"

    def run(self):
        self.t0 = now()
        for i in range(self.a.clients):
            t = threading.Thread(target=self.client, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        kinds = [k for k in self.a.kinds if k != "libvirtd" or self.lv]
        end = self.t0 + self.a.minutes * 60
        print("%3s %7s %-9s %-28s %8s %8s %8s %4s %4s %5s"
              % ("#", "t/s", "kill", "target", "up/ms", "back/ms",
                 "restored", "fds", "maps", "procs"))
        while True:
            gap = self.a.kill_interval * self.rng.uniform(0.5, 1.5)
            at = min(now() + gap, end)
            while now() < at:
                self.alive()  # a daemon that dies by itself ends the run
                time.sleep(min(0.2, max(0.0, at - now())))
            if now() >= end:
                break
            kind = self.rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
            if self.a.inject_loss and not self.injected and \
                    now() >= (self.t0 + end) / 2:
                kind = "loss"
            when = now() - self.t0
            target, up_s, back_s, restored = getattr(
                self, "kill_" + kind)()
            if kind in self.kills:
                self.kills[kind] += 1
            fds, maps, procs = self.settle()
            row = (len(self.rows) + 1, when, kind, target,
                   "-" if up_s is None else "%.0f" % (up_s * 1e3),
                   "%.0f" % (back_s * 1e3), restored, fds, maps, procs)
            self.rows.append(row)
            print("%3d %7.1f %-9s %-28s %8s %8s %8s %4d %4d %5d" % row)
            sys.stdout.flush()
        fds, maps, procs = self.settle()
        print("%3s %7.1f %-9s %-28s %8s %8s %8s %4d %4d %5d" % (
            "-", now() - self.t0, "end", "(no kill: the last settle)", "-",
            "-", "-", fds, maps, procs))


def log_canaries(text):
    """(guest summaries, their mismatches, daemon lines about mismatches)
    from the daemon's log, which the spawned guests share."""
    sums = re.findall(r"^ha-simguest \S+: ops \d+, installs \d+, "
                      r"mismatches (\d+)", text, re.M)
    lines = len(re.findall(r"canary mismatch", text))
    return len(sums), sum(int(n) for n in sums), lines


def libvirtd_note(s):
    if s.lv:
        return "libvirtd: the soak's own (%s), killed %d times" % (
            s.lv.uri, s.kills["libvirtd"])
    pids = sp.find_comm("libvirtd")
    if not pids:
        return "libvirtd: libvirtd_kills=0 (no libvirtd)"
    return ("libvirtd: libvirtd_kills=0 (libvirtd pid %s runs, but the "
            "soak's daemon does not use it; --libvirtd private starts one "
            "of its own)" % ",".join(map(str, pids)))


def report(s, rc, left):
    text = ""
    try:
        with open(s.d.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        pass
    nsum, nmis, nlines = log_canaries(text)
    api_mis = sum(s.canary.values())
    exit3 = s.exits.get(3, 0)
    mismatches = max(api_mis, s.metric_mismatches, nmis, exit3,
                     1 if nlines else 0)
    if rc not in (0, None):
        s.failures.append("hyperallocd exited %s on SIGTERM" % rc)
    print()
    print("kills: %s; daemon restarts %d"
          % (", ".join("%s %d" % kv for kv in s.kills.items()), s.restarts))
    print("api: %d answered, %d failed while the soak had something down, "
          "%d errors; writes: %d acknowledged, %d cut off by a kill, %d "
          "refused connections" % (
              s.req["ok"], s.req["excused"], s.req["errors"],
              s.req["writes_acked"], s.req["writes_cut"], s.req["not_sent"]))
    for e in s.error_samples:
        print("api error: " + e)
    print("settings: %s" % ", ".join(
        "%s %d acked, %d checks" % (b.name, b.acks, b.checks)
        for b in s.books.values()))
    for line in s.lost:
        print("lost: " + line)
    print("canaries: API counters %d over %d guest runs, /metrics at most "
          "%d; %d guest summary lines in the log, %d mismatches; %d log "
          "lines on mismatches; orphaned guests reaped by exit status: %s"
          % (api_mis, len(s.canary), s.metric_mismatches, nsum, nmis, nlines,
              ", ".join("%s: %d" % kv for kv in sorted(s.exits.items()))
              or "none"))
    for kind in ("fds", "maps", "procs"):
        if s.leaks[kind]:
            print("leaked %s: %s" % (kind, sorted(s.leaks[kind])[:10]))
    if left:
        print("guests left after the daemon stopped: %s" % left)
    for f in s.failures:
        print("failure: " + f)
    print(libvirtd_note(s))
    counts = {"lost_targets": len(s.lost), "mismatches": mismatches,
              "leaked_fds": len(s.leaks["fds"]),
              "api_errors": s.req["errors"],
              "leaked_maps": len(s.leaks["maps"]),
              "leaked_procs": len(s.leaks["procs"])}
    print("%s: kills=%d restarts=%d lost_targets=%d mismatches=%d "
          "leaked_fds=%d api_errors=%d leaked_maps=%d leaked_procs=%d "
          "libvirtd_kills=%d" % (
              NAME, sum(s.kills.values()), s.restarts,
              counts["lost_targets"], mismatches, counts["leaked_fds"],
              counts["api_errors"], counts["leaked_maps"],
              counts["leaked_procs"], s.kills["libvirtd"]))
    return any(counts.values()) or bool(s.failures)


def main():
    a = parse_args()
    bu.trap_signals()
    bu.require_built(harness.HYPERALLOCD, harness.SIMGUEST)
    # The orphans of a private libvirtd (its QEMU probes) would be the
    # soak's too, and libvirtd waits for them: then it is no subreaper
    # and reads mismatches from the guests' summary lines alone.
    sub = a.libvirtd == "none" and sp.become_subreaper()
    print("soak: seed %d (--seed %d repeats the kill schedule), %.1f "
          "minutes, kill interval %g s, kinds %s" % (
              a.seed, a.seed, a.minutes, a.kill_interval,
              ",".join(a.kinds)))
    s = Soak(a)
    bad, rc, left = True, None, []
    try:
        try:
            s.start()
            print("setup: hyperallocd pid %d, %d guests of %s (%s), %d "
                  "clients at %g req/s, work directory %s%s" % (
                      s.d.proc.pid, a.guests, a.guest_memory,
                      ", ".join(s.names), a.clients, a.rate, s.d.dir,
                      "" if sub else "; not a subreaper: the exit status "
                      "of orphaned guests is not read"))
            s.run()
        except BenchError as e:
            s.failures.append(str(e)[:2000])
        except KeyboardInterrupt:
            s.failures.append("interrupted")
            raise
        finally:
            rc, left = s.cleanup()
        bad = report(s, rc, left)
    except KeyboardInterrupt:
        bu.fail(NAME, "interrupted")
    finally:
        if s.d and s.d.own_dir and not a.keep:
            shutil.rmtree(s.d.dir, ignore_errors=True)
        elif s.d:
            print("soak: work directory kept: %s" % s.d.dir)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
