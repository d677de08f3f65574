# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness for the integration tests: start a real hyperallocd with
its own config, runtime directory and free ports, talk real HTTP to it over
TCP and its unix socket, and clean up whatever happens.

Tests run with Debian's /usr/bin/python3 and only the standard library.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
HYPERALLOCD = os.path.join(BUILD, "daemon", "hyperallocd")
SIMGUEST = os.path.join(BUILD, "tools", "ha-simguest")
HACTL = os.path.join(BUILD, "tools", "hactl")
TRACES = os.path.join(TOP, "tools", "traces")
MIB = 1 << 20
# The pinned npm clients (tests/npm/, installed by make check) and the
# scripts that drive them.
NODE_MODULES = os.path.join(TOP, "build", "npm", "tests", "node_modules")
NODE_SCRIPTS = os.path.join(TOP, "tests", "integration", "node")


def node_env():
    env = dict(os.environ)
    env["NODE_PATH"] = NODE_MODULES
    env["HA_NODE_MODULES"] = NODE_MODULES
    return env


def node(script, *args, timeout=300):
    """Run tests/integration/node/<script> with Node.js and the pinned
    packages; returns the CompletedProcess (stdout and stderr as text)."""
    if not os.path.isdir(NODE_MODULES):
        raise AssertionError("%s is missing: make check installs it "
                             "(tools/npm-ci.sh)" % NODE_MODULES)
    return subprocess.run(["node", os.path.join(NODE_SCRIPTS, script)]
                          + [str(a) for a in args], env=node_env(),
                          capture_output=True, text=True, timeout=timeout)


def node_popen(script, *args):
    """The same, running: its stdout is a pipe of text lines."""
    return subprocess.Popen(["node", os.path.join(NODE_SCRIPTS, script)]
                            + [str(a) for a in args], env=node_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


_ports_given = set()


def free_port():
    """A free TCP port on loopback, never one this process handed out
    before (the kernel may offer a just-closed port again, and a daemon
    given the same port for HTTP and gRPC cannot start)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; return that value."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                         % (timeout, what, last))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Daemon:
    """A hyperallocd process with a private runtime directory."""

    def __init__(self, guests=(), policy=None, extra=None, workdir=None,
                 env=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="ha-it-")
        self.own_dir = workdir is None
        self.port = free_port()
        self.grpc_port = free_port()
        self.sock = os.path.join(self.dir, "hyperallocd.sock")
        self.sim_sock = os.path.join(self.dir, "sim.sock")
        self.token_file = os.path.join(self.dir, "api-token")
        self.state_file = os.path.join(self.dir, "state.json")
        self.log_path = os.path.join(self.dir, "hyperallocd.log")
        self.config_path = os.path.join(self.dir, "hyperallocd.json")
        self.proc = None
        self.env = env
        cfg = {
            "log_level": "debug",
            "state_file": self.state_file,
            "runtime_dir": self.dir,
            "api": {"tcp": "127.0.0.1:%d" % self.port, "unix": self.sock,
                    "token_file": self.token_file},
            "grpc": {"tcp": "127.0.0.1:%d" % self.grpc_port,
                     "unix": os.path.join(self.dir, "grpc.sock")},
            "sim": {"socket": self.sim_sock, "simguest": SIMGUEST,
                    "trace_dir": TRACES, "guests": list(guests)},
            "policy": policy or {"name": "static", "tick_ms": 200,
                                 "host_reserve": "256M"},
            "defaults": {"min_memory": "64M"},
        }
        if extra:
            cfg.update(extra)
        self.config = cfg
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(
            [HYPERALLOCD, "--config", self.config_path],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            wait_for(self.healthy, timeout=20, what="hyperallocd to serve")
        return self

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("hyperallocd exited with %s; log:\n%s"
                                 % (self.proc.returncode, self.read_log()))
        try:
            return self.get("/healthz").status == 200
        except OSError:
            return False

    @property
    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()

    def request(self, method, path, body=None, token=None, unix=False,
                headers=None, timeout=10):
        conn = (UnixHTTPConnection(self.sock, timeout=timeout) if unix else
                http.client.HTTPConnection("127.0.0.1", self.port,
                                           timeout=timeout))
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body, **kw):
        kw.setdefault("token", self.token)
        return self.request("PUT", path, body=body, **kw)

    def vms(self):
        r = self.get("/vms")
        assert r.status == 200, r
        return {v["id"]: v for v in r.json()["vms"]}

    def memory(self, vm):
        r = self.get("/vms/%s/memory" % vm)
        assert r.status == 200, r
        return r.json()

    def workload(self, vm):
        """What a sim guest last reported of its workload (the "guest"
        object of GET /vms/{id}), or None before its first STATUS."""
        r = self.get("/vms/%s" % vm)
        assert r.status == 200, r
        return r.json().get("guest")

    def wait_workload(self, vm, timeout=20):
        """Wait until sim guest vm holds (nine tenths of) what its trace
        asks for: its working set is in place. Returns the status."""
        def holding():
            g = self.workload(vm)
            if g and g["workload_target_bytes"] > 0 and \
                    g["allocated_bytes"] * 10 >= \
                    g["workload_target_bytes"] * 9:
                return g
            return None
        return wait_for(holding, timeout=timeout,
                        what="%s to hold its working set" % vm)

    def wait_ticks(self, n, timeout=60):
        """Wait until the engine has run n more ticks (the metric
        hyperalloc_policy_ticks_total): n decisions of the policy have
        been applied. The give-up time is generous: on a loaded machine
        the daemon's timer can lag far behind its 200 ms."""
        def ticks():
            r = self.get("/metrics")
            assert r.status == 200, r
            for line in r.body.decode().splitlines():
                if line.startswith("hyperalloc_policy_ticks_total "):
                    return int(line.split()[1])
            raise AssertionError("no hyperalloc_policy_ticks_total")
        start = ticks()
        wait_for(lambda: ticks() >= start + n, timeout=timeout,
                 what="%d engine ticks" % n)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self, check=True):
        """Stop (SIGTERM) and remove the work directory. A daemon that
        does not exit 0 — a crash, a sanitizer report at exit — fails the
        test that owns it."""
        rc = self.stop()
        log = self.read_log()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if check and rc not in (0, None):
            raise AssertionError("hyperallocd exited with %s; log:\n%s"
                                 % (rc, log))


class SimGuest:
    """An ha-simguest started by the test (not by the daemon)."""

    def __init__(self, daemon, name, memory="256M", trace="steady",
                 vcpus=2, time_scale=1.0, extra=()):
        self.name = name
        self.log_path = os.path.join(daemon.dir, "guest-%s.log" % name)
        self.log = open(self.log_path, "ab")
        args = [SIMGUEST, "--name", name, "--memory", str(memory),
                "--trace", trace, "--trace-dir", TRACES, "--vcpus",
                str(vcpus), "--time-scale", str(time_scale), "--socket",
                daemon.sim_sock, "--loop"] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def memfd_blocks_bytes(self):
        """The kernel's own account of the guest RAM memfd: st_blocks."""
        fddir = "/proc/%d/fd" % self.proc.pid
        best = 0
        for fd in os.listdir(fddir):
            try:
                target = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            if target.startswith("/memfd:"):
                st = os.stat(os.path.join(fddir, fd))
                best = max(best, st.st_blocks * 512)
        return best

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class SSE:
    """A real Server-Sent Events client on a raw socket (HTTP/1.1, with or
    without chunked transfer encoding)."""

    def __init__(self, daemon, last_id=None, unix=False):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(daemon.sock)
        else:
            self.sock = socket.create_connection(("127.0.0.1", daemon.port),
                                                 timeout=10)
        req = "GET /events HTTP/1.1\r\nHost: localhost\r\n"
        if last_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_id
        req += "Accept: text/event-stream\r\n\r\n"
        self.sock.sendall(req.encode())
        self.raw = b""
        self.text = b""
        self.events = []
        while b"\r\n\r\n" not in self.raw:
            self._recv(10)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        self.headers = head.decode(errors="replace").lower()
        self.chunked = "transfer-encoding: chunked" in self.headers

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("SSE stream closed")
        self.raw += data

    def _dechunk(self):
        if not self.chunked:
            self.text += self.raw
            self.raw = b""
            return
        while True:
            nl = self.raw.find(b"\r\n")
            if nl < 0:
                return
            size = int(self.raw[:nl].split(b";")[0] or b"0", 16)
            if len(self.raw) < nl + 2 + size + 2:
                return
            self.text += self.raw[nl + 2:nl + 2 + size]
            self.raw = self.raw[nl + 2 + size + 2:]

    def _parse(self):
        self._dechunk()
        t = self.text.replace(b"\r\n", b"\n")
        blocks = t.split(b"\n\n")
        self.text = blocks.pop()
        for block in blocks:
            ev, fields = None, {}
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    try:
                        ev = json.loads(line[5:].strip())
                    except ValueError:
                        pass
                elif line.startswith(b"id:"):
                    fields["_id"] = line[3:].strip().decode()
                elif line.startswith(b"event:"):
                    fields["_event"] = line[6:].strip().decode()
            if ev:
                # The SSE fields as "_id" and "_event" of the data.
                ev.update(fields)
                self.events.append(ev)

    def wait(self, pred, timeout=10):
        """Wait for an event (the JSON of its data: line) matching pred."""
        end = time.monotonic() + timeout
        # What came with the response's head may hold events already.
        self._parse()
        while True:
            for ev in self.events:
                if pred(ev):
                    return ev
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching event; got %r"
                                     % [(e.get("type"), e.get("vm"))
                                        for e in self.events])
            try:
                self._recv(min(left, 1.0))
            except socket.timeout:
                continue
            self._parse()

    def close(self):
        self.sock.close()


def main():
    unittest.main(verbosity=2)
