# SPDX-License-Identifier: GPL-2.0-or-later
"""The gRPC API end to end: the real daemon with real simulated guests,
and a real gRPC client (Debian's python3-grpcio) over TCP and the unix
socket.

The client is generated at test time, from proto/hyperalloc.proto itself:
protoc-c (which the build needs anyway) writes the file's descriptor set,
python3-protobuf turns it into message classes, and grpcio's generic call
API (channel.unary_unary / unary_stream) makes the calls. So the test
speaks whatever the .proto says, like any generated client would.
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

from harness import MIB, TOP, Daemon, SimGuest, wait_for  # noqa: E402

PROTO = os.path.join(TOP, "proto", "hyperalloc.proto")
SERVICE = "hyperalloc.v1.HyperAlloc"
INT64_MAX = (1 << 63) - 1


def load_proto(workdir):
    """Message classes and the service descriptor of our .proto."""
    out = os.path.join(workdir, "hyperalloc.desc")
    subprocess.run(["protoc-c", "--descriptor_set_out=" + out,
                    "--include_imports",
                    "--proto_path=" + os.path.dirname(PROTO), PROTO],
                   check=True)
    fds = descriptor_pb2.FileDescriptorSet()
    with open(out, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    if hasattr(message_factory, "GetMessageClass"):
        get_class = message_factory.GetMessageClass
    else:  # python3-protobuf before 4.22
        get_class = message_factory.MessageFactory(pool).GetPrototype
    return pool.FindServiceByName(SERVICE), get_class


class Client:
    """A gRPC client of the HyperAlloc service, made from its descriptor."""

    def __init__(self, target, service, get_class, token=None):
        self.channel = grpc.insecure_channel(target)
        self.token = token
        self.methods = {}
        for m in service.methods:
            req = get_class(m.input_type)
            resp = get_class(m.output_type)
            path = "/%s/%s" % (SERVICE, m.name)
            make = (self.channel.unary_stream if m.server_streaming
                    else self.channel.unary_unary)
            self.methods[m.name] = (req, resp, make(
                path, request_serializer=lambda x: x.SerializeToString(),
                response_deserializer=resp.FromString))

    def metadata(self, token):
        token = self.token if token is None else token
        return [("authorization", "Bearer " + token)] if token else None

    def call(self, rpc, token=None, timeout=10, **fields):
        req, _, stub = self.methods[rpc]
        return stub(req(**fields), metadata=self.metadata(token),
                    timeout=timeout)

    def raw(self, path, payload, timeout=10):
        """Call @path with @payload bytes as the request."""
        stub = self.channel.unary_unary(path)
        return stub(payload, metadata=self.metadata(None), timeout=timeout)

    def close(self):
        self.channel.close()


class Watch:
    """A WatchEvents stream read by a thread."""

    def __init__(self, client, timeout=120, **fields):
        self.call = client.call("WatchEvents", timeout=timeout, **fields)
        self.events = []
        self.error = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for ev in self.call:
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
        except grpc.RpcError as e:
            with self.cond:
                self.error = e
                self.cond.notify_all()
            return
        with self.cond:
            self.error = "ended with OK"
            self.cond.notify_all()

    def wait(self, pred, timeout=20):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = end - time.monotonic()
                if left <= 0 or self.error is not None:
                    raise AssertionError(
                        "no matching event (stream: %s); got %r"
                        % (self.error, [(e.seq, e.type, e.vm)
                                        for e in self.events]))
                self.cond.wait(left)

    def wait_end(self, timeout=20):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the stream did not end")
        return self.error

    def close(self):
        self.call.cancel()
        self.thread.join(10)


_workdir = tempfile.mkdtemp(prefix="ha-grpc-proto-")
atexit.register(shutil.rmtree, _workdir, True)
SERVICE_DESC, GET_CLASS = load_proto(_workdir)


class GrpcAPI(unittest.TestCase):
    def setUp(self):
        self.d = Daemon()
        try:
            self.d.start()
        except BaseException:
            self.d.cleanup(check=False)  # tearDown does not run
            raise
        self.guests = []
        self.clients = []
        self.tcp = self.client("127.0.0.1:%d" % self.d.grpc_port,
                               token=self.d.token)

    def tearDown(self):
        for c in self.clients:
            c.close()
        bad = []
        for g in self.guests:
            rc = g.stop()
            if rc != 0:
                bad.append("%s exited %s:\n%s" % (g.name, rc, g.read_log()))
        self.d.cleanup()
        self.assertEqual(bad, [])

    def client(self, target, token=None):
        c = Client(target, SERVICE_DESC, GET_CLASS, token)
        self.clients.append(c)
        return c

    def guest(self, name, **kw):
        g = SimGuest(self.d, name, **kw)
        self.guests.append(g)
        wait_for(lambda: name in self.d.vms(), timeout=20,
                 what="%s to register" % name)
        return g

    def assertStatus(self, code, fn, *args, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code,
                         cm.exception.details())
        return cm.exception

    def test_list_and_get_match_the_rest_api(self):
        self.guest("alpha", memory="128M")
        self.guest("beta", memory="96M")
        r = self.tcp.call("ListVMs")
        vms = {v.id: v for v in r.vms}
        self.assertEqual(set(vms), {"alpha", "beta"})
        rest = self.d.vms()
        for name in ("alpha", "beta"):
            v, j = vms[name], rest[name]
            self.assertEqual(v.name, name)
            self.assertEqual(v.uuid, j["uuid"])
            self.assertEqual(v.mechanism, "sim")
            self.assertEqual(v.state, "running")
            for key in ("max_bytes", "min_bytes", "target_bytes", "shares",
                        "target_source", "auto_reclaim", "mechanism"):
                self.assertEqual(getattr(v.memory, key), j["memory"][key],
                                 key)
            self.assertFalse(v.HasField("counters"))
        self.assertEqual(vms["alpha"].memory.max_bytes, 128 * MIB)

        # GetVM by uuid: the detail with counters; GetVMMemory by name.
        v = self.tcp.call("GetVM", id=vms["beta"].uuid)
        self.assertEqual(v.id, "beta")
        self.assertTrue(v.HasField("counters"))
        self.assertEqual(v.counters.canary_mismatches, 0)
        m = self.tcp.call("GetVMMemory", id="beta")
        self.assertEqual(m.max_bytes, 96 * MIB)
        self.assertTrue(m.updated_at.endswith("Z"), m.updated_at)

        h = self.tcp.call("GetHost")
        self.assertEqual(h.vms, 2)
        self.assertGreater(h.total_bytes, 0)
        self.assertEqual(h.max_committed_bytes, (128 + 96) * MIB)

    def test_set_target_releases_memory_and_streams_events(self):
        g = self.guest("shrinky", memory="384M", trace="steady",
                       time_scale=5, vcpus=1, extra=["--prefault"])
        self.d.wait_workload("shrinky")
        before = self.tcp.call("GetVMMemory", id="shrinky")
        blocks_before = g.memfd_blocks_bytes()
        self.assertGreater(blocks_before, 32 * MIB)
        # From the first event on: the stream is open once the guest's
        # arrival has come through it.
        w = Watch(self.tcp, last_event_id=0)
        try:
            w.wait(lambda e: e.type == "vm_added" and e.vm == "shrinky")
            target = before.max_bytes - 96 * MIB
            m = self.tcp.call("SetVMMemory", id="shrinky",
                              target_bytes=target)
            self.assertEqual(m.target_bytes, target)
            self.assertEqual(m.target_source, "manual")

            m = wait_for(lambda: (lambda m: m if m.reclaimed_bytes
                                  >= 96 * MIB else None)(
                self.tcp.call("GetVMMemory", id="shrinky")),
                timeout=20, what="96 MiB to be reclaimed")
            self.assertEqual(m.current_bytes, m.max_bytes - 96 * MIB)
            # The kernel's own account of the guest's memfd agrees.
            self.assertLessEqual(g.memfd_blocks_bytes(),
                                 blocks_before - m.reclaimed_bytes
                                 + 16 * MIB)

            changed = w.wait(lambda e: e.type == "target_changed"
                             and e.vm == "shrinky")
            self.assertEqual(changed.target_bytes, target)
            self.assertEqual(changed.source, "manual")
            self.assertTrue(changed.time.endswith("Z"))
            # The reclaim toward that target (possibly in several steps
            # when guest memory is in use: each reports what it moved).
            done = w.wait(lambda e: e.type == "reclaim_done"
                          and e.vm == "shrinky"
                          and e.target_bytes == target)
            self.assertGreater(done.seq, changed.seq)
            self.assertGreater(done.bytes, 0)
            self.assertGreaterEqual(done.current_bytes, target)
            self.assertLess(done.current_bytes, before.max_bytes)
        finally:
            w.close()

        # A new stream resumes after a sequence number, like SSE's
        # Last-Event-ID: the first event it gets is the target change.
        w = Watch(self.tcp, last_event_id=changed.seq - 1)
        try:
            first = w.wait(lambda e: True)
            self.assertEqual(first.seq, changed.seq)
            self.assertEqual(first.type, "target_changed")
        finally:
            w.close()

        m = self.tcp.call("ReleaseVMTarget", id="shrinky")
        self.assertEqual(m.target_source, "policy")
        self.assertEqual(m.target_bytes, m.max_bytes)
        # The REST API sees the same state: one internal API behind both.
        self.assertEqual(self.d.memory("shrinky")["target_source"], "policy")
        self.assertEqual(g.stop(), 0, g.read_log())

    def test_status_codes(self):
        self.guest("victim", memory="128M")
        c = self.tcp
        C = grpc.StatusCode
        e = self.assertStatus(C.NOT_FOUND, c.call, "GetVMMemory",
                              id="nosuch")
        self.assertIn("nosuch", e.details())
        self.assertStatus(C.NOT_FOUND, c.call, "GetVM", id="nosuch")
        self.assertStatus(C.NOT_FOUND, c.call, "SetVMMemory", id="nosuch",
                          target_bytes=100 * MIB)
        self.assertStatus(C.NOT_FOUND, c.call, "ReleaseVMTarget",
                          id="nosuch")
        self.assertStatus(C.INVALID_ARGUMENT, c.call, "GetVMMemory", id="")

        # Invalid sizes: out of range (422 in REST) and beyond what the
        # API takes at all (400): INVALID_ARGUMENT naming the field.
        for fields in ({"target_bytes": 1 * MIB},
                       {"target_bytes": 1 << 40},
                       {"min_bytes": 128 * MIB, "max_bytes": 64 * MIB},
                       {"max_bytes": 0},
                       {"target_bytes": INT64_MAX + 1},
                       {"shares": 0}):
            with self.subTest(fields):
                e = self.assertStatus(C.INVALID_ARGUMENT, c.call,
                                      "SetVMMemory", id="victim", **fields)
                md = dict(e.trailing_metadata())
                self.assertIn(md.get("hyperalloc-field"), fields)
                self.assertIn(md["hyperalloc-field"], e.details())

        # Credentials: none, then a wrong token.
        nocred = self.client("127.0.0.1:%d" % self.d.grpc_port)
        e = self.assertStatus(C.UNAUTHENTICATED, nocred.call, "SetVMMemory",
                              id="victim", target_bytes=100 * MIB)
        self.assertIn("credentials", e.details())
        # Refused before the request is looked at.
        self.assertStatus(C.UNAUTHENTICATED, nocred.call, "SetVMMemory",
                          id="nosuch", target_bytes=1)
        self.assertStatus(C.UNAUTHENTICATED, nocred.call, "ReleaseVMTarget",
                          id="victim")
        self.assertStatus(C.UNAUTHENTICATED, nocred.call, "SetPolicy",
                          tick_ms=500)
        self.assertStatus(C.PERMISSION_DENIED, c.call, "SetVMMemory",
                          token="0" * 64, id="victim", target_bytes=100 * MIB)
        self.assertStatus(C.PERMISSION_DENIED, c.call, "SetPolicy",
                          token="0" * 64, tick_ms=500)
        # Reads need nothing.
        self.assertEqual(nocred.call("GetVMMemory", id="victim").max_bytes,
                         128 * MIB)

        # Bytes that are no message, and a method that does not exist.
        self.assertStatus(C.INVALID_ARGUMENT, c.raw,
                          "/%s/GetVMMemory" % SERVICE, b"\x0a\x7fx")
        self.assertStatus(C.UNIMPLEMENTED, c.raw, "/%s/Nope" % SERVICE, b"")
        # Larger than api.max_body_bytes (64 KiB): refused by gRPC core.
        self.assertStatus(C.RESOURCE_EXHAUSTED, c.raw,
                          "/%s/GetVMMemory" % SERVICE,
                          b"\x0a\x80\x80\x05" + b"v" * (80 << 10))

        # None of it changed anything, and the daemon still serves.
        m = c.call("GetVMMemory", id="victim")
        self.assertEqual(m.target_source, "policy")
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_policy(self):
        p = self.tcp.call("GetPolicy")
        self.assertEqual(p.name, "static")
        self.assertEqual(json.loads(p.params), {})
        self.assertIn("static", p.available)
        p = self.tcp.call("SetPolicy", tick_ms=500)
        self.assertEqual(p.tick_ms, 500)
        self.assertEqual(self.d.get("/policy").json()["tick_ms"], 500)
        for fields in ({"name": "no-such-policy"}, {"params": "[1]"},
                       {"tick_ms": 1}):
            with self.subTest(fields):
                self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                  self.tcp.call, "SetPolicy", **fields)
        # Refused changes leave the policy as it was.
        self.assertEqual(self.tcp.call("GetPolicy").tick_ms, 500)

    def test_policy_by_path_refused(self):
        # A plugin whose constructor leaves a mark: SetPolicy by path
        # must not dlopen it (constructors run before any check).
        tmp = tempfile.mkdtemp(prefix="ha-evil-")
        self.addCleanup(shutil.rmtree, tmp, True)
        marker = os.path.join(tmp, "constructor-ran")
        src = os.path.join(tmp, "evil.c")
        so = os.path.join(tmp, "evil.so")
        with open(src, "w") as f:
            f.write("#include <fcntl.h>\n"
                    "__attribute__((constructor)) static void evil(void)"
                    "{ open(\"%s\", O_WRONLY | O_CREAT, 0644); }\n"
                    % marker)
        subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC",
                        "-o", so, src], check=True)
        for name in (so, "../evil", "./evil.so", os.path.relpath(so)):
            with self.subTest(name=name):
                e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                      self.tcp.call, "SetPolicy", name=name)
                md = dict(e.trailing_metadata())
                self.assertEqual(md.get("hyperalloc-field"), "name")
                self.assertFalse(os.path.exists(marker))
        self.assertEqual(self.tcp.call("GetPolicy").name, "static")

    def test_unix_socket(self):
        self.guest("unixvm", memory="128M")
        sock = self.d.config["grpc"]["unix"]
        c = self.client("unix:" + sock)
        self.assertEqual(c.call("GetVMMemory", id="unixvm").max_bytes,
                         128 * MIB)
        if os.geteuid() != 0:
            self.skipTest("peer credential checks need root")
        # Root is trusted by its credentials: no token needed.
        m = c.call("SetVMMemory", id="unixvm", target_bytes=100 * MIB)
        self.assertEqual(m.target_bytes, 100 * MIB)
        self.assertIn("grpc unix uid 0 set target", self.d.read_log())

        # Another user who may connect (the socket is 0660, group root)
        # but is not trusted needs the token, like a TCP client.
        os.chmod(self.d.dir, 0o750)
        uid = 54321
        self.assertEqual(self.as_user(uid, sock, None, "unixvm"),
                         "UNAUTHENTICATED")
        self.assertEqual(self.as_user(uid, sock, "0" * 64, "unixvm"),
                         "PERMISSION_DENIED")
        self.assertEqual(self.as_user(uid, sock, self.d.token, "unixvm"),
                         "OK")
        self.assertIn("grpc unix uid %d set target" % uid,
                      self.d.read_log())

    def as_user(self, uid, sock, token, vm):
        """SetVMMemory over @sock from a process of @uid (group root)."""
        r = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--client", sock,
             token or "", vm],
            user=uid, group=0, extra_groups=[], capture_output=True,
            text=True, timeout=60, cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_shutdown_ends_streams_cleanly(self):
        self.guest("bye", memory="96M")
        w = Watch(self.tcp, last_event_id=0)
        try:
            # An event through the stream: it is open on the daemon's side.
            w.wait(lambda e: e.type == "vm_added" and e.vm == "bye")
            # The daemon stops: the stream gets what it is owed (the VM
            # leaving), then a status, not a broken connection.
            self.d.proc.send_signal(signal.SIGTERM)
            w.wait(lambda e: e.type == "vm_removed" and e.vm == "bye")
            err = w.wait_end()
            self.assertIsInstance(err, grpc.RpcError)
            self.assertEqual(err.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("shutting down", err.details())
            self.assertEqual(self.d.proc.wait(20), 0, self.d.read_log())
        finally:
            w.close()


def client_main(sock, token, vm):
    """--client: one SetVMMemory over the unix socket; print the code."""
    c = Client("unix:" + sock, SERVICE_DESC, GET_CLASS, token or None)
    try:
        c.call("SetVMMemory", id=vm, target_bytes=96 * MIB)
        print("OK")
    except grpc.RpcError as e:
        print(e.code().name)
    c.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        client_main(*sys.argv[2:])
    else:
        unittest.main(verbosity=2)
