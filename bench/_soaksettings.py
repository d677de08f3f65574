# SPDX-License-Identifier: GPL-2.0-or-later
"""The operator's settings of a VM as bench/soak.py sees them (not a
benchmark: a module, see mk/bench.mk): what a PUT sets, what GET
/vms/{id}/memory shows of it, random valid updates, and the book of what
was acknowledged per VM. Standard library only.

A setting is {"min", "max", "shares", "auto", "manual"}: the limits in
bytes, the shares, automatic reclaim, and the manual target in bytes as
it was set (None: the policy's). The daemon keeps a manual target that a
later limit puts out of range and steers it clamped into the limits.
"""

import threading

MIB = 1 << 20
MIN_FLOOR = 32 * MIB  # smallest min_bytes the soak sets
MAX_FLOOR = 96 * MIB  # smallest max_bytes the soak sets
FRAME = 2 * MIB


def setting_of(m):
    """The operator's part of a GET /vms/{id}/memory answer."""
    return {"min": m["min_bytes"], "max": m["max_bytes"],
            "shares": m["shares"], "auto": m["auto_reclaim"],
            "manual": m["target_bytes"] if m["target_source"] == "manual"
            else None}


def differences(want, m):
    """What of setting @want the memory answer @m does not show. A manual
    target outside the limits is steered clamped into them."""
    out = []
    for key, field in (("min", "min_bytes"), ("max", "max_bytes"),
                       ("shares", "shares"), ("auto", "auto_reclaim")):
        if m[field] != want[key]:
            out.append("%s %s, acked %s" % (field, m[field], want[key]))
    source = "policy" if want["manual"] is None else "manual"
    if m["target_source"] != source:
        out.append("target_source %s, acked %s%s" % (
            m["target_source"], source, "" if want["manual"] is None
            else " (target %d)" % want["manual"]))
    elif want["manual"] is not None:
        t = min(max(want["manual"], want["min"]), want["max"])
        if m["target_bytes"] != t:
            out.append("target_bytes %d, acked %d" % (m["target_bytes"], t))
    return out


def describe(st):
    """A setting in a few words, sizes in MiB."""
    return "min %dM max %dM shares %d auto_reclaim %s target %s" % (
        st["min"] // MIB, st["max"] // MIB, st["shares"],
        "on" if st["auto"] else "off",
        "policy" if st["manual"] is None else "%dM" % (st["manual"] // MIB))


def size_between(rng, lo, hi):
    """A multiple of 2 MiB in [lo, hi] (both multiples of 2 MiB)."""
    return rng.randrange(lo // FRAME, hi // FRAME + 1) * FRAME


def random_update(rng, st, ram):
    """(PUT body, the setting once it is applied) from setting @st."""
    body, new = {}, dict(st)
    if rng.random() < 0.3:
        which = rng.choice(("both", "min", "max"))
        if which == "both":
            new["max"] = size_between(rng, MAX_FLOOR, ram)
            new["min"] = size_between(rng, MIN_FLOOR, new["max"])
        elif which == "max":
            new["max"] = size_between(rng, max(MAX_FLOOR, new["min"]), ram)
        else:
            new["min"] = size_between(rng, MIN_FLOOR, new["max"])
        if which != "min":
            body["max_bytes"] = new["max"]
        if which != "max":
            body["min_bytes"] = new["min"]
    if rng.random() < 0.3:
        new["shares"] = body["shares"] = rng.randint(1, 10000)
    if rng.random() < 0.1:
        new["auto"] = body["auto_reclaim"] = rng.random() < 0.5
    if not body or rng.random() < 0.6:
        new["manual"] = body["target_bytes"] = size_between(
            rng, new["min"], new["max"])
    return body, new


class Book:
    """What was acknowledged for one VM. The lock orders the PUTs to the
    VM and the checks after a restart, so "the last acked" is defined."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.ram = 0
        self.acked = None
        self.pending = None  # a PUT whose answer a kill cut off
        self.acks = 0
        self.checks = 0
