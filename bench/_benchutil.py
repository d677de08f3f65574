# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers shared by the Python benchmarks in bench/ (not a benchmark:
files named _*.py are modules, see mk/bench.mk).

The benchmarks start a real hyperallocd and real guests through the
integration tests' harness (tests/integration/harness.py), measure, print
what they measured and end with one summary line (DESIGN.md,
"Conventions"). Standard library only; Debian's /usr/bin/python3.
"""

import os
import re
import signal
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import harness  # noqa: E402  (needs the path above)

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20
GIB = 1 << 30


class BenchError(Exception):
    """A benchmark cannot go on; the message says why."""


def fail(name, msg):
    print("%s: error: %s" % (name, msg), file=sys.stderr)
    sys.exit(1)


def _raise_interrupt(sig, frame):
    # Turn SIGTERM/SIGHUP into the exception SIGINT raises, so that every
    # finally: block runs and stops what the benchmark started.
    raise KeyboardInterrupt


def trap_signals():
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


def require_built(*paths):
    """Raise BenchError naming the first missing build product."""
    for p in paths:
        if not os.access(p, os.X_OK):
            raise BenchError("%s is missing: run `make` first (BUILD=%s)"
                             % (p, os.path.relpath(harness.BUILD, TOP)))


def percentile(values, p):
    """The p-th percentile (0..100) with linear interpolation."""
    if not values:
        return 0.0
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values):
    return percentile(values, 50)


def proc_status(pid):
    """/proc/PID/status as {key: value in KiB or text}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            parts = val.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0])
            else:
                out[key] = val.strip()
    return out


def proc_cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), in seconds.
    The kernel counts it in clock ticks (1/CLK_TCK s)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memfd_path(pid):
    """/proc/PID/fd/N of the process's guest RAM memfd (the largest one),
    so that it can be stat()ed cheaply over and over."""
    fddir = "/proc/%d/fd" % pid
    best, best_size = None, -1
    for fd in os.listdir(fddir):
        path = os.path.join(fddir, fd)
        try:
            if not os.readlink(path).startswith("/memfd:"):
                continue
            size = os.stat(path).st_size
        except OSError:
            continue
        if size > best_size:
            best, best_size = path, size
    if best is None:
        raise BenchError("process %d has no memfd open" % pid)
    return best


def fmt(x, digits=3):
    """A number for a summary value: no unit, no exponent."""
    s = "%.*f" % (digits, x)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


THP_SHMEM = "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
THP_OK = ("advise", "always", "within_size", "force")


# ---- shmem transparent huge pages, switched for a run ----

def thp_selected():
    with open(THP_SHMEM) as f:
        m = re.search(r"\[(\w+)\]", f.read())
    if not m:
        raise BenchError("cannot read the selected value of " + THP_SHMEM)
    return m.group(1)


class ThpSwitch:
    """Switch shmem THP to "advise" unless it is on already; restore the
    old value on exit (the with-block ends on errors and on the signals
    bu.trap_signals() and KeyboardInterrupt turn into exceptions)."""

    def __init__(self):
        self.old = None
        self.why = None

    def __enter__(self):
        try:
            cur = thp_selected()
        except (OSError, BenchError) as e:
            self.why = "cannot read %s: %s" % (THP_SHMEM, e)
            return self
        if cur in THP_OK:
            print("thp: %s is \"%s\" already, not switched" % (THP_SHMEM,
                                                               cur))
            return self
        try:
            with open(THP_SHMEM, "w") as f:
                f.write("advise")
        except OSError as e:
            self.why = "cannot switch %s to advise%s: %s" % (
                THP_SHMEM, " (not root)" if os.geteuid() else "",
                e.strerror)
            return self
        self.old = cur
        print("thp: switched %s from \"%s\" to \"advise\" for this run"
              % (THP_SHMEM, cur))
        return self

    def __exit__(self, *exc):
        if self.old is None:
            return False
        try:
            with open(THP_SHMEM, "w") as f:
                f.write(self.old)
            print("thp: restored %s to \"%s\"" % (THP_SHMEM, self.old))
        except OSError as e:
            print("thp: could not restore %s to \"%s\": %s"
                  % (THP_SHMEM, self.old, e.strerror))
        return False
