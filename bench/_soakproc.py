# SPDX-License-Identifier: GPL-2.0-or-later
"""What bench/soak.py reads of processes in /proc (not a benchmark: a
module, see mk/bench.mk): the simulated guests of one sim socket, the
memfds a process holds open and mapped, and the exit status of guests
orphaned by a killed daemon.

Guests are recognised by their command line (the --socket of the soak's
own daemon), never by name alone, so a guest of another daemon on the
same machine is neither counted nor touched. Standard library only.
"""

import ctypes
import os

PR_SET_CHILD_SUBREAPER = 36
GUEST_COMM = "ha-simguest"
GUEST_MEMFD = "/memfd:ha-simguest-ram"


def become_subreaper():
    """Make this process the reaper of its orphaned descendants: the
    guests of a daemon killed with SIGKILL become our children, so their
    exit status (3: a canary mismatch) can be read. False if refused."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def stat(pid):
    """(comm, state, ppid) of @pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


class GuestProc:
    def __init__(self, pid, ppid, name):
        self.pid = pid
        self.ppid = ppid
        self.name = name

    def __repr__(self):
        return "%s(pid %d, parent %d)" % (self.name, self.pid, self.ppid)


def guests_of(sim_socket):
    """The live (not zombie) ha-simguest processes whose --socket is
    @sim_socket."""
    found = []
    for pid in _pids():
        st = stat(pid)
        if not st or st[0] != GUEST_COMM[:15] or st[1] == "Z":
            continue
        args = cmdline(pid)
        if "--socket" not in args:
            continue
        i = args.index("--socket")
        if i + 1 >= len(args) or args[i + 1] != sim_socket:
            continue
        name = args[args.index("--name") + 1] if "--name" in args else "?"
        found.append(GuestProc(pid, st[2], name))
    return found


def reap_orphans():
    """Reap the ha-simguest zombies that are our children (orphans of a
    killed daemon, reparented to us as the subreaper). Only those pids
    are waited for: the children subprocess started are left to it.
    Returns [(pid, exit status or -signal)]."""
    me = os.getpid()
    out = []
    for pid in _pids():
        st = stat(pid)
        if not st or st[1] != "Z" or st[2] != me or \
                st[0] != GUEST_COMM[:15]:
            continue
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if got == pid:
            out.append((pid, os.waitstatus_to_exitcode(status)))
    return out


def memfd_fds(pid, prefix=GUEST_MEMFD):
    """{fd: inode} of the memfds named @prefix… that @pid holds open."""
    out = {}
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return out
    for fd in fds:
        path = os.path.join(fddir, fd)
        try:
            if not os.readlink(path).startswith(prefix):
                continue
            out[int(fd)] = os.stat(path).st_ino
        except OSError:
            continue
    return out


def memfd_maps(pid, prefix=GUEST_MEMFD):
    """{inode: bytes mapped} of the memfds named @prefix… in @pid's
    address space (a mapping split into several areas is summed)."""
    out = {}
    try:
        with open("/proc/%d/maps" % pid) as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith(prefix):
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        ino = int(parts[4])
        out[ino] = out.get(ino, 0) + hi - lo
    return out


def guest_ram_inode(pid):
    """The inode of a guest's RAM memfd, or None."""
    fds = memfd_fds(pid)
    return next(iter(fds.values()), None)


def find_comm(comm):
    """Pids of the processes named @comm (for reporting only)."""
    return [p for p in _pids() if (stat(p) or ("",))[0] == comm[:15]]


FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02


def punch_ram(pid, offset, length):
    """Discard @length bytes at @offset of guest @pid's RAM memfd behind
    its and the daemon's back (what a host bug would do): the pages read
    back as zeros, and every canary on them fails."""
    fds = memfd_fds(pid)
    if not fds:
        raise OSError("process %d has no guest RAM memfd" % pid)
    fd = os.open("/proc/%d/fd/%d" % (pid, next(iter(fds))), os.O_RDWR)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int,
                                   ctypes.c_long, ctypes.c_long)
        if libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          offset, length) < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)
