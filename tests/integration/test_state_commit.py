# SPDX-License-Identifier: GPL-2.0-or-later
"""Nothing acknowledged is lost: clients keep changing the targets of
spawned sim guests over keep-alive connections while the daemon is killed
with SIGKILL; after a restart every VM has the target of its last
acknowledged change, or of the one change that was sent but not yet
answered when the daemon died. The state file's group commit answers a
change only once it is written; a change answered before its write would
come back older than acknowledged."""

import http.client
import json
import signal
import threading
import unittest

from harness import MIB, Daemon, wait_for, main

GUESTS = ("sc-a", "sc-b", "sc-c")
MEMORY_MIB = 128
# Targets cycle over these, each distinct from its neighbours.
TARGETS = [(64 + 2 * i) * MIB for i in range(32)]


class Changer(threading.Thread):
    """PATCHes one VM's target over one keep-alive connection until the
    daemon goes away; records what was acknowledged and what was in
    flight."""

    def __init__(self, d, vm, token):
        super().__init__(daemon=True)
        self.d, self.vm, self.token = d, vm, token
        self.acked = None
        self.in_flight = None
        self.count = 0
        self.error = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port,
                                          timeout=30)
        i = 0
        try:
            while True:
                target = TARGETS[i % len(TARGETS)]
                i += 1
                self.in_flight = target
                conn.request("PATCH", "/vms/%s/memory" % self.vm,
                             body=json.dumps({"target_bytes": target}),
                             headers={"Authorization": "Bearer " +
                                      self.token,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    self.error = "%s: %d %s" % (self.vm, r.status, body)
                    return
                self.acked = target
                self.in_flight = None
                self.count += 1
        except (OSError, http.client.HTTPException):
            return  # the daemon died
        finally:
            conn.close()


class GroupCommit(unittest.TestCase):
    def test_kill_loses_no_acknowledged_change(self):
        guests = [{"name": n, "memory": "%dM" % MEMORY_MIB, "trace": "idle",
                   "vcpus": 1, "time_scale": 1} for n in GUESTS]
        d = Daemon(guests=guests).start()
        d2 = None
        try:
            wait_for(lambda: set(GUESTS) <= set(d.vms()), timeout=30,
                     what="the spawned guests")
            token = d.token
            for rnd in range(3):
                changers = [Changer(d if rnd == 0 else d2, vm, token)
                            for vm in GUESTS]
                for c in changers:
                    c.start()
                # Enough changes that the kill lands among them.
                wait_for(lambda: all(c.count >= 50 or c.error
                                     for c in changers), timeout=120,
                         what="50 acknowledged changes per VM")
                cur = d if rnd == 0 else d2
                cur.proc.send_signal(signal.SIGKILL)
                cur.proc.wait(timeout=20)
                for c in changers:
                    c.join(timeout=30)
                    self.assertIsNone(c.error)
                    self.assertIsNotNone(c.acked)

                d2 = Daemon(guests=guests, workdir=d.dir)
                d2.port, d2.grpc_port, d2.config = (d.port, d.grpc_port,
                                                    d.config)
                d2.write_config()
                d2.start()
                wait_for(lambda: set(GUESTS) <= set(d2.vms()), timeout=30,
                         what="the guests after the restart")
                for c in changers:
                    m = d2.memory(c.vm)
                    self.assertEqual(m["target_source"], "manual")
                    allowed = {c.acked, c.in_flight} - {None}
                    self.assertIn(m["target_bytes"], allowed,
                                  "%s: restored %d, acknowledged %d, in "
                                  "flight %s (round %d)"
                                  % (c.vm, m["target_bytes"], c.acked,
                                     c.in_flight, rnd))
            self.assertEqual(d2.stop(), 0, d2.read_log())
        finally:
            if d2:
                d2.stop()
            d.cleanup(check=False)


if __name__ == "__main__":
    main()
