# SPDX-License-Identifier: GPL-2.0-or-later
"""The HTTP API against clients that try to take it from everyone else
(issue 14): idle and slow connections, one address flooding, the
listener after its connection limit, a process out of fds, and request
targets whose decoding would change what they address. Real daemon, real
sockets; every wait is for a state, with a generous give-up time."""

import http.client
import os
import resource
import socket
import time
import unittest

from harness import Daemon, SimGuest, wait_for, main

GIVE_UP = 60  # seconds; a state that does not come by then never will


def tcp_connect(d, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(GIVE_UP)
    s.bind((source, 0))
    s.connect(("127.0.0.1", d.port))
    return s


def unix_connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(GIVE_UP)
    s.connect(d.sock)
    return s


def closed_by_peer(s):
    """Block until the daemon ends the connection; True if it did (EOF or
    reset) without sending anything, False if it sent bytes."""
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        return True
    return data == b""


def tcp_conns(port):
    """Sockets on local port that still hold an fd (not LISTEN, not
    TIME_WAIT)."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.split(":")[1], 16) == port and \
                    state not in ("0A", "06"):
                n += 1
    return n


def get_on(s, path="/healthz"):
    """One GET on the connected socket s; the status and body."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               % path).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def served(connect):
    """A fresh connection made by connect() gets an answer; the status."""
    s = connect()
    try:
        return get_on(s)[0]
    finally:
        s.close()


class Limits(unittest.TestCase):
    def daemon(self, **api):
        d = Daemon()
        d.config["api"].update(api)
        d.write_config()
        self.d = d.start()
        self.addCleanup(self.d.cleanup)
        # The daemon's ends of the harness's health checks closed: they
        # would count against 127.0.0.1 and free a slot later.
        wait_for(lambda: not tcp_conns(d.port), timeout=GIVE_UP,
                 what="no connection to the daemon")
        self.socks = []
        self.addCleanup(self.close_all)
        return self.d

    def close_all(self):
        for s in self.socks:
            s.close()

    def hold(self, connect, n):
        """n connections made with connect() and kept open, idle."""
        new = [connect() for _ in range(n)]
        self.socks.extend(new)
        return new

    def test_listener_accepts_after_the_limit_drained(self):
        # Every slot of both listeners taken by idle connections, more
        # waiting in the backlog; the idle timeout closes them all. Then
        # both listeners must accept again (before: MHD had dropped the
        # listening socket from its epoll set at the limit, and no run
        # came to put it back).
        d = self.daemon(connections_max=8, connections_per_client=8,
                        idle_timeout_s=2, header_timeout_s=3600)
        for connect in (lambda: tcp_connect(d), lambda: unix_connect(d)):
            held = self.hold(connect, 8)
            queued = self.hold(connect, 4)
            for s in held + queued:
                self.assertTrue(closed_by_peer(s))
        self.assertEqual(served(lambda: tcp_connect(d)), 200)
        self.assertEqual(served(lambda: unix_connect(d)), 200)
        # And again: the limit reached a second time does not wedge it.
        held = self.hold(lambda: tcp_connect(d), 8)
        for s in held:
            self.assertTrue(closed_by_peer(s))
        self.assertEqual(served(lambda: tcp_connect(d)), 200)

    def test_one_address_cannot_take_the_listener(self):
        d = self.daemon(connections_max=16, connections_per_client=4,
                        idle_timeout_s=3600, header_timeout_s=3600)
        held = self.hold(lambda: tcp_connect(d), 4)
        # 127.0.0.1 is at its share: more from it are refused at once...
        for s in self.hold(lambda: tcp_connect(d), 20):
            self.assertTrue(closed_by_peer(s))
        # (said in the log, not once per refusal)
        self.assertLessEqual(d.read_log().count("connections_per_client"),
                             1)
        # ...while its four stay open and another address is served.
        self.assertEqual(served(lambda: tcp_connect(d, "127.0.0.2")), 200)
        self.assertEqual(served(lambda: tcp_connect(d, "127.0.0.3")), 200)
        self.assertEqual(d.get("/healthz", unix=True).status, 200)
        # The held ones still work.
        self.assertEqual(get_on(held[0])[0], 200)

    def test_one_uid_cannot_take_the_unix_socket(self):
        # On the unix socket every peer has the same address; the share
        # is per uid (SO_PEERCRED). This test is one uid: over its share
        # it is refused, and served again once it lets go.
        d = self.daemon(connections_max=16, connections_per_client=4,
                        idle_timeout_s=3600, header_timeout_s=3600)
        held = self.hold(lambda: unix_connect(d), 4)
        for s in self.hold(lambda: unix_connect(d), 6):
            self.assertTrue(closed_by_peer(s))
        self.assertEqual(served(lambda: tcp_connect(d)), 200)
        self.assertEqual(get_on(held[0])[0], 200)  # closes it
        wait_for(lambda: served(lambda: unix_connect(d)) == 200,
                 timeout=GIVE_UP, what="the uid to be served again")

    def test_slow_request_head_is_cut_off(self):
        # A head trickling in one header at a time resets MHD's idle
        # timeout forever; api.header_timeout_s bounds the whole head.
        d = self.daemon(idle_timeout_s=3600, header_timeout_s=2)
        s = self.hold(lambda: tcp_connect(d), 1)[0]
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(0.2)
        end = time.monotonic() + GIVE_UP
        cut = False
        while time.monotonic() < end and not cut:
            try:
                s.sendall(b"X-Slow: 1\r\n")
                data = s.recv(4096)
                cut = data == b""
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                cut = True
        self.assertTrue(cut, "the slow head was never cut off")
        # A connection that says nothing is cut off too (no idle
        # timeout would before an hour).
        self.assertTrue(closed_by_peer(self.hold(lambda: unix_connect(d),
                                                 1)[0]))
        # A keep-alive connection gets the same time for its next head.
        s = self.hold(lambda: tcp_connect(d), 1)[0]
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        self.assertIn(b" 200 ", data.split(b"\r\n")[0])
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
        self.assertEqual(d.get("/healthz").status, 200)
        self.assertIn("without a request head", d.read_log())

    def test_out_of_fds_backs_off(self):
        # With no fd left, accept() fails at once on every try. MHD's
        # answer is to try again at once, a busy loop writing two log
        # lines per try. The daemon backs off and logs rarely.
        d = self.daemon(idle_timeout_s=3600, header_timeout_s=3600)
        pid = d.proc.pid
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = {int(f) for f in os.listdir("/proc/%d/fd" % pid)}
        lowest_free = min(set(range(len(used) + 1)) - used)
        # Below the lowest free number: not one more fd.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, old[1]))
        try:
            waiting = self.hold(lambda: tcp_connect(d), 3)
            wait_for(lambda: "Too many open files" in d.read_log(),
                     timeout=GIVE_UP, what="accept() to fail")
            # Let it try for a while (no bound on what it may take).
            time.sleep(3)
            with open(d.log_path, errors="replace") as f:
                lines = [ln for ln in f
                         if "open files" in ln or "resource limit" in ln]
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        # Rate-limited: one line per 10 s (a busy loop wrote thousands).
        # (The harness's health checks are gone, see daemon(): their fds
        # would be free again for one accept.)
        self.assertLessEqual(len(lines), 2, lines[:5])
        # With fds back, the clients that waited are served.
        for s in waiting:
            self.assertEqual(get_on(s)[0], 200)
        self.assertEqual(d.get("/healthz").status, 200)


def sim_connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(GIVE_UP)
    s.connect(d.sim_sock)
    return s


class SimSocket(unittest.TestCase):
    """The sim guests' socket against connections that never say HELLO
    and against a process out of fds."""

    def setUp(self):
        self.d = Daemon().start()
        self.addCleanup(self.d.cleanup)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def test_silent_connections_are_capped_and_timed_out(self):
        held = [sim_connect(self.d) for _ in range(16)]
        self.socks.extend(held)
        # The seventeenth without HELLO is refused...
        extra = sim_connect(self.d)
        self.socks.append(extra)
        self.assertTrue(closed_by_peer(extra))
        # ...and the silent ones are closed after the HELLO timeout.
        for s in held:
            self.assertTrue(closed_by_peer(s))
        g = SimGuest(self.d, "late", memory="64M")
        self.addCleanup(g.stop)
        wait_for(lambda: "late" in self.d.vms(), timeout=GIVE_UP,
                 what="a guest to register after them")

    def test_out_of_fds_backs_off(self):
        d = self.d
        pid = d.proc.pid
        wait_for(lambda: not tcp_conns(d.port), timeout=GIVE_UP,
                 what="no connection to the daemon")
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = {int(f) for f in os.listdir("/proc/%d/fd" % pid)}
        lowest_free = min(set(range(len(used) + 1)) - used)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, old[1]))
        try:
            self.socks.extend(sim_connect(d) for _ in range(2))
            wait_for(lambda: "cannot accept a guest" in d.read_log(),
                     timeout=GIVE_UP, what="accept() to fail")
            time.sleep(3)
            with open(d.log_path, errors="replace") as f:
                lines = [ln for ln in f if "cannot accept a guest" in ln]
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        self.assertLessEqual(len(lines), 1, lines[:5])
        g = SimGuest(d, "after", memory="64M")
        self.addCleanup(g.stop)
        wait_for(lambda: "after" in d.vms(), timeout=GIVE_UP,
                 what="a guest to register with fds back")


class GrpcListener(unittest.TestCase):
    def test_out_of_fds_backs_off(self):
        # The gRPC listener's accept() is the daemon's own, on the loop:
        # the same busy loop, the same back-off.
        d = Daemon().start()
        self.addCleanup(d.cleanup)
        pid = d.proc.pid
        wait_for(lambda: not tcp_conns(d.port), timeout=GIVE_UP,
                 what="no connection to the daemon")
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = {int(f) for f in os.listdir("/proc/%d/fd" % pid)}
        lowest_free = min(set(range(len(used) + 1)) - used)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, old[1]))
        try:
            s = socket.create_connection(("127.0.0.1", d.grpc_port),
                                         timeout=GIVE_UP)
            self.addCleanup(s.close)
            wait_for(lambda: "grpc: accept: Too many" in d.read_log(),
                     timeout=GIVE_UP, what="accept() to fail")
            time.sleep(3)
            with open(d.log_path, errors="replace") as f:
                lines = [ln for ln in f if "grpc: accept:" in ln]
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        self.assertLessEqual(len(lines), 1, lines[:5])
        # With fds back, the connection that waited is taken (gRPC core
        # answers the HTTP/2 preface with its SETTINGS).
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                  b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        self.assertTrue(s.recv(9))


class Targets(unittest.TestCase):
    """A request target is judged as it was sent, not as decoded."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.g = SimGuest(cls.d, "alpha", memory="128M")
        wait_for(lambda: "alpha" in cls.d.vms(), timeout=GIVE_UP,
                 what="alpha to register")

    @classmethod
    def tearDownClass(cls):
        cls.g.stop()
        cls.d.cleanup()

    def raw(self, target, unix=False):
        conn = (http.client.HTTPConnection("127.0.0.1", self.d.port,
                                           timeout=GIVE_UP))
        if unix:
            s = unix_connect(self.d)
        else:
            s = tcp_connect(self.d)
        conn.sock = s
        try:
            conn.putrequest("GET", target, skip_accept_encoding=True)
            conn.endheaders()
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            conn.close()

    def refused(self, target, reason, unix=False):
        status, ctype, body = self.raw(target, unix=unix)
        self.assertEqual(status, 400, (target, body))
        self.assertEqual(ctype, "application/problem+json")
        self.assertIn(reason, body.decode())

    def test_encoded_nul_is_refused(self):
        self.assertEqual(self.raw("/vms/alpha")[0], 200)
        self.refused("/vms/alpha%00junk", "NUL")
        self.refused("/vms/alpha%00", "NUL", unix=True)
        self.refused("/vms/alpha/memory?x=%00", "NUL")

    def test_encoded_slash_is_refused(self):
        self.assertEqual(self.raw("/vms/alpha/memory")[0], 200)
        self.refused("/vms/alpha%2Fmemory", "encoded slash")
        self.refused("/vms/alpha%2fmemory", "encoded slash", unix=True)
        self.refused("/%2Fvms", "encoded slash")

    def test_other_escapes_still_work(self):
        # An escaped ordinary character addresses what it decodes to; a
        # %2F in the query is data, not a path segment.
        self.assertEqual(self.raw("/vms/%61lpha")[0], 200)
        self.assertEqual(self.raw("/vms/alpha?x=a%2Fb")[0], 200)
        self.assertEqual(self.raw("/vms/beta%25")[0], 404)


if __name__ == "__main__":
    main()
