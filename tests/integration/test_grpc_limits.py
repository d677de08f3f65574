# SPDX-License-Identifier: GPL-2.0-or-later
"""The gRPC listeners' connection limits against a client that opens
connections and leaves them idle: gRPC core would hold each for ever
(no handshake timeout for a connection handed to it), so without limits
one client could take every fd of the daemon. grpc.connections_per_client
caps one IP address (one uid on the unix socket), grpc.connections_max a
listener; a connection over either is closed at once.

The held connections are raw sockets; the calls that must still get
through are made with Debian's python3-grpcio (the standard health
service, so no .proto is needed). grpcio cannot choose its source
address, so a call "from 127.0.0.2" goes through a relay whose
connections to the daemon are bound to that address. Every check waits
for the event (a connection served, or closed by the daemon), with a
generous give-up time.
"""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from harness import Daemon, wait_for, main  # noqa: E402

GIVE_UP = 60  # seconds; a state that does not come by then never will
# The client's connection preface and an empty SETTINGS frame: a server
# that takes the connection answers with its own SETTINGS.
PREFACE = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
           b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def tcp_connect(d, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(GIVE_UP)
    s.bind((source, 0))
    s.connect(("127.0.0.1", d.grpc_port))
    return s


def unix_connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(GIVE_UP)
    s.connect(d.config["grpc"]["unix"])
    return s


def answer(s):
    """Send the HTTP/2 preface on s and wait for the daemon: True if gRPC
    core answered (a SETTINGS frame), False if the connection was closed
    (EOF or reset) without a byte."""
    try:
        s.sendall(PREFACE)
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return False
    if not data:
        return False
    if len(data) < 9 or data[3] != 4:
        raise AssertionError("not an HTTP/2 SETTINGS frame: %r" % data[:32])
    return True


def served(connect):
    """A fresh connection made by connect() is taken by gRPC core."""
    s = connect()
    try:
        return answer(s)
    finally:
        s.close()


def health(target):
    """grpc.health.v1.Health/Check over a channel of its own to target;
    the answer's bytes."""
    ch = grpc.insecure_channel(target,
                               options=[("grpc.use_local_subchannel_pool",
                                         1)])
    try:
        return ch.unary_unary(HEALTH_CHECK)(b"", timeout=GIVE_UP)
    finally:
        ch.close()


class Relay:
    """A TCP relay on 127.0.0.1 to the daemon's gRPC port whose
    connections to the daemon come from @source."""

    def __init__(self, d, source):
        self.d = d
        self.source = source
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.target = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self.lsock.accept()
            except OSError:
                return
            try:
                up = tcp_connect(self.d, self.source)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            down.settimeout(None)
            self.socks += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.lsock.close()
        for s in self.socks:
            s.close()


class GrpcLimits(unittest.TestCase):
    def daemon(self, **grpc_limits):
        d = Daemon()
        d.config["grpc"].update(grpc_limits)
        d.write_config()
        self.d = d.start()
        self.addCleanup(self.d.cleanup)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])
        return self.d

    def hold(self, connect, n):
        """n connections made with connect() and kept open, idle."""
        new = [connect() for _ in range(n)]
        self.socks.extend(new)
        return new

    def relay(self, source):
        r = Relay(self.d, source)
        self.addCleanup(r.close)
        return r

    def log(self):
        with open(self.d.log_path, errors="replace") as f:
            return f.read()

    def test_one_address_cannot_take_the_listener(self):
        d = self.daemon(connections_max=16, connections_per_client=4)
        tcp = "127.0.0.1:%d" % d.grpc_port
        held = self.hold(lambda: tcp_connect(d), 4)
        # 127.0.0.1 is at its share: more from it are closed at once,
        # before gRPC core has them...
        start = time.monotonic()
        for s in self.hold(lambda: tcp_connect(d), 20):
            self.assertFalse(answer(s))
        # (said in the log once per 10 s, not once per refusal)
        log = self.log()
        self.assertIn("127.0.0.1 has 4 connections "
                      "(grpc.connections_per_client)", log)
        self.assertLessEqual(log.count("grpc.connections_per_client"),
                             1 + (time.monotonic() - start) // 10)
        # ...while another address gets its calls through, and so does
        # the unix socket.
        self.assertEqual(health(self.relay("127.0.0.2").target), SERVING)
        self.assertEqual(health("unix:" + d.config["grpc"]["unix"]),
                         SERVING)
        # The idle four were the ones taken.
        for s in held:
            self.assertTrue(answer(s))
        # Once they go, 127.0.0.1 is served again (when gRPC core has
        # closed them: it does not say when, the daemon looks).
        for s in held:
            s.close()
        wait_for(lambda: served(lambda: tcp_connect(d)), timeout=GIVE_UP,
                 what="127.0.0.1 to be served again")
        self.assertEqual(health(tcp), SERVING)

    def test_listener_limit(self):
        # Six slots, four per client: two clients fill the listener, and
        # a third one, under its own share, is refused for the
        # listener's sake.
        d = self.daemon(connections_max=6, connections_per_client=4)
        self.hold(lambda: tcp_connect(d, "127.0.0.1"), 3)
        two = self.hold(lambda: tcp_connect(d, "127.0.0.2"), 3)
        start = time.monotonic()
        for source in ("127.0.0.3", "127.0.0.1", "127.0.0.3"):
            s = self.hold(lambda: tcp_connect(d, source), 1)[0]
            self.assertFalse(answer(s), source)
        log = self.log()
        self.assertIn("6 connections open (grpc.connections_max)", log)
        self.assertLessEqual(log.count("grpc.connections_max"),
                             1 + (time.monotonic() - start) // 10)
        self.assertNotIn("grpc.connections_per_client", log)
        # The unix socket is a listener of its own.
        self.assertEqual(health("unix:" + d.config["grpc"]["unix"]),
                         SERVING)
        # One slot frees: the third client gets it...
        two[0].close()
        three = []

        def third_served():
            s = self.hold(lambda: tcp_connect(d, "127.0.0.3"), 1)[0]
            if answer(s):
                three.append(s)
                return True
            return False
        wait_for(third_served, timeout=GIVE_UP,
                 what="127.0.0.3 to get the freed slot")
        # ...and, kept, fills the listener again.
        self.assertFalse(answer(self.hold(
            lambda: tcp_connect(d, "127.0.0.4"), 1)[0]))
        self.assertTrue(answer(self.hold(lambda: unix_connect(d), 1)[0]))

    def test_idle_connections_are_closed(self):
        """A connection that never calls is closed after
        api.idle_timeout_s, so it cannot hold its slot for ever: with
        every slot of one client held idle, that client is served again
        once the daemon has closed them (before, they stayed open for
        good)."""
        d = Daemon()
        d.config["grpc"].update({"connections_per_client": 2})
        d.config["api"]["idle_timeout_s"] = 2
        d.write_config()
        self.d = d.start()
        self.addCleanup(self.d.cleanup)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])
        held = self.hold(lambda: tcp_connect(self.d), 2)
        for s in held:
            self.assertTrue(answer(s))  # both taken by gRPC core
        self.assertFalse(served(lambda: tcp_connect(self.d)))
        # Each held one ends: GOAWAY and close, or a plain close.
        for s in held:
            while True:
                try:
                    data = s.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    break
                if not data:
                    break
        wait_for(lambda: served(lambda: tcp_connect(self.d)),
                 timeout=GIVE_UP, what="a slot after the idle close")

    def test_one_uid_cannot_take_the_unix_socket(self):
        # On the unix socket every peer has the same address; the share
        # is per uid (SO_PEERCRED). This test is one uid.
        d = self.daemon(connections_max=16, connections_per_client=4)
        unix = "unix:" + d.config["grpc"]["unix"]
        held = self.hold(lambda: unix_connect(d), 4)
        for s in self.hold(lambda: unix_connect(d), 10):
            self.assertFalse(answer(s))
        self.assertIn("uid %d has 4 connections "
                      "(grpc.connections_per_client)" % os.geteuid(),
                      self.log())
        self.assertEqual(health("127.0.0.1:%d" % d.grpc_port), SERVING)
        for s in held:
            self.assertTrue(answer(s))
            s.close()
        wait_for(lambda: served(lambda: unix_connect(d)), timeout=GIVE_UP,
                 what="the uid to be served again")
        self.assertEqual(health(unix), SERVING)


if __name__ == "__main__":
    main()
