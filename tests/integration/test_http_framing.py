# SPDX-License-Identifier: GPL-2.0-or-later
"""The HTTP API against requests libmicrohttpd would answer itself in
HTML, hold, or read in a way another parser would not (issue 14, item
7): a malformed or oversized head, another protocol's bytes, framing
that says two things, a body that is not JSON, a body cut short. Every
answer must be the API's problem+json object; a connection whose framing
is in doubt must be closed after it, and one that can never become a
request must be closed rather than held. Real daemon, raw sockets; the
daemon's own timeouts are an hour, so a held connection shows as one
that is still open when the test gives up."""

import json
import socket
import unittest

from harness import Daemon, SimGuest, wait_for, main

GIVE_UP = 60  # seconds; an answer that does not come by then never will
MIB = 1 << 20
PATH = "/vms/alpha/memory"


class Reply:
    def __init__(self, status, headers, body, closed):
        self.status = status
        self.headers = headers
        self.body = body
        self.closed = closed  # the daemon ended the connection after it

    def problem(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%s %r %r closed=%s>" % (self.status, self.headers,
                                         self.body[:300], self.closed)


def read_reply(s, wait_close):
    """One answer from socket s: status, headers (lower-case names),
    body; with wait_close, whether the daemon then closes the
    connection (False if it is still open when the test gives up)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed without an answer "
                                 "(got %r)" % data)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    closed = None
    if wait_close:
        try:
            rest = s.recv(65536)
            closed = rest == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
    return Reply(status, headers, body[:length], closed)


class Framing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = Daemon()
        # No timeout of the daemon's may end what the test waits for.
        d.config["api"].update(idle_timeout_s=3600, header_timeout_s=3600)
        d.write_config()
        cls.d = d.start()
        cls.g = SimGuest(cls.d, "alpha", memory="128M")
        wait_for(lambda: "alpha" in cls.d.vms(), timeout=GIVE_UP,
                 what="alpha to register")
        cls.auth = ("Authorization: Bearer %s\r\n" % cls.d.token).encode()

    @classmethod
    def tearDownClass(cls):
        cls.g.stop()
        cls.d.cleanup()

    def connect(self, unix=False):
        if unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(GIVE_UP)
            s.connect(self.d.sock)
        else:
            s = socket.create_connection(("127.0.0.1", self.d.port),
                                         timeout=GIVE_UP)
        self.addCleanup(s.close)
        return s

    def send(self, raw, unix=False, wait_close=True, half_close=False):
        s = self.connect(unix)
        s.sendall(raw)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_reply(s, wait_close)

    def assert_problem(self, r, status, *words, closed=True):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("content-type"),
                         "application/problem+json", r)
        p = r.problem()
        self.assertEqual(p["status"], status, p)
        for w in words:
            self.assertIn(w, p["detail"], p)
        if closed:
            self.assertTrue(r.closed, "connection kept open after %r" % r)
            self.assertEqual(r.headers.get("connection"), "close", r)
        return p

    def put(self, headers, body=b'{"shares": 777}'):
        return (b"PUT " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                + self.auth + headers + b"\r\n" + body)

    # ---- what libmicrohttpd answered in HTML ----

    def test_malformed_heads_get_json(self):
        cases = [
            (b"PUT /vms HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
             b"\r\n", 400, "Content-Length"),
            (b"PUT /vms HTTP/1.1\r\nHost: x\r\nContent-Length: "
             b"99999999999999999999999\r\n\r\n", 413, "Content-Length"),
            (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
             414, "request line"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
             + b"\r\n\r\n", 431, "head"),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0"),
            (b"GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9"),
            (b"GET /\r\nHost: x\r\n\r\n", 400, "METHOD TARGET"),
            (b"GARBAGE\r\n\r\n", 400, "method"),
            (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "colon"),
            (b"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400,
             "folding"),
        ]
        for raw, status, word in cases:
            for unix in (False, True):
                with self.subTest(raw=raw[:40], unix=unix):
                    self.assert_problem(self.send(raw, unix=unix), status,
                                        word)

    def test_header_name_with_whitespace(self):
        # "Content-Length :" is another field to MHD, the length to
        # others: refused, on the first request and on a later one.
        raw = self.put(b"Content-Length : 15\r\n")
        p = self.assert_problem(self.send(raw), 400, "token")
        self.assertEqual(p["field"], "Content-Length ")
        s = self.connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_reply(s, False).status, 200)
        s.sendall(raw)
        self.assert_problem(read_reply(s, True), 400, "token")

    # ---- what libmicrohttpd held ----

    def test_tls_handshake_is_answered_and_closed(self):
        hello = bytes.fromhex("16030100c4010000c00303") + bytes(60)
        for unix in (False, True):
            p = self.assert_problem(self.send(hello, unix=unix), 400, "TLS")
            self.assertEqual(p["value"], "\\x16\\x03\\x01")

    def test_other_binary_is_answered_and_closed(self):
        self.assert_problem(self.send(b"\x80\x01\x02\x03"), 400, "method")
        # An HTTP/2 connection preface without upgrade: not HTTP/1.x.
        self.assert_problem(self.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
                            505, "gRPC")

    def test_unknown_transfer_coding(self):
        raw = (b"PUT " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
               + self.auth + b"Transfer-Encoding: gzip\r\n\r\n")
        for unix in (False, True):
            p = self.assert_problem(self.send(raw, unix=unix), 501, "gzip")
            self.assertEqual(p["field"], "Transfer-Encoding")

    def test_head_cut_short_by_half_close(self):
        r = self.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                      half_close=True)
        self.assert_problem(r, 400, "before the request head was complete")

    def test_body_cut_short_by_half_close_is_closed(self):
        # Head, 2 of 100 bytes of body, the client's end: the request
        # can never be complete; the connection must end, not wait.
        for te, body in ((b"Content-Length: 100\r\n", b"{}"),
                         (b"Transfer-Encoding: chunked\r\n",
                          b"64\r\n{}")):
            for unix in (False, True):
                with self.subTest(te=te, unix=unix):
                    s = self.connect(unix)
                    s.sendall(self.put(te + b"Content-Type: "
                                       b"application/json\r\n", body))
                    s.shutdown(socket.SHUT_WR)
                    try:
                        rest = s.recv(65536)
                    except socket.timeout:
                        self.fail("connection held")
                    except ConnectionResetError:
                        rest = b""
                    self.assertEqual(rest, b"")
        # Nothing of it was applied.
        self.assertNotEqual(self.d.memory("alpha")["shares"], 777)

    # ---- framing that says two things ----

    def test_content_length_and_transfer_encoding(self):
        raw = self.put(b"Content-Length: 15\r\n"
                       b"Transfer-Encoding: chunked\r\n",
                       b"f\r\n{\"shares\": 777}\r\n0\r\n\r\n")
        for unix in (False, True):
            self.assert_problem(self.send(raw, unix=unix), 400, "both")
        # And on a later request of a kept-alive connection (the
        # access handler's check, not the first head's).
        s = self.connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_reply(s, False).status, 200)
        s.sendall(raw)
        self.assert_problem(read_reply(s, True), 400, "both")
        self.assertNotEqual(self.d.memory("alpha")["shares"], 777)

    def test_conflicting_content_lengths(self):
        raw = self.put(b"Content-Length: 15\r\nContent-Length: 2\r\n")
        for unix in (False, True):
            p = self.assert_problem(self.send(raw, unix=unix), 400,
                                    "two different", "15 and 2")
            self.assertEqual(p["field"], "Content-Length")
        s = self.connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_reply(s, False).status, 200)
        s.sendall(raw)
        self.assert_problem(read_reply(s, True), 400, "two different")
        # The same value twice says one thing.
        r = self.send(self.put(b"Content-Length: 14\r\n"
                               b"Content-Length: 14\r\n"
                               b"Connection: close\r\n",
                               b'{"shares": 55}'))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.d.memory("alpha")["shares"], 55)

    # ---- media types ----

    def test_body_that_is_not_json_gets_415(self):
        body = b'{"shares": 777}'
        for ctype in (b"text/plain", b"application/x-www-form-urlencoded",
                      b"application/json; charset=latin1"):
            with self.subTest(ctype=ctype):
                s = self.connect()
                s.sendall(self.put(b"Content-Type: " + ctype
                                   + b"\r\nContent-Length: 15\r\n", body))
                r = read_reply(s, False)
                p = self.assert_problem(r, 415, closed=False)
                self.assertEqual(p["field"], "Content-Type")
                self.assertIn(ctype.split(b";")[0].decode()
                              if b"latin1" not in ctype else "latin1",
                              p["detail"])
                # The body was read: the connection goes on.
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(read_reply(s, False).status, 200)
        self.assertNotEqual(self.d.memory("alpha")["shares"], 777)

    def test_415_before_the_body_with_expect_continue(self):
        r = self.send(self.put(b"Content-Type: text/plain\r\n"
                               b"Content-Length: 15\r\n"
                               b"Expect: 100-continue\r\n", b""))
        self.assert_problem(r, 415, "text/plain")

    def test_json_and_no_type_are_taken(self):
        for ctype, shares in ((b"Content-Type: application/json\r\n", 11),
                              (b"Content-Type: Application/JSON; "
                               b"charset=UTF-8\r\n", 12),
                              (b"", 13)):
            body = b'{"shares": %d}' % shares
            r = self.send(self.put(ctype + b"Content-Length: %d\r\n"
                                   % len(body) + b"Connection: close\r\n",
                                   body))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.problem()["shares"], shares)

    def test_keep_alive_still_works(self):
        s = self.connect()
        for _ in range(3):
            s.sendall(b"GET /vms/alpha HTTP/1.1\r\nHost: x\r\n\r\n")
            r = read_reply(s, False)
            self.assertEqual(r.status, 200)
            self.assertNotIn("connection", r.headers)


if __name__ == "__main__":
    main()
