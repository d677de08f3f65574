# SPDX-License-Identifier: GPL-2.0-or-later
"""HyperAlloc guests steered by hyperallocd, for the benchmarks on real
VMs (bench/footprint-vm; not a benchmark itself).

The daemon reaches a QEMU only through libvirt (daemon/libvirt/): a
private libvirtd (tests/e2e/lvenv.py, its own mount namespace) runs the
guest as a domain whose emulator is the patched QEMU (make qemu) with the
virtio-hyperalloc device on its command line, and hyperallocd
(build/daemon/hyperallocd) tracks that libvirtd, reads the guest's
allocator state from the shared memfd and sends the device its passes
(hyperalloc-reclaim-free) and targets through libvirt's monitor.

The guest is the one bench/_vm.py boots for HyperAlloc: our kernel and
initramfs (make guest), two vCPUs under TCG (libvirt's type='qemu';
QEMU 7.2 runs an x86 guest on an x86 host with one thread per vCPU),
shared memfd RAM, the serial console on a unix socket with a shell. An
LvGuest offers what the benchmarks use of a bench/_vm.Guest: .vm with
the console and QMP (through virsh qemu-monitor-command), .sampler(),
.stop().
"""

import json
import os
import sys

import _benchutil as bu
import _vm
from _benchutil import BenchError, harness

sys.path.insert(0, os.path.join(bu.TOP, "tests", "e2e"))
import lvenv  # noqa: E402

CMDLINE = "console=ttyS0 loglevel=4 panic=-1"


class DaemonHost:
    """A private libvirtd and one hyperallocd following it, ticking every
    @tick_ms with the static policy until told otherwise."""

    def __init__(self, tick_ms=1000):
        self.tick_ms = tick_ms
        self.env = self.daemon = None

    def start(self):
        bu.require_built(harness.HYPERALLOCD)
        try:
            self.env = lvenv.Libvirtd(prefix="ha-bench-lvvm-").start()
            self.daemon = harness.Daemon(
                policy={"name": "static", "tick_ms": self.tick_ms,
                        "host_reserve": "256M"},
                extra={"libvirt": {"enabled": True, "uri": self.env.uri}})
            self.daemon.config["log_level"] = "info"
            self.daemon.write_config()
            self.daemon.start()
        except BaseException:
            self.stop()
            raise
        return self

    def set_policy(self, name, params):
        r = self.daemon.put("/policy", {"name": name, "params": params})
        if r.status != 200:
            raise BenchError("PUT /policy %s: %r" % (name, r))

    def detail(self, vm):
        r = self.daemon.get("/vms/%s" % vm)
        if r.status != 200:
            raise BenchError("GET /vms/%s: %r" % (vm, r))
        return r.json()

    def log_of(self, vm, n=60):
        return "\n".join([l for l in self.daemon.read_log().splitlines()
                          if vm in l][-n:])

    def stop(self):
        if self.daemon:
            self.daemon.cleanup(check=False)
            self.daemon = None
        if self.env:
            self.env.cleanup()
            self.env = None


class _Monitor:
    """The part of a _vm QemuVM the benchmarks use, for a domain: the
    serial console and QMP through libvirt."""

    def __init__(self, host, dom):
        self.host = host
        self.dom = dom
        self.name = dom.name

    @property
    def console(self):
        return self.dom.console.lines

    def type(self, line):
        self.dom.console.type(line)

    def wait_console(self, pattern, timeout, since=0):
        return self.dom.console.wait(pattern, timeout, since)

    def run(self, cmd, timeout=60):
        return self.dom.console.run(cmd, timeout)

    def qmp(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = {k.replace("_", "-"): v
                                for k, v in args.items()}
        out = self.host.env.virsh("qemu-monitor-command", self.name,
                                  json.dumps(msg))
        reply = json.loads(out)
        if "error" in reply:
            raise BenchError("%s: %s" % (cmd, reply["error"]))
        return reply["return"]


class LvGuest:
    """Our HyperAlloc guest as a libvirt domain on @host, tracked by its
    daemon."""

    mech = "hyperalloc"
    backing = "memfd"

    def __init__(self, host, p, mib, tag):
        self.host = host
        self.mib = mib
        self.memfd_sizes = [mib * bu.MIB]
        self.name = "ha-bench-%s" % tag
        self.dom = lvenv.HaDomain(host.env, self.name, p, mib,
                                  cmdline=CMDLINE)
        self.vm = _Monitor(host, self.dom)
        self.keep_console = os.path.join(_vm.OUT, self.name + ".console")

    def start(self):
        try:
            self.dom.start()
            self.dom.console.fatal = _vm.FATAL
            self.dom.console.wait("ha-guest: ready", _vm.BOOT_S)
            lvenv.wait_for(self._tracked, _vm.BOOT_S,
                           "the daemon to read %s's device directly"
                           % self.name)
        except BaseException:
            self.stop()
            raise
        return self

    def _tracked(self):
        if self.name not in self.host.daemon.vms():
            return False
        d = self.host.detail(self.name)
        dev = d.get("device") or {}
        return (d.get("mechanism") == "hyperalloc" and
                dev.get("state") == "active" and dev.get("direct_reads"))

    def pid(self):
        return self.dom.pid()

    def sampler(self, **kw):
        return _vm.Sampler(self.pid(), self.memfd_sizes, **kw)

    def stop(self):
        try:
            log = self.host.log_of(self.name) if self.host.daemon else ""
        except OSError:
            log = ""
        if self.dom.console:
            self.dom.console.close()
            try:
                with open(self.keep_console, "w") as f:
                    f.write("\n".join(self.dom.console.lines) + "\n")
                    f.write("---- hyperallocd log (this VM)\n" + log + "\n")
            except OSError:
                pass
        self.host.env.destroy(self.name)
