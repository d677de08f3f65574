# SPDX-License-Identifier: GPL-2.0-or-later
"""hyperallocd end to end: the real daemon, real simulated guests (memfd
RAM, canaries), real HTTP over TCP and the unix socket."""

import os
import signal
import unittest

from harness import (MIB, Daemon, SimGuest, SSE, wait_for, main)


class DaemonWithGuests(unittest.TestCase):
    """One daemon, guests started by the test."""

    def setUp(self):
        self.d = Daemon().start()
        self.guests = []

    def tearDown(self):
        bad = []
        for g in self.guests:
            rc = g.stop()
            # 0: clean exit with every canary intact; -9: the test
            # killed it on purpose.
            if rc not in (0, -signal.SIGKILL):
                bad.append("%s exited %s:\n%s" % (g.name, rc, g.read_log()))
        self.d.cleanup()
        self.assertEqual(bad, [])

    def guest(self, name, **kw):
        g = SimGuest(self.d, name, **kw)
        self.guests.append(g)
        wait_for(lambda: name in self.d.vms(), timeout=20,
                 what="%s to register" % name)
        return g

    def test_list_vms(self):
        self.guest("alpha", memory="128M")
        self.guest("beta", memory="96M")
        vms = self.d.vms()
        self.assertEqual(set(vms), {"alpha", "beta"})
        a = vms["alpha"]
        self.assertEqual(a["mechanism"], "sim")
        self.assertEqual(a["state"], "running")
        self.assertEqual(a["memory"]["max_bytes"], 128 * MIB)
        self.assertEqual(a["memory"]["target_source"], "policy")
        # by uuid too
        r = self.d.get("/vms/%s/memory" % a["uuid"])
        self.assertEqual(r.status, 200, r)

    def test_shrink_releases_memory_and_grow_brings_it_back(self):
        # steady trace: the guest holds a constant part of its RAM and
        # churns it, so its frames turn over all the time.
        # --prefault: like a VM whose page cache has touched all of its
        # RAM, so every reclaimed frame was resident.
        g = self.guest("shrinky", memory="384M", trace="steady",
                       time_scale=5, vcpus=1, extra=["--prefault"])
        # Let it fault in its working set.
        self.d.wait_workload("shrinky")
        before = self.d.memory("shrinky")
        blocks_before = g.memfd_blocks_bytes()
        self.assertGreater(blocks_before, 32 * MIB)

        target = before["max_bytes"] - 96 * MIB
        r = self.d.put("/vms/shrinky/memory", {"target_bytes": target})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target_bytes"], target)
        self.assertEqual(r.json()["target_source"], "manual")

        m = wait_for(lambda: (lambda m: m if m["reclaimed_bytes"] >= 96 * MIB
                              else None)(self.d.memory("shrinky")),
                     timeout=20, what="96 MiB to be reclaimed")
        self.assertEqual(m["current_bytes"], m["max_bytes"] - 96 * MIB)
        reclaimed = m["reclaimed_bytes"]
        # The daemon's figure and the kernel's own accounting of the memfd
        # (st_blocks through /proc/PID/fd) both show the memory gone.
        blocks_after = g.memfd_blocks_bytes()
        self.assertLessEqual(m["host_resident_bytes"],
                             before["host_resident_bytes"] - reclaimed
                             + 16 * MIB)
        self.assertLessEqual(blocks_after, blocks_before - reclaimed
                             + 16 * MIB)
        self.assertLess(abs(blocks_after - m["host_resident_bytes"]),
                        32 * MIB)

        # Grow back: the VM's logical size returns at once, memory comes
        # back when the guest uses it (installs).
        r = self.d.put("/vms/shrinky/memory",
                       {"target_bytes": before["max_bytes"]})
        self.assertEqual(r.status, 200, r)
        m = wait_for(lambda: (lambda m: m if m["reclaimed_bytes"] == 0
                              else None)(self.d.memory("shrinky")),
                     timeout=20, what="the memory to be returned")
        self.assertEqual(m["current_bytes"], m["max_bytes"])
        detail = self.d.get("/vms/shrinky").json()
        self.assertEqual(detail["counters"]["canary_mismatches"], 0)

        # The guest verifies every canary on exit: 0 = no data lost.
        self.assertEqual(g.stop(), 0, g.read_log())

    def test_release_hands_target_back(self):
        self.guest("rel", memory="128M")
        r = self.d.put("/vms/rel/memory", {"target_bytes": 100 * MIB})
        self.assertEqual(r.status, 200, r)
        r = self.d.request("DELETE", "/vms/rel/memory/target",
                           token=self.d.token)
        self.assertEqual(r.status, 200, r)
        m = r.json()
        self.assertEqual(m["target_source"], "policy")
        self.assertEqual(m["target_bytes"], m["max_bytes"])

    def test_hostile_requests_get_4xx_and_daemon_keeps_serving(self):
        self.guest("victim", memory="128M")
        tok = self.d.token
        cases = [
            ("bad json", "PUT", "/vms/victim/memory", b"{not json", tok, 400),
            ("string size", "PUT", "/vms/victim/memory",
             b'{"target_bytes": "1G"}', tok, 400),
            ("negative", "PUT", "/vms/victim/memory",
             b'{"target_bytes": -1}', tok, 400),
            ("overflow", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 18446744073709551616}', tok, 400),
            ("float", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 1.5}', tok, 400),
            ("unknown field", "PUT", "/vms/victim/memory",
             b'{"target_byte": 1}', tok, 400),
            ("below min", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 1048576}', tok, 422),
            ("above max", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 137438953472}', tok, 422),
            ("min above max", "PUT", "/vms/victim/memory",
             b'{"min_bytes": 134217728, "max_bytes": 67108864}', tok, 422),
            ("unknown vm", "PUT", "/vms/nosuch/memory",
             b'{"target_bytes": 1}', tok, 404),
            ("unknown vm get", "GET", "/vms/nosuch/memory", None, None, 404),
            ("no token", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 100000000}', None, 401),
            ("wrong token", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 100000000}', "0" * 64, 403),
            ("huge body", "PUT", "/vms/victim/memory",
             b'{"target_bytes": 1' + b" " * (1 << 20) + b"}", tok, 413),
        ]
        for name, method, path, body, token, status in cases:
            with self.subTest(name):
                r = self.d.request(method, path, body=body, token=token)
                self.assertEqual(r.status, status, r)
                if status >= 400:
                    self.assertTrue(r.headers.get("Content-Type", "")
                                    .startswith("application/problem+json"),
                                    r.headers)
                    p = r.json()
                    self.assertEqual(p["status"], status)
                    self.assertTrue(p.get("detail"))
        # A field-level error names the field and value.
        r = self.d.request("PUT", "/vms/victim/memory",
                           body=b'{"target_bytes": 1048576}', token=tok)
        self.assertEqual(r.json().get("field"), "target_bytes")
        self.assertEqual(r.json().get("value"), "1048576")
        # Nothing changed, and the daemon still serves.
        self.assertEqual(self.d.memory("victim")["target_source"], "policy")
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_unix_socket_uses_peer_credentials(self):
        self.guest("unixvm", memory="128M")
        r = self.d.request("PUT", "/vms/unixvm/memory",
                           body={"target_bytes": 100 * MIB}, unix=True)
        # The test runs as root: allowed without a token.
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target_bytes"], 100 * MIB)

    def test_killed_guest_leaves_with_event(self):
        sse = SSE(self.d)
        try:
            g = self.guest("doomed", memory="96M")
            sse.wait(lambda e: e.get("type") == "vm_added"
                     and e.get("vm") == "doomed")
            g.proc.send_signal(signal.SIGKILL)
            g.proc.wait()
            sse.wait(lambda e: e.get("type") == "vm_removed"
                     and e.get("vm") == "doomed")
            self.assertNotIn("doomed", self.d.vms())
        finally:
            sse.close()

    def test_target_change_and_reclaim_events(self):
        self.guest("evvm", memory="128M")
        sse = SSE(self.d)
        try:
            r = self.d.put("/vms/evvm/memory", {"target_bytes": 96 * MIB})
            self.assertEqual(r.status, 200, r)
            ev = sse.wait(lambda e: e.get("type") == "target_changed"
                          and e.get("vm") == "evvm")
            self.assertEqual(ev["target_bytes"], 96 * MIB)
            self.assertEqual(ev["source"], "manual")
            sse.wait(lambda e: e.get("type") == "reclaim_done"
                     and e.get("vm") == "evvm")
        finally:
            sse.close()

    def test_metrics(self):
        self.guest("metvm", memory="96M")
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        self.assertIn('hyperalloc_vm_max_bytes{vm="metvm"} %d' % (96 * MIB),
                      text)
        self.assertIn("hyperalloc_up 1", text)
        self.assertIn("# TYPE hyperalloc_vm_reclaimed_frames_total counter",
                      text)


class StuckVMs(unittest.TestCase):
    def test_unreachable_target_marks_stuck(self):
        d = Daemon(policy={"name": "static", "tick_ms": 200,
                           "host_reserve": "256M", "stuck_after_ms": 1500,
                           "stuck_holdoff_ms": 60000}).start()
        g = SimGuest(d, "busy", memory="128M", trace="steady",
                     time_scale=1, vcpus=1)
        sse = None
        try:
            wait_for(lambda: "busy" in d.vms(), timeout=20, what="guest")
            # let it allocate its half of the memory
            d.wait_workload("busy")
            sse = SSE(d)
            # the guest holds ~64 MiB: 20 MiB cannot be reached
            r = d.put("/vms/busy/memory", {"min_bytes": 16 * MIB,
                                           "target_bytes": 20 * MIB})
            self.assertEqual(r.status, 200, r)
            ev = sse.wait(lambda e: e.get("type") == "vm_stuck"
                          and e.get("vm") == "busy", timeout=20)
            self.assertIn("no progress", ev["message"])
            vm = d.get("/vms/busy").json()
            self.assertEqual(vm["state"], "stuck")
            self.assertGreater(vm["memory"]["current_bytes"], 20 * MIB)
            text = d.get("/metrics").body.decode()
            self.assertIn('hyperalloc_vm_stuck_total{vm="busy"} 1', text)
            # a new target releases it at once
            r = d.put("/vms/busy/memory",
                      {"target_bytes": vm["memory"]["max_bytes"]})
            self.assertEqual(r.status, 200, r)
            wait_for(lambda: d.vms()["busy"]["state"] == "running",
                     timeout=10, what="state running again")
        finally:
            if sse:
                sse.close()
            self.assertEqual(g.stop(), 0, g.read_log())
            d.cleanup()


class RestartKeepsManualTargets(unittest.TestCase):
    def test_restart(self):
        guests = [{"name": "persist", "memory": "128M", "trace": "idle",
                   "vcpus": 1, "time_scale": 1}]
        d = Daemon(guests=guests).start()
        try:
            wait_for(lambda: "persist" in d.vms(), timeout=20,
                     what="spawned guest")
            r = d.put("/vms/persist/memory",
                      {"target_bytes": 80 * MIB, "shares": 1234,
                       "auto_reclaim": True})
            self.assertEqual(r.status, 200, r)
            self.assertIs(r.json()["auto_reclaim"], True)
            wait_for(lambda: d.memory("persist")["current_bytes"]
                     == 80 * MIB, timeout=20, what="shrink")
            self.assertEqual(d.stop(), 0, d.read_log())

            d2 = Daemon(guests=guests, workdir=d.dir)
            d2.port, d2.config = d.port, d.config
            d2.write_config()
            try:
                d2.start()
                m = wait_for(lambda: d2.vms().get("persist"), timeout=20,
                             what="guest after restart")["memory"]
                self.assertEqual(m["target_source"], "manual")
                self.assertEqual(m["target_bytes"], 80 * MIB)
                self.assertEqual(m["shares"], 1234)
                self.assertIs(m["auto_reclaim"], True)
                wait_for(lambda: d2.memory("persist")["current_bytes"]
                         == 80 * MIB, timeout=20, what="shrink again")
            finally:
                d2.stop()
        finally:
            d.cleanup()

    def test_target_outside_later_limits_survives_restart(self):
        # A min_bytes set above the manual target clamps the target up;
        # a restart must keep it manual (and clamped), not hand the VM
        # back to the policy, which grew it to its full size (found by
        # bench/soak).
        guests = [{"name": "clamped", "memory": "256M", "trace": "idle",
                   "vcpus": 1}]
        d = Daemon(guests=guests).start()
        try:
            wait_for(lambda: "clamped" in d.vms(), timeout=20,
                     what="spawned guest")
            r = d.put("/vms/clamped/memory", {"target_bytes": 100 * MIB})
            self.assertEqual(r.status, 200, r)
            r = d.put("/vms/clamped/memory", {"min_bytes": 150 * MIB})
            self.assertEqual(r.status, 200, r)
            before = r.json()
            self.assertEqual(before["target_source"], "manual")
            self.assertEqual(before["target_bytes"], 150 * MIB)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            d.log.close()
            d.start()
            m = wait_for(lambda: d.vms().get("clamped"), timeout=20,
                         what="guest after restart")["memory"]
            self.assertEqual(m["target_source"], "manual")
            self.assertEqual(m["target_bytes"], 150 * MIB)
            self.assertEqual(m["min_bytes"], 150 * MIB)
            # The target as set comes back once the limit allows it.
            r = d.put("/vms/clamped/memory", {"min_bytes": 64 * MIB})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target_bytes"], 100 * MIB)
        finally:
            d.cleanup()


class EventIdsAcrossRestart(unittest.TestCase):
    """An EventSource that reconnects to a restarted daemon with the last
    id it saw gets the new run's events from its first one."""

    def test_resume_after_restart_loses_nothing(self):
        guests = [{"name": n, "memory": "96M", "trace": "idle", "vcpus": 1,
                   "time_scale": 1} for n in ("ra", "rb")]
        d = Daemon(guests=guests).start()
        d2 = None
        try:
            sse = SSE(d, last_id="0")  # all the run has kept
            try:
                first = sse.wait(lambda e: True)
                self.assertEqual(first["seq"], 1)
                self.assertEqual(first["_id"], "%s-1" % first["run"])
                self.assertEqual(first["_event"], first["type"])
            finally:
                sse.close()
            self.assertEqual(d.stop(), 0, d.read_log())

            d2 = Daemon(guests=guests, workdir=d.dir)
            d2.port, d2.config = d.port, d.config
            d2.write_config()
            d2.start()
            # The new run is past the old id's sequence number: a bare
            # number would skip its first events.
            wait_for(lambda: {"ra", "rb"} <= set(d2.vms()), timeout=20,
                     what="both guests after the restart")
            sse = SSE(d2, last_id=first["_id"])
            try:
                ev = sse.wait(lambda e: True)
                self.assertNotEqual(ev["run"], first["run"])
                self.assertEqual(ev["seq"], 1)
                added = set()
                for vm in ("ra", "rb"):
                    added.add(sse.wait(lambda e, vm=vm:
                                       e.get("type") == "vm_added"
                                       and e.get("vm") == vm)["vm"])
                self.assertEqual(added, {"ra", "rb"})
            finally:
                sse.close()
        finally:
            if d2:
                d2.stop()
            d.cleanup()


class TokenFile(unittest.TestCase):
    """The API token file is one line of 16 to 256 printable characters
    in a file only its owner may read: anything else stops the daemon at
    start, with an error naming the file."""

    def start_with(self, content, mode=0o600):
        d = Daemon()
        self.addCleanup(d.cleanup, check=False)
        fd = os.open(d.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        os.write(fd, content)
        os.close(fd)
        os.chmod(d.token_file, mode)
        d.start(wait=False)
        return d

    def assert_refused(self, d, *words):
        try:
            d.proc.wait(timeout=20)
        except Exception:
            pass
        rc = d.proc.poll()
        # Before the fix the daemon came up serving with the bad token.
        self.assertIsNotNone(rc, "hyperallocd runs with a bad token file")
        self.assertNotEqual(rc, 0)
        log = d.read_log()
        self.assertIn(d.token_file, log)
        for w in words:
            self.assertIn(w, log)

    def test_short_token_padded_by_a_second_line(self):
        # 3 token characters, 20 file bytes: "abc" must not become valid.
        d = self.start_with(b"abc\n0123456789abcdef\n")
        self.assert_refused(d, "more than one line")

    def test_short_token(self):
        d = self.start_with(b"0123456789abcde\n")
        self.assert_refused(d, "fewer than 16")

    def test_world_readable_token_file(self):
        d = self.start_with(b"0123456789abcdef0123456789abcdef\n", 0o644)
        self.assert_refused(d, "mode 0644")

    def test_long_token_is_used_whole(self):
        tok = "A" * 100 + "z" * 100
        d = self.start_with((tok + "\n").encode())
        wait_for(d.healthy, timeout=20, what="hyperallocd to serve")
        body = {"name": "static"}
        # The first 64 characters, the old silent cut, are not the token.
        self.assertEqual(d.request("PUT", "/policy", body=body,
                                   token=tok[:64]).status, 403)
        self.assertEqual(d.request("PUT", "/policy", body=body,
                                   token=tok).status, 200)


class ReloadIsAllOrNothing(unittest.TestCase):
    """A SIGHUP whose file names a policy plugin that cannot be loaded
    changes nothing, not even the file's other values, and says why."""

    def test_unloadable_plugin_keeps_old_config_whole(self):
        d = Daemon().start()
        try:
            sse = SSE(d)
            try:
                missing = os.path.join(d.dir, "no-such-policy.so")
                d.config["api"]["max_body_bytes"] = 1024
                d.config["policy"] = dict(d.config["policy"], name=missing)
                d.write_config()
                d.proc.send_signal(signal.SIGHUP)
                ev = sse.wait(lambda e: e.get("type") == "daemon_error"
                              and "reload" in e.get("message", ""),
                              timeout=20)
            finally:
                sse.close()
            # api.max_body_bytes is still the old 65536: a body of 4 KiB
            # is taken, not refused with 413.
            body = '{"tick_ms": 300}' + " " * 4096
            r = d.request("PUT", "/policy", body=body, token=d.token,
                          headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(d.get("/policy").json()["tick_ms"], 300)
            self.assertEqual(d.get("/policy").json()["name"], "static")
            self.assertIn("no-such-policy.so", ev["message"])
            self.assertIn("keeping the running configuration",
                          ev["message"])
            self.assertIn("no-such-policy.so", d.read_log())
        finally:
            d.cleanup()


def child_pids(pid, comm="ha-simguest"):
    """The pids of @pid's children named @comm."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and name == comm[:15]:
            found.append(int(entry))
    return found


class SpawnedGuestRestartBudget(unittest.TestCase):
    """The restart budget of a spawned guest counts failures within
    sim.restart_window_ms: failures far enough apart never use it up,
    more than five within the window stop the guest."""

    def spawned(self, window_ms):
        d = Daemon(guests=[{"name": "rb", "memory": "64M", "trace": "idle",
                            "vcpus": 1}])
        d.config["sim"]["restart_window_ms"] = window_ms
        d.write_config()
        return d.start()

    def crash(self, d, sse, n):
        """Wait for the n-th vm_added of rb, then SIGKILL the guest."""
        def added(_):
            return sum(1 for e in sse.events if e.get("type") == "vm_added"
                       and e.get("vm") == "rb") >= n
        sse.wait(added, timeout=60)
        pids = []
        wait_for(lambda: pids.extend(child_pids(d.proc.pid)) or pids,
                 timeout=30, what="the spawned guest's pid")
        self.assertEqual(len(pids), 1, pids)
        os.kill(pids[0], signal.SIGKILL)

    def test_failures_outside_the_window_never_stop_the_guest(self):
        # 100 ms: every failure is alone in its window, the restarts being
        # 2 s apart. Seven crashes, more than the five of one window.
        d = self.spawned(100)
        try:
            sse = SSE(d, last_id="0")
            try:
                for n in range(1, 8):
                    self.crash(d, sse, n)
                sse.wait(lambda _: sum(
                    1 for e in sse.events if e.get("type") == "vm_added"
                    and e.get("vm") == "rb") >= 8, timeout=60)
                self.assertFalse([e for e in sse.events
                                  if "not restarting" in e.get("message",
                                                               "")])
            finally:
                sse.close()
            self.assertIn("rb", d.vms())
        finally:
            d.cleanup()

    def test_six_failures_within_the_window_stop_the_guest(self):
        d = self.spawned(3600000)
        try:
            sse = SSE(d, last_id="0")
            try:
                for n in range(1, 7):
                    self.crash(d, sse, n)
                ev = sse.wait(lambda e: e.get("type") == "daemon_error"
                              and "not restarting" in e.get("message", ""),
                              timeout=60)
                self.assertIn("rb: sim guest failed 6 times within "
                              "3600000 ms", ev["message"])
            finally:
                sse.close()
            wait_for(lambda: "rb" not in d.vms(), timeout=30,
                     what="rb to leave")
            self.assertEqual(child_pids(d.proc.pid), [])
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()
