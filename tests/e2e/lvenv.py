# SPDX-License-Identifier: GPL-2.0-or-later
"""A private libvirtd with real TCG guests, for the integration tests and
benchmarks (tests/integration/test_libvirt.py, bench/shrink.py).

libvirtd and virtlogd run in their own mount namespace in which libvirt's
directories (/etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/cache/libvirt, /var/log/libvirt) are bind mounts of a temporary
directory. So the machine's own libvirt configuration is never touched
(qemu.conf with user root and security_driver none lives in that
directory), a libvirtd of the host or of another test run is not
disturbed, and everything goes away with the directory. Clients reach it
with qemu+unix:///system?socket=DIR/run/libvirt-sock.

Guests are Debian's cloud kernel with a busybox initramfs
(tests/e2e/build-guest.sh), booted under TCG (KVM here is unusable for
stock guests), with memfd shared memory so the host can see what they use.
Every process is stopped by its pid; nothing is killed by name.

Only Debian's /usr/bin/python3 and its standard library.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from qemu_vm import (SerialConsole, build_outputs,  # noqa: F401
                     memfd_data_bytes, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
LIBVIRT_DIRS = {  # inside the namespace -> below the private directory
    "/etc/libvirt": "etc",
    "/run/libvirt": "run",
    "/var/lib/libvirt": "lib",
    "/var/cache/libvirt": "cache",
    "/var/log/libvirt": "log",
}




def build_guest():
    """Kernel and initramfs paths (built or taken from the cache)."""
    out = subprocess.run(["sh", os.path.join(HERE, "build-guest.sh")],
                         check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    paths = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return paths["kernel"], paths["initrd"]


def ensure_users():
    """libvirt's QEMU driver insists that its default user exists even
    when qemu.conf says root. Create it once; leave existing ones."""
    def have(db, name):
        return subprocess.run(["getent", db, name],
                              stdout=subprocess.DEVNULL).returncode == 0
    for g in ("libvirt-qemu", "kvm"):
        if not have("group", g):
            subprocess.run(["groupadd", "-r", g], check=True)
    if not have("passwd", "libvirt-qemu"):
        subprocess.run(["useradd", "-r", "-g", "libvirt-qemu", "-M", "-s",
                        "/usr/sbin/nologin", "libvirt-qemu"], check=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_pid(pid, timeout=15):
    """SIGTERM, then SIGKILL; only this pid."""
    if not pid or not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end and pid_alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def is_qemu_of(pid, name):
    """Is @pid (still) the QEMU of domain @name?"""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return ("guest=%s," % name).encode() in f.read()
    except OSError:
        return False


class Libvirtd:
    def __init__(self, prefix="ha-lv-", host_uuid=None):
        """@host_uuid: the host UUID libvirtd claims (libvirtd.conf);
        two daemons on one machine need different ones to migrate
        between them, libvirt refuses a migration to the same host."""
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        for sub in LIBVIRT_DIRS.values():
            os.makedirs(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "etc", "qemu.conf"), "w") as f:
            f.write('user = "root"\ngroup = "root"\n'
                    'security_driver = "none"\n'
                    # no private /dev per guest: simpler, and we are
                    # already in our own mount namespace
                    'namespaces = [ ]\n')
        with open(os.path.join(self.dir, "etc", "libvirtd.conf"), "w") as f:
            f.write('unix_sock_rw_perms = "0700"\n'
                    'keepalive_interval = 5\n')
            if host_uuid:
                f.write('host_uuid = "%s"\n' % host_uuid)
        with open(os.path.join(self.dir, "ns.sh"), "w") as f:
            f.write("#!/bin/sh\n# Enter libvirt's private directories, "
                    "then run the daemon.\nset -e\n")
            for inside, sub in LIBVIRT_DIRS.items():
                f.write("mkdir -p %s\nmount --bind %s %s\n"
                        % (inside, os.path.join(self.dir, sub), inside))
            f.write('exec "$@"\n')
        self.libvirtd = None
        self.virtlogd = None
        self.logs = []
        self.domains = set()
        # Also when the test or benchmark dies of an exception or of
        # SIGTERM turned into SystemExit (cleanup is idempotent).
        atexit.register(self.cleanup)

    @property
    def uri(self):
        return "qemu+unix:///system?socket=%s" % os.path.join(
            self.dir, "run", "libvirt-sock")

    def _spawn(self, name, args):
        log = open(os.path.join(self.dir, name + ".out"), "ab")
        self.logs.append(log)
        return subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh",
             os.path.join(self.dir, "ns.sh")] + args,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def start(self):
        ensure_users()
        if not self.virtlogd or self.virtlogd.poll() is not None:
            self.virtlogd = self._spawn("virtlogd", [
                "virtlogd", "--pid-file",
                os.path.join(self.dir, "virtlogd.pid")])
            wait_for(lambda: os.path.exists(os.path.join(
                self.dir, "run", "virtlogd-sock")), 20, "virtlogd")
        self.libvirtd = self._spawn("libvirtd", [
            "libvirtd", "--pid-file", os.path.join(self.dir, "libvirtd.pid")])
        wait_for(lambda: self.libvirtd.poll() is None and
                 self.virsh_ok("version"), 30, "libvirtd to answer")
        return self

    def stop_libvirtd(self):
        """Stop libvirtd only (guests keep running, as on a real host)."""
        if self.libvirtd:
            stop_pid(self.libvirtd.pid)
            self.libvirtd.wait()
            self.libvirtd = None

    def virsh(self, *args, check=True, timeout=60):
        r = subprocess.run(["virsh", "-q", "-c", self.uri] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("virsh %s: %s" % (" ".join(args),
                                                   r.stderr.strip()))
        return r.stdout

    def virsh_ok(self, *args):
        try:
            return subprocess.run(
                ["virsh", "-q", "-c", self.uri] + list(args),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def create(self, xml):
        """Start a transient domain from @xml (a Guest's)."""
        path = os.path.join(self.dir, "dom-%s.xml" % uuid.uuid4().hex[:8])
        with open(path, "w") as f:
            f.write(xml)
        name = re.search(r"<name>([^<]+)</name>", xml).group(1)
        self.domains.add(name)
        self.virsh("create", path)
        return name

    def qemu_pid(self, name):
        path = os.path.join(self.dir, "run", "qemu", name + ".pid")
        with open(path) as f:
            return int(f.read().strip())

    def destroy(self, name):
        self.virsh("destroy", name, check=False)

    def cleanup(self):
        """Stop every guest, libvirtd and virtlogd (by pid), remove the
        directory. Safe to call more than once, and after failures."""
        pids = []
        for name in self.domains:
            try:
                pids.append((self.qemu_pid(name), name))
            except (OSError, ValueError):
                pass
        if self.libvirtd and self.libvirtd.poll() is None:
            for name in list(self.domains):
                self.virsh_ok("destroy", name)
        for pid, name in pids:  # guests libvirtd could not destroy
            if is_qemu_of(pid, name):
                stop_pid(pid)
        self.stop_libvirtd()
        if self.virtlogd:
            stop_pid(self.virtlogd.pid)
            self.virtlogd.wait()
            self.virtlogd = None
        for log in self.logs:
            log.close()
        self.logs = []
        self.domains = set()
        if not os.path.isdir(self.dir):
            return
        if os.environ.get("HA_KEEP_LIBVIRT_DIR"):
            print("libvirt files kept in", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def memfds(pid):
    """{fd: (size, resident bytes)} of QEMU's guest-RAM memfds."""
    out = {}
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
            if not target.startswith("/memfd:memory-backend-memfd"):
                continue
            st = os.stat(os.path.join(fddir, fd))
        except OSError:
            continue
        out[int(fd)] = (st.st_size, st.st_blocks * 512)
    return out


def resident(pid, size=None):
    """Resident bytes of the guest RAM memfds (of @size only, if given)."""
    return sum(r for s, r in memfds(pid).values() if size in (None, s))


class Guest:
    """XML for a TCG test guest: memfd shared RAM (or, with shared=False,
    QEMU's default anonymous RAM), a file serial console, and either a
    virtio-balloon or a virtio-mem device."""

    def __init__(self, env, kind, name, kernel, initrd, memory_mib=512,
                 base_mib=256, fill_mib=0, stats_period=None, shared=True):
        self.env = env
        self.kind = kind
        self.name = name
        self.console = os.path.join(env.dir, "console-%s.log" % name)
        self.memory_mib = memory_mib
        self.base_mib = base_mib
        cmdline = "console=ttyS0 quiet panic=-1"
        if fill_mib:
            cmdline += " ha_fill=%d" % fill_mib
        if kind == "balloon":
            stats = ("<stats period='%d'/>" % stats_period
                     if stats_period else "")
            head = "<memory unit='MiB'>%d</memory>" % memory_mib
            devices = "<memballoon model='virtio'>%s</memballoon>" % stats
        else:
            cmdline += " memhp_default_state=online_movable"
            dev = memory_mib - base_mib
            head = ("<maxMemory slots='2' unit='MiB'>%d</maxMemory>"
                    "<memory unit='MiB'>%d</memory>"
                    "<cpu><numa><cell id='0' cpus='0' memory='%d' "
                    "unit='MiB'/></numa></cpu>"
                    % (memory_mib * 2, memory_mib, base_mib))
            devices = ("<memballoon model='none'/>"
                       "<memory model='virtio-mem'><target>"
                       "<size unit='MiB'>%d</size><node>0</node>"
                       "<block unit='MiB'>2</block>"
                       "<requested unit='MiB'>%d</requested>"
                       "</target></memory>" % (dev, dev))
        self.xml = """<domain type='qemu'>
  <name>%(name)s</name>
  %(head)s
  <vcpu>1</vcpu>
  %(backing)s
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%(kernel)s</kernel>
    <initrd>%(initrd)s</initrd>
    <cmdline>%(cmdline)s</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='%(console)s'/><target port='0'/></serial>
    %(devices)s
  </devices>
</domain>
""" % dict(name=name, head=head, kernel=kernel, initrd=initrd,
           cmdline=cmdline, console=self.console, devices=devices,
           backing=("<memoryBacking><source type='memfd'/><access "
                    "mode='shared'/></memoryBacking>" if shared else ""))

    def start(self):
        self.env.create(self.xml)
        return self

    def wait_ready(self, timeout=120):
        wait_for(lambda: "ha-guest: ready" in self.console_text(), timeout,
                 "%s to boot" % self.name)
        wait_for(self.memtotal_kib, 10, "%s to print MemTotal" % self.name)

    def console_text(self):
        try:
            with open(self.console, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def memtotal_kib(self):
        """The guest's MemTotal in its last report, or None."""
        m = re.findall(r"ha-guest: MemTotal=(\d+)", self.console_text())
        return int(m[-1]) if m else None

    def qemu_pid(self):
        return self.env.qemu_pid(self.name)

    def resident(self, size=None):
        return resident(self.qemu_pid(), size)


# ---- HyperAlloc domains (the patched QEMU, the driver's test mode) ----

def ha_paths():
    return build_outputs(
        [os.path.join(HERE, "..", "..", "qemu-patches", "build.sh")],
        ["sh", os.path.join(HERE, "build-ha-guest.sh")])


POOL_START = 0x10000000
BOOT_S = 300
WORK_S = 300


class HaDomain:
    """A HyperAlloc libvirt domain: memfd shared RAM, two vCPUs (TCG runs
    them multi-threaded), the device through <qemu:commandline>, the
    serial console on a unix socket with a shell.

    By default the kernel of @paths is Debian's with the driver's test
    mode on a memmap= pool (ha_paths()); @cmdline replaces that whole
    command line, for a kernel whose own allocator runs on the device
    (make guest: pass its kernel and initrd in @paths)."""

    def __init__(self, env, name, paths, ram_mib, pool_mib=None, ha_args="",
                 auto=False, shared=True, cmdline=None):
        self.env = env
        self.name = name
        self.ram_mib = ram_mib
        self.pool_mib = pool_mib or ram_mib - 256
        self.shared = shared
        self.sock = os.path.join(env.dir, "console-%s.sock" % name)
        if cmdline is None:
            cmdline = ("console=ttyS0 loglevel=4 panic=-1 memmap=%dM$0x%x "
                       "ha.test_pool=%dM@0x%x ha.test_report_s=0 %s"
                       % (self.pool_mib, POOL_START, self.pool_mib,
                          POOL_START, ha_args))
        dev = "virtio-hyperalloc-pci,id=ha0,bus=pcie.0,addr=0x18,iothread=io0"
        if auto:
            dev += ",auto-reclaim=on,auto-interval=500"
        args = ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
                "-object", "iothread,id=io0", "-device", dev]
        self.xml = """<domain type='qemu'
    xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%(name)s</name>
  <memory unit='MiB'>%(ram)d</memory>
  <vcpu>2</vcpu>
  %(backing)s
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%(kernel)s</kernel>
    <initrd>%(initrd)s</initrd>
    <cmdline>%(cmdline)s</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%(qemu)s</emulator>
    <serial type='unix'><source mode='bind' path='%(sock)s'/>
      <target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
%(args)s
  </qemu:commandline>
</domain>
""" % dict(name=name, ram=ram_mib, kernel=paths["kernel"],
           backing=("<memoryBacking><source type='memfd'/><access "
                    "mode='shared'/></memoryBacking>" if shared else ""),
           initrd=paths["initrd"], cmdline=cmdline, qemu=paths["qemu"],
           sock=self.sock,
           args="\n".join("    <qemu:arg value='%s'/>" % a for a in args))
        self.console = None
        self._sysfs = None

    def start(self):
        self.env.create(self.xml)
        self.console = SerialConsole(alive=lambda: self.alive()).connect(
            self.sock)
        return self

    def alive(self):
        try:
            return pid_alive(self.env.qemu_pid(self.name))
        except (OSError, ValueError):
            return False

    def wait_ready(self):
        self.console.wait("ha-guest: ready", BOOT_S)

    def pid(self):
        return self.env.qemu_pid(self.name)

    def sysfs(self):
        if not self._sysfs:
            for line in self.console.run(
                    "ls -d /sys/bus/virtio/devices/virtio*/hyperalloc"):
                if line.strip().endswith("/hyperalloc"):
                    self._sysfs = line.strip()
        assert self._sysfs, "no hyperalloc sysfs directory"
        return self._sysfs

    def stats(self):
        out = {}
        for line in self.console.run("cat %s/stats" % self.sysfs()):
            m = re.match(r"^([a-z0-9_]+)=(-?\d+)$", line.strip())
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def set(self, name, value):
        out = self.console.run("echo %s > %s/%s && echo ha-set-ok"
                               % (value, self.sysfs(), name), WORK_S)
        assert "ha-set-ok" in [l.strip() for l in out], out

    def fill(self):
        """Threads quiet, then every free huge frame of the pool written
        once: the guest has used all the memory it can."""
        self.set("test_run", 0)
        wait_for(lambda: self.stats().get("test_held_frames") == 0,
                 WORK_S, what="the test threads to free everything",
                 interval=0.5)
        self.set("test_fill", 1)

    def pool_resident(self):
        return memfd_data_bytes(self.pid(), POOL_START, self.pool_mib * MIB)
