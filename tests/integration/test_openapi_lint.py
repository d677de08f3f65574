# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests: not under sanitizers
"""docs/openapi.yaml passes Redocly's recommended ruleset (the pinned
@redocly/cli of tests/npm/) with no error and no warning; a copy with a
defect planted is caught, so the test cannot pass by linting nothing."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import NODE_MODULES, TOP, main

DOC = os.path.join(TOP, "docs", "openapi.yaml")
REDOCLY = os.path.join(NODE_MODULES, ".bin", "redocly")


def lint(path):
    """Redocly's report: {"totals": {"errors", "warnings"}, "problems"}."""
    p = subprocess.run([REDOCLY, "lint", "--extends=recommended",
                        "--format=json", path],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, REDOCLY_TELEMETRY="off",
                                REDOCLY_SUPPRESS_UPDATE_NOTICE="true"))
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError("redocly exited %d without a report:\n%s%s"
                             % (p.returncode, p.stdout, p.stderr))


def rules(report):
    return sorted({pr["ruleId"] for pr in report["problems"]})


class RedoclyRecommended(unittest.TestCase):
    def test_clean(self):
        report = lint(DOC)
        self.assertEqual(report["totals"]["errors"], 0, rules(report))
        self.assertEqual(report["totals"]["warnings"], 0, rules(report))

    def test_a_planted_defect_is_caught(self):
        tmp = tempfile.mkdtemp(prefix="ha-lint-")
        try:
            bad = os.path.join(tmp, "openapi.yaml")
            with open(DOC) as f:
                text = f.read()
            # A read operation that no longer says it needs no security.
            self.assertIn("      security: []\n", text)
            with open(bad, "w") as f:
                f.write(text.replace("      security: []\n", "", 1))
            report = lint(bad)
            self.assertEqual(rules(report), ["security-defined"])
            self.assertGreater(report["totals"]["errors"], 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
