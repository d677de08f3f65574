# SPDX-License-Identifier: GPL-2.0-or-later
"""Policies at runtime: the real daemon, real simulated guests, PUT
/policy switching between the built-in policies and an out-of-tree plugin
while the guests run, and the targets moving the way each policy says."""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import BUILD, MIB, Daemon, SSE, SimGuest, wait_for, main

EXAMPLES = os.path.join(BUILD, "policies", "examples")
HALF_IDLE = os.path.join(EXAMPLES, "half_idle.so")
BROKEN = os.path.join(EXAMPLES, "broken")
BROKEN_PLUGINS = ("half_idle_badabi", "half_idle_nosym", "half_idle_initfail")

# A plugin whose constructor leaves a mark: dlopen runs it before any
# symbol check, so loading it at all is the attack.
EVIL_C = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
	int fd = open(MARKER, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}
"""


def plugin_dir(base):
    """A trusted plugin directory (0755, the test's own user) with
    copies of the example plugins, mode 0755."""
    d = os.path.join(base, "policies")
    os.mkdir(d)
    os.chmod(d, 0o755)
    for name in ("half_idle",) + BROKEN_PLUGINS:
        src = os.path.join(EXAMPLES if name == "half_idle" else BROKEN,
                           name + ".so")
        shutil.copy(src, os.path.join(d, name + ".so"))
        os.chmod(os.path.join(d, name + ".so"), 0o755)
    return d


def build_evil(path, marker):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(EVIL_C)
    try:
        subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC",
                        "-DMARKER=\"%s\"" % marker, "-o", path, f.name],
                       check=True)
    finally:
        os.unlink(f.name)


class Policies(unittest.TestCase):
    """One daemon (static policy, 200 ms ticks), guests started by the
    test; idle traces unless said otherwise, so that targets can be
    reached."""

    def setUp(self):
        self.d = Daemon(policy={"name": "static", "tick_ms": 200,
                                "host_reserve": "256M",
                                "max_step": "0"})
        self.plugins = plugin_dir(self.d.dir)
        self.d.config["policy"]["plugin_dir"] = self.plugins
        self.d.write_config()
        self.d.start()
        self.guests = []

    def tearDown(self):
        bad = []
        for g in self.guests:
            rc = g.stop()
            if rc not in (0, -signal.SIGKILL):
                bad.append("%s exited %s:\n%s" % (g.name, rc, g.read_log()))
        self.d.cleanup()
        self.assertEqual(bad, [])

    def guest(self, name, memory="256M", trace="idle", **kw):
        g = SimGuest(self.d, name, memory=memory, trace=trace, **kw)
        self.guests.append(g)
        wait_for(lambda: name in self.d.vms(), timeout=20,
                 what="%s to register" % name)
        return g

    def set_policy(self, body, status=200):
        r = self.d.put("/policy", body)
        self.assertEqual(r.status, status, r)
        return r

    def policy(self):
        r = self.d.get("/policy")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_target(self, vm, want, timeout=15, slack=0):
        """Wait until vm's target is want (within slack bytes)."""
        return wait_for(
            lambda: (lambda m: m if abs(m["target_bytes"] - want) <= slack
                     else None)(self.d.memory(vm)),
            timeout=timeout, what="%s target %d MiB" % (vm, want // MIB))

    def release(self, vm):
        r = self.d.request("DELETE", "/vms/%s/memory/target" % vm,
                           token=self.d.token)
        self.assertEqual(r.status, 200, r)

    # ---- shares ----

    def test_shares_split_and_back_to_static(self):
        self.guest("one", memory="512M")
        self.guest("three", memory="512M")
        r = self.d.put("/vms/three/memory", {"shares": 3000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.d.memory("one")["target_bytes"], 512 * MIB)

        # A budget of 512 MiB for two 512 MiB guests (min 64 MiB each):
        # 384 MiB above the mins, split 1:3.
        self.set_policy({"name": "shares",
                         "params": {"budget": 512 * MIB, "max_step": 0}})
        p = self.policy()
        self.assertEqual(p["name"], "shares")
        self.assertEqual(p["params"]["budget"], 512 * MIB)
        one = self.wait_target("one", 160 * MIB)
        self.wait_target("three", 352 * MIB)
        self.assertEqual(one["target_source"], "policy")
        # ...and the guests really shrink to their targets (to a few
        # huge frames: the trees a vCPU has reserved stay).
        wait_for(lambda: self.d.memory("one")["current_bytes"]
                 <= 168 * MIB and self.d.memory("three")["current_bytes"]
                 <= 360 * MIB,
                 timeout=20, what="both guests at their targets")

        # A larger budget: both grow, still 1:3 above the mins.
        self.set_policy({"name": "shares",
                         "params": {"budget": 640 * MIB, "max_step": 0}})
        self.wait_target("one", 192 * MIB)
        self.wait_target("three", 448 * MIB)

        # Back to static: every target returns to max.
        self.set_policy({"name": "static"})
        self.wait_target("one", 512 * MIB)
        self.wait_target("three", 512 * MIB)
        wait_for(lambda: self.d.memory("one")["current_bytes"] == 512 * MIB,
                 timeout=20, what="memory given back")

    def test_shares_step_limit(self):
        self.guest("stepper", memory="512M")
        sse = SSE(self.d)
        try:
            self.set_policy({"name": "shares",
                             "params": {"budget": 64 * MIB,
                                        "max_step": 64 * MIB}})
            # 512 MiB -> the min of 64 MiB, at most 64 MiB per tick:
            # every target on the way is a target_changed event.
            sse.wait(lambda e: e.get("type") == "target_changed" and
                     e.get("vm") == "stepper" and
                     e.get("target_bytes") == 64 * MIB, timeout=15)
        finally:
            sse.close()
        seen = [e["target_bytes"] for e in sse.events
                if e.get("type") == "target_changed" and
                e.get("vm") == "stepper"]
        # Down all the way, never by more than a step: so through every
        # intermediate multiple of 64 MiB.
        self.assertEqual(seen[-1], 64 * MIB, seen)
        for before, after in zip([512 * MIB] + seen, seen):
            self.assertLess(after, before, seen)
            self.assertLessEqual(before - after, 64 * MIB, seen)
        for t in seen:
            self.assertEqual(t % (64 * MIB), 0, seen)

    # ---- auto-reclaim ----

    def test_auto_reclaim_soft_reclaims_and_keeps_size(self):
        # --prefault: every frame of guest RAM resident, like a guest
        # whose page cache once filled it; the idle trace uses ~5 %.
        g = self.guest("lazy", memory="256M", extra=["--prefault"])
        self.d.wait_workload("lazy")
        before = self.d.memory("lazy")
        blocks_before = g.memfd_blocks_bytes()
        self.assertGreater(before["host_resident_bytes"], 200 * MIB)
        self.assertEqual(before["soft_reclaimed_bytes"], 0)

        self.set_policy({"name": "auto-reclaim",
                         "params": {"interval_ms": 400, "keep_free": 0}})
        m = wait_for(lambda: (lambda m: m if m["soft_reclaimed_bytes"]
                              >= 128 * MIB else None)(self.d.memory("lazy")),
                     timeout=20, what="128 MiB soft-reclaimed")
        # The logical size stays at max: soft reclaim only.
        self.assertEqual(m["current_bytes"], m["max_bytes"])
        self.assertEqual(m["target_bytes"], m["max_bytes"])
        self.assertEqual(m["reclaimed_bytes"], 0)
        self.assertLess(m["host_resident_bytes"],
                        before["host_resident_bytes"] - 100 * MIB)
        # The kernel's own account of the memfd agrees.
        self.assertLess(g.memfd_blocks_bytes(), blocks_before - 100 * MIB)
        vm = self.d.get("/vms/lazy").json()
        self.assertEqual(vm["counters"]["canary_mismatches"], 0)

    def test_auto_reclaim_keep_free_buffer(self):
        self.guest("buffered", memory="512M", extra=["--prefault"])
        self.d.wait_workload("buffered")
        self.set_policy({"name": "auto-reclaim",
                         "params": {"interval_ms": 0,
                                    "keep_free": 256 * MIB}})
        m = wait_for(lambda: (lambda m: m if m["soft_reclaimed_bytes"]
                              >= 128 * MIB else None)(
                                  self.d.memory("buffered")),
                     timeout=10, what="the memory above the buffer")
        self.d.wait_ticks(5)  # more passes take nothing: the buffer stays
        m = self.d.memory("buffered")
        self.assertGreaterEqual(m["host_resident_bytes"], 256 * MIB)
        self.set_policy({"name": "auto-reclaim",
                         "params": {"interval_ms": 0, "keep_free": 0}})
        wait_for(lambda: self.d.memory("buffered")["host_resident_bytes"]
                 < m["host_resident_bytes"] - 128 * MIB, timeout=10,
                 what="the buffer reclaimed once keep_free is 0")

    # ---- working-set and pressure ----

    def test_working_set_sizes_to_used_plus_headroom(self):
        # The idle guest uses some tens of MiB: its headroom is
        # headroom_min (more than 0.25 of that), and the target is used
        # plus headroom, rounded up to whole huge frames, well above the
        # VM's min (64 MiB), well below its max.
        self.guest("ws", memory="512M")
        headroom = 128 * MIB
        self.set_policy({"name": "working-set",
                         "params": {"headroom": 0.25,
                                    "headroom_min": headroom,
                                    "idle_window_ms": 0}})

        def settled():
            m = self.d.memory("ws")
            used = m["current_bytes"] - m["guest_free_bytes"]
            if used + headroom <= m["target_bytes"] <= \
                    used + headroom + 2 * MIB:
                return m
            return None
        m = wait_for(settled, timeout=15,
                     what="target at the working set plus headroom")
        self.assertEqual(m["target_source"], "policy")
        self.assertEqual(m["target_bytes"] % (2 * MIB), 0)
        self.assertLess(m["target_bytes"], 256 * MIB)

    def test_pressure_probes_down(self):
        self.guest("probe", memory="512M")
        self.set_policy({"name": "pressure",
                         "params": {"max_probe": 0.2, "min_free": 32 * MIB}})
        # 20 % per 200 ms tick: below half the size within a few ticks,
        # never below what the guest uses.
        m = wait_for(lambda: (lambda m: m if m["target_bytes"] < 256 * MIB
                              else None)(self.d.memory("probe")),
                     timeout=15, what="the target to probe down")
        used = m["current_bytes"] - m["guest_free_bytes"]
        self.assertGreaterEqual(m["target_bytes"], used)

    # ---- validation, overrides ----

    def test_invalid_params_refused_running_policy_stays(self):
        self.guest("steady", memory="256M")
        self.set_policy({"name": "shares",
                         "params": {"budget": 256 * MIB, "max_step": 0}})
        before = self.policy()
        cases = [
            ({"name": "shares", "params": {"fill": 5}}, "fill"),
            ({"name": "shares", "params": {"fil": 0.5}}, "fil"),
            ({"name": "working-set", "params": {"decay": -1}}, "decay"),
            ({"name": "pressure", "params": {"auto_reclaim": "yes"}},
             "auto_reclaim"),
            ({"name": "auto-reclaim", "params": {"interval_ms": 0.5}},
             "interval_ms"),
            ({"name": "no-such-policy"}, "no such policy"),
        ]
        for body, word in cases:
            with self.subTest(body=body):
                r = self.d.put("/policy", body)
                self.assertEqual(r.status, 422, r)
                self.assertTrue(r.headers.get("Content-Type", "").startswith(
                    "application/problem+json"), r.headers)
                self.assertIn(word, r.json()["detail"])
                self.assertEqual(self.policy()["name"], before["name"])
                self.assertEqual(self.policy()["params"], before["params"])
        # still dividing: the one guest gets the whole budget
        self.wait_target("steady", 256 * MIB)
        self.set_policy({"name": "shares",
                         "params": {"budget": 128 * MIB, "max_step": 0}})
        self.wait_target("steady", 128 * MIB)

    def test_params_only_update_keeps_the_policy(self):
        # PUT /policy with params alone re-initialises the running policy
        # with them; its name must survive.
        self.guest("same", memory="256M")
        self.set_policy({"name": "shares",
                         "params": {"budget": 256 * MIB, "max_step": 0}})
        self.set_policy({"params": {"budget": 128 * MIB, "max_step": 0}})
        self.assertEqual(self.policy()["name"], "shares")
        self.wait_target("same", 128 * MIB)
        self.set_policy({"params": {"budget": 192 * MIB, "max_step": 0}})
        self.assertEqual(self.policy()["name"], "shares")
        self.wait_target("same", 192 * MIB)

    def test_manual_target_wins_until_released(self):
        self.guest("pinned", memory="256M")
        self.guest("free", memory="256M")
        self.set_policy({"name": "shares",
                         "params": {"budget": 256 * MIB, "max_step": 0}})
        self.wait_target("pinned", 128 * MIB)
        r = self.d.put("/vms/pinned/memory", {"target_bytes": 200 * MIB})
        self.assertEqual(r.status, 200, r)
        # The pinned guest's 200 MiB comes off the budget: the other one
        # is left with its min.
        self.wait_target("free", 64 * MIB)
        self.d.wait_ticks(5)  # the policy does not move it
        m = self.d.memory("pinned")
        self.assertEqual(m["target_bytes"], 200 * MIB)
        self.assertEqual(m["target_source"], "manual")
        self.release("pinned")
        self.wait_target("pinned", 128 * MIB)
        self.wait_target("free", 128 * MIB)
        self.assertEqual(self.d.memory("pinned")["target_source"], "policy")

    # ---- out-of-tree plugins ----

    def test_plugin_loaded_by_name(self):
        self.guest("plug", memory="256M")
        self.set_policy({"name": "half_idle", "params": {"share": 0.5}})
        p = self.policy()
        self.assertEqual(p["name"], "half_idle")
        self.assertEqual(p["params"], {"share": 0.5})

        # target = max - free/2 every tick settles at (2 max + used) / 3.
        def settled():
            m = self.d.memory("plug")
            used = m["current_bytes"] - m["guest_free_bytes"]
            want = (2 * m["max_bytes"] + used) // 3
            if abs(m["target_bytes"] - want) <= 8 * MIB:
                return m
            return None
        m = wait_for(settled, timeout=20, what="half-idle to settle")
        self.assertLess(m["target_bytes"], 200 * MIB)
        # Its own parameter check runs too.
        r = self.set_policy({"name": "half_idle", "params": {"share": 2}},
                            status=422)
        self.assertIn("share", r.json()["detail"])
        self.assertEqual(self.policy()["name"], "half_idle")
        # and back to a built-in
        self.set_policy({"name": "static"})
        self.wait_target("plug", 256 * MIB)

    def test_broken_plugins_refused_running_policy_stays(self):
        self.guest("keep", memory="256M")
        self.set_policy({"name": "shares",
                         "params": {"budget": 128 * MIB, "max_step": 0}})
        self.wait_target("keep", 128 * MIB)
        cases = [
            ("half_idle_badabi", "ABI version"),
            ("half_idle_nosym", "no symbol ha_policy_ops"),
            ("half_idle_initfail", "always refuses"),
            ("no_such_plugin", "no such policy"),
        ]
        for name, word in cases:
            with self.subTest(plugin=name):
                path = os.path.join(self.plugins, name + ".so")
                self.assertEqual(os.path.exists(path),
                                 "no_such" not in path, path)
                r = self.d.put("/policy", {"name": name})
                self.assertEqual(r.status, 422, r)
                self.assertIn(word, r.json()["detail"])
                p = self.policy()
                self.assertEqual(p["name"], "shares")
                self.assertEqual(p["params"]["budget"], 128 * MIB)
        # The running policy still decides.
        self.assertEqual(self.d.get("/healthz").status, 200)
        self.set_policy({"name": "shares",
                         "params": {"budget": 192 * MIB, "max_step": 0}})
        self.wait_target("keep", 192 * MIB)


class PluginLoading(unittest.TestCase):
    """PUT /policy chooses a policy by name only: a path, a name with
    '..', a symbolic link or a plugin someone else may write never
    reaches dlopen (whose constructors run before any check)."""

    def setUp(self):
        self.d = Daemon(policy={"name": "static", "tick_ms": 200,
                                "host_reserve": "256M"})
        self.plugins = plugin_dir(self.d.dir)
        self.d.config["policy"]["plugin_dir"] = self.plugins
        self.d.write_config()
        self.d.start()
        # The attacker's files: in a world-writable directory and in
        # the plugin directory's parent.
        self.tmp = tempfile.mkdtemp(prefix="ha-evil-")
        os.chmod(self.tmp, 0o1777)
        self.marker = os.path.join(self.tmp, "constructor-ran")
        self.evil = os.path.join(self.tmp, "evil.so")
        build_evil(self.evil, self.marker)
        os.chmod(self.evil, 0o755)

    def tearDown(self):
        os.chmod(self.plugins, 0o755)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.d.cleanup()

    def put_policy(self, name, status, word):
        r = self.d.put("/policy", {"name": name})
        self.assertEqual(r.status, status, r)
        self.assertIn(word, r.json()["detail"])
        self.assertFalse(os.path.exists(self.marker),
                         "the plugin's constructor ran for %r" % name)
        self.assertEqual(self.d.get("/policy").json()["name"], "static")
        return r.json()

    def test_path_refused_before_loading(self):
        for name in (self.evil, os.path.relpath(self.evil),
                     "./evil.so", "../" + os.path.basename(self.tmp)
                     + "/evil", "..", "evil/../evil"):
            with self.subTest(name=name):
                p = self.put_policy(name, 400, "name")
                self.assertEqual(p["field"], "name")

    def test_relative_name_not_searched_in_working_directory(self):
        # hyperallocd runs in the test's working directory; a bare name
        # is looked up in plugin_dir only.
        cwd = os.path.join(os.getcwd(), "evil.so")
        self.assertFalse(os.path.exists(cwd))
        shutil.copy(self.evil, cwd)
        try:
            self.put_policy("evil", 422, "no such policy")
            self.put_policy("evil.so", 422, "no such policy")
        finally:
            os.unlink(cwd)

    def test_symbolic_link_in_plugin_dir_refused(self):
        os.symlink(self.evil, os.path.join(self.plugins, "evil.so"))
        self.put_policy("evil", 422, "symbolic link")

    def test_writable_plugin_refused(self):
        for mode in (0o775, 0o757, 0o666):
            with self.subTest(mode=oct(mode)):
                dst = os.path.join(self.plugins, "evil.so")
                shutil.copy(self.evil, dst)
                os.chmod(dst, mode)
                self.put_policy("evil", 422, "mode %04o" % mode)
                os.unlink(dst)

    def test_writable_plugin_dir_refused(self):
        shutil.copy(self.evil, os.path.join(self.plugins, "evil.so"))
        os.chmod(os.path.join(self.plugins, "evil.so"), 0o755)
        os.chmod(self.plugins, 0o1777)
        self.put_policy("evil", 422, "directory")
        self.put_policy("half_idle", 422, "directory")
        os.chmod(self.plugins, 0o755)
        r = self.d.put("/policy", {"name": "half_idle"})
        self.assertEqual(r.status, 200, r)

    def test_foreign_owner_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the file away")
        dst = os.path.join(self.plugins, "evil.so")
        shutil.copy(self.evil, dst)
        os.chmod(dst, 0o755)
        os.chown(dst, 4242, 4242)
        self.put_policy("evil", 422, "uid 4242")


class PluginByPathInConfig(unittest.TestCase):
    """The configuration file, and only it, may name a plugin by its
    absolute path; the same owner and mode checks apply."""

    def test_config_path_loads_and_params_change(self):
        d = Daemon(policy={"name": "static", "tick_ms": 200})
        self.addCleanup(d.cleanup)
        path = os.path.join(plugin_dir(d.dir), "half_idle.so")
        d.config["policy"]["name"] = path
        d.config["policy"]["params"] = {"share": 0.5}
        d.write_config()
        d.start()
        self.assertEqual(d.get("/policy").json()["name"], path)
        # a parameters-only change keeps the configured plugin
        r = d.put("/policy", {"params": {"share": 0.25}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["name"], path)
        # but the API cannot name it by path
        r = d.put("/policy", {"name": path})
        self.assertEqual(r.status, 400, r)

    def test_config_path_writable_refused(self):
        d = Daemon(policy={"name": "static", "tick_ms": 200})
        self.addCleanup(d.cleanup, check=False)
        path = os.path.join(plugin_dir(d.dir), "half_idle.so")
        os.chmod(path, 0o777)
        d.config["policy"]["name"] = path
        d.write_config()
        d.start(wait=False)
        d.proc.wait(timeout=20)
        self.assertNotEqual(d.proc.returncode, 0)
        self.assertIn("mode 0777", d.read_log())


if __name__ == "__main__":
    main()
