# SPDX-License-Identifier: GPL-2.0-or-later
"""GET /metrics of a daemon with simulated guests against docs/metrics.md:
the same families with the same types and labels, promtool has nothing
to say about it, and what changes about a VM changes values, never the
set of series."""

import os
import re
import subprocess
import time
import unittest

from harness import MIB, TOP, Daemon, wait_for, main

DOC = os.path.join(TOP, "docs", "metrics.md")
STATE_SETS = {"hyperalloc_vm_state": "state",
              "hyperalloc_vm_target_source": "source",
              "hyperalloc_vm_policy_reason": "reason"}


def parse_exposition(text):
    """{family: {"type": t, "labels": frozenset, "series": {labels: v}}}"""
    fams = {}
    sample = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{(.*)\})? (\S+)$')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            fams[name] = {"type": typ, "labels": None, "series": {}}
            continue
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), m.group(3) or ""
        pairs = tuple(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels))
        fam = fams[name]
        names = frozenset(k for k, _ in pairs)
        assert fam["labels"] in (None, names), \
            "%s: samples with different label names" % name
        fam["labels"] = names
        fam["series"][pairs] = float(m.group(4))
    return fams


def parse_doc():
    """{family: (type, frozenset of labels, meaning)} from the tables."""
    rows = {}
    row = re.compile(r'^\| `(hyperalloc_[a-z_]+)` \| (\w+) \| ([^|]*)\| (.*) \|$')
    with open(DOC) as f:
        for line in f:
            m = row.match(line.rstrip("\n"))
            if m:
                labels = frozenset(re.findall(r"`([a-z_]+)`", m.group(3)))
                assert m.group(1) not in rows, "%s twice" % m.group(1)
                rows[m.group(1)] = (m.group(2), labels, m.group(4))
    return rows


class MetricsDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        guests = [{"name": n, "memory": "128M", "trace": "steady",
                   "vcpus": 1, "time_scale": 1} for n in ("m1", "m2", "m3")]
        cls.d = Daemon(guests=guests).start()
        wait_for(lambda: {"m1", "m2", "m3"} <= set(cls.d.vms()),
                 timeout=30, what="the three guests")
        cls.d.wait_ticks(2)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def scrape(self):
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200, r)
        return r.body.decode()

    def test_doc_lists_what_is_served(self):
        served = parse_exposition(self.scrape())
        doc = parse_doc()
        self.assertGreater(len(doc), 30, "the doc's tables were not read")
        self.assertEqual(sorted(set(served) - set(doc)), [],
                         "served, not in docs/metrics.md")
        self.assertEqual(sorted(set(doc) - set(served)), [],
                         "in docs/metrics.md, not served")
        for name, (typ, labels, _) in doc.items():
            self.assertEqual(served[name]["type"], typ, name)
            self.assertEqual(served[name]["labels"], labels, name)

    def test_state_sets_have_the_documented_values(self):
        served = parse_exposition(self.scrape())
        doc = parse_doc()
        for name, label in STATE_SETS.items():
            documented = set(re.findall(r"`([a-z_-]+)`", doc[name][2]))
            per_vm = {}
            for pairs, v in served[name]["series"].items():
                lab = dict(pairs)
                per_vm.setdefault(lab["vm"], {})[lab[label]] = v
            self.assertEqual(set(per_vm), {"m1", "m2", "m3"}, name)
            for vm, values in per_vm.items():
                self.assertEqual(set(values), documented, (name, vm))
                self.assertEqual(sorted(values.values()).count(1.0), 1,
                                 (name, vm, values))

    def test_promtool_lint_is_clean(self):
        p = subprocess.run(["promtool", "check", "metrics"],
                           input=self.scrape(), capture_output=True,
                           text=True)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))

    def test_a_change_starts_no_series(self):
        before = parse_exposition(self.scrape())
        r = self.d.put("/vms/m2/memory", {"target_bytes": 96 * MIB})
        self.assertEqual(r.status, 200, r)
        after = parse_exposition(self.scrape())
        for name in before:
            self.assertEqual(set(after[name]["series"]),
                             set(before[name]["series"]), name)
        src = after["hyperalloc_vm_target_source"]["series"]
        self.assertEqual(src[(("vm", "m2"), ("source", "manual"))], 1.0)
        self.assertEqual(src[(("vm", "m2"), ("source", "policy"))], 0.0)
        ev = after["hyperalloc_events_total"]["series"]
        self.assertGreater(ev[(("type", "target_changed"),)],
                           before["hyperalloc_events_total"]["series"]
                           [(("type", "target_changed"),)])
        r = self.d.request("DELETE", "/vms/m2/memory/target",
                           token=self.d.token)
        self.assertEqual(r.status, 200, r)

    def test_start_time_is_a_timestamp(self):
        fams = parse_exposition(self.scrape())
        start = fams["hyperalloc_start_time_seconds"]["series"][()]
        # Within the life of this test's daemon: after its config file
        # was written, before now.
        self.assertGreaterEqual(start,
                                os.path.getmtime(self.d.config_path) - 1)
        self.assertLessEqual(start, time.time())


if __name__ == "__main__":
    main()
