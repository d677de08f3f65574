# SPDX-License-Identifier: GPL-2.0-or-later
"""Every route of a live daemon with a simulated guest, errors included,
against docs/openapi.yaml, checked with a real OpenAPI validator
(openapi-backend of tests/npm/, driven by node/openapi_live.js): status
codes documented, Content-Types, bodies, headers, each SSE event, 405's
Allow."""

import os
import unittest

from harness import TOP, Daemon, node, wait_for, main


class LiveAnswers(unittest.TestCase):
    def test_every_route_matches_the_document(self):
        d = Daemon(guests=[{"name": "oa", "memory": "128M", "trace": "idle",
                            "vcpus": 1, "time_scale": 1}]).start()
        try:
            wait_for(lambda: "oa" in d.vms(), timeout=20, what="guest")
            p = node("openapi_live.js",
                     os.path.join(TOP, "docs", "openapi.yaml"),
                     "http://127.0.0.1:%d" % d.port, d.token, "oa")
            print(p.stdout[-3000:])
            self.assertEqual(p.returncode, 0, p.stdout[-6000:] + p.stderr)
            self.assertIn(" 0 mismatches", p.stdout)
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()
