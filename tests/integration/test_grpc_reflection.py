# SPDX-License-Identifier: GPL-2.0-or-later
"""gRPC for generic clients: server reflection (v1 and v1alpha) and the
standard health service, driven by third-party Node.js clients that have
no .proto file of ours (tests/integration/node/grpc_generic.js), and
Health.Watch telling a probe that the daemon stops."""

import unittest

from harness import MIB, Daemon, node, node_popen, wait_for, main


class GenericClient(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(guests=[{"name": "gvm", "memory": "128M",
                                 "trace": "idle", "vcpus": 1,
                                 "time_scale": 1}]).start()
        wait_for(lambda: "gvm" in self.d.vms(), timeout=20, what="guest")
        self.target = "127.0.0.1:%d" % self.d.grpc_port

    def tearDown(self):
        self.d.cleanup()

    def test_reflection_and_health(self):
        p = node("grpc_generic.js", "check", self.target, "gvm", 128 * MIB)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("all checks passed", p.stdout)

    def test_watch_sees_the_daemon_stop(self):
        w = node_popen("grpc_generic.js", "watch", self.target, "")
        try:
            self.assertEqual(w.stdout.readline().strip(), "SERVING")
            self.d.stop()
            rest = w.stdout.read().split()
            self.assertEqual(rest, ["NOT_SERVING", "end", "UNAVAILABLE"],
                             w.stderr.read())
        finally:
            w.kill()
            w.wait()
            w.stdout.close()
            w.stderr.close()


if __name__ == "__main__":
    main()
