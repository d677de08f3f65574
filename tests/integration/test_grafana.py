# SPDX-License-Identifier: GPL-2.0-or-later
# run-tests: not under sanitizers
"""docs/grafana/hyperalloc.json against a real Prometheus (Debian's
prometheus) on loopback that scrapes a daemon with simulated guests:
every query of every panel, and of the variables, evaluated through
Prometheus's HTTP API, returns data; the dashboard names only families
docs/metrics.md lists."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

from harness import MIB, TOP, Daemon, free_port, wait_for, main

DASHBOARD = os.path.join(TOP, "docs", "grafana", "hyperalloc.json")
METRICS_DOC = os.path.join(TOP, "docs", "metrics.md")
# What Grafana puts in for its variables when every host and VM is shown.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "1s",
             "$__range": "1h", "$instance": ".*", "$vm": ".*"}


def expand(expr):
    for k in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(k, VARIABLES[k])
    assert "$" not in expr, "a variable this test does not know: " + expr
    return expr


def panel_queries(dash):
    """(panel title, refId, expr) of every target of every panel."""
    out = []
    for p in dash["panels"]:
        for sub in [p] + p.get("panels", []):
            for t in sub.get("targets", []):
                out.append((sub["title"], t["refId"], t["expr"]))
    return out


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="ha-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: hyperalloc\n"
                    "    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path, **params):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited:\n" + self.read_log())
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def query(self, expr):
        status, body = self.get("/api/v1/query", query=expr)
        j = json.loads(body)
        assert status == 200 and j["status"] == "success", (expr, j)
        return j["data"]["result"]

    def read_log(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class GrafanaPanels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)
        guests = [{"name": n, "memory": "192M", "trace": t, "vcpus": 1,
                   "time_scale": 5, "loop": True}
                  for n, t in (("g-bursty", "bursty"), ("g-steady", "steady"))]
        cls.d = Daemon(guests=guests).start()
        cls.prom = None
        try:
            wait_for(lambda: {"g-bursty", "g-steady"} <= set(cls.d.vms()),
                     timeout=30, what="the guests")
            # A manual target and a shrink: the reclaim counters move.
            r = cls.d.put("/vms/g-steady/memory",
                          {"target_bytes": 128 * MIB})
            assert r.status == 200, r
            wait_for(lambda: cls.d.memory("g-steady")["current_bytes"]
                     == 128 * MIB, timeout=30, what="the shrink")
            cls.prom = Prometheus("127.0.0.1:%d" % cls.d.port)
            wait_for(cls.prom.ready, timeout=60, what="prometheus ready")
            # rate() and increase() need two samples in their window:
            # wait for three scrapes.
            wait_for(lambda: cls.prom.query(
                'count_over_time(hyperalloc_up{job="hyperalloc"}[1m]) >= 3'),
                timeout=60, what="three scrapes")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prom:
            cls.prom.stop()
        cls.d.cleanup()

    def test_the_target_is_up(self):
        up = self.prom.query('up{job="hyperalloc"}')
        self.assertEqual([float(s["value"][1]) for s in up], [1.0])

    def test_every_panel_returns_data(self):
        queries = panel_queries(self.dash)
        self.assertGreater(len(queries), 25)
        empty = []
        for title, ref, expr in queries:
            if not self.prom.query(expand(expr)):
                empty.append("%s/%s: %s" % (title, ref, expr))
        self.assertEqual(empty, [], "panels without data")

    def test_every_variable_has_values(self):
        for v in self.dash["templating"]["list"]:
            if v["type"] != "query":
                continue
            m = re.match(r"label_values\((.*), (\w+)\)$", v["query"]["query"])
            self.assertIsNotNone(m, v["query"])
            series = self.prom.query(expand(m.group(1)))
            values = {s["metric"].get(m.group(2)) for s in series} - {None}
            self.assertTrue(values, v["name"])
            if v["name"] == "vm":
                self.assertEqual(values, {"g-bursty", "g-steady"})

    def test_panels_are_well_formed(self):
        ids = [p["id"] for p in self.dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for p in self.dash["panels"]:
            self.assertIn("gridPos", p, p["title"])
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"]["uid"], "${datasource}",
                             p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])

    def test_only_documented_families(self):
        with open(METRICS_DOC) as f:
            documented = set(re.findall(r"^\| `(hyperalloc_[a-z_]+)`",
                                        f.read(), re.M))
        used = set()
        for _, _, expr in panel_queries(self.dash):
            used |= set(re.findall(r"\bhyperalloc_[a-z_]+", expr))
        for v in self.dash["templating"]["list"]:
            if v["type"] == "query":
                used |= set(re.findall(r"\bhyperalloc_[a-z_]+",
                                       v["query"]["query"]))
        self.assertEqual(sorted(used - documented), [])


if __name__ == "__main__":
    main()
