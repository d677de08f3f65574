# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests: not under sanitizers
"""The web dashboard at / in headless Chromium (node/dashboard.js, with
playwright-core): every VM rendered, a PUT through the API on the page
without a reload, a target set in the page reaching the VM, the policy
switcher, the live chart; a screenshot in build/dashboard.png. And the
page's files as the daemon serves them: embedded, self-contained."""

import os
import re
import unittest

from harness import TOP, Daemon, node, wait_for, main

SHOT = os.path.join(TOP, "build", "dashboard.png")
VMS = ("web-a", "web-b", "web-c")


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        guests = [{"name": n, "memory": m, "trace": t, "vcpus": 1,
                   "time_scale": 5, "loop": True}
                  for n, m, t in zip(VMS, ("256M", "192M", "128M"),
                                     ("bursty", "steady", "idle"))]
        cls.d = Daemon(guests=guests).start()
        wait_for(lambda: set(VMS) <= set(cls.d.vms()), timeout=30,
                 what="the guests")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_in_chromium(self):
        if os.path.exists(SHOT):
            os.unlink(SHOT)
        p = node("dashboard.js", "http://127.0.0.1:%d" % self.d.port,
                 self.d.token, SHOT, *VMS)
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("all checks passed", p.stdout)
        with open(SHOT, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_files_are_served_and_self_contained(self):
        r = self.d.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
        self.assertIn("default-src 'none'", r.headers["Content-Security-Policy"])
        page = r.body.decode()
        refs = re.findall(r'(?:src|href)="([^"]+)"', page)
        self.assertEqual(sorted(refs), ["/ui/app.css", "/ui/app.js",
                                        "/ui/uPlot.iife.min.js",
                                        "/ui/uPlot.min.css"])
        for ref in refs:
            a = self.d.get(ref)
            self.assertEqual(a.status, 200, (ref, a))
            self.assertNotRegex(a.body.decode(), r"https?://(?!127\.)[a-z]",
                                ref) if ref.startswith("/ui/app") else None
        self.assertEqual(self.d.get("/ui/nope.js").status, 404)
        self.assertEqual(self.d.get("/ui/index.html").status, 404)


if __name__ == "__main__":
    main()
