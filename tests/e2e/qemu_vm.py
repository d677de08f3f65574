# SPDX-License-Identifier: GPL-2.0-or-later
"""A QEMU process for the end-to-end tests: QMP on a unix socket, the
serial console on another, both read by background threads so that a
test can wait for a console line or a QMP event instead of sleeping.

Only Debian's /usr/bin/python3 and its standard library.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

FIRMWARE = ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu"]


class QMPError(Exception):
    """QEMU answered a command with an error; .desc is its text."""

    def __init__(self, cmd, error):
        self.cmd = cmd
        self.cls = error.get("class", "")
        self.desc = error.get("desc", "")
        super().__init__("%s: %s: %s" % (cmd, self.cls, self.desc))



def wait_for(pred, timeout, what, interval=0.2):
    """Poll @pred until it returns something true (returned); bounded by
    @timeout only so that a broken build fails instead of hanging."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)"
                         % (timeout, what, last))


def build_outputs(*cmds):
    """Run the build scripts @cmds (each builds or finds its artefacts in
    the cache) and merge the key=value paths they print."""
    out = {}
    for cmd in cmds:
        text = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                              text=True).stdout
        out.update(w.split("=", 1) for w in text.split() if "=" in w)
    return out

class SerialConsole:
    """A serial console on a unix socket (QEMU's, or libvirt's for a
    domain): a thread collects its lines into .lines; a shell may run
    there."""

    def __init__(self, alive=lambda: True, on_timeout=lambda: ""):
        # A line that ends every wait at once (a kernel's panic or oops:
        # what was awaited will not come any more).
        self.fatal = None
        self.lines = []
        self.alive = alive
        self.on_timeout = on_timeout
        self._cond = threading.Condition()
        self._sock = None

    def connect(self, path, timeout=60):
        end = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > end or not self.alive():
                    raise
                time.sleep(0.05)
        self._sock = s
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def close(self):
        try:
            self._sock and self._sock.close()
        except OSError:
            pass

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace").rstrip("\r")
                with self._cond:
                    self.lines.append(text)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def type(self, line):
        """Type a line (a shell runs there)."""
        self._sock.sendall((line + "\n").encode())

    def wait(self, pattern, timeout, since=0):
        """Wait for a line matching @pattern among lines[since:]; returns
        (index, match)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    if self.fatal and self.fatal.search(self.lines[i]):
                        tail = "\n".join(self.lines[i:i + 40])
                        raise AssertionError(
                            "waiting for /%s/, the guest printed a fatal "
                            "line:\n%s" % (pattern, tail))
                left = end - time.monotonic()
                if left <= 0 or not self.alive():
                    tail = "\n".join(self.lines[-30:])
                    raise AssertionError(
                        "no console line /%s/ within %d s (alive=%s); "
                        "last lines:\n%s\n%s"
                        % (pattern, timeout, self.alive(), tail,
                           self.on_timeout()))
                self._cond.wait(min(left, 1.0))

    def run(self, cmd, timeout=60):
        """Run @cmd in the shell; returns its output lines."""
        tag = "ha-e2e-%d" % int(time.monotonic() * 1e6)
        since = len(self.lines)
        self.type("echo %s-begin; %s; echo %s-end" % (tag, cmd, tag))
        i, _ = self.wait("^%s-begin$" % tag, timeout, since)
        j, _ = self.wait("^%s-end$" % tag, timeout, i + 1)
        return self.lines[i + 1:j]


class QemuVM:
    """One QEMU process. Start it with start(); stop() kills it (by pid)
    and removes its directory. Console lines are kept in .console."""

    def __init__(self, qemu, args, name="vm", keep_console=None,
                 no_reboot=True):
        self.qemu = qemu
        self.no_reboot = no_reboot
        self.args = list(args)
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="ha-e2e-%s-" % name)
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.serial_path = os.path.join(self.dir, "serial.sock")
        self.log_path = os.path.join(self.dir, "qemu.log")
        self.keep_console = keep_console
        self.proc = None
        self.serial = SerialConsole(
            alive=self.alive,
            on_timeout=lambda: "---- qemu log:\n" + self.log())
        self.events = []
        self._cond = threading.Condition()
        self._qmp = None
        self._qmp_file = None
        self._replies = []
        self._threads = []

    # ---- process ----
    def start(self):
        cmd = [self.qemu] + FIRMWARE + [
            "-nographic", "-nodefaults",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=off"
            % self.serial_path,
            "-serial", "chardev:ser0",
        ] + (["-no-reboot"] if self.no_reboot else []) + self.args
        self.cmdline = cmd
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._connect()
        return self

    def _connect(self):
        end = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("QEMU exited at start (%s): %s"
                                     % (self.proc.returncode, self.log()))
            q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                q.connect(self.qmp_path)
                break
            except OSError:
                q.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self._qmp = q
        self._qmp_file = q.makefile("r")
        try:
            self.serial.connect(self.serial_path)
        except OSError:
            self.proc.wait(timeout=30)
            raise AssertionError("QEMU exited at start (%s): %s"
                                 % (self.proc.returncode, self.log()))
        try:
            greeting = json.loads(self._qmp_file.readline())
            self._send({"execute": "qmp_capabilities"})
            reply = json.loads(self._qmp_file.readline())
        except (OSError, ValueError):
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError("QEMU exited at start (%s): %s"
                                 % (self.proc.returncode, self.log()))
        assert "QMP" in greeting and "return" in reply, (greeting, reply)
        t = threading.Thread(target=self._qmp_reader, daemon=True)
        t.start()
        self._threads.append(t)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        try:
            self._qmp and self._qmp.close()
        except OSError:
            pass
        self.serial.close()
        if self.keep_console:
            try:
                with open(self.keep_console, "w") as f:
                    f.write("\n".join(self.console) + "\n")
                    f.write("---- qemu log\n" + self.log())
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- QMP ----
    def _send(self, obj):
        self._qmp.sendall((json.dumps(obj) + "\n").encode())

    def _qmp_lines(self):
        try:
            for line in self._qmp_file:
                yield line
        except (OSError, ValueError):
            return

    def _qmp_reader(self):
        for line in self._qmp_lines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if "event" in msg:
                    self.events.append(msg)
                else:
                    self._replies.append(msg)
                self._cond.notify_all()
        with self._cond:
            self._replies.append(None)
            self._cond.notify_all()

    def qmp(self, cmd, timeout=120, **args):
        """Run a QMP command; returns its "return" or raises QMPError."""
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = {k.replace("_", "-"): v for k, v in
                                args.items()}
        with self._cond:
            self._send(msg)
            end = time.monotonic() + timeout
            while not self._replies:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no QMP reply to %s" % cmd)
                self._cond.wait(left)
            reply = self._replies.pop(0)
        if reply is None:
            raise AssertionError("QMP closed during %s: %s"
                                 % (cmd, self.log()))
        if "error" in reply:
            raise QMPError(cmd, reply["error"])
        return reply["return"]

    def hmp(self, line):
        return self.qmp("human-monitor-command", command_line=line)

    def wait_event(self, name, timeout, since=0, pred=None):
        """Wait for event @name among events[since:] (matching @pred);
        returns (index, event)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.events)):
                    e = self.events[i]
                    if e["event"] == name and (pred is None or pred(e)):
                        return i, e
                left = end - time.monotonic()
                if left <= 0 or not self.alive():
                    raise AssertionError("no %s event within %d s (events: "
                                         "%s)" % (name, timeout, [
                                             e["event"] for e in
                                             self.events[since:]]))
                self._cond.wait(min(left, 1.0))

    # ---- serial console ----
    @property
    def console(self):
        return self.serial.lines

    def type(self, line):
        """Type a line on the serial console (a shell runs there)."""
        self.serial.type(line)

    def wait_console(self, pattern, timeout, since=0):
        """Wait for a console line matching @pattern among lines[since:];
        returns (index, match)."""
        return self.serial.wait(pattern, timeout, since)

    def run(self, cmd, timeout=60):
        """Run @cmd in the guest's shell; returns its output lines."""
        return self.serial.run(cmd, timeout)


# ---- host-side facts about QEMU's memory ----

def memfd_blocks(pid, name_part="memory-backend-memfd"):
    """Bytes the kernel has allocated for QEMU's guest-RAM memfd (st_blocks
    of the fd whose link names it), or None if there is none."""
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if target.startswith("/memfd:") and name_part in target:
            return os.stat(os.path.join(fddir, fd)).st_blocks * 512
    return None


def rss_bytes(pid):
    """Resident set size of a process (anonymous + file + shmem)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_anon_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def memfd_fd_path(pid, name_part="memory-backend-memfd"):
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if target.startswith("/memfd:") and name_part in target:
            return os.path.join(fddir, fd)
    return None


def memfd_data_bytes(pid, offset, size):
    """Bytes of [offset, offset + size) of QEMU's guest-RAM memfd that hold
    data (are not holes), as the kernel reports with SEEK_DATA/SEEK_HOLE.
    Reading nothing, this populates nothing."""
    path = memfd_fd_path(pid)
    if path is None:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        pos, end, total = offset, offset + size, 0
        while pos < end:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                break
            if data >= end:
                break
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            total += min(hole, end) - data
            pos = hole
        return total
    finally:
        os.close(fd)


def present_bytes(pid, addr, size):
    """Bytes of QEMU's virtual range [addr, addr + size) that are present
    in its page tables (/proc/PID/pagemap; needs root for the flags)."""
    page = 4096
    n = size // page
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(addr // page * 8)
        buf = f.read(n * 8)
    total = 0
    for i in range(0, len(buf), 8):
        if buf[i + 7] & 0x80:  # bit 63: present
            total += page
    return total
