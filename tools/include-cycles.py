#!/usr/bin/python3 -B
# SPDX-License-Identifier: GPL-2.0-or-later
"""Fail on an include cycle between modules (STYLE.md 1: includes point one
way).

Usage: include-cycles.py [TOP]

A module is a source file together with its header of the same name
(daemon/ctl.c and daemon/ctl.h are the module daemon/ctl). Module A
depends on module B when a file of A includes a file of B with
#include "..."; a name is looked up the way the build does it: next to
the including file first, then in the include directories below. The
check reads every C file under daemon/, lib/, policies/, proto/ and
tools/, builds that graph and prints each cycle it finds, one include
line per step, so the line to change is named. Exit status 1 if there
is a cycle, 0 if not.
"""

import collections
import os
import re
import sys

SCANNED = ("daemon", "lib", "policies", "proto", "tools")
# The -I directories of the build (Makefile, mk/*.mk), in its order.
INCLUDE_DIRS = ("lib", "daemon", "policies", "proto", "tools")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def sources(top):
    for d in SCANNED:
        for root, dirs, files in os.walk(os.path.join(top, d)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(root, f), top)


def resolve(top, src, name):
    for d in (os.path.dirname(src),) + INCLUDE_DIRS:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(os.path.join(top, p)):
            return p
    return None  # generated (build/proto) or not ours


def module(path):
    return os.path.splitext(path)[0]


def graph(top):
    """{module: {module: (file, line, included)}}: the first include line
    that makes each dependency."""
    g = collections.defaultdict(dict)
    for src in sources(top):
        with open(os.path.join(top, src), encoding="utf-8",
                  errors="replace") as f:
            for no, text in enumerate(f, 1):
                m = INCLUDE.match(text)
                if not m:
                    continue
                dst = resolve(top, src, m.group(1))
                if dst is None or module(dst) == module(src):
                    continue
                g[module(src)].setdefault(module(dst), (src, no,
                                                         m.group(1)))
        g.setdefault(module(src), {})
    return g


def components(g):
    """Strongly connected components with more than one module
    (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, {})))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    scc = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        scc.append(w)
                        if w == v:
                            break
                    if len(scc) > 1:
                        out.append(sorted(scc))
    return out


def elementary_cycles(g, members, limit=64):
    """Every cycle inside one component that visits a module at most
    once, each from its smallest module (at most @limit of them)."""
    out = []
    for start in sorted(members):
        # Only modules after start: a cycle is found from its smallest.
        allowed = {m for m in members if m >= start}
        path, on = [start], {start}
        work = [iter(sorted(w for w in g[start] if w in allowed))]
        while work and len(out) < limit:
            for w in work[-1]:
                if w == start:
                    out.append(path + [start])
                elif w not in on:
                    path.append(w)
                    on.add(w)
                    work.append(iter(sorted(x for x in g[w]
                                            if x in allowed)))
                    break
            else:
                work.pop()
                on.discard(path.pop())
    return out


def cycles(g):
    """[(component, [cycle, ...])] for every component with a cycle."""
    return [(scc, elementary_cycles(g, set(scc))) for scc in components(g)]


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    g = graph(top)
    found = cycles(g)
    n = 0
    for scc, cs in found:
        print("modules in a circle: " + " ".join(scc))
        for c in cs:
            n += 1
            print("  include cycle: " + " -> ".join(c))
            for a, b in zip(c, c[1:]):
                src, no, name = g[a][b]
                print("    %s:%d: #include \"%s\"" % (src, no, name))
    if found:
        print("%d include cycle(s) between modules; shared types and "
              "errors belong in a leaf that includes none of its users"
              % n)
        return 1
    print("no include cycle between %d modules" % len(g))
    return 0


if __name__ == "__main__":
    sys.exit(main())
