# SPDX-License-Identifier: GPL-2.0-or-later
"""The systemd side of hyperallocd, without systemd as PID 1: the unit
files verify, the daemon speaks sd_notify (READY, STATUS, WATCHDOG,
RELOADING, STOPPING) to a NOTIFY_SOCKET the test owns, and it serves the
API on a socket handed over by systemd-socket-activate."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (TOP, HYPERALLOCD, Daemon, free_port, wait_for, main)
import http.client


class Notify:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait(self, needle, timeout=20):
        end = time.monotonic() + timeout
        while True:
            for m in self.messages:
                if needle in m:
                    return m
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (needle, self.messages))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.extend(data.decode().split("\n"))

    def close(self):
        self.sock.close()


class Units(unittest.TestCase):
    def test_systemd_analyze_verify(self):
        # Verify the units as installed, with ExecStart pointing at the
        # binaries of this build.
        tmp = tempfile.mkdtemp(prefix="ha-units-")
        try:
            for unit in ("hyperallocd.service", "hyperallocd.socket"):
                with open(os.path.join(TOP, "systemd", unit)) as f:
                    text = f.read()
                text = text.replace("/usr/sbin/hyperallocd", HYPERALLOCD)
                with open(os.path.join(tmp, unit), "w") as f:
                    f.write(text)
            r = subprocess.run(
                ["systemd-analyze", "verify", "--man=no",
                 os.path.join(tmp, "hyperallocd.service"),
                 os.path.join(tmp, "hyperallocd.socket")],
                capture_output=True, text=True)
            # Complaints about this machine lacking a running manager are
            # not about our files; anything naming our units is.
            ours = [l for l in (r.stdout + r.stderr).splitlines()
                    if "hyperallocd." in l]
            self.assertEqual(ours, [], r.stdout + r.stderr)
        finally:
            shutil.rmtree(tmp)

    def test_default_config_is_valid(self):
        r = subprocess.run([HYPERALLOCD, "--check-config", "--config",
                            os.path.join(TOP, "systemd", "hyperallocd.json")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)

    def test_check_config_names_line(self):
        tmp = tempfile.mkdtemp()
        try:
            p = os.path.join(tmp, "bad.json")
            with open(p, "w") as f:
                f.write('{\n  "policy": {\n    "tick_ms": "fast"\n  }\n}\n')
            r = subprocess.run([HYPERALLOCD, "--check-config", "--config", p],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("bad.json:3: policy.tick_ms", r.stderr)
        finally:
            shutil.rmtree(tmp)


class NotifyProtocol(unittest.TestCase):
    def test_ready_status_watchdog_reload_stopping(self):
        d = Daemon()
        n = Notify(os.path.join(d.dir, "notify.sock"))
        d.env = {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "400000"}
        try:
            d.start(wait=False)
            n.wait("READY=1")
            n.wait("STATUS=")
            n.wait("WATCHDOG=1")
            self.assertEqual(d.get("/healthz").status, 200)
            # A bad config on reload is rejected and the old one kept.
            with open(d.config_path) as f:
                good = f.read()
            with open(d.config_path, "w") as f:
                f.write("{ broken")
            d.proc.send_signal(signal.SIGHUP)
            n.wait("RELOADING=1")
            wait_for(lambda: "keeping the running configuration"
                     in d.read_log(), what="reload refusal in the log")
            self.assertEqual(d.get("/healthz").status, 200)
            with open(d.config_path, "w") as f:
                f.write(good)
            n.messages.clear()
            d.proc.send_signal(signal.SIGHUP)
            n.wait("RELOADING=1")
            n.wait("READY=1")
            d.proc.send_signal(signal.SIGTERM)
            n.wait("STOPPING=1")
            self.assertEqual(d.proc.wait(timeout=20), 0)
        finally:
            n.close()
            d.cleanup()


class SocketActivation(unittest.TestCase):
    def test_serves_on_activated_socket(self):
        d = Daemon()
        port = free_port()
        # The daemon's own TCP listener is off: only the activated socket.
        d.config["api"]["tcp"] = None
        d.write_config()
        log = open(d.log_path, "ab")
        proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
             "--fdname=http", HYPERALLOCD, "--config", d.config_path],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            def ok():
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port,
                                                   timeout=5)
                    try:
                        c.request("GET", "/healthz")
                        return c.getresponse().status == 200
                    finally:
                        c.close()
                except OSError:
                    return False
            wait_for(ok, timeout=20, what="API on the activated socket")
            # The unix socket is still opened by the daemon itself.
            self.assertEqual(d.get("/healthz", unix=True).status, 200)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = "timeout"
            log.close()
            d.cleanup()
        self.assertEqual(rc, 0, d.read_log())


if __name__ == "__main__":
    main()
