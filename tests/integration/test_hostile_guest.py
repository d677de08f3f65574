# SPDX-License-Identifier: GPL-2.0-or-later
"""Guests are hostile input. A hand-made guest speaks the sim protocol
(proto/sim_proto.h) with a real memfd and real allocator metadata
(docs/protocol.md), then lies: the daemon must refuse, disconnect or
quarantine — with a reason a person can read — and never crash."""

import fcntl
import mmap
import os
import socket
import struct
import time
import unittest
import uuid

from harness import MIB, Daemon, SSE, wait_for, main

MAGIC, VERSION = 0x4D495348, 1
HELLO, WELCOME, ERROR, INSTALL, INSTALLED, REPORT, REPORTED, STATUS, BYE = \
    range(1, 10)
HELLO_FMT = "<IHH64s37s64s3xIIQQQII"      # 216 bytes
HDR_FMT = "<IHH"
HA_MAGIC = 0x314C4148
CHILD_HUGE, CHILD_RECLAIMED = 0x4000, 0x8000
# What ha-simguest (and QEMU for its memfd backends) seals its RAM with.
SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW


def align64(v):
    return (v + 63) // 64 * 64


class Region:
    """The allocator metadata of docs/protocol.md, written by hand."""

    def __init__(self, frames, base_frame):
        self.frames = frames
        self.base_frame = base_frame
        self.children = frames // 512
        self.trees = (self.children + 7) // 8
        self.trees_off = 64
        self.children_off = align64(64 + self.trees * 2)
        self.bitfields_off = align64(self.children_off + self.trees * 16)
        self.total = self.bitfields_off + self.children * 64

    def write(self, mem):
        mem[0:64] = struct.pack("<IHHIIQQQQQQ", HA_MAGIC, 1, 64, 8, 512,
                                self.base_frame, self.frames, self.trees_off,
                                self.children_off, self.bitfields_off,
                                self.total)
        for t in range(self.trees):
            n = min(8, self.children - t * 8)
            self.set_tree(mem, t, n * 512)
        for c in range(self.trees * 8):
            self.set_child(mem, c, 512 if c < self.children else CHILD_HUGE)

    def set_tree(self, mem, t, word):
        o = self.trees_off + 2 * t
        mem[o:o + 2] = struct.pack("<H", word)

    def set_child(self, mem, c, word):
        o = self.children_off + 2 * c
        mem[o:o + 2] = struct.pack("<H", word)

    def child(self, mem, c):
        o = self.children_off + 2 * c
        return struct.unpack("<H", mem[o:o + 2])[0]


class EvilGuest:
    RAM = 64 * MIB

    def __init__(self, daemon, name, region=True, seals=SEALS):
        self.fd = os.memfd_create("evil-guest", os.MFD_CLOEXEC |
                                  os.MFD_ALLOW_SEALING)
        os.ftruncate(self.fd, self.RAM)
        if seals:
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, seals)
        self.mem = mmap.mmap(self.fd, self.RAM)
        # metadata at 0, managed range from 4 MiB, like ha-simguest
        self.region = Region((self.RAM - 4 * MIB) // 4096, 1024)
        if region:
            self.region.write(self.mem)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(10)
        self.sock.connect(daemon.sim_sock)
        self.name = name
        self.seq = 0

    def hello(self, **over):
        f = dict(name=self.name.encode(), uuid=str(uuid.uuid4()).encode(),
                 trace=b"evil", vcpus=1, pid=os.getpid(), ram=self.RAM,
                 meta_offset=0, meta_len=4 * MIB, flags=0)
        f.update(over)
        msg = struct.pack(HELLO_FMT, MAGIC, VERSION, HELLO, f["name"],
                          f["uuid"], f["trace"], f["vcpus"], f["pid"],
                          f["ram"], f["meta_offset"], f["meta_len"],
                          f["flags"], 0)
        socket.send_fds(self.sock, [msg], [self.fd])
        return self.recv()

    def recv(self):
        data = self.sock.recv(8192)
        if not data:
            return ("closed", None)
        magic, version, typ = struct.unpack_from(HDR_FMT, data)
        if typ == WELCOME:
            return ("welcome", data[8:72].rstrip(b"\0").decode())
        if typ == ERROR:
            code = struct.unpack_from("<i", data, 8)[0]
            return ("error", (code, data[12:].split(b"\0")[0].decode()))
        if typ == INSTALLED:
            seq, status = struct.unpack_from("<Qi", data, 8)
            return ("installed", status)
        return ("type %d" % typ, data)

    def install(self, huge):
        self.seq += 1
        self.sock.send(struct.pack("<IHHQQ", MAGIC, VERSION, INSTALL,
                                   self.seq, huge))
        return self.recv()

    def close(self):
        self.sock.close()
        self.mem.close()
        os.close(self.fd)


class HostileGuests(unittest.TestCase):
    def setUp(self):
        self.d = Daemon().start()
        self.guests = []

    def tearDown(self):
        for g in self.guests:
            g.close()
        self.d.cleanup()

    def guest(self, name, **kw):
        g = EvilGuest(self.d, name, **kw)
        self.guests.append(g)
        return g

    def assert_serving(self):
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_bad_headers_are_refused_with_the_reason(self):
        cases = [
            ("magic", lambda m, r: m.__setitem__(slice(0, 4),
                                                 b"NOPE"), "bad magic"),
            ("version", lambda m, r: m.__setitem__(slice(4, 6),
                                                   b"\x09\x00"),
             "unsupported version"),
            ("frames", lambda m, r: m.__setitem__(
                slice(24, 32), struct.pack("<Q", 1000)), "bad frame count"),
            ("offset", lambda m, r: m.__setitem__(
                slice(40, 48), struct.pack("<Q", 1 << 40)), "offsets"),
            ("range", lambda m, r: m.__setitem__(
                slice(16, 24), struct.pack("<Q", 1 << 30)),
             "outside guest RAM"),
            ("overlap", lambda m, r: m.__setitem__(
                slice(16, 24), struct.pack("<Q", 0)), "inside the managed"),
            ("tree", lambda m, r: r.set_tree(m, 1, 0x1FFF),
             "invalid tree word"),
            ("child", lambda m, r: r.set_child(m, 3, 600),
             "invalid child word"),
        ]
        for name, corrupt, reason in cases:
            with self.subTest(name):
                g = self.guest("bad-" + name)
                corrupt(g.mem, g.region)
                kind, what = g.hello()
                self.assertEqual(kind, "error", what)
                self.assertIn(reason, what[1])
                self.assertEqual(g.recv()[0], "closed")
        self.assertEqual(self.d.vms(), {})
        self.assert_serving()

    def test_bad_hello_fields(self):
        cases = [
            ("name", dict(name=b"no spaces allowed"), "name"),
            ("uuid", dict(uuid=b"not-a-uuid"), "uuid"),
            ("ram", dict(ram=3 * MIB), "ram_bytes"),
            ("ram beyond memfd", dict(ram=1 << 30), "memfd"),
            ("meta", dict(meta_offset=63 * MIB, meta_len=4 * MIB),
             "meta_offset"),
        ]
        for name, over, reason in cases:
            with self.subTest(name):
                g = self.guest("x")
                kind, what = g.hello(**over)
                self.assertEqual(kind, "error", what)
                self.assertIn(reason, what[1])
        self.assert_serving()

    def test_garbage_packets_disconnect(self):
        for payload in (b"", b"\x00" * 3, b"\xff" * 216,
                        struct.pack(HDR_FMT, MAGIC, VERSION, 77),
                        struct.pack(HDR_FMT, MAGIC, VERSION, INSTALL)):
            g = self.guest("garbage")
            g.sock.send(payload if payload else b"\0")
            kind, what = g.recv()
            self.assertIn(kind, ("error", "closed"), what)
        self.assert_serving()

    def test_unsealed_ram_is_refused(self):
        # A guest that could shrink its RAM file under the daemon's
        # mapping would turn the daemon's next read of it into SIGBUS.
        for name, seals in (("unsealed", 0),
                            ("grow-only", fcntl.F_SEAL_GROW)):
            with self.subTest(name):
                g = self.guest(name, seals=seals)
                kind, what = g.hello()
                self.assertEqual(kind, "error", what)
                self.assertIn("F_SEAL_SHRINK", what[1])
                self.assertEqual(g.recv()[0], "closed")
                # Had it been taken, this would have killed the daemon.
                os.ftruncate(g.fd, 0)
        self.assertEqual(self.d.vms(), {})
        self.assert_serving()

    def test_shrinking_ram_cannot_hurt_the_daemon(self):
        g = self.guest("shrinker")
        self.assertEqual(g.hello()[0], "welcome")
        with self.assertRaises(PermissionError):
            os.ftruncate(g.fd, 4 * MIB)
        # The daemon goes on reading and writing the metadata.
        r = self.d.put("/vms/shrinker/memory", {"min_bytes": 16 * MIB,
                                                "target_bytes": 40 * MIB})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.d.memory("shrinker")["reclaimed_bytes"]
                 >= 16 * MIB, what="hard reclaim")
        self.assertEqual(self.d.vms()["shrinker"]["state"], "running")
        self.assert_serving()

    def test_install_out_of_range_is_refused(self):
        g = self.guest("ranger")
        self.assertEqual(g.hello()[0], "welcome")
        kind, status = g.install(1 << 40)
        self.assertEqual((kind, status), ("installed", -34))  # HA_ERANGE
        kind, status = g.install(0)  # not reclaimed: a no-op
        self.assertEqual((kind, status), ("installed", 0))
        self.assertEqual(self.d.vms()["ranger"]["state"], "running")

    def test_corruption_after_attach_quarantines(self):
        sse = SSE(self.d)
        try:
            g = self.guest("liar")
            self.assertEqual(g.hello()[0], "welcome")
            r = self.d.put("/vms/liar/memory", {"min_bytes": 16 * MIB,
                                                "target_bytes": 40 * MIB})
            self.assertEqual(r.status, 200, r)
            wait_for(lambda: self.d.memory("liar")["reclaimed_bytes"]
                     >= 16 * MIB, what="hard reclaim")
            # The guest now writes a word no legal guest can write.
            g.region.set_child(g.mem, 5, 0x3FFF)
            ev = sse.wait(lambda e: e.get("type") == "vm_quarantined"
                          and e.get("vm") == "liar", timeout=15)
            self.assertIn("invalid child word", ev["message"])
            vm = self.d.get("/vms/liar").json()
            self.assertEqual(vm["state"], "quarantined")
            self.assertIn("index 5", vm["state_reason"])
            # everything was given back, nothing more is taken
            m = self.d.memory("liar")
            self.assertEqual(m["reclaimed_bytes"], 0)
            self.assertEqual(m["soft_reclaimed_bytes"], 0)
            r = self.d.put("/vms/liar/memory", {"target_bytes": 40 * MIB})
            self.assertEqual(r.status, 409, r)
            # installs are answered (the memory is all there)
            self.assertEqual(g.install(0), ("installed", 0))
            self.assert_serving()
        finally:
            sse.close()


class InstallFlood(unittest.TestCase):
    """A guest that floods INSTALL messages without reading the answers
    cannot fill the daemon's log: its warnings are limited to a burst per
    interval plus one summary line, every dropped answer is counted in the
    metrics, and the daemon keeps serving."""

    BURST = 10  # SIM_WARN_BURST
    FLOOD = 20000

    def test_canary_reports_cannot_flood_the_events(self):
        """A guest that raises its canary mismatch count in every STATUS
        gets one error event per interval, not one per message: the
        event ring keeps everyone else's events. The counter follows
        every report."""
        d = Daemon().start()
        g = None
        try:
            g = EvilGuest(d, "liar")
            self.assertEqual(g.hello()[0], "welcome")

            def errors():
                for line in d.get("/metrics").body.decode().splitlines():
                    if line.startswith('hyperalloc_events_total{type="daemon_error"}'):
                        return int(line.split()[-1])
                return 0

            before = errors()
            t0 = time.monotonic()
            reports = 500
            for i in range(1, reports + 1):
                g.sock.send(struct.pack("<IHH11Q2I", MAGIC, VERSION, STATUS,
                                        i, 0, 0, 0, 0, i, i, 0, 0, 0, 0,
                                        0, 0))
            # Messages are handled in order: the answer to an install
            # sent after them means they were all read.
            self.assertEqual(g.install(0), ("installed", 0))
            elapsed = time.monotonic() - t0
            vm = wait_for(lambda: d.get("/vms/liar").json(), timeout=10,
                          what="liar's counters")
            self.assertEqual(vm["counters"]["canary_mismatches"], reports)
            # One per started interval of 10 s (before the fix: 500).
            self.assertLessEqual(errors() - before, 2 + int(elapsed // 10))
            self.assertGreaterEqual(errors() - before, 1)
            self.assertEqual(d.get("/healthz").status, 200)
        finally:
            if g:
                g.close()
            d.cleanup()

    def test_flood_gives_a_bounded_log(self):
        d = Daemon().start()
        g = None
        try:
            g = EvilGuest(d, "flood")
            self.assertEqual(g.hello()[0], "welcome")
            # Blocking sends: the daemon reads as fast as it can; its
            # answers pile up in our receive buffer until it is full.
            g.sock.settimeout(120)
            hdr = struct.Struct("<IHHQQ")
            for _ in range(self.FLOOD):
                g.seq += 1
                g.sock.send(hdr.pack(MAGIC, VERSION, INSTALL, g.seq, 0))
            # Now read, and probe until one probe is answered: the daemon
            # handles a guest's messages in order, so an answered probe
            # means all of the flood is behind us. A probe sent while
            # the answers still fill our queue is dropped like the rest,
            # so an unanswered one is followed by another.
            first = g.seq + 1
            g.sock.settimeout(2)
            answered = False
            for _ in range(60):
                if answered:
                    break
                g.seq += 1
                g.sock.send(hdr.pack(MAGIC, VERSION, INSTALL, g.seq, 0))
                while True:
                    try:
                        data = g.sock.recv(8192)
                    except TimeoutError:
                        break  # queue drained, this probe was dropped
                    self.assertTrue(data, "daemon closed the connection")
                    typ = struct.unpack_from(HDR_FMT, data)[2]
                    if (typ == INSTALLED and
                            struct.unpack_from("<Q", data, 8)[0] >= first):
                        answered = True
                        break
            self.assertTrue(answered, "no answer to any of 60 probes after "
                            "the flood")
            self.assertEqual(d.get("/healthz").status, 200)
            metrics = d.get("/metrics").body.decode()
            dropped = None
            for line in metrics.splitlines():
                if line.startswith("hyperalloc_vm_install_replies_dropped"
                                   "_total{") and 'vm="flood"' in line:
                    dropped = int(float(line.split()[-1]))
            g.close()
            g = None
            wait_for(lambda: "flood" not in d.vms(), timeout=60,
                     what="the flooding guest to leave")
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace").splitlines()
            warned = [l for l in log if "flood" in l
                      and "cannot answer an install request" in l]
            summaries = [l for l in log if "sim guest flood:" in l
                         and "more warnings suppressed" in l]
            suppressed = sum(int(l.split("sim guest flood: ")[1].split()[0])
                             for l in summaries)
            # A burst per interval, each interval with lines held back
            # closed by one summary: bounded by the limit, not by the
            # flood.
            self.assertGreaterEqual(len(warned), 1)
            self.assertLessEqual(len(warned),
                                 self.BURST * (len(summaries) + 1))
            self.assertGreaterEqual(len(summaries), 1)
            self.assertIsNotNone(dropped, "no dropped-answers metric")
            self.assertGreater(dropped, 10 * self.BURST,
                               "the flood dropped too few answers to test")
            # Nothing is lost: what was printed and what was summed up
            # are every dropped answer.
            self.assertEqual(len(warned) + suppressed, dropped)
            self.assertEqual(d.get("/healthz").status, 200)
        finally:
            if g:
                g.close()
            d.cleanup()


if __name__ == "__main__":
    main()
